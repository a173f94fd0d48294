//! The C batch runner (`vidu_client_run_batch`) against the built-in emulator, through the C
//! functions only: every output byte for byte, a failing job among successes, events, a
//! callback stop and a rerun with the journal, bad items named.
#![cfg(feature = "emulator")]

mod common;

use std::ffi::{c_int, c_void, CString};
use std::path::{Path, PathBuf};
use std::ptr;

use common::ffi::*;
use vidu::ffi::*;

/// `path` as a C string.
fn c_path(path: &Path) -> CString {
    CString::new(path.to_str().unwrap()).unwrap()
}

use vidu::emulator::{Emulator, EmulatorOptions};

/// A client of `provider` on `emulator`, freed on drop.
struct Client(*mut vidu_client);

impl Drop for Client {
    fn drop(&mut self) {
        unsafe { vidu_client_free(self.0) }
    }
}

fn client(emulator: &Emulator, provider: vidu_provider) -> (Client, CString) {
    let url = CString::new(emulator.base_url()).unwrap();
    let mut config = zeroed_config();
    config.provider = provider;
    config.api_key = KEY.as_ptr();
    config.base_url = url.as_ptr();
    config.poll_first_secs = 0.02;
    config.poll_max_secs = 0.05;
    let mut client = ptr::null_mut();
    success(|err| unsafe { vidu_client_new(&config, &mut client, err) });
    (Client(client), url)
}

/// Jobs on the sample PNG in memory, one per prompt, writing to `dir/<i>.mp4`.
struct Jobs {
    _png: Vec<u8>,
    _prompts: Vec<CString>,
    _outputs: Vec<CString>,
    jobs: Vec<vidu_job>,
    outputs: Vec<PathBuf>,
}

impl Jobs {
    fn new(dir: &Path, prompts: &[&str]) -> Jobs {
        let png = sample_png();
        let c_prompts: Vec<CString> = prompts.iter().map(|p| CString::new(*p).unwrap()).collect();
        let outputs: Vec<_> = (0..prompts.len())
            .map(|i| dir.join(format!("{i}.mp4")))
            .collect();
        let c_outputs = outputs.iter().map(|o| c_path(o)).collect();
        let jobs = c_prompts
            .iter()
            .map(|p| {
                let mut job = png_job(&png);
                job.prompt = p.as_ptr();
                job
            })
            .collect();
        Jobs {
            _png: png,
            _prompts: c_prompts,
            _outputs: c_outputs,
            jobs,
            outputs,
        }
    }

    fn items(&self) -> Vec<vidu_batch_item> {
        self.jobs
            .iter()
            .zip(&self._outputs)
            .map(|(job, output)| vidu_batch_item {
                struct_size: std::mem::size_of::<vidu_batch_item>(),
                job,
                output: output.as_ptr(),
                label: ptr::null(),
            })
            .collect()
    }
}

/// What the event callback saw: (kind, job, task id).
type Seen = Vec<(vidu_batch_event_kind, usize, Option<String>)>;

struct Listener {
    seen: Seen,
    stop_after_submits: Option<usize>,
}

unsafe extern "C" fn on_event(userdata: *mut c_void, e: *const vidu_batch_event) -> c_int {
    let listener = &mut *(userdata as *mut Listener);
    let e = &*e;
    assert_eq!(e.struct_size, std::mem::size_of::<vidu_batch_event>());
    if e.kind == VIDU_BATCH_EVENT_FAILED {
        assert!(!e.error.is_null());
        assert_eq!(vidu_error_code(e.error), VIDU_ERROR_TASK_FAILED);
    }
    listener.seen.push((e.kind, e.job, text(e.task_id)));
    let submits = listener
        .seen
        .iter()
        .filter(|s| s.0 == VIDU_BATCH_EVENT_SUBMITTED)
        .count();
    match listener.stop_after_submits {
        Some(n) if submits >= n => VIDU_PROGRESS_STOP,
        _ => VIDU_PROGRESS_CONTINUE,
    }
}

