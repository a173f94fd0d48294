//! `vidu_client` and the calls that use it: submit, status, wait, cancel, download, generate.

use std::ffi::c_char;
use std::path::Path;

use super::boundary::vidu_error;
use super::boundary::{
    arg_out, arg_ref, arg_str, call, free_handle, new_handle, opt_out, opt_ref, owned_string, value,
};
use super::status::vidu_task_status;
use super::types::{
    read_sized, sized_out, vidu_config, vidu_job, vidu_wait_options, wait_options, SizedStruct,
};
use super::{vidu_cancel_token, vidu_result};
use crate::client::{Client, WaitOptions};

/// A client for one provider, holding its configuration and a connection pool.
///
/// Thread safety: a client may be used from many threads at once (every function taking a
/// `const vidu_client *`). Free it only once no call that uses it is running.
pub struct vidu_client {
    pub(super) client: Client,
}

/// Checks `config` and makes a client into `*out`; free it with `vidu_client_free`. Nothing is
/// sent.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_new(
    config: *const vidu_config,
    out: *mut *mut vidu_client,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let config = read_sized(config, "config")?.rust_config()?;
        let out = arg_out(out, "out")?;
        let client = Client::new(config)?;
        out.set(new_handle(vidu_client { client }));
        Ok(())
    })
}

/// Frees a client. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_free(client: *mut vidu_client) {
    value((), || {
        free_handle(client);
        Ok(())
    })
}

/// Runs every check on `job` (model, duration, resolution, prompt, image format and size)
/// without sending anything.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_check(
    client: *const vidu_client,
    job: *const vidu_job,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let client = &arg_ref(client, "client")?.client;
        let job = read_sized(job, "job")?;
        let job = job.rust_job()?;
        client.check(&job)?;
        Ok(())
    })
}

/// Submits `job` and writes the new task's id to `*task_id_out` (free it with
/// `vidu_string_free`).
#[no_mangle]
pub unsafe extern "C" fn vidu_client_submit(
    client: *const vidu_client,
    job: *const vidu_job,
    task_id_out: *mut *mut c_char,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let client = &arg_ref(client, "client")?.client;
        let job = read_sized(job, "job")?;
        let job = job.rust_job()?;
        let out = arg_out(task_id_out, "task_id_out")?;
        let task_id = client.submit(&job)?;
        out.set(owned_string(&task_id));
        Ok(())
    })
}

/// Polls the status of `task_id` once (retrying transient failures) into `*out`; free it with
/// `vidu_task_status_free`.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_status(
    client: *const vidu_client,
    task_id: *const c_char,
    out: *mut *mut vidu_task_status,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let client = &arg_ref(client, "client")?.client;
        let task_id = arg_str(task_id, "task_id")?;
        let out = arg_out(out, "out")?;
        let status = client.status(task_id)?;
        out.set(new_handle(vidu_task_status::new(status)));
        Ok(())
    })
}

/// Polls `task_id` until it is terminal and writes the final status to `*out` (free it with
/// `vidu_task_status_free`). `options` may be NULL. A task that ends without a video fails with
/// `VIDU_ERROR_TASK_FAILED`; the deadline with `VIDU_ERROR_TIMEOUT`; the cancel token or the
/// callback with `VIDU_ERROR_CANCELLED`. The progress callback runs on this thread.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_wait(
    client: *const vidu_client,
    task_id: *const c_char,
    options: *const vidu_wait_options,
    out: *mut *mut vidu_task_status,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let client = &arg_ref(client, "client")?.client;
        let task_id = arg_str(task_id, "task_id")?;
        let mut options = wait_options(options)?;
        let out = arg_out(out, "out")?;
        let status = client.wait(task_id, &mut options)?;
        out.set(new_handle(vidu_task_status::new(status)));
        Ok(())
    })
}

/// Asks the provider to cancel the task. Only the official API offers this; UModelVerse and
/// Vtrix fail with `VIDU_ERROR_UNSUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_cancel(
    client: *const vidu_client,
    task_id: *const c_char,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let client = &arg_ref(client, "client")?.client;
        let task_id = arg_str(task_id, "task_id")?;
        client.cancel(task_id)?;
        Ok(())
    })
}

