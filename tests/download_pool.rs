//! Downloads beside the batch loop (issue 14), against a small server of the UModelVerse API
//! and its CDN that counts what happens at once: how many videos are being sent, and which
//! polls come while they are. It holds each video half-sent until what is being checked has
//! happened (or a safety timeout passed), so nothing here depends on timing.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use vidu::{BatchEvent, BatchJob, BatchOptions, CancelToken, Client, Config, Job, JobOutcome};
use vidu::{ErrorKind, Provider};

const VIDEO_LEN: usize = 64 * 1024;
/// How long the server holds a video for a condition that never comes (the test then fails).
const SAFETY: Duration = Duration::from_secs(5);

fn video() -> Vec<u8> {
    (0..VIDEO_LEN).map(|i| (i * 7 % 251) as u8).collect()
}

#[derive(Default)]
struct Seen {
    submits: u32,
    /// Videos being sent now, and the most at once.
    sending: u32,
    peak: u32,
    /// Status polls of unfinished tasks that came while a video was being sent.
    polls_while_sending: u32,
    /// Range headers of video requests, in order (`None`: a whole video).
    ranges: Vec<Option<String>>,
}

/// What the server does with a video once half of it is sent.
#[derive(Clone, Copy, PartialEq)]
enum Hold {
    /// Waits until `n` videos are being sent and a poll came meanwhile, then sends the rest.
    UntilOverlap(u32),
    /// Cancels the token once `n` videos are being sent (or the safety timeout passed), then
    /// trickles a byte at a time until the client goes away.
    CancelAt(u32),
    /// Sends it all.
    None,
}

struct Server {
    addr: String,
    state: Arc<(Mutex<Seen>, Condvar)>,
}

fn start(hold: Hold, cancel: CancelToken) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
    let (shared, base) = (state.clone(), addr.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let (state, base, cancel) = (shared.clone(), base.clone(), cancel.clone());
            std::thread::spawn(move || serve(stream, &state, &base, hold, &cancel));
        }
    });
    Server { addr, state }
}

impl Server {
    fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.state.0.lock().unwrap())
    }
}

fn serve(
    stream: TcpStream,
    state: &(Mutex<Seen>, Condvar),
    base: &str,
    hold: Hold,
    cancel: &CancelToken,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let (lock, cond) = state;
    let mut out = stream;
    if target == "/v1/tasks/submit" {
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let sentinel = json["input"]["prompt"] == "sentinel";
        let mut seen = lock.lock().unwrap();
        seen.submits += 1;
        let id = format!("{}{}", if sentinel { "s" } else { "t" }, seen.submits);
        drop(seen);
        let answer = serde_json::json!({"output": {"task_id": id}, "request_id": "r"});
        return json_answer(&mut out, &answer);
    }
    if let Some(id) = target.strip_prefix("/v1/tasks/status?task_id=") {
        let output = if id.starts_with('s') {
            let mut seen = lock.lock().unwrap();
            if seen.sending > 0 {
                seen.polls_while_sending += 1;
                cond.notify_all();
            }
            serde_json::json!({"task_id": id, "task_status": "Running"})
        } else {
            let url = format!("{base}/v/{id}.mp4");
            serde_json::json!({"task_id": id, "task_status": "Success", "urls": [url]})
        };
        return json_answer(
            &mut out,
            &serde_json::json!({"output": output, "request_id": "r"}),
        );
    }
    assert!(target.starts_with("/v/"), "unexpected request {target}");
    let video = video();
    let range = headers.get("range").cloned();
    let from: usize = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
        .unwrap_or(0);
    let head = if from > 0 {
        format!(
            "HTTP/1.1 206 Partial Content\r\ncontent-length: {}\r\ncontent-range: bytes {from}-{}/{VIDEO_LEN}\r\nconnection: close\r\n\r\n",
            VIDEO_LEN - from,
            VIDEO_LEN - 1
        )
    } else {
        format!("HTTP/1.1 200 OK\r\ncontent-length: {VIDEO_LEN}\r\nconnection: close\r\n\r\n")
    };
    let half = from.max(VIDEO_LEN / 2);
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&video[from..half]);
    let _ = out.flush();
    let mut seen = lock.lock().unwrap();
    seen.ranges.push(range);
    seen.sending += 1;
    seen.peak = seen.peak.max(seen.sending);
    cond.notify_all();
    let mut rest = half;
    match hold {
        Hold::UntilOverlap(n) => {
            seen = cond
                .wait_timeout_while(seen, SAFETY, |s| s.peak < n || s.polls_while_sending < 2)
                .unwrap()
                .0;
        }
        Hold::CancelAt(n) => {
            seen = cond
                .wait_timeout_while(seen, SAFETY, |s| s.sending < n)
                .unwrap()
                .0;
            cancel.cancel();
            drop(seen);
            // A byte at a time, so the client's reads return and it sees its cancel.
            while rest < VIDEO_LEN - 1 {
                if out.write_all(&video[rest..rest + 1]).is_err() {
                    break;
                }
                rest += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            seen = lock.lock().unwrap();
            seen.sending -= 1;
            return;
        }
        Hold::None => {}
    }
    drop(seen);
    let _ = out.write_all(&video[rest..]);
    let _ = out.flush();
    lock.lock().unwrap().sending -= 1;
}

