//! Many jobs from one thread: submit at most N at once, poll every running task on its own
//! schedule over the client's one connection pool, download each video as soon as its task
//! succeeds, and (with a journal) pick the run up again after the process dies.
//!
//! ```no_run
//! use vidu::{BatchJob, BatchOptions, Client, Config, Job, Provider};
//!
//! let client = Client::new(Config::new(Provider::Vidu, "my-api-key"))?;
//! let jobs = vec![
//!     BatchJob::new(Job::new("a.png").prompt("waves"), "a.mp4"),
//!     BatchJob::new(Job::new("b.png").prompt("wind"), "b.mp4"),
//! ];
//! let mut options = BatchOptions::default().journal("run.journal");
//! for outcome in client.run_batch(&jobs, &mut options)? {
//!     println!("{outcome:?}");
//! }
//! # Ok::<(), vidu::Error>(())
//! ```
//!
//! One thread does everything, so a slow download delays the polls behind it; polls are cheap
//! and a delayed poll is harmless, while threads would cost every user of a small device.

use std::collections::{HashMap, VecDeque};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::cancel::CancelToken;
use crate::client::Client;
use crate::client::WaitOptions;
use crate::error::{Error, ErrorKind, Result, TransportError};
use crate::image::ImageSource;
use crate::job::Job;
use crate::journal::{self, Journal, Phase, Record, Replay};
use crate::lost_submit::{ADOPTION_LOOKS, ADOPTION_PAUSE, CLOCK_SLACK, TASKS_PER_LIST};
use crate::status::{State, TaskStatus};

/// One job of a batch: what to generate and where to write it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BatchJob<'a> {
    /// The job.
    pub job: Job<'a>,
    /// Where its video goes.
    pub output: PathBuf,
    /// How errors name this job, e.g. `"line 734"`. Default `"job <n>"` (1-based).
    pub label: Option<String>,
}

impl<'a> BatchJob<'a> {
    /// A job writing its video to `output`.
    pub fn new(job: Job<'a>, output: impl Into<PathBuf>) -> Self {
        BatchJob {
            job,
            output: output.into(),
            label: None,
        }
    }

    /// Sets how errors and events name this job, e.g. `"line 734"`.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
}

/// Something that happened to one job of a batch, reported as it happens.
#[derive(Debug)]
#[non_exhaustive]
pub enum BatchEvent<'e> {
    /// The job was submitted; the provider returned this task id (already in the journal).
    Submitted {
        /// The job's index in the batch.
        job: usize,
        /// The new task.
        task_id: &'e str,
    },
    /// A task created before a crash was found again and adopted instead of paying twice.
    Adopted {
        /// The job's index in the batch.
        job: usize,
        /// The adopted task.
        task_id: &'e str,
    },
    /// A poll saw a new state or progress.
    Progress {
        /// The job's index in the batch.
        job: usize,
        /// The status just polled.
        status: &'e TaskStatus,
    },
    /// The provider throttled a submit (`429`); new submits wait until `retry_after` passes or
    /// a running task ends.
    Throttled {
        /// The job whose submit was refused; it was not created and stays queued.
        job: usize,
        /// How long submits are held back.
        retry_after: Duration,
    },
    /// The video was written.
    Written {
        /// The job's index in the batch.
        job: usize,
        /// The task.
        task_id: &'e str,
        /// Where the video is.
        path: &'e Path,
        /// Its size in bytes.
        bytes: u64,
    },
    /// The job failed; the others go on.
    Failed {
        /// The job's index in the batch.
        job: usize,
        /// Why, with the task id when a task exists.
        error: &'e Error,
    },
    /// A submit may or may not have created a task, and no task could be found: the job is
    /// not submitted again unless [`BatchOptions::resubmit_uncertain`] is set.
    Uncertain {
        /// The job's index in the batch.
        job: usize,
        /// What happened.
        error: &'e Error,
    },
}

