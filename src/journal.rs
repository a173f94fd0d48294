//! A crash-safe journal of a batch run: what was about to be paid for, and what came of it.
//!
//! The journal is an append-only text file, one JSON object per line, each line ending in
//! `\n`. Every line is written with one `write` call and `fsync`ed before [`Journal::append`]
//! returns, so a record is on disk before the action it announces is taken (the intent before
//! the paid submit). Reopening it with the same jobs gives back, per job, what is already known
//! ([`Replay`]), so a run that died at any instant can go on without paying twice.
//!
//! # Line format (version 1)
//!
//! The member `"t"` comes first and names the record type. Times are Unix milliseconds; `job`
//! is the job's 0-based index in the batch.
//!
//! ```text
//! {"t":"header","version":1,"fingerprint":"9c1d…","jobs":3,"provider":"vidu","created_unix_ms":1767225600000}
//! {"t":"intent","job":0,"tag":"vidu-9c1d0e2f-0-0-5a3b9e01","at_unix_ms":1767225600100}
//! {"t":"submitted","job":0,"task_id":"8843"}
//! {"t":"not_created","job":1,"reason":"429 QuotaExceeded"}
//! {"t":"uncertain","job":1,"reason":"connection reset after the submit was sent"}
//! {"t":"terminal","job":2,"task_id":"8845","state":"failed","code":"ContentModeration","message":null}
//! {"t":"written","job":0,"task_id":"8843","path":"out/cat.mp4","bytes":1048576}
//! ```
//!
//! | `t` | meaning |
//! |---|---|
//! | `header` | first line, once: format `version`, a `fingerprint` of the job list ([`fingerprint`]), the number of `jobs`, the `provider` |
//! | `intent` | a submit is about to be sent, carrying `tag` (found again in the task's `payload`) |
//! | `submitted` | the submit (or a search for the tag) gave this `task_id` |
//! | `not_created` | the submit was refused, or the task list shows it created nothing: the job may be submitted again |
//! | `uncertain` | the submit's outcome is unknown: a task may exist and be billed |
//! | `terminal` | the task ended without a video: `state` is `failed`, `cancelled` or `expired` |
//! | `written` | the video is complete at `path`, `bytes` long |
//!
//! A new `intent` for a job starts a new attempt: what the earlier attempt recorded is
//! replaced. On reopening:
//!
//! - a torn last line (no final `\n`, or not JSON) is what a crash mid-write leaves; it is cut
//!   away, and the record it held counts as never written;
//! - any other line that is not a record of this format is an error naming its line number;
//! - a journal written for other jobs or another provider, or by a newer format version, is
//!   refused;
//! - the file is locked for as long as the [`Journal`] lives: a second opener fails at once.

use std::collections::hash_map::RandomState;
use std::fs::{File, OpenOptions, TryLockError};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The line format version this crate writes, and the newest it reads. Format 2 adds the job
/// identity (`key`) to every job record and `tag_sent` to intents; format 1 is still read.
pub const JOURNAL_VERSION: u32 = 2;

/// The first line of a journal: which jobs it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The line format version ([`JOURNAL_VERSION`]).
    pub version: u32,
    /// Identifies the job list, as made by [`fingerprint`].
    pub fingerprint: String,
    /// How many jobs the batch has; job indices run from 0 to `jobs - 1`.
    pub jobs: u64,
    /// The provider's name (task ids mean nothing at another provider).
    pub provider: String,
    /// When the journal was created, in Unix milliseconds.
    pub created_unix_ms: u64,
}

impl Header {
    /// A header for a batch of `jobs` jobs, in the current format, created now.
    pub fn new(fingerprint: impl Into<String>, jobs: u64, provider: impl Into<String>) -> Header {
        Header {
            version: JOURNAL_VERSION,
            fingerprint: fingerprint.into(),
            jobs,
            provider: provider.into(),
            created_unix_ms: unix_ms_now(),
        }
    }
}

/// One line of the journal. See the [module documentation](self) for the format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Record {
    /// The first line. [`Journal::open`] writes it; it cannot be appended.
    Header(Header),
    /// A submit is about to be sent.
    Intent {
        /// The job's index.
        job: u64,
        /// The job's identity (16 hex digits of its canonical form's hash, see the module doc);
        /// records are matched to jobs by it (format 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// A tag unique to this attempt, put in the submit so the task can be found again
        /// ([`submit_tag`]).
        tag: String,
        /// When the submit was about to be sent, in Unix milliseconds.
        at_unix_ms: u64,
        /// Whether the tag was actually sent in the submit's `payload` (not when the job sets
        /// its own payload, nor on providers that cannot list tasks). Absent in format 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag_sent: Option<bool>,
    },
    /// The task id is known.
    Submitted {
        /// The job's index.
        job: u64,
        /// The job's identity (format 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The provider's task id.
        task_id: String,
    },
    /// The submit was refused (a `429`, a `4xx`) or a search of the task list found no task:
    /// certainly no task exists, and the job may be submitted again.
    NotCreated {
        /// The job's index.
        job: u64,
        /// The job's identity (format 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Why, for the record.
        reason: String,
    },
    /// The submit's outcome is unknown: a task may have been created and billed.
    Uncertain {
        /// The job's index.
        job: u64,
        /// The job's identity (format 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Why, for the person who has to check.
        reason: String,
    },
    /// The task ended without a video.
    Terminal {
        /// The job's index.
        job: u64,
        /// The job's identity (format 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The provider's task id.
        task_id: String,
        /// `failed`, `cancelled` or `expired` (as [`crate::State::as_str`]).
        state: String,
        /// The provider's error code, if any.
        code: Option<String>,
        /// The provider's error message, if any.
        message: Option<String>,
    },
    /// The video is complete at its output path.
    Written {
        /// The job's index.
        job: u64,
        /// The job's identity (format 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The provider's task id.
        task_id: String,
        /// Where the video was written.
        path: PathBuf,
        /// Its size in bytes.
        bytes: u64,
    },
}

