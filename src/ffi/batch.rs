//! `vidu_client_run_batch`: many jobs from the calling thread (the Rust
//! `Client::run_batch_from`, each item made a Rust job when the batch needs it), its items,
//! options and events, and `vidu_batch_result`, the owned outcome of each job, gathered from
//! the events.

use std::borrow::Cow;
use std::ffi::{c_char, c_int, c_void, CString};
use std::ops::ControlFlow;
use std::path::Path;
use std::ptr;

use super::boundary::{arg_out, arg_ref, c_string, call, free_handle, new_handle, opt_ref};
use super::boundary::{opt_str, value, vidu_error};
use super::types::{read_sized, secs, vidu_job, SizedStruct};
use super::{vidu_cancel_token, vidu_client, vidu_result, vidu_state};
use crate::batch::{ending, BatchEvent, BatchJob, BatchOptions, JobSource};
use crate::error::Error;

/// How one job of a batch ended: `VIDU_OUTCOME_*`.
pub type vidu_outcome = u32;
/// The video was written (now, or by an earlier run with the same journal).
pub const VIDU_OUTCOME_WRITTEN: vidu_outcome = 1;
/// The job failed; its error (`vidu_batch_result_error`) carries the task id when a task
/// exists.
pub const VIDU_OUTCOME_FAILED: vidu_outcome = 2;
/// A submit may have created a task that could not be found; the job was not submitted again
/// (see `vidu_batch_options.resubmit_uncertain`).
pub const VIDU_OUTCOME_UNCERTAIN: vidu_outcome = 3;
/// The run stopped (deadline, cancel token, callback) before the job finished; rerun with the
/// same journal to resume it. The task id is set when a task exists.
pub const VIDU_OUTCOME_UNFINISHED: vidu_outcome = 4;

/// What happened to one job during a batch: `VIDU_BATCH_EVENT_*`.
pub type vidu_batch_event_kind = u32;
/// The job was submitted (`task_id` is the new task, already in the journal).
pub const VIDU_BATCH_EVENT_SUBMITTED: vidu_batch_event_kind = 1;
/// A task created before a crash was found again and adopted instead of paying twice.
pub const VIDU_BATCH_EVENT_ADOPTED: vidu_batch_event_kind = 2;
/// A poll saw a new state or progress (`state`, `raw_state`, `progress`).
pub const VIDU_BATCH_EVENT_PROGRESS: vidu_batch_event_kind = 3;
/// The provider throttled a submit (`retry_after_secs`); the job stays queued.
pub const VIDU_BATCH_EVENT_THROTTLED: vidu_batch_event_kind = 4;
/// The video was written (`path`, `bytes`).
pub const VIDU_BATCH_EVENT_WRITTEN: vidu_batch_event_kind = 5;
/// The job failed (`error`); the others go on.
pub const VIDU_BATCH_EVENT_FAILED: vidu_batch_event_kind = 6;
/// The job's submit is uncertain (`error`).
pub const VIDU_BATCH_EVENT_UNCERTAIN: vidu_batch_event_kind = 7;

/// One job of a batch.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vidu_batch_item {
    /// Required: `sizeof(vidu_batch_item)`, the same in every item of the array.
    pub struct_size: usize,
    /// Required: the job (its own `struct_size` set).
    pub job: *const vidu_job,
    /// Required: where its video goes.
    pub output: *const c_char,
    /// How errors name the job, e.g. `"line 734"`. Default (NULL): `"job <n>"`, 1-based.
    pub label: *const c_char,
}

/// What the event callback sees. Strings and `error` are valid during the callback only;
/// fields that do not apply to `kind` are NULL, 0 or -1.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vidu_batch_event {
    /// `sizeof(vidu_batch_event)` in the library: fields past it are not there.
    pub struct_size: usize,
    /// `VIDU_BATCH_EVENT_*`.
    pub kind: vidu_batch_event_kind,
    /// The job's index in the items array.
    pub job: usize,
    /// The task, when one exists.
    pub task_id: *const c_char,
    /// `PROGRESS`: `VIDU_STATE_*`.
    pub state: vidu_state,
    /// `PROGRESS`: the provider's own state string.
    pub raw_state: *const c_char,
    /// `PROGRESS`: 0.0 to 1.0 where the provider reports it, else -1.
    pub progress: f64,
    /// `THROTTLED`: seconds submits are held back.
    pub retry_after_secs: f64,
    /// `WRITTEN`: where the video is.
    pub path: *const c_char,
    /// `WRITTEN`: its size in bytes.
    pub bytes: u64,
    /// `FAILED`, `UNCERTAIN`: the error, owned by the library.
    pub error: *const vidu_error,
}

