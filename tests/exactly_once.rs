//! Regressions of issue 13 against the emulator: each of these paid twice, lost a video, hung or
//! mislabelled a failure on main at 4c50654 (checked by running this file against that code).
//! The deterministic simulation of the state machine is `src/jobs/simulation.rs`.
#![cfg(feature = "emulator")]

mod common;

use common::{named_dir as dir, sample_batch as jobs};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Route, Scenario};
use vidu::{
    BatchEvent, BatchJob, BatchOptions, Client, Config, ErrorKind, Job, JobOutcome, Provider,
};

fn client(provider: Provider, base_url: &str) -> Client {
    let mut config = Config::new(provider, "k").base_url(base_url);
    config.poll.first = Duration::from_millis(20);
    config.poll.max = Duration::from_millis(100);
    config.retry.base = Duration::from_millis(10);
    config.retry.max_delay = Duration::from_millis(50);
    config.timeouts.receive = Duration::from_secs(2);
    Client::new(config).unwrap()
}

/// Defect 1: a 5xx after the submit body was sent may have created the task. It was journaled
/// `not_created` and reported failed; the rerun submitted again.
#[test]
fn a_5xx_after_the_submit_is_uncertain_and_never_submitted_again() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new().fault(Fault::on(Route::Submit).nth(1).error(500)),
    )
    .unwrap();
    let client = client(Provider::Vtrix, &emulator.base_url());
    let out = dir("once-5xx");
    let journal = out.join("journal.jsonl");
    let jobs = jobs(1, &out);
    let outcomes = client
        .run_batch(&jobs, &mut BatchOptions::default().journal(&journal))
        .unwrap();
    assert!(
        matches!(outcomes[0], JobOutcome::Uncertain(_)),
        "{outcomes:?}"
    );
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains(r#""t":"uncertain""#), "{text}");
    assert!(!text.contains(r#""t":"not_created""#), "{text}");
    let again = client
        .run_batch(&jobs, &mut BatchOptions::default().journal(&journal))
        .unwrap();
    assert!(matches!(again[0], JobOutcome::Uncertain(_)), "{again:?}");
    assert_eq!(emulator.stats().submit_requests, 1, "never sent twice");
}

/// Defect 2: a job with its own payload carries no tag; the intent said it did, the rerun
/// searched for a tag never sent, found nothing and submitted again.
#[test]
fn a_job_with_its_own_payload_is_not_searched_for_by_a_tag_it_never_sent() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new().fault(Fault::on(Route::Submit).nth(1).effect(Effect::Reset)),
    )
    .unwrap();
    let client = client(Provider::Vidu, &emulator.base_url());
    let out = dir("once-payload");
    let journal = out.join("journal.jsonl");
    let jobs = vec![BatchJob::new(
        Job::new(common::repo_file("examples/sample.png")).payload("the caller's own"),
        out.join("0.mp4"),
    )];
    for _ in 0..2 {
        let outcomes = client
            .run_batch(
                &jobs,
                &mut BatchOptions::default()
                    .journal(&journal)
                    .search_window(Duration::from_millis(100)),
            )
            .unwrap();
        let JobOutcome::Uncertain(e) = &outcomes[0] else {
            panic!("{outcomes:?}")
        };
        assert!(e.to_string().contains("no tag"), "{e}");
    }
    assert_eq!(emulator.stats().submits, 1, "one task, never a second");
}

/// Defect 6: task-list calls ignored the deadline and the cancel token (with the list
/// answering 429, `--timeout 5` returned after 122 s).
#[test]
fn a_throttled_task_list_does_not_hold_the_batch_past_its_deadline() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new()
            .scenario(Scenario::NeverFinishes)
            .fault(Fault::on(Route::List).error(429).retry_after(60)),
    )
    .unwrap();
    let client = client(Provider::Vidu, &emulator.base_url());
    let out = dir("once-list-429");
    let start = Instant::now();
    let outcomes = client
        .run_batch(
            &jobs(3, &out),
            &mut BatchOptions::default().timeout(Duration::from_secs(2)),
        )
        .unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2 + 4), "took {took:?}");
    for o in &outcomes {
        assert!(
            matches!(o, JobOutcome::Unfinished { task_id: Some(_) }),
            "{o:?}"
        );
    }
}

/// Defect 10: the batch polled for ever on answers it could not read.
#[test]
fn unreadable_status_answers_end_a_batch_job_as_failed_with_its_task_id() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new().fault(Fault::on(Route::Status).effect(Effect::Malformed)),
    )
    .unwrap();
    let client = client(Provider::Vtrix, &emulator.base_url());
    let out = dir("once-malformed");
    let start = Instant::now();
    let outcomes = client
        .run_batch(
            &jobs(2, &out),
            // A safety net so that the old code fails instead of hanging.
            &mut BatchOptions::default().timeout(Duration::from_secs(20)),
        )
        .unwrap();
    for o in &outcomes {
        let JobOutcome::Failed(e) = o else {
            panic!("{o:?}")
        };
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
        assert!(e.task_id().is_some(), "{e}");
    }
    assert!(start.elapsed() < Duration::from_secs(15));
}

