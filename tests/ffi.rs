//! The C ABI, called from Rust exactly as C would call it: NULLs, bad enums, bad UTF-8, a
//! forced panic, error ownership, outputs untouched on failure, zeroed option structs, and the
//! whole flow against the built-in emulator for each provider.

// Without the emulator the end-to-end part is left out.
#![cfg_attr(not(feature = "emulator"), allow(dead_code, unused_imports))]

mod common;

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;
use std::time::{Duration, Instant};

use vidu::ffi::*;

/// The text of a C string, or `None` for NULL.
fn text(p: *const c_char) -> Option<String> {
    // SAFETY: every pointer passed here comes from the library and is alive.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
}

/// An owned error object, freed on drop.
struct Error(*mut vidu_error);

impl Error {
    fn code(&self) -> vidu_result {
        unsafe { vidu_error_code(self.0) }
    }
    fn message(&self) -> String {
        text(unsafe { vidu_error_message(self.0) }).expect("an error has a message")
    }
    fn task_id(&self) -> Option<String> {
        text(unsafe { vidu_error_task_id(self.0) })
    }
}

impl Drop for Error {
    fn drop(&mut self) {
        unsafe { vidu_error_free(self.0) }
    }
}

/// Runs a call that must fail with `code`, returning its error object.
fn failure(code: vidu_result, call: impl FnOnce(*mut *mut vidu_error) -> vidu_result) -> Error {
    let mut err = ptr::null_mut();
    let got = call(&mut err);
    assert!(!err.is_null(), "a failed call must hand back an error");
    let err = Error(err);
    assert_eq!(got, code, "unexpected code; message: {}", err.message());
    assert_eq!(err.code(), code);
    err
}

/// Runs a call that must succeed, leaving `*err` untouched.
fn success(call: impl FnOnce(*mut *mut vidu_error) -> vidu_result) {
    let sentinel = 0x10 as *mut vidu_error; // never dereferenced: must stay as it is
    let mut err = sentinel;
    let got = call(&mut err);
    if got != VIDU_OK {
        panic!("call failed ({got}): {}", Error(err).message());
    }
    assert_eq!(err, sentinel, "*err must be written only on failure");
}

fn zeroed_config() -> vidu_config {
    // SAFETY: all-zero is a valid vidu_config (NULL pointers, zero numbers), as in C `{0}`.
    unsafe { std::mem::zeroed() }
}

/// `vidu_client_new` refuses `config` with a message naming `field`, and makes no client.
fn config_is_rejected(config: &vidu_config, field: &str) {
    let mut client = ptr::null_mut();
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_new(config, &mut client, err)
    });
    assert!(err.message().contains(field), "{field}: {}", err.message());
    assert!(client.is_null(), "no client on failure");
}

fn zeroed_job() -> vidu_job {
    // SAFETY: as above.
    unsafe { std::mem::zeroed() }
}

const KEY: &CStr = c"test-key";

/// The repository's sample image (256x192 PNG).
fn sample_png() -> Vec<u8> {
    std::fs::read(common::repo_file("examples/sample.png")).unwrap()
}

/// A fresh directory for this test's files.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = common::temp_path(&format!("ffi-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn free_null_is_a_no_op() {
    unsafe {
        vidu_client_free(ptr::null_mut());
        vidu_status_free(ptr::null_mut());
        vidu_error_free(ptr::null_mut());
        vidu_cancel_token_free(ptr::null_mut());
        vidu_emulator_free(ptr::null_mut());
        vidu_string_free(ptr::null_mut());
    }
}

#[test]
fn getters_on_null_return_their_documented_fallbacks() {
    unsafe {
        assert_eq!(vidu_error_code(ptr::null()), VIDU_OK);
        assert!(vidu_error_message(ptr::null()).is_null());
        assert_eq!(vidu_error_message_copy(ptr::null(), ptr::null_mut(), 0), 0);
        assert_eq!(vidu_status_state(ptr::null()), 0);
        assert_eq!(vidu_status_progress(ptr::null()), -1.0);
        assert_eq!(vidu_status_video_url_count(ptr::null()), 0);
        assert!(vidu_status_video_url(ptr::null(), 0).is_null());
        assert_eq!(vidu_status_credits(ptr::null()), -1);
        assert!(vidu_emulator_base_url(ptr::null()).is_null());
        assert_eq!(vidu_cancel_token_is_cancelled(ptr::null()), 0);
        vidu_cancel_token_cancel(ptr::null());
    }
}

