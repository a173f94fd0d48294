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
//! One thread submits, polls and keeps the journal; videos download beside it on a bounded
//! pool of threads ([`BatchOptions::downloads`], default 4), because a download is long blocking
//! I/O that would otherwise hold up every poll behind it. Polls stay on the one thread: they
//! are short, and a thread per task would cost every user of a small device.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::OsString;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::client::{Client, Progress, WaitOptions};
use crate::download::{duplicate_output, parent_dir, stale_partials_in, DistinctOutputs, Stale};
use crate::error::{Error, Result};
use crate::image::ImageSource;
use crate::job::Job;
use crate::jobs::identity;
use crate::jobs::submit::SubmitOutcome;
use crate::jobs::{Action, Event, Input, JobKey, Rules, Scheduler, DEFAULT_SEARCH_WINDOW};
use crate::journal::{self, Header, Journal, Record};
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

/// The jobs of a batch, asked for one at a time as the batch needs them: all of them once to
/// check them before anything is sent, then each when it is submitted and when its video is
/// written. A batch run from a source ([`Client::run_batch_from`]) holds about 300 bytes per
/// job however large the jobs are, so a file of 100,000 jobs can be read line by line again
/// instead of being held whole. A slice of [`BatchJob`]s is one.
pub trait JobSource {
    /// How many jobs there are.
    fn len(&self) -> usize;
    /// True when there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Job `index` (below [`len`](Self::len)), the same each time it is asked for. A job that
    /// differs from the one checked (another image, prompt or output) is not submitted: it
    /// fails, naming the change. An error fails the batch while jobs are checked, and that one
    /// job afterwards.
    fn job(&self, index: usize) -> Result<Cow<'_, BatchJob<'_>>>;
}

impl JobSource for [BatchJob<'_>] {
    fn len(&self) -> usize {
        <[BatchJob<'_>]>::len(self)
    }
    fn job(&self, index: usize) -> Result<Cow<'_, BatchJob<'_>>> {
        self.get(index)
            .map(Cow::Borrowed)
            .ok_or_else(|| Error::invalid("job", index, format!("an index below {}", self.len())))
    }
}

impl JobSource for Vec<BatchJob<'_>> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn job(&self, index: usize) -> Result<Cow<'_, BatchJob<'_>>> {
        self.as_slice().job(index)
    }
}

/// A source by reference, sized (so that it can be a `&dyn JobSource` whatever it is).
struct ByRef<'s, S: ?Sized>(&'s S);

impl<S: JobSource + ?Sized> JobSource for ByRef<'_, S> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn job(&self, index: usize) -> Result<Cow<'_, BatchJob<'_>>> {
        self.0.job(index)
    }
}

/// How many jobs of a batch run from a source ended each way; each job's own outcome was an
/// event ([`BatchEvent::Written`], [`Failed`](BatchEvent::Failed),
/// [`Uncertain`](BatchEvent::Uncertain) or [`Unfinished`](BatchEvent::Unfinished)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchSummary {
    /// Videos written, now or by an earlier run with the same journal.
    pub written: usize,
    /// Jobs that failed.
    pub failed: usize,
    /// Jobs whose submit may have created a task that could not be found.
    pub uncertain: usize,
    /// Jobs the run stopped before they ended (rerun with the journal to resume them).
    pub unfinished: usize,
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
    /// Only from [`Client::run_batch_from`], first: the job ended in an earlier run, as its
    /// journal shows (nothing is done for it in this one).
    Earlier {
        /// The job's index in the batch.
        job: usize,
        /// How it ended.
        outcome: &'e JobOutcome,
    },
    /// Only from [`Client::run_batch_from`], once the run stops: the job did not end in this
    /// run. Rerun with the same journal to resume it.
    Unfinished {
        /// The job's index in the batch.
        job: usize,
        /// The task, if one was created.
        task_id: Option<&'e str>,
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
    /// How long the official API's task list is searched for the task of a submit whose
    /// answer was lost (the list may lag behind a submit) before concluding that none was
    /// created and submitting again. Looks grow apart: 2 s, 4 s, 8 s, 16 s, then every 30 s.
    /// Default `None`: 120 s.
    pub search_window: Option<Duration>,
    /// Videos downloading at once, on threads beside the loop (which goes on submitting and
    /// polling meanwhile). Default `None`: 4.
    pub downloads: Option<usize>,
    /// Submits sent at once, on threads beside the loop (at most the concurrency). The intents
    /// of submits sent together share one write to the journal's disk; a crash can leave this
    /// many jobs whose submit must be looked up in the task list (on the gateways, which cannot
    /// list tasks, they end uncertain). Default `None`: 4.
    pub submits: Option<usize>,
}