fn run(
    client: &Client,
    items: &[vidu_batch_item],
    listener: &mut Listener,
    journal: Option<&CString>,
) -> *mut vidu_batch_result {
    let mut options: vidu_batch_options = sized();
    options.concurrency = 2;
    options.timeout_secs = 60.0;
    options.on_event = Some(on_event);
    options.userdata = (listener as *mut Listener).cast();
    options.journal_path = journal.map_or(ptr::null(), |j| j.as_ptr());
    let mut result = ptr::null_mut();
    success(|err| unsafe {
        vidu_client_run_batch(
            client.0,
            items.as_ptr(),
            items.len(),
            &options,
            &mut result,
            err,
        )
    });
    assert!(!result.is_null());
    result
}

#[test]
fn a_batch_writes_every_video_and_one_failure_does_not_stop_the_others() {
    let emulator = common::emulated::failing_prompts("storm");
    let (client, _url) = client(&emulator, VIDU_PROVIDER_VIDU);
    let dir = common::scratch_dir();
    let prompts = ["waves", "wind", "a storm", "rain", "sun"];
    let jobs = Jobs::new(&dir, &prompts);
    let items = jobs.items();
    let mut listener = Listener {
        seen: Vec::new(),
        stop_after_submits: None,
    };
    let result = run(&client, &items, &mut listener, None);
    unsafe {
        assert_eq!(vidu_batch_result_count(result), prompts.len());
        for (i, output) in jobs.outputs.iter().enumerate() {
            let task_id = text(vidu_batch_result_task_id(result, i)).expect("a task id");
            if i == 2 {
                assert_eq!(vidu_batch_result_kind(result, i), VIDU_OUTCOME_FAILED);
                let error = vidu_batch_result_error(result, i);
                assert_eq!(vidu_error_code(error), VIDU_ERROR_TASK_FAILED);
                assert_eq!(text(vidu_error_task_id(error)), Some(task_id.clone()));
                assert!(!output.exists(), "nothing at a failed job's output");
                assert!(vidu_batch_result_path(result, i).is_null());
            } else {
                assert_eq!(vidu_batch_result_kind(result, i), VIDU_OUTCOME_WRITTEN);
                assert!(vidu_batch_result_error(result, i).is_null());
                assert_eq!(
                    std::fs::read(output).unwrap(),
                    Emulator::video_bytes(),
                    "job {i}: byte for byte"
                );
                assert_eq!(
                    vidu_batch_result_bytes(result, i),
                    Emulator::video_bytes().len() as u64
                );
                assert_eq!(
                    text(vidu_batch_result_path(result, i)).as_deref(),
                    output.to_str()
                );
            }
            // The events name the same task: submitted, then written or failed.
            let kinds: Vec<_> = listener
                .seen
                .iter()
                .filter(|s| s.1 == i && s.0 != VIDU_BATCH_EVENT_PROGRESS)
                .map(|s| (s.0, s.2.clone()))
                .collect();
            let end = if i == 2 {
                VIDU_BATCH_EVENT_FAILED
            } else {
                VIDU_BATCH_EVENT_WRITTEN
            };
            assert_eq!(
                kinds,
                [
                    (VIDU_BATCH_EVENT_SUBMITTED, Some(task_id.clone())),
                    (end, Some(task_id))
                ]
            );
        }
        // Out of range: the documented fallbacks.
        assert_eq!(vidu_batch_result_kind(result, 99), 0);
        assert!(vidu_batch_result_task_id(result, 99).is_null());
        assert!(vidu_batch_result_task_id(ptr::null(), 0).is_null());
        vidu_batch_result_free(result);
    }
    assert_eq!(emulator.stats().submits, prompts.len() as u32);
}

