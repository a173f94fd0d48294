//! The client end to end against the built-in emulator: every provider, every scenario,
//! asserting what a user would see.
#![cfg(feature = "emulator")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use vidu::emulator::{Emulator, EmulatorOptions, Scenario};
use vidu::{CancelToken, Client, Config, Error, Job, Provider, State, WaitOptions};

const SAMPLE_PNG: &[u8] = include_bytes!("../examples/sample.png");

fn scratch_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vidu-client-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn emulator(scenario: Scenario) -> Emulator {
    Emulator::start_with(EmulatorOptions {
        scenario,
        ..Default::default()
    })
    .unwrap()
}

fn fast_config(provider: Provider, emu: &Emulator, key: &str) -> Config {
    let mut c = Config::new(provider, key).base_url(emu.base_url());
    c.poll.first = Duration::from_millis(10);
    c.poll.max = Duration::from_millis(20);
    c.retry.base = Duration::from_millis(10);
    c.retry.max_delay = Duration::from_millis(50);
    c.proxy_from_env = false;
    c
}

fn client(provider: Provider, emu: &Emulator) -> Client {
    Client::new(fast_config(provider, emu, "test-key")).unwrap()
}

fn job() -> Job<'static> {
    Job::new(SAMPLE_PNG).prompt("the cat turns its head")
}

fn wait_opts() -> WaitOptions<'static> {
    WaitOptions {
        timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    }
}

/// Generates a video on `provider` through `emu` and checks that the output, alone in its
/// directory, holds exactly the emulator's MP4.
fn generates_the_video(provider: Provider, emu: &Emulator) {
    let dir = scratch_dir();
    client(provider, emu)
        .generate(&job(), dir.join("v.mp4"), &mut wait_opts())
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("v.mp4")).unwrap(),
        Emulator::video_bytes()
    );
    assert_dir_holds(&dir, &["v.mp4"]);
}

/// The directory holds exactly the given file names (no temporary leftovers).
fn assert_dir_holds(dir: &Path, names: &[&str]) {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, names, "files in {}", dir.display());
}

#[test]
fn every_provider_generates_the_video_end_to_end() {
    for provider in Provider::ALL {
        let emu = emulator(Scenario::Normal);
        let dir = scratch_dir();
        let out = dir.join("out.mp4");
        let states = std::cell::RefCell::new(Vec::new());
        let mut opts = WaitOptions {
            on_progress: Some(Box::new(|p: &vidu::Progress<'_>| {
                states.borrow_mut().push(p.status.state);
                true
            })),
            ..wait_opts()
        };
        let done = client(provider, &emu)
            .generate(&job(), &out, &mut opts)
            .unwrap();
        drop(opts);
        assert_eq!(
            std::fs::read(&out).unwrap(),
            Emulator::video_bytes(),
            "{provider}"
        );
        assert_eq!(done.bytes, Emulator::video_bytes().len() as u64);
        assert_eq!(done.status.state, State::Succeeded);
        assert!(!done.task_id.is_empty());
        assert_dir_holds(&dir, &["out.mp4"]);

        let stats = emu.stats();
        assert_eq!(stats.submits, 1, "{provider}");
        let submit = stats.last_submit.unwrap();
        let scheme = match provider {
            Provider::UModelVerse => "test-key",
            Provider::Vtrix => "Bearer test-key",
            Provider::Vidu => "Token test-key",
        };
        assert_eq!(submit.authorization, scheme);
        assert_eq!(
            submit.image,
            format!("data:image/png;{}", SAMPLE_PNG.len()),
            "{provider}"
        );
        // The provider's intermediate states were walked and reported.
        let states = states.into_inner();
        assert!(states.len() >= 2, "{provider}: {states:?}");
        assert_eq!(states.last(), Some(&State::Succeeded));
        // The API key never reaches the video host.
        assert!(!stats.video_requests.is_empty());
        for r in &stats.video_requests {
            assert!(
                r.headers
                    .iter()
                    .all(|(k, v)| k != "authorization" && !v.contains("test-key")),
                "{r:?}"
            );
        }
    }
}

