//! The C ABI: the whole Rust client for C and C++ (`include/vidu.h`, `include/vidu.hpp`).
//!
//! This module only converts and owns; every rule and every byte on the wire is the Rust API's.
//! The header is generated from this module by cbindgen: regenerate it with
//! `VIDU_BLESS=1 cargo test --test header`.
//!
//! Conventions, for every function:
//!
//! - Names are `<type>_<verb>` (`vidu_client_submit`, `vidu_task_status_state`).
//! - A fallible function returns a `vidu_result`: `VIDU_OK` (0) or a `VIDU_ERROR_*` code. When
//!   its last argument `vidu_error **err` is not NULL, a failure also hands back an error object
//!   there, owned by the caller (free it with `vidu_error_free`). `*err` must be NULL on entry
//!   (otherwise nothing runs: `VIDU_ERROR_INVALID_INPUT`, `*err` untouched); it is written only
//!   on failure, and other outputs only on success. There is no global "last error".
//! - A NULL, non-UTF-8 or out-of-range argument fails with `VIDU_ERROR_INVALID_INPUT` and a
//!   message naming the argument. A panic inside the library is caught and becomes
//!   `VIDU_ERROR_PANIC`; it never unwinds into C.
//! - Pointers passed in are borrowed for the call only. A non-NULL pointer must be valid: strings
//!   NUL-terminated, buffers readable for their length, handles not yet freed.
//! - Handles (`vidu_client`, `vidu_task_status`, `vidu_error`, `vidu_cancel_token`,
//!   `vidu_emulator`) come from this library and go back with their own `_free`, which accepts
//!   NULL. Strings handed out as `char *` are the caller's, freed with `vidu_string_free`;
//!   strings handed out as `const char *` belong to the object they came from. Never `free()`
//!   what the library allocated.
//! - Structs start with `size_t struct_size` (the program's `sizeof`), so they can grow; every
//!   other zero field means "default", so
//!   `vidu_job job = {.struct_size = sizeof job, .image_path = "cat.png"};` is a complete job.
//!   See `types.rs` (`read_sized`) for how older and newer sizes are handled.
//! - Enumerations are `uint32_t` with the explicit values below; values are checked, never
//!   trusted.
#![allow(non_camel_case_types)]
// Every `unsafe extern "C"` function here has the same contract, stated above and in the header,
// rather than a `# Safety` section each.
#![allow(clippy::missing_safety_doc)]

use std::ffi::{c_char, c_int};
use std::ptr;

use crate::auth::AuthScheme;
use crate::error::ErrorKind;
use crate::job::MovementAmplitude;
use crate::provider::Provider;
use crate::status::State;

/// The `(offset, size)` list of the named fields of `$t`, for `SizedStruct::fields` (types.rs); defined
/// before the modules that use it.
macro_rules! fields {
    ($t:ty: $($field:ident),* $(,)?) => {{
        // SAFETY: all-zero is valid for every `SizedStruct` struct (its contract).
        let zero: $t = unsafe { std::mem::zeroed() };
        vec![$((std::mem::offset_of!($t, $field), std::mem::size_of_val(&zero.$field))),*]
    }};
}

mod batch;
mod boundary;
mod cancel;
mod client;
#[cfg(feature = "emulator")]
mod emulator;
mod error;
mod status;
mod types;

pub use batch::*;
pub use boundary::vidu_error;
pub use cancel::*;
pub use client::*;
#[cfg(feature = "emulator")]
pub use emulator::*;
pub use error::*;
pub use status::*;
pub use types::*;

use boundary::{arg_out, arg_str, call, free_owned_string, value};

/// The result of a fallible call: `VIDU_OK` or one of the `VIDU_ERROR_*` codes.
pub type vidu_result = u32;