/// Called on the thread running the batch for each event, with the `userdata` given in
/// `vidu_batch_options`. Return `VIDU_PROGRESS_CONTINUE` to go on, `VIDU_PROGRESS_STOP` to stop
/// the whole run: jobs not done end as `VIDU_OUTCOME_UNFINISHED` (tasks go on at the provider).
pub type vidu_batch_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const vidu_batch_event) -> c_int>;

/// How to run a batch. All zero but `struct_size` (or a NULL pointer) means: 5 tasks at once,
/// no deadline, no journal, no cancel token, no callback.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vidu_batch_options {
    /// Required: `sizeof(vidu_batch_options)` as the program was compiled.
    pub struct_size: usize,
    /// Tasks in flight at once. 0: the provider's documented concurrency (5).
    pub concurrency: usize,
    /// Stop waiting after this many seconds; unfinished jobs keep their task ids. 0 or
    /// `INFINITY`: no deadline.
    pub timeout_secs: f64,
    /// A journal file that makes the run resumable after the process dies (rerun with the same
    /// items and journal: nothing is paid twice). NULL: none.
    pub journal_path: *const c_char,
    /// Non-zero: submit again a job whose earlier submit is uncertain (gateways only; risks
    /// paying twice).
    pub resubmit_uncertain: u32,
    /// Stops the whole run at once from any thread, or NULL; must outlive the call.
    pub cancel: *const vidu_cancel_token,
    /// Called for each event, or NULL.
    pub on_event: vidu_batch_callback,
    /// Passed to `on_event`; must stay valid until the call returns.
    pub userdata: *mut c_void,
    /// Official API: how many seconds the task list is searched for the task of a submit whose
    /// answer was lost before concluding that none was created and submitting again. 0: the
    /// default, 120. (Appended: programs compiled before it leave it out, meaning 0.)
    pub search_window_secs: f64,
    /// Videos downloading at once (1 to 64), on threads beside the loop that submits and polls.
    /// 0: the default, 4. (Appended: programs compiled before it leave it out, meaning 0.)
    pub downloads: usize,
    /// Submits sent at once (1 to 64, at most `concurrency`), on threads beside the loop; their
    /// journal records share one write to disk, and a crash leaves at most this many jobs to be
    /// looked up (uncertain on the gateways). 0: the default, 4. (Appended: programs compiled
    /// before it leave it out, meaning 0.)
    pub submits: usize,
}

// SAFETY: repr(C), `struct_size: usize` first, all-zero valid.
unsafe impl SizedStruct for vidu_batch_item {
    const NAME: &'static str = "vidu_batch_item";
    fn fields() -> Vec<(usize, usize)> {
        fields!(vidu_batch_item: struct_size, job, output, label)
    }
}

// SAFETY: repr(C), `struct_size: usize` first, all-zero valid.
unsafe impl SizedStruct for vidu_batch_options {
    const NAME: &'static str = "vidu_batch_options";
    fn fields() -> Vec<(usize, usize)> {
        fields!(vidu_batch_options: struct_size, concurrency, timeout_secs, journal_path,
            resubmit_uncertain, cancel, on_event, userdata, search_window_secs, downloads, submits)
    }
}

/// The outcome of every job of a batch, in the order of the items; read it with the
/// `vidu_batch_result_*` getters (an index out of range gives 0 or NULL) and free it with
/// `vidu_batch_result_free`. Strings and errors it returns stay valid until then.
///
/// Thread safety: not synchronized; may be read from several threads at once, but must not be
/// freed while another thread reads it.
pub struct vidu_batch_result {
    outcomes: Vec<Outcome>,
}

struct Outcome {
    kind: vidu_outcome,
    task_id: Option<CString>,
    path: Option<CString>,
    bytes: u64,
    error: Option<vidu_error>,
}

impl Outcome {
    fn new(kind: vidu_outcome, task_id: Option<&str>) -> Self {
        Outcome {
            kind,
            task_id: task_id.map(c_string),
            path: None,
            bytes: 0,
            error: None,
        }
    }

    fn written(task_id: &str, path: &Path, bytes: u64) -> Self {
        Outcome {
            path: Some(c_string(&path.to_string_lossy())),
            bytes,
            ..Outcome::new(VIDU_OUTCOME_WRITTEN, Some(task_id))
        }
    }

