//! The C ABI against the built-in emulator, through the C functions only: the whole flow for
//! each provider, waits, cancel, timeouts, threads.
#![cfg(feature = "emulator")]

mod common;

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::{Path, PathBuf};
use std::ptr;
use std::time::{Duration, Instant};

use common::ffi::*;
use vidu::ffi::*;

/// `path` as a C string.
fn c_path(path: &Path) -> CString {
    CString::new(path.to_str().unwrap()).unwrap()
}

fn image_file() -> (PathBuf, CString) {
    let dir = common::scratch_dir();
    let path = dir.join("frame.png");
    std::fs::write(&path, sample_png()).unwrap();
    let c = c_path(&path);
    (dir, c)
}

/// Wait options with `timeout_secs` (0: none), no cancel token and no callback.
fn wait_options(timeout_secs: f64) -> vidu_wait_options {
    vidu_wait_options {
        timeout_secs,
        ..sized()
    }
}

/// `vidu_client_generate` of `job` to `out`, which must fail with `code`; it asks for neither
/// the task id nor the byte count.
fn generate_failure(
    code: vidu_result,
    client: *const vidu_client,
    job: &vidu_job,
    out: &Path,
    options: *const vidu_wait_options,
) -> Error {
    let out = c_path(out);
    failure(code, |err| unsafe {
        vidu_client_generate(
            client,
            job,
            out.as_ptr(),
            options,
            ptr::null_mut(),
            ptr::null_mut(),
            err,
        )
    })
}

#[test]
fn zeroed_config_and_job_mean_defaults() {
    // Only the provider and key set: every other field zero.
    let s = setup(VIDU_PROVIDER_VIDU, None, 0.0);
    let png = sample_png();
    let job = png_job(&png);
    success(|err| unsafe { vidu_client_check(s.client, &job, err) });
}

#[test]
fn job_image_must_be_exactly_one() {
    let s = setup(VIDU_PROVIDER_VIDU, None, 0.05);
    let png = sample_png();
    let mut job = zeroed_job();
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_check(s.client, &job, err)
    });
    assert!(err.message().contains("no image"), "{}", err.message());
    job.image_data = png.as_ptr();
    job.image_len = png.len();
    job.image_url = c"https://example.com/cat.png".as_ptr();
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_check(s.client, &job, err)
    });
    assert!(
        err.message().contains("more than one image"),
        "{}",
        err.message()
    );
    // NULL data with a length: never a slice from NULL.
    job.image_url = ptr::null();
    job.image_data = ptr::null();
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_check(s.client, &job, err)
    });
    assert!(
        err.message().contains("job->image_data"),
        "{}",
        err.message()
    );
    job.image_len = 0;
    job.image_data = png.as_ptr();
    job.image_len = png.len();
    job.movement_amplitude = 5;
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_check(s.client, &job, err)
    });
    assert!(
        err.message().contains("job->movement_amplitude"),
        "{}",
        err.message()
    );
    job.movement_amplitude = VIDU_MOVEMENT_SMALL;
    job.bgm = 7;
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_check(s.client, &job, err)
    });
    assert!(err.message().contains("job->bgm"), "{}", err.message());
    job.bgm = VIDU_TRISTATE_TRUE;
    // A Rust-side rule, with the Rust message.
    job.duration = 99;
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_check(s.client, &job, err)
    });
    assert!(err.message().contains("duration"), "{}", err.message());
}

#[test]
fn outputs_are_untouched_on_failure() {
    let s = setup(VIDU_PROVIDER_VIDU, None, 0.05);
    let sentinel_id = 0x20 as *mut c_char;
    let mut task_id = sentinel_id;
    let mut bytes = 12345u64;
    let job = zeroed_job(); // no image
    failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_generate(
            s.client,
            &job,
            c"x.mp4".as_ptr(),
            ptr::null(),
            &mut task_id,
            &mut bytes,
            err,
        )
    });
    assert_eq!(task_id, sentinel_id);
    assert_eq!(bytes, 12345);
    let sentinel_status = 0x30 as *mut vidu_task_status;
    let mut status = sentinel_status;
    failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_status(s.client, c"bad id with spaces".as_ptr(), &mut status, err)
    });
    assert_eq!(status, sentinel_status);
}

