//! What is retried and what is not: status polls retry transient failures; a submit only when it certainly was not processed.
#![cfg(feature = "emulator")]

mod common;

use std::net::{TcpListener, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::emulated::*;
use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Route, Scenario};
use vidu::{CancelToken, Client, Config, Error, Provider};

/// An emulator with these faults.
fn faulty(faults: impl IntoIterator<Item = Fault>) -> Emulator {
    let options = faults
        .into_iter()
        .fold(EmulatorOptions::new(), EmulatorOptions::fault);
    Emulator::start_with(options).unwrap()
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

/// A loopback port that refuses every connection for as long as the returned pair lives: the
/// port is the local end of an open connection (bound, not listening), so a connect to it is
/// refused, and no other socket (another test's server) can bind it meanwhile.
fn refusing_port() -> (u16, (TcpStream, TcpStream)) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (remote, _) = listener.accept().unwrap();
    (local.local_addr().unwrap().port(), (local, remote))
}

/// Connections refused on a port, as ureq reports each failed connect (at TRACE, target
/// `ureq::unversioned::transport::tcp`: "127.0.0.1:<port> failed: ..."). A logger is the one
/// place that sees attempts which never reach a server.
fn refused_connects(port: u16) -> usize {
    struct Attempts(Mutex<Vec<String>>);
    impl log::Log for Attempts {
        fn enabled(&self, meta: &log::Metadata) -> bool {
            meta.target()
                .starts_with("ureq::unversioned::transport::tcp")
        }
        fn log(&self, record: &log::Record) {
            if self.enabled(record.metadata()) {
                let line = record.args().to_string();
                if line.contains(" failed: ") {
                    self.0.lock().unwrap().push(line);
                }
            }
        }
        fn flush(&self) {}
    }
    static ATTEMPTS: OnceLock<&'static Attempts> = OnceLock::new();
    let attempts = ATTEMPTS.get_or_init(|| {
        let logger: &'static Attempts = Box::leak(Box::new(Attempts(Mutex::new(Vec::new()))));
        log::set_logger(logger).expect("the only logger of this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        logger
    });
    let prefix = format!("127.0.0.1:{port} failed: ");
    let lines = attempts.0.lock().unwrap();
    lines.iter().filter(|l| l.starts_with(&prefix)).count()
}

#[test]
fn submit_is_retried_when_it_certainly_was_not_sent() {
    // Every connect is refused: certainly unsent, so safe to retry, then reported.
    refused_connects(0); // the logger is installed before the first attempt
    let (port, _held) = refusing_port();
    let mut cfg = Config::new(Provider::Vidu, "k")
        .base_url(format!("http://127.0.0.1:{port}"))
        .proxy_from_env(false);
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
    assert_eq!(err.task_id(), None, "no task was created");
    assert!(err.to_string().contains("submit"), "{err}");
    assert_eq!(
        refused_connects(port),
        3,
        "every one of max_attempts was tried before giving up"
    );
}

#[test]
fn a_throttled_submit_is_retried_after_retry_after() {
    let emu = faulty([Fault::on(Route::Submit)
        .nth(1)
        .respond(
            429,
            r#"{"code":429,"reason":"TooManyRequests","message":"slow down"}"#,
        )
        .header("Retry-After", "1")]);
    let c = Client::new(Config::new(Provider::Vidu, "k").base_url(emu.base_url())).unwrap();
    let start = Instant::now();
    let task_id = c.submit(&job()).unwrap();
    assert!(c.status(&task_id).is_ok(), "the task of the second attempt");
    assert_eq!((emu.stats().submit_requests, emu.stats().submits), (2, 1));
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
    let emu = faulty([Fault::on(Route::Status).respond(200, &body)]);
    let c = Client::new(Config::new(Provider::Vidu, "k").base_url(emu.base_url())).unwrap();
    let err = c.status("t1").unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("larger than"), "{err}");
    assert_eq!(err.task_id(), Some("t1"));
}

fn quick_client(provider: Provider, url: String) -> Client {
    let mut cfg = fast_config(provider, url, "k");
    cfg.retry.max_attempts = 3;
    Client::new(cfg).unwrap()
}

#[test]
fn a_status_poll_whose_connection_is_reset_is_retried() {
    let emu = faulty([Fault::on(Route::Status).nth(1).effect(Effect::Reset)]);
    let c = quick_client(Provider::Vidu, emu.base_url());
    let task_id = c.submit(&job()).unwrap();
    c.status(&task_id).unwrap();
    assert_eq!(emu.stats().status_polls, 2);
}

#[test]
fn a_submit_whose_connection_is_reset_after_the_body_is_not_retried() {
    let emu = faulty([Fault::on(Route::Submit).nth(1).effect(Effect::Reset)]);
    let err = quick_client(Provider::Vidu, emu.base_url())
        .submit(&job())
        .unwrap_err();
    assert!(matches!(err, Error::SubmitUncertain { .. }), "{err:?}");
    assert_eq!(emu.stats().submit_requests, 1);
}

#[test]
fn a_permanent_transport_error_is_not_retried() {
    // A malformed authority makes a URL no retry can fix. Were it retried, the backoff (a
    // random time up to a year) would sleep until the cancel token fires.
    let mut cfg = fast_config(Provider::Vidu, "http://[::1".into(), "k");
    cfg.retry.base = vidu::MAX_CONFIG_DURATION;
    cfg.retry.max_delay = vidu::MAX_CONFIG_DURATION;
    let c = Client::new(cfg).unwrap();
    let token = CancelToken::new();
    let trigger = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        trigger.cancel();
    });
    let err = c
        .wait(
            "t1",
            &mut vidu::WaitOptions::new().timeout(None).cancel(token),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.task_id(), Some("t1"));
}

