//! The job state machine: every money rule and each job's one state, without I/O.
//!
//! Inputs are the answers of the provider ([`Input`]) and the clock (`now`, a monotonic
//! [`Duration`] since the driver started); outputs are [`Action`]s: write a journal record,
//! submit, list, poll, search the task list, download, emit an event. A driver
//! (`Client::run_batch`, `Client::generate`, the C entry points through them, and the
//! simulation in the tests) takes actions with [`Scheduler::next_action`], does the I/O, and
//! hands the answer back with [`Scheduler::handle`]; it sleeps until
//! [`Scheduler::next_wake`].
//!
//! - **The record comes before the I/O it announces.** Every record a pass produces is handed
//!   out before any other action of that pass, so a driver can write them all with one `fsync`
//!   (group commit) and still have them on disk before the submit, poll or event they precede.
//! - **Replay is the same transitions.** A job's state changes only in [`Scheduler::apply`],
//!   from a journal record; live, the machine makes the record and applies it, and a rerun
//!   applies the records read back ([`Scheduler::replay`]). What is not journaled (poll counts,
//!   timers, streaks) is soft state that a rerun rebuilds.
//! - **Scale**: timers are a binary heap with lazy deletion (a generation per job), submits a
//!   queue, in-flight, submitting and unfinished jobs counters: each event costs O(log n). A
//!   job holds no image, no output path and no copy of shared settings (a 128-byte slot plus
//!   its task id, and its tag until the task is known); an ended job's outcome can be released
//!   once the caller was told ([`Scheduler::release`]).
//! - **Bounded exposure**: at most [`Rules::submits`] submits await their answer, so a crash
//!   leaves at most that many intents without an outcome, while their intents may share a
//!   commit.

pub(crate) mod identity;
pub(crate) mod submit;

#[cfg(test)]
mod simulation;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, ErrorKind, TransportError};
use crate::journal::Record;
use crate::provider::check_task_id;
use crate::retry::{PollSchedule, RetryPolicy};
use crate::status::{State, TaskStatus};
use submit::SubmitOutcome;

use crate::batch::JobOutcome;

/// Submits are held back this long after a `429` without `Retry-After`.
pub(crate) const DEFAULT_THROTTLE: Duration = Duration::from_secs(5);
/// How long the task list is searched for the task of an uncertain submit before concluding
/// that none was created: the list's delay is not documented, and tens of seconds have been
/// seen under load.
pub(crate) const DEFAULT_SEARCH_WINDOW: Duration = Duration::from_secs(120);
/// How far before the submit the task list is searched, for clock differences.
pub(crate) const CLOCK_SLACK: Duration = Duration::from_secs(300);
/// Consecutive unreadable status answers tolerated before the job fails (with its task id).
pub(crate) const MAX_MALFORMED_POLLS: u32 = 3;
/// Submits of one job whose answers were all lost (each proven absent afterwards) before the
/// job is given up: a provider that keeps losing answers is not one to keep paying attempts to.
pub(crate) const MAX_LOST_SUBMITS: u32 = 3;
/// The most tasks one task-list request answers.
pub(crate) const TASKS_PER_LIST: usize = 100;

/// The rules of one run, shared by all its jobs.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    /// The provider lists tasks, so an uncertain submit's tag can be searched for.
    pub lists_tasks: bool,
    /// Poll through the task list (100 tasks per request) rather than one by one.
    pub list_polls: bool,
    /// Submit again a job whose submit is uncertain and cannot be looked up.
    pub resubmit_uncertain: bool,
    /// Jobs submitting, searching or running at once (downloads are bounded by the driver).
    pub concurrency: usize,
    /// Submits awaiting their answer at once (at least 1). Their intents may share one commit,
    /// and a crash leaves at most this many jobs whose submit must be looked up: no intent is
    /// recorded for a submit that is not about to be sent.
    pub submits: usize,
    /// How long an uncertain submit is searched for.
    pub search_window: Duration,
    pub poll: PollSchedule,
    pub retry: RetryPolicy,
}

/// One job as the machine sees it: no image, no output, nothing shared.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JobKey {
    /// The job's identity (its canonical form's hash); names the job in records and tags.
    pub key: u64,
    /// The caller set the job's `payload`: no tag can be sent in it.
    pub caller_payload: bool,
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for its turn to be submitted.
    Pending,
    /// An intent is recorded; the submit's outcome is not known yet.
    Submitting,
    /// The submit's outcome is unknown; to be decided (search, resubmit or give up).
    Unknown,
    /// Looking for the task of an uncertain submit in the task list.
    Searching,
    /// A task exists; polling it.
    Running,
    /// Its task succeeded; downloading the video.
    Downloading,
    /// Ended: written, failed or uncertain (see the slot's outcome).
    Ended,
}

impl Phase {
    /// Counts against the concurrency: a job whose task may be running at the provider. A
    /// downloading job's task has ended there, so a slow download does not hold back submits
    /// (the driver bounds downloads with its own pool).
    fn in_flight(self) -> bool {
        matches!(self, Phase::Submitting | Phase::Searching | Phase::Running)
    }
}

/// Progress last reported, to emit an event only on change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    state: State,
    permille: u16,
    raw_state: u32,
}

#[derive(Debug)]
struct Slot {
    phase: Phase,
    key: u64,
    caller_payload: bool,
    /// The latest intent's tag was sent in the payload.
    tag_sent: bool,
    /// The latest submit was answered 2xx, unreadably: a task exists, never submit again.
    accepted: bool,
    /// Intents recorded (the next attempt's number).
    attempts: u32,
    /// Submits whose outcome was uncertain.
    lost_submits: u32,
    /// Bumped whenever the job's timer changes, so stale heap entries are skipped.
    generation: u32,
    polls: u32,
    poll_errors: u32,
    malformed: u32,
    searches: u32,
    search_started: Duration,
    intent_unix_ms: u64,
    seen: Option<Seen>,
    task_id: Option<Box<str>>,
    tag: Option<Box<str>>,
    outcome: Option<Box<JobOutcome>>,
    /// The latest poll's error while polls are failing (retried until the deadline): what a
    /// single wait that runs out of time reports instead of a bare timeout.
    poll_error: Option<Box<Error>>,
}

