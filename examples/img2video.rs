//! One job: image + prompt → MP4. Runs offline on the built-in emulator unless `VIDU_API_KEY` is
//! set. This file is the README's "From Rust" snippet (a test keeps the two equal).
//!
//! ```sh
//! cargo run --example img2video
//! ```

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

use vidu::emulator::Emulator;
use vidu::{Client, Config, Job, Provider, WaitOptions};

fn main() -> ExitCode {
    let emulator; // lives until the end of main
    let config = match std::env::var("VIDU_API_KEY") {
        Ok(key) => Config::new(Provider::Vidu, key),
        Err(_) => {
            emulator = Emulator::start().expect("the built-in emulator starts");
            let mut config = Config::new(Provider::Vidu, "emulator").base_url(emulator.base_url());
            // The default schedule polls every few seconds, as a real task takes minutes; the
            // emulator moves a task on at every poll.
            config.poll.first = Duration::from_millis(100);
            config.poll.max = Duration::from_millis(500);
            config
        }
    };
    let client = match Client::new(config) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let job = Job::new("examples/sample.png")
        .prompt("the cat turns its head")
        .duration(5);
    let mut last_state = None;
    let mut wait = WaitOptions::new()
        .timeout(Some(Duration::from_secs(600)))
        .on_progress(|p| {
            // Called after every poll. Only some providers report a percentage (Vtrix).
            if last_state != Some(p.status.state) {
                last_state = Some(p.status.state);
                eprintln!("task {}: {}", p.status.task_id, p.status.state);
            }
            ControlFlow::Continue(()) // Break(()) stops waiting
        });
    match client.generate(&job, "cat.mp4", &mut wait) {
        Ok(done) => {
            println!("task {}: wrote {}", done.task_id, done.path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Timeouts, failures and network errors keep the task id: `client.resume(id, ..)`
            // waits for the same task again, without paying for a new one.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