/// Success.
pub const VIDU_OK: vidu_result = 0;
/// A field of the job or the configuration, or an argument, is not allowed; nothing was sent.
pub const VIDU_ERROR_INVALID_INPUT: vidu_result = 1;
/// A local file could not be read or written.
pub const VIDU_ERROR_IO: vidu_result = 2;
/// The network failed (connect, TLS, reset, timeout) and retries did not help.
pub const VIDU_ERROR_TRANSPORT: vidu_result = 3;
/// The provider answered with an HTTP error; see `vidu_error_http_status` and
/// `vidu_error_provider_code`.
pub const VIDU_ERROR_API: vidu_result = 4;
/// The submit request may or may not have created a task: check before submitting again.
pub const VIDU_ERROR_SUBMIT_UNCERTAIN: vidu_result = 5;
/// The task ended in failure, cancellation or expiry on the provider's side.
pub const VIDU_ERROR_TASK_FAILED: vidu_result = 6;
/// The deadline passed before the task finished. The task goes on: wait for it again later.
pub const VIDU_ERROR_TIMEOUT: vidu_result = 7;
/// The wait was stopped by a cancel token or a progress callback. The task goes on.
pub const VIDU_ERROR_CANCELLED: vidu_result = 8;
/// The provider (or this build) does not offer this operation.
pub const VIDU_ERROR_UNSUPPORTED: vidu_result = 9;
/// The provider's answer could not be understood.
pub const VIDU_ERROR_PROTOCOL: vidu_result = 10;
/// The video download failed.
pub const VIDU_ERROR_DOWNLOAD: vidu_result = 11;
/// A bug: the library panicked. The panic was caught; the message says where.
pub const VIDU_ERROR_PANIC: vidu_result = 100;

/// A provider: `VIDU_PROVIDER_*`.
pub type vidu_provider = u32;
/// UModelVerse (UCloud), `https://api.umodelverse.ai`.
pub const VIDU_PROVIDER_UMODELVERSE: vidu_provider = 1;
/// The Vtrix gateway, `https://cloud.vtrix.ai`.
pub const VIDU_PROVIDER_VTRIX: vidu_provider = 2;
/// The official Vidu platform API, `https://api.vidu.com`.
pub const VIDU_PROVIDER_VIDU: vidu_provider = 3;

/// How the API key goes into the `Authorization` header: `VIDU_AUTH_*`; 0 means the provider's
/// default.
pub type vidu_auth_scheme = u32;
/// `Authorization: <key>` (UModelVerse's default).
pub const VIDU_AUTH_BARE: vidu_auth_scheme = 1;
/// `Authorization: Bearer <key>` (Vtrix's default).
pub const VIDU_AUTH_BEARER: vidu_auth_scheme = 2;
/// `Authorization: Token <key>` (the official API's default).
pub const VIDU_AUTH_TOKEN: vidu_auth_scheme = 3;

/// How much the camera and subject move: `VIDU_MOVEMENT_*`; 0 means the provider's default.
pub type vidu_movement_amplitude = u32;
/// Let the model decide.
pub const VIDU_MOVEMENT_AUTO: vidu_movement_amplitude = 1;
/// Little movement.
pub const VIDU_MOVEMENT_SMALL: vidu_movement_amplitude = 2;
/// Some movement.
pub const VIDU_MOVEMENT_MEDIUM: vidu_movement_amplitude = 3;
/// Much movement.
pub const VIDU_MOVEMENT_LARGE: vidu_movement_amplitude = 4;

/// Where a task is, the same for every provider: `VIDU_STATE_*`.
pub type vidu_state = u32;
/// Accepted, not started.
pub const VIDU_STATE_QUEUED: vidu_state = 1;
/// Being generated.
pub const VIDU_STATE_RUNNING: vidu_state = 2;
/// Done; the video URL is there (`vidu_task_status_video_url`).
pub const VIDU_STATE_SUCCEEDED: vidu_state = 3;
/// Ended without a video; see `vidu_task_status_error_code` and `vidu_task_status_error_message`.
pub const VIDU_STATE_FAILED: vidu_state = 4;
/// Cancelled before it finished.
pub const VIDU_STATE_CANCELLED: vidu_state = 5;
/// Expired on the provider's side.
pub const VIDU_STATE_EXPIRED: vidu_state = 6;
/// A state this library does not know; see `vidu_task_status_raw_state`.
pub const VIDU_STATE_UNKNOWN: vidu_state = 7;

/// Returned by a progress or event callback: go on.
pub const VIDU_PROGRESS_CONTINUE: c_int = 0;
/// Returned by a progress or event callback: stop. The wait (or the batch) ends with `VIDU_ERROR_CANCELLED`; tasks go on at the provider.
/// Any non-zero value stops too.
pub const VIDU_PROGRESS_STOP: c_int = 1;

