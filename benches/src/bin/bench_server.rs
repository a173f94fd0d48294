//! The server side of the scale and download benchmarks: the emulator in a process of its own
//! (so that its CPU and memory are never counted with the client's), serving until its stdin
//! closes, and writing what it saw to `--stats-file` every 100 ms as `key=value` lines.
//!
//! ```text
//! bench_server --stats-file PATH [--state-duration SECS] [--polls-per-state N]
//!              [--video-size BYTES] [--video-rate BYTES_PER_SEC] [--concurrency N]
//!              [--never-finish PROMPT_TEXT]
//! ```
//!
//! Besides the emulator's counters, the file carries `task_seconds`: the tasks unfinished at
//! the server summed over time (tasks × seconds, sampled every 100 ms; `batch_scale` prints the
//! same sum as the client sees its tasks, which the scale figures use); and the server's own
//! `cpu_ms`, `rss_kb` and `hwm_kb`, for the emulator's capacity.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault};
use vidu_benches::{cpu_ms, proc_status_kb};

fn main() {
    let mut flags: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        flags.insert(flag.trim_start_matches("--").to_owned(), value);
    }
    let mut options = EmulatorOptions::new()
        .concurrency_limit(u32::MAX)
        // The bench drives thousands of connections in a row at most one or two at a time.
        .max_connections(64);
    let num = |name: &str| -> Option<f64> {
        flags
            .get(name)
            .map(|v| v.parse().unwrap_or_else(|_| panic!("--{name}: {v:?}")))
    };
    if let Some(n) = num("polls-per-state") {
        options = options.polls_per_state(n as u32);
    }
    if let Some(s) = num("state-duration") {
        options = options.state_duration(Duration::from_secs_f64(s));
    }
    if let Some(b) = num("video-size") {
        options = options.video_size(b as u64);
    }
    if let Some(r) = num("video-rate") {
        options = options.video_rate(r as u64);
    }
    if let Some(n) = num("concurrency") {
        options = options.concurrency_limit(n as u32);
    }
    if let Some(text) = flags.get("never-finish") {
        options = options.fault(
            Fault::tasks()
                .prompt_contains(text)
                .effect(Effect::NeverFinish),
        );
    }
    let path = flags.get("stats-file").expect("--stats-file").clone();
    let emulator = Emulator::start_with(options).expect("emulator");
    println!("VIDU_BASE_URL={}", emulator.base_url());
    std::io::stdout().flush().expect("stdout");
    std::thread::spawn(move || {
        let mut task_seconds = 0.0f64;
        let mut last = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let s = emulator.stats();
            let now = Instant::now();
            task_seconds += f64::from(s.unfinished_tasks) * (now - last).as_secs_f64();
            last = now;
            let text = format!(
                "submits={}\nstatus_polls={}\nlist_calls={}\nvideo_gets={}\napi_connections={}\n\
                 video_connections={}\nunfinished_tasks={}\ntask_seconds={task_seconds:.3}\n\
                 longest_report_gap_secs={:.3}\ncpu_ms={:.1}\nrss_kb={}\nhwm_kb={}\n",
                s.submits,
                s.status_polls,
                s.list_calls,
                s.video_gets,
                s.api_connections,
                s.video_connections,
                s.unfinished_tasks,
                s.longest_report_gap.as_secs_f64(),
                cpu_ms(),
                proc_status_kb("VmRSS"),
                proc_status_kb("VmHWM"),
            );
            let tmp = format!("{path}.tmp");
            std::fs::write(&tmp, text).expect("stats file");
            std::fs::rename(&tmp, &path).expect("stats file");
        }
    });
    // Serves until the script closes our stdin (or kills us).
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}