#[test]
fn version_agrees_with_cargo_toml() {
    assert_eq!(
        text(vidu_version()).as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn state_names() {
    let names: Vec<_> = (1..=7).map(|s| text(vidu_state_name(s)).unwrap()).collect();
    assert_eq!(
        names,
        [
            "queued",
            "running",
            "succeeded",
            "failed",
            "cancelled",
            "expired",
            "unknown"
        ]
    );
    assert!(vidu_state_name(0).is_null());
    assert!(vidu_state_name(8).is_null());
}

#[test]
fn a_panic_becomes_an_error_code() {
    let err = failure(VIDU_ERROR_PANIC, |err| unsafe { vidu_test_panic(err) });
    assert!(
        err.message().contains("vidu_test_panic was called"),
        "{}",
        err.message()
    );
    // Without an error object the code alone comes back.
    assert_eq!(
        unsafe { vidu_test_panic(ptr::null_mut()) },
        VIDU_ERROR_PANIC
    );
}

#[test]
fn null_arguments_are_named() {
    let mut client = ptr::null_mut();
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_new(ptr::null(), &mut client, err)
    });
    assert!(
        err.message().contains("argument config"),
        "{}",
        err.message()
    );
    assert!(client.is_null());

    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VIDU;
    config_is_rejected(&config, "config->api_key");

    // Reserved space must stay zero (a newer header's options are refused, not ignored).
    config.api_key = c"k".as_ptr();
    config.reserved[3] = 1;
    config_is_rejected(&config, "config->reserved");
    assert!(client.is_null());

    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_status(ptr::null(), c"t1".as_ptr(), &mut ptr::null_mut(), err)
    });
    assert!(
        err.message().contains("argument client"),
        "{}",
        err.message()
    );

    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_provider_from_name(c"vidu".as_ptr(), ptr::null_mut(), err)
    });
    assert!(err.message().contains("argument out"), "{}", err.message());
    // No error object wanted: only the code.
    let code = unsafe { vidu_provider_from_name(ptr::null(), ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(code, VIDU_ERROR_INVALID_INPUT);
}

#[test]
fn invalid_enum_values_are_rejected() {
    let mut client = ptr::null_mut();
    let mut config = zeroed_config();
    config.api_key = KEY.as_ptr();
    for bad in [0, 4, 0xFFFF_FFFF] {
        config.provider = bad;
        let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
            vidu_client_new(&config, &mut client, err)
        });
        let m = err.message();
        assert!(
            m.contains("config->provider") && m.contains(&bad.to_string()),
            "{m}"
        );
    }
    config.provider = VIDU_PROVIDER_VTRIX;
    config.auth_scheme = 9;
    config_is_rejected(&config, "config->auth_scheme");
    config.auth_scheme = 0;
    config.proxy_from_env = 3;
    config_is_rejected(&config, "config->proxy_from_env");
    config.proxy_from_env = 0;
    config.poll_first_secs = -1.0;
    config_is_rejected(&config, "config->poll_first_secs");
    config.poll_first_secs = f64::NAN;
    failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_new(&config, &mut client, err)
    });
    assert!(client.is_null(), "no client on failure");

    // Names go through the Rust parsers and their messages.
    let mut provider = 77;
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_provider_from_name(c"openai".as_ptr(), &mut provider, err)
    });
    assert!(
        err.message().contains("umodelverse, vtrix, vidu"),
        "{}",
        err.message()
    );
    assert_eq!(provider, 77, "output untouched on failure");
    success(|err| unsafe { vidu_provider_from_name(c"Vtrix".as_ptr(), &mut provider, err) });
    assert_eq!(provider, VIDU_PROVIDER_VTRIX);
    let mut movement = 0;
    success(|err| unsafe {
        vidu_movement_amplitude_from_name(c"large".as_ptr(), &mut movement, err)
    });
    assert_eq!(movement, VIDU_MOVEMENT_LARGE);
}

