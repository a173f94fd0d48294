//! `vidu_cancel_token`: stops a wait or a download from any thread.

use std::ffi::c_int;

use super::boundary::{arg_ref, free_handle, new_handle, value};
use crate::cancel::CancelToken;

/// Stops a wait (`vidu_wait_options.cancel`) or a download at once, from any thread. Cancelling
/// only stops the local wait: the task goes on at the provider (see `vidu_client_cancel`).
///
/// Thread safety: `vidu_cancel_token_cancel` and `vidu_cancel_token_is_cancelled` may be called
/// from any thread at any time, also while a wait uses the token. Free it only once no call that
/// uses it is running.
pub struct vidu_cancel_token {
    pub(super) token: CancelToken,
}

/// A new token, not yet triggered; free it with `vidu_cancel_token_free`. NULL only if the
/// library failed internally.
#[no_mangle]
pub extern "C" fn vidu_cancel_token_new() -> *mut vidu_cancel_token {
    value(std::ptr::null_mut(), || {
        Ok(new_handle(vidu_cancel_token {
            token: CancelToken::new(),
        }))
    })
}

/// Triggers the token, waking every wait that uses it. Idempotent. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn vidu_cancel_token_cancel(token: *const vidu_cancel_token) {
    value((), || {
        arg_ref(token, "token")?.token.cancel();
        Ok(())
    })
}

/// 1 once the token was triggered, else 0 (also for NULL).
#[no_mangle]
pub unsafe extern "C" fn vidu_cancel_token_is_cancelled(token: *const vidu_cancel_token) -> c_int {
    value(0, || {
        Ok(c_int::from(arg_ref(token, "token")?.token.is_cancelled()))
    })
}

/// Frees a token. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn vidu_cancel_token_free(token: *mut vidu_cancel_token) {
    value((), || {
        free_handle(token);
        Ok(())
    })
}
