//! `vidu batch`: many videos from one jobs file, from one thread, resumable: rerun the same
//! command after a crash, a kill or Ctrl-C and it picks up where it stopped, never paying twice
//! for a job.
//!
//! Exit codes: 0 every video written; 2 bad usage or an invalid job (nothing sent); 3 at least
//! one job failed at the provider; 4 the deadline passed with tasks still running; 130
//! interrupted; 1 anything else. Rerun to resume after 4, 130 or 1.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use vidu::{BatchEvent, BatchJob, BatchOptions, CancelToken, Job, JobOutcome, MovementAmplitude};

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
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(message) => format!("column {}: {message}", e.column()),
        None => text,
    }
}

/// The lines of a JSON-lines file: (line number, object), blank lines skipped.
fn json_lines(text: &str, name: &str) -> Result<Vec<(String, Line)>, String> {
    let mut lines = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let label = format!("{name} line {}", n + 1);
        let line = serde_json::from_str(raw).map_err(|e| format!("{label}: {}", json_error(&e)))?;
        lines.push((label, line));
    }
    Ok(lines)
}

/// The rows of a CSV file (RFC 4180: quoted fields may hold commas, quotes as `""`, newlines),
/// each with the line it starts on.
fn csv_rows(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut rows = Vec::new();
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
                    rows.push((start, std::mem::take(&mut row)));
                }
                row.clear();
                line += 1;
                start = line;
            }
            (false, '"') => return Err(format!("line {line}: a quote inside an unquoted field")),
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {start}: a quoted field is never closed"));
    }
    if !field.is_empty() || !row.is_empty() || was_quoted {
        row.push(field);
        rows.push((start, row));
    }
    Ok(rows)
}

/// The jobs of a CSV file whose header row names the keys of a jobs-file line.
fn csv_lines(text: &str, name: &str) -> Result<Vec<(String, Line)>, String> {
    let rows = csv_rows(text).map_err(|e| format!("{name} {e}"))?;
    let Some(((_, header), rows)) = rows.split_first() else {
        return Ok(Vec::new());
    };
    let mut lines = Vec::new();
    for (n, row) in rows {
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
                _ => cell.as_str().into(),
            };
            object.insert(key.to_owned(), value);
        }
        let line = serde_json::from_value(object.into())
            .map_err(|e| format!("{label}: {}", json_error(&e)))?;
        lines.push((label, line));
    }
    Ok(lines)
}