#[test]
fn invalid_utf8_is_named() {
    let bad = CString::new(vec![b'k', 0xFF, b'y']).unwrap();
    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VIDU;
    config.api_key = bad.as_ptr();
    let mut client = ptr::null_mut();
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_new(&config, &mut client, err)
    });
    let m = err.message();
    assert!(m.contains("config->api_key") && m.contains("UTF-8"), "{m}");
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_provider_from_name(bad.as_ptr(), &mut 0, err)
    });
    assert!(err.message().contains("argument name"), "{}", err.message());
}

#[test]
fn error_objects_are_owned_and_copied_like_snprintf() {
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_new(ptr::null(), &mut ptr::null_mut(), err)
    });
    let full = err.message();
    unsafe {
        assert!(vidu_error_provider_code(err.0).is_null());
        assert!(vidu_error_request_id(err.0).is_null());
        assert!(vidu_error_task_id(err.0).is_null());
        assert_eq!(vidu_error_http_status(err.0), 0);
        // Sizing call.
        assert_eq!(
            vidu_error_message_copy(err.0, ptr::null_mut(), 0),
            full.len()
        );
        // Too small: cut, NUL-terminated, full length returned, nothing written past `len`.
        let mut buf = [0x55 as c_char; 16];
        assert_eq!(
            vidu_error_message_copy(err.0, buf.as_mut_ptr(), 8),
            full.len()
        );
        assert_eq!(text(buf.as_ptr()).unwrap(), full[..7]);
        assert!(buf[8..].iter().all(|&b| b == 0x55));
        // len 1: only the NUL.
        assert_eq!(
            vidu_error_message_copy(err.0, buf.as_mut_ptr(), 1),
            full.len()
        );
        assert_eq!(buf[0], 0);
        // Large enough: the whole message.
        let mut big = vec![0 as c_char; full.len() + 1];
        vidu_error_message_copy(err.0, big.as_mut_ptr(), big.len());
        assert_eq!(text(big.as_ptr()).unwrap(), full);
    }
}

#[test]
fn message_copy_never_cuts_a_utf8_character() {
    // "é" is two bytes; an error whose message has one comes from the provider parser.
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_provider_from_name(c"é".as_ptr(), &mut 0, err)
    });
    let full = err.message();
    let at = full.find('é').unwrap();
    let mut buf = vec![0 as c_char; at + 2]; // room for the first byte of é and the NUL
    unsafe { vidu_error_message_copy(err.0, buf.as_mut_ptr(), buf.len()) };
    assert_eq!(text(buf.as_ptr()).unwrap(), full[..at]);
}

#[test]
fn cancel_tokens() {
    unsafe {
        let token = vidu_cancel_token_new();
        assert!(!token.is_null());
        assert_eq!(vidu_cancel_token_is_cancelled(token), 0);
        vidu_cancel_token_cancel(token);
        vidu_cancel_token_cancel(token);
        assert_eq!(vidu_cancel_token_is_cancelled(token), 1);
        vidu_cancel_token_free(token);
    }
}

#[cfg(not(feature = "emulator"))]
#[test]
fn the_emulator_is_unsupported_without_its_feature() {
    let mut emulator = ptr::null_mut();
    failure(VIDU_ERROR_UNSUPPORTED, |err| unsafe {
        vidu_emulator_start(ptr::null(), ptr::null(), &mut emulator, err)
    });
    assert!(emulator.is_null());
}

/// Tests against the built-in emulator, through the C functions only.
#[cfg(feature = "emulator")]
mod emulated {
    use super::*;

