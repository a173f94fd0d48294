//! The library's log records on their paths, against the emulator: submitted, terminal and
//! written; a journal replayed; an uncertain submit found or proven absent; a poll error streak,
//! an expired URL and an uncertain job as warnings; no record per poll at info or above; the key
//! in no record. One binary, the tests one at a time: the logger is process-wide.
#![cfg(feature = "emulator")]

mod common;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::emulated::fast_config;
use common::{scratch_dir, SAMPLE_PNG};
use log::Level;
use vidu::emulator::{Emulator, EmulatorOptions, Fault, Route, Scenario};
use vidu::{
    BatchEvent, BatchJob, BatchOptions, Client, ErrorKind, Job, JobOutcome, Provider, WaitOptions,
};

const KEY: &str = "sk-LOGGING-4b8e2d9f71";

#[derive(Debug)]
struct Rec {
    level: Level,
    target: String,
    text: String,
}

/// The library's records (target `vidu...`); the others (ureq's) are only checked for the key.
static RECORDS: Mutex<Vec<Rec>> = Mutex::new(Vec::new());
/// Records of any target and level that showed the key or a piece of it.
static LEAKS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// One test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let text = record.args().to_string();
        if text.contains(KEY) || text.contains(&KEY[3..13]) {
            LEAKS.lock().unwrap().push(text.clone());
        }
        if record.target().starts_with("vidu") {
            RECORDS.lock().unwrap().push(Rec {
                level: record.level(),
                target: record.target().to_owned(),
                text,
            });
        }
    }
    fn flush(&self) {}
}

/// Installs the logger (once), clears what earlier tests left, and holds the others off.
fn start() -> MutexGuard<'static, ()> {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    RECORDS.lock().unwrap().clear();
    guard
}

/// The library's records so far; fails if any record at all showed the key.
fn take() -> Vec<Rec> {
    let leaks = std::mem::take(&mut *LEAKS.lock().unwrap());
    assert!(leaks.is_empty(), "the key was logged: {leaks:?}");
    let records = std::mem::take(&mut *RECORDS.lock().unwrap());
    for r in &records {
        assert!(
            r.target == "vidu" || r.target.starts_with("vidu::"),
            "{r:?}"
        );
    }
    records
}

/// The one record at `level` whose text holds every piece; fails listing all records if none.
fn find<'r>(records: &'r [Rec], level: Level, pieces: &[&str]) -> &'r Rec {
    records
        .iter()
        .find(|r| r.level == level && pieces.iter().all(|p| r.text.contains(p)))
        .unwrap_or_else(|| panic!("no {level} record with {pieces:?} among {records:#?}"))
}

fn emulator(options: EmulatorOptions) -> Emulator {
    Emulator::start_with(options.api_key(KEY).video_size(4096)).unwrap()
}

fn client(provider: Provider, emu: &Emulator) -> Client {
    Client::new(fast_config(provider, emu.base_url(), KEY)).unwrap()
}

fn job(prompt: &str) -> Job<'static> {
    Job::new(SAMPLE_PNG).prompt(prompt.to_owned())
}

fn wait() -> WaitOptions<'static> {
    WaitOptions::new().timeout(Some(Duration::from_secs(20)))
}

fn jobs(n: usize, out: &Path) -> Vec<BatchJob<'static>> {
    (0..n)
        .map(|i| BatchJob::new(job(&format!("job {i}")), out.join(format!("{i}.mp4"))))
        .collect()
}

