//! `vidu batch`: many videos from one jobs file, from one thread, resumable: rerun the same
//! command after a crash, a kill or Ctrl-C and it picks up where it stopped, never paying twice
//! for a job.
//!
//! Exit codes: 0 every video written; 2 bad usage or an invalid job (nothing sent); 3 at least
//! one job failed at the provider; 4 the deadline passed with tasks still running; 130
//! interrupted; 1 anything else. Rerun to resume after 4, 130 or 1.

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use vidu::{
    BatchEvent, BatchJob, BatchOptions, BatchSummary, CancelToken, Job, JobOutcome, JobSource,
    MovementAmplitude,
};

use crate::connect::{self, seconds, ConnectArgs};
use crate::progress::{self, Counts};
use crate::report::{self, fail, Exit, INTERRUPTED};
use crate::{img2video, interrupt};

#[derive(clap::Args, Debug)]
#[command(
    group(clap::ArgGroup::new("input").required(true).args(["jobs", "csv"])),
    after_help = "Each line of --jobs is a JSON object: {\"image\": PATH_OR_URL, \"output\": \
                  NAME.mp4} plus optional prompt, model, duration, resolution, \
                  movement_amplitude, seed, bgm. A --csv file has a header row naming the same \
                  keys (image and output required) and one job per row. Image paths are relative \
                  to the jobs file's folder, outputs to --out-dir. The journal (default \
                  DIR/.vidu-journal.jsonl) makes a rerun of the same command resume."
)]
pub struct Args {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The jobs, one JSON object per line
    #[arg(long, value_name = "FILE.jsonl")]
    pub jobs: Option<PathBuf>,
    /// The jobs as CSV: a header row (image,output,prompt,…), then one job per row
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
    /// Where the videos go (created if missing)
    #[arg(long, value_name = "DIR", required = true)]
    pub out_dir: Option<PathBuf>,
    /// The journal that makes a rerun resume [default: DIR/.vidu-journal.jsonl]
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Tasks in flight at once [default: 5, the official API's per-organisation limit]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Videos downloaded at once, beside the polls [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub downloads: Option<u32>,
    /// Submits sent at once; a crash leaves at most this many to look up [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub submits: Option<u32>,
    /// The model of jobs that name none [default: the provider's]
    #[arg(long)]
    pub model: Option<String>,
    /// Stop waiting after this many seconds (tasks go on: rerun to resume)
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub timeout: Option<Duration>,
    /// Submit again jobs whose earlier submit may have created a task that cannot be found
    /// (gateways): risks paying twice
    #[arg(long)]
    pub resubmit_uncertain: bool,
    /// How long to look for the task of a submit whose answer was lost (official API), in
    /// seconds; the task list may lag behind a submit [default: 120]
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub search_window: Option<Duration>,
    /// Check every job and print the requests that would be sent; send nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// One job of the jobs file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    image: String,
    output: String,
    prompt: Option<String>,
    model: Option<String>,
    duration: Option<u32>,
    resolution: Option<String>,
    movement_amplitude: Option<String>,
    seed: Option<u64>,
    bgm: Option<bool>,
}

/// serde_json's message without its " at line 1 column 56": the file's line is named already.
/// With `column` false (a CSV row, whose JSON object this command made) the column is dropped
/// too: it would point into that object, not into the file.
fn json_error(e: &serde_json::Error, column: bool) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(message) if column => format!("column {}: {message}", e.column()),
        Some(message) => message.to_owned(),
        None => text,
    }
}

/// Where one job is in [`JobsFile::text`]: the line of the file it starts on and the bytes of
/// its JSON object (16 bytes a job).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    start: usize,
    len: u32,
    line: u32,
}

impl Entry {
    fn new(line: usize, start: usize, end: usize) -> Result<Entry, String> {
        let too = |what| format!("line {line}: {what}");
        Ok(Entry {
            start,
            len: u32::try_from(end - start).map_err(|_| too("longer than 4 GiB"))?,
            line: u32::try_from(line).map_err(|_| too("past line 4294967295"))?,
        })
    }

    fn range(self) -> std::ops::Range<usize> {
        self.start..self.start + self.len as usize
    }
}

/// The jobs of a JSON-lines file: each line that is not blank, numbered from 1.
fn json_entries(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut start = 0;
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        // As str::lines: "\n" or "\r\n" ends a line.
        let line = match raw.strip_suffix('\n') {
            Some(line) => line.strip_suffix('\r').unwrap_or(line),
            None => raw,
        };
        if !line.trim().is_empty() {
            entries.push(Entry::new(n + 1, start, start + line.len())?);
        }
        start += raw.len();
    }
    Ok(entries)
}

