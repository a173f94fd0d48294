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

#[cfg(unix)]
#[test]
fn io_an_image_that_cannot_be_read_names_the_file_and_sends_nothing() {
    let emu = Emulator::start().unwrap();
    let c = c_client(VIDU_PROVIDER_VIDU, &emu.base_url(), 0.01);
    let dir = common::TempDir::new();
    // A FIFO passes as a path but is no file to read: reading it would block, so the library
    // must fail on it; a directory named like an image is the portable case.
    let image = dir.join("frame.png");
    std::fs::create_dir(&image).unwrap();
    let image_c = CString::new(image.to_str().unwrap()).unwrap();
    let mut job = zeroed_job();
    job.image_path = image_c.as_ptr();
    let out = CString::new(dir.join("v.mp4").to_str().unwrap()).unwrap();
    let err = failure(VIDU_ERROR_IO, |err| unsafe {
        vidu_client_generate(
            c.0,
            &job,
            out.as_ptr(),
            ptr::null(),
            ptr::null_mut(),
            ptr::null_mut(),
            err,
        )
    });
    assert_eq!(err.task_id(), None, "nothing was sent, so no task");
    assert!(err.message().contains("frame.png"), "{}", err.message());
    assert_eq!(emu.stats().submits, 0);
}

/// Removes the directory `userdata` points at (a NUL-terminated path) at the first poll: the
/// output was checked before the submit, and its directory is gone when the video arrives.
unsafe extern "C" fn remove_output_dir(
    userdata: *mut std::ffi::c_void,
    _: *const vidu_progress,
) -> std::ffi::c_int {
    let dir = unsafe { std::ffi::CStr::from_ptr(userdata.cast()) };
    let _ = std::fs::remove_dir_all(dir.to_str().unwrap());
    VIDU_PROGRESS_CONTINUE
}

#[test]
fn download_an_output_whose_directory_vanished_names_the_task() {
    let emu = Emulator::start().unwrap();
    let c = c_client(VIDU_PROVIDER_VTRIX, &emu.base_url(), 0.01);
    let dir = common::TempDir::new();
    let gone = dir.join("gone");
    std::fs::create_dir(&gone).unwrap();
    let gone_c = CString::new(gone.to_str().unwrap()).unwrap();
    let out = CString::new(gone.join("v.mp4").to_str().unwrap()).unwrap();
    let options = vidu_wait_options {
        on_progress: Some(remove_output_dir),
        userdata: gone_c.as_ptr() as *mut std::ffi::c_void,
        ..sized()
    };
    let png = sample_png();
    let err = failure(VIDU_ERROR_DOWNLOAD, |err| unsafe {
        vidu_client_generate(
            c.0,
            &png_job(&png),
            out.as_ptr(),
            &options,
            ptr::null_mut(),
            ptr::null_mut(),
            err,
        )
    });
    let id = first_task_ids(Provider::Vtrix, 1).remove(0);
    assert_eq!(err.task_id(), Some(id.clone()));
    assert!(
        err.message().contains(&id) && err.message().contains("gone does not exist"),
        "{}",
        err.message()
    );
    assert_eq!(emu.stats().submits, 1);
    assert!(
        !gone.exists(),
        "nothing was written where the directory was"
    );
}

#[test]
fn transport_a_status_poll_that_never_gets_an_answer_names_the_task() {
    // Transient poll failures are retried within the wait's deadline (the one poll rule), so
    // the wait ends at its timeout with the last network error and the task id.
    let emu =
        emulator(EmulatorOptions::new().fault(Fault::on(Route::Status).effect(Effect::Reset)));
    let c = c_client(VIDU_PROVIDER_UMODELVERSE, &emu.base_url(), 0.01);
    let dir = common::TempDir::new();
    let out = dir.join("v.mp4");
    let out_c = CString::new(out.to_str().unwrap()).unwrap();
    let options = vidu_wait_options {
        timeout_secs: 2.0,
        ..sized()
    };
    let png = sample_png();
    let err = failure(VIDU_ERROR_TRANSPORT, |err| unsafe {
        vidu_client_generate(
            c.0,
            &png_job(&png),
            out_c.as_ptr(),
            &options,
            ptr::null_mut(),
            ptr::null_mut(),
            err,
        )
    });
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
