//! Entry points for the fuzz targets (`fuzz/`) and their seeded short form
//! (`tests/fuzz_short.rs`): each feeds outside input to one parser. Each must never panic,
//! whatever the bytes; where a parser promises more, the promise is asserted here. Also the
//! one internal the benchmarks measure ([`data_uri_reader`]). Not part of the API.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::image::{self, DataUriReader, ImageFormat};
use crate::provider::Provider;
use crate::retry::{self, RetryPolicy};

/// The provider picked by `selector`.
fn provider(selector: u8) -> Provider {
    Provider::ALL[usize::from(selector) % Provider::ALL.len()]
}

/// A provider's answer bodies: `data[0]` picks the provider, `data[1]` the parser (submit,
/// status, error, task list, credits), `data[2..4]` the HTTP status of an error; the rest is
/// the body.
pub fn provider_answer(data: &[u8]) {
    let [select, kind, s0, s1, body @ ..] = data else {
        return;
    };
    let spec = provider(*select).spec();
    match kind % 5 {
        0 => {
            // A task id outside the URL-safe alphabet is returned as is (the task exists and
            // is paid for); the next call refuses it before sending (tests/fuzz_short.rs).
            if let Ok(submitted) = (spec.parse_submit)(body) {
                assert!(
                    !submitted.task_id.is_empty(),
                    "an empty task id is no task id"
                );
            }
        }
        1 => {
            if let Ok(status) = (spec.parse_status)("task-1", body) {
                assert_eq!(status.task_id, "task-1");
                if let Some(p) = status.progress {
                    assert!(p.is_finite(), "progress {p}");
                }
            }
        }
        2 => {
            let error = (spec.parse_error)(u16::from_le_bytes([*s0, *s1]), body);
            let _ = format!("{error:?}");
        }
        3 => {
            if let Some(call) = &spec.task_list {
                let _ = (call.parse)(body);
            }
        }
        _ => {
            if let Some(call) = &spec.credits {
                let _ = (call.parse)(body);
            }
        }
    }
}

/// A `Retry-After` value, parsed against three clocks, then used as a backoff delay with no
/// cap: whatever the server says, no panic, and never a delay above the policy's cap.
pub fn retry_after(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    let policy = RetryPolicy::default().max_retry_after(Duration::MAX);
    let capped = RetryPolicy::default();
    for now in [
        UNIX_EPOCH,
        SystemTime::now(),
        UNIX_EPOCH + Duration::from_secs(1 << 40),
    ] {
        let parsed = retry::parse_retry_after(&value, now);
        let _ = retry::delay(&policy, 1, parsed);
        assert!(retry::delay(&capped, 1, parsed) <= capped.max_retry_after.max(capped.max_delay));
    }
}

/// Image header sniffing and inspection (PNG, JPEG, WebP); when an image is accepted, its data
/// URI is exactly as long as announced.
pub fn image_header(data: &[u8]) {
    let _ = image::sniff(data);
    if let Ok(info) = image::inspect_bytes(data) {
        let mut uri = Vec::new();
        DataUriReader::new(info.format, data)
            .read_to_end(&mut uri)
            .expect("reading from memory");
        assert_eq!(
            uri.len() as u64,
            image::data_uri_len(info.format, data.len() as u64)
        );
    }
}

/// The https-or-loopback rule for video URLs: whatever it accepts is `https://` or `http://`.
pub fn video_url(data: &[u8]) {
    let url = String::from_utf8_lossy(data);
    let accepted = crate::transport::is_https_or_loopback(&url);
    assert_eq!(accepted, crate::download::check_video_url(&url).is_ok());
    if accepted {
        let lower = url.to_ascii_lowercase();
        assert!(lower.starts_with("https://") || lower.starts_with("http://"));
    }
}

/// Redirect resolution (`download::resolve`, RFC 3986): `data` is the base URL, a newline, and
/// the `Location`. A resolved reference keeps an absolute base absolute; whatever comes out is
/// then put through the https-or-loopback rule like every hop.
pub fn redirect(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (base, location) = text.split_once('\n').unwrap_or((&text, ""));
    if let Some(url) = crate::download::resolve(base, location) {
        assert!(url.contains(':'), "{base:?} + {location:?} gave {url:?}");
        let _ = crate::transport::is_https_or_loopback(&url);
    }
}

/// A `206` answer's `Content-Range` (first line) and `Content-Length` (second line): the
/// start never passes a known total, and the size derived from them never overflows.
pub fn content_range(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (range, length) = text.split_once('\n').unwrap_or((&text, ""));
    let Some((start, total)) = crate::download::parse_content_range(range) else {
        return;
    };
    let declared = length.trim().parse::<u64>().ok();
    match crate::download::partial_total(start, total, declared) {
        Ok(Some(size)) if total.is_none() => assert!(size >= start, "{range:?} {length:?}"),
        _ => {}
    }
}

/// The emulator's HTTP/1.1 request parser; a parsed body never exceeds the emulator's cap.
#[cfg(feature = "emulator")]
pub fn emulator_request(data: &[u8]) {
    if let Some((request, _keep_alive)) = crate::emulator::parse_request(data) {
        assert!(request.body.len() as u64 <= crate::emulator::MAX_BODY);
        assert!(request.path.starts_with('/'));
    }
}

