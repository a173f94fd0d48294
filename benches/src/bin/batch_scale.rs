//! The client side of the scale and download benchmarks: `Client::run_batch_from` of N URL-image
//! jobs on the official API (all submitted at once; the jobs made from their number when the
//! batch asks for one, outcomes counted from the events), in a process of its own, printing
//! `key=value` lines: wall time, CPU (user and system, the whole process and the batch call
//! alone), peak RSS (`VmHWM`), outcomes, and for the download benchmark the times of the
//! first video ready and of each video written.
//!
//! ```text
//! batch_scale --base-url URL --jobs N --out-dir DIR [--journal PATH] [--poll-interval SECS]
//!             [--sentinels M] [--stop-after-written K] [--timeout SECS]
//! ```
//!
//! `--sentinels M` adds M jobs whose prompt is `sentinel` (the bench server never finishes
//! them: they keep being polled while the videos download); `--stop-after-written K` ends
//! the run two poll intervals after K videos are written (so that the polls held back by the
//! last downloads come, and the server sees how late they were); `--timeout` caps the run.
//! Both stop it with a cancel: unfinished jobs are counted as such.
//!
//! Only the library's public batch API is used (no CLI), so the measure holds whatever
//! shape the batch CLI takes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use vidu::{
    BatchEvent, BatchJob, BatchOptions, CancelToken, Client, Config, Job, JobSource, Provider,
    State,
};

/// Job `i`: the image `https://example.com/images/{i}.png`, written to `{out}/{i}.mp4`; the last
/// `sentinels` jobs have the prompt `sentinel`.
struct Numbered {
    jobs: usize,
    sentinels: usize,
    out: PathBuf,
}

impl JobSource for Numbered {
    fn len(&self) -> usize {
        self.jobs + self.sentinels
    }
    fn job(&self, i: usize) -> vidu::Result<Cow<'_, BatchJob<'_>>> {
        let job = Job::new(format!("https://example.com/images/{i}.png"));
        let job = if i >= self.jobs {
            job.prompt("sentinel")
        } else {
            job
        };
        Ok(Cow::Owned(BatchJob::new(
            job,
            self.out.join(format!("{i}.mp4")),
        )))
    }
}
use vidu_benches::{cpu_secs, proc_status_kb};