impl Record {
    /// An [`Intent`](Record::Intent) for `job` with `tag`, stamped now.
    pub fn intent(job: u64, tag: impl Into<String>) -> Record {
        Record::Intent {
            job,
            key: None,
            tag: tag.into(),
            at_unix_ms: unix_ms_now(),
            tag_sent: None,
        }
    }

    /// The job identity this record carries (format 2).
    pub fn key(&self) -> Option<&str> {
        match self {
            Record::Header(_) => None,
            Record::Intent { key, .. }
            | Record::Submitted { key, .. }
            | Record::NotCreated { key, .. }
            | Record::Uncertain { key, .. }
            | Record::Terminal { key, .. }
            | Record::Written { key, .. } => key.as_deref(),
        }
    }

    /// The job this record is about (`None` for the header).
    pub fn job(&self) -> Option<u64> {
        match self {
            Record::Header(_) => None,
            Record::Intent { job, .. }
            | Record::Submitted { job, .. }
            | Record::NotCreated { job, .. }
            | Record::Uncertain { job, .. }
            | Record::Terminal { job, .. }
            | Record::Written { job, .. } => Some(*job),
        }
    }

    /// The task this record names, if any.
    pub fn task_id(&self) -> Option<&str> {
        match self {
            Record::Submitted { task_id, .. }
            | Record::Terminal { task_id, .. }
            | Record::Written { task_id, .. } => Some(task_id),
            _ => None,
        }
    }
}

/// The latest intent of a job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intent {
    /// The tag put in the submit.
    pub tag: String,
    /// When the submit was about to be sent, in Unix milliseconds.
    pub at_unix_ms: u64,
}

/// How a task ended without a video.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Terminal {
    /// The provider's task id.
    pub task_id: String,
    /// `failed`, `cancelled` or `expired`.
    pub state: String,
    /// The provider's error code, if any.
    pub code: Option<String>,
    /// The provider's error message, if any.
    pub message: Option<String>,
}

/// A finished output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// The provider's task id.
    pub task_id: String,
    /// Where the video was written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What the journal knows about one job: its latest attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobRecord {
    /// How many intents were recorded (the next attempt's number).
    pub attempts: u32,
    /// The latest intent.
    pub intent: Option<Intent>,
    /// The task id of the latest attempt, once known.
    pub task_id: Option<String>,
    /// Why the latest submit's outcome is unknown, if it is (cleared by a task id).
    pub uncertain: Option<String>,
    /// How the task ended without a video, if it did.
    pub terminal: Option<Terminal>,
    /// The finished output, if any.
    pub written: Option<Written>,
}

/// Where a job stands, as far as the journal knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Nothing recorded: submit it.
    New,
    /// An intent without a task id (crash mid-submit or an uncertain submit): a task may
    /// exist. Find it or ask before submitting again.
    Unknown,
    /// A task id without an end: wait for it and download; never submit again.
    Running,
    /// The task ended without a video.
    Failed,
    /// The video was written.
    Done,
}

impl JobRecord {
    /// Where the job stands.
    pub fn phase(&self) -> Phase {
        if self.written.is_some() {
            Phase::Done
        } else if self.terminal.is_some() {
            Phase::Failed
        } else if self.task_id.is_some() {
            Phase::Running
        } else if self.intent.is_some() || self.uncertain.is_some() {
            Phase::Unknown
        } else {
            Phase::New
        }
    }

    fn apply(&mut self, record: Record) {
        match record {
            Record::Header(_) => {}
            Record::Intent {
                tag, at_unix_ms, ..
            } => {
                *self = JobRecord {
                    attempts: self.attempts.saturating_add(1),
                    intent: Some(Intent { tag, at_unix_ms }),
                    ..JobRecord::default()
                }
            }
            Record::Submitted { task_id, .. } => {
                self.task_id = Some(task_id);
                self.uncertain = None;
            }
            Record::Uncertain { reason, .. } => self.uncertain = Some(reason),
            Record::NotCreated { .. } => {
                *self = JobRecord {
                    attempts: self.attempts,
                    ..JobRecord::default()
                }
            }
            Record::Terminal {
                task_id,
                state,
                code,
                message,
                ..
            } => {
                self.terminal = Some(Terminal {
                    task_id,
                    state,
                    code,
                    message,
                })
            }
            Record::Written {
                task_id,
                path,
                bytes,
                ..
            } => {
                self.written = Some(Written {
                    task_id,
                    path,
                    bytes,
                })
            }
        }
    }
}

/// How many jobs are in each [`Phase`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseCounts {
    /// Jobs with nothing recorded.
    pub new: u64,
    /// Jobs whose submit outcome is unknown.
    pub unknown: u64,
    /// Jobs with a task id and no end yet.
    pub running: u64,
    /// Jobs whose task ended without a video.
    pub failed: u64,
    /// Jobs whose video was written.
    pub done: u64,
}

/// The journal read back: the state of every job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// The header as found in the file (or as written, for a new journal).
    pub header: Header,
    /// One entry per job, indexed by job.
    pub jobs: Vec<JobRecord>,
    /// The number of records after the header.
    pub records: u64,
    /// True when the file was new (or empty) and the header was just written.
    pub created: bool,
    /// Bytes of a torn last line that were cut away (0 when the file ended cleanly).
    pub truncated_bytes: u64,
}

impl Replay {
    /// How many jobs are in each phase.
    pub fn counts(&self) -> PhaseCounts {
        let mut c = PhaseCounts::default();
        for job in &self.jobs {
            *match job.phase() {
                Phase::New => &mut c.new,
                Phase::Unknown => &mut c.unknown,
                Phase::Running => &mut c.running,
                Phase::Failed => &mut c.failed,
                Phase::Done => &mut c.done,
            } += 1;
        }
        c
    }
}