/// A yes/no option that can also be left to the default: `VIDU_TRISTATE_*`.
pub type vidu_tristate = u32;
/// The default (what the provider or the library does when nothing is said).
pub const VIDU_TRISTATE_DEFAULT: vidu_tristate = 0;
/// No.
pub const VIDU_TRISTATE_FALSE: vidu_tristate = 1;
/// Yes.
pub const VIDU_TRISTATE_TRUE: vidu_tristate = 2;

// The numbers above are the Rust enums' own discriminants: checked here, at compile time.
const _: () = {
    assert!(VIDU_ERROR_INVALID_INPUT == ErrorKind::InvalidInput as u32);
    assert!(VIDU_ERROR_IO == ErrorKind::Io as u32);
    assert!(VIDU_ERROR_TRANSPORT == ErrorKind::Transport as u32);
    assert!(VIDU_ERROR_API == ErrorKind::Api as u32);
    assert!(VIDU_ERROR_SUBMIT_UNCERTAIN == ErrorKind::SubmitUncertain as u32);
    assert!(VIDU_ERROR_TASK_FAILED == ErrorKind::TaskFailed as u32);
    assert!(VIDU_ERROR_TIMEOUT == ErrorKind::Timeout as u32);
    assert!(VIDU_ERROR_CANCELLED == ErrorKind::Cancelled as u32);
    assert!(VIDU_ERROR_UNSUPPORTED == ErrorKind::Unsupported as u32);
    assert!(VIDU_ERROR_PROTOCOL == ErrorKind::Protocol as u32);
    assert!(VIDU_ERROR_DOWNLOAD == ErrorKind::Download as u32);
    assert!(VIDU_PROVIDER_UMODELVERSE == Provider::UModelVerse as u32);
    assert!(VIDU_PROVIDER_VTRIX == Provider::Vtrix as u32);
    assert!(VIDU_PROVIDER_VIDU == Provider::Vidu as u32);
    assert!(VIDU_AUTH_BARE == AuthScheme::Bare as u32);
    assert!(VIDU_AUTH_BEARER == AuthScheme::Bearer as u32);
    assert!(VIDU_AUTH_TOKEN == AuthScheme::Token as u32);
    assert!(VIDU_MOVEMENT_AUTO == MovementAmplitude::Auto as u32);
    assert!(VIDU_MOVEMENT_SMALL == MovementAmplitude::Small as u32);
    assert!(VIDU_MOVEMENT_MEDIUM == MovementAmplitude::Medium as u32);
    assert!(VIDU_MOVEMENT_LARGE == MovementAmplitude::Large as u32);
    assert!(VIDU_STATE_QUEUED == State::Queued as u32);
    assert!(VIDU_STATE_RUNNING == State::Running as u32);
    assert!(VIDU_STATE_SUCCEEDED == State::Succeeded as u32);
    assert!(VIDU_STATE_FAILED == State::Failed as u32);
    assert!(VIDU_STATE_CANCELLED == State::Cancelled as u32);
    assert!(VIDU_STATE_EXPIRED == State::Expired as u32);
    assert!(VIDU_STATE_UNKNOWN == State::Unknown as u32);
};

/// The Rust enums a C integer may name, each listed once; the integer is the enum's own `repr`.
const PROVIDERS: &[Provider] = Provider::ALL;
const AUTH_SCHEMES: [AuthScheme; 3] = [AuthScheme::Bare, AuthScheme::Bearer, AuthScheme::Token];
const MOVEMENTS: [MovementAmplitude; 4] = [
    MovementAmplitude::Auto,
    MovementAmplitude::Small,
    MovementAmplitude::Medium,
    MovementAmplitude::Large,
];
const STATES: [State; 7] = [
    State::Queued,
    State::Running,
    State::Succeeded,
    State::Failed,
    State::Cancelled,
    State::Expired,
    State::Unknown,
];

/// The enum value `code` stands for, or an error naming the argument and the allowed values.
fn from_code<T: Copy + std::fmt::Display>(
    all: &[T],
    repr: impl Fn(T) -> u32,
    code: u32,
    name: &'static str,
) -> Result<T, vidu_error> {
    all.iter()
        .copied()
        .find(|v| repr(*v) == code)
        .ok_or_else(|| {
            let allowed: Vec<String> = all.iter().map(|v| format!("{} ({v})", repr(*v))).collect();
            vidu_error::invalid_argument(
                name,
                format!("{code} is not one of {}", allowed.join(", ")),
            )
        })
}

