//! Image + prompt → MP4, on any provider, offline on the built-in emulator when no API key and
//! no base URL are given. The flags are a contract shared with `examples/c/img2video.c`.
//!
//! Exit codes: 0 video written; 2 bad usage or invalid input (nothing sent); 3 the task failed
//! at the provider; 4 timeout (the task goes on: its id is printed); 130 interrupted by Ctrl-C
//! (the task goes on: its id is printed); 1 any other error.
//!
//! With `--journal FILE` the job is recorded in a crash-safe journal: rerunning the same command
//! after a crash, a kill or Ctrl-C picks up the earlier task instead of paying again.

#[path = "common/connect.rs"]
mod connect;
#[path = "common/interrupt.rs"]
mod interrupt;

use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use vidu::{
    BatchEvent, BatchJob, BatchOptions, CancelToken, Client, ErrorKind, Job, JobOutcome, Provider,
    WaitOptions,
};

const USAGE: &str =
    "usage: img2video --provider umodelverse|vtrix|vidu [--base-url URL] [--api-key KEY]
       [--model MODEL] --image PATH_OR_URL [--prompt TEXT] [--duration N] [--resolution R]
       [--movement-amplitude A] [--seed N] [--bgm] [--poll-interval SECS] [--timeout SECS]
       [--off-peak] [--audio] [--watermark] [--journal FILE] --output FILE.mp4
VIDU_API_KEY, VIDU_BASE_URL and VIDU_PROVIDER stand in for the flags. With no API key and no
base URL the built-in emulator is started (offline).";

struct Args {
    provider: Option<String>,
    base_url: Option<String>,
    api_key: Option<String>,
    image: Option<String>,
    task_id: Option<String>,
    output: Option<String>,
    poll_interval: Option<Duration>,
    timeout: Option<Duration>,
    journal: Option<String>,
    /// The job's settings, applied once the image is known.
    job: Vec<JobSetting>,
}

