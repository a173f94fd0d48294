//! What is retried and what is not: status polls retry transient failures; a submit only when it certainly was not processed.
#![cfg(feature = "emulator")]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::canned::{canned_server, http_response};
use common::emulated::*;
use vidu::emulator::Scenario;
use vidu::{Client, Config, Error, Provider};

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
