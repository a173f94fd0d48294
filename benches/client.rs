//! The client-side programs of `benches/run.sh` (one binary, one subcommand per measurement).
//! Each prints `key=value` lines; the emulator runs in another process (`serve`) so that its
//! threads, buffers and CPU are not counted with the client's.
//!
//! ```text
//! client serve [--polls-per-state N] [--state-duration SECS] [--video-size BYTES]
//!              [--concurrency N] --stats-file PATH      # prints VIDU_BASE_URL=...
//! client polls --base-url URL --count N [--fresh]       # status polls per second
//! client wait50 --base-url URL                          # threads during a 50-poll wait
//! client wait-cpu --base-url URL --secs S               # CPU time of a wait, default schedule
//! client download --base-url URL --out PATH             # Client::download of the task's video
//! client video-url --base-url URL                       # the video URL, for curl
//! client naive-submit --base-url URL --image PATH       # the whole body built in memory
//! ```
//!
//! The API calls that may change shape live in the `api` module below, and only there.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use vidu::emulator::{Emulator, EmulatorOptions};
use vidu::{Client, Config, Job, Provider};

/// Every call of the client API whose shape is still moving (poll fields, wait options).
mod api {
    use super::*;

    /// A UModelVerse client on the emulator; `poll`: the fixed delay between polls, or the
    /// default schedule.
    pub fn client(base_url: &str, poll: Option<Duration>) -> Client {
        let mut config = Config::new(Provider::UModelVerse, "bench").base_url(base_url);
        config.proxy_from_env = false;
        if let Some(d) = poll {
            config.poll.first = d;
            config.poll.max = d;
            config.poll.jitter = 0.0;
        }
        Client::new(config).expect("client")
    }

    /// Waits for `task_id`; `on_poll` is called after each poll and returns false to stop.
    /// Returns the final status, or None when stopped, timed out or failed.
    pub fn wait(
        client: &Client,
        task_id: &str,
        timeout: Option<Duration>,
        mut on_poll: impl FnMut(u32) -> bool,
    ) -> Option<vidu::TaskStatus> {
        let mut options =
            vidu::WaitOptions::new()
                .timeout(timeout)
                .on_progress(move |p: &vidu::Progress<'_>| {
                    if on_poll(p.polls) {
                        std::ops::ControlFlow::Continue(())
                    } else {
                        std::ops::ControlFlow::Break(())
                    }
                });
        client.wait(task_id, &mut options).ok()
    }
}

const URL_IMAGE: &str = "https://example.com/cat.png";