/// The rows of a CSV file (RFC 4180: quoted fields may hold commas, quotes as `""`, newlines),
/// each given to `each` with the line it starts on, in order.
fn csv_rows(
    text: &str,
    name: &str,
    mut each: impl FnMut(usize, Vec<String>) -> Result<(), String>,
) -> Result<(), String> {
    let (mut row, mut field) = (Vec::new(), String::new());
    let (mut line, mut start) = (1, 1);
    let (mut quoted, mut was_quoted) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += usize::from(c == '\n');
                field.push(c);
            }
            (false, '"') if field.is_empty() && !was_quoted => (quoted, was_quoted) = (true, true),
            (false, ',') => {
                row.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                was_quoted = false;
                if row.len() > 1 || !row[0].is_empty() {
                    each(start, std::mem::take(&mut row))?;
                }
                row.clear();
                line += 1;
                start = line;
            }
            (false, '"') => {
                return Err(format!(
                    "{name} line {line}: a quote inside an unquoted field"
                ))
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!(
            "{name} line {start}: a quoted field is never closed"
        ));
    }
    if !field.is_empty() || !row.is_empty() || was_quoted {
        row.push(field);
        each(start, row)?;
    }
    Ok(())
}

/// The jobs of a CSV file whose header row names the keys of a jobs-file line: each data row
/// made the JSON object a jobs file would hold, one a line (a newline inside a field is `\n`
/// in it), and where each is.
fn csv_entries(text: &str, name: &str) -> Result<(String, Vec<Entry>), String> {
    let mut header: Option<Vec<String>> = None;
    let (mut json, mut entries) = (String::new(), Vec::new());
    csv_rows(text, name, |n, row| {
        let Some(header) = &header else {
            header = Some(row);
            return Ok(());
        };
        let label = format!("{name} line {n}");
        if row.len() != header.len() {
            return Err(format!(
                "{label}: {} fields, but the header row names {}",
                row.len(),
                header.len()
            ));
        }
        let mut object = serde_json::Map::new();
        for (key, cell) in header.iter().zip(row) {
            let key = key.trim();
            if cell.is_empty() {
                continue;
            }
            let value = match key {
                "duration" | "seed" => cell
                    .trim()
                    .parse::<u64>()
                    .map(serde_json::Value::from)
                    .map_err(|_| format!("{label}: {key} {cell:?}: expected a whole number"))?,
                "bgm" => match cell.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => true.into(),
                    "false" | "no" | "0" => false.into(),
                    _ => return Err(format!("{label}: bgm {cell:?}: expected true or false")),
                },
                _ => cell.into(),
            };
            object.insert(key.to_owned(), value);
        }
        let start = json.len();
        json.push_str(&serde_json::Value::Object(object).to_string());
        entries.push(Entry::new(n, start, json.len()).map_err(|e| format!("{name} {e}"))?);
        json.push('\n');
        Ok(())
    })?;
    Ok((json, entries))
}

/// The jobs of a --jobs or --csv file, held compactly: one JSON object a job in one text (the
/// JSON-lines file itself, or the CSV's rows made objects), and where each job is in it. A job
/// is made again from its line each time the batch asks for it, by the same rules that checked
/// it when the file was read, so it is the same job each time.
struct JobsFile {
    path: PathBuf,
    /// How labels name the file.
    name: String,
    csv: bool,
    text: String,
    entries: Vec<Entry>,
    /// Image paths are relative to the jobs file's folder.
    base: PathBuf,
    out_dir: PathBuf,
    /// --model: the model of jobs that name none.
    model: Option<String>,
}

impl JobsFile {
    /// Reads the --jobs or --csv file and checks every job; an error names the line and the key.
    fn read(args: &Args, out_dir: &Path) -> Result<JobsFile, String> {
        let (path, csv) = match (&args.jobs, &args.csv) {
            (Some(p), _) => (p, false),
            (None, Some(p)) => (p, true),
            (None, None) => return Err("give --jobs or --csv".into()),
        };
        let flag = if csv { "--csv" } else { "--jobs" };
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
        let jobs = JobsFile::parse(path, csv, text, out_dir, args.model.as_deref())?;
        if jobs.entries.is_empty() {
            return Err(format!("{flag} {}: no jobs in the file", path.display()));
        }
        Ok(jobs)
    }

