//! `vidu emulator`: the built-in emulator of the three provider APIs, served until Ctrl-C.
//!
//! Prints `VIDU_BASE_URL=http://127.0.0.1:PORT` on stdout (one line, flushed) and a human line
//! on stderr, then serves until the process is stopped.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use vidu::emulator::{Emulator, EmulatorOptions, Scenario};

#[derive(clap::Args, Debug)]
#[command(after_help = scenarios())]
pub struct Args {
    /// How the emulated providers behave (see the list below)
    #[arg(long, value_name = "NAME", default_value = "normal", value_parser = scenario)]
    pub scenario: Scenario,
    /// Accept only this API key [default: any]
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Polls a task stays in each state
    #[arg(long, value_name = "N")]
    pub polls_per_state: Option<u32>,
    /// Seconds a task stays in each state (instead of polls)
    #[arg(long, value_name = "SECS", value_parser = crate::connect::seconds)]
    pub state_duration: Option<Duration>,
    /// Tasks running at once; the rest wait in the queue state [default: 5]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u32>,
    /// Serve a synthetic video of this many bytes instead of the sample MP4
    #[arg(long, value_name = "BYTES")]
    pub video_size: Option<u64>,
}

fn scenario(name: &str) -> Result<Scenario, String> {
    name.parse()
        .map_err(|e: vidu::emulator::UnknownScenario| e.to_string())
}

fn scenarios() -> String {
    format!("Scenarios: {}.", Scenario::names().join(", "))
}

pub fn run(args: Args) -> ExitCode {
    let mut options = EmulatorOptions::new().scenario(args.scenario);
    options.api_key = args.api_key;
    if let Some(n) = args.polls_per_state {
        options.polls_per_state = n;
    }
    options.state_duration = args.state_duration;
    if let Some(n) = args.concurrency {
        options.concurrency_limit = n;
    }
    options.video_size = args.video_size;
    let pace = match options.state_duration {
        Some(d) => format!("{d:?} per state"),
        None => format!("{} poll(s) per state", options.polls_per_state),
    };
    let description = format!(
        "scenario {:?}, {pace}, {} task(s) at once, {}",
        options.scenario,
        options.concurrency_limit,
        match &options.api_key {
            Some(_) => "one API key accepted",
            None => "any API key accepted",
        }
    );
    let emulator = match Emulator::start_with(options) {
        Ok(e) => e,
        Err(e) => return crate::report::fail(1, &format!("cannot start the emulator: {e}")).into(),
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "VIDU_BASE_URL={}", emulator.base_url());
    let _ = out.flush();
    eprintln!(
        "vidu emulator: API on {} (UModelVerse, Vtrix and Vidu routes), videos on {}; {description}. Ctrl-C to stop.",
        emulator.base_url(),
        emulator.video_base_url()
    );
    loop {
        std::thread::park();
    }
}
