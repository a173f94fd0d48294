//! `vidu img2video`: image + prompt → MP4. The flags are a contract shared with
//! `examples/c/img2video.c`.
//!
//! With `--journal FILE` the job is recorded in a crash-safe journal: rerunning the same command
//! after a crash, a kill or Ctrl-C picks up the earlier task instead of paying again.

use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use vidu::{BatchEvent, BatchJob, BatchOptions, CancelToken, Client, Job, JobOutcome, WaitOptions};

use crate::connect::{self, seconds, ConnectArgs};
use crate::report::{self, fail, shell_quote, Exit};
use crate::{interrupt, progress};

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("task").required(true).args(["image", "task_id"])))]
pub struct Args {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The image: a PNG, JPEG or WebP file (sent inline) or an http(s) URL
    #[arg(long, value_name = "PATH_OR_URL")]
    pub image: Option<String>,
    /// Pick up a task submitted earlier (after a timeout, Ctrl-C or a failed download) instead
    /// of submitting a new one: wait for it and download its video, paying nothing more
    #[arg(long, value_name = "ID", conflicts_with_all = ["journal", "dry_run"])]
    pub task_id: Option<String>,
    /// Where the MP4 goes (written atomically: the whole video or nothing)
    #[arg(long, value_name = "FILE.mp4", required = true)]
    pub output: Option<String>,
    /// The model [default: the provider's]
    #[arg(long)]
    pub model: Option<String>,
    /// What happens in the video
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// Seconds of video (the model decides which are allowed)
    #[arg(long, value_name = "N")]
    pub duration: Option<u32>,
    /// Resolution, e.g. 720p or 1080p (the model decides which are allowed)
    #[arg(long, value_name = "R")]
    pub resolution: Option<String>,
    /// How much moves
    #[arg(long, value_name = "A", value_enum)]
    pub movement_amplitude: Option<Amplitude>,
    /// Random seed (0: the provider chooses)
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Add background music
    #[arg(long)]
    pub bgm: bool,
    /// Give up waiting after this many seconds (the task goes on: its id is printed)
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub timeout: Option<Duration>,
    /// Off-peak generation, cheaper and slower (official API)
    #[arg(long)]
    pub off_peak: bool,
    /// Generate audio (official API)
    #[arg(long)]
    pub audio: bool,
    /// Add the provider's watermark (official API)
    #[arg(long)]
    pub watermark: bool,
    /// Record the job in this crash-safe journal: rerunning the same command picks up the task
    #[arg(long, value_name = "FILE")]
    pub journal: Option<String>,
    /// How long to look for the task of a submit whose answer was lost (official API), in
    /// seconds; the task list may lag behind a submit [default: 120]
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub search_window: Option<Duration>,
    /// Check everything and print the request that would be sent (the key shown as
    /// <redacted>, the image as its type and size); send nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `--movement-amplitude`'s values.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Amplitude {
    Auto,
    Small,
    Medium,
    Large,
}

impl From<Amplitude> for vidu::MovementAmplitude {
    fn from(a: Amplitude) -> Self {
        match a {
            Amplitude::Auto => vidu::MovementAmplitude::Auto,
            Amplitude::Small => vidu::MovementAmplitude::Small,
            Amplitude::Medium => vidu::MovementAmplitude::Medium,
            Amplitude::Large => vidu::MovementAmplitude::Large,
        }
    }
}

impl Args {
    fn job(&self, image: &str) -> Job<'static> {
        let mut job = Job::new(image.to_owned());
        if let Some(m) = &self.model {
            job = job.model(m.as_str());
        }
        if let Some(p) = &self.prompt {
            job = job.prompt(p.as_str());
        }
        if let Some(d) = self.duration {
            job = job.duration(d);
        }
        if let Some(r) = &self.resolution {
            job = job.resolution(r.as_str());
        }
        if let Some(a) = self.movement_amplitude {
            job = job.movement_amplitude(a.into());
        }
        if let Some(s) = self.seed {
            job = job.seed(s);
        }
        // Only the switches given: a provider that does not take one is never sent `false`.
        for (on, set) in [
            (self.bgm, Job::bgm as fn(Job<'static>, bool) -> Job<'static>),
            (self.off_peak, Job::off_peak),
            (self.audio, Job::audio),
            (self.watermark, Job::watermark),
        ] {
            if on {
                job = set(job, true);
            }
        }
        job
    }

    /// The command that picks up `task_id` later (the key is never printed: pass it again).
    fn resume_command(&self, provider: vidu::Provider, task_id: &str, output: &str) -> String {
        let mut command = format!("vidu img2video --provider {provider}");
        if let Some(url) = &self.connect.base_url {
            command.push_str(&format!(" --base-url {}", shell_quote(url)));
        }
        command.push_str(&format!(
            " --task-id {} --output {}",
            shell_quote(task_id),
            shell_quote(output)
        ));
        command
    }
}

/// Outputs are MP4 files: a name that says otherwise is a mistake caught before paying.
pub fn check_mp4(output: &str) -> Result<(), String> {
    let mp4 = Path::new(output)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mp4"));
    if mp4 {
        Ok(())
    } else {
        Err(format!(
            "output {output:?}: expected a file name ending in .mp4 (the providers make MP4 videos)"
        ))
    }
}

pub fn run(args: Args) -> ExitCode {
    match go(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => exit.into(),
    }
}