impl std::fmt::Debug for BatchOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchOptions")
            .field("concurrency", &self.concurrency)
            .field("timeout", &self.timeout)
            .field("journal", &self.journal)
            .field("resubmit_uncertain", &self.resubmit_uncertain)
            .field("search_window", &self.search_window)
            .field("downloads", &self.downloads)
            .field("submits", &self.submits)
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
    /// Sets how long an uncertain submit is searched for in the task list (default 120 s).
    pub fn search_window(mut self, window: Duration) -> Self {
        self.search_window = Some(window);
        self
    }
    /// Sets how many videos download at once (1 to 64, a thread each; default 4).
    pub fn downloads(mut self, n: usize) -> Self {
        self.downloads = Some(n);
        self
    }
    /// Sets how many submits are sent at once (1 to 64, a thread each; default 4).
    pub fn submits(mut self, n: usize) -> Self {
        self.submits = Some(n);
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

/// Tasks in flight at once unless set: the official API's documented default per organisation;
/// the gateways document none and resell the same service.
const DEFAULT_CONCURRENCY: usize = 5;

/// Videos downloading at once unless set: enough to fill a link whose CDN paces each
/// connection, few enough not to look like abuse to it.
const DEFAULT_DOWNLOADS: usize = 4;
/// Submits sent at once unless set: their intents share one commit of the journal, and a
/// crash leaves at most this many jobs to look up in the task list (or uncertain on a gateway).
const DEFAULT_SUBMITS: usize = 4;
/// Each download or submit is a thread: more than this is a mistake, not a faster batch.
const MAX_THREADS: usize = 64;

/// The longest the loop waits for more answers to share a commit (see `take_answers`).
const MAX_LINGER: Duration = Duration::from_millis(10);

/// How often the loop looks at the cancel token while it waits for a download to finish (the
/// token cannot wake a channel wait).
const CANCEL_CHECK: Duration = Duration::from_millis(50);

fn label(bj: &BatchJob<'_>, i: usize) -> String {
    bj.label.clone().unwrap_or_else(|| format!("job {}", i + 1))
}

/// How log records name a job: "job N" (as the state machine's own records do), and its label
/// when it has one.
fn log_name(bj: &BatchJob<'_>, i: usize) -> String {
    match &bj.label {
        Some(label) => format!("job {} ({label})", i + 1),
        None => format!("job {}", i + 1),
    }
}

impl Client {
    /// Runs many jobs from this thread; see [`crate::batch`]. Every job is checked before the
    /// first submit: an invalid job fails the call naming it, and nothing is sent. Afterwards one
    /// job's failure does not stop the others. Returns one outcome per job, in order.
    ///
    /// The money rules (what may be submitted, what counts as created, when to search the task
    /// list, when a job is done) are the job state machine's (`src/jobs/`); this call does its
    /// I/O and keeps its journal.
    pub fn run_batch<'a>(
        &self,
        jobs: &[BatchJob<'a>],
        options: &mut BatchOptions<'a>,
    ) -> Result<Vec<JobOutcome>> {
        let (scheduler, _) = self.run_jobs(&ByRef(jobs), options, false)?;
        Ok(scheduler.into_outcomes())
    }

    /// Runs many jobs read from `jobs` as they are needed, as [`run_batch`](Self::run_batch)
    /// does, holding about 300 bytes per job instead of the jobs and their outcomes: each job's
    /// outcome is an event, exactly one per job ([`BatchEvent::Earlier`] first for the jobs a
    /// journal shows ended, then [`Written`](BatchEvent::Written),
    /// [`Failed`](BatchEvent::Failed) or [`Uncertain`](BatchEvent::Uncertain) as jobs end, and
    /// [`Unfinished`](BatchEvent::Unfinished) for those the run stopped before), and the call
    /// returns their counts. Every job is checked
    /// before the first submit, as by `run_batch`.
    ///
    /// ```
    /// # #[cfg(feature = "emulator")]
    /// # fn main() -> vidu::Result<()> {
    /// # use std::time::Duration;
    /// # let emulator = vidu::emulator::Emulator::start()?;
    /// # let config = vidu::Config::new(vidu::Provider::Vidu, "key")
    /// #     .base_url(emulator.base_url())
    /// #     .poll(vidu::PollSchedule::new().first(Duration::from_millis(10)));
    /// use std::borrow::Cow;
    /// use vidu::{BatchEvent, BatchJob, BatchOptions, Client, Job, JobSource};
    ///
    /// /// Jobs made from their number when asked for, never held together.
    /// struct Catalogue;
    /// impl JobSource for Catalogue {
    ///     fn len(&self) -> usize {
    ///         20
    ///     }
    ///     fn job(&self, i: usize) -> vidu::Result<Cow<'_, BatchJob<'_>>> {
    ///         let job = Job::new(format!("https://example.com/items/{i}.png"));
    ///         let name = format!("vidu-doc-{}-{i}.mp4", std::process::id());
    ///         Ok(Cow::Owned(BatchJob::new(job, std::env::temp_dir().join(name))))
    ///     }
    /// }
    ///
    /// let client = Client::new(config)?;
    /// let mut options = BatchOptions::default().on_event(|event| {
    ///     if let BatchEvent::Written { path, .. } = event {
    /// #       std::fs::remove_file(path).unwrap();
    ///     }
    ///     std::ops::ControlFlow::Continue(())
    /// });
    /// let summary = client.run_batch_from(&Catalogue, &mut options)?;
    /// assert_eq!(summary.written, 20);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "emulator"))]
    /// # fn main() {}
    /// ```
    pub fn run_batch_from<S: JobSource + ?Sized>(
        &self,
        jobs: &S,
        options: &mut BatchOptions<'_>,
    ) -> Result<BatchSummary> {
        self.run_jobs(&ByRef(jobs), options, true)
            .map(|(_, summary)| summary)
    }

    /// The batch: checks every job, replays the journal, and runs the state machine until every
    /// job ends or the run stops. With `every_job`, each job's outcome goes out as one event
    /// and is then forgotten (counted in the summary); without, the outcomes stay in the
    /// returned state machine.
    fn run_jobs(
        &self,
        jobs: &dyn JobSource,
        options: &mut BatchOptions<'_>,
        every_job: bool,
    ) -> Result<(Scheduler, BatchSummary)> {
        let concurrency = options.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            return Err(Error::invalid("concurrency", 0, "at least 1"));
        }
        let downloads = threads("downloads", options.downloads, DEFAULT_DOWNLOADS)?;
        let submits = threads("submits", options.submits, DEFAULT_SUBMITS)?;
        let keys = check_jobs(self, jobs)?;
        let rules = Rules {
            lists_tasks: self.lists_tasks(),
            list_polls: self.lists_tasks() && jobs.len() > 1,
            resubmit_uncertain: options.resubmit_uncertain,
            concurrency,
            submits: submits.min(concurrency),
            search_window: options.search_window.unwrap_or(DEFAULT_SEARCH_WINDOW),
            poll: self.config().poll,
            retry: self.config().retry,
        };
        let mut scheduler = Scheduler::new(rules, &keys, journal::unix_ms_now(), seed());
        let journal = match &options.journal {
            Some(path) => Some(self.open_journal(path, jobs, &keys, &mut scheduler)?),
            None => None,
        };
        drop(keys);
        let start = Instant::now();
        // Jobs that ended in an earlier run are reported before anything new happens.
        let mut summary = BatchSummary::default();
        if every_job {
            report_ended(
                &mut scheduler,
                &mut summary,
                options.on_event.as_mut(),
                true,
            );
        }
        scheduler.start(Duration::ZERO);
        if let Some(journal) = &journal {
            let (done, running, searching, to_submit) = scheduler.counts();
            log::info!(
                "journal {} replayed: {done} done, {running} running, {searching} searching, \
                 {to_submit} to submit",
                journal.path().display()
            );
        }
        let stale = stale_partials_of(jobs);
        let (download_tx, download_rx) = mpsc::channel::<(usize, TaskStatus, PathBuf)>();
        let (submit_tx, submit_rx) = mpsc::channel::<(usize, Job<'_>)>();
        let (download_rx, submit_rx) = (Mutex::new(download_rx), Mutex::new(submit_rx));
        let (answer_tx, answer_rx) = mpsc::channel();
        let stop = CancelToken::new();
        let cancel = options.cancel.clone().unwrap_or_default();
        let deadline = options.timeout.and_then(|t| start.checked_add(t));
        // Scoped threads: a submit's image bytes are borrowed from the jobs, not copied.
        std::thread::scope(|scope| {
            for _ in 0..downloads.min(jobs.len()) {
                let (work, answers, stop, stale) = (&download_rx, answer_tx.clone(), &stop, &stale);
                scope.spawn(move || download_worker(self, stale, work, &answers, stop));
            }
            for _ in 0..submits.min(concurrency).min(jobs.len()) {
                let (work, answers, stop, cancel) = (&submit_rx, answer_tx.clone(), &stop, &cancel);
                scope.spawn(move || submit_worker(self, work, &answers, stop, cancel, deadline));
            }
            drop(answer_tx);
            let mut driver = Driver {
                client: self,
                jobs,
                journal,
                pending: Vec::new(),
                cancel: cancel.clone(),
                start,
                deadline,
                on_event: options.on_event.as_mut(),
                single: None,
                stopped: false,
                every_job: every_job.then_some(&mut summary),
                last_commit: Duration::ZERO,
                answered: false,
                pool: Some(Pool {
                    downloads: Some(download_tx),
                    submits: Some(submit_tx),
                    answers: answer_rx,
                    running: 0,
                    downloading: 0,
                    download_slots: downloads,
                    backlog: VecDeque::new(),
                    stop: stop.clone(),
                }),
            };
            // Returns only once every submit and download has answered (the pool is drained
            // on the way out).
            driver.run(&mut scheduler)
        })?;
        if every_job {
            report_ended(
                &mut scheduler,
                &mut summary,
                options.on_event.as_mut(),
                false,
            );
            report_unfinished(&scheduler, &mut summary, options.on_event.as_mut());
        }
        Ok((scheduler, summary))
    }

    /// Opens the journal and replays it into `scheduler`: records are matched to jobs by their
    /// identity (format 2), or by index when a format-1 journal was written for exactly these
    /// jobs. Refused, listing the paid tasks it holds, when it holds tasks of jobs that are not
    /// in this run and have not ended (they would be lost from view), or when nothing matches.
    fn open_journal(
        &self,
        path: &Path,
        jobs: &dyn JobSource,
        keys: &[JobKey],
        scheduler: &mut Scheduler,
    ) -> Result<Journal> {
        let by_key: HashMap<u64, usize> =
            keys.iter().enumerate().map(|(i, k)| (k.key, i)).collect();
        let list_fingerprint = key_list_fingerprint(keys);
        let header = Header::new(list_fingerprint, jobs.len() as u64, self.provider().name());
        // Only a journal of format 1 needs it, and it reads every job again.
        let mut legacy: Option<String> = None;
        let mut orphans: BTreeMap<String, Orphan> = BTreeMap::new();
        let mut matched = 0usize;
        let (journal, opened) = Journal::open_with(path, &header, |found, _line, record| {
            let by_index = found.version < 2
                && found.jobs == jobs.len() as u64
                && found.fingerprint == *legacy.get_or_insert_with(|| legacy_fingerprint(jobs));
            let target = match record.key() {
                Some(key) => u64::from_str_radix(key, 16)
                    .ok()
                    .filter(|_| key.len() == 16)
                    .and_then(|k| by_key.get(&k).copied()),
                None if by_index => record.job().and_then(|j| usize::try_from(j).ok()),
                None => None,
            };
            match target {
                Some(i) if i < jobs.len() => {
                    matched += 1;
                    scheduler.replay(i, &record);
                }
                _ => {
                    let name = record
                        .key()
                        .map_or_else(|| format!("#{}", record.job().unwrap_or(0)), str::to_owned);
                    orphans
                        .entry(name)
                        .or_insert_with(|| Orphan {
                            job: record.job().unwrap_or(0),
                            ..Orphan::default()
                        })
                        .see(&record);
                }
            }
            Ok::<(), io::Error>(())
        })?;
        let refuse = |detail: String| Error::Io {
            action: "reading the journal",
            path: path.to_owned(),
            source: io::Error::new(io::ErrorKind::InvalidData, detail),
            task_id: None,
        };
        if opened.header.version < 2 && !orphans.is_empty() {
            return Err(refuse(format!(
                "this journal, written by an earlier vidu, was made for a different job list \
                 ({} jobs, fingerprint {}) and cannot be matched to these {} jobs. {}",
                opened.header.jobs,
                opened.header.fingerprint,
                jobs.len(),
                held_tasks(&orphans)
            )));
        }
        let open_tasks = orphans.values().any(|o| o.open_task.is_some());
        let any_task = orphans.values().any(|o| !o.tasks.is_empty());
        if open_tasks || (matched == 0 && any_task) {
            return Err(refuse(format!(
                "this journal holds tasks of jobs that are not in this run (changed or removed \
                 since, or another job list). {}",
                held_tasks(&orphans)
            )));
        }
        for (key, orphan) in &orphans {
            if !orphan.tasks.is_empty() {
                log::warn!(
                    "journal: job {} of an earlier run ({key}) is not in this run; its tasks: {}",
                    orphan.job + 1,
                    orphan.tasks.join(", ")
                );
            }
        }
        Ok(journal)
    }

    /// Submit, wait and download in one call, as a batch of one (the same state machine):
    /// see [`Client::generate`].
    pub(crate) fn generate_one(
        &self,
        job: &Job<'_>,
        path: &Path,
        options: &mut WaitOptions<'_>,
    ) -> Result<crate::client::Generated> {
        crate::download::check_output_path(path)?;
        self.check(job)?;
        let jobs = [BatchJob::new(job.reborrow(), path)];
        let jobs = ByRef(&jobs[..]);
        let keys = check_jobs(self, &jobs)?;
        let rules = Rules {
            lists_tasks: self.lists_tasks(),
            list_polls: false,
            resubmit_uncertain: false,
            concurrency: 1,
            submits: 1,
            search_window: options.search_window.unwrap_or(DEFAULT_SEARCH_WINDOW),
            poll: self.config().poll,
            retry: self.config().retry,
        };
        let mut scheduler = Scheduler::new(rules, &keys, journal::unix_ms_now(), seed());
        scheduler.start(Duration::ZERO);
        let start = Instant::now();
        let mut driver = Driver {
            client: self,
            jobs: &jobs,
            journal: None,
            pending: Vec::new(),
            cancel: options.cancel.clone().unwrap_or_default(),
            start,
            deadline: options.timeout.and_then(|t| start.checked_add(t)),
            on_event: None,
            single: Some(Single {
                on_progress: options.on_progress.as_mut(),
                polls: 0,
                last: None,
                stopped_by_callback: false,
                submitted: false,
            }),
            stopped: false,
            every_job: None,
            // A batch of one submits and downloads on the calling thread.
            pool: None,
            last_commit: Duration::ZERO,
            answered: false,
        };
        driver.run(&mut scheduler)?;
        let single = driver.single.take().unwrap_or_default();
        let cancelled = driver.cancel.is_cancelled() || single.stopped_by_callback;
        let poll_error = scheduler.take_poll_error(0);
        let outcome = scheduler.into_outcomes().pop();
        match outcome {
            Some(JobOutcome::Written {
                task_id,
                path,
                bytes,
            }) => Ok(crate::client::Generated {
                status: single
                    .last
                    .unwrap_or_else(|| TaskStatus::new(task_id.clone(), crate::State::Succeeded)),
                task_id,
                path,
                bytes,
            }),
            Some(JobOutcome::Failed(e) | JobOutcome::Uncertain(e)) => Err(e),
            // Out of time while polls were failing: their error says more than a timeout.
            Some(JobOutcome::Unfinished { task_id: Some(id) }) if !cancelled => Err(poll_error
                .unwrap_or(Error::Timeout {
                    task_id: id,
                    last_status: single.last.map(Box::new),
                })),
            Some(JobOutcome::Unfinished { task_id: Some(id) }) => Err(Error::cancelled(&id)),
            // Stopped (or out of time) before any task was created.
            _ => Err(Error::Cancelled { task_id: None }),
        }
    }
}

/// What a journal holds about a job that is not in this run.
#[derive(Default)]
struct Orphan {
    job: u64,
    tasks: Vec<String>,
    /// A task that has not ended (no terminal or written record after it).
    open_task: Option<String>,
}

impl Orphan {
    fn see(&mut self, record: &Record) {
        match record {
            Record::Submitted { task_id, .. } => {
                self.tasks.push(task_id.clone());
                self.open_task = Some(task_id.clone());
            }
            Record::Terminal { .. } | Record::Written { .. } => self.open_task = None,
            _ => {}
        }
    }
}

/// The refusal's list of paid tasks and what the user can do.
fn held_tasks(orphans: &BTreeMap<String, Orphan>) -> String {
    let mut tasks: Vec<String> = Vec::new();
    for orphan in orphans.values() {
        for task in &orphan.tasks {
            let open = orphan.open_task.as_deref() == Some(task.as_str());
            tasks.push(format!(
                "job {}: task {task}{}",
                orphan.job + 1,
                if open { " (not finished)" } else { "" }
            ));
        }
    }
    if tasks.is_empty() {
        return "It holds no task: use another --journal, or remove it (nothing was paid).".into();
    }
    let n = tasks.len();
    let shown = tasks
        .iter()
        .take(20)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    let more = if n > 20 {
        format!("; and {} more", n - 20)
    } else {
        String::new()
    };
    format!(
        "It holds {n} paid task(s): {shown}{more}. Rerun with the job list it was written for to \
         finish them, or resume a task by itself with `img2video --task-id ID --output FILE`; \
         another --journal (or removing this one) submits every job of this run again and pays \
         for each"
    )
}

/// Checks every job before anything is sent (what the provider accepts, an output that can be
/// written, no two jobs writing one file) and returns each job's key, made unique (a repeated
/// job gets its occurrence counted in). One pass over the jobs, holding about 40 bytes a job.
fn check_jobs(client: &Client, jobs: &dyn JobSource) -> Result<Vec<JobKey>> {
    let n = jobs.len();
    let mut keys = Vec::with_capacity(n);
    let mut seen: HashMap<u64, u32> = HashMap::with_capacity(n);
    let mut outputs = DistinctOutputs::new();
    for i in 0..n {
        let bj = jobs
            .job(i)
            .map_err(|e| e.in_job(format!("job {}", i + 1)))?;
        let named = |e: Error| e.in_job(label(&bj, i));
        client.check(&bj.job).map_err(named)?;
        crate::download::check_output_path(&bj.output).map_err(named)?;
        // Two jobs writing one file would pay twice for one video.
        let output_of = |j: usize| jobs.job(j).map(|b| b.output.clone());
        if let Some((first, resolved)) = outputs.add(i, &bj.output, output_of)? {
            let first = jobs.job(first).map(|b| label(&b, first))?;
            return Err(duplicate_output(
                &bj.output,
                &first,
                &label(&bj, i),
                &resolved,
            ));
        }
        let form = identity::canonical(&bj.job, &bj.output);
        keys.push(JobKey {
            key: unique_key(&form, &mut seen),
            caller_payload: bj.job.payload.is_some(),
        });
    }
    Ok(keys)
}

/// The key of a job whose canonical form is `form`. Equal forms write one output and are
/// refused before this; a key another form already has (a 64-bit hash collision) gets the
/// occurrence counted in, so that no two jobs share one and the journal's records go to the
/// job they belong to.
fn unique_key(form: &str, seen: &mut HashMap<u64, u32>) -> u64 {
    let key = identity::key(form);
    let count = seen.entry(key).or_insert(0);
    *count += 1;
    match *count {
        1 => key,
        n => identity::key(&format!("{form}#{}", n - 1)),
    }
}

/// The fingerprint of the job list a journal's header names: over the jobs' keys, sorted.
fn key_list_fingerprint(keys: &[JobKey]) -> String {
    let mut sorted: Vec<u64> = keys.iter().map(|k| k.key).collect();
    // Fixed-width hex sorts as the numbers do.
    sorted.sort_unstable();
    journal::fingerprint(sorted.iter().map(|k| format!("{k:016x}")))
}

/// The fingerprint journals of format 1 were written with: FNV over each job's `Debug` text
/// with its image stood for by its hash. Only to recognise those journals.
fn legacy_fingerprint(jobs: &dyn JobSource) -> String {
    journal::fingerprint((0..jobs.len()).filter_map(|i| jobs.job(i).ok()).map(|bj| {
        let image = match &bj.job.image {
            ImageSource::Url(u) => format!("url {u}"),
            ImageSource::Path(p) => format!("path {}", p.display()),
            ImageSource::Bytes(b) => format!("bytes {}", journal::fingerprint([&b[..]])),
        };
        let mut rest = bj.job.reborrow();
        rest.image = ImageSource::Bytes(Default::default());
        format!("{image}\u{0}{rest:?}\u{0}{}", bj.output.display())
    }))
}

fn seed() -> u64 {
    (crate::retry::random_fraction() * 2f64.powi(63)) as u64
}

/// The partial files earlier runs left for each job's output, by job: each output directory
/// is listed once for the whole batch, not once per video written (download.rs, `Stale`).
fn stale_partials_of(jobs: &dyn JobSource) -> HashMap<usize, Vec<PathBuf>> {
    let mut listings: HashMap<PathBuf, HashMap<OsString, Vec<PathBuf>>> = HashMap::new();
    let mut found = HashMap::new();
    for i in 0..jobs.len() {
        let Ok(job) = jobs.job(i) else {
            continue;
        };
        let Some(name) = job.output.file_name() else {
            continue;
        };
        let dir = parent_dir(&job.output);
        let listing = listings
            .entry(dir)
            .or_insert_with_key(|dir| stale_partials_in(dir));
        if let Some(files) = listing.remove(name) {
            found.insert(i, files);
        }
    }
    found
}

/// The job the source gives for `job` now, if it is still the job that was checked (its key
/// unchanged): a source read again must not make the batch pay for another job.
fn unchanged<'s>(
    bj: Cow<'s, BatchJob<'s>>,
    job: usize,
    key: Option<u64>,
) -> Result<Cow<'s, BatchJob<'s>>> {
    let now = identity::key(&identity::canonical(&bj.job, &bj.output));
    if Some(now) == key {
        return Ok(bj);
    }
    Err(Error::invalid(
        "job",
        label(&bj, job),
        "the same job as when the batch checked it (its source now gives another image, \
         prompt, setting or output); nothing was sent for it",
    ))
}