/// Reads the jobs file; an error names the line and the key.
fn read_jobs(args: &Args, out_dir: &Path) -> Result<Vec<BatchJob<'static>>, String> {
    let (path, csv) = match (&args.jobs, &args.csv) {
        (Some(p), _) => (p, false),
        (None, Some(p)) => (p, true),
        (None, None) => return Err("give --jobs or --csv".into()),
    };
    let flag = if csv { "--csv" } else { "--jobs" };
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    let name = path.display().to_string();
    let lines = if csv {
        csv_lines(&text, &name)?
    } else {
        json_lines(&text, &name)?
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut jobs = Vec::new();
    for (label, line) in lines {
        // URLs as they are; paths relative to the jobs file's folder.
        let image = match vidu::ImageSource::from(line.image.as_str()) {
            vidu::ImageSource::Path(p) => vidu::ImageSource::Path(base.join(p)),
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
        if let Some(m) = line.model.as_deref().or(args.model.as_deref()) {
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
        jobs.push(BatchJob::new(job, out_dir.join(output)).label(label));
    }
    if jobs.is_empty() {
        return Err(format!("{flag} {}: no jobs in the file", path.display()));
    }
    Ok(jobs)
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
    let jobs = read_jobs(args, &out_dir).map_err(|msg| fail(2, &msg))?;
    // Every job checked before anything starts (the emulator included) or is paid for.
    let checker = img2video::dry_client(&args.connect, provider)?;
    let mut requests = String::new();
    for bj in &jobs {
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
    let mut written_now = 0;
    let mut options = BatchOptions::default()
        .journal(journal)
        .cancel(cancel)
        .resubmit_uncertain(args.resubmit_uncertain)
        .on_event(|event| {
            let finished = see(&mut counts, event);
            if let BatchEvent::Written { task_id, path, .. } = event {
                written_now += 1;
                progress::out(&format!("task {task_id}: wrote {}", path.display()));
            }
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
    let result = client.run_batch(&jobs, &mut options);
    drop(options);
    drop(bar);
    let outcomes = result.map_err(|e| report::error(&e))?;
    Ok(summarize(
        &jobs,
        &outcomes,
        written_now,
        args.timeout.is_some(),
    ))
}

/// Updates the counts; true when a job just ended.
fn see(c: &mut Counts, event: &BatchEvent<'_>) -> bool {
    match event {
        BatchEvent::Submitted { .. } | BatchEvent::Adopted { .. } => c.running += 1,
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

fn summarize(
    jobs: &[BatchJob<'_>],
    outcomes: &[JobOutcome],
    written_now: usize,
    had_deadline: bool,
) -> u8 {
    let (mut written, mut failed, mut uncertain, mut unfinished) = (0, 0, 0, 0);
    for (bj, outcome) in jobs.iter().zip(outcomes) {
        let label = bj.label.as_deref().unwrap_or("job");
        match outcome {
            JobOutcome::Written { .. } => written += 1,
            JobOutcome::Failed(e) => {
                failed += 1;
                progress::note(&format!("vidu: failed: {label}: {e}"));
            }
            JobOutcome::Uncertain(e) => {
                uncertain += 1;
                progress::note(&format!("vidu: uncertain: {label}: {e}"));
            }
            JobOutcome::Unfinished { task_id } => {
                unfinished += 1;
                if let Some(id) = task_id {
                    progress::note(&format!("vidu: unfinished: {label}: task {id}"));
                }
            }
            _ => {}
        }
    }
    let already = written - written_now.min(written);
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

    #[test]
    fn csv_fields_may_hold_commas_quotes_and_newlines() {
        let rows =
            csv_rows("image,prompt\r\na.png,\"a cat, \"\"big\"\"\nand tall\"\n\nb.png,\n").unwrap();
        assert_eq!(
            rows,
            vec![
                (1, vec!["image".into(), "prompt".into()]),
                (2, vec!["a.png".into(), "a cat, \"big\"\nand tall".into()]),
                (5, vec!["b.png".into(), String::new()]),
            ]
        );
        assert!(csv_rows("a,\"b\n").unwrap_err().contains("never closed"));
        assert!(csv_rows("a,b\"c\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn a_csv_row_becomes_a_typed_job_line() {
        let lines = csv_lines(
            "image,output,duration,bgm,prompt\ncat.png,cat.mp4,5,yes,\n",
            "p.csv",
        )
        .unwrap();
        let (label, line) = &lines[0];
        assert_eq!(label, "p.csv line 2");
        assert_eq!(
            (line.duration, line.bgm, &line.prompt),
            (Some(5), Some(true), &None)
        );
        let e = csv_lines("image,output,colour\na.png,a.mp4,red\n", "p.csv").unwrap_err();
        assert!(
            e.starts_with("p.csv line 2: ") && e.contains("colour"),
            "{e}"
        );
        let e = csv_lines("image,output,seed\na.png,a.mp4,x\n", "p.csv").unwrap_err();
        assert_eq!(e, "p.csv line 2: seed \"x\": expected a whole number");
    }

    #[test]
    fn a_json_error_names_the_column_once() {
        let e = json_lines("\n{\"image\": 1}\n", "j.jsonl").unwrap_err();
        assert!(e.starts_with("j.jsonl line 2: column "), "{e}");
        assert!(!e.contains("at line"), "{e}");
    }
}