fn go(args: &Args) -> Result<(), Exit> {
    let provider: vidu::Provider = match args.connect.provider {
        Some(p) => p.into(),
        None => crate::usage_error(
            "img2video",
            "--provider is required (or set VIDU_PROVIDER): umodelverse, vtrix or vidu",
        ),
    };
    let output = args.output.as_deref().unwrap_or_default();
    check_mp4(output).map_err(|msg| fail(2, &format!("--{msg}")))?;
    if args.dry_run {
        let image = args.image.as_deref().unwrap_or_default();
        return dry_run(&args.connect, provider, &args.job(image), output);
    }

    if let Some(image) = &args.image {
        // Every check before anything starts (the emulator included) or is paid for.
        let client = dry_client(&args.connect, provider)?;
        client
            .check(&args.job(image))
            .map_err(|e| report::error(&e))?;
    }
    let connection = connect::connect(&args.connect, provider)?;
    let client = &connection.client;
    let cancel = CancelToken::new();
    interrupt::cancel_on_ctrl_c(&cancel);
    let resume = |id: &str| Some(args.resume_command(provider, id, output));

    if let (Some(journal), Some(image)) = (&args.journal, &args.image) {
        return journaled(
            client,
            args.job(image),
            output,
            journal,
            args.timeout,
            args.search_window,
            cancel,
        );
    }
    let mut spinner = progress::Spinner::new();
    let mut wait = WaitOptions::new()
        .cancel(cancel)
        .on_progress(|p: &vidu::Progress<'_>| {
            spinner.update(p.status);
            ControlFlow::Continue(())
        });
    if let Some(window) = args.search_window {
        wait = wait.search_window(window);
    }
    if args.timeout.is_some() {
        wait.timeout = args.timeout;
    }
    let result = match (&args.task_id, &args.image) {
        (Some(task_id), _) => client.resume(task_id, output, &mut wait),
        (None, Some(image)) => client.generate(&args.job(image), output, &mut wait),
        (None, None) => return Err(fail(2, "give --image or --task-id")),
    };
    drop(wait);
    drop(spinner);
    match result {
        Ok(done) => {
            println!(
                "task {}: wrote {} ({} bytes)",
                done.task_id,
                done.path.display(),
                done.bytes
            );
            Ok(())
        }
        Err(e) => Err(report::with_resume_hint(&e, resume)),
    }
}

/// Prints the request that `job` makes; sends nothing (not even to start an emulator).
pub fn dry_run(
    args: &ConnectArgs,
    provider: vidu::Provider,
    job: &Job<'_>,
    output: &str,
) -> Result<(), Exit> {
    let client = dry_client(args, provider)?;
    let submission = client.prepare(job).map_err(|e| report::error(&e))?;
    println!("# {output}");
    println!("{}", submission.display_at(&client.config().base_url));
    Ok(())
}

/// A client that is only asked to prepare requests: without a key or base URL, the provider's
/// own URL is shown (what would be sent with a real key).
pub fn dry_client(args: &ConnectArgs, provider: vidu::Provider) -> Result<Client, Exit> {
    let config =
        connect::config(args, provider)?.unwrap_or_else(|| vidu::Config::new(provider, "dry-run"));
    Client::new(config).map_err(|e| report::error(&e))
}

/// The job as a batch of one, recorded in `journal`: a rerun picks up where this run stopped.
fn journaled(
    client: &Client,
    job: Job<'static>,
    output: &str,
    journal: &str,
    timeout: Option<Duration>,
    search_window: Option<Duration>,
    cancel: CancelToken,
) -> Result<(), Exit> {
    let mut spinner = progress::Spinner::new();
    let jobs = [BatchJob::new(job, output)];
    let mut options = BatchOptions::default()
        .journal(journal)
        .cancel(cancel)
        .concurrency(1)
        .on_event(|event| {
            if let BatchEvent::Progress { status, .. } = event {
                spinner.update(status);
            }
            ControlFlow::Continue(())
        });
    if let Some(window) = search_window {
        options = options.search_window(window);
    }
    if let Some(t) = timeout {
        options = options.timeout(t);
    }
    let result = client.run_batch(&jobs, &mut options);
    drop(options);
    drop(spinner);
    let outcome = match result {
        Ok(mut outcomes) if !outcomes.is_empty() => outcomes.remove(0),
        Ok(_) => return Err(fail(1, "the batch of one returned no outcome")),
        Err(e) => return Err(report::error(&e)),
    };
    let rerun = |_: &str| Some("rerun the same command".to_owned());
    match outcome {
        JobOutcome::Written {
            task_id,
            path,
            bytes,
        } => {
            println!("task {task_id}: wrote {} ({bytes} bytes)", path.display());
            Ok(())
        }
        JobOutcome::Failed(e) | JobOutcome::Uncertain(e) => {
            Err(report::with_resume_hint(&e, rerun))
        }
        // The words of `Error::Timeout` and `Error::Cancelled` (whose variants a dependent
        // cannot build: they are non-exhaustive), with the same resume hint.
        JobOutcome::Unfinished {
            task_id: Some(task_id),
        } if !interrupt::interrupted() => Err(fail(
            4,
            &format!(
                "timed out waiting for task {task_id}; the task goes on: wait for {task_id} \
                 again later; to resume: rerun the same command"
            ),
        )),
        JobOutcome::Unfinished { task_id } => {
            let code = if interrupt::interrupted() {
                report::INTERRUPTED
            } else {
                1
            };
            Err(fail(
                code,
                &match task_id {
                    Some(id) => format!(
                        "stopped waiting for task {id}; the task goes on, wait for it again to \
                         get the video; to resume: rerun the same command"
                    ),
                    None => "stopped while holding back between submit attempts; no task was \
                             created"
                        .to_owned(),
                },
            ))
        }
        _ => Err(fail(1, "unexpected outcome")),
    }
}