/// A number of threads a batch may start (`field`: `downloads` or `submits`), or its default.
fn threads(field: &'static str, value: Option<usize>, default: usize) -> Result<usize> {
    let n = value.unwrap_or(default);
    if !(1..=MAX_THREADS).contains(&n) {
        return Err(Error::invalid(
            field,
            n,
            format!("1 to {MAX_THREADS} (one thread each)"),
        ));
    }
    Ok(n)
}

/// Where job `job`'s video goes, read from the jobs again; its task exists, so an error
/// carries the task id (and is not an invalid job: something was sent).
fn output_of(jobs: &dyn JobSource, job: usize, task_id: &str) -> Result<PathBuf> {
    jobs.job(job)
        .map(|bj| bj.output.clone())
        .map_err(|e| match e.with_task_id(task_id) {
            // A kind that holds no task id (the source's own): said as a download error.
            e if e.task_id().is_none() => Error::Download {
                task_id: Some(task_id.to_owned()),
                detail: format!("cannot read the job again to write its video: {e}"),
            },
            e => e,
        })
}

/// The event that tells how job `job` ended, if it did.
fn end_event(scheduler: &Scheduler, job: usize) -> Option<BatchEvent<'_>> {
    ending(job, scheduler.outcome(job)?)
}

/// The event that tells that job `job` ended with `outcome` (none for an unfinished one).
pub(crate) fn ending(job: usize, outcome: &JobOutcome) -> Option<BatchEvent<'_>> {
    Some(match outcome {
        JobOutcome::Written {
            task_id,
            path,
            bytes,
        } => BatchEvent::Written {
            job,
            task_id,
            path,
            bytes: *bytes,
        },
        JobOutcome::Failed(error) => BatchEvent::Failed { job, error },
        JobOutcome::Uncertain(error) => BatchEvent::Uncertain { job, error },
        JobOutcome::Unfinished { .. } => return None,
    })
}

