//! `vidu_log_set_callback`: a C program sees the library's log records, at the level it asked
//! for, and never the key. One test: the callback is process-wide.
#![cfg(feature = "emulator")]

mod common;

use std::ffi::{c_char, c_void, CStr};
use std::ptr;
use std::sync::Mutex;

use common::ffi::*;
use vidu::ffi::*;

const SECRET: &CStr = c"sk-LOGSECRET-7f3a9c1e5b";

struct Logged {
    level: vidu_log_level,
    target: String,
    message: String,
    thread: std::thread::ThreadId,
}

static RECORDS: Mutex<Vec<Logged>> = Mutex::new(Vec::new());

/// Stands for the C program's callback; `userdata` is checked to come back unchanged.
unsafe extern "C" fn collect(
    userdata: *mut c_void,
    level: vidu_log_level,
    target: *const c_char,
    message: *const c_char,
) {
    assert_eq!(userdata as usize, 0xC0FFEE, "userdata comes back as given");
    let text = |p| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
    RECORDS.lock().unwrap().push(Logged {
        level,
        target: text(target),
        message: text(message),
        thread: std::thread::current().id(),
    });
}

fn take() -> Vec<Logged> {
    std::mem::take(&mut *RECORDS.lock().unwrap())
}

fn set(callback: vidu_log_fn, level: vidu_log_level) {
    success(|err| unsafe { vidu_log_set_callback(callback, 0xC0FFEE as *mut c_void, level, err) });
}

/// Submits, waits for and downloads one video through the C calls, with the secret key.
fn one_video() -> String {
    let s = setup(VIDU_PROVIDER_VIDU, None, 0.05);
    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VIDU;
    config.api_key = SECRET.as_ptr();
    config.base_url = unsafe { vidu_emulator_base_url(s.emulator) };
    config.poll_first_secs = 0.05;
    let mut client = ptr::null_mut();
    success(|err| unsafe { vidu_client_new(&config, &mut client, err) });
    let png = sample_png();
    let dir = common::scratch_dir();
    let out = std::ffi::CString::new(dir.join("v.mp4").to_str().unwrap()).unwrap();
    let mut task_id = ptr::null_mut();
    success(|err| unsafe {
        vidu_client_generate(
            client,
            &png_job(&png),
            out.as_ptr(),
            ptr::null(),
            &mut task_id,
            ptr::null_mut(),
            err,
        )
    });
    let id = text(task_id).unwrap();
    unsafe {
        vidu_string_free(task_id);
        vidu_client_free(client);
    }
    std::fs::remove_dir_all(dir).unwrap();
    id
}

#[test]
fn the_log_callback_gets_records_at_its_level_and_never_the_key() {
    // A level that is not one is refused, naming the argument.
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_log_set_callback(Some(collect), ptr::null_mut(), 6, err)
    });
    assert!(err.message().contains("max_level"), "{}", err.message());

    // Everything, at TRACE: the HTTP library's records too, on the calling thread.
    set(Some(collect), VIDU_LOG_TRACE);
    let task_id = one_video();
    let records = take();
    assert!(
        records
            .iter()
            .any(|r| r.level == VIDU_LOG_TRACE && r.target.starts_with("ureq")),
        "TRACE passes ureq's records on"
    );
    assert!(records
        .iter()
        .all(|r| r.thread == std::thread::current().id()));
    let secret = SECRET.to_str().unwrap();
    for r in &records {
        assert!(
            !r.message.contains(secret),
            "the key was logged: {}",
            r.message
        );
        assert!(
            !r.message.contains(&secret[3..13]),
            "a piece of the key: {}",
            r.message
        );
    }
    assert!(
        records.iter().any(|r| r.target.starts_with("vidu")
            && r.level == VIDU_LOG_INFO
            && r.message.contains(&task_id)),
        "an info record of the library names the task {task_id}"
    );

    // INFO: nothing more detailed comes through.
    set(Some(collect), VIDU_LOG_INFO);
    one_video();
    let records = take();
    assert!(!records.is_empty(), "info records arrive");
    assert!(records.iter().all(|r| r.level <= VIDU_LOG_INFO));

    // NULL turns it off.
    set(None, VIDU_LOG_TRACE);
    one_video();
    assert!(take().is_empty(), "no callback, no records");
}
