//! The C ABI's boundary, called from Rust exactly as C would call it: NULLs, bad enums, bad
//! UTF-8, a forced panic, error ownership, zeroed option structs. The flow against the emulator
//! is in `ffi_emulated.rs`.

mod common;

use std::ffi::{c_char, CString};
use std::ptr;

use common::ffi::*;
use vidu::ffi::*;

#[test]
fn free_null_is_a_no_op() {
    unsafe {
        vidu_client_free(ptr::null_mut());
        vidu_task_status_free(ptr::null_mut());
        vidu_error_free(ptr::null_mut());
        vidu_cancel_token_free(ptr::null_mut());
        #[cfg(feature = "emulator")]
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
        assert_eq!(vidu_task_status_state(ptr::null()), 0);
        assert_eq!(vidu_task_status_progress(ptr::null()), -1.0);
        assert_eq!(vidu_task_status_video_url_count(ptr::null()), 0);
        assert!(vidu_task_status_video_url(ptr::null(), 0).is_null());
        assert_eq!(vidu_task_status_credits(ptr::null()), -1);
        #[cfg(feature = "emulator")]
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

    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_status(ptr::null(), c"t1".as_ptr(), &mut ptr::null_mut(), err)
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

#[test]
fn huge_durations_are_refused_naming_the_field_never_a_panic() {
    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VIDU;
    config.api_key = KEY.as_ptr();
    for (set, field) in [
        (
            (|c: &mut vidu_config| c.connect_timeout_secs = 1e19) as fn(&mut vidu_config),
            "timeouts.connect",
        ),
        (|c| c.receive_timeout_secs = 1e19, "timeouts.receive"),
        (|c| c.poll_first_secs = 1e19, "poll.first"),
        (
            |c| c.retry_max_retry_after_secs = 1e19,
            "retry.max_retry_after",
        ),
    ] {
        let mut c = config;
        set(&mut c);
        config_is_rejected(&c, field);
    }
    let mut c = config;
    c.api_key = c"sk-ключ".as_ptr();
    config_is_rejected(&c, "api_key");
}

#[test]
fn the_newer_job_fields_are_checked() {
    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VTRIX;
    config.api_key = KEY.as_ptr();
    let mut client = ptr::null_mut();
    success(|err| unsafe { vidu_client_new(&config, &mut client, err) });
    let check = |job: &vidu_job, code: vidu_result, named: &str| {
        let err = failure(code, |err| unsafe { vidu_client_check(client, job, err) });
        assert!(err.message().contains(named), "{named}: {}", err.message());
    };
    let url = c"https://example.com/cat.png";
    let mut job = zeroed_job();
    job.image_url = url.as_ptr();
    success(|err| unsafe { vidu_client_check(client, &job, err) });
    // Vtrix takes no off_peak: the Rust rule, named.
    job.off_peak = VIDU_TRISTATE_TRUE;
    check(&job, VIDU_ERROR_INVALID_INPUT, "off_peak");
    job.off_peak = 3;
    check(&job, VIDU_ERROR_INVALID_INPUT, "job->off_peak");
    job.off_peak = 0;
    job.extra_fields_unchecked = c"[1]".as_ptr();
    check(&job, VIDU_ERROR_INVALID_INPUT, "extra_fields_unchecked");
    unsafe { vidu_client_free(client) };
}

#[test]
fn struct_size_zero_or_cutting_a_field_is_refused() {
    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VIDU;
    config.api_key = KEY.as_ptr();
    let api_key_at = std::mem::offset_of!(vidu_config, api_key);
    for bad in [0, 3, api_key_at + 4, 5000] {
        config.struct_size = bad;
        config_is_rejected(&config, "config->struct_size");
    }
    // Ending before api_key is a well-formed older size, but api_key is then not there.
    config.struct_size = api_key_at;
    config_is_rejected(&config, "config->api_key");
}

/// A job as a program built against a newer header would pass it: more fields after ours.
#[repr(C)]
struct NewerJob {
    job: vidu_job,
    newer_field: u64,
}

#[test]
fn struct_size_of_an_older_or_newer_header_is_handled() {
    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VTRIX;
    config.api_key = KEY.as_ptr();
    let mut client = ptr::null_mut();
    success(|err| unsafe { vidu_client_new(&config, &mut client, err) });
    let check = |job: *const vidu_job| {
        let mut err = ptr::null_mut();
        let code = unsafe { vidu_client_check(client, job, &mut err) };
        (code, (!err.is_null()).then(|| Error(err)))
    };

    // Older: the fields from voice_id on did not exist; whatever lies there is not read (here,
    // values Vtrix would refuse).
    let mut job = zeroed_job();
    job.image_url = c"https://example.com/cat.png".as_ptr();
    job.struct_size = std::mem::offset_of!(vidu_job, voice_id);
    job.off_peak = 99;
    job.wm_position = 77;
    assert_eq!(check(&job).0, VIDU_OK);
    job.struct_size = std::mem::size_of::<vidu_job>();
    let (code, err) = check(&job);
    assert_eq!(code, VIDU_ERROR_INVALID_INPUT);
    assert!(err.unwrap().message().contains("job->off_peak"));

    // Newer: accepted while the fields this library does not know are zero.
    let mut newer = NewerJob {
        job: zeroed_job(),
        newer_field: 0,
    };
    newer.job.image_url = c"https://example.com/cat.png".as_ptr();
    newer.job.struct_size = std::mem::size_of::<NewerJob>();
    assert_eq!(check(&newer.job).0, VIDU_OK);
    newer.newer_field = 1;
    let (code, err) = check(&newer.job);
    assert_eq!(code, VIDU_ERROR_INVALID_INPUT);
    let message = err.unwrap().message();
    assert!(
        message.contains("job->struct_size") && message.contains("newer"),
        "{message}"
    );
    unsafe { vidu_client_free(client) };
}

#[test]
fn a_non_null_err_on_entry_is_refused_untouched_and_nothing_runs() {
    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VIDU;
    config.api_key = KEY.as_ptr();
    // An earlier error, still owned by the caller.
    let earlier = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_new(ptr::null(), &mut ptr::null_mut(), err)
    });
    let earlier_message = earlier.message();
    let mut err = earlier.0;
    let mut client = ptr::null_mut();
    let code = unsafe { vidu_client_new(&config, &mut client, &mut err) };
    assert_eq!(code, VIDU_ERROR_INVALID_INPUT);
    assert_eq!(err, earlier.0, "*err is left as it was");
    assert!(client.is_null(), "nothing ran");
    assert_eq!(
        earlier.message(),
        earlier_message,
        "the earlier error is intact"
    );
    // The same with an error from a panic: the panic never happens.
    let code = unsafe { vidu_test_panic(&mut err) };
    assert_eq!(code, VIDU_ERROR_INVALID_INPUT);
    assert_eq!(err, earlier.0);
}