fn main() {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let mut flags: HashMap<String, String> = HashMap::new();
    while let Some(flag) = args.next() {
        let value = if flag == "--fresh" {
            String::new()
        } else {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        flags.insert(flag.trim_start_matches("--").to_owned(), value);
    }
    let get = |name: &str| -> &str {
        flags
            .get(name)
            .unwrap_or_else(|| panic!("--{name} is required"))
    };
    let num = |name: &str| -> f64 { get(name).parse().expect(name) };
    match command.as_str() {
        "serve" => serve(&flags),
        "polls" => polls(
            get("base-url"),
            num("count") as u32,
            flags.contains_key("fresh"),
        ),
        "wait50" => wait50(get("base-url")),
        "wait-cpu" => wait_cpu(get("base-url"), Duration::from_secs_f64(num("secs"))),
        "download" => download(get("base-url"), get("out")),
        "video-url" => println!("video_url={}", finished(get("base-url")).video_urls[0]),
        "naive-submit" => naive_submit(get("base-url"), get("image")),
        _ => panic!("unknown command {command:?}: see benches/client.rs"),
    }
}

/// Runs the emulator until stdin closes, writing its stats to `--stats-file` every 50 ms.
fn serve(flags: &HashMap<String, String>) {
    let mut options = EmulatorOptions::new().concurrency_limit(u32::MAX);
    if let Some(n) = flags.get("polls-per-state") {
        options = options.polls_per_state(n.parse().expect("polls-per-state"));
    }
    if let Some(s) = flags.get("state-duration") {
        options = options.state_duration(Duration::from_secs_f64(s.parse().expect("secs")));
    }
    if let Some(b) = flags.get("video-size") {
        options = options.video_size(b.parse().expect("video-size"));
    }
    if let Some(n) = flags.get("concurrency") {
        options = options.concurrency_limit(n.parse().expect("concurrency"));
    }
    let path = flags.get("stats-file").expect("--stats-file").clone();
    let emulator = Emulator::start_with(options).expect("emulator");
    println!("VIDU_BASE_URL={}", emulator.base_url());
    std::io::stdout().flush().unwrap();
    let stats = move || loop {
        let s = emulator.stats();
        let text = format!(
            "submits={}\nstatus_polls={}\nlist_calls={}\nvideo_gets={}\napi_connections={}\nvideo_connections={}\n",
            s.submits, s.status_polls, s.list_calls, s.video_gets, s.api_connections, s.video_connections
        );
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::spawn(stats);
    // Serves until the script closes our stdin (or kills us).
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

fn submit(client: &Client) -> String {
    client.submit(&Job::new(URL_IMAGE)).expect("submit")
}

/// Status polls in a tight loop on one kept-alive connection, or with a new client each time.
fn polls(base_url: &str, count: u32, fresh: bool) {
    let client = api::client(base_url, None);
    let task_id = submit(&client);
    client.status(&task_id).expect("status");
    let start = Instant::now();
    for _ in 0..count {
        if fresh {
            api::client(base_url, None)
                .status(&task_id)
                .expect("status");
        } else {
            client.status(&task_id).expect("status");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "polls={count}\nsecs={secs:.6}\npolls_per_sec={:.1}",
        count as f64 / secs
    );
}

/// A 50-poll wait (1 ms apart) on a task that does not finish: threads before and during.
fn wait50(base_url: &str) {
    let client = api::client(base_url, Some(Duration::from_millis(1)));
    let task_id = submit(&client);
    let before = threads();
    let mut during = 0;
    let mut polls = 0;
    api::wait(&client, &task_id, None, |n| {
        during = during.max(threads());
        polls = n;
        n < 50
    });
    println!("polls={polls}\nthreads_before={before}\nthreads_during_max={during}");
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// CPU time of the process while it waits `secs` on a task that never finishes.
fn wait_cpu(base_url: &str, secs: Duration) {
    let client = api::client(base_url, None);
    let task_id = submit(&client);
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let mut polls = 0;
    api::wait(&client, &task_id, Some(secs), |n| {
        polls = n;
        true
    });
    let cpu = cpu_seconds() - cpu;
    println!(
        "wait_secs={:.3}\npolls={polls}\ncpu_ms={:.3}\nprocess_cpu_ms={:.3}",
        wall.elapsed().as_secs_f64(),
        cpu * 1e3,
        cpu_seconds() * 1e3
    );
}

/// Submits a task and waits until it succeeded (the emulator of the download row finishes
/// tasks at the first poll).
fn finished(base_url: &str) -> vidu::TaskStatus {
    let client = api::client(base_url, Some(Duration::from_millis(5)));
    let task_id = submit(&client);
    api::wait(&client, &task_id, Some(Duration::from_secs(60)), |_| true).expect("task done")
}

fn download(base_url: &str, out: &str) {
    let status = finished(base_url);
    let client = api::client(base_url, None);
    let start = Instant::now();
    let bytes = client
        .download(&status, out, &vidu::WaitOptions::new())
        .expect("download");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "bytes={bytes}\nsecs={secs:.6}\nmb_per_sec={:.1}",
        bytes as f64 / secs / 1e6
    );
}

/// The usual way: the file, its base64 and the JSON body all in memory, then one POST.
fn naive_submit(base_url: &str, image: &str) {
    use base64::Engine;
    let bytes = std::fs::read(image).expect("image");
    let uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "viduq2-pro",
        "input": {"first_frame_url": uri},
        "parameters": {"vidu_type": "img2video"},
    }))
    .unwrap();
    let reply = ureq::post(format!("{base_url}/v1/tasks/submit"))
        .header("Authorization", "bench")
        .header("Content-Type", "application/json")
        .send(&body[..])
        .expect("submit");
    assert_eq!(reply.status(), 200);
}