fn main() {
    let started = Instant::now();
    let mut flags: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        flags.insert(flag.trim_start_matches("--").to_owned(), value);
    }
    let get = |name: &str| -> &str {
        flags
            .get(name)
            .unwrap_or_else(|| panic!("--{name} is required"))
    };
    let num = |name: &str, default: f64| -> f64 {
        flags.get(name).map_or(default, |v| {
            v.parse().unwrap_or_else(|_| panic!("--{name}: {v:?}"))
        })
    };
    let jobs_n = num("jobs", 0.0) as usize;
    let sentinels = num("sentinels", 0.0) as usize;
    let interval = Duration::from_secs_f64(num("poll-interval", 1.0));
    let stop_after = flags
        .get("stop-after-written")
        .map(|v| v.parse::<usize>().expect("K"));
    let out_dir = std::path::PathBuf::from(get("out-dir"));
    std::fs::create_dir_all(&out_dir).expect("out dir");

    let mut config = Config::new(Provider::Vidu, "bench").base_url(get("base-url"));
    config.proxy_from_env = false;
    config.poll.first = interval;
    config.poll.max = interval;
    config.poll.jitter = 0.0;
    let client = Client::new(config).expect("client");

    let jobs = Numbered {
        jobs: jobs_n,
        sentinels,
        out: out_dir.clone(),
    };
    let total = jobs.len();
    let mut first_ready: Option<Duration> = None;
    let mut written: Vec<Duration> = Vec::new();
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    let mut first_failure: Option<String> = None;
    // Tasks running as the client sees them (submitted, not yet written or failed), summed
    // over time: the denominator of API requests per poll interval per 100 running tasks.
    let mut running = 0u64;
    let mut task_seconds = 0.0f64;
    let mut last_change = Duration::ZERO;
    let token = CancelToken::new();
    let (cpu_user0, cpu_sys0) = cpu_secs();
    let t0 = Instant::now();
    let summary = {
        let mut options = BatchOptions::default()
            .concurrency(total.max(1))
            .cancel(token.clone())
            .on_event(|event| {
                let now = t0.elapsed();
                let step: i64 = match event {
                    BatchEvent::Submitted { .. } | BatchEvent::Adopted { .. } => 1,
                    BatchEvent::Written { .. } | BatchEvent::Failed { .. } => -1,
                    _ => 0,
                };
                if step != 0 {
                    task_seconds += running as f64 * (now - last_change).as_secs_f64();
                    last_change = now;
                    running = running.saturating_add_signed(step);
                }
                let kind = match event {
                    BatchEvent::Written { .. }
                    | BatchEvent::Earlier {
                        outcome: vidu::JobOutcome::Written { .. },
                        ..
                    } => Some("written"),
                    BatchEvent::Failed { .. } => Some("failed"),
                    BatchEvent::Uncertain { .. } => Some("uncertain"),
                    BatchEvent::Unfinished { .. } => Some("unfinished"),
                    _ => None,
                };
                if let Some(kind) = kind {
                    *kinds.entry(kind).or_default() += 1;
                }
                if let BatchEvent::Failed { error, .. } | BatchEvent::Uncertain { error, .. } =
                    event
                {
                    first_failure.get_or_insert_with(|| error.to_string());
                }
                match event {
                    BatchEvent::Progress { status, .. } if status.state == State::Succeeded => {
                        first_ready.get_or_insert(now);
                    }
                    BatchEvent::Written { .. } => {
                        written.push(now);
                        if stop_after == Some(written.len()) {
                            let trigger = token.clone();
                            std::thread::spawn(move || {
                                std::thread::sleep(interval * 2);
                                trigger.cancel();
                            });
                        }
                    }
                    _ => {}
                }
                ControlFlow::Continue(())
            });
        if let Some(j) = flags.get("journal") {
            options = options.journal(j);
        }
        if let Some(secs) = flags.get("timeout") {
            // A cancel, not BatchOptions::timeout: a deadline may be looked at only between
            // passes of the loop, and one pass may hold every download of the batch.
            let cap = Duration::from_secs_f64(secs.parse().expect("SECS"));
            let trigger = token.clone();
            std::thread::spawn(move || {
                std::thread::sleep(cap);
                trigger.cancel();
            });
        }
        client
            .run_batch_from(&jobs, &mut options)
            .expect("run_batch_from")
    };
    let run_secs = t0.elapsed().as_secs_f64();
    task_seconds += running as f64 * (t0.elapsed() - last_change).as_secs_f64();
    let (cpu_user1, cpu_sys1) = cpu_secs();
    if let Some(e) = &first_failure {
        eprintln!("first failure: {e}");
    }
    let counted = [
        summary.written,
        summary.failed,
        summary.uncertain,
        summary.unfinished,
    ];
    for (kind, n) in ["written", "failed", "uncertain", "unfinished"]
        .into_iter()
        .zip(counted)
    {
        assert_eq!(
            kinds.get(kind).copied().unwrap_or(0),
            n,
            "{kind}: events and summary"
        );
    }
    println!("jobs={total}");
    for kind in ["written", "failed", "uncertain", "unfinished"] {
        println!("{kind}={}", kinds.get(kind).copied().unwrap_or(0));
    }
    println!("run_secs={run_secs:.3}");
    println!("task_seconds={task_seconds:.3}");
    println!("run_cpu_user={:.3}", cpu_user1 - cpu_user0);
    println!("run_cpu_sys={:.3}", cpu_sys1 - cpu_sys0);
    let (user, sys) = cpu_secs();
    println!("cpu_user={user:.3}");
    println!("cpu_sys={sys:.3}");
    println!("hwm_kb={}", proc_status_kb("VmHWM"));
    println!("process_secs={:.3}", started.elapsed().as_secs_f64());
    if let Some(t) = first_ready {
        println!("first_ready_secs={:.3}", t.as_secs_f64());
    }
    if let Some(t) = written.last() {
        println!("last_written_secs={:.3}", t.as_secs_f64());
    }
}
