//! Where requests go: the provider that the flags or the environment name, or, with no API key
//! and no base URL, the built-in emulator started in-process.

use std::time::Duration;

use vidu::{Client, Config, Provider};

use crate::report::{fail, Exit};

/// The flags every subcommand that talks to a provider shares.
#[derive(clap::Args, Clone, Debug)]
pub struct ConnectArgs {
    /// The provider (required for img2video, batch and status; the others are official-API only)
    #[arg(long, env = "VIDU_PROVIDER", value_enum)]
    pub provider: Option<ProviderName>,
    /// The API's base URL [default: the provider's]
    #[arg(long, env = "VIDU_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// The API key (with neither key nor base URL: the built-in emulator, offline)
    #[arg(long, env = "VIDU_API_KEY", value_name = "KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Seconds between polls at first (the schedule backs off from there)
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub poll_interval: Option<Duration>,
    /// Also trust the CA certificates of this PEM file (a company's TLS-inspecting proxy, a
    /// private gateway), beside the bundled roots
    #[arg(long, env = "VIDU_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// `--provider`'s values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderName {
    /// UModelVerse (UCloud)
    Umodelverse,
    /// The Vtrix gateway
    Vtrix,
    /// The official Vidu API
    Vidu,
}

impl From<ProviderName> for Provider {
    fn from(p: ProviderName) -> Provider {
        match p {
            ProviderName::Umodelverse => Provider::UModelVerse,
            ProviderName::Vtrix => Provider::Vtrix,
            ProviderName::Vidu => Provider::Vidu,
        }
    }
}

/// A `--poll-interval` or `--timeout` value: seconds, fractions allowed, above zero.
pub fn seconds(v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| "expected a number of seconds above zero".to_owned())
}

/// A client, and the emulator it talks to when it was started here (stopped on drop).
pub struct Connection {
    pub client: Client,
    #[cfg(feature = "emulator")]
    _emulator: Option<vidu::emulator::Emulator>,
}

const NO_KEY: &str = "no API key: pass --api-key or set VIDU_API_KEY";

/// The configuration the flags describe, before anything is started: `None` base URL and key
/// mean the built-in emulator.
pub fn config(args: &ConnectArgs, provider: Provider) -> Result<Option<Config>, Exit> {
    match (&args.base_url, &args.api_key) {
        (None, None) => Ok(None),
        (_, None) => Err(fail(2, NO_KEY)),
        (url, Some(key)) => {
            let url = url.as_deref().unwrap_or(provider.default_base_url());
            let mut config = Config::new(provider, key.as_str()).base_url(url);
            if let Some(ca_file) = &args.ca_file {
                config = config.ca_file(ca_file);
            }
            poll_interval(&mut config, args.poll_interval);
            Ok(Some(config))
        }
    }
}

fn poll_interval(config: &mut Config, interval: Option<Duration>) {
    if let Some(p) = interval {
        config.poll.first = p;
        config.poll.max = config.poll.max.max(p);
    }
}

/// Connects to `provider` as the flags say.
pub fn connect(args: &ConnectArgs, provider: Provider) -> Result<Connection, Exit> {
    let config = match config(args, provider)? {
        Some(config) => config,
        #[cfg(not(feature = "emulator"))]
        None => return Err(fail(2, NO_KEY)),
        #[cfg(feature = "emulator")]
        None => return emulated(args, provider),
    };
    log::info!(
        target: "vidu_cli",
        "{provider} at {}, first poll after {:?}",
        config.base_url,
        config.poll.first
    );
    Ok(Connection {
        client: Client::new(config).map_err(|e| crate::report::error(&e))?,
        #[cfg(feature = "emulator")]
        _emulator: None,
    })
}

#[cfg(feature = "emulator")]
fn emulated(args: &ConnectArgs, provider: Provider) -> Result<Connection, Exit> {
    let scenario = std::env::var("VIDU_EMULATOR_SCENARIO").unwrap_or_else(|_| "normal".into());
    let scenario = scenario
        .parse()
        .map_err(|e| fail(2, &format!("VIDU_EMULATOR_SCENARIO: {e}")))?;
    let options = vidu::emulator::EmulatorOptions::new().scenario(scenario);
    let emulator = vidu::emulator::Emulator::start_with(options)
        .map_err(|e| fail(1, &format!("could not start the built-in emulator: {e}")))?;
    let url = emulator.base_url();
    crate::progress::note(&format!(
        "vidu: no API key and no base URL: using the built-in emulator at {url}"
    ));
    let mut config = Config::new(provider, "emulator").base_url(url);
    // The emulator moves a task on at every poll: no need to wait seconds between polls.
    config.poll.first = Duration::from_millis(250);
    config.poll.max = Duration::from_secs(1);
    poll_interval(&mut config, args.poll_interval);
    log::info!(target: "vidu_cli", "{provider} on the built-in emulator at {}", config.base_url);
    Ok(Connection {
        client: Client::new(config).map_err(|e| crate::report::error(&e))?,
        _emulator: Some(emulator),
    })
}