/// Called on the batch's thread for each event; [`ControlFlow::Break`] stops the whole run
/// (running tasks go on at the provider and are resumed by the next run with the journal).
pub type BatchCallback<'a> = Box<dyn FnMut(&BatchEvent<'_>) -> ControlFlow<()> + 'a>;

/// How to run a batch. Every setter states its default.
#[derive(Default)]
#[non_exhaustive]
pub struct BatchOptions<'a> {
    /// Tasks in flight at once. Default: the provider's documented concurrency (5).
    pub concurrency: Option<usize>,
    /// Give up waiting after this long; unfinished jobs end as [`JobOutcome::Unfinished`] with
    /// their task ids. Default `None`: no deadline.
    pub timeout: Option<Duration>,
    /// Stops the whole run at once, from any thread.
    pub cancel: Option<CancelToken>,
    /// The journal file that makes the run resumable after the process dies. Default none.
    pub journal: Option<PathBuf>,
    /// Submit again a job whose earlier submit may have created a task that cannot be found
    /// (on the gateways, which cannot list tasks). Risks paying twice. Default false.
    pub resubmit_uncertain: bool,
    /// Called for each event.
    pub on_event: Option<BatchCallback<'a>>,
}

impl std::fmt::Debug for BatchOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchOptions")
            .field("concurrency", &self.concurrency)
            .field("timeout", &self.timeout)
            .field("journal", &self.journal)
            .field("resubmit_uncertain", &self.resubmit_uncertain)
            .finish_non_exhaustive()
    }
}

impl<'a> BatchOptions<'a> {
    /// Sets the number of tasks in flight at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }
    /// Sets the deadline of the whole run.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Sets the cancel token.
    pub fn cancel(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }
    /// Sets the journal file.
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal = Some(path.into());
        self
    }
    /// Allows submitting again a job whose earlier submit is uncertain.
    pub fn resubmit_uncertain(mut self, yes: bool) -> Self {
        self.resubmit_uncertain = yes;
        self
    }
    /// Sets the event callback.
    pub fn on_event(mut self, f: impl FnMut(&BatchEvent<'_>) -> ControlFlow<()> + 'a) -> Self {
        self.on_event = Some(Box::new(f));
        self
    }
}

/// How one job of a batch ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum JobOutcome {
    /// The video was written (now or by an earlier run with the same journal).
    Written {
        /// The task.
        task_id: String,
        /// Where the video is.
        path: PathBuf,
        /// Its size in bytes.
        bytes: u64,
    },
    /// The job failed: at the provider, or locally after its task was created (the error then
    /// carries the task id), or at submit.
    Failed(Error),
    /// A submit may have created a task that could not be found; not submitted again.
    Uncertain(Error),
    /// The run stopped (deadline, cancel or callback) before this job finished. Rerun with the
    /// same journal to resume it; `task_id` is set when a task exists.
    Unfinished {
        /// The task, if one was created.
        task_id: Option<String>,
    },
}

impl JobOutcome {
    /// The task id, whenever a task exists.
    pub fn task_id(&self) -> Option<&str> {
        match self {
            JobOutcome::Written { task_id, .. } => Some(task_id),
            JobOutcome::Failed(e) | JobOutcome::Uncertain(e) => e.task_id(),
            JobOutcome::Unfinished { task_id } => task_id.as_deref(),
        }
    }
}

/// Where one job stands during a run.
#[derive(Debug)]
enum Slot {
    /// Not submitted yet.
    Pending,
    /// Submitted; waiting for the task.
    Running(Running),
    /// Created before a crash, id unknown: look for it in the task list.
    Searching {
        tag: String,
        since: SystemTime,
        looks: u32,
        next: Instant,
    },
    Done(JobOutcome),
}

#[derive(Debug)]
struct Running {
    task_id: String,
    polls: u32,
    next_poll: Instant,
    last: Option<(State, Option<u32>, String)>,
}