#[test]
fn url_images_are_passed_through_and_parameters_reach_the_wire() {
    let emu = emulator(Scenario::Normal);
    let c = client(Provider::Vidu, &emu);
    let mut job = Job::new("https://example.com/cat.jpg")
        .prompt("make it dance.")
        .duration(8)
        .resolution("720p");
    job.model = Some("vidu2.0".into());
    job.seed = Some(42);
    job.bgm = Some(true);
    job.movement_amplitude = Some(vidu::MovementAmplitude::Large);
    job.payload = Some("ticket-7".into());
    let id = c.submit(&job).unwrap();
    assert!(!id.is_empty());
    let submit = emu.stats().last_submit.unwrap();
    assert_eq!(submit.image, "url:https://example.com/cat.jpg");
    let j = &submit.json;
    assert_eq!(j["model"], "vidu2.0");
    assert_eq!(j["duration"], 8);
    assert_eq!(j["resolution"], "720p");
    assert_eq!(j["seed"], 42);
    assert_eq!(j["bgm"], true);
    assert_eq!(j["movement_amplitude"], "large");
    assert_eq!(j["payload"], "ticket-7");
    assert_eq!(j["prompt"], "make it dance.");
}

#[test]
fn vtrix_accepts_either_model_name() {
    let emu = emulator(Scenario::Normal);
    let c = client(Provider::Vtrix, &emu);
    for typed in ["viduq1-classic", "vidu-cn-img2video-viduq1-classic"] {
        c.submit(&job().model(typed)).unwrap();
        let j = emu.stats().last_submit.unwrap().json;
        assert_eq!(j["model"], "vidu-cn-img2video-viduq1-classic");
        assert_eq!(j["input"][0]["params"]["model"], "viduq1-classic");
    }
}

#[test]
fn a_failed_task_reports_the_provider_error_and_writes_nothing() {
    for provider in Provider::ALL {
        let emu = emulator(Scenario::TaskFails);
        let dir = scratch_dir();
        let err = client(provider, &emu)
            .generate(&job(), dir.join("out.mp4"), &mut wait_opts())
            .unwrap_err();
        let Error::TaskFailed { status } = &err else {
            panic!("{provider}: {err:?}")
        };
        assert_eq!(status.state, State::Failed);
        assert!(err.task_id().is_some());
        assert!(
            status.error_message.is_some() || status.error_code.is_some(),
            "{status:?}"
        );
        assert!(err.to_string().contains(err.task_id().unwrap()));
        assert_dir_holds(&dir, &[]);
    }
}

#[test]
fn throttled_and_unavailable_status_polls_are_retried() {
    for scenario in [
        Scenario::Throttled {
            times: 1,
            retry_after_secs: 1,
        },
        Scenario::Unavailable { times: 2 },
    ] {
        let emu = emulator(scenario);
        let start = Instant::now();
        generates_the_video(Provider::Vidu, &emu);
        if let Scenario::Throttled { .. } = scenario {
            assert!(
                start.elapsed() >= Duration::from_millis(900),
                "Retry-After honoured: {:?}",
                start.elapsed()
            );
        }
        assert_eq!(emu.stats().submits, 1);
    }
}

#[test]
fn a_reset_after_the_submit_body_is_reported_as_uncertain_and_not_resubmitted() {
    let emu = emulator(Scenario::ResetAfterSubmit);
    let err = client(Provider::UModelVerse, &emu)
        .submit(&job())
        .unwrap_err();
    assert!(matches!(err, Error::SubmitUncertain { .. }), "{err:?}");
    assert!(err.to_string().contains("may have been created"));
    assert_eq!(
        emu.stats().submits,
        1,
        "a submit that may have been processed must not be repeated"
    );
}

