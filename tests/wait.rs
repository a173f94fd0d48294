//! Waiting: deadlines, cancel tokens, the progress callback, odd states, remote cancel.
#![cfg(feature = "emulator")]

mod common;

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use common::emulated::*;
use common::{assert_dir_holds, scratch_dir};
use vidu::emulator::{Emulator, EmulatorOptions, Scenario};
use vidu::{CancelToken, Client, Error, Provider, State, WaitOptions};

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
            &mut WaitOptions::new().timeout(Some(Duration::from_millis(200))),
        )
        .unwrap_err();
    let Error::Timeout {
        task_id,
        last_status,
        ..
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
    let mut opts = wait_opts().on_progress(|p| {
        if p.status.state == State::Unknown {
            raw.borrow_mut().push(p.status.raw_state.clone());
        }
        ControlFlow::Continue(())
    });
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
    let mut cfg = fast_config(Provider::Vidu, emu.base_url(), "k");
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
        .wait(&id, &mut WaitOptions::new().cancel(token))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Cancelled { task_id: Some(t), .. } if *t == id),
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
            &mut wait_opts().on_progress(|_| {
                calls += 1;
                if calls < 3 {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            }),
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
