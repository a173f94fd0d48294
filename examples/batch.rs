//! A batch: several videos from one thread, recorded in a journal so that a rerun after a crash
//! or Ctrl-C finishes the batch without paying twice. Offline on the built-in emulator unless
//! `VIDU_API_KEY` is set. Writes `batch-out/{0,1,2}.mp4`.
//!
//! ```sh
//! cargo run --example batch
//! ```

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

use vidu::emulator::Emulator;
use vidu::{BatchEvent, BatchJob, BatchOptions, Client, Config, Job, JobOutcome, Provider};

fn main() -> ExitCode {
    let emulator;
    let config = match std::env::var("VIDU_API_KEY") {
        Ok(key) => Config::new(Provider::Vidu, key),
        Err(_) => {
            emulator = Emulator::start().expect("the built-in emulator starts");
            let mut config = Config::new(Provider::Vidu, "emulator").base_url(emulator.base_url());
            config.poll.first = Duration::from_millis(100); // the emulator is fast
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

    let prompts = [
        "the cat turns its head",
        "the cat yawns",
        "the cat looks up",
    ];
    let jobs: Vec<BatchJob> = (prompts.iter().enumerate())
        .map(|(i, prompt)| {
            let job = Job::new("examples/sample.png").prompt(*prompt);
            BatchJob::new(job, format!("batch-out/{i}.mp4")).label(format!("job {i}"))
        })
        .collect();
    std::fs::create_dir_all("batch-out").expect("an output folder");

    let mut options = BatchOptions::default()
        .journal("batch-out/.journal.jsonl") // a rerun resumes from here
        .concurrency(2)
        .on_event(|event| {
            if let BatchEvent::Written { task_id, path, .. } = event {
                println!("task {task_id}: wrote {}", path.display());
            }
            ControlFlow::Continue(()) // Break(()) stops the run; rerun to resume
        });
    let outcomes = match client.run_batch(&jobs, &mut options) {
        Ok(outcomes) => outcomes,
        Err(e) => {
            eprintln!("error: {e}"); // an invalid job, or the journal: nothing was sent
            return ExitCode::FAILURE;
        }
    };
    let mut ok = true;
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        if !matches!(outcome, JobOutcome::Written { .. }) {
            ok = false;
            eprintln!("{}: {outcome:?}", job.label.as_deref().unwrap_or("job"));
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