#[test]
fn submit_is_retried_when_it_certainly_was_not_sent() {
    // Nothing listens on this port: connect fails, which is safe to retry, and then reported.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = Config::new(Provider::Vidu, "k").base_url(format!("http://127.0.0.1:{port}"));
    cfg.retry.base = Duration::from_millis(5);
    cfg.retry.max_attempts = 3;
    let err = Client::new(cfg).unwrap().submit(&job()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                operation: "submit",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_timeout_keeps_the_task_id_and_the_last_status_and_the_wait_can_resume() {
    let emu = Emulator::start_with(EmulatorOptions {
        polls_per_state: 1000,
        ..Default::default()
    })
    .unwrap();
    let c = client(Provider::Vtrix, &emu);
    let id = c.submit(&job()).unwrap();
    let err = c
        .wait(
            &id,
            &mut WaitOptions {
                timeout: Some(Duration::from_millis(200)),
                ..Default::default()
            },
        )
        .unwrap_err();
    let Error::Timeout {
        task_id,
        last_status,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(task_id, &id);
    assert!(!last_status.as_ref().unwrap().state.is_terminal());
    assert!(err.to_string().contains(&id));
    // Nothing is lost: the same id is still there to poll.
    assert_eq!(c.status(&id).unwrap().task_id, id);
}

#[test]
fn cut_downloads_resume_with_range_or_restart_when_range_is_ignored() {
    for scenario in [Scenario::CutDownload, Scenario::CutDownloadIgnoresRange] {
        let emu = emulator(scenario);
        generates_the_video(Provider::UModelVerse, &emu);
        let requests = emu.stats().video_requests;
        assert!(requests.len() >= 2, "{requests:?}");
        let range = requests[1]
            .headers
            .iter()
            .find(|(k, _)| k == "range")
            .map(|(_, v)| v.clone());
        let half_or_more = range
            .unwrap()
            .trim_start_matches("bytes=")
            .trim_end_matches('-')
            .parse::<usize>()
            .unwrap();
        assert!(half_or_more > 0 && half_or_more < Emulator::video_bytes().len());
    }
}

#[test]
fn a_cross_origin_redirect_is_followed_without_the_key() {
    let emu = emulator(Scenario::RedirectVideo);
    generates_the_video(Provider::Vidu, &emu);
    let stats = emu.stats();
    assert!(!stats.video_requests.is_empty());
    for r in stats.video_requests {
        assert!(r.headers.iter().all(|(k, _)| k != "authorization"), "{r:?}");
    }
}

#[test]
fn an_expired_video_url_is_refreshed_once() {
    let emu = emulator(Scenario::ExpiredUrl);
    generates_the_video(Provider::Vidu, &emu);
    let statuses: Vec<u16> = emu
        .stats()
        .video_requests
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.first(), Some(&403));
    assert_eq!(statuses.last(), Some(&200));
}

#[test]
fn malformed_status_ends_in_a_clear_error_not_a_loop() {
    let emu = emulator(Scenario::MalformedStatus { times: u32::MAX });
    let dir = scratch_dir();
    let err = client(Provider::Vtrix, &emu)
        .generate(&job(), dir.join("v.mp4"), &mut wait_opts())
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.task_id().is_some());
    assert_dir_holds(&dir, &[]);
}

#[test]
fn an_unknown_state_is_reported_raw_and_waiting_goes_on() {
    let emu = emulator(Scenario::UnknownState { times: 2 });
    let dir = scratch_dir();
    let raw = std::cell::RefCell::new(Vec::new());
    let mut opts = WaitOptions {
        on_progress: Some(Box::new(|p: &vidu::Progress<'_>| {
            if p.status.state == State::Unknown {
                raw.borrow_mut().push(p.status.raw_state.clone());
            }
            true
        })),
        ..wait_opts()
    };
    client(Provider::Vidu, &emu)
        .generate(&job(), dir.join("v.mp4"), &mut opts)
        .unwrap();
    drop(opts);
    let raw = raw.into_inner();
    assert_eq!(raw.len(), 2);
    assert!(raw.iter().all(|r| !r.is_empty()));
}