    fn error(kind: vidu_outcome, error: &Error) -> Self {
        Outcome {
            error: Some(error.into()),
            ..Outcome::new(kind, error.task_id())
        }
    }

    /// The outcome an ending event tells, with its job; `None` for the other events.
    fn of(event: &BatchEvent<'_>) -> Option<(usize, Self)> {
        Some(match event {
            BatchEvent::Written {
                job,
                task_id,
                path,
                bytes,
            } => (*job, Outcome::written(task_id, path, *bytes)),
            BatchEvent::Failed { job, error } => (*job, Outcome::error(VIDU_OUTCOME_FAILED, error)),
            BatchEvent::Uncertain { job, error } => {
                (*job, Outcome::error(VIDU_OUTCOME_UNCERTAIN, error))
            }
            // Ended in an earlier run: the outcome its ending event would have told.
            BatchEvent::Earlier { job, outcome } => Outcome::of(&ending(*job, outcome)?)?,
            BatchEvent::Unfinished { job, task_id } => {
                (*job, Outcome::new(VIDU_OUTCOME_UNFINISHED, *task_id))
            }
            _ => return None,
        })
    }
}

/// The items as C gave them: each job copied (its `struct_size` honoured) and its strings
/// checked, naming the item.
struct Items {
    jobs: Vec<vidu_job>,
    outputs: Vec<String>,
    labels: Vec<Option<String>>,
}

/// The batch reads each item's Rust job when it needs it (checked once up front by
/// `vidu_client_run_batch`), borrowing its strings and image bytes from the copies above.
impl JobSource for Items {
    fn len(&self) -> usize {
        self.jobs.len()
    }
    fn job(&self, index: usize) -> crate::Result<Cow<'_, BatchJob<'_>>> {
        let job = self.jobs[index].rust_job().map_err(|e| {
            Error::invalid(
                "item",
                format!("items[{index}]"),
                e.message.to_string_lossy().into_owned(),
            )
        })?;
        let mut bj = BatchJob::new(job, Path::new(&self.outputs[index]));
        if let Some(label) = &self.labels[index] {
            bj = bj.label(label.as_str());
        }
        Ok(Cow::Owned(bj))
    }
}

fn read_items(items: *const vidu_batch_item, count: usize) -> Result<Items, vidu_error> {
    let mut read = Items {
        jobs: Vec::with_capacity(count),
        outputs: Vec::with_capacity(count),
        labels: Vec::with_capacity(count),
    };
    if count == 0 {
        return Ok(read);
    }
    let first = read_sized(items, "items[0]")?;
    let stride = first.struct_size;
    for i in 0..count {
        let name = |field: &str| format!("items[{i}]{field}");
        let at = stride.checked_mul(i).filter(|n| *n <= isize::MAX as usize);
        let Some(at) = at else {
            return Err(vidu_error::invalid_argument(
                &name(""),
                "the array is too large",
            ));
        };
        // SAFETY: the caller declares `count` items of `struct_size` bytes at `items`.
        let ptr = unsafe { items.cast::<u8>().add(at) }.cast::<vidu_batch_item>();
        let item = read_sized(ptr, "item").map_err(|e| e.in_item(&name("")))?;
        if item.struct_size != stride {
            return Err(vidu_error::invalid_argument(
                &name("->struct_size"),
                format!("{} differs from items[0]'s {stride}", item.struct_size),
            ));
        }
        let job = read_sized(item.job, "job").map_err(|e| e.in_item(&name("")))?;
        let output = opt_str(item.output, "output")
            .and_then(|o| o.ok_or_else(|| vidu_error::null_argument("output")))
            .map_err(|e| e.in_item(&name("")))?;
        let label = opt_str(item.label, "label").map_err(|e| e.in_item(&name("")))?;
        read.jobs.push(job);
        read.outputs.push(output.to_owned());
        read.labels.push(label.map(str::to_owned));
    }
    Ok(read)
}

