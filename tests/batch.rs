//! The batch runner against the emulator: every provider, failures among successes, throttling,
//! the task list, cancel, and the journal across a simulated crash.
#![cfg(feature = "emulator")]

mod common;

use common::{named_dir as dir, sample_batch as jobs};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use common::emulated::failing_prompts;
use vidu::emulator::{Emulator, EmulatorOptions, Fault, Route};
use vidu::{
    BatchEvent, BatchJob, BatchOptions, CancelToken, Client, Config, ErrorKind, Job, JobOutcome,
    Provider,
};

fn client(provider: Provider, emulator: &Emulator) -> Client {
    let mut config = Config::new(provider, "k").base_url(emulator.base_url());
    config.poll.first = Duration::from_millis(20);
    config.poll.max = Duration::from_millis(100);
    config.retry.base = Duration::from_millis(10);
    Client::new(config).unwrap()
}

fn written(outcome: &JobOutcome) -> bool {
    matches!(outcome, JobOutcome::Written { .. })
}

fn assert_all_written(outcomes: &[JobOutcome], jobs: &[BatchJob<'_>]) {
    assert_eq!(outcomes.len(), jobs.len());
    for (o, j) in outcomes.iter().zip(jobs) {
        assert!(written(o), "{o:?}");
        assert_eq!(std::fs::read(&j.output).unwrap(), Emulator::video_bytes());
    }
}

#[test]
fn a_batch_writes_every_video_on_each_provider_with_one_submit_per_job() {
    for &provider in Provider::ALL {
        let emulator = Emulator::start().unwrap();
        let out = dir(&format!("batch-{provider}"));
        let jobs = jobs(7, &out);
        let mut events = Vec::new();
        let mut options = BatchOptions::default()
            .concurrency(3)
            .submits(2)
            .on_event(|e| {
                events.push(format!("{e:?}"));
                ControlFlow::Continue(())
            });
        let outcomes = client(provider, &emulator)
            .run_batch(&jobs, &mut options)
            .unwrap();
        drop(options);
        assert_all_written(&outcomes, &jobs);
        assert_eq!(emulator.stats().submits, 7, "{provider}");
        let count = |kind: &str| events.iter().filter(|e| e.starts_with(kind)).count();
        assert_eq!(count("Submitted"), 7, "{provider}");
        assert_eq!(count("Written"), 7, "{provider}");
        assert!(count("Progress") >= 7, "{provider}");
        // One connection pool: a connection per submit thread, and the loop's.
        assert!(emulator.stats().api_connections <= 3, "one connection pool");
    }
}

#[test]
fn one_failed_task_does_not_stop_the_others_and_keeps_its_task_id() {
    let emulator = failing_prompts("job 2");
    let out = dir("batch-one-fails");
    let jobs = jobs(5, &out);
    let outcomes = client(Provider::Vtrix, &emulator)
        .run_batch(&jobs, &mut BatchOptions::default())
        .unwrap();
    for (i, o) in outcomes.iter().enumerate() {
        if i == 2 {
            let JobOutcome::Failed(e) = o else {
                panic!("{o:?}")
            };
            assert_eq!(e.kind(), ErrorKind::TaskFailed);
            assert!(e.task_id().is_some(), "a failed task keeps its id: {e}");
            assert!(!jobs[i].output.exists(), "nothing at a failed job's output");
        } else {
            assert!(written(o), "{o:?}");
        }
    }
}

#[test]
fn an_invalid_job_fails_the_batch_before_anything_is_sent_naming_it() {
    let emulator = Emulator::start().unwrap();
    let out = dir("batch-invalid");
    let jobs: Vec<BatchJob<'static>> = (0..1000)
        .map(|i| {
            let job =
                Job::new("https://example.com/cat.png").duration(if i == 733 { 99 } else { 5 });
            BatchJob::new(job, out.join(format!("{i}.mp4"))).label(format!("line {}", i + 1))
        })
        .collect();
    let err = client(Provider::Vidu, &emulator)
        .run_batch(&jobs, &mut BatchOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(
        text.contains("line 734") && text.contains("duration"),
        "{text}"
    );
    assert_eq!(emulator.stats().submit_requests, 0);
}

#[test]
fn two_jobs_naming_one_output_in_two_spellings_fail_before_anything_is_sent() {
    let emulator = Emulator::start().unwrap();
    let out = dir("batch-duplicate-output");
    let mut jobs = jobs(3, &out);
    jobs[2].output = out.join(".").join("0.mp4");
    let jobs: Vec<_> = jobs
        .into_iter()
        .enumerate()
        .map(|(i, j)| j.label(format!("line {}", i + 1)))
        .collect();
    let err = client(Provider::Vidu, &emulator)
        .run_batch(&jobs, &mut BatchOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(
        text.contains("line 1") && text.contains("line 3"),
        "names both jobs: {text}"
    );
    assert_eq!(emulator.stats().api_connections, 0, "nothing was sent");
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn the_official_api_polls_many_tasks_through_the_task_list() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new()
            .concurrency_limit(u32::MAX)
            .state_duration(Duration::from_millis(300)),
    )
    .unwrap();
    let out = dir("batch-list");
    let jobs: Vec<BatchJob<'static>> = (0..30)
        .map(|i| {
            BatchJob::new(
                Job::new("http://127.0.0.1:1/cat.png").prompt(format!("job {i}")),
                out.join(format!("{i}.mp4")),
            )
        })
        .collect();
    let outcomes = client(Provider::Vidu, &emulator)
        .run_batch(&jobs, &mut BatchOptions::default().concurrency(30))
        .unwrap();
    assert_all_written(&outcomes, &jobs);
    let stats = emulator.stats();
    assert!(stats.list_calls > 0, "{stats:?}");
    assert!(
        stats.status_polls < stats.list_calls,
        "polls went through the list: {stats:?}"
    );
}

#[test]
fn a_throttled_submit_waits_and_is_never_lost() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new().fault(
            Fault::on(Route::Submit)
                .nth(2)
                .error(429)
                .reason("QuotaExceeded")
                .retry_after(1),
        ),
    )
    .unwrap();
    let out = dir("batch-throttled");
    let jobs = jobs(3, &out);
    let mut throttled = 0;
    let mut options = BatchOptions::default().on_event(|e| {
        if let BatchEvent::Throttled { retry_after, .. } = e {
            assert_eq!(*retry_after, Duration::from_secs(1));
            throttled += 1;
        }
        ControlFlow::Continue(())
    });
    let outcomes = client(Provider::Vidu, &emulator)
        .run_batch(&jobs, &mut options)
        .unwrap();
    drop(options);
    assert_all_written(&outcomes, &jobs);
    assert_eq!(throttled, 1);
    assert_eq!(emulator.stats().submits, 3, "one task per job");
}