#[test]
fn a_cancel_token_wakes_a_sleeping_wait_at_once() {
    let emu = emulator(Scenario::NeverFinishes);
    let mut cfg = fast_config(Provider::Vidu, &emu, "k");
    cfg.poll.first = Duration::from_secs(30);
    cfg.poll.max = Duration::from_secs(30);
    let c = Client::new(cfg).unwrap();
    let id = c.submit(&job()).unwrap();
    let token = CancelToken::new();
    let trigger = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        trigger.cancel();
    });
    let start = Instant::now();
    let err = c
        .wait(
            &id,
            &mut WaitOptions {
                cancel: Some(token),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Cancelled { task_id } if *task_id == id),
        "{err:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn the_progress_callback_can_stop_the_wait() {
    let emu = emulator(Scenario::NeverFinishes);
    let c = client(Provider::UModelVerse, &emu);
    let id = c.submit(&job()).unwrap();
    let mut calls = 0;
    let err = c
        .wait(
            &id,
            &mut WaitOptions {
                on_progress: Some(Box::new(|_: &vidu::Progress<'_>| {
                    calls += 1;
                    calls < 3
                })),
                ..wait_opts()
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    assert_eq!(emu.stats().status_polls, 3);
}

#[test]
fn remote_cancel_on_the_official_api_and_unsupported_elsewhere() {
    let emu = emulator(Scenario::NeverFinishes);
    let c = client(Provider::Vidu, &emu);
    let id = c.submit(&job()).unwrap();
    c.cancel(&id).unwrap();
    assert_eq!(c.status(&id).unwrap().state, State::Cancelled);
    assert_eq!(emu.stats().cancels, 1);
    for provider in [Provider::UModelVerse, Provider::Vtrix] {
        let err = client(provider, &emu).cancel("task-1").unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        assert!(err.to_string().contains("not supported"));
    }
}

#[test]
fn the_api_key_never_appears_in_debug_display_or_errors() {
    const MARKER: &str = "MARKER-sk-0123456789";
    let emu = Emulator::start_with(EmulatorOptions {
        api_key: Some("the-right-key".into()),
        ..Default::default()
    })
    .unwrap();
    for provider in Provider::ALL {
        let c = Client::new(fast_config(provider, &emu, MARKER)).unwrap();
        assert!(!format!("{c:?}").contains(MARKER));
        assert!(!format!("{:?}", c.config()).contains(MARKER));
        let err = c.submit(&job()).unwrap_err();
        assert_eq!(err.http_status(), Some(401), "{provider}: {err:?}");
        for text in [format!("{err}"), format!("{err:?}")] {
            assert!(!text.contains(MARKER), "{text}");
        }
        assert!(err.to_string().contains("API key"), "{err}");
        let err = c.status("task-1").unwrap_err();
        assert!(!format!("{err} {err:?}").contains(MARKER));
    }
}

#[test]
fn twenty_polls_use_one_connection() {
    // Official API: three intermediate states, seven polls each.
    let emu = Emulator::start_with(EmulatorOptions {
        polls_per_state: 7,
        ..Default::default()
    })
    .unwrap();
    let c = client(Provider::Vidu, &emu);
    let id = c.submit(&job()).unwrap();
    c.wait(&id, &mut wait_opts()).unwrap();
    let stats = emu.stats();
    assert!(stats.status_polls >= 20, "{}", stats.status_polls);
    assert_eq!(
        stats.api_connections, 1,
        "submit and {} polls on one connection",
        stats.status_polls
    );
}

#[test]
fn invalid_input_is_rejected_before_anything_is_sent() {
    let emu = emulator(Scenario::Normal);
    let c = client(Provider::Vidu, &emu);
    let dir = scratch_dir();
    let err = c
        .generate(&job().duration(11), dir.join("v.mp4"), &mut wait_opts())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "duration",
                ..
            }
        ),
        "{err:?}"
    );
    let err = c
        .generate(&job(), dir.join("missing-dir/v.mp4"), &mut wait_opts())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "output",
                ..
            }
        ),
        "{err:?}"
    );
    let err = c
        .submit(&Job::new(&b"GIF89a not an image"[..]))
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "image", .. }),
        "{err:?}"
    );
    assert_eq!(emu.stats().submits + emu.stats().rejected_submits, 0);
}