/// Defect 12: a STOP from the callback still delivered events and downloaded videos.
#[test]
fn a_stop_from_the_callback_delivers_nothing_more_and_downloads_nothing() {
    // One download at a time, each taking about a second: the one under way at the stop is
    // cancelled, and none starts after it.
    let video_len = Emulator::video_bytes().len() as u64;
    let emulator = Emulator::start_with(EmulatorOptions::new().video_rate(video_len)).unwrap();
    let client = client(Provider::UModelVerse, &emulator.base_url());
    let out = dir("once-stop");
    let jobs = jobs(4, &out);
    let mut after_stop = 0;
    let mut stopped = false;
    let mut options = BatchOptions::default()
        .concurrency(4)
        .downloads(1)
        .on_event(|e| {
            if stopped {
                after_stop += 1;
            }
            if matches!(e, BatchEvent::Written { .. }) {
                stopped = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
    let outcomes = client.run_batch(&jobs, &mut options).unwrap();
    drop(options);
    assert_eq!(after_stop, 0, "no event after the stop");
    let written = jobs.iter().filter(|j| j.output.exists()).count();
    assert_eq!(
        written, 1,
        "nothing downloaded after the stop: {outcomes:?}"
    );
    let gets = emulator.stats().video_gets;
    assert!((1..=2).contains(&gets), "{gets} downloads started");
}

/// Defect 7: the journal refused the same command spelled differently (`out/.`), advising to
/// remove it, which pays for every job again.
#[test]
fn the_same_jobs_spelled_differently_keep_their_tasks() {
    let emulator =
        Emulator::start_with(EmulatorOptions::new().scenario(Scenario::NeverFinishes)).unwrap();
    let client = client(Provider::Vtrix, &emulator.base_url());
    let out = dir("once-spelling");
    let journal = out.join("journal.jsonl");
    let first = client
        .run_batch(
            &jobs(2, &out),
            &mut BatchOptions::default()
                .journal(&journal)
                .timeout(Duration::from_millis(300)),
        )
        .unwrap();
    let spelled = jobs(2, &out.join("."));
    let second = client
        .run_batch(
            &spelled,
            &mut BatchOptions::default()
                .journal(&journal)
                .timeout(Duration::from_millis(300)),
        )
        .unwrap();
    for (a, b) in first.iter().zip(&second) {
        assert!(a.task_id().is_some());
        assert_eq!(a.task_id(), b.task_id(), "the same task, not a new one");
    }
    assert_eq!(emulator.stats().submits, 2);
}

/// Defect 9: nothing was sent, yet DNS and TLS failures were reported as "a task may have
/// been created and billed", and a gateway batch ended with every job uncertain.
#[test]
fn dns_and_tls_failures_are_not_sent_and_say_so() {
    let emulator = Emulator::start().unwrap();
    // TLS to a plain-HTTP port: the handshake fails before a byte of the request is written.
    let tls = emulator.base_url().replace("http://", "https://");
    for base in [tls.as_str(), "https://no-such-host.invalid"] {
        let client = client(Provider::Vtrix, base);
        let out = dir("once-not-sent");
        let outcomes = client
            .run_batch(&jobs(1, &out), &mut BatchOptions::default())
            .unwrap();
        let JobOutcome::Failed(e) = &outcomes[0] else {
            panic!("{base}: {outcomes:?}")
        };
        let text = e.to_string();
        assert!(text.contains("nothing was sent"), "{base}: {text}");
        assert!(!text.contains("may have been created"), "{base}: {text}");
        if base == tls {
            assert!(text.contains("--ca-file"), "{text}");
        }
    }
    assert_eq!(emulator.stats().submits, 0);
}

/// The mutant "BatchOptions::timeout ignored" survived the whole suite.
#[test]
fn the_batch_deadline_ends_the_run_with_task_ids() {
    let emulator =
        Emulator::start_with(EmulatorOptions::new().scenario(Scenario::NeverFinishes)).unwrap();
    let client = client(Provider::Vtrix, &emulator.base_url());
    let out = dir("once-deadline");
    let start = Instant::now();
    let outcomes = client
        .run_batch(
            &jobs(2, &out),
            &mut BatchOptions::default().timeout(Duration::from_millis(500)),
        )
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, JobOutcome::Unfinished { task_id: Some(_) })));
}

/// A fake official API written for this file alone: it loses every submit's answer after
/// creating the task, pages its task list by `pager.page` only (no `next_page_token`), puts
/// 100 tasks of others in front, and shows a new task in the list only `lag` after it was
/// created. Status polls answer success; the video is a few bytes.
mod number_paged {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    pub const VIDEO: &[u8] = b"not really an mp4";