/// Submits are held back this long after a `429` without `Retry-After`.
const DEFAULT_THROTTLE: Duration = Duration::from_secs(5);

struct Run<'c, 'j, 'a, 'o> {
    client: &'c Client,
    jobs: &'j [BatchJob<'a>],
    slots: Vec<Slot>,
    queue: VecDeque<usize>,
    journal: Option<Journal>,
    /// Identifies the job list; part of each submit's tag.
    fingerprint: String,
    /// Submits recorded per job, so each attempt gets its own tag.
    attempts: Vec<u32>,
    options: &'o mut BatchOptions<'a>,
    cancel: CancelToken,
    held_until: Option<Instant>,
    stopped: bool,
}

impl Client {
    /// Runs many jobs from this thread; see [`crate::batch`]. Every job is checked before the
    /// first submit: an invalid job fails the call naming it, and nothing is sent. Afterwards one
    /// job's failure does not stop the others. Returns one outcome per job, in order.
    pub fn run_batch<'a>(
        &self,
        jobs: &[BatchJob<'a>],
        options: &mut BatchOptions<'a>,
    ) -> Result<Vec<JobOutcome>> {
        let concurrency = options.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            return Err(Error::invalid("concurrency", 0, "at least 1"));
        }
        for (i, bj) in jobs.iter().enumerate() {
            let named = |e: Error| e.in_job(label(bj, i));
            self.check(&bj.job).map_err(named)?;
            crate::download::check_output_path(&bj.output).map_err(named)?;
        }
        let identities: Vec<String> = jobs.iter().map(|bj| self.job_identity(bj)).collect();
        let fingerprint = journal::fingerprint(identities.iter().map(String::as_bytes));
        let journal = match &options.journal {
            Some(path) => {
                let header = journal::Header::new(
                    fingerprint.clone(),
                    jobs.len() as u64,
                    self.provider().name(),
                );
                Some(Journal::open(path, &header)?)
            }
            None => None,
        };
        let cancel = options.cancel.clone().unwrap_or_default();
        let mut run = Run {
            client: self,
            jobs,
            slots: jobs.iter().map(|_| Slot::Pending).collect(),
            queue: VecDeque::new(),
            journal: None,
            fingerprint,
            attempts: vec![0; jobs.len()],
            options,
            cancel,
            held_until: None,
            stopped: false,
        };
        if let Some((journal, replay)) = journal {
            run.journal = Some(journal);
            run.replay(&replay)?;
        }
        run.queue = (0..jobs.len())
            .filter(|&i| matches!(run.slots[i], Slot::Pending))
            .collect();
        run.go(concurrency)?;
        Ok(run.slots.into_iter().map(Slot::into_outcome).collect())
    }

    /// The text that identifies a job in the journal's fingerprint: every field, with image
    /// bytes stood for by their hash (never copied).
    fn job_identity(&self, bj: &BatchJob<'_>) -> String {
        let image = match &bj.job.image {
            ImageSource::Url(u) => format!("url {u}"),
            ImageSource::Path(p) => format!("path {}", p.display()),
            ImageSource::Bytes(b) => format!("bytes {}", journal::fingerprint([&b[..]])),
        };
        let mut rest = bj.job.reborrow();
        rest.image = ImageSource::Bytes(Default::default());
        format!("{image}\u{0}{rest:?}\u{0}{}", bj.output.display())
    }
}

/// Tasks in flight at once unless set: the official API's documented default per organisation;
/// the gateways document none and resell the same service.
const DEFAULT_CONCURRENCY: usize = 5;

fn label(bj: &BatchJob<'_>, i: usize) -> String {
    bj.label.clone().unwrap_or_else(|| format!("job {}", i + 1))
}

