//! One test per C error code that had none on a user-facing path: code, message and task id
//! through the C functions, against the emulator.
#![cfg(all(feature = "capi", feature = "emulator"))]

mod common;

use std::ffi::CString;
use std::ptr;

use common::emulated::first_task_ids;
use common::ffi::*;
use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Route, Scenario};
use vidu::ffi::*;
use vidu::Provider;

/// `vidu_client_generate` of the sample image to `out` through a C client of `provider` at
/// `emu`, which must fail with `code`.
fn generate_fails(code: vidu_result, provider: vidu_provider, emu: &Emulator, out: &str) -> Error {
    let c = c_client(provider, &emu.base_url(), 0.01);
    let png = sample_png();
    let out = CString::new(out).unwrap();
    let mut task_id = ptr::null_mut();
    let err = failure(code, |err| unsafe {
        vidu_client_generate(
            c.0,
            &png_job(&png),
            out.as_ptr(),
            ptr::null(),
            &mut task_id,
            ptr::null_mut(),
            err,
        )
    });
    assert!(task_id.is_null(), "no task id output on failure");
    err
}

fn emulator(options: EmulatorOptions) -> Emulator {
    Emulator::start_with(options).unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn io_an_output_that_cannot_be_written_names_the_task() {
    // /proc exists, but no file can be created in it, even by root.
    let emu = Emulator::start().unwrap();
    let err = generate_fails(
        VIDU_ERROR_IO,
        VIDU_PROVIDER_VTRIX,
        &emu,
        "/proc/vidu-test.mp4",
    );
    let id = first_task_ids(Provider::Vtrix, 1).remove(0);
    assert_eq!(err.task_id(), Some(id.clone()));
    assert!(
        err.message().contains(&id) && err.message().contains("/proc/.vidu-test.mp4"),
        "{}",
        err.message()
    );
    assert_eq!(emu.stats().submits, 1);
}

#[test]
fn transport_a_status_poll_that_never_gets_an_answer_names_the_task() {
    let emu =
        emulator(EmulatorOptions::new().fault(Fault::on(Route::Status).effect(Effect::Reset)));
    let dir = common::TempDir::new();
    let out = dir.join("v.mp4");
    let err = generate_fails(
        VIDU_ERROR_TRANSPORT,
        VIDU_PROVIDER_UMODELVERSE,
        &emu,
        out.to_str().unwrap(),
    );
    let id = first_task_ids(Provider::UModelVerse, 1).remove(0);
    assert_eq!(err.task_id(), Some(id.clone()));
    assert!(
        err.message().contains(&id) && err.message().contains("network error during status"),
        "{}",
        err.message()
    );
    assert!(!out.exists());
    assert_eq!(emu.stats().submits, 1);
}

#[test]
fn submit_uncertain_a_reset_after_the_body_is_not_repeated() {
    let emu = emulator(EmulatorOptions::new().scenario(Scenario::ResetAfterSubmit));
    let dir = common::TempDir::new();
    let out = dir.join("v.mp4");
    let err = generate_fails(
        VIDU_ERROR_SUBMIT_UNCERTAIN,
        VIDU_PROVIDER_VTRIX,
        &emu,
        out.to_str().unwrap(),
    );
    // The answer was lost: no id is known, and the message says a task may exist.
    assert_eq!(err.task_id(), None);
    assert!(
        err.message().contains("may have been created"),
        "{}",
        err.message()
    );
    assert!(!out.exists());
    assert_eq!(emu.stats().submit_requests, 1, "never sent twice");
}

#[test]
fn protocol_an_unreadable_status_names_the_task() {
    let emu =
        emulator(EmulatorOptions::new().scenario(Scenario::MalformedStatus { times: u32::MAX }));
    let dir = common::TempDir::new();
    let out = dir.join("v.mp4");
    let err = generate_fails(
        VIDU_ERROR_PROTOCOL,
        VIDU_PROVIDER_VIDU,
        &emu,
        out.to_str().unwrap(),
    );
    let id = first_task_ids(Provider::Vidu, 1).remove(0);
    assert_eq!(err.task_id(), Some(id.clone()));
    assert!(err.message().contains(&id), "{}", err.message());
    assert!(!out.exists());
    assert_eq!(emu.stats().submits, 1);
}