type JobSetting = Box<dyn FnOnce(Job<'static>) -> Job<'static>>;

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let env = connect::env;
    let mut a = Args {
        provider: env("VIDU_PROVIDER"),
        base_url: env("VIDU_BASE_URL"),
        api_key: env("VIDU_API_KEY"),
        image: None,
        task_id: None,
        output: None,
        poll_interval: None,
        timeout: None,
        journal: None,
        job: Vec::new(),
    };
    while let Some(flag) = argv.next() {
        let switch: Option<JobSetting> = match flag.as_str() {
            "--bgm" => Some(Box::new(|j| j.bgm(true))),
            "--off-peak" => Some(Box::new(|j| j.off_peak(true))),
            "--audio" => Some(Box::new(|j| j.audio(true))),
            "--watermark" => Some(Box::new(|j| j.watermark(true))),
            _ => None,
        };
        if let Some(setting) = switch {
            a.job.push(setting);
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let int = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} {v:?}: expected a whole number"))
        };
        let mut set = |setting: JobSetting| a.job.push(setting);
        match flag.as_str() {
            "--provider" => a.provider = Some(value),
            "--base-url" => a.base_url = Some(value),
            "--api-key" => a.api_key = Some(value),
            "--model" => set(Box::new(move |j| j.model(value))),
            "--image" => a.image = Some(value),
            "--prompt" => set(Box::new(move |j| j.prompt(value))),
            "--duration" => {
                let seconds: u32 = int(&value)?
                    .try_into()
                    .map_err(|_| format!("--duration {value:?} is too large"))?;
                set(Box::new(move |j| j.duration(seconds)))
            }
            "--resolution" => set(Box::new(move |j| j.resolution(value))),
            "--movement-amplitude" => {
                let amplitude: vidu::MovementAmplitude =
                    value.parse().map_err(|e: vidu::Error| e.to_string())?;
                set(Box::new(move |j| j.movement_amplitude(amplitude)))
            }
            "--seed" => {
                let seed = int(&value)?;
                set(Box::new(move |j| j.seed(seed)))
            }
            "--poll-interval" => a.poll_interval = Some(connect::seconds(&flag, &value)?),
            "--timeout" => a.timeout = Some(connect::seconds(&flag, &value)?),
            "--output" => a.output = Some(value),
            "--task-id" => a.task_id = Some(value),
            "--journal" => a.journal = Some(value),
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    Ok(a)
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
    let (Some(provider), Some(output)) = (&args.provider, &args.output) else {
        return usage_error("--provider and --output are required");
    };
    if args.image.is_some() == args.task_id.is_some() {
        return usage_error("give --image (a new task) or --task-id (a task submitted earlier)");
    }
    let provider: Provider = match provider.parse() {
        Ok(p) => p,
        Err(e) => return usage_error(&e.to_string()),
    };

    let connection = match connect::connect(
        "img2video",
        provider,
        args.base_url,
        args.api_key,
        args.poll_interval,
    ) {
        Ok(c) => c,
        Err(connect::Failure::Usage(msg)) => return usage_error(&msg),
        Err(connect::Failure::Emulator(msg)) => return fail(1, &msg),
        Err(connect::Failure::Config(e)) => return report(&e),
    };
    let client = &connection.client;

    let cancel = CancelToken::new();
    interrupt::cancel_on_ctrl_c(&cancel);
    let start = Instant::now();
    if let (Some(journal), Some(image)) = (&args.journal, &args.image) {
        let job = (args.job.into_iter()).fold(Job::new(image.as_str()), |job, set| set(job));
        return journaled(client, job, output, journal, args.timeout, cancel);
    }
    let mut wait = WaitOptions::new()
        .cancel(cancel)
        .on_progress(move |p: &vidu::Progress<'_>| {
            show_progress(p.status, start);
            ControlFlow::Continue(())
        });
    if args.timeout.is_some() {
        wait.timeout = args.timeout;
    }
    let result = match (&args.task_id, &args.image) {
        (Some(task_id), _) => client.resume(task_id, output, &mut wait),
        (None, Some(image)) => {
            let job = (args.job.into_iter()).fold(Job::new(image.as_str()), |job, set| set(job));
            client.generate(&job, output, &mut wait)
        }
        (None, None) => unreachable!("checked above"),
    };
    eprintln!();
    match result {
        Ok(done) => {
            println!(
                "task {}: wrote {} ({} bytes)",
                done.task_id,
                done.path.display(),
                done.bytes
            );
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}

/// One updating line on stderr: state, progress, elapsed.
fn show_progress(status: &vidu::TaskStatus, start: Instant) {
    let pct = status
        .progress
        .map(|f| format!(" {:.0}%", f * 100.0))
        .unwrap_or_default();
    let state = if status.state == vidu::State::Unknown {
        &status.raw_state
    } else {
        status.state.as_str()
    };
    let mut stderr = std::io::stderr();
    let _ = write!(
        stderr,
        "\rtask {}: {state}{pct} {:.1}s    ",
        status.task_id,
        start.elapsed().as_secs_f64()
    );
    let _ = stderr.flush();
}

/// The job as a batch of one, recorded in `journal`: a rerun picks up where this run stopped.
fn journaled(
    client: &Client,
    job: Job<'static>,
    output: &str,
    journal: &str,
    timeout: Option<Duration>,
    cancel: CancelToken,
) -> ExitCode {
    let start = Instant::now();
    let jobs = [BatchJob::new(job, output)];
    let mut options = BatchOptions::default()
        .journal(journal)
        .cancel(cancel)
        .concurrency(1)
        .on_event(move |event| {
            if let BatchEvent::Progress { status, .. } = event {
                show_progress(status, start);
            }
            ControlFlow::Continue(())
        });
    if let Some(t) = timeout {
        options = options.timeout(t);
    }
    let result = client.run_batch(&jobs, &mut options);
    drop(options);
    eprintln!();
    let outcome = match result {
        Ok(mut outcomes) => outcomes.remove(0),
        Err(e) => return report(&e),
    };
    match outcome {
        JobOutcome::Written {
            task_id,
            path,
            bytes,
        } => {
            println!("task {task_id}: wrote {} ({bytes} bytes)", path.display());
            ExitCode::SUCCESS
        }
        JobOutcome::Failed(e) | JobOutcome::Uncertain(e) => report(&e),
        // (The same words as vidu::Error's Timeout and Cancelled, which only the library makes.)
        JobOutcome::Unfinished { task_id: Some(id) } if !interrupt::interrupted() => fail(
            4,
            &format!(
                "timed out waiting for task {id}; the task goes on: wait for {id} again later; \
                 to resume: --task-id {id}"
            ),
        ),
        JobOutcome::Unfinished { task_id } => {
            let code = if interrupt::interrupted() {
                interrupt::EXIT_INTERRUPTED
            } else {
                1
            };
            match task_id {
                Some(id) => fail(
                    code,
                    &format!(
                        "stopped waiting for task {id}; the task goes on, wait for it again to \
                         get the video; to resume: --task-id {id}"
                    ),
                ),
                None => fail(
                    code,
                    "stopped while holding back between submit attempts; no task was created",
                ),
            }
        }
        _ => fail(1, "unexpected outcome"),
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("img2video: error: {msg}\n{USAGE}");
    ExitCode::from(2)
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("img2video: error: {msg}");
    ExitCode::from(code)
}

fn report(e: &vidu::Error) -> ExitCode {
    let code = match e.kind() {
        _ if interrupt::interrupted() => interrupt::EXIT_INTERRUPTED,
        // Invalid input found after the submit: the task exists, so this is no usage error.
        ErrorKind::InvalidInput if e.task_id().is_none() => 2,
        ErrorKind::TaskFailed => 3,
        ErrorKind::Timeout => 4,
        _ => 1,
    };
    let mut message = e.to_string();
    if let vidu::Error::InvalidInput {
        field: "api_key", ..
    } = e
    {
        message.push_str("; pass --api-key or set VIDU_API_KEY");
    }
    // Nothing paid for is lost: say how to pick the task up again.
    if let (
        Some(id),
        ErrorKind::Timeout
        | ErrorKind::InvalidInput
        | ErrorKind::Cancelled
        | ErrorKind::Transport
        | ErrorKind::Download
        | ErrorKind::Io
        | ErrorKind::Protocol,
    ) = (e.task_id(), e.kind())
    {
        message.push_str(&format!("; to resume: --task-id {id}"));
    }
    fail(code, &message)
}
