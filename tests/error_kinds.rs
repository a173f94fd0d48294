//! One test per error kind that had none on a user-facing path: the kind, the message a user
//! reads, and the task id, each checked against what happened at the emulator.
#![cfg(feature = "emulator")]

mod common;

use std::ops::ControlFlow;

use common::emulated::{client, first_task_ids, job, wait_opts};
use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Route};
use vidu::{CancelToken, Error, ErrorKind, Provider};

fn with_fault(fault: Fault) -> Emulator {
    Emulator::start_with(EmulatorOptions::new().fault(fault)).unwrap()
}

/// `generate` into a fresh directory must fail: the error, the task id it should carry, and
/// that nothing is at the output.
fn generate_fails(
    provider: Provider,
    emu: &Emulator,
    mut options: vidu::WaitOptions,
) -> (Error, String) {
    let dir = common::TempDir::new();
    let out = dir.join("v.mp4");
    let err = client(provider, emu)
        .generate(&job(), &out, &mut options)
        .unwrap_err();
    assert!(!out.exists(), "nothing at the output: {err}");
    common::assert_dir_holds(&dir, &[]);
    (err, first_task_ids(provider, 1).remove(0))
}

#[test]
fn transport_a_status_poll_that_never_gets_an_answer_names_the_task() {
    let emu = with_fault(Fault::on(Route::Status).effect(Effect::Reset));
    // Retried until the deadline, which then returns the last poll's error.
    let deadline = vidu::WaitOptions::new().timeout(Some(std::time::Duration::from_secs(1)));
    let (err, id) = generate_fails(Provider::Vidu, &emu, deadline);
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(
        matches!(
            err,
            Error::Transport {
                operation: "status",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.task_id(), Some(id.as_str()));
    let text = err.to_string();
    assert!(
        text.contains(&id) && text.contains("network error during status"),
        "{text}"
    );
    assert_eq!(emu.stats().submits, 1);
    assert!(emu.stats().status_polls >= 2, "retried before giving up");
}

#[test]
fn api_a_refused_status_poll_names_the_task_and_the_provider_answer() {
    let emu = with_fault(Fault::on(Route::Status).error(403));
    let (err, id) = generate_fails(Provider::UModelVerse, &emu, wait_opts());
    assert_eq!(err.kind(), ErrorKind::Api, "{err:?}");
    assert!(
        matches!(
            err,
            Error::Api {
                operation: "status",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.http_status(), Some(403));
    assert_eq!(err.task_id(), Some(id.as_str()));
    let text = err.to_string();
    assert!(
        text.contains(&id) && text.contains("HTTP 403") && text.contains("permissions"),
        "what to check: {text}"
    );
    assert_eq!(emu.stats().submits, 1);
}

#[test]
fn invalid_input_an_output_in_a_missing_directory_names_the_task_being_resumed() {
    let emu = Emulator::start().unwrap();
    let c = client(Provider::Vtrix, &emu);
    let id = c.submit(&job()).unwrap();
    let dir = common::TempDir::new();
    let out = dir.join("missing/v.mp4");
    let err = c.resume(&id, &out, &mut wait_opts()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
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
    assert_eq!(err.task_id(), Some(id.as_str()));
    let text = err.to_string();
    assert!(text.contains(&id) && text.contains("output"), "{text}");
    assert!(
        text.contains("missing") && text.contains("resume it"),
        "{text}"
    );
    assert_eq!(emu.stats().status_polls, 0, "refused before waiting");
}

#[test]
fn cancelled_a_wait_stopped_by_its_token_names_the_task() {
    let emu = Emulator::start_with(
        EmulatorOptions::new().scenario(vidu::emulator::Scenario::NeverFinishes),
    )
    .unwrap();
    let token = CancelToken::new();
    let trigger = token.clone();
    // Fired from the first progress report: the task exists and is being waited on.
    let options = wait_opts().cancel(token).on_progress(move |_| {
        trigger.cancel();
        ControlFlow::Continue(())
    });
    let (err, id) = generate_fails(Provider::Vidu, &emu, options);
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err:?}");
    assert_eq!(err.task_id(), Some(id.as_str()));
    let text = err.to_string();
    assert!(
        text.contains(&id) && text.contains("the task goes on"),
        "{text}"
    );
    assert_eq!(emu.stats().submits, 1);
    assert_eq!(
        emu.stats().cancels,
        0,
        "a local cancel does not cancel the task remotely"
    );
}

#[test]
fn timeout_a_deadline_after_polls_recovered_is_a_timeout_not_the_old_poll_error() {
    // The first status poll is reset, the next ones answer (the task never finishes): at the
    // deadline the wait is a timeout, not the error of a poll that has since recovered.
    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .scenario(vidu::emulator::Scenario::NeverFinishes)
            .fault(Fault::on(Route::Status).nth(1).effect(Effect::Reset)),
    )
    .unwrap();
    let mut config = common::emulated::fast_config(Provider::Vtrix, emu.base_url(), "k");
    config.retry.max_attempts = 1; // a failed request is a failed poll
    let client = vidu::Client::new(config).unwrap();
    let dir = common::TempDir::new();
    let mut options = vidu::WaitOptions::new().timeout(Some(std::time::Duration::from_millis(500)));
    let err = client
        .generate(&job(), dir.join("v.mp4"), &mut options)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    let id = first_task_ids(Provider::Vtrix, 1).remove(0);
    assert_eq!(err.task_id(), Some(id.as_str()));
    assert!(
        emu.stats().status_polls >= 2,
        "polls went on after the reset"
    );
}