/// Counts one ended job's outcome.
fn count(summary: &mut BatchSummary, outcome: Option<&JobOutcome>) {
    match outcome {
        Some(JobOutcome::Written { .. }) => summary.written += 1,
        Some(JobOutcome::Failed(_)) => summary.failed += 1,
        Some(JobOutcome::Uncertain(_)) => summary.uncertain += 1,
        _ => {}
    }
}

/// Reports every ended job not reported yet (its outcome still held: ended in an earlier run,
/// or in this one after it stopped), counts it, and forgets its outcome. The caller may no
/// longer stop anything.
fn report_ended(
    scheduler: &mut Scheduler,
    summary: &mut BatchSummary,
    mut on_event: Option<&mut BatchCallback<'_>>,
    earlier: bool,
) {
    for job in 0..scheduler.len() {
        let Some(outcome) = scheduler.outcome(job) else {
            continue;
        };
        count(summary, Some(outcome));
        let event = match earlier {
            true => Some(BatchEvent::Earlier { job, outcome }),
            false => end_event(scheduler, job),
        };
        if let (Some(callback), Some(event)) = (on_event.as_deref_mut(), event) {
            let _ = callback(&event);
        }
        scheduler.release(job);
    }
}

/// Reports every job that has not ended, with its task when it has one.
fn report_unfinished(
    scheduler: &Scheduler,
    summary: &mut BatchSummary,
    mut on_event: Option<&mut BatchCallback<'_>>,
) {
    for job in (0..scheduler.len()).filter(|&j| !scheduler.is_ended(j)) {
        summary.unfinished += 1;
        if let Some(callback) = on_event.as_deref_mut() {
            let _ = callback(&BatchEvent::Unfinished {
                job,
                task_id: scheduler.task_id(job),
            });
        }
    }
}