fn json_answer(out: &mut TcpStream, value: &serde_json::Value) {
    let body = value.to_string();
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn client(server: &Server) -> Client {
    let mut config = Config::new(Provider::UModelVerse, "k").base_url(&server.addr);
    config.poll.first = Duration::from_millis(20);
    config.poll.max = Duration::from_millis(50);
    config.timeouts.receive = Duration::from_secs(10);
    Client::new(config).unwrap()
}

fn jobs(videos: usize, sentinels: usize, out: &Path) -> Vec<BatchJob<'static>> {
    let image = common::repo_file("examples/sample.png");
    (0..videos + sentinels)
        .map(|i| {
            let prompt = if i < videos {
                format!("video {i}")
            } else {
                "sentinel".to_owned()
            };
            BatchJob::new(
                Job::new(image.clone()).prompt(prompt),
                out.join(format!("{i}.mp4")),
            )
        })
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found
}

/// Four videos are sent at once, and the task still running is polled meanwhile.
#[test]
fn downloads_overlap_while_polls_go_on() {
    let server = start(Hold::UntilOverlap(4), CancelToken::new());
    let out = common::scratch_dir();
    let jobs = jobs(4, 1, &out);
    let mut written = 0;
    let mut options = BatchOptions::default().on_event(|e| {
        if matches!(e, BatchEvent::Written { .. }) {
            written += 1;
            if written == 4 {
                return ControlFlow::Break(()); // the sentinel never finishes
            }
        }
        ControlFlow::Continue(())
    });
    let outcomes = client(&server).run_batch(&jobs, &mut options).unwrap();
    drop(options);
    for (o, j) in outcomes.iter().zip(&jobs).take(4) {
        assert!(matches!(o, JobOutcome::Written { .. }), "{o:?}");
        assert_eq!(std::fs::read(&j.output).unwrap(), video());
    }
    assert!(matches!(
        &outcomes[4],
        JobOutcome::Unfinished { task_id: Some(_) }
    ));
    let (peak, polls) = server.seen(|s| (s.peak, s.polls_while_sending));
    assert_eq!(peak, 4, "videos sent at once");
    assert!(polls >= 2, "{polls} polls while videos were sent");
    std::fs::remove_dir_all(&out).unwrap();
}

