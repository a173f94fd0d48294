//! Many videos from one jobs file, from one thread, resumable: rerun the same command after a
//! crash, a kill or Ctrl-C and it picks up where it stopped, never paying twice for a job.
//! Offline on the built-in emulator when no API key and no base URL are given.
//!
//! Exit codes: 0 every video written; 2 bad usage or an invalid job (nothing sent); 3 at least
//! one job failed at the provider; 4 the deadline passed with tasks still running; 130
//! interrupted; 1 anything else. Rerun to resume after 4, 130 or 1.

#[path = "common/connect.rs"]
mod connect;
#[path = "common/interrupt.rs"]
mod interrupt;

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use vidu::{
    BatchEvent, BatchJob, BatchOptions, CancelToken, ErrorKind, Job, JobOutcome, MovementAmplitude,
    Provider,
};

const USAGE: &str =
    "usage: batch --provider umodelverse|vtrix|vidu [--base-url URL] [--api-key KEY]
       --jobs FILE.jsonl --out-dir DIR [--journal FILE] [--concurrency N] [--model MODEL]
       [--poll-interval SECS] [--timeout SECS] [--resubmit-uncertain]
Each line of --jobs is a JSON object: {\"image\": PATH_OR_URL, \"output\": NAME.mp4} plus optional
prompt, model, duration, resolution, movement_amplitude, seed, bgm. Image paths are relative to
the jobs file's folder, outputs to --out-dir. The journal (default DIR/.vidu-journal.jsonl) makes
a rerun of the same command resume. VIDU_API_KEY, VIDU_BASE_URL and VIDU_PROVIDER stand in for
the flags; with no API key and no base URL the built-in emulator is started (offline).";

#[derive(Default)]
struct Args {
    provider: Option<String>,
    base_url: Option<String>,
    api_key: Option<String>,
    jobs: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    journal: Option<PathBuf>,
    concurrency: Option<usize>,
    model: Option<String>,
    poll_interval: Option<Duration>,
    timeout: Option<Duration>,
    resubmit_uncertain: bool,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let env = connect::env;
    let mut a = Args {
        provider: env("VIDU_PROVIDER"),
        base_url: env("VIDU_BASE_URL"),
        api_key: env("VIDU_API_KEY"),
        ..Args::default()
    };
    while let Some(flag) = argv.next() {
        match flag.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--resubmit-uncertain" => {
                a.resubmit_uncertain = true;
                continue;
            }
            _ => {}
        }
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--provider" => a.provider = Some(value),
            "--base-url" => a.base_url = Some(value),
            "--api-key" => a.api_key = Some(value),
            "--jobs" => a.jobs = Some(value.into()),
            "--out-dir" => a.out_dir = Some(value.into()),
            "--journal" => a.journal = Some(value.into()),
            "--model" => a.model = Some(value),
            "--concurrency" => {
                a.concurrency = Some(value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("--concurrency {value:?}: expected a whole number above zero")
                })?)
            }
            "--poll-interval" => a.poll_interval = Some(connect::seconds(&flag, &value)?),
            "--timeout" => a.timeout = Some(connect::seconds(&flag, &value)?),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

/// One line of the jobs file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    image: String,
    output: String,
    prompt: Option<String>,
    model: Option<String>,
    duration: Option<u32>,
    resolution: Option<String>,
    movement_amplitude: Option<String>,
    seed: Option<u64>,
    bgm: Option<bool>,
}

