//! The one panic boundary every export goes through, and the argument checks it uses.
//!
//! Each `extern "C"` function body is a closure passed to [`call`] (fallible functions: status
//! code plus optional error object) or [`value`] (getters and `_free`: a fallback value). The
//! closure checks its arguments with the helpers below, which name the argument in the error,
//! and writes its outputs last, so that nothing is written unless the call succeeds. The error
//! object that crosses the boundary, `vidu_error`, is defined here; its getters are in
//! `error.rs`.

use std::any::Any;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{vidu_result, VIDU_ERROR_INVALID_INPUT, VIDU_ERROR_PANIC, VIDU_OK};
use crate::error::Error;

/// Runs `body` behind the panic boundary. On failure (an error or a caught panic) it returns the
/// error's code and, when `err` is not NULL, hands the error object to the caller through it.
/// `*err` is written only on failure.
///
/// `*err` must be NULL on entry. When it is not (an error from an earlier call, not yet freed and
/// reset), nothing runs and `VIDU_ERROR_INVALID_INPUT` comes back with `*err` untouched: freeing
/// it would double-free the common stale pointer left by `vidu_error_free(err)` without
/// `err = NULL`, and overwriting it would leak it.
pub(super) fn call(
    err: *mut *mut vidu_error,
    body: impl FnOnce() -> Result<(), vidu_error>,
) -> vidu_result {
    // SAFETY: the header documents `err` as NULL or valid for reading and writing one pointer.
    if !err.is_null() && !unsafe { err.read() }.is_null() {
        return VIDU_ERROR_INVALID_INPUT;
    }
    match guarded(body) {
        Ok(()) => VIDU_OK,
        Err(e) => {
            let code = e.code();
            if !err.is_null() {
                // SAFETY: the header documents `err` as NULL or valid for writing one pointer.
                unsafe { err.write(Box::into_raw(Box::new(e))) };
            }
            code
        }
    }
}

/// Runs `body` behind the panic boundary, returning `fallback` if it fails or panics. For
/// functions that cannot report an error (getters, `_free`, `_new` without an error argument).
pub(super) fn value<T>(fallback: T, body: impl FnOnce() -> Result<T, vidu_error>) -> T {
    guarded(body).unwrap_or(fallback)
}

fn guarded<T>(body: impl FnOnce() -> Result<T, vidu_error>) -> Result<T, vidu_error> {
    // AssertUnwindSafe: after a panic nothing the closure touched is used again, except the
    // client's connection pool, which ureq keeps consistent by itself.
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| Err(panic_error(&*payload)))
}

fn panic_error(payload: &(dyn Any + Send)) -> vidu_error {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    vidu_error::panic(what)
}

/// A shared reference from a pointer the caller passed, or an error naming the argument.
pub(super) fn arg_ref<'a, T>(ptr: *const T, name: &'static str) -> Result<&'a T, vidu_error> {
    // SAFETY: the header documents every non-NULL pointer argument as valid for the call.
    unsafe { ptr.as_ref() }.ok_or_else(|| vidu_error::null_argument(name))
}

/// An optional reference: NULL is allowed and means "none".
pub(super) fn opt_ref<'a, T>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: as in `arg_ref`.
    unsafe { ptr.as_ref() }
}

/// A UTF-8 string argument; NULL and invalid UTF-8 are errors naming the argument.
pub(super) fn arg_str<'a>(ptr: *const c_char, name: &'static str) -> Result<&'a str, vidu_error> {
    opt_str(ptr, name)?.ok_or_else(|| vidu_error::null_argument(name))
}

/// An optional UTF-8 string argument: NULL means "not set"; invalid UTF-8 is an error.
pub(super) fn opt_str<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<Option<&'a str>, vidu_error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL string arguments are documented as NUL-terminated and valid for the call.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map(Some).map_err(|e| {
        vidu_error::invalid_argument(
            name,
            format!("not valid UTF-8 (bad byte at offset {})", e.valid_up_to()),
        )
    })
}

/// `len` bytes at `data`. A NULL `data` is an error unless `len` is 0; no slice is ever built
/// from a NULL pointer.
pub(super) fn arg_bytes<'a>(
    data: *const u8,
    len: usize,
    name: &'static str,
) -> Result<&'a [u8], vidu_error> {
    if data.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(vidu_error::invalid_argument(
                name,
                format!("NULL with a length of {len} bytes"),
            ))
        };
    }
    if len > isize::MAX as usize {
        return Err(vidu_error::invalid_argument(
            name,
            format!("length {len} is too large"),
        ));
    }
    // SAFETY: `data` is not NULL and is documented as valid for reading `len` bytes during the
    // call; u8 has no alignment requirement and `len` fits in isize.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// An output pointer, checked up front and written only at the end, on success.