    /// The jobs of `text`, the file at `path`, each one checked.
    fn parse(
        path: &Path,
        csv: bool,
        text: String,
        out_dir: &Path,
        model: Option<&str>,
    ) -> Result<JobsFile, String> {
        let name = path.display().to_string();
        let (text, entries) = if csv {
            csv_entries(&text, &name)?
        } else {
            let entries = json_entries(&text).map_err(|e| format!("{name} {e}"))?;
            (text, entries)
        };
        let jobs = JobsFile {
            path: path.to_owned(),
            name,
            csv,
            text,
            entries,
            base: path.parent().unwrap_or(Path::new(".")).to_owned(),
            out_dir: out_dir.to_owned(),
            model: model.map(str::to_owned),
        };
        for index in 0..jobs.entries.len() {
            jobs.build(index)?;
        }
        Ok(jobs)
    }

    /// How job `index` is named: "jobs.jsonl line 7".
    fn label(&self, index: usize) -> String {
        match self.entries.get(index) {
            Some(entry) => format!("{} line {}", self.name, entry.line),
            None => format!("{} job {}", self.name, index + 1),
        }
    }

    /// Job `index` made from its line: the one conversion, when the file is read and each time
    /// the batch asks for the job. An error names the line and the key.
    fn build(&self, index: usize) -> Result<BatchJob<'static>, String> {
        let label = self.label(index);
        let entry = self
            .entries
            .get(index)
            .ok_or_else(|| format!("{label}: no such job"))?;
        let line: Line = serde_json::from_str(&self.text[entry.range()])
            .map_err(|e| format!("{label}: {}", json_error(&e, !self.csv)))?;
        // URLs as they are; paths relative to the jobs file's folder.
        let image = match vidu::ImageSource::from(line.image.as_str()) {
            vidu::ImageSource::Path(p) => vidu::ImageSource::Path(self.base.join(p)),
            url => url,
        };
        let output = Path::new(&line.output);
        if output.is_absolute()
            || output
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(format!(
                "{label}: output {:?}: expected a file name inside --out-dir",
                line.output
            ));
        }
        img2video::check_mp4(&line.output).map_err(|e| format!("{label}: {e}"))?;
        let mut job = Job::new(image);
        if let Some(m) = line.model.as_deref().or(self.model.as_deref()) {
            job = job.model(m);
        }
        if let Some(p) = line.prompt {
            job = job.prompt(p);
        }
        if let Some(d) = line.duration {
            job = job.duration(d);
        }
        if let Some(r) = line.resolution {
            job = job.resolution(r);
        }
        if let Some(m) = line.movement_amplitude {
            let m: MovementAmplitude = m.parse().map_err(|e| format!("{label}: {e}"))?;
            job = job.movement_amplitude(m);
        }
        if let Some(s) = line.seed {
            job = job.seed(s);
        }
        if let Some(b) = line.bgm {
            job = job.bgm(b);
        }
        Ok(BatchJob::new(job, self.out_dir.join(output)).label(label))
    }
}

impl JobSource for JobsFile {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn job(&self, index: usize) -> vidu::Result<Cow<'_, BatchJob<'_>>> {
        // Every line was checked when the file was read, and the text does not change: an
        // error here is a bug, reported as the file's.
        self.build(index).map(Cow::Owned).map_err(|msg| {
            let e = std::io::Error::new(std::io::ErrorKind::InvalidData, msg);
            vidu::Error::io("reading the jobs", self.path.clone(), e)
        })
    }
}

pub fn run(args: Args) -> ExitCode {
    match go(&args) {
        Ok(code) => ExitCode::from(code),
        Err(exit) => exit.into(),
    }
}