#[test]
fn a_large_inline_image_is_streamed_with_an_exact_length() {
    // A real PNG header padded to 12 MiB: validated from its header, streamed as base64.
    let mut big = SAMPLE_PNG[..33].to_vec(); // signature + IHDR chunk
    big.resize(12 * 1024 * 1024 + 1, 0);
    let emu = emulator(Scenario::Normal);
    let c = client(Provider::UModelVerse, &emu);
    c.submit(&Job::new(&big[..])).unwrap();
    let submit = emu.stats().last_submit.unwrap();
    assert_eq!(submit.image, format!("data:image/png;{}", big.len()));
    let uri_len = "data:image/png;base64,".len() as u64 + (big.len() as u64).div_ceil(3) * 4;
    let json_len = serde_json::to_vec(&submit.json).unwrap().len() as u64 - "<image>".len() as u64;
    assert_eq!(submit.body_len, json_len + uri_len);

    // The same image is too big to go inline on the official API: say so, send nothing.
    let err = client(Provider::Vidu, &emu)
        .submit(&Job::new(&big[..]))
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "image", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("URL"), "{err}");
    assert_eq!(emu.stats().submits, 1);
}

/// A server answering each request (any connection) with the next canned response, and
/// counting the requests it read in full. Stops after the last response.
fn canned_server(responses: Vec<String>) -> (String, std::sync::Arc<AtomicU32>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(AtomicU32::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut responses = responses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let (mut line, mut body_len) = (String::new(), 0usize);
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        body_len = v.trim().parse().unwrap();
                    }
                    line.clear();
                }
                if line.is_empty()
                    || reader
                        .by_ref()
                        .take(body_len as u64)
                        .read_to_end(&mut Vec::new())
                        .is_err()
                {
                    break;
                }
                seen.fetch_add(1, Ordering::SeqCst);
                let Some(response) = responses.next() else {
                    return;
                };
                if stream.write_all(response.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    (addr, count)
}

fn http_response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{headers}\r\n{body}",
        body.len()
    )
}

#[test]
fn a_throttled_submit_is_retried_after_retry_after() {
    let (url, requests) = canned_server(vec![
        http_response(
            "429 Too Many Requests",
            "retry-after: 1\r\n",
            r#"{"code":429,"reason":"TooManyRequests","message":"slow down"}"#,
        ),
        http_response(
            "200 OK",
            "",
            r#"{"task_id":"t9","state":"created","credits":4}"#,
        ),
    ]);
    let c = Client::new(Config::new(Provider::Vidu, "k").base_url(url)).unwrap();
    let start = Instant::now();
    assert_eq!(c.submit(&job()).unwrap(), "t9");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
}

#[test]
fn an_oversized_status_answer_is_a_clear_error() {
    let body = format!(
        "{{\"state\":\"processing\",\"pad\":\"{}\"}}",
        "x".repeat(2 << 20)
    );
    let (url, _) = canned_server(vec![http_response("200 OK", "", &body)]);
    let c = Client::new(Config::new(Provider::Vidu, "k").base_url(url)).unwrap();
    let err = c.status("t1").unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("larger than"), "{err}");
    assert_eq!(err.task_id(), Some("t1"));
}

#[cfg(target_os = "linux")]
#[test]
fn a_local_write_failure_after_the_task_was_created_keeps_the_task_id() {
    // /proc exists but no file can be created in it, even by root.
    let emu = emulator(Scenario::Normal);
    let err = client(Provider::Vidu, &emu)
        .generate(&job(), "/proc/vidu-test.mp4", &mut wait_opts())
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let id = err
        .task_id()
        .expect("the task id survives a local I/O error");
    assert!(err.to_string().contains(id), "{err}");
    assert_eq!(emu.stats().submits, 1);
}