/// Something the driver must do.
#[derive(Debug)]
pub(crate) enum Action {
    /// Append this record to the journal; it must be durable before the next non-record action.
    Record(Record),
    /// Submit job `job`, with `tag` as its payload when set.
    Submit { job: usize, tag: Option<String> },
    /// Poll these tasks through the task list.
    List { polls: Vec<(usize, String)> },
    /// Poll one task.
    Poll { job: usize, task_id: String },
    /// Search the whole task list since `from_unix_ms` for a task whose payload is `tag`.
    Search {
        job: usize,
        tag: String,
        from_unix_ms: u64,
    },
    /// Download the video of a succeeded task to the job's output.
    Download { job: usize, status: TaskStatus },
    /// Tell the caller.
    Emit(Event),
}

/// What the caller is told.
#[derive(Debug)]
pub(crate) enum Event {
    Submitted {
        job: usize,
        task_id: String,
    },
    Adopted {
        job: usize,
        task_id: String,
    },
    Progress {
        job: usize,
        status: Box<TaskStatus>,
    },
    Throttled {
        job: usize,
        retry_after: Duration,
    },
    /// The job ended; its outcome is [`Scheduler::outcome`].
    Ended {
        job: usize,
    },
}

/// An answer.
#[derive(Debug)]
pub(crate) enum Input {
    Submitted {
        job: usize,
        outcome: SubmitOutcome,
    },
    Listed {
        polls: Vec<(usize, String)>,
        result: crate::Result<Vec<TaskStatus>>,
    },
    Polled {
        job: usize,
        result: crate::Result<TaskStatus>,
    },
    Searched {
        job: usize,
        result: crate::Result<Option<String>>,
    },
    Downloaded {
        job: usize,
        result: crate::Result<(u64, PathBuf)>,
    },
}

/// The state machine of one run.
#[derive(Debug)]
pub(crate) struct Scheduler {
    rules: Rules,
    slots: Vec<Slot>,
    /// (when, job, generation), earliest first.
    timers: BinaryHeap<Reverse<(Duration, u32, u32)>>,
    queue: VecDeque<u32>,
    records: VecDeque<Record>,
    actions: VecDeque<Action>,
    in_flight: usize,
    /// Jobs in `Phase::Submitting`.
    submitting: usize,
    unfinished: usize,
    held_until: Option<Duration>,
    /// Unix milliseconds at `now == 0`, to stamp intents.
    epoch_unix_ms: u64,
    rng: u64,
}

/// What to do after a failed status poll: the one poll rule of `wait` and the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PollVerdict {
    /// Poll again after this delay.
    Retry(Duration),
    /// The job fails with this error (and its task id).
    Fail,
}

/// Consecutive poll failures of one task.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PollStreak {
    pub errors: u32,
    pub malformed: u32,
}

/// The poll rule: a transient failure (network, 408, 429, 5xx) is retried with backoff for as
/// long as the deadline allows; an unreadable answer is retried up to [`MAX_MALFORMED_POLLS`]
/// in a row; a refused key or an unknown task (401, 403, 404), a permanent network error, or
/// anything else ends the job.
pub(crate) fn poll_verdict(
    error: &Error,
    streak: &mut PollStreak,
    retry: &RetryPolicy,
) -> PollVerdict {
    let backoff = |n: u32, after: Option<Duration>| {
        PollVerdict::Retry(crate::retry::delay(retry, n.saturating_sub(1), after))
    };
    match error {
        Error::Protocol { .. } => {
            streak.malformed = streak.malformed.saturating_add(1);
            if streak.malformed >= MAX_MALFORMED_POLLS {
                PollVerdict::Fail
            } else {
                backoff(streak.malformed, None)
            }
        }
        Error::Api { http_status, .. } if crate::transport::is_transient_status(*http_status) => {
            streak.errors = streak.errors.saturating_add(1);
            backoff(streak.errors, error.retry_after())
        }
        Error::Transport { source, .. } if source.is_transient() => {
            streak.errors = streak.errors.saturating_add(1);
            backoff(streak.errors, None)
        }
        _ => PollVerdict::Fail,
    }
}

impl Scheduler {
    pub(crate) fn new(rules: Rules, jobs: &[JobKey], epoch_unix_ms: u64, seed: u64) -> Self {
        let slots = jobs
            .iter()
            .map(|j| Slot {
                phase: Phase::Pending,
                key: j.key,
                caller_payload: j.caller_payload,
                tag_sent: false,
                accepted: false,
                attempts: 0,
                lost_submits: 0,
                generation: 0,
                polls: 0,
                poll_errors: 0,
                malformed: 0,
                searches: 0,
                search_started: Duration::ZERO,
                intent_unix_ms: 0,
                seen: None,
                task_id: None,
                tag: None,
                outcome: None,
                poll_error: None,
            })
            .collect::<Vec<_>>();
        Scheduler {
            unfinished: slots.len(),
            slots,
            rules,
            timers: BinaryHeap::new(),
            queue: VecDeque::new(),
            records: VecDeque::new(),
            actions: VecDeque::new(),
            in_flight: 0,
            submitting: 0,
            held_until: None,
            epoch_unix_ms,
            rng: seed | 1,
        }
    }

    /// Applies a record read back from the journal: the same transition as when it was made.
    pub(crate) fn replay(&mut self, job: usize, record: &Record) {
        self.apply(job, record);
    }