fn go(args: &Args) -> Result<u8, Exit> {
    let provider: vidu::Provider = match args.connect.provider {
        Some(p) => p.into(),
        None => crate::usage_error(
            "batch",
            "--provider is required (or set VIDU_PROVIDER): umodelverse, vtrix or vidu",
        ),
    };
    let out_dir = args.out_dir.clone().unwrap_or_default();
    let jobs = JobsFile::read(args, &out_dir).map_err(|msg| fail(2, &msg))?;
    // Every job checked before anything starts (the emulator included) or is paid for.
    let checker = img2video::dry_client(&args.connect, provider)?;
    let mut requests = String::new();
    for index in 0..jobs.len() {
        let bj = jobs
            .job(index)
            .map_err(|e| fail(report::code(&e), &e.to_string()))?;
        let label = bj.label.as_deref().unwrap_or("job");
        let submission = checker
            .prepare(&bj.job)
            .map_err(|e| fail(report::code(&e), &format!("{label}: {e}")))?;
        if args.dry_run {
            requests.push_str(&format!(
                "# {label} -> {}\n{}\n\n",
                bj.output.display(),
                submission.display_at(&checker.config().base_url)
            ));
        }
    }
    if args.dry_run {
        print!("{requests}");
        return Ok(0);
    }
    if !out_dir.is_dir() {
        std::fs::create_dir_all(&out_dir)
            .map_err(|e| fail(2, &format!("--out-dir {}: {e}", out_dir.display())))?;
    }
    let connection = connect::connect(&args.connect, provider)?;
    let client = &connection.client;

    let cancel = CancelToken::new();
    interrupt::cancel_on_ctrl_c(&cancel);
    let journal = args
        .journal
        .clone()
        .unwrap_or_else(|| out_dir.join(".vidu-journal.jsonl"));
    announce_resume(&journal, jobs.len(), provider);
    let bar = progress::Bar::new(jobs.len());
    let mut counts = Counts::default();
    let mut ended = Ended::default();
    let mut options = BatchOptions::default()
        .journal(journal)
        .cancel(cancel)
        .resubmit_uncertain(args.resubmit_uncertain)
        .on_event(|event| {
            let finished = see(&mut counts, event);
            if let BatchEvent::Written { task_id, path, .. } = event {
                progress::out(&format!("task {task_id}: wrote {}", path.display()));
            }
            ended.see(event, |job| jobs.label(job));
            bar.update(counts, finished);
            ControlFlow::Continue(())
        });
    if let Some(n) = args.concurrency {
        options = options.concurrency(n as usize);
    }
    if let Some(n) = args.downloads {
        options = options.downloads(n as usize);
    }
    if let Some(n) = args.submits {
        options = options.submits(n as usize);
    }
    if let Some(window) = args.search_window {
        options = options.search_window(window);
    }
    if let Some(t) = args.timeout {
        options = options.timeout(t);
    }
    let result = client.run_batch_from(&jobs, &mut options);
    drop(options);
    drop(bar);
    let summary = result.map_err(|e| report::error(&e))?;
    Ok(summarize(&summary, ended, args.timeout.is_some()))
}

/// Updates the counts; true when a job just ended. A job that ended in an earlier run counts
/// as it ended, without a plain progress line of its own: a rerun of a finished batch prints
/// none.
fn see(c: &mut Counts, event: &BatchEvent<'_>) -> bool {
    match event {
        BatchEvent::Submitted { .. } | BatchEvent::Adopted { .. } => c.running += 1,
        BatchEvent::Earlier { outcome, .. } => match outcome {
            JobOutcome::Written { .. } => c.written += 1,
            JobOutcome::Failed(_) | JobOutcome::Uncertain(_) => c.failed += 1,
            _ => {}
        },
        BatchEvent::Written { .. } => {
            c.written += 1;
            c.running = c.running.saturating_sub(1);
            return true;
        }
        BatchEvent::Failed { error, .. } => {
            c.failed += 1;
            if error.task_id().is_some() {
                c.running = c.running.saturating_sub(1);
            }
            return true;
        }
        BatchEvent::Uncertain { .. } => {
            c.failed += 1;
            return true;
        }
        _ => {}
    }
    false
}

/// Says what the journal already holds: "resuming 3 tasks from the journal". Read only; the
/// batch itself checks that the journal belongs to these jobs.
fn announce_resume(journal: &Path, jobs: usize, provider: vidu::Provider) {
    use vidu::journal::Record;
    let Ok(text) = std::fs::read_to_string(journal) else {
        return;
    };
    let mut lines = text.lines();
    // Another batch's journal is refused by the run itself: nothing to announce.
    match lines.next().map(serde_json::from_str::<Record>) {
        Some(Ok(Record::Header(h))) if h.jobs == jobs as u64 && h.provider == provider.name() => {}
        _ => return,
    }
    // Per job: (task id known, ended).
    let mut state = vec![(false, false); jobs];
    for line in lines {
        let Ok(record) = serde_json::from_str::<Record>(line) else {
            continue;
        };
        let Some(slot) = record
            .job()
            .and_then(|j| usize::try_from(j).ok())
            .and_then(|j| state.get_mut(j))
        else {
            continue;
        };
        match record {
            Record::Intent { .. } | Record::NotCreated { .. } => *slot = (false, false),
            Record::Submitted { .. } => slot.0 = true,
            Record::Terminal { .. } | Record::Written { .. } => slot.1 = true,
            _ => {}
        }
    }
    let running = state.iter().filter(|(task, ended)| *task && !ended).count();
    if running > 0 {
        progress::note(&format!(
            "vidu: resuming {running} task{} from the journal {}",
            if running == 1 { "" } else { "s" },
            journal.display()
        ));
    }
}