/// What [`Journal::open_with`] found besides the records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The header as found in the file (or as written, for a new journal).
    pub header: Header,
    /// True when the file was new (or empty) and the header was just written.
    pub created: bool,
    /// Bytes of a torn last line that were cut away (0 when the file ended cleanly).
    pub truncated_bytes: u64,
}

/// An open journal, locked against other openers for as long as it lives.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    header: Header,
    /// The length of the file up to its last complete record.
    len: u64,
    /// Set when a write or sync failed: what is on disk is unknown, so nothing more is appended.
    broken: bool,
}

/// What every line of a journal starts with (serde writes the tag first).
const LINE_START: &[u8] = b"{\"t\":\"";
const HEADER_START: &[u8] = b"{\"t\":\"header\"";

impl Journal {
    /// Opens the journal at `path` for the batch described by `expected`, creating it (with
    /// `expected` as its header) if it does not exist or is empty, and returns what it records.
    ///
    /// A torn last line is cut away. Errors: the file is locked by another [`Journal`] (in
    /// this process or another), is not a journal, has a corrupt line (named by number), was
    /// written for a different job list or provider, or by a newer format version.
    pub fn open(path: impl AsRef<Path>, expected: &Header) -> Result<(Journal, Replay)> {
        let path = path.as_ref();
        let mut jobs: Vec<JobRecord> = Vec::new();
        let mut checked = false;
        let mut records = 0u64;
        let (journal, opened) = Journal::open_with(path, expected, |header, number, record| {
            if !checked {
                check_jobs(header, expected)?;
                jobs = job_records(header.jobs)?;
                checked = true;
            }
            let index = record
                .job()
                .and_then(|j| usize::try_from(j).ok())
                .filter(|&j| j < jobs.len())
                .ok_or_else(|| {
                    invalid_data(format!(
                        "line {number} is about job {}, but the journal has {} jobs",
                        record.job().unwrap_or_default(),
                        header.jobs
                    ))
                })?;
            records += 1;
            jobs[index].apply(record);
            Ok(())
        })?;
        let io_err = |source| Error::Io {
            action: "reading the journal",
            path: path.to_owned(),
            source,
            task_id: None,
        };
        if !checked {
            check_jobs(&opened.header, expected).map_err(io_err)?;
            jobs = job_records(opened.header.jobs).map_err(io_err)?;
        }
        Ok((
            journal,
            Replay {
                header: opened.header,
                jobs,
                records,
                created: opened.created,
                truncated_bytes: opened.truncated_bytes,
            },
        ))
    }

    /// Opens the journal at `path` like [`open`](Self::open), but hands each record to
    /// `visit` (with the header found and the record's line number) instead of folding them
    /// by job index, and checks only the format version and the provider: matching records to
    /// jobs is the caller's (by [`Record::key`]). An error from `visit` stops the reading.
    pub fn open_with(
        path: impl AsRef<Path>,
        expected: &Header,
        mut visit: impl FnMut(&Header, usize, Record) -> io::Result<()>,
    ) -> Result<(Journal, Opened)> {
        let path = path.as_ref();
        let io_err = |action: &'static str| {
            let path = path.to_owned();
            move |source| Error::Io {
                action,
                path,
                source,
                task_id: None,
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err("opening the journal"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(io_err("locking the journal")(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "another run is using this journal; wait for it to end or use another --journal",
                )))
            }
            Err(TryLockError::Error(e)) => return Err(io_err("locking the journal")(e)),
        }

        // Look at the start before reading everything, so that a big file given by mistake
        // (a video, the jobs file) is refused without being read.
        let mut start = [0u8; HEADER_START.len()];
        let got = read_up_to(&mut file, &mut start).map_err(io_err("reading the journal"))?;
        if !is_prefix_either_way(&start[..got], HEADER_START) {
            return Err(io_err("reading the journal")(not_a_journal()));
        }
        let mut data = start[..got].to_vec();
        file.read_to_end(&mut data)
            .map_err(io_err("reading the journal"))?;