#[test]
fn a_cancel_token_stops_the_whole_run_at_once_keeping_task_ids() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new().scenario(vidu::emulator::Scenario::NeverFinishes),
    )
    .unwrap();
    let out = dir("batch-cancel");
    let jobs = jobs(4, &out);
    let token = CancelToken::new();
    let canceller = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        canceller.cancel();
    });
    let start = Instant::now();
    let outcomes = client(Provider::UModelVerse, &emulator)
        .run_batch(&jobs, &mut BatchOptions::default().cancel(token))
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    for o in &outcomes {
        let JobOutcome::Unfinished { task_id } = o else {
            panic!("{o:?}")
        };
        assert!(task_id.is_some(), "every submitted job keeps its task id");
    }
}

/// Runs the batch with a journal, one submit at a time, stopping (as a crash would) after the
/// first submit.
fn run_until_first_submit(client: &Client, jobs: &[BatchJob<'static>], journal: &Path) {
    let mut options = BatchOptions::default()
        .journal(journal)
        .submits(1)
        .on_event(|e| {
            if matches!(e, BatchEvent::Submitted { .. }) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
    let outcomes = client.run_batch(jobs, &mut options).unwrap();
    assert!(outcomes.iter().all(|o| !written(o)));
}

#[test]
fn a_journal_resumes_a_stopped_run_without_paying_twice() {
    let emulator = Emulator::start().unwrap();
    let client = client(Provider::Vtrix, &emulator);
    let out = dir("batch-journal");
    let journal = out.join("journal.jsonl");
    let jobs = jobs(4, &out);
    run_until_first_submit(&client, &jobs, &journal);
    assert_eq!(emulator.stats().submits, 1);
    // A torn last line, as a crash mid-write leaves.
    let mut text = std::fs::read(&journal).unwrap();
    text.extend_from_slice(br#"{"t":"submitted","job":1,"task"#);
    std::fs::write(&journal, &text).unwrap();

    let outcomes = client
        .run_batch(&jobs, &mut BatchOptions::default().journal(&journal))
        .unwrap();
    assert_all_written(&outcomes, &jobs);
    assert_eq!(
        emulator.stats().submits,
        4,
        "the first task was resumed, not resubmitted"
    );

    // Once everything is written, a rerun does nothing.
    let outcomes = client
        .run_batch(&jobs, &mut BatchOptions::default().journal(&journal))
        .unwrap();
    assert_all_written(&outcomes, &jobs);
    assert_eq!(emulator.stats().submits, 4);
}

/// Submits go out together from their threads: a stop at the first answer still journals
/// the tasks the others created (their answers are waited for), and the rerun pays nothing
/// more. A submit handed out after the stop is not sent: its job is submitted by the rerun.
#[test]
fn a_stop_while_submits_are_in_flight_journals_every_task_they_created() {
    let emulator = Emulator::start().unwrap();
    let client = client(Provider::Vtrix, &emulator);
    let out = dir("batch-submits-in-flight");
    let journal = out.join("journal.jsonl");
    let jobs = jobs(6, &out);
    let mut options = BatchOptions::default()
        .journal(&journal)
        .concurrency(6)
        .submits(3)
        .on_event(|e| {
            if matches!(e, BatchEvent::Submitted { .. }) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
    let outcomes = client.run_batch(&jobs, &mut options).unwrap();
    drop(options);
    let sent = emulator.stats().submits;
    assert!((1..=3).contains(&sent), "at most 3 at once: {sent}");
    let with_task = outcomes.iter().filter(|o| o.task_id().is_some()).count();
    assert_eq!(
        with_task, sent as usize,
        "every created task kept: {outcomes:?}"
    );
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(
        text.matches(r#""t":"submitted""#).count(),
        sent as usize,
        "every created task journaled:\n{text}"
    );
    let outcomes = client
        .run_batch(&jobs, &mut BatchOptions::default().journal(&journal))
        .unwrap();
    assert_all_written(&outcomes, &jobs);
    assert_eq!(emulator.stats().submits, 6, "one task per job");
}

#[test]
fn a_journal_is_matched_job_by_job_and_one_for_other_jobs_is_refused_listing_its_tasks() {
    let emulator = Emulator::start().unwrap();
    let client = client(Provider::Vtrix, &emulator);
    let out = dir("batch-other-jobs");
    let journal = out.join("journal.jsonl");
    run_until_first_submit(&client, &jobs(2, &out), &journal);
    let first_task = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .find(|l| l.contains(r#""t":"submitted""#))
        .map(|l| {
            l.split(r#""task_id":""#)
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        })
        .unwrap();
    // A job added to the list: the known job keeps its task, the new one is submitted.
    let outcomes = client
        .run_batch(
            &jobs(3, &out),
            &mut BatchOptions::default().journal(&journal),
        )
        .unwrap();
    assert!(outcomes.iter().all(written), "{outcomes:?}");
    assert_eq!(outcomes[0].task_id(), Some(first_task.as_str()));
    assert_eq!(
        emulator.stats().submits,
        3,
        "one task per job, none paid twice"
    );

    // Another job list entirely (other outputs): refused, naming the paid tasks it holds.
    let other = dir("batch-other-jobs-2");
    let err = client
        .run_batch(
            &jobs(3, &other),
            &mut BatchOptions::default().journal(&journal),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("not in this run"), "{text}");
    assert!(text.contains(&first_task), "{text}");
    assert!(
        text.contains("pays for each"),
        "never advises paying again silently: {text}"
    );
    assert_eq!(emulator.stats().submits, 3);
}

/// Simulates a crash between the submit and the journal's record of its task id.
fn forget_task_ids(journal: &Path) {
    let text = std::fs::read_to_string(journal).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains(r#""t":"submitted""#))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(journal, kept).unwrap();
}

#[test]
fn a_task_whose_id_was_never_journaled_is_adopted_on_the_official_api() {
    let emulator = Emulator::start().unwrap();
    let client = client(Provider::Vidu, &emulator);
    let out = dir("batch-adopt");
    let journal = out.join("journal.jsonl");
    let jobs = jobs(3, &out);
    run_until_first_submit(&client, &jobs, &journal);
    forget_task_ids(&journal);
    let mut adopted = 0;
    let mut options = BatchOptions::default().journal(&journal).on_event(|e| {
        if matches!(e, BatchEvent::Adopted { .. }) {
            adopted += 1;
        }
        ControlFlow::Continue(())
    });
    let outcomes = client.run_batch(&jobs, &mut options).unwrap();
    drop(options);
    assert_all_written(&outcomes, &jobs);
    assert_eq!(adopted, 1);
    assert_eq!(emulator.stats().submits, 3, "exactly one task per job");
}

#[test]
fn a_task_whose_id_was_never_journaled_is_uncertain_on_a_gateway() {
    let emulator = Emulator::start().unwrap();
    let client = client(Provider::UModelVerse, &emulator);
    let out = dir("batch-uncertain");
    let journal = out.join("journal.jsonl");
    let jobs = jobs(2, &out);
    run_until_first_submit(&client, &jobs, &journal);
    forget_task_ids(&journal);
    let outcomes = client
        .run_batch(&jobs, &mut BatchOptions::default().journal(&journal))
        .unwrap();
    assert!(
        matches!(outcomes[0], JobOutcome::Uncertain(_)),
        "{:?}",
        outcomes[0]
    );
    assert!(written(&outcomes[1]));
    assert_eq!(emulator.stats().submits, 2, "not resubmitted silently");

    // Only when asked explicitly.
    let outcomes = client
        .run_batch(
            &jobs,
            &mut BatchOptions::default()
                .journal(&journal)
                .resubmit_uncertain(true),
        )
        .unwrap();
    assert_all_written(&outcomes, &jobs);
    assert_eq!(emulator.stats().submits, 3);
}

#[test]
fn a_second_process_on_the_same_journal_fails_at_once() {
    let out = dir("batch-locked");
    let journal = out.join("journal.jsonl");
    let header = vidu::journal::Header::new("f", 1, "vidu");
    let _held = vidu::Journal::open(&journal, &header).unwrap();
    let emulator = Emulator::start().unwrap();
    let err = client(Provider::Vidu, &emulator)
        .run_batch(
            &jobs(1, &out),
            &mut BatchOptions::default().journal(&journal),
        )
        .unwrap_err();
    assert!(err.to_string().contains("lock"), "{err}");
    assert_eq!(emulator.stats().submit_requests, 0);
}

#[test]
fn partials_earlier_runs_left_for_the_outputs_are_removed_and_others_stay() {
    // The batch lists the output directory once, before any download (not once per video).
    let emulator = Emulator::start().unwrap();
    let out = dir("batch-stale-partials");
    let jobs = jobs(2, &out);
    let stale = [
        ".0.mp4.0123abcd.part",
        ".0.mp4.0123abcd.meta",
        ".1.mp4.99999999.meta", // a sidecar whose partial is gone
    ];
    let others = [".9.mp4.0123abcd.part", ".0.mp4.2.0123abcd.part"];
    for name in stale.iter().chain(&others) {
        std::fs::write(out.join(name), b"stale").unwrap();
    }
    let outcomes = client(Provider::Vidu, &emulator)
        .run_batch(&jobs, &mut BatchOptions::default())
        .unwrap();
    assert_all_written(&outcomes, &jobs);
    for name in stale {
        assert!(!out.join(name).exists(), "{name} removed");
    }
    for name in others {
        assert!(
            out.join(name).exists(),
            "{name}, another output's, left alone"
        );
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_deadline_during_failing_polls_leaves_the_jobs_unfinished_with_their_tasks() {
    // Transient poll failures are retried until the deadline; the jobs are not failed (a rerun
    // resumes them), and each keeps its task id.
    let emulator = Emulator::start_with(
        EmulatorOptions::new()
            .fault(Fault::on(Route::Status).effect(vidu::emulator::Effect::Reset)),
    )
    .unwrap();
    let out = dir("batch-failing-polls");
    let jobs = jobs(2, &out);
    let outcomes = client(Provider::UModelVerse, &emulator)
        .run_batch(
            &jobs,
            &mut BatchOptions::default().timeout(Duration::from_secs(1)),
        )
        .unwrap();
    for o in &outcomes {
        let JobOutcome::Unfinished { task_id } = o else {
            panic!("{o:?}")
        };
        assert!(task_id.is_some(), "{o:?}");
    }
    assert_eq!(emulator.stats().submits, 2);
    std::fs::remove_dir_all(&out).unwrap();
}