impl Slot {
    fn into_outcome(self) -> JobOutcome {
        match self {
            Slot::Done(o) => o,
            Slot::Running(r) => JobOutcome::Unfinished {
                task_id: Some(r.task_id),
            },
            Slot::Pending | Slot::Searching { .. } => JobOutcome::Unfinished { task_id: None },
        }
    }
}

impl Run<'_, '_, '_, '_> {
    fn replay(&mut self, replay: &Replay) -> Result<()> {
        let now = Instant::now();
        for (i, record) in replay.jobs.iter().enumerate().take(self.jobs.len()) {
            self.attempts[i] = record.attempts;
            self.slots[i] = match (record.phase(), &record.task_id) {
                (Phase::Done, _) => match &record.written {
                    Some(w) => JobOutcome::Written {
                        task_id: w.task_id.clone(),
                        path: w.path.clone(),
                        bytes: w.bytes,
                    }
                    .into(),
                    None => Slot::Pending,
                },
                (Phase::Failed, _) => match &record.terminal {
                    Some(t) => JobOutcome::Failed(Error::TaskFailed {
                        status: Box::new(TaskStatus {
                            task_id: t.task_id.clone(),
                            state: State::Failed,
                            raw_state: t.state.clone(),
                            error_code: t.code.clone(),
                            error_message: t.message.clone(),
                            ..TaskStatus::default()
                        }),
                    })
                    .into(),
                    None => Slot::Pending,
                },
                (Phase::Running, Some(task_id)) => Slot::Running(Running {
                    task_id: task_id.clone(),
                    polls: 0,
                    next_poll: now,
                    last: None,
                }),
                (Phase::Unknown, _) => match &record.intent {
                    // The official API lists tasks: find the one the tag marks, if any.
                    Some(intent) if self.client.lists_tasks() => Slot::Searching {
                        tag: intent.tag.clone(),
                        since: SystemTime::UNIX_EPOCH
                            .checked_add(Duration::from_millis(intent.at_unix_ms))
                            .unwrap_or(SystemTime::UNIX_EPOCH),
                        looks: 0,
                        next: now,
                    },
                    _ if self.options.resubmit_uncertain => Slot::Pending,
                    _ => JobOutcome::Uncertain(Error::SubmitUncertain {
                        source: TransportError::lost_answer(
                            record.uncertain.clone().unwrap_or_else(|| {
                                "an earlier run stopped during this job's submit".into()
                            }),
                        ),
                    })
                    .into(),
                },
                _ => Slot::Pending,
            };
        }
        Ok(())
    }
}

impl From<JobOutcome> for Slot {
    fn from(o: JobOutcome) -> Self {
        Slot::Done(o)
    }
}

impl Run<'_, '_, '_, '_> {
    fn go(&mut self, concurrency: usize) -> Result<()> {
        let deadline = self
            .options
            .timeout
            .and_then(|t| Instant::now().checked_add(t));
        self.spread_polls();
        loop {
            if self.cancel.is_cancelled() || self.stopped {
                return Ok(());
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(());
            }
            self.search_due()?;
            self.submit_what_fits(concurrency)?;
            self.poll_due()?;
            let Some(wake) = self.next_wake() else {
                return Ok(()); // every job is done
            };
            let wake = deadline.map_or(wake, |d| wake.min(d));
            let pause = wake.saturating_duration_since(Instant::now());
            if !pause.is_zero() && self.cancel.sleep(pause) {
                return Ok(());
            }
        }
    }

    /// Tasks picked up from a journal all start at once; spread their first polls over one
    /// poll interval rather than bursting.
    fn spread_polls(&mut self) {
        let first = self.client.config().poll.first;
        let running: Vec<usize> = (0..self.slots.len())
            .filter(|&i| matches!(self.slots[i], Slot::Running(_)))
            .collect();
        let now = Instant::now();
        let n = running.len().max(1) as u32;
        for (k, i) in running.into_iter().enumerate() {
            if let Slot::Running(r) = &mut self.slots[i] {
                r.next_poll = now + first / n * k as u32;
            }
        }
    }

    fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Running(_) | Slot::Searching { .. }))
            .count()
    }

    /// When the loop has something to do next; `None` when every job is done.
    fn next_wake(&self) -> Option<Instant> {
        let polls = self.slots.iter().filter_map(|slot| match slot {
            Slot::Running(r) => Some(r.next_poll),
            Slot::Searching { next, .. } => Some(*next),
            _ => None,
        });
        let mut wake = polls.min();
        if !self.queue.is_empty() {
            let submit = match self.held_until {
                Some(t) => Some(t),
                // Waiting for a free slot: a poll will free one.
                None if wake.is_some() => None,
                None => Some(Instant::now()),
            };
            wake = wake.into_iter().chain(submit).min();
        }
        wake
    }

    fn emit(&mut self, event: BatchEvent<'_>) {
        if let Some(callback) = self.options.on_event.as_mut() {
            if callback(&event).is_break() {
                self.stopped = true;
            }
        }
    }

    fn record(&mut self, record: Record) -> Result<()> {
        match self.journal.as_mut() {
            Some(j) => j.append(&record),
            None => Ok(()),
        }
    }

    fn finish(&mut self, i: usize, outcome: JobOutcome) {
        if let JobOutcome::Failed(e) = &outcome {
            self.emit(BatchEvent::Failed { job: i, error: e });
        }
        if let JobOutcome::Uncertain(e) = &outcome {
            self.emit(BatchEvent::Uncertain { job: i, error: e });
        }
        self.slots[i] = Slot::Done(outcome);
        // A task ended: a slot is free, so a throttled submit may go now.
        self.held_until = None;
    }

    fn submit_what_fits(&mut self, concurrency: usize) -> Result<()> {
        while self.in_flight() < concurrency && !self.stopped && !self.cancel.is_cancelled() {
            if self.held_until.is_some_and(|t| Instant::now() < t) {
                return Ok(());
            }
            self.held_until = None;
            let Some(i) = self.queue.pop_front() else {
                return Ok(());
            };
            self.submit(i)?;
        }
        Ok(())
    }

    fn submit(&mut self, i: usize) -> Result<()> {
        let bj = &self.jobs[i];
        // The tag lets a later run find this task in the task list if the process dies before
        // the answer; it rides in `payload`, which the official API echoes back.
        let tag = journal::submit_tag(&self.fingerprint, i as u64, self.attempts[i]);
        self.attempts[i] = self.attempts[i].saturating_add(1);
        let mut job = bj.job.reborrow();
        if self.client.lists_tasks() && job.payload.is_none() {
            job.payload = Some(tag.clone());
        }
        let submission = match self.client.prepare(&job) {
            Ok(s) => s,
            // The image changed since the batch was checked: this job fails, the others go on.
            Err(e) => {
                self.finish(i, JobOutcome::Failed(e));
                return Ok(());
            }
        };
        let at = SystemTime::now();
        self.record(Record::intent(i as u64, tag.clone()))?;
        match self
            .client
            .send_submission(&submission, &self.cancel, false)
        {
            Ok(task_id) => {
                self.record(Record::Submitted {
                    job: i as u64,
                    task_id: task_id.clone(),
                })?;
                self.emit(BatchEvent::Submitted {
                    job: i,
                    task_id: &task_id,
                });
                self.start_polling(i, task_id);
            }
            Err(e) if e.http_status() == Some(429) => {
                // Refused, so certainly not created: the job waits for its turn again.
                let retry_after = e.retry_after().unwrap_or(DEFAULT_THROTTLE);
                self.record(Record::NotCreated {
                    job: i as u64,
                    reason: e.to_string(),
                })?;
                self.queue.push_front(i);
                self.held_until = Instant::now().checked_add(retry_after);
                self.emit(BatchEvent::Throttled {
                    job: i,
                    retry_after,
                });
            }
            // Stopped while holding back between attempts: nothing was created.
            Err(e) if e.kind() == ErrorKind::Cancelled => {
                self.record(Record::NotCreated {
                    job: i as u64,
                    reason: e.to_string(),
                })?;
                self.queue.push_front(i);
            }
            Err(e) if e.kind() == ErrorKind::SubmitUncertain => {
                self.record(Record::Uncertain {
                    job: i as u64,
                    reason: e.to_string(),
                })?;
                if self.client.lists_tasks() && job.payload.as_deref() == Some(&tag) {
                    self.slots[i] = Slot::Searching {
                        tag,
                        since: at,
                        looks: 0,
                        next: Instant::now(),
                    };
                } else if self.options.resubmit_uncertain {
                    self.queue.push_back(i);
                } else {
                    self.finish(i, JobOutcome::Uncertain(e));
                }
            }
            Err(e) => {
                self.record(Record::NotCreated {
                    job: i as u64,
                    reason: e.to_string(),
                })?;
                self.finish(i, JobOutcome::Failed(e));
            }
        }
        Ok(())
    }

    fn start_polling(&mut self, i: usize, task_id: String) {
        let first = self.client.config().poll.delay(0);
        self.slots[i] = Slot::Running(Running {
            task_id,
            polls: 0,
            next_poll: Instant::now() + first,
            last: None,
        });
    }

    /// Looks for tasks whose submit was interrupted, by their tag.
    fn search_due(&mut self) -> Result<()> {
        let now = Instant::now();
        for i in 0..self.slots.len() {
            let Slot::Searching {
                tag,
                since,
                looks,
                next,
            } = &self.slots[i]
            else {
                continue;
            };
            if *next > now {
                continue;
            }
            let (tag, since, looks) = (tag.clone(), *since, *looks);
            let from = since.checked_sub(CLOCK_SLACK).unwrap_or(since);
            match self.client.find_task_by_payload(&tag, from) {
                Ok(Some(task_id)) => {
                    self.record(Record::Submitted {
                        job: i as u64,
                        task_id: task_id.clone(),
                    })?;
                    self.emit(BatchEvent::Adopted {
                        job: i,
                        task_id: &task_id,
                    });
                    self.start_polling(i, task_id);
                }
                Ok(None) if looks + 1 < ADOPTION_LOOKS => {
                    self.slots[i] = Slot::Searching {
                        tag,
                        since,
                        looks: looks + 1,
                        next: now + ADOPTION_PAUSE,
                    };
                }
                // Listed twice, a few seconds apart, over the submit's time: no task exists.
                Ok(None) => {
                    self.record(Record::NotCreated {
                        job: i as u64,
                        reason: "the task list shows no task with this job's tag".into(),
                    })?;
                    self.slots[i] = Slot::Pending;
                    self.queue.push_front(i);
                }
                Err(e) if e.kind() == ErrorKind::Cancelled => return Ok(()),
                Err(e) => self.finish(
                    i,
                    JobOutcome::Uncertain(Error::SubmitUncertain {
                        source: TransportError::lost_answer(format!(
                            "could not look for the task in the task list: {e}"
                        )),
                    }),
                ),
            }
        }
        Ok(())
    }

    fn poll_due(&mut self) -> Result<()> {
        let now = Instant::now();
        let due: Vec<usize> = (0..self.slots.len())
            .filter(|&i| matches!(&self.slots[i], Slot::Running(r) if r.next_poll <= now))
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let mut answered: Vec<(usize, Result<TaskStatus>)> = Vec::new();
        let mut listed = vec![false; self.slots.len()];
        if self.client.lists_tasks() {
            // One list request answers up to 100 tasks: poll every running task with the due
            // ones, so 1,000 tasks cost about 10 requests per interval.
            let running: Vec<usize> = (0..self.slots.len())
                .filter(|&i| matches!(self.slots[i], Slot::Running(_)))
                .collect();
            for chunk in running.chunks(TASKS_PER_LIST) {
                let by_id: HashMap<&str, usize> =
                    chunk.iter().map(|&i| (self.task_id(i), i)).collect();
                let ids: Vec<&str> = by_id.keys().copied().collect();
                let Ok(statuses) = self.client.statuses(&ids) else {
                    continue;
                };
                for status in statuses {
                    match by_id.get(status.task_id.as_str()) {
                        Some(&i) if !listed[i] => {
                            listed[i] = true;
                            answered.push((i, Ok(status)));
                        }
                        _ => {}
                    }
                }
            }
        }
        // Whatever the list did not answer is polled one by one.
        for i in due.into_iter().filter(|&i| !listed[i]) {
            if self.cancel.is_cancelled() {
                return Ok(());
            }
            let task_id = self.task_id(i).to_owned();
            answered.push((i, self.client.fetch_status(&task_id, None, &self.cancel)));
        }
        for (i, result) in answered {
            self.update(i, result)?;
        }
        Ok(())
    }

    fn task_id(&self, i: usize) -> &str {
        match &self.slots[i] {
            Slot::Running(r) => &r.task_id,
            _ => "",
        }
    }

    fn update(&mut self, i: usize, result: Result<TaskStatus>) -> Result<()> {
        let Slot::Running(r) = &mut self.slots[i] else {
            return Ok(());
        };
        r.polls = r.polls.saturating_add(1);
        r.next_poll = Instant::now() + self.client.config().poll.delay(r.polls);
        let task_id = r.task_id.clone();
        let status = match result {
            Ok(status) => status,
            Err(e) if e.kind() == ErrorKind::Cancelled => return Ok(()),
            // A failed poll is not a failed task: the next poll tries again, unless the
            // provider says the task does not exist or the key is refused.
            Err(e) if matches!(e.http_status(), Some(401 | 403 | 404)) => {
                self.finish(i, JobOutcome::Failed(e.with_task_id(&task_id)));
                return Ok(());
            }
            Err(_) => return Ok(()),
        };
        let seen = (
            status.state,
            status.progress.map(|p| (p * 100.0) as u32),
            status.raw_state.clone(),
        );
        if r.last.as_ref() != Some(&seen) {
            r.last = Some(seen);
            self.emit(BatchEvent::Progress {
                job: i,
                status: &status,
            });
        }
        match status.state {
            State::Succeeded => self.download(i, &status),
            s if s.is_terminal() => {
                self.record(Record::Terminal {
                    job: i as u64,
                    task_id: status.task_id.clone(),
                    state: status.state.as_str().to_owned(),
                    code: status.error_code.clone(),
                    message: status.error_message.clone(),
                })?;
                self.finish(
                    i,
                    JobOutcome::Failed(Error::TaskFailed {
                        status: Box::new(status),
                    }),
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn download(&mut self, i: usize, status: &TaskStatus) -> Result<()> {
        let output = &self.jobs[i].output;
        let options = WaitOptions::new().cancel(self.cancel.clone());
        match self.client.download(status, output, &options) {
            Ok(bytes) => {
                self.record(Record::Written {
                    job: i as u64,
                    task_id: status.task_id.clone(),
                    path: output.clone(),
                    bytes,
                })?;
                self.emit(BatchEvent::Written {
                    job: i,
                    task_id: &status.task_id,
                    path: output,
                    bytes,
                });
                self.finish(
                    i,
                    JobOutcome::Written {
                        task_id: status.task_id.clone(),
                        path: output.clone(),
                        bytes,
                    },
                );
            }
            // Stopped mid-download: the task stays running for the next run.
            Err(e) if e.kind() == ErrorKind::Cancelled => {}
            Err(e) => self.finish(i, JobOutcome::Failed(e.with_task_id(&status.task_id))),
        }
        Ok(())
    }
}