/// One download thread: takes the next video, downloads it (atomically, resumably, capped and
/// watched for stalls, as [`Client::download`] does), and hands the answer back to the loop,
/// which feeds it to the state machine. Once the run stops, what is still queued is answered
/// cancelled without starting.
fn download_worker(
    client: &Client,
    stale: &HashMap<usize, Vec<PathBuf>>,
    work: &Mutex<mpsc::Receiver<(usize, TaskStatus, PathBuf)>>,
    answers: &mpsc::Sender<Input>,
    stop: &CancelToken,
) {
    loop {
        let next = work.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((job, status, output)) = next else {
            return; // the loop has ended
        };
        let output = &output;
        let result = if stop.is_cancelled() {
            Err(Error::cancelled(&status.task_id))
        } else {
            let options = WaitOptions::new().cancel(stop.clone());
            let stale = Stale::Known(stale.get(&job).map_or(&[], Vec::as_slice));
            client
                .download_cleaning(&status, output, &options, stale)
                .map(|bytes| (bytes, output.clone()))
        };
        if answers.send(Input::Downloaded { job, result }).is_err() {
            return;
        }
    }
}

/// One submit thread: sends the next submit (its intent is already on disk) and hands the
/// outcome back to the loop. A submit taken after the run stopped is not sent: it is answered
/// "not created", so its job is submitted by the next run.
fn submit_worker(
    client: &Client,
    work: &Mutex<mpsc::Receiver<(usize, Job<'_>)>>,
    answers: &mpsc::Sender<Input>,
    stop: &CancelToken,
    cancel: &CancelToken,
    deadline: Option<Instant>,
) {
    loop {
        let next = work.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((job, payloaded)) = next else {
            return; // the loop has ended
        };
        let outcome = if stop.is_cancelled() {
            not_sent(Error::Cancelled { task_id: None })
        } else {
            submit(client, &payloaded, cancel, deadline, false)
        };
        if answers.send(Input::Submitted { job, outcome }).is_err() {
            return;
        }
    }
}

/// Prepares and sends one submit. In a batch of one a 429 is waited out within the submit
/// (retry policy) and then fails the call; in a batch it holds back the submits that follow.
fn submit(
    client: &Client,
    job: &Job<'_>,
    cancel: &CancelToken,
    deadline: Option<Instant>,
    single: bool,
) -> SubmitOutcome {
    match client.prepare(job) {
        Ok(submission) => match client.send_submission(&submission, cancel, deadline, single) {
            SubmitOutcome::NotCreated { error, .. } if single => not_sent(error),
            outcome => outcome,
        },
        // The image changed since the batch was checked: nothing was sent.
        Err(error) => not_sent(error),
    }
}

fn not_sent(error: Error) -> SubmitOutcome {
    SubmitOutcome::NotCreated {
        error,
        throttled: false,
    }
}

/// The loop's side of the submit and download threads.
struct Pool<'a> {
    /// Videos to download, and where; `None` once the run stops (the threads then end).
    downloads: Option<mpsc::Sender<(usize, TaskStatus, PathBuf)>>,
    /// Submits to send; `None` once the run stops.
    submits: Option<mpsc::Sender<(usize, Job<'a>)>>,
    /// Their answers.
    answers: mpsc::Receiver<Input>,
    /// Handed out and not answered yet.
    running: usize,
    /// Downloads handed out and not answered yet: at most `download_slots`.
    downloading: usize,
    download_slots: usize,
    /// Videos ready and waiting for a download thread, held in a few bytes each (100,000 tasks
    /// may succeed at once while 4 videos download).
    backlog: VecDeque<Waiting>,
    /// Stops the downloads under way (their partial files stay for the next run) and the
    /// submits not sent yet.
    stop: CancelToken,
}

/// A video waiting for a download thread: what the download needs of its task's status.
struct Waiting {
    job: usize,
    task_id: Box<str>,
    url: Option<Box<str>>,
}

impl Pool<'_> {
    /// Counts an answer taken from the threads.
    fn answered(&mut self, input: &Input) {
        self.running -= 1;
        if matches!(input, Input::Downloaded { .. }) {
            self.downloading -= 1;
        }
    }
}