/// Calls the C callback with an event; a non-zero return stops the run.
fn forward(
    callback: unsafe extern "C" fn(*mut c_void, *const vidu_batch_event) -> c_int,
    userdata: *mut c_void,
    event: &BatchEvent<'_>,
) -> ControlFlow<()> {
    let mut e = vidu_batch_event {
        struct_size: std::mem::size_of::<vidu_batch_event>(),
        kind: 0,
        job: 0,
        task_id: ptr::null(),
        state: 0,
        raw_state: ptr::null(),
        progress: -1.0,
        retry_after_secs: 0.0,
        path: ptr::null(),
        bytes: 0,
        error: ptr::null(),
    };
    // Owned here so that the pointers stay valid during the callback.
    let (task_id, raw_state, path, error): (Option<CString>, Option<CString>, Option<CString>, _);
    match event {
        BatchEvent::Submitted { job, task_id: id } | BatchEvent::Adopted { job, task_id: id } => {
            e.kind = if matches!(event, BatchEvent::Submitted { .. }) {
                VIDU_BATCH_EVENT_SUBMITTED
            } else {
                VIDU_BATCH_EVENT_ADOPTED
            };
            e.job = *job;
            task_id = Some(c_string(id));
            (raw_state, path, error) = (None, None, None);
        }
        BatchEvent::Progress { job, status } => {
            e.kind = VIDU_BATCH_EVENT_PROGRESS;
            e.job = *job;
            e.state = status.state as vidu_state;
            e.progress = status.progress.map_or(-1.0, f64::from);
            task_id = Some(c_string(&status.task_id));
            raw_state = Some(c_string(&status.raw_state));
            (path, error) = (None, None);
        }
        BatchEvent::Throttled { job, retry_after } => {
            e.kind = VIDU_BATCH_EVENT_THROTTLED;
            e.job = *job;
            e.retry_after_secs = retry_after.as_secs_f64();
            (task_id, raw_state, path, error) = (None, None, None, None);
        }
        BatchEvent::Written {
            job,
            task_id: id,
            path: p,
            bytes,
        } => {
            e.kind = VIDU_BATCH_EVENT_WRITTEN;
            e.job = *job;
            e.bytes = *bytes;
            task_id = Some(c_string(id));
            path = Some(c_string(&p.to_string_lossy()));
            (raw_state, error) = (None, None);
        }
        BatchEvent::Failed { job, error: err } | BatchEvent::Uncertain { job, error: err } => {
            e.kind = if matches!(event, BatchEvent::Failed { .. }) {
                VIDU_BATCH_EVENT_FAILED
            } else {
                VIDU_BATCH_EVENT_UNCERTAIN
            };
            e.job = *job;
            task_id = err.task_id().map(c_string);
            error = Some(vidu_error::from(*err));
            (raw_state, path) = (None, None);
        }
        // Only a batch run from a source says so; the C batch returns every outcome instead.
        // Not told to C programs: their outcomes are in the result.
        BatchEvent::Earlier { .. } | BatchEvent::Unfinished { .. } => {
            return ControlFlow::Continue(())
        }
    }
    let as_ptr = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
    e.task_id = as_ptr(&task_id);
    e.raw_state = as_ptr(&raw_state);
    e.path = as_ptr(&path);
    e.error = error
        .as_ref()
        .map_or(ptr::null(), |e| e as *const vidu_error);
    // SAFETY: the caller gave this callback and its userdata for this call, on this thread;
    // the event and what it points to outlive the call.
    if unsafe { callback(userdata, &e) } == super::VIDU_PROGRESS_CONTINUE {
        ControlFlow::Continue(())
    } else {
        ControlFlow::Break(())
    }
}

