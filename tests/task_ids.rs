//! The promise that nothing paid for is lost: once a submit returned a task id, every way out of
//! `generate`, `resume` and the batch runner carries that id, and no message says "nothing was
//! sent". Each case injects one failure after the submit.
#![cfg(feature = "emulator")]

mod common;

use common::emulated::first_task_ids;

use std::ops::ControlFlow;
use std::time::Duration;

use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Route, Scenario};
use vidu::{
    BatchJob, BatchOptions, Client, Config, Error, ErrorKind, Job, JobOutcome, Provider,
    WaitOptions,
};

fn client(provider: Provider, emulator: &Emulator) -> Client {
    let mut config = Config::new(provider, "k").base_url(emulator.base_url());
    config.poll.first = Duration::from_millis(10);
    config.poll.max = Duration::from_millis(50);
    config.retry.base = Duration::from_millis(5);
    config.retry.max_delay = Duration::from_millis(20);
    config.timeouts.receive = Duration::from_millis(500);
    Client::new(config).unwrap()
}

fn job() -> Job<'static> {
    Job::new(common::repo_file("examples/sample.png")).prompt("the cat turns its head")
}

/// A failure injected after the submit, and how to see it.
struct Case {
    name: &'static str,
    options: EmulatorOptions,
    wait: fn() -> WaitOptions<'static>,
    /// Runs during the wait (after the submit): e.g. removes the output directory.
    during_wait: Option<fn(&std::path::Path)>,
    /// The kind of error it ends in.
    kind: ErrorKind,
}

fn default_wait() -> WaitOptions<'static> {
    WaitOptions::new().timeout(Some(Duration::from_secs(10)))
}

fn short_wait() -> WaitOptions<'static> {
    WaitOptions::new().timeout(Some(Duration::from_secs(1)))
}

fn cases() -> Vec<Case> {
    let with = |f: Fault| EmulatorOptions::new().fault(f);
    vec![
        Case {
            name: "task fails",
            options: EmulatorOptions::new().scenario(Scenario::TaskFails),
            wait: default_wait,
            during_wait: None,
            kind: ErrorKind::TaskFailed,
        },
        Case {
            name: "deadline passes",
            options: EmulatorOptions::new().scenario(Scenario::NeverFinishes),
            wait: || WaitOptions::new().timeout(Some(Duration::from_millis(200))),
            during_wait: None,
            kind: ErrorKind::Timeout,
        },
        Case {
            name: "callback stops the wait",
            options: EmulatorOptions::new().scenario(Scenario::NeverFinishes),
            wait: || WaitOptions::new().on_progress(|_| ControlFlow::Break(())),
            during_wait: None,
            kind: ErrorKind::Cancelled,
        },
        Case {
            name: "status answers 404",
            options: with(Fault::on(Route::Status).error(404)),
            wait: default_wait,
            during_wait: None,
            kind: ErrorKind::Api,
        },
        Case {
            name: "status answers 503 for ever",
            options: with(Fault::on(Route::Status).error(503)),
            // Retried until the deadline, which then returns the last poll's error.
            wait: short_wait,
            during_wait: None,
            kind: ErrorKind::Api,
        },
        Case {
            name: "status is malformed for ever",
            options: with(Fault::on(Route::Status).effect(Effect::Malformed)),
            wait: default_wait,
            during_wait: None,
            kind: ErrorKind::Protocol,
        },
        Case {
            name: "status connection reset for ever",
            options: with(Fault::on(Route::Status).effect(Effect::Reset)),
            // Retried until the deadline, which then returns the last poll's error.
            wait: short_wait,
            during_wait: None,
            kind: ErrorKind::Transport,
        },
        Case {
            name: "video refused",
            options: with(Fault::on(Route::Video).error(403)),
            wait: default_wait,
            during_wait: None,
            kind: ErrorKind::Download,
        },
        Case {
            name: "video cut and Range ignored for ever",
            options: with(Fault::on(Route::Video).effect(Effect::CutBody)),
            wait: default_wait,
            during_wait: None,
            kind: ErrorKind::Download,
        },
        Case {
            name: "output directory removed during the wait",
            options: EmulatorOptions::new().polls_per_state(3),
            wait: default_wait,
            during_wait: Some(|dir| {
                let _ = std::fs::remove_dir_all(dir);
            }),
            kind: ErrorKind::Download,
        },
    ]
}

/// `err` is of `kind`, carries `task_id`, names it in its message, and does not claim that
/// nothing was sent.
fn assert_keeps(name: &str, err: &Error, task_id: &str, kind: ErrorKind) {
    let text = err.to_string();
    assert_eq!(err.kind(), kind, "{name}: {err:?}");
    assert_eq!(err.task_id(), Some(task_id), "{name}: {err:?}");
    assert!(
        text.contains(task_id),
        "{name}: the message names the task: {text}"
    );
    assert!(!text.contains("nothing was sent"), "{name}: {text}");
}