impl Drop for Pool<'_> {
    /// Also when the loop unwinds (a panicking callback): the downloads under way stop before
    /// the scope waits for their threads.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// What a batch of one (`generate`) keeps besides the machine's state.
#[derive(Default)]
struct Single<'p, 'a> {
    on_progress: Option<&'p mut crate::client::ProgressCallback<'a>>,
    polls: u32,
    last: Option<TaskStatus>,
    stopped_by_callback: bool,
    submitted: bool,
}

/// The I/O around the state machine: performs its actions, feeds back the answers, keeps the
/// journal (records of one pass written with one fsync, before the next I/O), and stops on the
/// cancel token, the deadline or the callback.
struct Driver<'c, 'j, 'a, 'o, 'p, 'q> {
    client: &'c Client,
    jobs: &'j dyn JobSource,
    journal: Option<Journal>,
    pending: Vec<Record>,
    cancel: CancelToken,
    start: Instant,
    deadline: Option<Instant>,
    on_event: Option<&'o mut BatchCallback<'a>>,
    single: Option<Single<'p, 'q>>,
    stopped: bool,
    /// Each job's outcome goes out as one event, is counted here, and is then forgotten.
    every_job: Option<&'o mut BatchSummary>,
    /// The submit and download threads; `None`: both run on this thread.
    pool: Option<Pool<'j>>,
    /// How long the journal's last commit took: how long answers are waited for to share one.
    last_commit: Duration,
    /// An answer was taken while idle, before the pass that handles it.
    answered: bool,
}