    /// After replay: queues new jobs, decides what an interrupted submit needs, and spreads
    /// the first polls of known tasks over one poll interval.
    pub(crate) fn start(&mut self, now: Duration) {
        let running = self
            .slots
            .iter()
            .filter(|s| s.phase == Phase::Running)
            .count()
            .max(1) as u32;
        let mut k = 0u32;
        for i in 0..self.slots.len() {
            match self.slots[i].phase {
                Phase::Pending => self.queue.push_back(i as u32),
                Phase::Running => {
                    let offset = self.rules.poll.first / running * k;
                    k += 1;
                    self.set_timer(i, now + offset);
                }
                // An intent without its outcome: the process died during the submit.
                Phase::Submitting => {
                    let reason = "an earlier run stopped during this job's submit".to_owned();
                    let record = Record::Uncertain {
                        job: i as u64,
                        key: Some(self.key_text(i)),
                        reason: reason.clone(),
                    };
                    self.record(i, record);
                    self.decide_unknown(i, now, lost(reason));
                }
                Phase::Unknown => {
                    let reason = "an earlier run could not tell whether its submit created a task";
                    self.decide_unknown(i, now, lost(reason.into()));
                }
                Phase::Searching | Phase::Downloading | Phase::Ended => {}
            }
        }
    }