#[test]
fn generate_end_to_end_for_each_provider() {
    let (dir, image) = image_file();
    let png = sample_png();
    for (provider, inline_bytes) in [
        (VIDU_PROVIDER_UMODELVERSE, false),
        (VIDU_PROVIDER_VTRIX, true),
        (VIDU_PROVIDER_VIDU, false),
    ] {
        let s = setup(provider, None, 0.02);
        let mut job = zeroed_job();
        if inline_bytes {
            job.image_data = png.as_ptr();
            job.image_len = png.len();
        } else {
            job.image_path = image.as_ptr();
        }
        job.prompt = c"the cat turns its head".as_ptr();
        let out = dir.join(format!("out-{provider}.mp4"));
        let out_c = c_path(&out);
        let mut task_id = ptr::null_mut();
        let mut bytes = 0u64;
        let options = wait_options(30.0);
        success(|err| unsafe {
            vidu_client_generate(
                s.client,
                &job,
                out_c.as_ptr(),
                &options,
                &mut task_id,
                &mut bytes,
                err,
            )
        });
        let id = text(task_id).expect("a task id");
        assert!(!id.is_empty());
        unsafe { vidu_string_free(task_id) };
        let video = std::fs::read(&out).unwrap();
        assert_eq!(
            video,
            vidu::emulator::Emulator::video_bytes(),
            "provider {provider}"
        );
        assert_eq!(bytes, video.len() as u64);
    }
}

#[test]
fn submit_status_wait_download_step_by_step() {
    let s = setup(VIDU_PROVIDER_VIDU, None, 0.02);
    let task_id = submit_sample(&s);
    let mut status = ptr::null_mut();
    success(|err| unsafe { vidu_client_status(s.client, task_id, &mut status, err) });
    unsafe {
        assert_eq!(text(vidu_task_status_task_id(status)), text(task_id));
        assert!(vidu_task_status_state(status) >= VIDU_STATE_QUEUED);
        vidu_task_status_free(status);
    }
    let mut done = ptr::null_mut();
    success(|err| unsafe { vidu_client_wait(s.client, task_id, ptr::null(), &mut done, err) });
    unsafe {
        assert_eq!(vidu_task_status_state(done), VIDU_STATE_SUCCEEDED);
        assert!(vidu_task_status_video_url_count(done) >= 1);
        assert!(text(vidu_task_status_video_url(done, 0))
            .unwrap()
            .starts_with("http"));
        assert!(vidu_task_status_video_url(done, 99).is_null());
        assert!(text(vidu_task_status_raw_state(done)).is_some());
    }
    let dir = common::scratch_dir();
    let out = c_path(&dir.join("v.mp4"));
    let mut bytes = 0;
    success(|err| unsafe {
        vidu_client_download(s.client, done, out.as_ptr(), ptr::null(), &mut bytes, err)
    });
    assert_eq!(
        bytes as usize,
        vidu::emulator::Emulator::video_bytes().len()
    );
    // Remote cancel of a finished task goes to the provider (official API only).
    let mut err = ptr::null_mut();
    let _ = unsafe { vidu_client_cancel(s.client, task_id, &mut err) };
    unsafe {
        vidu_error_free(err);
        vidu_task_status_free(done);
        vidu_string_free(task_id);
    }
}

#[test]
fn remote_cancel_is_unsupported_on_the_gateways() {
    for provider in [VIDU_PROVIDER_UMODELVERSE, VIDU_PROVIDER_VTRIX] {
        let s = setup(provider, None, 0.05);
        let err = failure(VIDU_ERROR_UNSUPPORTED, |err| unsafe {
            vidu_client_cancel(s.client, c"t1".as_ptr(), err)
        });
        assert!(err.message().contains("cancel"), "{}", err.message());
    }
}

#[test]
fn a_failed_task_carries_its_id() {
    let s = setup(VIDU_PROVIDER_VIDU, Some(c"task-fails"), 0.02);
    let png = sample_png();
    let out = common::scratch_dir().join("never.mp4");
    let err = generate_failure(
        VIDU_ERROR_TASK_FAILED,
        s.client,
        &png_job(&png),
        &out,
        ptr::null(),
    );
    let id = err.task_id().expect("the error names the task");
    assert!(err.message().contains(&id), "{}", err.message());
    assert!(!out.exists(), "no file on failure");
}

#[test]
fn unknown_scenario_is_invalid_input() {
    let mut emulator = ptr::null_mut();
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_emulator_start(
            c"no-such-scenario".as_ptr(),
            ptr::null(),
            &mut emulator,
            err,
        )
    });
    assert!(err.message().contains("scenario"), "{}", err.message());
    assert!(emulator.is_null());
}

struct Seen {
    calls: u32,
    task_id: Option<String>,
    stop_after: u32,
}