#[test]
fn a_callback_stop_leaves_unfinished_jobs_that_a_rerun_with_the_journal_finishes() {
    let emulator = Emulator::start_with(EmulatorOptions::new().polls_per_state(3)).unwrap();
    let (client, _url) = client(&emulator, VIDU_PROVIDER_UMODELVERSE);
    let dir = common::scratch_dir();
    let journal = c_path(&dir.join("journal"));
    let jobs = Jobs::new(&dir, &["a", "b", "c", "d"]);
    let items = jobs.items();
    let mut listener = Listener {
        seen: Vec::new(),
        stop_after_submits: Some(1),
    };
    let result = run(&client, &items, &mut listener, Some(&journal));
    // Submits go out together (4 threads by default): the stop comes with the first answer,
    // and every task created by then is kept, with its id, for the rerun.
    let tasks: Vec<Option<String>> = unsafe {
        let tasks = (0..4)
            .map(|i| {
                assert_eq!(vidu_batch_result_kind(result, i), VIDU_OUTCOME_UNFINISHED);
                text(vidu_batch_result_task_id(result, i))
            })
            .collect();
        vidu_batch_result_free(result);
        tasks
    };
    let created = tasks.iter().flatten().count();
    assert!(created >= 1, "{tasks:?}");
    assert_eq!(emulator.stats().submits as usize, created, "{tasks:?}");
    assert!(jobs.outputs.iter().all(|o| !o.exists()));

    // Rerun with the journal: those tasks are waited for, not paid again.
    let mut listener = Listener {
        seen: Vec::new(),
        stop_after_submits: None,
    };
    let result = run(&client, &items, &mut listener, Some(&journal));
    unsafe {
        for (i, output) in jobs.outputs.iter().enumerate() {
            assert_eq!(vidu_batch_result_kind(result, i), VIDU_OUTCOME_WRITTEN);
            assert_eq!(std::fs::read(output).unwrap(), Emulator::video_bytes());
            if let Some(task) = &tasks[i] {
                assert_eq!(
                    text(vidu_batch_result_task_id(result, i)).as_ref(),
                    Some(task)
                );
            }
        }
        vidu_batch_result_free(result);
    }
    assert_eq!(emulator.stats().submits, 4, "one submit per job in all");

    // Once all are written, a rerun sends nothing, tells no event, and the result still has
    // each video and its task, from the journal.
    let written: Vec<Option<String>> = {
        let result = run(&client, &items, &mut listener, Some(&journal));
        let ids = (0..4)
            .map(|i| unsafe {
                assert_eq!(vidu_batch_result_kind(result, i), VIDU_OUTCOME_WRITTEN);
                assert_eq!(
                    vidu_batch_result_bytes(result, i),
                    Emulator::video_bytes().len() as u64
                );
                text(vidu_batch_result_task_id(result, i))
            })
            .collect();
        unsafe { vidu_batch_result_free(result) };
        ids
    };
    assert!(written.iter().all(Option::is_some), "{written:?}");
    let mut listener = Listener {
        seen: Vec::new(),
        stop_after_submits: None,
    };
    let result = run(&client, &items, &mut listener, Some(&journal));
    unsafe {
        for (i, id) in written.iter().enumerate() {
            assert_eq!(vidu_batch_result_kind(result, i), VIDU_OUTCOME_WRITTEN);
            assert_eq!(&text(vidu_batch_result_task_id(result, i)), id);
        }
        vidu_batch_result_free(result);
    }
    assert!(listener.seen.is_empty(), "{:?}", listener.seen);
    assert_eq!(emulator.stats().submits, 4, "nothing sent again");
}