pub(super) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Writes the output. The previous content is neither read nor dropped.
    pub(super) fn set(self, v: T) {
        // SAFETY: `Out` is made only from non-NULL pointers that the header documents as valid
        // for writing one `T`.
        unsafe { self.0.write(v) }
    }
}

/// A required output pointer.
pub(super) fn arg_out<T>(ptr: *mut T, name: &'static str) -> Result<Out<T>, vidu_error> {
    opt_out(ptr).ok_or_else(|| vidu_error::null_argument(name))
}

/// An optional output pointer: NULL means the caller does not want this output.
pub(super) fn opt_out<T>(ptr: *mut T) -> Option<Out<T>> {
    (!ptr.is_null()).then_some(Out(ptr))
}

/// Moves `v` to the heap for C; give it back with [`free_handle`].
pub(super) fn new_handle<T>(v: T) -> *mut T {
    Box::into_raw(Box::new(v))
}

/// Frees a handle made by [`new_handle`]; NULL is a no-op.
pub(super) fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the header documents that only pointers this library returned for this type,
        // not yet freed, may be passed to its `_free` function; they come from `new_handle`.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// A C string for text that may contain NUL characters (which a server could send): they are
/// replaced by U+FFFD so that the string is never cut short silently.
pub(super) fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| {
        CString::new(s.replace('\0', "\u{FFFD}")).expect("every NUL was replaced")
    })
}

/// Hands a string to C; the caller frees it with `vidu_string_free`.
pub(super) fn owned_string(s: &str) -> *mut c_char {
    c_string(s).into_raw()
}

/// Takes back a string made by [`owned_string`]; NULL is a no-op.
pub(super) fn free_owned_string(ptr: *mut c_char) {
    if !ptr.is_null() {
        // SAFETY: the header documents that only strings this library returned may be passed to
        // `vidu_string_free`; they come from `CString::into_raw`.
        drop(unsafe { CString::from_raw(ptr) });
    }
}

/// An error: its code, a one-line message that says what to do next, and, where they exist, the
/// provider's error code, the HTTP status, the provider's request id and the task id.
///
/// Returned through the `vidu_error **err` argument of a failed call; the caller owns it and
/// frees it with `vidu_error_free`. Strings returned by its getters stay valid until then.
///
/// Thread safety: not synchronized. It may be moved to another thread, but must not be used
/// from two threads at once while one of them frees it.
pub struct vidu_error {
    pub(super) code: vidu_result,
    pub(super) message: CString,
    pub(super) provider_code: Option<CString>,
    pub(super) http_status: u16,
    pub(super) request_id: Option<CString>,
    pub(super) task_id: Option<CString>,
}

impl vidu_error {
    pub(super) fn new(code: vidu_result, message: impl AsRef<str>) -> Self {
        vidu_error {
            code,
            message: c_string(message.as_ref()),
            provider_code: None,
            http_status: 0,
            request_id: None,
            task_id: None,
        }
    }

    pub(super) fn code(&self) -> vidu_result {
        self.code
    }

    /// A bad argument: NULL, invalid UTF-8, an unknown enum value.
    pub(super) fn invalid_argument(name: &str, problem: impl AsRef<str>) -> Self {
        vidu_error::new(
            VIDU_ERROR_INVALID_INPUT,
            format!(
                "invalid argument {name}: {}; nothing was sent",
                problem.as_ref()
            ),
        )
    }

    /// The same error, its message prefixed by the array element it concerns (`items[3]: `).
    pub(super) fn in_item(mut self, item: &str) -> Self {
        let message = format!("{item}: {}", self.message.to_string_lossy());
        self.message = c_string(&message);
        self
    }

    pub(super) fn null_argument(name: &str) -> Self {
        vidu_error::invalid_argument(name, "must not be NULL")
    }

    pub(super) fn panic(what: &str) -> Self {
        vidu_error::new(
            VIDU_ERROR_PANIC,
            format!("internal error (panic) in the vidu library: {what}; please report it"),
        )
    }
}

impl From<Error> for vidu_error {
    fn from(e: Error) -> Self {
        vidu_error::from(&e)
    }
}

impl From<&Error> for vidu_error {
    fn from(e: &Error) -> Self {
        let request_id = match e {
            Error::Api { request_id, .. } => request_id.as_deref(),
            Error::TaskFailed { status } => status.request_id.as_deref(),
            _ => None,
        };
        vidu_error {
            code: e.kind() as vidu_result,
            message: c_string(&e.to_string()),
            provider_code: e.provider_code().map(c_string),
            http_status: e.http_status().unwrap_or(0),
            request_id: request_id.map(c_string),
            task_id: e.task_id().map(c_string),
        }
    }
}