/// What the last lines need of the jobs' outcomes: how many videos earlier runs wrote, and a
/// line for each job that failed, is uncertain (in this run or an earlier one) or unfinished.
#[derive(Debug, Default)]
struct Ended {
    already: usize,
    /// (job, line), to print in the jobs' order.
    notes: Vec<(usize, String)>,
}

impl Ended {
    fn see(&mut self, event: &BatchEvent<'_>, label: impl FnOnce(usize) -> String) {
        let (job, what, detail) = match *event {
            BatchEvent::Earlier {
                outcome: JobOutcome::Written { .. },
                ..
            } => {
                self.already += 1;
                return;
            }
            BatchEvent::Failed { job, error }
            | BatchEvent::Earlier {
                job,
                outcome: JobOutcome::Failed(error),
            } => (job, "failed", error.to_string()),
            BatchEvent::Uncertain { job, error }
            | BatchEvent::Earlier {
                job,
                outcome: JobOutcome::Uncertain(error),
            } => (job, "uncertain", error.to_string()),
            BatchEvent::Unfinished {
                job,
                task_id: Some(id),
            } => (job, "unfinished", format!("task {id}")),
            _ => return,
        };
        let line = format!("vidu: {what}: {}: {detail}", label(job));
        self.notes.push((job, line));
    }
}