        let mut journal = Journal {
            file,
            path: path.to_owned(),
            header: expected.clone(),
            len: 0,
            broken: false,
        };
        let parsed = parse(&data, expected, &mut visit).map_err(io_err("reading the journal"))?;
        let replay = match parsed {
            Some(opened) => {
                journal.header = opened.header.clone();
                journal.len = (data.len() as u64).saturating_sub(opened.truncated_bytes);
                if opened.truncated_bytes > 0 {
                    journal
                        .file
                        .set_len(journal.len)
                        .map_err(io_err("cutting the torn last line of the journal"))?;
                }
                opened
            }
            None => {
                // New, or empty (a crash right after creation), or only a torn header.
                journal
                    .file
                    .set_len(0)
                    .map_err(io_err("creating the journal"))?;
                journal.append_line(&Record::Header(expected.clone()))?;
                sync_parent(path).map_err(io_err("syncing the journal's folder"))?;
                Opened {
                    header: expected.clone(),
                    created: true,
                    truncated_bytes: data.len() as u64,
                }
            }
        };
        Ok((journal, replay))
    }

    /// Writes `record` as one line and syncs it to disk before returning.
    ///
    /// After an error the journal accepts nothing more (what reached the disk is unknown);
    /// reopen it to go on. Errors about records with a task id carry that id.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Writes `records` as lines with one `write` and one `fsync` (group commit): all are on
    /// disk when this returns. A crash part-way leaves a prefix of them and at most one torn
    /// line, which a reopen cuts.
    pub fn append_all(&mut self, records: &[Record]) -> Result<()> {
        for record in records {
            let invalid = |detail: String| Error::Io {
                action: "appending to the journal",
                path: self.path.clone(),
                source: io::Error::new(io::ErrorKind::InvalidInput, detail),
                task_id: record.task_id().map(str::to_owned),
            };
            match record.job() {
                None => {
                    return Err(invalid(
                        "the header is written by Journal::open only".into(),
                    ))
                }
                // Format 2 records name their job by key; the index is this run's.
                Some(job) if job >= self.header.jobs && record.key().is_none() => {
                    return Err(invalid(format!(
                        "job {job} is out of range: the journal has {} jobs",
                        self.header.jobs
                    )))
                }
                Some(_) => {}
            }
        }
        self.append_lines(records)
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal's header, as found in the file.
    pub fn header(&self) -> &Header {
        &self.header
    }

    fn append_line(&mut self, record: &Record) -> Result<()> {
        self.append_lines(std::slice::from_ref(record))
    }

    fn append_lines(&mut self, records: &[Record]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let task_id = records.iter().find_map(Record::task_id).map(str::to_owned);
        let fail = |source: io::Error| Error::Io {
            action: "appending to the journal",
            path: self.path.clone(),
            source,
            task_id: task_id.clone(),
        };
        if self.broken {
            return Err(fail(io::Error::other(
                "an earlier write to the journal failed; reopen it to go on",
            )));
        }
        let mut lines = Vec::with_capacity(records.len() * 128);
        for record in records {
            serde_json::to_writer(&mut lines, record).map_err(|e| fail(io::Error::other(e)))?;
            lines.push(b'\n');
        }
        let written = self
            .file
            .write_all(&lines)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Cut a partial line so a later reader does not find garbage mid-file. Whether or
            // not that works, what reached the disk is unknown: stop appending.
            let _ = self.file.set_len(self.len);
            self.broken = true;
            return Err(fail(e));
        }
        self.len = self.len.saturating_add(lines.len() as u64);
        Ok(())
    }
}

/// Reads the whole journal text. `None` means there is nothing usable yet (empty file or a torn
/// header): the caller writes a fresh header.
fn parse(
    data: &[u8],
    expected: &Header,
    visit: &mut dyn FnMut(&Header, usize, Record) -> io::Result<()>,
) -> io::Result<Option<Opened>> {
    // A last line without its '\n' was never acknowledged: cut it whatever it holds.
    let complete = match data.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    let mut torn = data.len() - complete;
    let mut lines: Vec<&[u8]> = data[..complete].split(|&b| b == b'\n').collect();
    lines.pop(); // the empty piece after the last '\n'

    // A complete last line that is not JSON at all is tolerated as torn as well (zero-filled
    // blocks after a crash); one that is JSON but not a valid record is an error below.
    if let Some(last) = lines.last() {
        if lines.len() > 1 && serde_json::from_slice::<serde::de::IgnoredAny>(last).is_err() {
            torn += last.len() + 1;
            lines.pop();
        }
    }
    if torn > 0 && !looks_like_torn_record(&data[data.len() - torn..]) {
        // Guard against cutting a file that is not ours (e.g. an edited journal).
        let line = lines.len() + 1;
        return Err(invalid_data(format!(
            "line {line} is not a journal record; the file was changed by something other than \
             vidu: fix or remove that line, or use another --journal"
        )));
    }

    let Some((first, rest)) = lines.split_first() else {
        return Ok(None);
    };
    let header = parse_header(first)?;
    check_header(&header, expected)?;

    for (i, line) in rest.iter().enumerate() {
        let number = i + 2;
        let record = parse_record(line, number)?;
        match record.job() {
            None => {
                return Err(invalid_data(format!(
                    "line {number} is a second header; a journal has one, on its first line"
                )))
            }
            Some(job) if job >= header.jobs && record.key().is_none() => {
                return Err(invalid_data(format!(
                    "line {number} is about job {job}, but the journal has {} jobs",
                    header.jobs
                )))
            }
            Some(_) => visit(&header, number, record)?,
        }
    }
    Ok(Some(Opened {
        header,
        created: false,
        truncated_bytes: torn as u64,
    }))
}

fn parse_header(line: &[u8]) -> io::Result<Header> {
    /// Just enough to tell what the first line is before reading it in full.
    #[derive(Deserialize)]
    struct Probe {
        t: String,
        version: Option<u64>,
    }
    let probe: Probe = serde_json::from_slice(line).map_err(|_| not_a_journal())?;
    if probe.t != "header" {
        return Err(not_a_journal());
    }
    match probe.version {
        Some(v) if v > u64::from(JOURNAL_VERSION) => {
            return Err(invalid_data(format!(
                "the journal is in format version {v}, written by a newer vidu; this one reads \
                 version {JOURNAL_VERSION}: use that vidu, or another --journal"
            )))
        }
        Some(v) if v >= 1 => {}
        _ => return Err(not_a_journal()),
    }
    match serde_json::from_slice(line) {
        Ok(Record::Header(header)) => Ok(header),
        Ok(_) => Err(not_a_journal()),
        Err(e) => Err(invalid_data(format!("line 1, the header, is corrupt: {e}"))),
    }
}

/// The whole-list check of [`Journal::open`]: the same number of jobs and fingerprint.
fn check_jobs(found: &Header, expected: &Header) -> io::Result<()> {
    if found.fingerprint != expected.fingerprint || found.jobs != expected.jobs {
        return Err(invalid_data(format!(
            "this journal was written for different jobs: it has {} jobs with fingerprint {}, \
             this run has {} jobs with fingerprint {}; use another --journal or remove it",
            found.jobs, found.fingerprint, expected.jobs, expected.fingerprint
        )));
    }
    Ok(())
}

fn check_header(found: &Header, expected: &Header) -> io::Result<()> {
    if found.provider != expected.provider {
        return Err(invalid_data(format!(
            "this journal was written for provider {}, this run uses {}; its task ids mean \
             nothing there: use another --journal or remove it",
            found.provider, expected.provider
        )));
    }
    Ok(())
}

