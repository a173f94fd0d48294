//! Where the example CLIs send their requests: the provider that the flags or the environment
//! name, or, with no API key and no base URL, the built-in emulator started in-process.

use std::time::Duration;

use vidu::{Client, Config, Provider};

/// A client, and the emulator it talks to when it was started here (stopped on drop).
pub struct Connection {
    pub client: Client,
    #[cfg(feature = "emulator")]
    _emulator: Option<vidu::emulator::Emulator>,
}

/// Why there is no connection.
pub enum Failure {
    /// Bad flags or environment: exit 2 with the usage.
    Usage(String),
    /// The emulator could not start.
    #[cfg_attr(not(feature = "emulator"), allow(dead_code))]
    Emulator(String),
    /// The configuration was refused.
    Config(vidu::Error),
}

/// A `--poll-interval` or `--timeout` value: seconds, fractions allowed, above zero.
pub fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag} {v:?}: expected a number of seconds above zero"))
}

/// A variable of the environment, if set and not empty.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

const NO_KEY: &str = "no API key: pass --api-key or set VIDU_API_KEY";

/// Connects to `provider`; `program` names the CLI in what it prints.
#[cfg_attr(not(feature = "emulator"), allow(unused_variables))]
pub fn connect(
    program: &str,
    provider: Provider,
    base_url: Option<String>,
    api_key: Option<String>,
    poll_interval: Option<Duration>,
) -> Result<Connection, Failure> {
    #[cfg(feature = "emulator")]
    let mut emulator = None;
    let (base_url, api_key) = match (base_url, api_key) {
        (None, None) => {
            #[cfg(not(feature = "emulator"))]
            return Err(Failure::Usage(NO_KEY.into()));
            #[cfg(feature = "emulator")]
            {
                let scenario =
                    std::env::var("VIDU_EMULATOR_SCENARIO").unwrap_or_else(|_| "normal".into());
                let scenario = scenario
                    .parse()
                    .map_err(|e| Failure::Usage(format!("VIDU_EMULATOR_SCENARIO: {e}")))?;
                let options = vidu::emulator::EmulatorOptions::new().scenario(scenario);
                let started = vidu::emulator::Emulator::start_with(options).map_err(|e| {
                    Failure::Emulator(format!("could not start the built-in emulator: {e}"))
                })?;
                let url = started.base_url();
                eprintln!(
                    "{program}: no API key and no base URL: using the built-in emulator at {url}"
                );
                emulator = Some(started);
                (url, "emulator".to_owned())
            }
        }
        (_, None) => return Err(Failure::Usage(NO_KEY.into())),
        (url, Some(key)) => (
            url.unwrap_or_else(|| provider.default_base_url().to_owned()),
            key,
        ),
    };
    let mut config = Config::new(provider, api_key).base_url(base_url);
    #[cfg(feature = "emulator")]
    if emulator.is_some() {
        // The emulator moves a task on at every poll: no need to wait seconds between polls.
        config.poll.first = Duration::from_millis(250);
        config.poll.max = Duration::from_secs(1);
    }
    if let Some(p) = poll_interval {
        config.poll.first = p;
        config.poll.max = config.poll.max.max(p);
    }
    Ok(Connection {
        client: Client::new(config).map_err(Failure::Config)?,
        #[cfg(feature = "emulator")]
        _emulator: emulator,
    })
}