/// The account's credits and concurrency, as `vidu_client_credits` fills them in. A value the
/// provider did not report is -1.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vidu_credits {
    /// Required: `sizeof(vidu_credits)` as the program was compiled; only that many bytes are
    /// written.
    pub struct_size: usize,
    /// Credits left, summed over the account's kinds of credit.
    pub credit_remain: i64,
    /// Tasks that may run at once (per organisation).
    pub concurrency_limit: i64,
    /// Tasks running now.
    pub current_concurrency: i64,
    /// Tasks waiting in the queue.
    pub queue_count: i64,
}

// SAFETY: repr(C), `struct_size: usize` first, all-zero valid.
unsafe impl SizedStruct for vidu_credits {
    const NAME: &'static str = "vidu_credits";
    fn fields() -> Vec<(usize, usize)> {
        fields!(vidu_credits: struct_size, credit_remain, concurrency_limit,
            current_concurrency, queue_count)
    }
}

/// Asks the official API for the account's credits and concurrency and writes them to `*out`.
/// UModelVerse and Vtrix fail with `VIDU_ERROR_UNSUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_credits(
    client: *const vidu_client,
    out: *mut vidu_credits,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let client = &arg_ref(client, "client")?.client;
        let out = sized_out(out, "out")?;
        let credits = client.credits()?;
        let number = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        let first = |f: fn(&crate::account::CreditRemain) -> Option<u64>| {
            number(credits.remains.iter().find_map(f))
        };
        let remain: Option<u64> = credits
            .remains
            .iter()
            .filter_map(|r| r.credit_remain)
            .reduce(u64::saturating_add);
        out.set(vidu_credits {
            struct_size: std::mem::size_of::<vidu_credits>(),
            credit_remain: number(remain),
            concurrency_limit: first(|r| r.concurrency_limit),
            current_concurrency: first(|r| r.current_concurrency),
            queue_count: first(|r| r.queue_count),
        });
        Ok(())
    })
}

/// Downloads the video of a succeeded task to `path`, atomically: on failure no file is left
/// at `path`. `cancel` (may be NULL) stops the download from another thread. When `bytes_out`
/// is not NULL it receives the size of the video.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_download(
    client: *const vidu_client,
    status: *const vidu_task_status,
    path: *const c_char,
    cancel: *const vidu_cancel_token,
    bytes_out: *mut u64,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let client = &arg_ref(client, "client")?.client;
        let status = &arg_ref(status, "status")?.status;
        let path = Path::new(arg_str(path, "path")?);
        let mut options = WaitOptions::new();
        options.cancel = opt_ref(cancel).map(|c| c.token.clone());
        let bytes = client.download(status, path, &options)?;
        if let Some(out) = opt_out(bytes_out) {
            out.set(bytes);
        }
        Ok(())
    })
}

/// Submit, wait and download in one call: writes the video to `path` (atomically). `options`
/// may be NULL. When not NULL, `task_id_out` receives the task id (free it with
/// `vidu_string_free`) and `bytes_out` the size of the video. On failure the error carries the
/// task id whenever a task was created (`vidu_error_task_id`), so that it can be waited for
/// again instead of paying for a new one.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_generate(
    client: *const vidu_client,
    job: *const vidu_job,
    path: *const c_char,
    options: *const vidu_wait_options,
    task_id_out: *mut *mut c_char,
    bytes_out: *mut u64,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let client = &arg_ref(client, "client")?.client;
        let job = read_sized(job, "job")?;
        let job = job.rust_job()?;
        let path = Path::new(arg_str(path, "path")?);
        let mut options = wait_options(options)?;
        let generated = client.generate(&job, path, &mut options)?;
        if let Some(out) = opt_out(task_id_out) {
            out.set(owned_string(&generated.task_id));
        }
        if let Some(out) = opt_out(bytes_out) {
            out.set(generated.bytes);
        }
        Ok(())
    })
}

/// Waits for a task submitted earlier and downloads its video to `path` (atomically): how to
/// pick a task up after `VIDU_ERROR_TIMEOUT`, a crash or a restart without paying for a new
/// one. `options` may be NULL; `bytes_out`, when not NULL, receives the size of the video.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_resume(
    client: *const vidu_client,
    task_id: *const c_char,
    path: *const c_char,
    options: *const vidu_wait_options,
    bytes_out: *mut u64,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let client = &arg_ref(client, "client")?.client;
        let task_id = arg_str(task_id, "task_id")?;
        let path = Path::new(arg_str(path, "path")?);
        let mut options = wait_options(options)?;
        let resumed = client.resume(task_id, path, &mut options)?;
        if let Some(out) = opt_out(bytes_out) {
            out.set(resumed.bytes);
        }
        Ok(())
    })
}