/// The pool is bounded: two downloads at once when asked for two.
#[test]
fn no_more_downloads_at_once_than_asked_for() {
    let server = start(Hold::UntilOverlap(3), CancelToken::new());
    let out = common::scratch_dir();
    let jobs = jobs(4, 1, &out);
    let mut written = 0;
    let mut options = BatchOptions::default().downloads(2).on_event(|e| {
        if matches!(e, BatchEvent::Written { .. }) {
            written += 1;
            if written == 4 {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    let outcomes = client(&server).run_batch(&jobs, &mut options).unwrap();
    drop(options);
    assert!(outcomes[..4]
        .iter()
        .all(|o| matches!(o, JobOutcome::Written { .. })));
    // The server waited for a third that never came (until its safety timeout).
    assert_eq!(server.seen(|s| s.peak), 2);
    std::fs::remove_dir_all(&out).unwrap();
}

/// A cancel while four videos download returns with their partial files kept; the rerun with
/// the journal resumes each from where it stopped, without a second submit.
#[test]
fn a_cancel_during_downloads_keeps_the_partials_and_the_rerun_pays_nothing_more() {
    let cancel = CancelToken::new();
    let server = start(Hold::CancelAt(4), cancel.clone());
    let out = common::scratch_dir();
    let journal = out.join("run.journal");
    let jobs = jobs(4, 0, &out);
    let mut options = BatchOptions::default().journal(&journal).cancel(cancel);
    let outcomes = client(&server).run_batch(&jobs, &mut options).unwrap();
    for o in &outcomes {
        assert!(
            matches!(o, JobOutcome::Unfinished { task_id: Some(_) }),
            "{o:?}"
        );
    }
    let partials: Vec<String> = names(&out)
        .into_iter()
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert_eq!(partials.len(), 4, "{:?}", names(&out));
    assert!(jobs.iter().all(|j| !j.output.exists()));
    // What each download had written when the cancel came: a loaded machine may not have
    // scheduled every download thread's first write by then (an empty partial restarts).
    let mut kept: Vec<String> = partials
        .iter()
        .map(|p| std::fs::metadata(out.join(p)).unwrap().len())
        .filter(|&len| len > 0)
        .map(|len| format!("bytes={len}-"))
        .collect();
    kept.sort();
    assert!(!kept.is_empty(), "no download had written anything");

    let again = start(Hold::None, CancelToken::new());
    // The journal's tasks are polled on the new server (same task ids: t1..t4).
    let mut options = BatchOptions::default().journal(&journal);
    let outcomes = client(&again).run_batch(&jobs, &mut options).unwrap();
    for (o, j) in outcomes.iter().zip(&jobs) {
        assert!(matches!(o, JobOutcome::Written { .. }), "{o:?}");
        assert_eq!(std::fs::read(&j.output).unwrap(), video());
    }
    assert_eq!(again.seen(|s| s.submits), 0, "nothing submitted again");
    let ranges = again.seen(|s| s.ranges.clone());
    assert_eq!(ranges.len(), 4);
    let mut resumed: Vec<String> = ranges.iter().flatten().cloned().collect();
    resumed.sort();
    assert_eq!(
        resumed, kept,
        "every partial with data resumed from its end: {ranges:?}"
    );
    let mut left = names(&out);
    left.retain(|n| n != "run.journal");
    assert_eq!(left, ["0.mp4", "1.mp4", "2.mp4", "3.mp4"]);
    std::fs::remove_dir_all(&out).unwrap();
}

/// Zero downloads at once, or more threads than a batch should start, is refused before
/// anything is sent, naming the field, the value and the range.
#[test]
fn downloads_out_of_range_are_refused_naming_the_field() {
    let server = start(Hold::None, CancelToken::new());
    let out = common::scratch_dir();
    let jobs = jobs(1, 0, &out);
    for n in [0, 65, usize::MAX] {
        let err = client(&server)
            .run_batch(&jobs, &mut BatchOptions::default().downloads(n))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let text = err.to_string();
        assert!(
            text.contains("downloads") && text.contains(&n.to_string()) && text.contains("1 to 64"),
            "{err}"
        );
    }
    assert_eq!(server.seen(|s| s.submits), 0);
    std::fs::remove_dir_all(&out).unwrap();
}
