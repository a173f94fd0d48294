//! Calling the C ABI from Rust as C would: error objects, outputs, zeroed option structs.

use std::ffi::{c_char, CStr};
use std::ptr;

use vidu::ffi::*;

/// The text of a C string, or `None` for NULL.
pub fn text(p: *const c_char) -> Option<String> {
    // SAFETY: every pointer passed here comes from the library and is alive.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
}

/// An owned error object, freed on drop.
pub struct Error(pub *mut vidu_error);

impl Error {
    pub fn code(&self) -> vidu_result {
        unsafe { vidu_error_code(self.0) }
    }
    pub fn message(&self) -> String {
        text(unsafe { vidu_error_message(self.0) }).expect("an error has a message")
    }
    pub fn task_id(&self) -> Option<String> {
        text(unsafe { vidu_error_task_id(self.0) })
    }
}

impl Drop for Error {
    fn drop(&mut self) {
        unsafe { vidu_error_free(self.0) }
    }
}

/// Runs a call that must fail with `code`, returning its error object.
pub fn failure(code: vidu_result, call: impl FnOnce(*mut *mut vidu_error) -> vidu_result) -> Error {
    let mut err = ptr::null_mut();
    let got = call(&mut err);
    assert!(!err.is_null(), "a failed call must hand back an error");
    let err = Error(err);
    assert_eq!(got, code, "unexpected code; message: {}", err.message());
    assert_eq!(err.code(), code);
    err
}

/// Runs a call that must succeed, leaving `*err` NULL.
pub fn success(call: impl FnOnce(*mut *mut vidu_error) -> vidu_result) {
    let mut err = ptr::null_mut();
    let got = call(&mut err);
    if got != VIDU_OK {
        panic!("call failed ({got}): {}", Error(err).message());
    }
    assert!(err.is_null(), "*err must be written only on failure");
}

/// A C struct as `{.struct_size = sizeof s}`: every other field zero.
pub fn sized<T>() -> T {
    // SAFETY: all-zero is valid for every vidu struct (NULL pointers, zero numbers); the first
    // field of each is its `size_t struct_size`.
    unsafe {
        let mut s: T = std::mem::zeroed();
        (&mut s as *mut T)
            .cast::<usize>()
            .write(std::mem::size_of::<T>());
        s
    }
}

pub fn zeroed_config() -> vidu_config {
    sized()
}

/// `vidu_client_new` refuses `config` with a message naming `field`, and makes no client.
pub fn config_is_rejected(config: &vidu_config, field: &str) {
    let mut client = ptr::null_mut();
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_new(config, &mut client, err)
    });
    assert!(err.message().contains(field), "{field}: {}", err.message());
    assert!(client.is_null(), "no client on failure");
}

pub fn zeroed_job() -> vidu_job {
    sized()
}

/// A zeroed job whose image is `png`, passed as bytes in memory (keep `png` alive).
pub fn png_job(png: &[u8]) -> vidu_job {
    let mut job = zeroed_job();
    job.image_data = png.as_ptr();
    job.image_len = png.len();
    job
}

pub const KEY: &CStr = c"test-key";

/// The repository's sample image (256x192 PNG).
pub fn sample_png() -> Vec<u8> {
    super::SAMPLE_PNG.to_vec()
}

/// An emulator and a client pointed at it, freed on drop.
#[cfg(feature = "emulator")]
pub struct Setup {
    pub emulator: *mut vidu_emulator,
    pub client: *mut vidu_client,
}

#[cfg(feature = "emulator")]
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
#[cfg(feature = "emulator")]
pub fn submit_sample(s: &Setup) -> *mut c_char {
    let png = sample_png();
    let mut task_id = ptr::null_mut();
    success(|err| unsafe { vidu_client_submit(s.client, &png_job(&png), &mut task_id, err) });
    task_id
}

#[cfg(feature = "emulator")]
pub fn setup(provider: vidu_provider, scenario: Option<&CStr>, poll: f64) -> Setup {
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

/// A C client, freed on drop.
pub struct CClient(pub *mut vidu_client);

impl Drop for CClient {
    fn drop(&mut self) {
        unsafe { vidu_client_free(self.0) }
    }
}

/// A C client of `provider` at `base_url` (e.g. a Rust-side emulator's, whose requests the test
/// then counts), polling every `poll` seconds.
pub fn c_client(provider: vidu_provider, base_url: &str, poll: f64) -> CClient {
    let url = std::ffi::CString::new(base_url).unwrap();
    let mut config = zeroed_config();
    config.provider = provider;
    config.api_key = KEY.as_ptr();
    config.base_url = url.as_ptr();
    config.poll_first_secs = poll;
    let mut client = ptr::null_mut();
    success(|err| unsafe { vidu_client_new(&config, &mut client, err) });
    assert!(!client.is_null());
    CClient(client)
}