fn parse_record(line: &[u8], number: usize) -> io::Result<Record> {
    serde_json::from_slice(line).map_err(|e| {
        #[derive(Deserialize)]
        struct Probe {
            t: String,
        }
        match serde_json::from_slice::<Probe>(line) {
            Ok(Probe { t }) if !KNOWN_TYPES.contains(&t.as_str()) => invalid_data(format!(
                "line {number} has record type {t:?}, unknown to this vidu (journal format \
                 {JOURNAL_VERSION}); it was written by a newer vidu: use that one, or another \
                 --journal"
            )),
            _ => invalid_data(format!(
                "line {number} is corrupt ({e}); the file was changed by something other than \
                 vidu: fix or remove that line, or use another --journal"
            )),
        }
    })
}

const KNOWN_TYPES: &[&str] = &[
    "header",
    "intent",
    "submitted",
    "not_created",
    "uncertain",
    "terminal",
    "written",
];

/// True for what a crash mid-append leaves: the start of one of our lines, or zero bytes.
fn looks_like_torn_record(tail: &[u8]) -> bool {
    let tail = tail.strip_suffix(b"\n").unwrap_or(tail);
    tail.iter().all(|&b| b == 0) || is_prefix_either_way(tail, LINE_START)
}

fn is_prefix_either_way(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// One empty record per job; a count too large for memory is an error, not a panic.
fn job_records(jobs: u64) -> io::Result<Vec<JobRecord>> {
    let too_many = || invalid_data(format!("{jobs} jobs do not fit in memory"));
    let n = usize::try_from(jobs).map_err(|_| too_many())?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| too_many())?;
    v.resize(n, JobRecord::default());
    Ok(v)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn not_a_journal() -> io::Error {
    invalid_data(
        "this file is not a vidu journal (its first line is not a journal header); give \
         --journal a new file name"
            .into(),
    )
}

fn invalid_data(detail: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, detail)
}

/// Makes the journal's directory entry durable, so the file itself survives a crash.
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened as files on Windows; NTFS journals its metadata.
        let _ = path;
        Ok(())
    }
}

/// The current time in Unix milliseconds (0 if the clock is before 1970).
pub fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A stable fingerprint of a job list: FNV-1a 64 over each job's canonical text (which the
/// caller chooses, e.g. its jobs-file line with resolved paths), as 16 hex digits. The same
/// texts in the same order always give the same fingerprint, on every platform and version.
pub fn fingerprint(jobs: impl IntoIterator<Item = impl AsRef<[u8]>>) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    let mut count: u64 = 0;
    for job in jobs {
        let job = job.as_ref();
        // The length first, so that ["ab", "c"] and ["a", "bc"] differ.
        feed(&(job.len() as u64).to_le_bytes());
        feed(job);
        count += 1;
    }
    feed(&count.to_le_bytes());
    format!("{hash:016x}")
}

