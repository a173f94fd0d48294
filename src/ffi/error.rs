//! `vidu_error`: the owned error object a failed call can hand back.

use std::ffi::{c_char, CString};
use std::ptr;

use super::boundary::{arg_ref, c_string, free_handle, value};
use super::{vidu_result, VIDU_ERROR_INVALID_INPUT, VIDU_ERROR_PANIC};
use crate::error::Error;

/// An error: its code, a one-line message that says what to do next, and, where they exist, the
/// provider's error code, the HTTP status, the provider's request id and the task id.
///
/// Returned through the `vidu_error **err` argument of a failed call; the caller owns it and
/// frees it with `vidu_error_free`. Strings returned by its getters stay valid until then.
///
/// Thread safety: not synchronized. It may be moved to another thread, but must not be used
/// from two threads at once while one of them frees it.
pub struct vidu_error {
    code: vidu_result,
    message: CString,
    provider_code: Option<CString>,
    http_status: u16,
    request_id: Option<CString>,
    task_id: Option<CString>,
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

    pub(super) fn null_argument(name: &str) -> Self {
        vidu_error::invalid_argument(name, "must not be NULL")
    }

    pub(super) fn panic(what: &str) -> Self {
        vidu_error::new(
            VIDU_ERROR_PANIC,
            format!("internal error (panic) in the vidu library: {what}; please report it"),
        )
    }

    #[cfg(not(feature = "emulator"))]
    pub(super) fn unsupported(what: &str) -> Self {
        vidu_error::new(super::VIDU_ERROR_UNSUPPORTED, what)
    }
}

impl From<Error> for vidu_error {
    fn from(e: Error) -> Self {
        let request_id = match &e {
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

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

/// The error's code: one of the `VIDU_ERROR_*` values. `VIDU_OK` (0) when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_error_code(err: *const vidu_error) -> vidu_result {
    value(super::VIDU_OK, || Ok(arg_ref(err, "err")?.code))
}

/// The message: one line, naming the task whenever a task exists. Valid until the error is
/// freed. NULL when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_error_message(err: *const vidu_error) -> *const c_char {
    value(ptr::null(), || Ok(arg_ref(err, "err")?.message.as_ptr()))
}

/// Copies the message into `buf` like `snprintf`: writes at most `len` bytes including the
/// terminating NUL (always NUL-terminated when `len` > 0, cut at a UTF-8 character boundary)
/// and returns the full length of the message in bytes, without the NUL. `buf` may be NULL when
/// `len` is 0, to learn the length. Returns 0 when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_error_message_copy(
    err: *const vidu_error,
    buf: *mut c_char,
    len: usize,
) -> usize {
    value(0, || {
        let message = arg_ref(err, "err")?.message.to_str().unwrap_or("");
        if !buf.is_null() && len > 0 {
            let mut n = message.len().min(len - 1);
            while !message.is_char_boundary(n) {
                n -= 1;
            }
            // SAFETY: `buf` is documented as valid for writing `len` bytes and n < len; the
            // message is a separate Rust allocation, so the ranges do not overlap.
            unsafe {
                ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
                buf.add(n).write(0);
            }
        }
        Ok(message.len())
    })
}

/// The provider's own error code (`"CreditInsufficient"`, `"param_error"`, a Vtrix failure
/// code), or NULL when there is none. Valid until the error is freed.
#[no_mangle]
pub unsafe extern "C" fn vidu_error_provider_code(err: *const vidu_error) -> *const c_char {
    value(ptr::null(), || {
        Ok(opt_ptr(&arg_ref(err, "err")?.provider_code))
    })
}

/// The HTTP status of a provider error (`VIDU_ERROR_API`), or 0.
#[no_mangle]
pub unsafe extern "C" fn vidu_error_http_status(err: *const vidu_error) -> u16 {
    value(0, || Ok(arg_ref(err, "err")?.http_status))
}

/// The provider's request or trace id, for support tickets, or NULL. Valid until the error is
/// freed.
#[no_mangle]
pub unsafe extern "C" fn vidu_error_request_id(err: *const vidu_error) -> *const c_char {
    value(ptr::null(), || {
        Ok(opt_ptr(&arg_ref(err, "err")?.request_id))
    })
}

/// The task this error concerns, whenever a task exists (the task may still be running, and
/// paid for: wait for it again with this id), or NULL. Valid until the error is freed.
#[no_mangle]
pub unsafe extern "C" fn vidu_error_task_id(err: *const vidu_error) -> *const c_char {
    value(ptr::null(), || Ok(opt_ptr(&arg_ref(err, "err")?.task_id)))
}

/// Frees an error. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn vidu_error_free(err: *mut vidu_error) {
    value((), || {
        free_handle(err);
        Ok(())
    })
}