/// Runs `count` jobs from this thread (`items` may be NULL when `count` is 0): every job is
/// checked before the first submit (an invalid one fails the call naming it, and nothing is
/// sent); then at most `concurrency` tasks are in flight, each polled on its own schedule,
/// each video downloaded (atomically) as soon as its task succeeds, and one job's failure does
/// not stop the others. `options` may be NULL. On success `*out` receives one outcome per item,
/// in order (free it with `vidu_batch_result_free`); a run stopped by its deadline, cancel token
/// or callback also succeeds, its unfinished jobs marked `VIDU_OUTCOME_UNFINISHED`.
#[no_mangle]
pub unsafe extern "C" fn vidu_client_run_batch(
    client: *const vidu_client,
    items: *const vidu_batch_item,
    count: usize,
    options: *const vidu_batch_options,
    out: *mut *mut vidu_batch_result,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let client = &arg_ref(client, "client")?.client;
        let items = read_items(items, count)?;
        let o = if options.is_null() {
            // SAFETY: all-zero is a valid vidu_batch_options (its `SizedStruct` contract).
            unsafe { std::mem::zeroed::<vidu_batch_options>() }
        } else {
            read_sized(options, "options")?
        };
        let out = arg_out(out, "out")?;
        for (i, job) in items.jobs.iter().enumerate() {
            job.rust_job()
                .map_err(|e| e.in_item(&format!("items[{i}]")))?;
        }
        // Each job's outcome comes as one event; the program's callback sees the events of this
        // run until it stops it, as before (not the endings of earlier runs, nor after a stop).
        let mut outcomes: Vec<Option<Outcome>> = (0..count).map(|_| None).collect();
        let (callback, userdata) = (o.on_event, o.userdata);
        let mut forwarding = callback.is_some();
        let mut options = BatchOptions::default();
        if o.concurrency != 0 {
            options = options.concurrency(o.concurrency);
        }
        if o.timeout_secs != f64::INFINITY {
            if let Some(t) = secs(o.timeout_secs, "options->timeout_secs")? {
                options = options.timeout(t);
            }
        }
        if let Some(path) = opt_str(o.journal_path, "options->journal_path")? {
            options = options.journal(path);
        }
        options = options.resubmit_uncertain(o.resubmit_uncertain != 0);
        if let Some(w) = secs(o.search_window_secs, "options->search_window_secs")? {
            options = options.search_window(w);
        }
        if o.downloads != 0 {
            options = options.downloads(o.downloads);
        }
        if o.submits != 0 {
            options = options.submits(o.submits);
        }
        if let Some(token) = opt_ref(o.cancel) {
            options = options.cancel(token.token.clone());
        }
        let outcomes_of = &mut outcomes;
        options = options.on_event(move |event| {
            if let Some((job, outcome)) = Outcome::of(event) {
                if let Some(slot) = outcomes_of.get_mut(job) {
                    *slot = Some(outcome);
                }
            }
            let told = !matches!(
                event,
                BatchEvent::Earlier { .. } | BatchEvent::Unfinished { .. }
            );
            match callback.filter(|_| forwarding && told) {
                Some(callback) => {
                    let flow = forward(callback, userdata, event);
                    forwarding = flow.is_continue();
                    flow
                }
                None => ControlFlow::Continue(()),
            }
        });
        client.run_batch_from(&items, &mut options)?;
        drop(options);
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::new(VIDU_OUTCOME_UNFINISHED, None)))
            .collect();
        out.set(new_handle(vidu_batch_result { outcomes }));
        Ok(())
    })
}

/// Runs a getter on one outcome, returning `fallback` when `result` is NULL or `index` is out
/// of range.
fn get<T>(
    result: *const vidu_batch_result,
    index: usize,
    fallback: T,
    f: impl FnOnce(&Outcome) -> T,
) -> T {
    value(None, || {
        Ok(arg_ref(result, "result")?.outcomes.get(index).map(f))
    })
    .unwrap_or(fallback)
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

/// How many outcomes there are (the number of items); 0 when `result` is NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_batch_result_count(result: *const vidu_batch_result) -> usize {
    value(0, || Ok(arg_ref(result, "result")?.outcomes.len()))
}

/// How job `index` ended: `VIDU_OUTCOME_*`; 0 when out of range.
#[no_mangle]
pub unsafe extern "C" fn vidu_batch_result_kind(
    result: *const vidu_batch_result,
    index: usize,
) -> vidu_outcome {
    get(result, index, 0, |o| o.kind)
}

/// The task of job `index`, whenever one exists (also for failed, uncertain and unfinished
/// jobs: wait for it again instead of paying twice), or NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_batch_result_task_id(
    result: *const vidu_batch_result,
    index: usize,
) -> *const c_char {
    get(result, index, ptr::null(), |o| opt_ptr(&o.task_id))
}

/// `VIDU_OUTCOME_WRITTEN`: where the video of job `index` is; else NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_batch_result_path(
    result: *const vidu_batch_result,
    index: usize,
) -> *const c_char {
    get(result, index, ptr::null(), |o| opt_ptr(&o.path))
}

/// `VIDU_OUTCOME_WRITTEN`: the size of the video of job `index` in bytes; else 0.
#[no_mangle]
pub unsafe extern "C" fn vidu_batch_result_bytes(
    result: *const vidu_batch_result,
    index: usize,
) -> u64 {
    get(result, index, 0, |o| o.bytes)
}

/// `VIDU_OUTCOME_FAILED`, `VIDU_OUTCOME_UNCERTAIN`: the error of job `index` (code, message,
/// task id...), owned by the result: do not free it. Else NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_batch_result_error(
    result: *const vidu_batch_result,
    index: usize,
) -> *const vidu_error {
    get(result, index, ptr::null(), |o| {
        o.error
            .as_ref()
            .map_or(ptr::null(), |e| e as *const vidu_error)
    })
}

/// Frees a batch result. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn vidu_batch_result_free(result: *mut vidu_batch_result) {
    value((), || {
        free_handle(result);
        Ok(())
    })
}