#[test]
fn a_video_logs_submitted_succeeded_and_written_with_its_task_id_on_each_provider() {
    let _serial = start();
    for &provider in Provider::ALL {
        let emu = emulator(EmulatorOptions::new());
        let dir = scratch_dir();
        let out = dir.join("v.mp4");
        let done = client(provider, &emu)
            .generate(&job("a cat"), &out, &mut wait())
            .unwrap();
        let records = take();
        let id = done.task_id.as_str();
        let submitted = find(&records, Level::Info, &["job 1: submitted", id]);
        assert!(
            submitted.text.contains(provider.name())
                && submitted.text.contains(provider.default_model()),
            "provider and model: {submitted:?}"
        );
        find(&records, Level::Info, &["job 1", id, "succeeded"]);
        let size = emu.video_len().to_string();
        let bytes = format!("({size} bytes)");
        find(
            &records,
            Level::Info,
            &["job 1", id, "written", out.to_str().unwrap(), &bytes],
        );
        // Debug: the submit's classification, with its task id.
        find(&records, Level::Debug, &["submit created", id]);
        assert!(records.iter().all(|r| r.level >= Level::Info));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_failed_task_and_a_labelled_job_log_their_terminal_state() {
    let _serial = start();
    let emu = emulator(EmulatorOptions::new().scenario(Scenario::TaskFails));
    let dir = scratch_dir();
    let jobs = [BatchJob::new(job("x"), dir.join("a.mp4")).label("the-cat")];
    let c = client(Provider::Vtrix, &emu);
    let outcomes = c.run_batch(&jobs, &mut BatchOptions::default()).unwrap();
    let JobOutcome::Failed(e) = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    let id = e.task_id().unwrap();
    let records = take();
    find(&records, Level::Info, &["job 1 (the-cat): submitted", id]);
    find(&records, Level::Info, &["job 1 (the-cat): failed", id]);
    // A wait of its own (resume) logs the end too.
    let e = c.resume(id, dir.join("b.mp4"), &mut wait()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TaskFailed);
    find(&take(), Level::Info, &[&format!("task {id}: failed")]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_replayed_journal_logs_how_many_tasks_are_done_adopted_and_to_submit() {
    let _serial = start();
    let emu = emulator(EmulatorOptions::new());
    let c = client(Provider::Vtrix, &emu);
    let dir = scratch_dir();
    let journal = dir.join("journal.jsonl");
    let jobs = jobs(3, &dir);
    // Stopped after the first submit (sent alone), as a crash would.
    let mut options = BatchOptions::default()
        .journal(&journal)
        .submits(1)
        .on_event(|e| {
            if matches!(e, BatchEvent::Submitted { .. }) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
    c.run_batch(&jobs, &mut options).unwrap();
    drop(options);
    take();
    let outcomes = c
        .run_batch(&jobs, &mut BatchOptions::default().journal(&journal))
        .unwrap();
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, JobOutcome::Written { .. })));
    assert_eq!(emu.stats().submits, 3, "the first task was adopted");
    let records = take();
    find(
        &records,
        Level::Info,
        &[
            journal.to_str().unwrap(),
            "replayed: 0 done, 1 running, 0 searching, 2 to submit",
        ],
    );
    // Once all are written, the next replay says so.
    c.run_batch(&jobs, &mut BatchOptions::default().journal(&journal))
        .unwrap();
    find(&take(), Level::Info, &["replayed: 3 done, 0 running"]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A job an earlier run finished that is no longer in the list: its tasks are named in a
/// warning, with the job's number in that run, and the others go on.
#[test]
fn a_finished_job_left_out_of_the_rerun_is_a_warning_naming_its_number_and_task() {
    let _serial = start();
    let emu = emulator(EmulatorOptions::new());
    let c = client(Provider::Vtrix, &emu);
    let dir = scratch_dir();
    let journal = dir.join("journal.jsonl");
    let jobs = jobs(3, &dir);
    let outcomes = c
        .run_batch(&jobs, &mut BatchOptions::default().journal(&journal))
        .unwrap();
    let third = outcomes[2].task_id().unwrap().to_owned();
    take();
    c.run_batch(&jobs[..2], &mut BatchOptions::default().journal(&journal))
        .unwrap();
    let records = take();
    let warning = find(&records, Level::Warn, &["job 3 of an earlier run", &third]);
    assert!(warning.text.contains("not in this run"), "{warning:?}");
    assert_eq!(emu.stats().submits, 3, "nothing sent again");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_lost_submit_answer_is_resolved_through_the_task_list_and_logged() {
    let _serial = start();
    let emu = emulator(EmulatorOptions::new().scenario(Scenario::ResetAfterSubmit));
    let dir = scratch_dir();
    let done = client(Provider::Vidu, &emu)
        .generate(&job("lost"), dir.join("v.mp4"), &mut wait())
        .unwrap();
    assert_eq!(emu.stats().submits, 1);
    let records = take();
    find(&records, Level::Debug, &["job 1: submit uncertain"]);
    find(
        &records,
        Level::Debug,
        &["task list search for vidu-", "page 1"],
    );
    find(
        &records,
        Level::Info,
        &[
            "job 1: uncertain submit resolved: found task",
            &done.task_id,
        ],
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_submit_proven_absent_is_logged_as_resolved_and_sent_again() {
    let _serial = start();
    // A 500 creates nothing here, but may have elsewhere: the list is searched, shows nothing.
    let emu = emulator(EmulatorOptions::new().fault(Fault::on(Route::Submit).times(1).error(500)));
    let dir = scratch_dir();
    let mut options = wait().search_window(Duration::from_millis(300));
    let done = client(Provider::Vidu, &emu)
        .generate(&job("absent"), dir.join("v.mp4"), &mut options)
        .unwrap();
    assert_eq!(emu.stats().submit_requests, 2);
    let records = take();
    find(&records, Level::Debug, &["job 1: submit uncertain", "500"]);
    find(
        &records,
        Level::Info,
        &[
            "job 1: uncertain submit resolved",
            "none was created; submitting again",
        ],
    );
    find(&records, Level::Info, &["job 1: submitted", &done.task_id]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_lost_submit_on_a_gateway_is_an_uncertain_job_warning() {
    let _serial = start();
    let emu = emulator(EmulatorOptions::new().scenario(Scenario::ResetAfterSubmit));
    let dir = scratch_dir();
    let e = client(Provider::Vtrix, &emu)
        .generate(&job("lost"), dir.join("v.mp4"), &mut wait())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SubmitUncertain);
    find(&take(), Level::Warn, &["job 1: uncertain"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_poll_error_streak_and_an_expired_url_are_warnings_and_retries_are_debug() {
    let _serial = start();
    // Each failed poll is one failed request: no retries within the poll.
    let emu = emulator(EmulatorOptions::new().scenario(Scenario::Unavailable { times: 3 }));
    let mut config = fast_config(Provider::Vtrix, emu.base_url(), KEY);
    config.retry.max_attempts = 1;
    let dir = scratch_dir();
    let done = Client::new(config)
        .unwrap()
        .generate(&job("streak"), dir.join("v.mp4"), &mut wait())
        .unwrap();
    let records = take();
    let warns: Vec<&Rec> = records.iter().filter(|r| r.level == Level::Warn).collect();
    assert_eq!(warns.len(), 1, "one warning for the streak: {warns:#?}");
    assert!(
        warns[0].text.contains(&done.task_id) && warns[0].text.contains("3 polls failed in a row"),
        "{warns:#?}"
    );
    find(&records, Level::Debug, &["poll failed", "503", "again in"]);

    // The same rule in `resume`'s wait, which logs its task's end and its file.
    let emu = emulator(EmulatorOptions::new().scenario(Scenario::Unavailable { times: 3 }));
    let mut config = fast_config(Provider::Vtrix, emu.base_url(), KEY);
    config.retry.max_attempts = 1;
    let c = Client::new(config).unwrap();
    let task = c.submit(&job("resumed")).unwrap();
    let out = dir.join("r.mp4");
    c.resume(&task, &out, &mut wait()).unwrap();
    let records = take();
    find(&records, Level::Warn, &[&task, "3 polls failed in a row"]);
    find(&records, Level::Info, &[&task, "succeeded"]);
    find(
        &records,
        Level::Info,
        &[&task, "written", out.to_str().unwrap()],
    );

    // Retries within a request: the reason and the delay, Retry-After's when given.
    let emu = emulator(EmulatorOptions::new().scenario(Scenario::Throttled {
        times: 1,
        retry_after_secs: 0,
    }));
    client(Provider::Vtrix, &emu)
        .generate(&job("throttled"), dir.join("t.mp4"), &mut wait())
        .unwrap();
    find(
        &take(),
        Level::Debug,
        &["429", "attempt 1 failed, again in", "(Retry-After)"],
    );

    let emu = emulator(EmulatorOptions::new().scenario(Scenario::ExpiredUrl));
    let done = client(Provider::Vtrix, &emu)
        .generate(&job("expired"), dir.join("e.mp4"), &mut wait())
        .unwrap();
    find(
        &take(),
        Level::Warn,
        &[&done.task_id, "video URL expired; fetching a fresh one"],
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_fifty_task_batch_logs_nothing_per_poll_at_info_or_above() {
    let _serial = start();
    const JOBS: usize = 50;
    for &provider in [Provider::Vidu, Provider::Vtrix].iter() {
        // Many polls per task, and a few failed ones.
        let emu = emulator(
            EmulatorOptions::new()
                .polls_per_state(4)
                .fault(Fault::on(Route::Status).times(5).error(503)),
        );
        let dir = scratch_dir();
        let jobs = jobs(JOBS, &dir);
        let outcomes = client(provider, &emu)
            .run_batch(&jobs, &mut BatchOptions::default().concurrency(10))
            .unwrap();
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, JobOutcome::Written { .. })));
        let stats = emu.stats();
        let polls = (stats.status_polls + stats.list_calls) as usize;
        let records = take();
        let loud = records.iter().filter(|r| r.level <= Level::Info).count();
        // Submitted, succeeded, written: three per job, however many polls.
        assert_eq!(loud, 3 * JOBS, "{provider}: {polls} polls");
        // The official API's polls are list calls, each for many tasks; the gateways poll
        // task by task.
        if provider != Provider::Vidu {
            assert!(
                polls > loud,
                "{provider}: {polls} polls, enough that one record each would show"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