/// A submit whose answer is lost after the gateway created the task is uncertain: C sees the
/// event and the outcome `UNCERTAIN` (with no task id: none was ever seen), the others are
/// written, and the job is not sent again. A rerun decides it again (it could be searched for,
/// or resubmitted if asked): uncertain, told again, still not sent.
#[test]
fn an_uncertain_submit_is_an_uncertain_outcome_and_event() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new().fault(
            vidu::emulator::Fault::on(vidu::emulator::Route::Submit)
                .nth(2)
                .effect(vidu::emulator::Effect::Reset),
        ),
    )
    .unwrap();
    let (client, _url) = client(&emulator, VIDU_PROVIDER_UMODELVERSE);
    let dir = common::scratch_dir();
    let journal = c_path(&dir.join("journal"));
    let jobs = Jobs::new(&dir, &["a", "b", "c"]);
    let items = jobs.items();
    for run_number in 0..2 {
        let mut listener = Listener {
            seen: Vec::new(),
            stop_after_submits: None,
        };
        let result = run(&client, &items, &mut listener, Some(&journal));
        let kinds: Vec<vidu_outcome> = (0..3)
            .map(|i| unsafe { vidu_batch_result_kind(result, i) })
            .collect();
        let uncertain: Vec<usize> = (0..3)
            .filter(|&i| kinds[i] == VIDU_OUTCOME_UNCERTAIN)
            .collect();
        assert_eq!(uncertain.len(), 1, "run {run_number}: {kinds:?}");
        let job = uncertain[0];
        unsafe {
            assert!(vidu_batch_result_task_id(result, job).is_null());
            let error = vidu_batch_result_error(result, job);
            assert_eq!(vidu_error_code(error), VIDU_ERROR_SUBMIT_UNCERTAIN);
            vidu_batch_result_free(result);
        }
        let told: Vec<usize> = listener
            .seen
            .iter()
            .filter(|s| s.0 == VIDU_BATCH_EVENT_UNCERTAIN)
            .map(|s| s.1)
            .collect();
        assert_eq!(told, vec![job], "run {run_number}");
        for (i, output) in jobs.outputs.iter().enumerate() {
            assert_eq!(output.exists(), i != job, "{i}");
        }
    }
    assert_eq!(
        emulator.stats().submits,
        3,
        "the uncertain job was not sent again"
    );
}

#[test]
fn bad_items_are_named_and_nothing_is_sent() {
    let emulator = Emulator::start().unwrap();
    let (client, _url) = client(&emulator, VIDU_PROVIDER_VIDU);
    let dir = common::scratch_dir();
    let mut jobs = Jobs::new(&dir, &["a", "b", "c"]);
    jobs.jobs[2].duration = 99;
    let mut items = jobs.items();
    let call = |items: &[vidu_batch_item]| {
        let mut result = ptr::null_mut();
        let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
            vidu_client_run_batch(
                client.0,
                items.as_ptr(),
                items.len(),
                ptr::null(),
                &mut result,
                err,
            )
        });
        assert!(result.is_null());
        err.message()
    };
    let message = call(&items);
    assert!(
        message.contains("job 3") && message.contains("duration"),
        "{message}"
    );
    jobs.jobs[2].duration = 0;
    items = jobs.items();
    items[1].output = ptr::null();
    let message = call(&items);
    assert!(
        message.contains("items[1]") && message.contains("output"),
        "{message}"
    );
    items = jobs.items();
    items[2].struct_size = 8;
    let message = call(&items);
    assert!(message.contains("items[2]->struct_size"), "{message}");
    // More download or submit threads than a batch may start: named with the value and range.
    items = jobs.items();
    for (field, value) in [("downloads", 65), ("submits", 100)] {
        let mut options: vidu_batch_options = sized();
        match field {
            "downloads" => options.downloads = value,
            _ => options.submits = value,
        }
        let mut result = ptr::null_mut();
        let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
            vidu_client_run_batch(
                client.0,
                items.as_ptr(),
                items.len(),
                &options,
                &mut result,
                err,
            )
        });
        assert!(result.is_null());
        let message = err.message();
        assert!(
            message.contains(field)
                && message.contains(&value.to_string())
                && message.contains("1 to 64"),
            "{message}"
        );
        assert_eq!(emulator.stats().submit_requests, 0, "nothing was sent");
    }

    // No items: an empty result.
    let mut result = ptr::null_mut();
    success(|err| unsafe {
        vidu_client_run_batch(client.0, ptr::null(), 0, ptr::null(), &mut result, err)
    });
    assert_eq!(unsafe { vidu_batch_result_count(result) }, 0);
    unsafe { vidu_batch_result_free(result) };
}
