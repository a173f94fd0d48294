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

/// The name of a result code, as `strerror` gives one for `errno`: `"VIDU_OK"`,
/// `"VIDU_ERROR_TIMEOUT"`, …; `"VIDU_ERROR_UNKNOWN"` for a value that is no code. A static
/// string: never freed, valid for the life of the process.
#[no_mangle]
pub extern "C" fn vidu_error_code_name(code: vidu_result) -> *const c_char {
    value(ptr::null(), || Ok(code_name(code).as_ptr()))
}

/// The name of the error's code (see `vidu_error_code_name`); `"VIDU_OK"` when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_error_name(err: *const vidu_error) -> *const c_char {
    value(c"VIDU_OK".as_ptr(), || {
        Ok(code_name(arg_ref(err, "err")?.code).as_ptr())
    })
}

fn code_name(code: vidu_result) -> &'static std::ffi::CStr {
    use super::*;
    match code {
        VIDU_OK => c"VIDU_OK",
        VIDU_ERROR_INVALID_INPUT => c"VIDU_ERROR_INVALID_INPUT",
        VIDU_ERROR_IO => c"VIDU_ERROR_IO",
        VIDU_ERROR_TRANSPORT => c"VIDU_ERROR_TRANSPORT",
        VIDU_ERROR_API => c"VIDU_ERROR_API",
        VIDU_ERROR_SUBMIT_UNCERTAIN => c"VIDU_ERROR_SUBMIT_UNCERTAIN",
        VIDU_ERROR_TASK_FAILED => c"VIDU_ERROR_TASK_FAILED",
        VIDU_ERROR_TIMEOUT => c"VIDU_ERROR_TIMEOUT",
        VIDU_ERROR_CANCELLED => c"VIDU_ERROR_CANCELLED",
        VIDU_ERROR_UNSUPPORTED => c"VIDU_ERROR_UNSUPPORTED",
        VIDU_ERROR_PROTOCOL => c"VIDU_ERROR_PROTOCOL",
        VIDU_ERROR_DOWNLOAD => c"VIDU_ERROR_DOWNLOAD",
        VIDU_ERROR_PANIC => c"VIDU_ERROR_PANIC",
        _ => c"VIDU_ERROR_UNKNOWN",
    }
}

/// Frees an error. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn vidu_error_free(err: *mut vidu_error) {
    value((), || {
        free_handle(err);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn name(code: vidu_result) -> &'static str {
        // SAFETY: the names are static C strings.
        unsafe { CStr::from_ptr(vidu_error_code_name(code)) }
            .to_str()
            .unwrap()
    }

    #[test]
    fn every_code_has_its_macro_name_and_other_values_are_unknown() {
        // The names as the header spells the macros, against the values the header gives them.
        let header = include_str!("../../include/vidu.h");
        let mut codes = 0;
        for line in header.lines() {
            let Some(rest) = line.strip_prefix("#define VIDU_") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let (Some(macro_name), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            if !(macro_name == "OK" || macro_name.starts_with("ERROR_")) {
                continue;
            }
            let value: vidu_result = value.parse().unwrap();
            assert_eq!(name(value), format!("VIDU_{macro_name}"));
            codes += 1;
        }
        assert_eq!(codes, 13, "VIDU_OK, 11 error kinds and VIDU_ERROR_PANIC");
        assert_eq!(name(12), "VIDU_ERROR_UNKNOWN");
        assert_eq!(name(u32::MAX), "VIDU_ERROR_UNKNOWN");
    }

    #[test]
    fn an_error_object_names_its_code() {
        let err = vidu_error::from(crate::Error::Timeout {
            task_id: "t1".into(),
            last_status: None,
        });
        // SAFETY: a live error object, then NULL.
        unsafe {
            assert_eq!(
                CStr::from_ptr(vidu_error_name(&err)).to_str(),
                Ok("VIDU_ERROR_TIMEOUT")
            );
            assert_eq!(
                CStr::from_ptr(vidu_error_name(ptr::null())).to_str(),
                Ok("VIDU_OK")
            );
        }
    }
}