unsafe extern "C" fn on_progress(userdata: *mut c_void, p: *const vidu_progress) -> c_int {
    let seen = &mut *(userdata as *mut Seen);
    let p = &*p;
    seen.calls += 1;
    seen.task_id = text(p.task_id);
    assert!(text(vidu_state_name(p.state)).is_some());
    assert!(p.progress == -1.0 || (0.0..=1.0).contains(&p.progress));
    assert!(p.elapsed_secs >= 0.0);
    assert_eq!(p.polls, seen.calls);
    c_int::from(seen.calls >= seen.stop_after)
}

#[test]
fn a_callback_that_returns_non_zero_stops_the_wait() {
    let s = setup(VIDU_PROVIDER_VTRIX, Some(c"never-finishes"), 0.02);
    let task_id = submit_sample(&s);
    let mut seen = Seen {
        calls: 0,
        task_id: None,
        stop_after: 2,
    };
    let options = vidu_wait_options {
        on_progress: Some(on_progress),
        userdata: (&mut seen as *mut Seen).cast(),
        ..wait_options(0.0)
    };
    let mut status = ptr::null_mut();
    let err = failure(VIDU_ERROR_CANCELLED, |err| unsafe {
        vidu_client_wait(s.client, task_id, &options, &mut status, err)
    });
    assert!(status.is_null());
    assert_eq!(seen.calls, 2);
    assert_eq!(seen.task_id, text(task_id));
    assert_eq!(err.task_id(), text(task_id));
    unsafe { vidu_string_free(task_id) };
}

#[test]
fn a_timeout_keeps_the_task_id() {
    let s = setup(VIDU_PROVIDER_UMODELVERSE, Some(c"never-finishes"), 0.02);
    let png = sample_png();
    let out = common::scratch_dir().join("never.mp4");
    let err = generate_failure(
        VIDU_ERROR_TIMEOUT,
        s.client,
        &png_job(&png),
        &out,
        &wait_options(0.3),
    );
    assert!(err.task_id().is_some());
}

#[test]
fn a_cancel_token_wakes_a_sleeping_wait_from_another_thread() {
    // Polls 30 s apart: only the token can end this wait quickly.
    let s = setup(VIDU_PROVIDER_VIDU, Some(c"never-finishes"), 30.0);
    let task_id = submit_sample(&s);

    let token = vidu_cancel_token_new();
    let token_addr = token as usize; // a cancel token may be triggered from any thread
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        unsafe { vidu_cancel_token_cancel(token_addr as *const vidu_cancel_token) };
    });
    let options = vidu_wait_options {
        cancel: token,
        ..wait_options(0.0)
    };
    let start = Instant::now();
    let err = failure(VIDU_ERROR_CANCELLED, |err| unsafe {
        vidu_client_wait(s.client, task_id, &options, &mut ptr::null_mut(), err)
    });
    let took = start.elapsed();
    canceller.join().unwrap();
    assert!(took < Duration::from_secs(5), "the wait took {took:?}");
    assert_eq!(err.task_id(), text(task_id));
    unsafe {
        vidu_cancel_token_free(token);
        vidu_string_free(task_id);
    }
}