fn provider_from_code(code: u32, name: &'static str) -> Result<Provider, vidu_error> {
    from_code(PROVIDERS, |p| p as u32, code, name)
}

fn auth_scheme_from_code(code: u32, name: &'static str) -> Result<AuthScheme, vidu_error> {
    // AuthScheme has no Display; its C names are what a C programmer needs to see.
    AUTH_SCHEMES
        .iter()
        .copied()
        .find(|a| *a as u32 == code)
        .ok_or_else(|| {
            vidu_error::invalid_argument(
                name,
                format!(
                    "{code} is not one of 0 (default), 1 (VIDU_AUTH_BARE), 2 (VIDU_AUTH_BEARER), 3 (VIDU_AUTH_TOKEN)"
                ),
            )
        })
}

fn movement_from_code(code: u32, name: &'static str) -> Result<MovementAmplitude, vidu_error> {
    from_code(&MOVEMENTS, |m| m as u32, code, name)
}

fn tristate(code: vidu_tristate, name: &'static str) -> Result<Option<bool>, vidu_error> {
    match code {
        VIDU_TRISTATE_DEFAULT => Ok(None),
        VIDU_TRISTATE_FALSE => Ok(Some(false)),
        VIDU_TRISTATE_TRUE => Ok(Some(true)),
        _ => Err(vidu_error::invalid_argument(
            name,
            format!("{code} is not one of 0 (default), 1 (false), 2 (true)"),
        )),
    }
}

const VERSION_C: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, `"MAJOR.MINOR.PATCH"`, as built. Compare with `VIDU_VERSION`, the
/// version of the header. The string is static.
#[no_mangle]
pub extern "C" fn vidu_version() -> *const c_char {
    VERSION_C.as_ptr().cast()
}

/// Frees a string this library handed out as `char *` (a task id). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn vidu_string_free(s: *mut c_char) {
    value((), || {
        free_owned_string(s);
        Ok(())
    })
}

/// The lower-case name of a state (`"queued"`, `"running"`, `"succeeded"`, `"failed"`,
/// `"cancelled"`, `"expired"`, `"unknown"`), or NULL for a value that is not a state. Static.
#[no_mangle]
pub extern "C" fn vidu_state_name(state: vidu_state) -> *const c_char {
    value(ptr::null(), || {
        Ok(match STATES.iter().find(|s| **s as u32 == state) {
            // The names are ASCII without NUL; `c"..."` literals keep them static.
            Some(State::Queued) => c"queued".as_ptr(),
            Some(State::Running) => c"running".as_ptr(),
            Some(State::Succeeded) => c"succeeded".as_ptr(),
            Some(State::Failed) => c"failed".as_ptr(),
            Some(State::Cancelled) => c"cancelled".as_ptr(),
            Some(State::Expired) => c"expired".as_ptr(),
            Some(State::Unknown) => c"unknown".as_ptr(),
            None => ptr::null(),
        })
    })
}

/// Parses a provider name (`"umodelverse"`, `"vtrix"`, `"vidu"`, any case) into `*out`.
#[no_mangle]
pub unsafe extern "C" fn vidu_provider_from_name(
    name: *const c_char,
    out: *mut vidu_provider,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let name = arg_str(name, "name")?;
        let out = arg_out(out, "out")?;
        out.set(name.parse::<Provider>()? as vidu_provider);
        Ok(())
    })
}

/// Parses a movement amplitude (`"auto"`, `"small"`, `"medium"`, `"large"`) into `*out`.
#[no_mangle]
pub unsafe extern "C" fn vidu_movement_amplitude_from_name(
    name: *const c_char,
    out: *mut vidu_movement_amplitude,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let name = arg_str(name, "name")?;
        let out = arg_out(out, "out")?;
        out.set(name.parse::<MovementAmplitude>()? as vidu_movement_amplitude);
        Ok(())
    })
}

/// Panics inside the boundary, so that tests can check that a panic becomes
/// `VIDU_ERROR_PANIC`. Not part of the API; not in the header.
#[doc(hidden)]
#[no_mangle]
pub unsafe extern "C" fn vidu_test_panic(err: *mut *mut vidu_error) -> vidu_result {
    call(err, || panic!("vidu_test_panic was called"))
}