    /// An emulator and a client pointed at it, freed on drop.
    pub(super) struct Setup {
        pub emulator: *mut vidu_emulator,
        pub client: *mut vidu_client,
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            unsafe {
                vidu_client_free(self.client);
                vidu_emulator_free(self.emulator);
            }
        }
    }

    /// Submits the sample PNG, passed as bytes in memory, and returns the task id (free it
    /// with `vidu_string_free`).
    pub(super) fn submit_sample(s: &Setup) -> *mut c_char {
        let png = sample_png();
        let mut job = zeroed_job();
        job.image_data = png.as_ptr();
        job.image_len = png.len();
        let mut task_id = ptr::null_mut();
        success(|err| unsafe { vidu_submit(s.client, &job, &mut task_id, err) });
        task_id
    }

    pub(super) fn setup(provider: vidu_provider, scenario: Option<&CStr>, poll: f64) -> Setup {
        let mut emulator = ptr::null_mut();
        success(|err| unsafe {
            vidu_emulator_start(
                scenario.map_or(ptr::null(), CStr::as_ptr),
                ptr::null(),
                &mut emulator,
                err,
            )
        });
        let base_url = unsafe { vidu_emulator_base_url(emulator) };
        assert!(text(base_url).unwrap().starts_with("http://127.0.0.1:"));
        let mut config = zeroed_config();
        config.provider = provider;
        config.api_key = KEY.as_ptr();
        config.base_url = base_url;
        config.poll_first_secs = poll;
        let mut client = ptr::null_mut();
        success(|err| unsafe { vidu_client_new(&config, &mut client, err) });
        assert!(!client.is_null());
        Setup { emulator, client }
    }

    fn image_file() -> (std::path::PathBuf, CString) {
        let dir = temp_dir("ffi-image");
        let path = dir.join("frame.png");
        std::fs::write(&path, sample_png()).unwrap();
        let c = CString::new(path.to_str().unwrap()).unwrap();
        (dir, c)
    }

    #[test]
    fn zeroed_config_and_job_mean_defaults() {
        // Only the provider and key set: every other field zero.
        let s = setup(VIDU_PROVIDER_VIDU, None, 0.0);
        let png = sample_png();
        let mut job = zeroed_job();
        job.image_data = png.as_ptr();
        job.image_len = png.len();
        success(|err| unsafe { vidu_check(s.client, &job, err) });
    }

    #[test]
    fn job_image_must_be_exactly_one() {
        let s = setup(VIDU_PROVIDER_VIDU, None, 0.05);
        let png = sample_png();
        let mut job = zeroed_job();
        let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
            vidu_check(s.client, &job, err)
        });
        assert!(err.message().contains("no image"), "{}", err.message());
        job.image_data = png.as_ptr();
        job.image_len = png.len();
        job.image_url = c"https://example.com/cat.png".as_ptr();
        let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
            vidu_check(s.client, &job, err)
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
            vidu_check(s.client, &job, err)
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
            vidu_check(s.client, &job, err)
        });
        assert!(
            err.message().contains("job->movement_amplitude"),
            "{}",
            err.message()
        );
        job.movement_amplitude = VIDU_MOVEMENT_SMALL;
        job.bgm = 7;
        let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
            vidu_check(s.client, &job, err)
        });
        assert!(err.message().contains("job->bgm"), "{}", err.message());
        job.bgm = VIDU_TRISTATE_TRUE;
        // A Rust-side rule, with the Rust message.
        job.duration = 99;
        let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
            vidu_check(s.client, &job, err)
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
            vidu_generate(
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
            vidu_status(s.client, c"bad id with spaces".as_ptr(), &mut status, err)
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
            let out_c = CString::new(out.to_str().unwrap()).unwrap();
            let mut task_id = ptr::null_mut();
            let mut bytes = 0u64;
            let options = vidu_wait_options {
                timeout_secs: 30.0,
                cancel: ptr::null(),
                on_progress: None,
                userdata: ptr::null_mut(),
                reserved: [0; 8],
            };
            success(|err| unsafe {
                vidu_generate(
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
        success(|err| unsafe { vidu_status(s.client, task_id, &mut status, err) });
        unsafe {
            assert_eq!(text(vidu_status_task_id(status)), text(task_id));
            assert!(vidu_status_state(status) >= VIDU_STATE_QUEUED);
            vidu_status_free(status);
        }
        let mut done = ptr::null_mut();
        success(|err| unsafe { vidu_wait(s.client, task_id, ptr::null(), &mut done, err) });
        unsafe {
            assert_eq!(vidu_status_state(done), VIDU_STATE_SUCCEEDED);
            assert!(vidu_status_video_url_count(done) >= 1);
            assert!(text(vidu_status_video_url(done, 0))
                .unwrap()
                .starts_with("http"));
            assert!(vidu_status_video_url(done, 99).is_null());
            assert!(text(vidu_status_raw_state(done)).is_some());
        }
        let dir = temp_dir("ffi-steps");
        let out = CString::new(dir.join("v.mp4").to_str().unwrap()).unwrap();
        let mut bytes = 0;
        success(|err| unsafe {
            vidu_download(s.client, done, out.as_ptr(), ptr::null(), &mut bytes, err)
        });
        assert_eq!(
            bytes as usize,
            vidu::emulator::Emulator::video_bytes().len()
        );
        // Remote cancel of a finished task goes to the provider (official API only).
        let mut err = ptr::null_mut();
        let _ = unsafe { vidu_cancel(s.client, task_id, &mut err) };
        unsafe {
            vidu_error_free(err);
            vidu_status_free(done);
            vidu_string_free(task_id);
        }
    }

    #[test]
    fn remote_cancel_is_unsupported_on_the_gateways() {
        for provider in [VIDU_PROVIDER_UMODELVERSE, VIDU_PROVIDER_VTRIX] {
            let s = setup(provider, None, 0.05);
            let err = failure(VIDU_ERROR_UNSUPPORTED, |err| unsafe {
                vidu_cancel(s.client, c"t1".as_ptr(), err)
            });
            assert!(err.message().contains("cancel"), "{}", err.message());
        }
    }

    #[test]
    fn a_failed_task_carries_its_id() {
        let s = setup(VIDU_PROVIDER_VIDU, Some(c"task-fails"), 0.02);
        let png = sample_png();
        let mut job = zeroed_job();
        job.image_data = png.as_ptr();
        job.image_len = png.len();
        let dir = temp_dir("ffi-fails");
        let out = dir.join("never.mp4");
        let out_c = CString::new(out.to_str().unwrap()).unwrap();
        let err = failure(VIDU_ERROR_TASK_FAILED, |err| unsafe {
            vidu_generate(
                s.client,
                &job,
                out_c.as_ptr(),
                ptr::null(),
                ptr::null_mut(),
                ptr::null_mut(),
                err,
            )
        });
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
            timeout_secs: 0.0,
            cancel: ptr::null(),
            on_progress: Some(on_progress),
            userdata: (&mut seen as *mut Seen).cast(),
            reserved: [0; 8],
        };
        let mut status = ptr::null_mut();
        let err = failure(VIDU_ERROR_CANCELLED, |err| unsafe {
            vidu_wait(s.client, task_id, &options, &mut status, err)
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
        let mut job = zeroed_job();
        job.image_data = png.as_ptr();
        job.image_len = png.len();
        let options = vidu_wait_options {
            timeout_secs: 0.3,
            cancel: ptr::null(),
            on_progress: None,
            userdata: ptr::null_mut(),
            reserved: [0; 8],
        };
        let out = temp_dir("timeout").join("never.mp4");
        let out_c = CString::new(out.to_str().unwrap()).unwrap();
        let err = failure(VIDU_ERROR_TIMEOUT, |err| unsafe {
            vidu_generate(
                s.client,
                &job,
                out_c.as_ptr(),
                &options,
                ptr::null_mut(),
                ptr::null_mut(),
                err,
            )
        });
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
            timeout_secs: 0.0,
            cancel: token,
            on_progress: None,
            userdata: ptr::null_mut(),
            reserved: [0; 8],
        };
        let start = Instant::now();
        let err = failure(VIDU_ERROR_CANCELLED, |err| unsafe {
            vidu_wait(s.client, task_id, &options, &mut ptr::null_mut(), err)
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
                    let mut job = zeroed_job();
                    job.image_data = png.as_ptr();
                    job.image_len = png.len();
                    let mut task_id = ptr::null_mut();
                    success(|err| unsafe {
                        vidu_submit(client as *const vidu_client, &job, &mut task_id, err)
                    });
                    unsafe { vidu_string_free(task_id) };
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
