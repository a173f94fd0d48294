//! Runs the built-in emulator of the three provider APIs until killed.
//!
//! ```text
//! cargo run --example emulator -- [--scenario NAME] [--api-key KEY] [--polls-per-state N]
//!     [--state-duration SECS] [--concurrency N] [--video-size BYTES]
//! ```
//!
//! `--state-duration` makes tasks advance with time instead of polls; `--concurrency` caps
//! the tasks running at once (default 5; the rest wait in the queue state); `--video-size`
//! serves a synthetic video of that many bytes instead of the sample MP4.
//!
//! Prints `VIDU_BASE_URL=http://127.0.0.1:PORT` on stdout (one line, flushed) and a human line
//! on stderr, then serves until the process is killed (Ctrl-C).

use std::io::Write;
use std::process::ExitCode;

use vidu::emulator::{Emulator, EmulatorOptions, Scenario};

const USAGE: &str = "usage: emulator [--scenario NAME] [--api-key KEY] [--polls-per-state N] \
                     [--state-duration SECS] [--concurrency N] [--video-size BYTES]";

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: {value:?} is not a non-negative number"))
}

fn parse(args: &[String]) -> Result<EmulatorOptions, String> {
    let mut options = EmulatorOptions::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag.as_str(), None),
        };
        if name == "--help" || name == "-h" {
            return Err(format!(
                "{USAGE}\nscenarios: {}",
                Scenario::names().join(", ")
            ));
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?,
        };
        match name {
            "--scenario" => options.scenario = value.parse().map_err(|e| format!("{e}"))?,
            "--api-key" => options.api_key = Some(value),
            "--polls-per-state" => options.polls_per_state = number(name, &value)?,
            "--state-duration" => {
                let secs: f64 = number(name, &value)?;
                let d = std::time::Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("{name}: {value:?} is not a duration in seconds"))?;
                options.state_duration = Some(d);
            }
            "--concurrency" => options.concurrency_limit = number(name, &value)?,
            "--video-size" => options.video_size = Some(number(name, &value)?),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
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
        Err(e) => {
            eprintln!("cannot start the emulator: {e}");
            return ExitCode::FAILURE;
        }
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
