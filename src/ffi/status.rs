//! `vidu_task_status`: one poll's worth of facts about a task.

use std::ffi::{c_char, CString};
use std::ptr;

use super::boundary::{arg_ref, c_string, free_handle, value};
use super::vidu_state;
use crate::status::TaskStatus;

/// The status of a task, as returned by `vidu_client_status` and `vidu_client_wait`. Read it with the
/// `vidu_task_status_*` getters; strings they return stay valid until `vidu_task_status_free`.
///
/// Thread safety: not synchronized. It may be moved to another thread, and read from several
/// threads at once, but must not be freed while another thread reads it.
pub struct vidu_task_status {
    pub(super) status: TaskStatus,
    task_id: CString,
    raw_state: CString,
    video_urls: Vec<CString>,
    cover_url: Option<CString>,
    error_code: Option<CString>,
    error_message: Option<CString>,
    cost: Option<CString>,
    request_id: Option<CString>,
}

impl vidu_task_status {
    pub(super) fn new(status: TaskStatus) -> Self {
        let opt = |s: &Option<String>| s.as_deref().map(c_string);
        vidu_task_status {
            task_id: c_string(&status.task_id),
            raw_state: c_string(&status.raw_state),
            video_urls: status.video_urls.iter().map(|u| c_string(u)).collect(),
            cover_url: opt(&status.cover_url),
            error_code: opt(&status.error_code),
            error_message: opt(&status.error_message),
            cost: opt(&status.cost),
            request_id: opt(&status.request_id),
            status,
        }
    }
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

/// Runs a getter on a status, returning `fallback` when `status` is NULL.
fn get<T>(
    status: *const vidu_task_status,
    fallback: T,
    f: impl FnOnce(&vidu_task_status) -> T,
) -> T {
    value(fallback, || Ok(f(arg_ref(status, "status")?)))
}

/// The unified state, `VIDU_STATE_*`; 0 when `status` is NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_state(status: *const vidu_task_status) -> vidu_state {
    get(status, 0, |s| s.status.state as vidu_state)
}

/// The provider's own state string (`"Running"`, `"in_progress"`, `"queueing"`).
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_raw_state(
    status: *const vidu_task_status,
) -> *const c_char {
    get(status, ptr::null(), |s| s.raw_state.as_ptr())
}

/// Progress from 0.0 to 1.0 where the provider reports it (Vtrix), else -1.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_progress(status: *const vidu_task_status) -> f64 {
    get(status, -1.0, |s| s.status.progress.map_or(-1.0, f64::from))
}

/// The provider's task id.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_task_id(
    status: *const vidu_task_status,
) -> *const c_char {
    get(status, ptr::null(), |s| s.task_id.as_ptr())
}

/// How many video URLs there are (at least 1 once the task succeeded).
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_video_url_count(
    status: *const vidu_task_status,
) -> usize {
    get(status, 0, |s| s.video_urls.len())
}

/// The video URL at `index`, or NULL when `index` is out of range. Signed URLs may expire.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_video_url(
    status: *const vidu_task_status,
    index: usize,
) -> *const c_char {
    get(status, ptr::null(), |s| {
        s.video_urls.get(index).map_or(ptr::null(), |u| u.as_ptr())
    })
}

/// The cover image URL (official API), or NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_cover_url(
    status: *const vidu_task_status,
) -> *const c_char {
    get(status, ptr::null(), |s| opt_ptr(&s.cover_url))
}

/// The provider's error code when the task failed, or NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_error_code(
    status: *const vidu_task_status,
) -> *const c_char {
    get(status, ptr::null(), |s| opt_ptr(&s.error_code))
}

/// The provider's error message when the task failed, or NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_error_message(
    status: *const vidu_task_status,
) -> *const c_char {
    get(status, ptr::null(), |s| opt_ptr(&s.error_message))
}

/// Credits charged (official API), or -1 when not reported.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_credits(status: *const vidu_task_status) -> i64 {
    get(status, -1, |s| {
        s.status
            .credits
            .and_then(|c| i64::try_from(c).ok())
            .unwrap_or(-1)
    })
}

/// The cost as the provider states it (Vtrix: USD as a decimal string), or NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_cost(status: *const vidu_task_status) -> *const c_char {
    get(status, ptr::null(), |s| opt_ptr(&s.cost))
}

/// The provider's request id of this poll, for support tickets, or NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_request_id(
    status: *const vidu_task_status,
) -> *const c_char {
    get(status, ptr::null(), |s| opt_ptr(&s.request_id))
}

/// Frees a status. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn vidu_task_status_free(status: *mut vidu_task_status) {
    value((), || {
        free_handle(status);
        Ok(())
    })
}