fn summarize(summary: &BatchSummary, ended: Ended, had_deadline: bool) -> u8 {
    let (written, failed) = (summary.written, summary.failed);
    let (uncertain, unfinished) = (summary.uncertain, summary.unfinished);
    let mut notes = ended.notes;
    notes.sort_by_key(|&(job, _)| job);
    for (_, line) in &notes {
        progress::note(line);
    }
    let already = ended.already.min(written);
    let written_now = written - already;
    let written = match (already, written_now) {
        (0, _) => format!("{written} written"),
        (_, 0) => format!("{written} already written"),
        _ => format!("{written} written ({already} already)"),
    };
    let mut line = format!("{written}, {failed} failed, {uncertain} uncertain");
    if unfinished > 0 {
        line.push_str(&format!(
            ", {unfinished} unfinished; rerun the same command to resume"
        ));
    }
    progress::note(&format!("vidu: {line}"));
    if interrupt::interrupted() {
        INTERRUPTED
    } else if unfinished > 0 && had_deadline {
        4
    } else if unfinished > 0 || uncertain > 0 {
        1
    } else if failed > 0 {
        3
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
        let mut rows = Vec::new();
        csv_rows(text, "p.csv", |n, row| {
            rows.push((n, row));
            Ok(())
        })?;
        Ok(rows)
    }

    fn parse(name: &str, csv: bool, text: &str) -> Result<JobsFile, String> {
        let path = Path::new("in").join(name);
        JobsFile::parse(&path, csv, text.into(), Path::new("out"), Some("m1"))
    }

    /// Every job of `jobs` as the batch gets it, asked for twice: the same both times.
    fn jobs_of(jobs: &JobsFile) -> Vec<String> {
        (0..jobs.len())
            .map(|i| {
                let first = format!("{:?}", jobs.job(i).unwrap());
                assert_eq!(format!("{:?}", jobs.job(i).unwrap()), first, "job {i}");
                first
            })
            .collect()
    }

    fn expected(job: Job<'static>, output: &str, label: &str) -> String {
        let bj = BatchJob::new(job, Path::new("out").join(output)).label(label);
        format!("{:?}", Cow::<BatchJob<'_>>::Owned(bj))
    }

    #[test]
    fn csv_fields_may_hold_commas_quotes_and_newlines() {
        let rows =
            csv("image,prompt\r\na.png,\"a cat, \"\"big\"\"\nand tall\"\n\nb.png,\n").unwrap();
        assert_eq!(
            rows,
            vec![
                (1, vec!["image".into(), "prompt".into()]),
                (2, vec!["a.png".into(), "a cat, \"big\"\nand tall".into()]),
                (5, vec!["b.png".into(), String::new()]),
            ]
        );
        assert!(csv("a,\"b\n").unwrap_err().contains("never closed"));
        assert!(csv("a,b\"c\n").unwrap_err().starts_with("p.csv line 1: "));
    }

    #[test]
    fn a_csv_row_becomes_a_typed_job_line() {
        let (json, entries) = csv_entries(
            "image,output,duration,bgm,prompt\ncat.png,cat.mp4,5,yes,\n",
            "p.csv",
        )
        .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].line, 2);
        let line: Line = serde_json::from_str(&json[entries[0].range()]).unwrap();
        assert_eq!(
            (line.duration, line.bgm, &line.prompt),
            (Some(5), Some(true), &None)
        );
        let e = parse("p.csv", true, "image,output,colour\na.png,a.mp4,red\n")
            .err()
            .unwrap();
        let name = Path::new("in").join("p.csv").display().to_string();
        assert!(
            e.starts_with(&format!("{name} line 2: unknown field `colour`")),
            "{e}"
        );
        assert!(!e.contains("column"), "no column of the made-up JSON: {e}");
        let e = csv_entries("image,output,seed\na.png,a.mp4,x\n", "p.csv").unwrap_err();
        assert_eq!(e, "p.csv line 2: seed \"x\": expected a whole number");
    }

    #[test]
    fn a_json_error_names_the_column_once() {
        let e = parse("j.jsonl", false, "\n{\"image\": 1}\n").err().unwrap();
        let name = Path::new("in").join("j.jsonl").display().to_string();
        assert!(e.starts_with(&format!("{name} line 2: column ")), "{e}");
        assert!(!e.contains("at line"), "{e}");
    }

    #[test]
    fn a_jsonl_job_is_made_from_its_line_the_same_each_time() {
        let text = "{\"image\": \"cat.png\", \"output\": \"a.mp4\", \"prompt\": \"waves\", \
                    \"duration\": 5}\r\n\n  \n{\"image\": \"https://x.test/b.png\", \"output\": \
                    \"b.mp4\", \"model\": \"m2\", \"movement_amplitude\": \"small\", \"seed\": 3, \
                    \"bgm\": true}";
        let jobs = parse("j.jsonl", false, text).unwrap();
        let name = Path::new("in").join("j.jsonl").display().to_string();
        assert_eq!(jobs.label(1), format!("{name} line 4"));
        let small: MovementAmplitude = "small".parse().unwrap();
        assert_eq!(
            jobs_of(&jobs),
            [
                expected(
                    Job::new(vidu::ImageSource::Path(Path::new("in").join("cat.png")))
                        .model("m1")
                        .prompt("waves")
                        .duration(5),
                    "a.mp4",
                    &format!("{name} line 1"),
                ),
                expected(
                    Job::new("https://x.test/b.png")
                        .model("m2")
                        .movement_amplitude(small)
                        .seed(3)
                        .bgm(true),
                    "b.mp4",
                    &format!("{name} line 4"),
                ),
            ]
        );
    }

    #[test]
    fn a_csv_job_is_made_from_its_row_the_same_each_time() {
        let text = "image,output,prompt,duration,bgm\n\
                    cat.png,a.mp4,\"a cat, \"\"big\"\"\nand tall\",5,no\n\
                    \n\
                    cat.png,b.mp4,,,\n";
        let jobs = parse("p.csv", true, text).unwrap();
        let name = Path::new("in").join("p.csv").display().to_string();
        let cat = || Job::new(vidu::ImageSource::Path(Path::new("in").join("cat.png")));
        assert_eq!(
            jobs_of(&jobs),
            [
                expected(
                    cat()
                        .model("m1")
                        .prompt("a cat, \"big\"\nand tall")
                        .duration(5)
                        .bgm(false),
                    "a.mp4",
                    &format!("{name} line 2"),
                ),
                expected(cat().model("m1"), "b.mp4", &format!("{name} line 5")),
            ]
        );
        // One JSON object a line, the quoted newline escaped in it.
        assert_eq!(jobs.text.lines().count(), 2, "{}", jobs.text);
    }

    #[test]
    fn a_job_past_the_end_is_an_error() {
        let jobs = parse(
            "j.jsonl",
            false,
            "{\"image\": \"a.png\", \"output\": \"a.mp4\"}\n",
        );
        let e = jobs.unwrap().job(1).unwrap_err();
        assert_eq!(e.kind(), vidu::ErrorKind::Io, "{e}");
    }
}
