//! A batch whose jobs are read on demand (`Client::run_batch_from`): every job's outcome is
//! exactly one event (`Earlier` first for the jobs a journal shows ended, `Unfinished` last); the summary counts
//! them; a source that gives another job after the check is not paid for.
#![cfg(feature = "emulator")]

mod common;

use common::emulated::{client, failing_prompts};
use common::{named_dir as dir, repo_file};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use vidu::emulator::Emulator;
use vidu::{
    BatchEvent, BatchJob, BatchOptions, BatchSummary, Client, ErrorKind, Job, JobOutcome,
    JobSource, Provider,
};

/// `n` jobs made from their number each time they are asked for; counts the asks. From the
/// ask numbered `change_at` on, job `changed` has another prompt.
struct Numbered {
    n: usize,
    out: PathBuf,
    asks: Cell<usize>,
    changed: Option<(usize, usize)>,
    /// This job cannot be read any more once `broken` is set (a file that lost its line).
    unreadable: Option<usize>,
    broken: Cell<bool>,
}

impl Numbered {
    fn new(n: usize, out: &Path) -> Self {
        Numbered {
            n,
            out: out.to_owned(),
            asks: Cell::new(0),
            changed: None,
            unreadable: None,
            broken: Cell::new(false),
        }
    }
}

impl JobSource for Numbered {
    fn len(&self) -> usize {
        self.n
    }
    fn job(&self, i: usize) -> vidu::Result<Cow<'_, BatchJob<'_>>> {
        let ask = self.asks.get() + 1;
        self.asks.set(ask);
        if self.broken.get() && self.unreadable == Some(i) {
            let gone = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "its line is gone");
            return Err(vidu::Error::io("reading the jobs", "jobs.jsonl", gone));
        }
        let prompt = match self.changed {
            Some((job, from)) if job == i && ask >= from => format!("job {i}, changed"),
            _ => format!("job {i}"),
        };
        let job = Job::new(repo_file("examples/sample.png")).prompt(prompt);
        Ok(Cow::Owned(
            BatchJob::new(job, self.out.join(format!("{i}.mp4"))).label(format!("line {}", i + 1)),
        ))
    }
}