    /// (ended, running, searching, to submit): for the log line after replay.
    pub(crate) fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, self.queue.len());
        for s in &self.slots {
            match s.phase {
                Phase::Ended => c.0 += 1,
                Phase::Running => c.1 += 1,
                Phase::Searching => c.2 += 1,
                _ => {}
            }
        }
        c
    }

    /// True once every job has ended.
    pub(crate) fn is_finished(&self) -> bool {
        self.unfinished == 0
    }

    /// How job `job` ended, if it did.
    pub(crate) fn outcome(&self, job: usize) -> Option<&JobOutcome> {
        self.slots.get(job)?.outcome.as_deref()
    }

    /// How many jobs.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// True once job `job` has ended (written, failed or uncertain).
    pub(crate) fn is_ended(&self, job: usize) -> bool {
        self.slots.get(job).is_some_and(|s| s.phase == Phase::Ended)
    }

    /// Job `job`'s task, when one is known and not released.
    pub(crate) fn task_id(&self, job: usize) -> Option<&str> {
        self.slots.get(job)?.task_id.as_deref()
    }

    /// Job `job`'s identity.
    pub(crate) fn key(&self, job: usize) -> Option<u64> {
        self.slots.get(job).map(|s| s.key)
    }

    /// Forgets what an ended job leaves behind (its outcome, task id and errors) once the
    /// caller was told: a batch whose outcomes go out through its events holds a few bytes per
    /// ended job. Nothing changes for a job that has not ended.
    pub(crate) fn release(&mut self, job: usize) {
        if let Some(s) = self.slots.get_mut(job).filter(|s| s.phase == Phase::Ended) {
            s.outcome = None;
            s.task_id = None;
            s.tag = None;
            s.poll_error = None;
        }
    }

    /// The error of job `job`'s latest poll while its polls are failing (retried until the
    /// deadline): what a single wait that runs out of time reports instead of a bare timeout.
    pub(crate) fn take_poll_error(&mut self, job: usize) -> Option<Error> {
        let s = self.slots.get_mut(job)?;
        s.poll_error
            .take()
            .filter(|_| s.phase != Phase::Ended)
            .map(|e| *e)
    }

    /// One outcome per job: ended jobs as they ended, the others unfinished with their task.
    pub(crate) fn into_outcomes(self) -> Vec<JobOutcome> {
        self.slots
            .into_iter()
            .map(|s| match s.outcome {
                Some(o) if s.phase == Phase::Ended => *o,
                _ => JobOutcome::Unfinished {
                    task_id: s.task_id.map(String::from),
                },
            })
            .collect()
    }

    /// The records not handed out yet, without starting anything new (the run is stopping).
    pub(crate) fn take_records(&mut self) -> Vec<Record> {
        self.records.drain(..).collect()
    }

    /// The next thing to do at `now`, records first; `None` when nothing is due.
    pub(crate) fn next_action(&mut self, now: Duration) -> Option<Action> {
        loop {
            if let Some(record) = self.records.pop_front() {
                return Some(Action::Record(record));
            }
            if let Some(action) = self.actions.pop_front() {
                return Some(action);
            }
            if self.fire_timer(now) || self.submit_next(now) {
                continue;
            }
            return None;
        }
    }

    /// When something will be due; `None` when nothing will be without an answer.
    pub(crate) fn next_wake(&mut self) -> Option<Duration> {
        while let Some(&Reverse((_, job, generation))) = self.timers.peek() {
            if self.slots[job as usize].generation == generation {
                break;
            }
            self.timers.pop();
        }
        let timer = self.timers.peek().map(|Reverse((t, _, _))| *t);
        let held = self
            .held_until
            .filter(|_| !self.queue.is_empty() && self.in_flight < self.rules.concurrency);
        match (timer, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes an answer.
    pub(crate) fn handle(&mut self, now: Duration, input: Input) {
        match input {
            Input::Submitted { job, outcome } => self.submitted(job, now, outcome),
            Input::Listed { polls, result } => self.listed(now, polls, result),
            Input::Polled { job, result } => {
                if self.slots[job].phase != Phase::Running {
                    return;
                }
                match result {
                    Ok(status) => self.status(job, now, status),
                    Err(e) => self.poll_failed(job, now, e),
                }
            }
            Input::Searched { job, result } => self.searched(job, now, result),
            Input::Downloaded { job, result } => self.downloaded(job, result),
        }
    }

    // ---- transitions from records: the only place a job's phase changes ----

    /// The transition a record stands for, live or replayed.
    pub(crate) fn apply(&mut self, i: usize, record: &Record) {
        match record {
            Record::Header(_) => {}
            Record::Intent {
                tag,
                at_unix_ms,
                tag_sent,
                ..
            } => {
                let s = &mut self.slots[i];
                s.attempts = s.attempts.saturating_add(1);
                s.tag = Some(tag.as_str().into());
                s.intent_unix_ms = *at_unix_ms;
                // Journals before format 2 did not say; then a tag went out whenever the job
                // had no payload of its own and the provider lists tasks.
                s.tag_sent = tag_sent.unwrap_or(self.rules.lists_tasks) && !s.caller_payload;
                s.task_id = None;
                self.set_phase(i, Phase::Submitting);
            }
            Record::Submitted { task_id, .. } => {
                let s = &mut self.slots[i];
                s.task_id = Some(task_id.as_str().into());
                // Only a search needs the tag, and a known task is never searched for.
                s.tag = None;
                s.polls = 0;
                s.poll_errors = 0;
                s.malformed = 0;
                s.seen = None;
                self.set_phase(i, Phase::Running);
            }
            Record::NotCreated { .. } => {
                let s = &mut self.slots[i];
                s.tag = None;
                s.task_id = None;
                self.set_phase(i, Phase::Pending);
            }
            Record::Uncertain { .. } => {
                let s = &mut self.slots[i];
                s.lost_submits = s.lost_submits.saturating_add(1);
                self.set_phase(i, Phase::Unknown);
            }
            Record::Terminal {
                task_id,
                state,
                code,
                message,
                ..
            } => {
                let status = TaskStatus {
                    task_id: task_id.clone(),
                    state: terminal_state(state),
                    raw_state: state.clone(),
                    error_code: code.clone(),
                    error_message: message.clone(),
                    ..TaskStatus::default()
                };
                self.slots[i].task_id = Some(task_id.as_str().into());
                self.end(
                    i,
                    JobOutcome::Failed(Error::TaskFailed {
                        status: Box::new(status),
                    }),
                );
            }
            Record::Written {
                task_id,
                path,
                bytes,
                ..
            } => {
                self.slots[i].task_id = Some(task_id.as_str().into());
                self.end(
                    i,
                    JobOutcome::Written {
                        task_id: task_id.clone(),
                        path: path.clone(),
                        bytes: *bytes,
                    },
                );
            }
        }
    }

    fn set_phase(&mut self, i: usize, phase: Phase) {
        let s = &mut self.slots[i];
        let (was, now) = (s.phase.in_flight(), phase.in_flight());
        let was_submitting = s.phase == Phase::Submitting;
        if s.phase == Phase::Ended && phase != Phase::Ended {
            self.unfinished += 1;
        }
        if s.phase != Phase::Ended && phase == Phase::Ended {
            self.unfinished -= 1;
        }
        s.phase = phase;
        s.generation = s.generation.wrapping_add(1);
        match (was, now) {
            (false, true) => self.in_flight += 1,
            (true, false) => self.in_flight -= 1,
            _ => {}
        }
        match (was_submitting, phase == Phase::Submitting) {
            (false, true) => self.submitting += 1,
            (true, false) => self.submitting -= 1,
            _ => {}
        }
    }

    fn end(&mut self, i: usize, outcome: JobOutcome) {
        let s = &mut self.slots[i];
        s.outcome = Some(Box::new(outcome));
        s.poll_error = None;
        self.set_phase(i, Phase::Ended);
        // A slot is free: a submit held back after a 429 may go now.
        self.held_until = None;
    }

    /// Ends a job live: the same as [`end`](Self::end), and the caller is told.
    fn finish(&mut self, i: usize, outcome: JobOutcome) {
        self.end(i, outcome);
        self.actions
            .push_back(Action::Emit(Event::Ended { job: i }));
    }

    fn record(&mut self, i: usize, record: Record) {
        self.apply(i, &record);
        self.records.push_back(record);
    }

    fn set_timer(&mut self, i: usize, at: Duration) {
        let s = &mut self.slots[i];
        s.generation = s.generation.wrapping_add(1);
        self.timers.push(Reverse((at, i as u32, s.generation)));
    }

    fn key_text(&self, i: usize) -> String {
        format!("{:016x}", self.slots[i].key)
    }

    fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    // ---- submits ----

    fn submit_next(&mut self, now: Duration) -> bool {
        if self.in_flight >= self.rules.concurrency
            || self.submitting >= self.rules.submits.max(1)
            || self.queue.is_empty()
        {
            return false;
        }
        if let Some(until) = self.held_until {
            if now < until {
                return false;
            }
            self.held_until = None;
        }
        let Some(i) = self.queue.pop_front().map(|i| i as usize) else {
            return false;
        };
        if self.slots[i].phase != Phase::Pending {
            return true; // queued twice or ended meanwhile: skip
        }
        let key = self.key_text(i);
        let attempt = self.slots[i].attempts;
        let tag = format!("vidu-{}-{attempt}-{:08x}", &key[..8], self.random() as u32);
        let tag_sent = self.rules.lists_tasks && !self.slots[i].caller_payload;
        let at_unix_ms = self.epoch_unix_ms.saturating_add(now.as_millis() as u64);
        self.record(
            i,
            Record::Intent {
                job: i as u64,
                key: Some(key),
                tag: tag.clone(),
                at_unix_ms,
                tag_sent: Some(tag_sent),
            },
        );
        self.actions.push_back(Action::Submit {
            job: i,
            tag: tag_sent.then_some(tag),
        });
        true
    }

    /// Job `i`'s task is known (its submit answered, or the task list showed it): journaled,
    /// told, and polled from now on.
    fn task_known(
        &mut self,
        i: usize,
        now: Duration,
        key: Option<String>,
        task_id: String,
        event: fn(usize, String) -> Event,
    ) {
        self.record(
            i,
            Record::Submitted {
                job: i as u64,
                key,
                task_id: task_id.clone(),
            },
        );
        self.actions.push_back(Action::Emit(event(i, task_id)));
        let first = self.rules.poll.delay(0);
        self.set_timer(i, now + first);
    }

    fn submitted(&mut self, i: usize, now: Duration, outcome: SubmitOutcome) {
        if self.slots[i].phase != Phase::Submitting {
            return;
        }
        log::debug!(
            "job {}: submit {}: {}",
            i + 1,
            outcome.class(),
            outcome.why()
        );
        let key = Some(self.key_text(i));
        match outcome {
            SubmitOutcome::Created(task_id) => {
                self.task_known(i, now, key, task_id, |job, task_id| Event::Submitted {
                    job,
                    task_id,
                });
            }
            SubmitOutcome::NotCreated { error, throttled } => {
                self.record(
                    i,
                    Record::NotCreated {
                        job: i as u64,
                        key,
                        reason: error.to_string(),
                    },
                );
                if throttled {
                    let retry_after = error.retry_after().unwrap_or(DEFAULT_THROTTLE);
                    log::debug!(
                        "job {}: throttled, submits held back {retry_after:?}",
                        i + 1
                    );
                    self.queue.push_front(i as u32);
                    self.held_until = now.checked_add(retry_after);
                    self.actions.push_back(Action::Emit(Event::Throttled {
                        job: i,
                        retry_after,
                    }));
                } else if error.kind() == ErrorKind::Cancelled {
                    self.queue.push_front(i as u32);
                } else {
                    self.finish(i, JobOutcome::Failed(error));
                }
            }
            SubmitOutcome::Uncertain(error) => {
                self.record(
                    i,
                    Record::Uncertain {
                        job: i as u64,
                        key,
                        reason: error.to_string(),
                    },
                );
                self.decide_unknown(i, now, error);
            }
        }
    }

    /// A submit whose outcome is unknown: search for its tag when one was sent (and the
    /// provider lists tasks); otherwise resubmit only if the caller asked, else give up as
    /// uncertain.
    fn decide_unknown(&mut self, i: usize, now: Duration, error: Error) {
        // The provider answered 2xx: a task exists even if the list does not show it yet, so
        // the job is never submitted again; with its id known there is nothing to look for.
        let accepted = error.kind() == ErrorKind::Protocol;
        self.slots[i].accepted = accepted;
        let s = &self.slots[i];
        if error.task_id().is_some() {
            self.set_phase(i, Phase::Unknown);
            self.finish(i, JobOutcome::Uncertain(error));
        } else if s.tag_sent && self.rules.lists_tasks && s.tag.is_some() {
            log::debug!(
                "job {}: submit uncertain, searching the task list for its tag",
                i + 1
            );
            self.slots[i].searches = 0;
            self.slots[i].search_started = now;
            self.set_phase(i, Phase::Searching);
            self.set_timer(i, now);
        } else if self.rules.resubmit_uncertain && !accepted {
            let reason = format!(
                "submitted again as asked (resubmit uncertain): the earlier submit's outcome is \
                 unknown and cannot be looked up ({error})"
            );
            log::warn!("job {}: {reason}", i + 1);
            self.record(
                i,
                Record::NotCreated {
                    job: i as u64,
                    key: Some(self.key_text(i)),
                    reason,
                },
            );
            self.queue.push_back(i as u32);
        } else {
            let error = match error {
                e if !self.slots[i].tag_sent
                    && self.slots[i].caller_payload
                    && self.rules.lists_tasks =>
                {
                    lost(format!(
                        "{e}; the job sets its own payload, so no tag was sent to find the task by"
                    ))
                }
                e => e,
            };
            self.set_phase(i, Phase::Unknown);
            self.finish(i, JobOutcome::Uncertain(error));
        }
    }

    // ---- searches ----

    fn search(&mut self, i: usize) {
        let s = &self.slots[i];
        let Some(tag) = s.tag.as_deref() else {
            return;
        };
        let from = s
            .intent_unix_ms
            .saturating_sub(CLOCK_SLACK.as_millis() as u64);
        self.actions.push_back(Action::Search {
            job: i,
            tag: tag.to_owned(),
            from_unix_ms: from,
        });
    }

    /// The pause before look number `n` (0-based, after the first): 2 s, doubling, at most 30 s.
    fn search_gap(n: u32) -> Duration {
        Duration::from_secs(2u64 << n.min(4)).min(Duration::from_secs(30))
    }

    fn searched(&mut self, i: usize, now: Duration, result: crate::Result<Option<String>>) {
        if self.slots[i].phase != Phase::Searching {
            return;
        }
        let s = &mut self.slots[i];
        s.searches = s.searches.saturating_add(1);
        let looked = now.saturating_sub(s.search_started);
        let window = self.rules.search_window;
        let key = Some(self.key_text(i));
        match result {
            Ok(Some(task_id)) if check_task_id(&task_id).is_ok() => {
                log::info!(
                    "job {}: uncertain submit resolved: found task {task_id}",
                    i + 1
                );
                self.task_known(i, now, key, task_id, |job, task_id| Event::Adopted {
                    job,
                    task_id,
                });
            }
            Ok(Some(task_id)) => {
                self.set_phase(i, Phase::Unknown);
                self.finish(
                    i,
                    JobOutcome::Uncertain(Error::Protocol {
                        operation: "submit",
                        task_id: Some(task_id),
                        detail: "the task list shows this job's task, but its id is not safe in \
                                 a URL; look it up in the provider's console"
                            .into(),
                    }),
                );
            }
            Ok(None) if looked >= window => {
                let tag = self.slots[i].tag.as_deref().unwrap_or_default().to_owned();
                if self.slots[i].accepted {
                    self.set_phase(i, Phase::Unknown);
                    self.finish(
                        i,
                        JobOutcome::Uncertain(lost(format!(
                            "the provider accepted the submit but its answer could not be read, \
                             and the task list shows no task tagged {tag} after {} s; look for \
                             it in the provider's console before submitting again",
                            looked.as_secs()
                        ))),
                    );
                    return;
                }
                if self.slots[i].lost_submits >= MAX_LOST_SUBMITS {
                    self.set_phase(i, Phase::Unknown);
                    self.finish(
                        i,
                        JobOutcome::Failed(lost(format!(
                            "{} submits of this job lost their answers, and the task list shows \
                             no task for any of them; not submitting again",
                            self.slots[i].lost_submits
                        ))),
                    );
                    return;
                }
                let reason = format!(
                    "the task list shows no task tagged {tag} after looking for {} s: none was \
                     created; submitting again",
                    looked.as_secs()
                );
                log::info!("job {}: uncertain submit resolved: {reason}", i + 1);
                self.record(
                    i,
                    Record::NotCreated {
                        job: i as u64,
                        key,
                        reason,
                    },
                );
                self.queue.push_front(i as u32);
            }
            Ok(None) => {
                let n = self.slots[i].searches;
                let next =
                    (now + Self::search_gap(n - 1)).min(self.slots[i].search_started + window);
                let next = if next <= now {
                    now + Duration::from_millis(1)
                } else {
                    next
                };
                log::debug!(
                    "job {}: task list shows no task yet; looking again in {:?} ({:?} of {:?} looked)",
                    i + 1,
                    next - now,
                    looked,
                    window
                );
                self.set_timer(i, next);
            }
            Err(e) if e.kind() == ErrorKind::Cancelled => {}
            Err(e) if looked >= window.saturating_mul(3) => {
                self.set_phase(i, Phase::Unknown);
                self.finish(
                    i,
                    JobOutcome::Uncertain(lost(format!(
                        "could not look for the task in the task list: {e}"
                    ))),
                );
            }
            Err(e) => {
                let n = self.slots[i].searches;
                log::debug!("job {}: task list search failed ({e}); trying again", i + 1);
                self.set_timer(i, now + Self::search_gap(n - 1));
            }
        }
    }

    // ---- polls ----

    /// Handles the earliest timer if it is due. True when something was done.
    fn fire_timer(&mut self, now: Duration) -> bool {
        let Some(&Reverse((at, job, generation))) = self.timers.peek() else {
            return false;
        };
        let i = job as usize;
        if self.slots[i].generation != generation {
            self.timers.pop();
            return true;
        }
        if at > now {
            return false;
        }
        self.timers.pop();
        self.slots[i].generation = self.slots[i].generation.wrapping_add(1);
        match self.slots[i].phase {
            Phase::Searching => self.search(i),
            Phase::Running if self.rules.list_polls => {
                // One list request answers up to 100 tasks: take the others due soon with it.
                let horizon = now + self.rules.poll.first / 2;
                let mut polls = vec![(i, self.task_text(i))];
                while polls.len() < TASKS_PER_LIST {
                    let Some(&Reverse((at, job, generation))) = self.timers.peek() else {
                        break;
                    };
                    if at > horizon {
                        break;
                    }
                    self.timers.pop();
                    let j = job as usize;
                    if self.slots[j].generation != generation {
                        continue;
                    }
                    if self.slots[j].phase != Phase::Running {
                        // A search due soon: put it back untouched.
                        self.timers.push(Reverse((at, job, generation)));
                        break;
                    }
                    self.slots[j].generation = self.slots[j].generation.wrapping_add(1);
                    polls.push((j, self.task_text(j)));
                }
                self.actions.push_back(Action::List { polls });
            }
            Phase::Running => {
                let task_id = self.task_text(i);
                self.actions.push_back(Action::Poll { job: i, task_id });
            }
            _ => {}
        }
        true
    }

    fn task_text(&self, i: usize) -> String {
        self.task_id(i).unwrap_or_default().to_owned()
    }

    fn listed(
        &mut self,
        now: Duration,
        polls: Vec<(usize, String)>,
        result: crate::Result<Vec<TaskStatus>>,
    ) {
        let statuses = match result {
            Ok(s) => s,
            Err(e) if e.kind() == ErrorKind::Cancelled => return,
            Err(e) => {
                log::debug!(
                    "task list poll failed ({e}); polling its {} tasks one by one",
                    polls.len()
                );
                Vec::new()
            }
        };
        let mut by_id: HashMap<String, TaskStatus> = HashMap::with_capacity(statuses.len());
        for status in statuses {
            by_id.entry(status.task_id.clone()).or_insert(status);
        }
        for (i, task_id) in polls {
            if self.slots[i].phase != Phase::Running
                || self.slots[i].task_id.as_deref() != Some(task_id.as_str())
            {
                continue;
            }
            match by_id.remove(&task_id) {
                Some(status) => self.status(i, now, status),
                // Whatever the list did not answer is polled by itself.
                None => self.actions.push_back(Action::Poll { job: i, task_id }),
            }
        }
    }

    fn status(&mut self, i: usize, now: Duration, status: TaskStatus) {
        let s = &mut self.slots[i];
        s.polls = s.polls.saturating_add(1);
        if s.poll_errors > 0 || s.malformed > 0 {
            log::debug!("job {}: task {}: polls answer again", i + 1, status.task_id);
        }
        s.poll_errors = 0;
        s.malformed = 0;
        s.poll_error = None;
        let seen = Seen {
            state: status.state,
            permille: status
                .progress
                .map_or(u16::MAX, |p| (p.clamp(0.0, 1.0) * 1000.0) as u16),
            raw_state: fnv32(&status.raw_state),
        };
        let changed = s.seen != Some(seen);
        s.seen = Some(seen);
        let polls = s.polls;
        match status.state {
            State::Succeeded => {
                if changed {
                    self.emit_progress(i, &status);
                }
                self.set_phase(i, Phase::Downloading);
                // Its task no longer counts at the provider: a submit held back may go.
                self.held_until = None;
                self.actions.push_back(Action::Download { job: i, status });
            }
            state if state.is_terminal() => {
                if changed {
                    self.emit_progress(i, &status);
                }
                self.record(
                    i,
                    Record::Terminal {
                        job: i as u64,
                        key: Some(self.key_text(i)),
                        task_id: status.task_id.clone(),
                        state: status.state.as_str().to_owned(),
                        code: status.error_code.clone(),
                        message: status.error_message.clone(),
                    },
                );
                // Live, the outcome keeps the whole status.
                self.finish(
                    i,
                    JobOutcome::Failed(Error::TaskFailed {
                        status: Box::new(status),
                    }),
                );
            }
            _ => {
                if changed {
                    self.emit_progress(i, &status);
                }
                let delay = self.rules.poll.delay(polls);
                self.set_timer(i, now + delay);
            }
        }
    }

    fn emit_progress(&mut self, i: usize, status: &TaskStatus) {
        self.actions.push_back(Action::Emit(Event::Progress {
            job: i,
            status: Box::new(status.clone()),
        }));
    }

    fn poll_failed(&mut self, i: usize, now: Duration, error: Error) {
        if error.kind() == ErrorKind::Cancelled {
            return;
        }
        let s = &mut self.slots[i];
        let mut streak = PollStreak {
            errors: s.poll_errors,
            malformed: s.malformed,
        };
        let verdict = poll_verdict(&error, &mut streak, &self.rules.retry);
        s.poll_errors = streak.errors;
        s.malformed = streak.malformed;
        let task_id = self.task_text(i);
        match verdict {
            PollVerdict::Retry(delay) => {
                let errors = streak.errors.max(streak.malformed);
                if errors == 3 || errors.is_multiple_of(20) {
                    log::warn!(
                        "job {}: task {task_id}: {errors} polls failed in a row: {error}",
                        i + 1
                    );
                } else {
                    log::debug!(
                        "job {}: task {task_id}: poll failed ({error}); again in {delay:?}",
                        i + 1
                    );
                }
                self.set_timer(i, now + delay);
                self.slots[i].poll_error = Some(Box::new(error.with_task_id(&task_id)));
            }
            PollVerdict::Fail => {
                self.finish(i, JobOutcome::Failed(error.with_task_id(&task_id)));
            }
        }
    }

    // ---- downloads ----

    fn downloaded(&mut self, i: usize, result: crate::Result<(u64, PathBuf)>) {
        if self.slots[i].phase != Phase::Downloading {
            return;
        }
        let task_id = self.task_text(i);
        match result {
            Ok((bytes, path)) => {
                self.record(
                    i,
                    Record::Written {
                        job: i as u64,
                        key: Some(self.key_text(i)),
                        task_id: task_id.clone(),
                        path: path.clone(),
                        bytes,
                    },
                );
                self.actions
                    .push_back(Action::Emit(Event::Ended { job: i }));
            }
            // Stopped mid-download: the task stays running for the next run.
            Err(e) if e.kind() == ErrorKind::Cancelled => self.set_phase(i, Phase::Running),
            Err(e) => self.finish(i, JobOutcome::Failed(e.with_task_id(&task_id))),
        }
    }
}

/// An uncertain submit's error with this explanation.
fn lost(detail: String) -> Error {
    Error::SubmitUncertain {
        source: TransportError::lost_answer(detail),
    }
}

/// FNV-1a 32 of `s`: enough to tell raw states apart without keeping them.
fn fnv32(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The state a terminal record names (`failed`, `cancelled` or `expired`).
fn terminal_state(name: &str) -> State {
    match name {
        "cancelled" => State::Cancelled,
        "expired" => State::Expired,
        _ => State::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(concurrency: usize) -> Rules {
        Rules {
            lists_tasks: false,
            list_polls: false,
            resubmit_uncertain: false,
            concurrency,
            submits: concurrency,
            search_window: DEFAULT_SEARCH_WINDOW,
            poll: PollSchedule::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// `n` jobs, keys 0 to n - 1, without a payload of their own.
    fn keys(n: u64) -> Vec<JobKey> {
        (0..n)
            .map(|key| JobKey {
                key,
                caller_payload: false,
            })
            .collect()
    }

    fn submits(m: &mut Scheduler, now: Duration) -> Vec<usize> {
        let mut jobs = Vec::new();
        while let Some(action) = m.next_action(now) {
            if let Action::Submit { job, .. } = action {
                jobs.push(job);
            }
        }
        jobs
    }

    #[test]
    fn no_more_than_the_concurrency_is_in_flight() {
        let keys = keys(10);
        let mut m = Scheduler::new(rules(3), &keys, 0, 1);
        m.start(Duration::ZERO);
        let first = submits(&mut m, Duration::ZERO);
        assert_eq!(first, vec![0, 1, 2]);
        // A created task stays in flight: nothing more goes.
        let created = SubmitOutcome::Created("t0".into());
        m.handle(
            Duration::ZERO,
            Input::Submitted {
                job: 0,
                outcome: created,
            },
        );
        assert_eq!(submits(&mut m, Duration::ZERO), Vec::<usize>::new());
        // A refused submit ends its job and frees a slot.
        let refused = SubmitOutcome::NotCreated {
            error: Error::invalid("prompt", "x", "y"),
            throttled: false,
        };
        m.handle(
            Duration::ZERO,
            Input::Submitted {
                job: 1,
                outcome: refused,
            },
        );
        assert_eq!(submits(&mut m, Duration::ZERO), vec![3]);
        assert!(matches!(m.outcome(1), Some(JobOutcome::Failed(_))));
    }

    /// Intents are recorded only for submits about to be sent: with room for 5 tasks and 2
    /// submits at once, 2 go; each answer (created, or refused) lets one more go, and a
    /// created task keeps its place against the concurrency.
    #[test]
    fn no_more_submits_await_their_answer_than_allowed() {
        let keys = keys(10);
        let mut m = Scheduler::new(
            Rules {
                submits: 2,
                ..rules(5)
            },
            &keys,
            0,
            1,
        );
        m.start(Duration::ZERO);
        let intents = |m: &mut Scheduler| {
            let mut n = 0;
            let mut jobs = Vec::new();
            while let Some(action) = m.next_action(Duration::ZERO) {
                match action {
                    Action::Record(Record::Intent { .. }) => n += 1,
                    Action::Submit { job, .. } => jobs.push(job),
                    _ => {}
                }
            }
            assert_eq!(n, jobs.len(), "one intent per submit handed out");
            jobs
        };
        assert_eq!(intents(&mut m), vec![0, 1]);
        let created = |id: &str| SubmitOutcome::Created(id.into());
        m.handle(
            Duration::ZERO,
            Input::Submitted {
                job: 1,
                outcome: created("t1"),
            },
        );
        assert_eq!(intents(&mut m), vec![2]);
        for job in [0, 2] {
            let refused = SubmitOutcome::NotCreated {
                error: Error::invalid("prompt", "x", "y"),
                throttled: false,
            };
            m.handle(
                Duration::ZERO,
                Input::Submitted {
                    job,
                    outcome: refused,
                },
            );
        }
        assert_eq!(intents(&mut m), vec![3, 4]);
        for (job, id) in [(3, "t3"), (4, "t4")] {
            m.handle(
                Duration::ZERO,
                Input::Submitted {
                    job,
                    outcome: created(id),
                },
            );
        }
        // t1, t3, t4 running and 2 submits may go, but only 5 tasks at once.
        assert_eq!(intents(&mut m), vec![5, 6]);
        m.handle(
            Duration::ZERO,
            Input::Submitted {
                job: 5,
                outcome: created("t5"),
            },
        );
        assert_eq!(intents(&mut m), Vec::<usize>::new());
    }

    /// Downloads run beside the loop: several are handed out before any answer, they do not
    /// hold back submits (their tasks have ended at the provider), and their answers are taken
    /// in any order.
    #[test]
    fn downloads_overlap_and_do_not_hold_back_submits() {
        let keys = keys(4);
        let mut m = Scheduler::new(rules(2), &keys, 0, 1);
        m.start(Duration::ZERO);
        let now = Duration::ZERO;
        let mut downloads = Vec::new();
        let mut submitted = Vec::new();
        let mut t = now;
        while !m.is_finished() {
            let Some(action) = m.next_action(t) else {
                if downloads.len() == 4 {
                    break;
                }
                t = m.next_wake().expect("a timer while tasks run");
                continue;
            };
            match action {
                Action::Submit { job, .. } => {
                    submitted.push(job);
                    let outcome = SubmitOutcome::Created(format!("t{job}"));
                    m.handle(t, Input::Submitted { job, outcome });
                }
                Action::Poll { job, task_id } => {
                    let status = TaskStatus::new(task_id, State::Succeeded);
                    m.handle(
                        t,
                        Input::Polled {
                            job,
                            result: Ok(status),
                        },
                    );
                }
                Action::Download { job, .. } => downloads.push(job),
                _ => {}
            }
        }
        // Concurrency 2, yet all four were submitted while the first two downloaded.
        assert_eq!(submitted, vec![0, 1, 2, 3]);
        assert_eq!(downloads.len(), 4, "{downloads:?}");
        for &job in downloads.iter().rev() {
            assert!(m.outcome(job).is_none());
            let result = Ok((7, PathBuf::from(format!("{job}.mp4"))));
            m.handle(t, Input::Downloaded { job, result });
            assert!(matches!(m.outcome(job), Some(JobOutcome::Written { .. })));
        }
        assert!(m.is_finished());
    }

    /// A failure read back from the journal is the failure that was recorded, every field.
    #[test]
    fn a_replayed_failure_keeps_its_status() {
        let mut m = Scheduler::new(
            rules(1),
            &[JobKey {
                key: 1,
                caller_payload: false,
            }],
            0,
            1,
        );
        m.replay(
            0,
            &Record::Terminal {
                job: 0,
                key: None,
                task_id: "t9".into(),
                state: "expired".into(),
                code: Some("C".into()),
                message: Some("M".into()),
            },
        );
        m.start(Duration::ZERO);
        assert!(m.is_finished());
        let Some(JobOutcome::Failed(Error::TaskFailed { status })) = m.outcome(0) else {
            panic!("{:?}", m.outcome(0))
        };
        assert_eq!(status.task_id, "t9");
        assert_eq!(status.state, State::Expired);
        assert_eq!(status.raw_state, "expired");
        assert_eq!(status.error_code.as_deref(), Some("C"));
        assert_eq!(status.error_message.as_deref(), Some("M"));
        assert!(
            m.next_action(Duration::ZERO).is_none(),
            "nothing submitted again"
        );
    }

    /// A format-1 intent does not say whether its tag went out; a job with its own payload
    /// never sent one, so it is reported uncertain, not searched for.
    #[test]
    fn an_old_intent_of_a_job_with_its_own_payload_is_not_searched_for() {
        let mut r = rules(1);
        r.lists_tasks = true;
        for (caller_payload, searched) in [(true, false), (false, true)] {
            let mut m = Scheduler::new(
                r.clone(),
                &[JobKey {
                    key: 1,
                    caller_payload,
                }],
                0,
                1,
            );
            m.replay(0, &Record::intent(0, "vidu-x"));
            m.start(Duration::ZERO);
            let mut search = false;
            while let Some(a) = m.next_action(Duration::ZERO) {
                search |= matches!(a, Action::Search { .. });
            }
            assert_eq!(search, searched, "caller payload {caller_payload}");
            assert_eq!(
                matches!(m.outcome(0), Some(JobOutcome::Uncertain(_))),
                !searched
            );
        }
    }

    #[test]
    fn the_poll_rule() {
        let retry = RetryPolicy::default();
        let mut streak = PollStreak::default();
        let protocol = || Error::Protocol {
            operation: "status",
            task_id: None,
            detail: "x".into(),
        };
        assert!(matches!(
            poll_verdict(&protocol(), &mut streak, &retry),
            PollVerdict::Retry(_)
        ));
        assert!(matches!(
            poll_verdict(&protocol(), &mut streak, &retry),
            PollVerdict::Retry(_)
        ));
        assert_eq!(
            poll_verdict(&protocol(), &mut streak, &retry),
            PollVerdict::Fail
        );
        let api = |status| Error::Api {
            operation: "status",
            http_status: status,
            provider_code: None,
            message: String::new(),
            request_id: None,
            task_id: None,
            retry_after_secs: None,
        };
        let mut streak = PollStreak::default();
        for _ in 0..50 {
            assert!(matches!(
                poll_verdict(&api(503), &mut streak, &retry),
                PollVerdict::Retry(_)
            ));
        }
        for status in [401, 403, 404] {
            assert_eq!(
                poll_verdict(&api(status), &mut streak, &retry),
                PollVerdict::Fail
            );
        }
        let reset = Error::Transport {
            operation: "status",
            task_id: None,
            source: TransportError::new(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "x",
            ))),
        };
        assert!(matches!(
            poll_verdict(&reset, &mut streak, &retry),
            PollVerdict::Retry(_)
        ));
        let bad_url = Error::Transport {
            operation: "status",
            task_id: None,
            source: TransportError::new(ureq::Error::BadUri("x".into())),
        };
        assert_eq!(
            poll_verdict(&bad_url, &mut streak, &retry),
            PollVerdict::Fail
        );
    }
}