#[test]
fn a_server_error_after_the_submit_body_was_sent_is_not_retried() {
    // The task may exist: a 500 is reported, never sent again (it could be billed twice).
    let emu = faulty([Fault::on(Route::Submit)
        .nth(1)
        .respond(500, r#"{"reason":"InternalServiceFailure"}"#)]);
    let err = quick_client(Provider::Vidu, emu.base_url())
        .submit(&job())
        .unwrap_err();
    assert_eq!(err.http_status(), Some(500), "{err:?}");
    assert_eq!(emu.stats().submit_requests, 1);
}

#[test]
fn the_last_429_of_a_submit_keeps_retry_after_for_the_caller() {
    let emu = faulty([Fault::on(Route::Submit)
        .respond(429, r#"{"reason":"QuotaExceeded","message":"slow down"}"#)
        .header("Retry-After", "0")]);
    let c = quick_client(Provider::Vidu, emu.base_url());
    let err = c.submit(&job()).unwrap_err();
    assert_eq!(err.http_status(), Some(429), "{err:?}");
    assert_eq!(err.provider_code(), Some("QuotaExceeded"));
    assert_eq!(err.retry_after(), Some(Duration::ZERO));
    assert_eq!(emu.stats().submit_requests, 3, "max_attempts");
    // A status error without the header (an unknown task: 404) has none.
    let err = c.status("t1").unwrap_err();
    assert_eq!(err.http_status(), Some(404), "{err:?}");
    assert_eq!(err.retry_after(), None);
}

/// `generate` waits out a 429 within its submit (the retry policy), then fails with it: it does
/// not hold the job back and submit again as a batch does.
#[test]
fn generate_fails_with_the_last_429_after_the_retry_policy() {
    let emu = faulty([Fault::on(Route::Submit)
        .respond(429, r#"{"reason":"QuotaExceeded","message":"slow down"}"#)
        .header("Retry-After", "0")]);
    let c = quick_client(Provider::Vidu, emu.base_url());
    let out = common::scratch_dir().join("v.mp4");
    let mut wait = vidu::WaitOptions::new().timeout(Some(Duration::from_secs(10)));
    let started = Instant::now();
    let err = c.generate(&job(), &out, &mut wait).unwrap_err();
    assert_eq!(err.http_status(), Some(429), "{err:?}");
    assert_eq!(err.task_id(), None, "nothing was created");
    assert_eq!(emu.stats().submit_requests, 3, "max_attempts, once");
    assert!(started.elapsed() < Duration::from_secs(5), "no hold-back");
    assert!(!out.exists());
}

#[test]
fn a_cancel_token_stops_a_submit_holding_back_after_429() {
    let emu = faulty([Fault::on(Route::Submit)
        .respond(429, "{}")
        .header("Retry-After", "60")]);
    let c = quick_client(Provider::Vidu, emu.base_url());
    let job = job();
    let submission = c.prepare(&job).unwrap();
    let token = CancelToken::new();
    let trigger = token.clone();
    let start = Instant::now();
    let err = std::thread::scope(|s| {
        s.spawn(|| {
            // The 429 is on its way: the submit is (about to be) holding back for 60 s.
            common::wait_until("the first submit", || emu.stats().submit_requests >= 1);
            trigger.cancel();
        });
        c.submit_prepared(&submission, &token).unwrap_err()
    });
    assert!(
        matches!(err, Error::Cancelled { task_id: None, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("nothing was sent"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(emu.stats().submit_requests, 1);
}

#[test]
fn a_retry_after_too_long_for_the_clock_ends_the_wait_at_its_deadline() {
    let emu = faulty([Fault::on(Route::Status)
        .respond(429, "{}")
        .header("Retry-After", "18446744073709551615")]);
    let mut cfg = fast_config(Provider::Vidu, emu.base_url(), "k");
    cfg.retry.max_retry_after = vidu::MAX_CONFIG_DURATION;
    let c = Client::new(cfg).unwrap();
    let err = c
        .wait(
            "t1",
            &mut vidu::WaitOptions::new().timeout(Some(Duration::from_secs(2))),
        )
        .unwrap_err();
    assert_eq!(err.http_status(), Some(429), "{err:?}");
    assert_eq!(
        err.retry_after(),
        Some(Duration::from_secs(u16::MAX.into()))
    );
}

#[test]
fn a_non_ascii_api_key_is_invalid_input_before_anything_is_sent() {
    let emu = emulator(Scenario::Normal);
    let err =
        Client::new(Config::new(Provider::Vidu, "sk-ключ").base_url(emu.base_url())).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "api_key",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(emu.stats().api_connections, 0);
}

#[test]
fn an_image_that_cannot_be_read_while_sending_is_an_io_error_naming_it() {
    let emu = emulator(Scenario::Normal);
    let c = quick_client(Provider::Vidu, emu.base_url());
    let path = common::temp_path("shrinks.png");
    std::fs::write(&path, common::SAMPLE_PNG).unwrap();
    let job = vidu::Job::new(path.as_path());
    let submission = c.prepare(&job).unwrap();
    std::fs::write(&path, &common::SAMPLE_PNG[..100]).unwrap();
    let err = c
        .submit_prepared(&submission, &CancelToken::new())
        .unwrap_err();
    let Error::Io {
        action,
        path: named,
        task_id,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*action, "reading the image while sending it");
    assert_eq!(named, &path);
    assert_eq!(*task_id, None);
}