fn run_case(case: &Case, resume: bool) {
    for &provider in Provider::ALL {
        let emulator = Emulator::start_with(case.options.clone()).unwrap();
        let client = client(provider, &emulator);
        let dir = common::temp_path(&format!(
            "ids-{resume}-{provider}-{}",
            case.name.replace(' ', "-")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let output = dir.join("out.mp4");
        let mut options = (case.wait)();
        let mut armed = case.during_wait;
        let dir_for_hook = dir.clone();
        if armed.is_some() {
            options = options.on_progress(move |_| {
                if let Some(hook) = armed.take() {
                    hook(&dir_for_hook);
                }
                ControlFlow::Continue(())
            });
        }
        let expected = first_task_ids(provider, 1).remove(0);
        let err = if resume {
            let id = client.submit(&job()).unwrap();
            assert_eq!(id, expected);
            client.resume(&id, &output, &mut options).unwrap_err()
        } else {
            client.generate(&job(), &output, &mut options).unwrap_err()
        };
        assert_keeps(
            &format!("{} on {provider}", case.name),
            &err,
            &expected,
            case.kind,
        );
        assert!(!output.exists(), "{}: nothing at the output", case.name);
        assert_eq!(emulator.stats().submits, 1, "{}", case.name);
    }
}

#[test]
fn every_failure_after_a_submit_in_generate_carries_the_task_id() {
    for case in cases() {
        run_case(&case, false);
    }
}

#[test]
fn every_failure_in_resume_carries_the_task_id() {
    for case in cases() {
        run_case(&case, true);
    }
}

#[test]
fn an_output_directory_removed_during_the_upload_keeps_the_task_id() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new()
            .fault(Fault::on(Route::Submit).effect(Effect::Stall(Duration::from_secs(1)))),
    )
    .unwrap();
    let dir = common::temp_path("ids-upload-dir");
    std::fs::create_dir_all(&dir).unwrap();
    // The answer comes after the stall, within the receive timeout.
    let mut config = Config::new(Provider::Vtrix, "k").base_url(emulator.base_url());
    config.timeouts.receive = Duration::from_secs(10);
    let client = Client::new(config).unwrap();
    let err = std::thread::scope(|s| {
        s.spawn(|| {
            // The submit has reached the emulator, which holds its answer: remove the directory.
            common::wait_until("the submit to reach the emulator", || {
                emulator.stats().submit_requests >= 1
            });
            std::fs::remove_dir_all(&dir).unwrap();
        });
        client
            .generate(&job(), dir.join("out.mp4"), &mut WaitOptions::new())
            .unwrap_err()
    });
    let expected = first_task_ids(Provider::Vtrix, 1).remove(0);
    // Found when the video is to be written (the output was checked before the submit): a
    // download error with the task id, which `resume` picks up once the directory is back.
    assert_keeps(
        "directory removed during the upload",
        &err,
        &expected,
        ErrorKind::Download,
    );
    let text = err.to_string();
    assert!(
        text.contains("out.mp4") && text.contains("does not exist"),
        "{text}"
    );
    assert_eq!(emulator.stats().submits, 1);
}

#[test]
fn a_task_id_the_client_cannot_use_is_still_reported() {
    let emulator =
        Emulator::start_with(EmulatorOptions::new().fault(
            Fault::on(Route::Submit).respond(200, r#"{"task_id":"../x","state":"created"}"#),
        ))
        .unwrap();
    let output = common::temp_path("ids-unsafe.mp4");
    let err = client(Provider::Vidu, &emulator)
        .generate(&job(), &output, &mut WaitOptions::new())
        .unwrap_err();
    assert_keeps("unsafe id", &err, "../x", ErrorKind::Protocol);
    assert!(err.to_string().contains("console"), "{err}");
}

#[test]
fn every_failed_batch_job_with_a_task_carries_its_id() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new()
            .fault(Fault::tasks().nth_task(1).effect(Effect::FailTask))
            .fault(Fault::on(Route::Video).nth(1).error(403).provider("vtrix"))
            .fault(Fault::on(Route::Video).error(403).provider("vtrix")),
    )
    .unwrap();
    let out = common::temp_path("ids-batch");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let jobs: Vec<BatchJob<'static>> = (0..3)
        .map(|i| BatchJob::new(job(), out.join(format!("{i}.mp4"))))
        .collect();
    let outcomes = client(Provider::Vtrix, &emulator)
        .run_batch(&jobs, &mut BatchOptions::default().concurrency(1))
        .unwrap();
    // Task 1 fails; the videos of tasks 2 and 3 are refused.
    let ids = first_task_ids(Provider::Vtrix, 3);
    let kinds = [
        ErrorKind::TaskFailed,
        ErrorKind::Download,
        ErrorKind::Download,
    ];
    assert_eq!(outcomes.len(), 3);
    for ((outcome, id), kind) in outcomes.iter().zip(&ids).zip(kinds) {
        let JobOutcome::Failed(e) = outcome else {
            panic!("{outcome:?}")
        };
        assert_keeps("batch", e, id, kind);
        assert_eq!(outcome.task_id(), Some(id.as_str()));
    }
}

#[test]
fn an_uncertain_submit_on_the_official_api_finds_its_task_instead_of_paying_twice() {
    // The submit creates its task, then the connection closes without an answer.
    let emulator = Emulator::start_with(
        EmulatorOptions::new().fault(Fault::on(Route::Submit).nth(1).effect(Effect::Reset)),
    )
    .unwrap();
    let output = common::scratch_dir().join("found.mp4");
    let done = client(Provider::Vidu, &emulator)
        .generate(&job(), &output, &mut default_wait())
        .unwrap();
    assert_eq!(std::fs::read(&output).unwrap(), Emulator::video_bytes());
    assert_eq!(emulator.stats().submits, 1, "found, not submitted again");
    assert!(emulator.stats().list_calls >= 1);
    assert!(!done.task_id.is_empty());
}

#[test]
fn an_uncertain_submit_on_a_gateway_is_reported_not_repeated() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new().fault(Fault::on(Route::Submit).nth(1).effect(Effect::Reset)),
    )
    .unwrap();
    let output = common::scratch_dir().join("uncertain.mp4");
    let err = client(Provider::Vtrix, &emulator)
        .generate(&job(), &output, &mut default_wait())
        .unwrap_err();
    assert_eq!(err.kind(), vidu::ErrorKind::SubmitUncertain, "{err}");
    assert_eq!(emulator.stats().submits, 1, "never sent twice");
    assert!(!output.exists());
}
