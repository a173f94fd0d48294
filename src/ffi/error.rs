//! The getters of `vidu_error`, the owned error object a failed call can hand back (the type
//! itself lives with the boundary that makes it).

use std::ffi::{c_char, CString};
use std::ptr;

use super::boundary::{arg_ref, free_handle, value, vidu_error};
use super::vidu_result;

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