/// Reads the jobs file; an error names the line and the key.
fn read_jobs(
    path: &Path,
    out_dir: &Path,
    default_model: Option<&str>,
) -> Result<Vec<BatchJob<'static>>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--jobs {}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut jobs = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let where_ = format!("{} line {}", path.display(), n + 1);
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).map_err(|e| format!("{where_}: {e}"))?;
        // URLs as they are; paths relative to the jobs file's folder.
        let image = match vidu::ImageSource::from(line.image.as_str()) {
            vidu::ImageSource::Path(p) => vidu::ImageSource::Path(base.join(p)),
            url => url,
        };
        let output = Path::new(&line.output);
        if output.is_absolute()
            || output
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(format!(
                "{where_}: output {:?}: expected a file name inside --out-dir",
                line.output
            ));
        }
        let mut job = Job::new(image);
        if let Some(m) = line.model.as_deref().or(default_model) {
            job = job.model(m);
        }
        if let Some(p) = line.prompt {
            job = job.prompt(p);
        }
        if let Some(d) = line.duration {
            job = job.duration(d);
        }
        if let Some(r) = line.resolution {
            job = job.resolution(r);
        }
        if let Some(m) = line.movement_amplitude {
            let m: MovementAmplitude = m
                .parse()
                .map_err(|e: vidu::Error| format!("{where_}: {e}"))?;
            job = job.movement_amplitude(m);
        }
        if let Some(s) = line.seed {
            job = job.seed(s);
        }
        if let Some(b) = line.bgm {
            job = job.bgm(b);
        }
        jobs.push(BatchJob::new(job, out_dir.join(output)).label(where_));
    }
    if jobs.is_empty() {
        return Err(format!("--jobs {}: no jobs in the file", path.display()));
    }
    Ok(jobs)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) if msg.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => return usage_error(&msg),
    };
    let (Some(provider), Some(jobs_path), Some(out_dir)) =
        (&args.provider, &args.jobs, &args.out_dir)
    else {
        return usage_error("--provider, --jobs and --out-dir are required");
    };
    let provider: Provider = match provider.parse() {
        Ok(p) => p,
        Err(e) => return usage_error(&e.to_string()),
    };
    if !out_dir.is_dir() {
        if let Err(e) = std::fs::create_dir_all(out_dir) {
            return usage_error(&format!("--out-dir {}: {e}", out_dir.display()));
        }
    }
    let jobs = match read_jobs(jobs_path, out_dir, args.model.as_deref()) {
        Ok(j) => j,
        Err(msg) => return usage_error(&msg),
    };

    let connection = match connect::connect(
        "batch",
        provider,
        args.base_url,
        args.api_key,
        args.poll_interval,
    ) {
        Ok(c) => c,
        Err(connect::Failure::Usage(msg)) => return usage_error(&msg),
        Err(connect::Failure::Emulator(msg)) => return fail(1, &msg),
        Err(connect::Failure::Config(e)) => return fail(exit_code(&e), &e.to_string()),
    };
    let client = &connection.client;

    let cancel = CancelToken::new();
    interrupt::cancel_on_ctrl_c(&cancel);
    let journal = args
        .journal
        .clone()
        .unwrap_or_else(|| out_dir.join(".vidu-journal.jsonl"));
    let start = Instant::now();
    let mut tally = Tally::default();
    let total = jobs.len();
    let mut stderr = std::io::stderr();
    let mut options = BatchOptions::default()
        .journal(journal)
        .cancel(cancel.clone())
        .resubmit_uncertain(args.resubmit_uncertain)
        .on_event(|event| {
            tally.see(event);
            if let BatchEvent::Written { task_id, path, .. } = event {
                let _ = write!(stderr, "\r\x1b[K");
                println!("task {task_id}: wrote {}", path.display());
            }
            let _ = write!(
                stderr,
                "\r{} written, {} running, {} queued, {} failed, {:.0}s   ",
                tally.written,
                tally.running,
                total.saturating_sub(tally.written + tally.failed + tally.running),
                tally.failed,
                start.elapsed().as_secs_f64()
            );
            let _ = stderr.flush();
            ControlFlow::Continue(())
        });
    if let Some(n) = args.concurrency {
        options = options.concurrency(n);
    }
    if let Some(t) = args.timeout {
        options = options.timeout(t);
    }
    let result = client.run_batch(&jobs, &mut options);
    drop(options);
    eprintln!();
    let outcomes = match result {
        Ok(o) => o,
        Err(e) => return fail(exit_code(&e), &e.to_string()),
    };
    summarize(
        &jobs,
        &outcomes,
        interrupt::interrupted(),
        args.timeout.is_some(),
    )
}

#[derive(Default)]
struct Tally {
    written: usize,
    running: usize,
    failed: usize,
}

impl Tally {
    fn see(&mut self, event: &BatchEvent<'_>) {
        match event {
            BatchEvent::Submitted { .. } | BatchEvent::Adopted { .. } => self.running += 1,
            BatchEvent::Written { .. } => {
                self.written += 1;
                self.running = self.running.saturating_sub(1);
            }
            BatchEvent::Failed { error, .. } => {
                self.failed += 1;
                if error.task_id().is_some() {
                    self.running = self.running.saturating_sub(1);
                }
            }
            _ => {}
        }
    }
}

fn summarize(
    jobs: &[BatchJob<'_>],
    outcomes: &[JobOutcome],
    interrupted: bool,
    had_deadline: bool,
) -> ExitCode {
    let (mut written, mut failed, mut uncertain, mut unfinished) = (0, 0, 0, 0);
    for (bj, outcome) in jobs.iter().zip(outcomes) {
        let label = bj.label.as_deref().unwrap_or("job");
        match outcome {
            JobOutcome::Written { .. } => written += 1,
            JobOutcome::Failed(e) => {
                failed += 1;
                eprintln!("batch: failed: {label}: {e}");
            }
            JobOutcome::Uncertain(e) => {
                uncertain += 1;
                eprintln!("batch: uncertain: {label}: {e}");
            }
            JobOutcome::Unfinished { task_id } => {
                unfinished += 1;
                if let Some(id) = task_id {
                    eprintln!("batch: unfinished: {label}: task {id}");
                }
            }
            _ => {}
        }
    }
    let mut line = format!("{written} written, {failed} failed, {uncertain} uncertain");
    if unfinished > 0 {
        line.push_str(&format!(
            ", {unfinished} unfinished; rerun the same command to resume"
        ));
    }
    eprintln!("batch: {line}");
    let code = if interrupted {
        interrupt::EXIT_INTERRUPTED
    } else if unfinished > 0 && had_deadline {
        4
    } else if unfinished > 0 || uncertain > 0 {
        1
    } else if failed > 0 {
        3
    } else {
        0
    };
    ExitCode::from(code)
}

fn exit_code(e: &vidu::Error) -> u8 {
    match e.kind() {
        ErrorKind::InvalidInput => 2,
        _ => 1,
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("batch: error: {msg}\n{USAGE}");
    ExitCode::from(2)
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("batch: error: {msg}");
    ExitCode::from(code)
}