/// The C entry points that take strings and buffers: names, a configuration, a job (image
/// bytes included) checked without sending, and copying an error message into a buffer of
/// any size. No panic reaches the boundary (`VIDU_ERROR_PANIC`), and every object is freed.
#[cfg(feature = "capi")]
pub fn c_entry_points(data: &[u8]) {
    use crate::ffi::*;
    use std::ffi::CString;
    use std::ptr;

    // NUL-separated fields; missing ones are NULL.
    let mut parts = data.split(|&b| b == 0);
    let mut field = || parts.next().map(|p| CString::new(p).expect("split on NUL"));
    let ptr_of = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
    let (name, key, url, agent, model, prompt, resolution, extra) = (
        field(),
        field(),
        field(),
        field(),
        field(),
        field(),
        field(),
        field(),
    );
    let image = parts.next().unwrap_or_default();
    let number = |i: usize| {
        let b = data
            .get(i..i + 8)
            .map_or([0; 8], |b| b.try_into().expect("8 bytes"));
        f64::from_le_bytes(b)
    };
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);

    let mut errors: Vec<*mut vidu_error> = Vec::new();
    let mut check = |code: vidu_result, err: *mut vidu_error| {
        assert_ne!(code, VIDU_ERROR_PANIC, "a panic reached the C boundary");
        assert_eq!(
            code == VIDU_OK,
            err.is_null(),
            "an error object exactly on failure"
        );
        if !err.is_null() {
            errors.push(err);
        }
    };
    // SAFETY: every pointer below is valid for its call: NULL or a live CString, a live
    // buffer of the stated length, or an out-pointer to a local.
    unsafe {
        let mut err = ptr::null_mut();
        let mut provider = 0;
        check(
            vidu_provider_from_name(ptr_of(&name), &mut provider, &mut err),
            err,
        );
        let mut err = ptr::null_mut();
        let mut amplitude = 0;
        check(
            vidu_movement_amplitude_from_name(ptr_of(&name), &mut amplitude, &mut err),
            err,
        );

        let mut config: vidu_config = std::mem::zeroed();
        config.struct_size = std::mem::size_of::<vidu_config>();
        config.provider = u32::from(byte(0) % 5);
        config.api_key = ptr_of(&key);
        config.base_url = ptr_of(&url);
        config.user_agent = ptr_of(&agent);
        config.auth_scheme = u32::from(byte(1) % 5);
        config.receive_timeout_secs = number(2);
        config.poll_first_secs = number(10);
        config.retry_max_retry_after_secs = number(18);
        config.retry_max_attempts = u32::from(byte(26));
        let mut client = ptr::null_mut();
        let mut err = ptr::null_mut();
        check(vidu_client_new(&config, &mut client, &mut err), err);
        if client.is_null() {
            config.provider = VIDU_PROVIDER_VIDU;
            config.api_key = c"fuzz-key".as_ptr();
            config.base_url = ptr::null();
            config.user_agent = ptr::null();
            config.auth_scheme = 0;
            config.receive_timeout_secs = 0.0;
            config.poll_first_secs = 0.0;
            config.retry_max_retry_after_secs = 0.0;
            config.retry_max_attempts = 0;
            let mut err = ptr::null_mut();
            let code = vidu_client_new(&config, &mut client, &mut err);
            assert_eq!(code, VIDU_OK, "a plain configuration is accepted");
        }

        let mut job: vidu_job = std::mem::zeroed();
        job.struct_size = std::mem::size_of::<vidu_job>();
        job.image_data = image.as_ptr();
        job.image_len = image.len();
        job.model = ptr_of(&model);
        job.prompt = ptr_of(&prompt);
        job.resolution = ptr_of(&resolution);
        job.extra_fields_unchecked = ptr_of(&extra);
        job.duration = u32::from(byte(27));
        job.movement_amplitude = u32::from(byte(28) % 6);
        job.bgm = u32::from(byte(29) % 4);
        let mut err = ptr::null_mut();
        check(vidu_client_check(client, &job, &mut err), err);
        vidu_client_free(client);

        let mut buf = [0x55 as std::ffi::c_char; 64];
        let len = usize::from(byte(30)) % (buf.len() + 1);
        for err in errors {
            let message = std::ffi::CStr::from_ptr(vidu_error_message(err))
                .to_bytes()
                .len();
            let needed = vidu_error_message_copy(err, buf.as_mut_ptr(), len);
            assert_eq!(needed, message, "the copy reports the full length");
            if len > 0 {
                assert!(buf[..len].contains(&0), "the copy is NUL-terminated");
            }
            assert!(
                buf[len..].iter().all(|&b| b == 0x55),
                "no write past the buffer"
            );
            vidu_error_free(err);
        }
    }
}

/// The streamed `data:` URI of `source` as an image of `format`, as a submit sends it
/// (`benches/data_uri.rs`).
pub fn data_uri_reader(format: ImageFormat, source: impl Read) -> impl Read {
    DataUriReader::new(format, source)
}