#[test]
fn a_client_is_shared_between_threads() {
    let s = setup(VIDU_PROVIDER_UMODELVERSE, None, 0.02);
    let client = s.client as usize;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let png = sample_png();
                let job = png_job(&png);
                let mut task_id = ptr::null_mut();
                success(|err| unsafe {
                    vidu_client_submit(client as *const vidu_client, &job, &mut task_id, err)
                });
                unsafe { vidu_string_free(task_id) };
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_wait_timeout_too_long_for_the_clock_is_no_deadline() {
    let s = setup(VIDU_PROVIDER_VIDU, None, 0.01);
    let task_id = submit_sample(&s);
    let options = wait_options(1e19);
    let mut status = ptr::null_mut();
    success(|err| unsafe { vidu_client_wait(s.client, task_id, &options, &mut status, err) });
    assert_eq!(
        unsafe { vidu_task_status_state(status) },
        VIDU_STATE_SUCCEEDED
    );
    unsafe {
        vidu_task_status_free(status);
        vidu_string_free(task_id);
    }
}

#[test]
fn the_newer_fields_reach_the_official_api() {
    let s = setup(VIDU_PROVIDER_VIDU, None, 0.01);
    let mut job = zeroed_job();
    job.image_url = c"https://example.com/cat.png".as_ptr();
    job.off_peak = VIDU_TRISTATE_TRUE;
    job.watermark = VIDU_TRISTATE_FALSE;
    let mut task_id = ptr::null_mut();
    success(|err| unsafe { vidu_client_submit(s.client, &job, &mut task_id, err) });
    assert!(text(task_id).is_some());
    unsafe { vidu_string_free(task_id) };
}

#[test]
fn credits_through_the_c_abi() {
    use vidu::emulator::{Emulator, EmulatorOptions, Fault, Route};
    let emu = Emulator::start_with(EmulatorOptions::new().fault(
        Fault::on(Route::Credits).respond(
            200,
            r#"{"remains": [{"type": "a", "credit_remain": 1200, "concurrency_limit": 5,
            "current_concurrency": 2}, {"type": "b", "credit_remain": 30}]}"#,
        ),
    ))
    .unwrap();
    let url = CString::new(emu.base_url()).unwrap();
    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VIDU;
    config.api_key = KEY.as_ptr();
    config.base_url = url.as_ptr();
    let mut client = ptr::null_mut();
    success(|err| unsafe { vidu_client_new(&config, &mut client, err) });
    let mut out: vidu_credits = sized();
    success(|err| unsafe { vidu_client_credits(client, &mut out, err) });
    assert_eq!(
        (
            out.credit_remain,
            out.concurrency_limit,
            out.current_concurrency,
            out.queue_count
        ),
        (1230, 5, 2, -1)
    );
    unsafe { vidu_client_free(client) };

    let s = setup(VIDU_PROVIDER_VTRIX, None, 0.01);
    failure(VIDU_ERROR_UNSUPPORTED, |err| unsafe {
        vidu_client_credits(s.client, &mut out, err)
    });
}

#[test]
fn credits_from_the_emulator_and_unsupported_on_the_gateways() {
    let s = setup(VIDU_PROVIDER_VIDU, None, 0.01);
    let mut out: vidu_credits = sized();
    out.queue_count = 77;
    success(|err| unsafe { vidu_client_credits(s.client, &mut out, err) });
    assert_eq!(out.struct_size, std::mem::size_of::<vidu_credits>());
    // The emulator's defaults: 100,000 credits, 5 tasks at once, none running.
    assert_eq!(
        (
            out.credit_remain,
            out.concurrency_limit,
            out.current_concurrency,
            out.queue_count
        ),
        (100_000, 5, 0, 0)
    );

    // A program built before queue_count existed: not written.
    let mut older: vidu_credits = sized();
    older.struct_size = std::mem::offset_of!(vidu_credits, queue_count);
    older.queue_count = 77;
    success(|err| unsafe { vidu_client_credits(s.client, &mut older, err) });
    assert_eq!((older.concurrency_limit, older.queue_count), (5, 77));
    older.struct_size = 0;
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_credits(s.client, &mut older, err)
    });
    assert!(
        err.message().contains("out->struct_size"),
        "{}",
        err.message()
    );

    for provider in [VIDU_PROVIDER_UMODELVERSE, VIDU_PROVIDER_VTRIX] {
        let s = setup(provider, None, 0.01);
        let mut out: vidu_credits = sized();
        out.credit_remain = 42;
        failure(VIDU_ERROR_UNSUPPORTED, |err| unsafe {
            vidu_client_credits(s.client, &mut out, err)
        });
        assert_eq!(out.credit_remain, 42, "untouched on failure");
    }
}

#[test]
fn a_video_larger_than_the_configured_cap_is_refused_naming_the_task() {
    let s = setup(VIDU_PROVIDER_VTRIX, None, 0.02);
    let base_url = unsafe { vidu_emulator_base_url(s.emulator) };
    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VTRIX;
    config.api_key = c"k".as_ptr();
    config.base_url = base_url;
    config.poll_first_secs = 0.02;
    // The sample video is about 3 KB.
    config.max_video_bytes = 100;
    config.max_download_stalls = 1;
    let mut client = ptr::null_mut();
    success(|err| unsafe { vidu_client_new(&config, &mut client, err) });
    let png = sample_png();
    let out = common::scratch_dir().join("capped.mp4");
    let err = generate_failure(
        VIDU_ERROR_DOWNLOAD,
        client,
        &png_job(&png),
        &out,
        ptr::null(),
    );
    unsafe { vidu_client_free(client) };
    assert!(err.task_id().is_some(), "{}", err.message());
    assert!(err.message().contains("100"), "{}", err.message());
    assert!(!out.exists());
}