    #[derive(Default)]
    pub struct State {
        pub submits: u32,
        pub list_pages: Vec<u32>,
        tasks: Vec<(String, Option<String>, Instant)>,
    }

    pub fn start(lag: Duration) -> (String, Arc<Mutex<State>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let url = base.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, url) = (shared.clone(), url.clone());
                std::thread::spawn(move || serve(stream, &state, &url, lag));
            }
        });
        (base, state)
    }

    fn serve(stream: TcpStream, state: &Mutex<State>, base: &str, lag: Duration) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let target = line.split(' ').nth(1).unwrap_or("").to_owned();
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                if h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let (status, reply): (u16, Vec<u8>) = if target.starts_with("/ent/v2/img2video") {
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let mut s = state.lock().unwrap();
                s.submits += 1;
                let id = format!("task-{}", s.submits);
                let payload = json["payload"].as_str().map(str::to_owned);
                s.tasks.push((id, payload, Instant::now()));
                return; // the task exists; its answer is lost
            } else if target.starts_with("/ent/v2/tasks?") {
                let page: u32 = target
                    .split(['?', '&'])
                    .find_map(|p| p.strip_prefix("pager.page="))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let mut s = state.lock().unwrap();
                s.list_pages.push(page);
                let mut all: Vec<serde_json::Value> = (0..100)
                    .map(|i| serde_json::json!({"id": format!("other-{i}"), "state": "success", "payload": ""}))
                    .collect();
                for (id, payload, at) in &s.tasks {
                    if at.elapsed() >= lag {
                        all.push(serde_json::json!({"id": id, "state": "processing", "payload": payload}));
                    }
                }
                let from = page as usize * 100;
                let slice: Vec<_> = all.iter().skip(from).take(100).cloned().collect();
                (
                    200,
                    serde_json::json!({ "tasks": slice })
                        .to_string()
                        .into_bytes(),
                )
            } else if let Some(rest) = target.strip_prefix("/ent/v2/tasks/") {
                let id = rest.split('/').next().unwrap_or("");
                let video = format!("{base}/video/{id}");
                let body = serde_json::json!({"id": id, "state": "success",
                    "creations": [{"id": "c", "url": video}]});
                (200, body.to_string().into_bytes())
            } else if target.starts_with("/video/") {
                (200, VIDEO.to_vec())
            } else {
                (404, b"{}".to_vec())
            };
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                reply.len()
            );
            if out
                .write_all(head.as_bytes())
                .and_then(|_| out.write_all(&reply))
                .is_err()
            {
                return;
            }
        }
    }
}

/// Defects 3 and 4: the search followed only `next_page_token`, and gave up after two looks
/// 3 s apart; a list paged by number, or slower than that, got the job submitted twice.
#[test]
fn a_lost_submit_is_found_on_a_list_paged_by_number_that_lags() {
    let (base, state) = number_paged::start(Duration::from_secs(5));
    let client = client(Provider::Vidu, &base);
    let out = dir("once-paged");
    let output = out.join("found.mp4");
    let done = client
        .generate(
            &Job::new(common::repo_file("examples/sample.png")),
            &output,
            &mut vidu::WaitOptions::new().search_window(Duration::from_secs(30)),
        )
        .unwrap();
    let s = state.lock().unwrap();
    assert_eq!(s.submits, 1, "found, not submitted again");
    assert_eq!(done.task_id, "task-1");
    assert!(
        s.list_pages.contains(&1),
        "paged by number: {:?}",
        s.list_pages
    );
    assert_eq!(std::fs::read(&output).unwrap(), number_paged::VIDEO);
}

/// A cancel that arrives while a submit is in flight: the task id it returns is still
/// journaled (the run stops before the next action, not before writing what it learnt), so
/// the rerun resumes the task instead of calling it uncertain.
#[test]
fn a_cancel_during_a_submit_keeps_its_task_id_in_the_journal() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new().fault(
            Fault::on(Route::Submit)
                .nth(1)
                .effect(Effect::Stall(Duration::from_millis(600))),
        ),
    )
    .unwrap();
    let client = client(Provider::Vtrix, &emulator.base_url());
    let out = dir("once-cancel-submit");
    let journal = out.join("journal.jsonl");
    let jobs = jobs(1, &out);
    let token = vidu::CancelToken::new();
    let trigger = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        trigger.cancel();
    });
    let first = client
        .run_batch(
            &jobs,
            &mut BatchOptions::default().journal(&journal).cancel(token),
        )
        .unwrap();
    let JobOutcome::Unfinished { task_id: Some(id) } = &first[0] else {
        panic!("{first:?}")
    };
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains(&format!(r#""task_id":"{id}""#)), "{text}");
    let again = client
        .run_batch(&jobs, &mut BatchOptions::default().journal(&journal))
        .unwrap();
    assert!(matches!(again[0], JobOutcome::Written { .. }), "{again:?}");
    assert_eq!(emulator.stats().submits, 1);
}