/// A tag unique to one submit attempt, to be put in the submit (the official API's `payload`)
/// and looked for later: `vidu-<first 8 of fingerprint>-<job>-<attempt>-<8 random hex digits>`.
pub fn submit_tag(fingerprint: &str, job: u64, attempt: u32) -> String {
    let short: String = fingerprint.chars().take(8).collect();
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u64(job);
    let random = hasher.finish() as u32;
    format!("vidu-{short}-{job}-{attempt}-{random:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A journal path in a directory of its own, removed with everything in it on drop.
    struct Scratch(PathBuf);

    impl std::ops::Deref for Scratch {
        type Target = PathBuf;
        fn deref(&self) -> &PathBuf {
            &self.0
        }
    }

    impl AsRef<Path> for Scratch {
        fn as_ref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = fs::remove_dir_all(dir);
            }
        }
    }

    fn scratch(name: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "vidu-journal-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir.join("journal.jsonl"))
    }

    fn header(jobs: u64) -> Header {
        Header::new(fingerprint(["a", "b", "c"]), jobs, "vidu")
    }

    fn sample_records() -> Vec<Record> {
        vec![
            Record::intent(0, "tag-0"),
            Record::Submitted {
                job: 0,
                key: None,
                task_id: "t0".into(),
            },
            Record::intent(1, "tag-1"),
            Record::Uncertain {
                job: 1,
                key: None,
                reason: "connection reset".into(),
            },
            Record::intent(2, "tag-2"),
            Record::Submitted {
                job: 2,
                key: None,
                task_id: "t2".into(),
            },
            Record::Terminal {
                job: 2,
                key: None,
                task_id: "t2".into(),
                state: "failed".into(),
                code: Some("ContentModeration".into()),
                message: None,
            },
            Record::Written {
                job: 0,
                key: None,
                task_id: "t0".into(),
                path: "out/é cat.mp4".into(),
                bytes: 1234,
            },
        ]
    }

    fn write_journal(path: &Path, records: &[Record]) {
        let (mut j, replay) = Journal::open(path, &header(3)).unwrap();
        assert!(replay.created);
        for r in records {
            j.append(r).unwrap();
        }
    }

    fn reason(e: &Error) -> String {
        e.to_string()
    }

    #[test]
    fn round_trip_folds_each_job() {
        let path = scratch("round-trip");
        write_journal(&path, &sample_records());
        let (_j, replay) = Journal::open(&path, &header(3)).unwrap();
        assert!(!replay.created);
        assert_eq!(replay.records, 8);
        assert_eq!(replay.truncated_bytes, 0);
        let [a, b, c] = &replay.jobs[..] else {
            panic!("{replay:?}")
        };
        assert_eq!(a.phase(), Phase::Done);
        assert_eq!(a.task_id.as_deref(), Some("t0"));
        assert_eq!(a.written.as_ref().unwrap().path, Path::new("out/é cat.mp4"));
        assert_eq!(a.written.as_ref().unwrap().bytes, 1234);
        assert_eq!(a.intent.as_ref().unwrap().tag, "tag-0");
        assert_eq!(b.phase(), Phase::Unknown);
        assert_eq!(b.uncertain.as_deref(), Some("connection reset"));
        assert_eq!(c.phase(), Phase::Failed);
        let t = c.terminal.as_ref().unwrap();
        assert_eq!(
            (t.state.as_str(), t.code.as_deref()),
            ("failed", Some("ContentModeration"))
        );
        assert_eq!(
            replay.counts(),
            PhaseCounts {
                new: 0,
                unknown: 1,
                running: 0,
                failed: 1,
                done: 1
            }
        );
        // The first line is the documented header.
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("{\"t\":\"header\",\"version\":2,"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 9);
    }

    #[test]
    fn new_intent_starts_a_new_attempt() {
        let path = scratch("attempts");
        write_journal(
            &path,
            &[
                Record::intent(1, "first"),
                Record::Uncertain {
                    job: 1,
                    key: None,
                    reason: "reset".into(),
                },
                Record::intent(1, "second"),
                Record::Submitted {
                    job: 1,
                    key: None,
                    task_id: "t".into(),
                },
            ],
        );
        let (_j, replay) = Journal::open(&path, &header(3)).unwrap();
        let job = &replay.jobs[1];
        assert_eq!(job.attempts, 2);
        assert_eq!(job.intent.as_ref().unwrap().tag, "second");
        assert_eq!(job.uncertain, None);
        assert_eq!(job.phase(), Phase::Running);
        assert_eq!(replay.jobs[0].phase(), Phase::New);
    }

    #[test]
    fn a_submit_that_created_nothing_still_counts_as_an_attempt() {
        let path = scratch("not-created");
        write_journal(
            &path,
            &[
                Record::intent(0, "first"),
                Record::NotCreated {
                    job: 0,
                    key: None,
                    reason: "429".into(),
                },
                Record::intent(0, "second"),
                Record::NotCreated {
                    job: 0,
                    key: None,
                    reason: "429".into(),
                },
            ],
        );
        let (_j, replay) = Journal::open(&path, &header(3)).unwrap();
        let job = &replay.jobs[0];
        assert_eq!(job.attempts, 2, "attempts survive a NotCreated");
        assert_eq!(job.intent, None);
        assert_eq!(job.phase(), Phase::New);
    }

    #[test]
    fn torn_last_line_is_cut_in_every_shape() {
        let shapes: &[&[u8]] = &[
            b"{\"t\":\"submitted\",\"job\":1,\"ta", // half an object
            b"{\"t\":\"submitted\",\"job\":1,\"task_id\":\"x\"}", // whole, but no newline
            b"{",
            b"\0\0\0\0\0\0",    // zero-filled blocks
            b"\0\0\0\0\0\0\n",  // the same, newline included
            b"{\"t\":\"subm\n", // not JSON, with its newline
            b"\n",              // an empty trailing line
        ];
        for shape in shapes {
            let path = scratch("torn");
            write_journal(&path, &sample_records()[..2]);
            let clean = fs::read(&path).unwrap();
            let mut torn = clean.clone();
            torn.extend_from_slice(shape);
            fs::write(&path, &torn).unwrap();

            let (mut j, replay) = Journal::open(&path, &header(3))
                .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(shape)));
            assert_eq!(replay.truncated_bytes, shape.len() as u64);
            assert_eq!(replay.records, 2);
            assert_eq!(replay.jobs[1].phase(), Phase::New);
            assert_eq!(fs::read(&path).unwrap(), clean, "the torn line is cut away");

            // Appending after that continues on a clean line.
            j.append(&Record::Submitted {
                job: 1,
                key: None,
                task_id: "y".into(),
            })
            .unwrap();
            drop(j);
            let (_j, replay) = Journal::open(&path, &header(3)).unwrap();
            assert_eq!(replay.records, 3);
            assert_eq!(replay.jobs[1].task_id.as_deref(), Some("y"));
        }
    }

    #[test]
    fn empty_trailing_line_and_empty_file_are_fine() {
        let path = scratch("empty");
        fs::write(&path, b"").unwrap();
        let (j, replay) = Journal::open(&path, &header(3)).unwrap();
        assert!(
            replay.created,
            "an empty file (crash after creation) becomes a journal"
        );
        drop(j);
        let (j, replay) = Journal::open(&path, &header(3)).unwrap();
        assert!(!replay.created);
        assert_eq!(replay.records, 0);
        drop(j);

        // Only a torn header: written again.
        fs::write(&path, b"{\"t\":\"header\",\"vers").unwrap();
        let (_j, replay) = Journal::open(&path, &header(3)).unwrap();
        assert!(replay.created);
        assert!(fs::read_to_string(&path).unwrap().ends_with("}\n"));
    }

    #[test]
    fn an_unfinished_last_line_that_is_no_record_is_refused_not_cut() {
        let path = scratch("foreign-tail");
        write_journal(&path, &sample_records());
        let mut data = fs::read(&path).unwrap();
        let complete_lines = data.iter().filter(|&&b| b == b'\n').count();
        data.extend_from_slice(b"edited by hand");
        fs::write(&path, &data).unwrap();
        let err = Journal::open(&path, &header(3)).unwrap_err();
        let expected = format!("line {} is not a journal record", complete_lines + 1);
        assert!(reason(&err).contains(&expected), "{err}");
        assert_eq!(fs::read(&path).unwrap(), data, "the file is left alone");
    }

    #[test]
    fn format_version_zero_is_not_a_journal() {
        let path = scratch("version-zero");
        write_journal(&path, &sample_records());
        let text = fs::read_to_string(&path).unwrap();
        let edited = text.replacen("\"version\":2", "\"version\":0", 1);
        assert_ne!(edited, text);
        fs::write(&path, &edited).unwrap();
        let err = Journal::open(&path, &header(3)).unwrap_err();
        assert!(reason(&err).contains("not a vidu journal"), "{err}");
    }

    #[test]
    fn unix_ms_now_is_the_clock_in_milliseconds() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let now = unix_ms_now();
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(
            (before..=after).contains(&now),
            "{before} <= {now} <= {after}"
        );
    }

    #[test]
    fn corrupt_middle_line_names_its_number() {
        let path = scratch("corrupt");
        write_journal(&path, &sample_records());
        let text = fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[3] = "{\"t\":\"submitted\",\"job\":\"one\"}";
        fs::write(&path, lines.join("\n") + "\n").unwrap();
        let err = Journal::open(&path, &header(3)).unwrap_err();
        assert!(reason(&err).contains("line 4 is corrupt"), "{err}");
        assert_eq!(err.kind(), crate::ErrorKind::Io);

        // Garbage mid-file, and a complete but invalid last line, are errors too.
        lines[3] = "garbage";
        fs::write(&path, lines.join("\n") + "\n").unwrap();
        let err = Journal::open(&path, &header(3)).unwrap_err();
        assert!(reason(&err).contains("line 4 "), "{err}");
        let last = lines.len() - 1;
        lines[3] = "{\"t\":\"intent\",\"job\":1,\"tag\":\"x\",\"at_unix_ms\":1}";
        lines[last] = "{\"t\":\"written\",\"job\":0}";
        fs::write(&path, lines.join("\n") + "\n").unwrap();
        let err = Journal::open(&path, &header(3)).unwrap_err();
        assert!(
            reason(&err).contains(&format!("line {} is corrupt", last + 1)),
            "{err}"
        );
        // A job out of range.
        lines[last] = "{\"t\":\"submitted\",\"job\":3,\"task_id\":\"x\"}";
        fs::write(&path, lines.join("\n") + "\n").unwrap();
        let err = Journal::open(&path, &header(3)).unwrap_err();
        assert!(
            reason(&err).contains("about job 3, but the journal has 3 jobs"),
            "{err}"
        );
    }

    #[test]
    fn unknown_record_type_and_newer_version_are_refused() {
        let path = scratch("newer");
        write_journal(&path, &sample_records());
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("{\"t\":\"checkpoint\",\"job\":0}\n");
        fs::write(&path, &text).unwrap();
        let err = Journal::open(&path, &header(3)).unwrap_err();
        assert!(
            reason(&err).contains("line 10 has record type \"checkpoint\""),
            "{err}"
        );

        let path = scratch("newer-header");
        fs::write(
            &path,
            "{\"t\":\"header\",\"version\":3,\"shape\":\"new\"}\n",
        )
        .unwrap();
        let err = Journal::open(&path, &header(3)).unwrap_err();
        assert!(reason(&err).contains("format version 3"), "{err}");
    }

    #[test]
    fn a_damaged_not_created_line_is_corrupt_not_from_a_newer_vidu() {
        let path = scratch("damaged-not-created");
        write_journal(&path, &sample_records());
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("{\"t\":\"not_created\",\"job\":\"one\"}\n");
        text.push_str("{\"t\":\"submitted\",\"job\":1,\"task_id\":\"t1\"}\n");
        fs::write(&path, &text).unwrap();
        let err = Journal::open(&path, &header(3)).unwrap_err();
        assert!(reason(&err).contains("line 10 is corrupt"), "{err}");
        assert!(!reason(&err).contains("newer"), "{err}");
    }

    #[test]
    fn a_job_count_too_large_for_memory_is_an_error_not_a_panic() {
        let path = scratch("huge");
        let huge = Header::new("f", u64::MAX, "vidu");
        let err = Journal::open(&path, &huge).unwrap_err();
        assert!(reason(&err).contains("do not fit in memory"), "{err}");
    }

    #[test]
    fn a_journal_for_other_jobs_is_refused() {
        let path = scratch("other-jobs");
        write_journal(&path, &sample_records());
        let before = fs::read(&path).unwrap();
        let other = Header::new(fingerprint(["a", "b", "d"]), 3, "vidu");
        let err = Journal::open(&path, &other).unwrap_err();
        assert!(reason(&err).contains("written for different jobs"), "{err}");
        assert!(
            reason(&err).contains("use another --journal or remove it"),
            "{err}"
        );
        let err = Journal::open(&path, &header(4)).unwrap_err();
        assert!(reason(&err).contains("written for different jobs"), "{err}");
        let err = Journal::open(
            &path,
            &Header {
                provider: "vtrix".into(),
                ..header(3)
            },
        )
        .unwrap_err();
        assert!(
            reason(&err).contains("provider vidu, this run uses vtrix"),
            "{err}"
        );
        assert_eq!(
            fs::read(&path).unwrap(),
            before,
            "a refused journal is left alone"
        );
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_and_left_alone() {
        let contents: &[&[u8]] = &[
            b"{\"image\":\"cat.png\",\"output\":\"cat.mp4\"}\n",
            // A complete first line that is not JSON: never cut as a torn line.
            b"{\"t\":\"header\" this is not JSON}\n",
            b"\x00\x00\x00\x18ftypmp42", // a video, no newline
            b"hello",
            b"{\"t\":\"intent\",\"job\":0,\"tag\":\"x\",\"at_unix_ms\":1}\n",
        ];
        for c in contents {
            let path = scratch("not-a-journal");
            fs::write(&path, c).unwrap();
            let err = Journal::open(&path, &header(3)).unwrap_err();
            assert!(reason(&err).contains("not a vidu journal"), "{err}");
            assert!(reason(&err).contains(&path.display().to_string()), "{err}");
            assert_eq!(fs::read(&path).unwrap(), *c);
        }
    }

    #[test]
    fn second_open_fails_at_once_while_locked() {
        let path = scratch("locked");
        let (first, _) = Journal::open(&path, &header(3)).unwrap();
        let err = Journal::open(&path, &header(3)).unwrap_err();
        assert!(
            reason(&err).contains("another run is using this journal"),
            "{err}"
        );
        assert!(reason(&err).contains(&path.display().to_string()), "{err}");
        drop(first);
        Journal::open(&path, &header(3)).expect("the lock goes with the Journal");
    }

    #[test]
    fn records_are_on_disk_when_append_returns() {
        let path = scratch("synced");
        let (mut j, _) = Journal::open(&path, &header(3)).unwrap();
        j.append(&Record::intent(2, "tag")).unwrap();
        // Read through another handle while the journal is still open.
        let text = fs::read_to_string(&path).unwrap();
        let last = text.lines().nth(1).unwrap();
        assert!(
            last.starts_with("{\"t\":\"intent\",\"job\":2,\"tag\":\"tag\","),
            "{text}"
        );
        assert!(text.ends_with("}\n"), "{text}");
        drop(j);
        let (_j, replay) = Journal::open(&path, &header(3)).unwrap();
        assert_eq!(replay.jobs[2].intent.as_ref().unwrap().tag, "tag");
    }

    #[test]
    fn bad_appends_are_refused_and_carry_the_task_id() {
        let path = scratch("bad-append");
        let (mut j, _) = Journal::open(&path, &header(3)).unwrap();
        let err = j
            .append(&Record::Submitted {
                job: 3,
                key: None,
                task_id: "t9".into(),
            })
            .unwrap_err();
        assert!(reason(&err).contains("job 3 is out of range"), "{err}");
        assert_eq!(err.task_id(), Some("t9"));
        assert!(j.append(&Record::Header(header(3))).is_err());
        j.append(&Record::intent(0, "still fine")).unwrap();
    }

    #[test]
    fn crash_at_every_byte_of_the_last_record_replays_the_state_before_it() {
        let records = sample_records();
        let path = scratch("crash");
        for (n, record) in records.iter().enumerate() {
            write_journal(&path, &records[..n]);
            let before = Journal::open(&path, &header(3)).unwrap().1;
            let start = fs::read(&path).unwrap().len();
            {
                let (mut j, _) = Journal::open(&path, &header(3)).unwrap();
                j.append(record).unwrap();
            }
            let full = fs::read(&path).unwrap();
            for cut in start..full.len() {
                fs::write(&path, &full[..cut]).unwrap();
                let (_j, replay) = Journal::open(&path, &header(3))
                    .unwrap_or_else(|e| panic!("record {n} cut at {cut}: {e}"));
                assert_eq!(replay.jobs, before.jobs, "record {n} cut at {cut}");
                assert_eq!(replay.truncated_bytes, (cut - start) as u64);
            }
            fs::write(&path, &full).unwrap();
            let after = Journal::open(&path, &header(3)).unwrap().1;
            assert_ne!(after.jobs, before.jobs, "record {n} changes the state");
            fs::remove_file(&path).unwrap();
        }
    }

    #[test]
    fn fingerprint_is_stable_and_order_sensitive() {
        // Pinned: journals written by earlier versions must still match.
        assert_eq!(fingerprint(["a", "b"]), "47587b48b2d5db56");
        assert_eq!(
            fingerprint(["a", "b"]),
            fingerprint(vec![b"a".to_vec(), b"b".to_vec()])
        );
        assert_ne!(fingerprint(["a", "b"]), fingerprint(["b", "a"]));
        assert_ne!(fingerprint(["ab", "c"]), fingerprint(["a", "bc"]));
        assert_ne!(fingerprint(["a"]), fingerprint(["a", ""]));
        assert_eq!(fingerprint(["x"]).len(), 16);
    }

    #[test]
    fn submit_tags_are_unique_and_readable() {
        let fp = fingerprint(["a"]);
        let a = submit_tag(&fp, 7, 0);
        let b = submit_tag(&fp, 7, 0);
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("vidu-{}-7-0-", &fp[..8])), "{a}");
        assert_eq!(a.len(), "vidu-".len() + 8 + "-7-0-".len() + 8);
    }

    /// Run by hand: `cargo test --release --lib journal -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn reopen_time_for_100_000_records() {
        let path = scratch("big");
        let jobs = 20_000u64;
        let h = Header::new(fingerprint(["big"]), jobs, "vidu");
        drop(Journal::open(&path, &h).unwrap());
        // Written in one go (an fsync per record would take minutes), in the journal's format.
        let mut text = fs::read(&path).unwrap();
        for job in 0..jobs {
            let tag = submit_tag("0123456789abcdef", job, 0);
            let task_id = format!("{}", 880_000_000_000u64 + job);
            for r in [
                Record::intent(job, tag),
                Record::Submitted {
                    job,
                    key: None,
                    task_id: task_id.clone(),
                },
                Record::Written {
                    job,
                    key: None,
                    task_id: task_id.clone(),
                    path: format!("out/product-{job:05}.mp4").into(),
                    bytes: 3_456_789,
                },
                Record::Submitted {
                    job,
                    key: None,
                    task_id,
                },
                Record::Uncertain {
                    job,
                    key: None,
                    reason: "none".into(),
                },
            ] {
                serde_json::to_writer(&mut text, &r).unwrap();
                text.push(b'\n');
            }
        }
        fs::write(&path, &text).unwrap();
        let runs: Vec<_> = (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                let (_j, replay) = Journal::open(&path, &h).unwrap();
                assert_eq!(replay.records, 100_000);
                t.elapsed()
            })
            .collect();
        eprintln!("reopen of 100,000 records ({} bytes): {runs:?}", text.len());
    }
}