impl Driver<'_, '_, '_, '_, '_, '_> {
    /// How log records name job `job` (read from the jobs again: only when a record is made).
    fn name(&self, job: usize) -> String {
        match self.jobs.job(job) {
            Ok(bj) => log_name(&bj, job),
            Err(_) => format!("job {}", job + 1),
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn should_stop(&self) -> bool {
        // `generate`'s token stops the wait, the download and a submit's backoff, not the
        // first submit itself (as documented on `WaitOptions::cancel`).
        let cancelled =
            self.cancel.is_cancelled() && self.single.as_ref().is_none_or(|s| s.submitted);
        self.stopped || cancelled || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn run(&mut self, scheduler: &mut Scheduler) -> Result<()> {
        let result = self.pass(scheduler);
        // Stopping: no submit or download starts, the downloads under way are cancelled (their
        // partial files stay), and every answer is taken, so a task that was created or a
        // video that was finished is still journaled.
        if let Some(pool) = self.pool.as_mut() {
            pool.stop.cancel();
            pool.downloads = None;
            pool.submits = None;
            // Videos still waiting stay for the next run, their tasks known.
            for waiting in pool.backlog.drain(..) {
                let result = Err(Error::cancelled(&waiting.task_id));
                let input = Input::Downloaded {
                    job: waiting.job,
                    result,
                };
                scheduler.handle(self.start.elapsed(), input);
            }
            while pool.running > 0 {
                let Ok(input) = pool.answers.recv() else {
                    break;
                };
                pool.answered(&input);
                scheduler.handle(self.start.elapsed(), input);
            }
        }
        // What is known is still written; nothing new is started.
        self.pending.extend(scheduler.take_records());
        let flushed = self.flush();
        result.and(flushed)
    }

    /// Feeds the state machine the answers of the threads that have come, without waiting.
    ///
    /// When answers came and more are on their way, it waits for those a little (as long as the
    /// last commit took, at most [`MAX_LINGER`]) so that their records share the next commit:
    /// on a disk whose sync is slow the answers of a group of submits would otherwise each
    /// pay a commit of their own. On a fast disk the wait is as short as the sync.
    fn take_answers(&mut self, scheduler: &mut Scheduler) {
        let linger = self.last_commit.min(MAX_LINGER);
        let journaled = self.journal.is_some();
        let Some(pool) = self.pool.as_mut() else {
            return;
        };
        let mut taken = std::mem::take(&mut self.answered);
        let until = Instant::now() + linger;
        while pool.running > 0 {
            let next = match pool.answers.try_recv() {
                Ok(input) => Ok(input),
                Err(_) if taken && journaled && !linger.is_zero() => pool
                    .answers
                    .recv_timeout(until.saturating_duration_since(Instant::now())),
                Err(_) => return,
            };
            let Ok(input) = next.map_err(drop) else {
                return;
            };
            taken = true;
            pool.answered(&input);
            scheduler.handle(self.start.elapsed(), input);
        }
    }

    /// Hands waiting videos to the download threads while one is free.
    fn dispatch_downloads(&mut self, scheduler: &mut Scheduler) {
        let jobs = self.jobs;
        let now = self.start.elapsed();
        let Some(pool) = self.pool.as_mut() else {
            return;
        };
        while pool.downloading < pool.download_slots {
            let (Some(sender), Some(waiting)) = (&pool.downloads, pool.backlog.pop_front()) else {
                return;
            };
            let Waiting { job, task_id, url } = waiting;
            match output_of(jobs, job, &task_id) {
                Ok(output) => {
                    let mut status = TaskStatus::new(String::from(task_id), State::Succeeded);
                    status.video_urls.extend(url.map(String::from));
                    if sender.send((job, status, output)).is_ok() {
                        pool.running += 1;
                        pool.downloading += 1;
                    }
                }
                Err(error) => {
                    let result = Err(error);
                    scheduler.handle(now, Input::Downloaded { job, result });
                }
            }
        }
    }

    /// Sleeps until `wake` (or forever when `None`), the cancel token, or an answer from a
    /// thread, which is fed to the state machine. True when the run must stop.
    fn idle(&mut self, scheduler: &mut Scheduler, wake: Option<Instant>) -> bool {
        let pause = wake.map(|w| {
            let w = self.deadline.map_or(w, |d| w.min(d));
            w.saturating_duration_since(Instant::now())
        });
        match self.pool.as_mut().filter(|p| p.running > 0) {
            Some(pool) => {
                // The deadline is checked by the caller at least every slice.
                let slice = pause.map_or(CANCEL_CHECK, |p| p.min(CANCEL_CHECK));
                if let Ok(input) = pool.answers.recv_timeout(slice) {
                    pool.answered(&input);
                    scheduler.handle(self.start.elapsed(), input);
                    self.answered = true;
                }
                self.cancel.is_cancelled()
            }
            None => match pause {
                // Nothing will be due and nothing is under way: the run is over.
                None => true,
                Some(p) => !p.is_zero() && self.cancel.sleep(p),
            },
        }
    }

    /// Passes until the run ends or stops. A pass takes every answer that has come, then
    /// every action due; the records among them are written with one commit (group commit)
    /// before any of the pass's I/O, so each is durable before the action it announces, and
    /// the answers that came during one commit share the next.
    fn pass(&mut self, scheduler: &mut Scheduler) -> Result<()> {
        let mut due = Vec::new();
        loop {
            if self.should_stop() {
                return Ok(());
            }
            self.take_answers(scheduler);
            self.dispatch_downloads(scheduler);
            let now = self.now();
            while let Some(action) = scheduler.next_action(now) {
                match action {
                    Action::Record(record) => self.pending.push(record),
                    action => due.push(action),
                }
            }
            self.flush()?;
            if due.is_empty() {
                if scheduler.is_finished() {
                    return Ok(());
                }
                let wake = scheduler
                    .next_wake()
                    .map(|w| self.start.checked_add(w).unwrap_or_else(Instant::now));
                if self.idle(scheduler, wake) {
                    return Ok(());
                }
                continue;
            }
            for action in due.drain(..) {
                let input = if self.should_stop() {
                    // An intent on disk whose submit will not be sent: said so, so that the
                    // next run submits the job instead of looking for its task.
                    match action {
                        Action::Submit { job, .. } => Some(Input::Submitted {
                            job,
                            outcome: not_sent(Error::Cancelled { task_id: None }),
                        }),
                        _ => None,
                    }
                } else {
                    let ended = match &action {
                        Action::Emit(Event::Ended { job }) => Some(*job),
                        _ => None,
                    };
                    let input = self.perform(scheduler, action);
                    if let (Some(job), Some(summary)) = (ended, self.every_job.as_deref_mut()) {
                        count(summary, scheduler.outcome(job));
                        scheduler.release(job);
                    }
                    input
                };
                if let Some(input) = input {
                    scheduler.handle(self.now(), input);
                }
            }
            self.dispatch_downloads(scheduler);
        }
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Some(journal) = self.journal.as_mut() {
            let started = Instant::now();
            journal.append_all(&self.pending)?;
            self.last_commit = started.elapsed();
        }
        self.pending.clear();
        Ok(())
    }

    /// Does one action; the answer, if it is one the machine waits for.
    fn perform(&mut self, scheduler: &Scheduler, action: Action) -> Option<Input> {
        let client = self.client;
        match action {
            Action::Record(_) => None,
            Action::Submit { job, tag } => {
                let jobs = self.jobs;
                let checked = jobs
                    .job(job)
                    .and_then(|bj| unchanged(bj, job, scheduler.key(job)));
                let mut payloaded = match checked {
                    Ok(Cow::Borrowed(bj)) => bj.job.reborrow(),
                    Ok(Cow::Owned(bj)) => bj.job,
                    // Nothing was sent: the job fails, naming why.
                    Err(error) => {
                        return Some(Input::Submitted {
                            job,
                            outcome: not_sent(error),
                        })
                    }
                };
                if let Some(tag) = tag {
                    payloaded.payload = Some(tag);
                }
                if let Some(pool) = self.pool.as_mut() {
                    if let Some(submits) = &pool.submits {
                        if submits.send((job, payloaded)).is_ok() {
                            pool.running += 1;
                            // Answered later, through `take_answers` or `idle`.
                            return None;
                        }
                    }
                    return Some(Input::Submitted {
                        job,
                        outcome: not_sent(Error::Cancelled { task_id: None }),
                    });
                }
                let single = self.single.is_some();
                if let Some(s) = self.single.as_mut() {
                    s.submitted = true;
                }
                let outcome = submit(client, &payloaded, &self.cancel, self.deadline, single);
                Some(Input::Submitted { job, outcome })
            }
            Action::List { polls } => {
                let ids: Vec<&str> = polls.iter().map(|(_, id)| id.as_str()).collect();
                let result = client.statuses(&ids, self.deadline, &self.cancel);
                Some(Input::Listed { polls, result })
            }
            Action::Poll { job, task_id } => {
                let result = client.fetch_status(&task_id, self.deadline, &self.cancel);
                if let (Some(single), Ok(status)) = (self.single.as_mut(), &result) {
                    single.polls = single.polls.saturating_add(1);
                    single.last = Some(status.clone());
                    if let Some(callback) = single.on_progress.as_mut() {
                        let flow = callback(&Progress {
                            status,
                            elapsed: self.start.elapsed(),
                            polls: single.polls,
                        });
                        if flow.is_break() && !status.state.is_terminal() {
                            single.stopped_by_callback = true;
                            self.stopped = true;
                        }
                    }
                }
                Some(Input::Polled { job, result })
            }
            Action::Search {
                job,
                tag,
                from_unix_ms,
            } => {
                log::debug!("{}: searching the task list for tag {tag}", self.name(job));
                let result =
                    client.find_task_by_payload(&tag, from_unix_ms, self.deadline, &self.cancel);
                Some(Input::Searched { job, result })
            }
            Action::Download { job, status } => {
                log::info!(
                    "{}: task {}: succeeded; downloading",
                    self.name(job),
                    status.task_id
                );
                if let Some(pool) = self.pool.as_mut() {
                    if pool.downloads.is_some() {
                        pool.backlog.push_back(Waiting {
                            job,
                            url: status.video_urls.into_iter().next().map(String::into),
                            task_id: status.task_id.into(),
                        });
                    }
                    // Handed to a thread by `dispatch_downloads`, answered through
                    // `take_answers` or `idle`.
                    return None;
                }
                let output = match output_of(self.jobs, job, &status.task_id) {
                    Ok(output) => output,
                    Err(error) => {
                        return Some(Input::Downloaded {
                            job,
                            result: Err(error),
                        })
                    }
                };
                let output = &output;
                let options = WaitOptions::new().cancel(self.cancel.clone());
                let result = client
                    .download(&status, output, &options)
                    .map(|bytes| (bytes, output.clone()));
                if let Some(single) = self.single.as_mut() {
                    single.last = Some(status);
                }
                Some(Input::Downloaded { job, result })
            }
            Action::Emit(event) => {
                self.emit(scheduler, &event);
                None
            }
        }
    }

    /// The info and warn records of a job's milestones (the machine logs its own decisions).
    fn log(&self, scheduler: &Scheduler, event: &Event) {
        let name = |job: usize| self.name(job);
        match event {
            Event::Submitted { job, task_id } if log::log_enabled!(log::Level::Info) => {
                let provider = self.client.provider();
                let bj = self.jobs.job(*job).ok();
                let model = bj.as_ref().and_then(|bj| bj.job.model.clone());
                log::info!(
                    "{}: submitted, task {task_id} ({provider}, model {})",
                    name(*job),
                    model.as_deref().unwrap_or(provider.default_model())
                );
            }
            Event::Submitted { .. } => {}
            Event::Ended { job } => match scheduler.outcome(*job) {
                Some(JobOutcome::Written {
                    task_id,
                    path,
                    bytes,
                }) => log::info!(
                    "{}: task {task_id}: written {} ({bytes} bytes)",
                    name(*job),
                    path.display()
                ),
                Some(JobOutcome::Failed(e)) => log::info!("{}: failed: {e}", name(*job)),
                Some(JobOutcome::Uncertain(e)) => log::warn!("{}: uncertain: {e}", name(*job)),
                _ => {}
            },
            Event::Adopted { .. } | Event::Progress { .. } | Event::Throttled { .. } => {}
        }
    }

    fn emit(&mut self, scheduler: &Scheduler, event: &Event) {
        self.log(scheduler, event);
        let Some(callback) = self.on_event.as_mut() else {
            return;
        };
        let flow = match event {
            Event::Submitted { job, task_id } => {
                callback(&BatchEvent::Submitted { job: *job, task_id })
            }
            Event::Adopted { job, task_id } => {
                callback(&BatchEvent::Adopted { job: *job, task_id })
            }
            Event::Progress { job, status } => {
                callback(&BatchEvent::Progress { job: *job, status })
            }
            Event::Throttled { job, retry_after } => callback(&BatchEvent::Throttled {
                job: *job,
                retry_after: *retry_after,
            }),
            Event::Ended { job } => match end_event(scheduler, *job) {
                Some(event) => callback(&event),
                None => ControlFlow::Continue(()),
            },
        };
        if flow.is_break() {
            // Nothing more is delivered, downloaded or submitted in this run.
            self.stopped = true;
            if let Some(pool) = &self.pool {
                pool.stop.cancel();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job read again to write its video: whatever the source's error, it carries the task.
    #[test]
    fn a_job_unreadable_after_its_submit_is_an_error_with_its_task() {
        struct Lost(fn() -> Error);
        impl JobSource for Lost {
            fn len(&self) -> usize {
                1
            }
            fn job(&self, _: usize) -> Result<Cow<'_, BatchJob<'_>>> {
                Err((self.0)())
            }
        }
        let io = || Error::io("reading the jobs", "j.jsonl", io::Error::other("gone"));
        let err = output_of(&Lost(io), 0, "t1").unwrap_err();
        assert_eq!(
            (err.kind(), err.task_id()),
            (crate::ErrorKind::Io, Some("t1"))
        );
        let unsupported = || Error::Unsupported {
            provider: "vtrix",
            operation: "remote cancel",
        };
        let err = output_of(&Lost(unsupported), 0, "t1").unwrap_err();
        assert_eq!(
            (err.kind(), err.task_id()),
            (crate::ErrorKind::Download, Some("t1"))
        );
        assert!(
            err.to_string().contains("cannot read the job again"),
            "{err}"
        );
    }

    /// A key met again (a collision, forced here by giving one form twice) is made unique.
    #[test]
    fn a_key_met_again_gets_its_occurrence_counted_in() {
        let mut seen = HashMap::new();
        let first = unique_key("form", &mut seen);
        let second = unique_key("form", &mut seen);
        let third = unique_key("form", &mut seen);
        assert_eq!(first, identity::key("form"));
        assert_eq!(second, identity::key("form#1"));
        assert_eq!(third, identity::key("form#2"));
        assert_eq!(unique_key("other", &mut seen), identity::key("other"));
    }
}