/// Each job's ending events, by job: ("written" | "failed" | "uncertain" | "unfinished", task).
type Endings = HashMap<usize, Vec<(&'static str, Option<String>)>>;

fn ending(event: &BatchEvent<'_>) -> Option<(usize, &'static str, Option<String>)> {
    let outcome_kind = |o: &JobOutcome| match o {
        JobOutcome::Written { .. } => "earlier written",
        JobOutcome::Failed(_) => "earlier failed",
        JobOutcome::Uncertain(_) => "earlier uncertain",
        _ => "earlier other",
    };
    Some(match event {
        BatchEvent::Earlier { job, outcome } => (
            *job,
            outcome_kind(outcome),
            outcome.task_id().map(Into::into),
        ),
        BatchEvent::Written { job, task_id, .. } => (*job, "written", Some(task_id.to_string())),
        BatchEvent::Failed { job, error } => (*job, "failed", error.task_id().map(Into::into)),
        BatchEvent::Uncertain { job, error } => {
            (*job, "uncertain", error.task_id().map(Into::into))
        }
        BatchEvent::Unfinished { job, task_id } => (*job, "unfinished", task_id.map(str::to_owned)),
        _ => return None,
    })
}

/// Runs the batch, recording every job's endings; `stop_after` submits stops it (a callback
/// stop, as Ctrl-C in a program would).
fn run(
    client: &Client,
    source: &dyn JobSource,
    journal: &Path,
    stop_after: Option<usize>,
) -> (vidu::Result<BatchSummary>, Endings) {
    let mut endings = Endings::new();
    let mut submits = 0;
    let mut options = BatchOptions::default()
        .journal(journal)
        .concurrency(4)
        .submits(1)
        .on_event(|event| {
            if let Some((job, kind, task)) = ending(event) {
                endings.entry(job).or_default().push((kind, task));
            }
            if matches!(event, BatchEvent::Submitted { .. }) {
                submits += 1;
                if Some(submits) == stop_after {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
    let summary = client.run_batch_from(source, &mut options);
    drop(options);
    (summary, endings)
}

fn kinds(endings: &Endings, n: usize) -> Vec<&'static str> {
    (0..n)
        .map(|j| {
            let e = endings.get(&j).map(Vec::as_slice).unwrap_or_default();
            assert_eq!(e.len(), 1, "job {j} is reported exactly once: {e:?}");
            e[0].0
        })
        .collect()
}

#[test]
fn every_job_is_one_event_and_a_rerun_reports_the_earlier_endings_without_paying() {
    let emulator = failing_prompts("job 2");
    let client = client(Provider::Vidu, &emulator);
    let out = dir("source-every-job");
    let journal = out.join("journal.jsonl");
    let source = Numbered::new(5, &out);
    let (summary, endings) = run(&client, &source, &journal, None);
    let summary = summary.unwrap();
    assert_eq!(
        kinds(&endings, 5),
        ["written", "written", "failed", "written", "written"]
    );
    assert_eq!((summary.written, summary.failed), (4, 1), "{summary:?}");
    assert_eq!((summary.uncertain, summary.unfinished), (0, 0));
    for i in [0, 1, 3, 4] {
        assert_eq!(
            std::fs::read(out.join(format!("{i}.mp4"))).unwrap(),
            Emulator::video_bytes()
        );
    }
    // The failed job names its task.
    assert!(endings[&2][0].1.is_some(), "{:?}", endings[&2]);
    assert_eq!(emulator.stats().submits, 5);
    // Jobs are read again when needed, not held: a check, and again to submit and to write.
    assert!(source.asks.get() >= 5 * 3, "{}", source.asks.get());

    // The rerun sends nothing and reports every job as the journal shows it ended.
    let (summary, again) = run(&client, &source, &journal, None);
    assert_eq!(summary.unwrap(), summary_of(4, 1, 0, 0));
    assert_eq!(
        kinds(&again, 5),
        [
            "earlier written",
            "earlier written",
            "earlier failed",
            "earlier written",
            "earlier written"
        ]
    );
    for j in 0..5 {
        assert_eq!(again[&j][0].1, endings[&j][0].1, "job {j}'s task");
    }
    assert_eq!(emulator.stats().submits, 5, "nothing paid again");
    std::fs::remove_dir_all(out).unwrap();
}

fn summary_of(written: usize, failed: usize, uncertain: usize, unfinished: usize) -> BatchSummary {
    let mut s = BatchSummary::default();
    s.written = written;
    s.failed = failed;
    s.uncertain = uncertain;
    s.unfinished = unfinished;
    s
}

#[test]
fn a_stopped_run_reports_the_rest_unfinished_with_their_tasks_and_a_rerun_finishes_them() {
    let emulator = Emulator::start().unwrap();
    let client = client(Provider::Vtrix, &emulator);
    let out = dir("source-stopped");
    let journal = out.join("journal.jsonl");
    let source = Numbered::new(6, &out);
    let (summary, endings) = run(&client, &source, &journal, Some(2));
    let summary = summary.unwrap();
    let kinds_now = kinds(&endings, 6);
    assert!(
        kinds_now.iter().all(|k| *k == "unfinished"),
        "{kinds_now:?}"
    );
    assert_eq!(summary, summary_of(0, 0, 0, 6));
    let with_task: Vec<usize> = (0..6).filter(|j| endings[j][0].1.is_some()).collect();
    assert_eq!(
        with_task.len(),
        2,
        "the two submitted jobs keep their tasks"
    );
    assert_eq!(emulator.stats().submits, 2);

    let (summary, again) = run(&client, &source, &journal, None);
    assert_eq!(summary.unwrap(), summary_of(6, 0, 0, 0));
    assert!(
        kinds(&again, 6).iter().all(|k| *k == "written"),
        "{again:?}"
    );
    for j in with_task {
        assert_eq!(again[&j][0].1, endings[&j][0].1, "job {j} resumed its task");
    }
    assert_eq!(emulator.stats().submits, 6, "one task per job");
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn a_job_its_source_changes_after_the_check_is_not_paid_for() {
    let emulator = Emulator::start().unwrap();
    let client = client(Provider::UModelVerse, &emulator);
    let out = dir("source-changed");
    let journal = out.join("journal.jsonl");
    let mut source = Numbered::new(3, &out);
    // The first 3 asks are the check; job 1 differs from then on.
    source.changed = Some((1, 4));
    let (summary, endings) = run(&client, &source, &journal, None);
    assert_eq!(summary.unwrap(), summary_of(2, 1, 0, 0));
    assert_eq!(kinds(&endings, 3), ["written", "failed", "written"]);
    assert_eq!(
        emulator.stats().submits,
        2,
        "nothing sent for the changed job"
    );
    assert!(!out.join("1.mp4").exists());
    // What the caller sees: the job, by its label, and why.
    let mut message = None;
    let mut options = BatchOptions::default().on_event(|e| {
        if let BatchEvent::Failed { error, .. } = e {
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
            message = Some(error.to_string());
        }
        ControlFlow::Continue(())
    });
    source.changed = Some((1, source.asks.get() + 4));
    client.run_batch_from(&source, &mut options).unwrap();
    drop(options);
    let message = message.expect("a failed event");
    assert!(
        message.contains("line 2") && message.contains("the same job as when the batch checked"),
        "{message}"
    );
    std::fs::remove_dir_all(out).unwrap();
}

/// A source that cannot give a job fails the call before anything is sent, naming the job.
#[test]
fn a_source_that_cannot_give_a_job_fails_before_anything_is_sent() {
    struct Broken;
    impl JobSource for Broken {
        fn len(&self) -> usize {
            3
        }
        fn job(&self, i: usize) -> vidu::Result<Cow<'_, BatchJob<'_>>> {
            if i == 2 {
                // A file read again that has lost its line, say.
                let gone = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no line 3");
                return Err(vidu::Error::io("reading the jobs", "jobs.jsonl", gone));
            }
            Ok(Cow::Owned(BatchJob::new(
                Job::new(repo_file("examples/sample.png")),
                std::env::temp_dir().join(format!("vidu-broken-{i}.mp4")),
            )))
        }
    }
    let emulator = Emulator::start().unwrap();
    let err = client(Provider::Vidu, &emulator)
        .run_batch_from(&Broken, &mut BatchOptions::default())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("job 3") && text.contains("no line 3"),
        "{text}"
    );
    assert_eq!(emulator.stats().submit_requests, 0, "nothing was sent");
}

/// A source that cannot give a job any more, after the check: before its submit, the job fails
/// with the source's error and nothing is sent for it; after its submit (when its video is to
/// be written), it fails with the task id, and a rerun writes that task's video without paying
/// again.
#[test]
fn a_job_its_source_loses_during_the_run_fails_naming_why_and_keeps_its_task() {
    let emulator = Emulator::start().unwrap();
    let client = client(Provider::Vtrix, &emulator);
    for after_submit in [false, true] {
        let out = dir(&format!("source-lost-{after_submit}"));
        let journal = out.join("journal.jsonl");
        let mut source = Numbered::new(3, &out);
        source.unreadable = Some(1);
        // Before job 1's submit: when job 0 is submitted (one at a time); after it: when job 1
        // is.
        let trigger = usize::from(after_submit);
        let sent_before = emulator.stats().submits;
        let mut failed = None;
        let mut submitted = HashMap::new();
        let mut options = BatchOptions::default()
            .journal(&journal)
            .concurrency(1)
            .submits(1)
            .on_event(|e| {
                match e {
                    BatchEvent::Submitted { job, task_id } => {
                        submitted.insert(*job, task_id.to_string());
                        if *job == trigger {
                            source.broken.set(true);
                        }
                    }
                    BatchEvent::Failed { job, error } => {
                        failed = Some((*job, error.task_id().map(str::to_owned), error.to_string()))
                    }
                    _ => {}
                }
                ControlFlow::Continue(())
            });
        let summary = client.run_batch_from(&source, &mut options).unwrap();
        drop(options);
        assert_eq!(
            summary,
            summary_of(2, 1, 0, 0),
            "after submit: {after_submit}"
        );
        let (job, task, message) = failed.expect("job 1 failed");
        assert_eq!(job, 1);
        assert!(message.contains("its line is gone"), "{message}");
        let sent = emulator.stats().submits - sent_before;
        if after_submit {
            assert_eq!(task.as_ref(), submitted.get(&1), "the paid task is named");
            assert_eq!(sent, 3);
            // Readable again: the rerun writes job 1's video from the same task.
            source.broken.set(false);
            let (summary, endings) = run(&client, &source, &journal, None);
            assert_eq!(summary.unwrap(), summary_of(3, 0, 0, 0));
            assert_eq!(endings[&1], [("written", task)]);
            assert_eq!(
                emulator.stats().submits - sent_before,
                3,
                "nothing paid again"
            );
        } else {
            assert_eq!(task, None, "no task was created");
            assert_eq!(sent, 2, "nothing sent for job 1");
            assert!(!submitted.contains_key(&1));
        }
        std::fs::remove_dir_all(out).unwrap();
    }
}
