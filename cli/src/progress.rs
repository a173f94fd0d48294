//! What stderr shows while a run goes on. On a terminal: a spinner (state, elapsed) for one
//! job, a bar (written, failed, running, queued, ETA) for a batch, with log records and notes
//! printed above it. Otherwise: plain lines, only when something changed, with no control
//! characters.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// The bar on screen, if any: lines written to stderr meanwhile go above it.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn active() -> Option<ProgressBar> {
    ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Prints `line` on stderr, above the bar if one is drawn.
pub fn note(line: &str) {
    match active() {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// Prints `line` on stdout, keeping the bar on stderr intact when both are the terminal.
pub fn out(line: &str) {
    match active() {
        Some(bar) => bar.suspend(|| println!("{line}")),
        None => println!("{line}"),
    }
}

/// Writes a log record's bytes on stderr, above the bar if one is drawn.
pub fn write_log(bytes: &[u8]) {
    use std::io::Write;
    let write = || {
        let _ = std::io::stderr().write_all(bytes);
    };
    match active() {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn show(bar: ProgressBar) -> ProgressBar {
    bar.enable_steady_tick(Duration::from_millis(120));
    *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
    bar
}

fn hide(bar: &Option<ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
        *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// One job: its state and the time since the start.
pub struct Spinner {
    bar: Option<ProgressBar>,
    start: Instant,
    last: String,
}

impl Spinner {
    pub fn new() -> Spinner {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(style("{spinner} {msg} {elapsed}"));
            bar.set_message("submitting");
            show(bar)
        });
        Spinner {
            bar,
            start: Instant::now(),
            last: String::new(),
        }
    }

    /// A poll's answer.
    pub fn update(&mut self, status: &vidu::TaskStatus) {
        let state = if status.state == vidu::State::Unknown {
            &status.raw_state
        } else {
            status.state.as_str()
        };
        // Only the providers that report progress (Vtrix) get a percentage.
        let pct = status
            .progress
            .map(|f| format!(" {:.0}%", f * 100.0))
            .unwrap_or_default();
        let line = format!("task {}: {state}{pct}", status.task_id);
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None if line != self.last => {
                eprintln!("{line} {:.1}s", self.start.elapsed().as_secs_f64());
                self.last = line;
            }
            None => {}
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        hide(&self.bar);
    }
}

/// A batch: how many jobs are written, failed, running and queued.
pub struct Bar {
    bar: Option<ProgressBar>,
    total: usize,
    start: Instant,
}

/// Where a batch stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub written: usize,
    pub failed: usize,
    pub running: usize,
}

impl Bar {
    pub fn new(total: usize) -> Bar {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(style(
                "{spinner} [{bar:30}] {pos}/{len} {msg} {elapsed} (ETA {eta})",
            ));
            show(bar)
        });
        Bar {
            bar,
            total,
            start: Instant::now(),
        }
    }

    /// The counts changed; `finished` when a job just ended (the plain output prints then).
    pub fn update(&self, c: Counts, finished: bool) {
        let queued = self.total.saturating_sub(c.written + c.failed + c.running);
        let line = format!(
            "{} written, {} failed, {} running, {queued} queued",
            c.written, c.failed, c.running
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position((c.written + c.failed) as u64);
                bar.set_message(line);
            }
            None if finished => {
                eprintln!("vidu: {line}, {:.0}s", self.start.elapsed().as_secs_f64())
            }
            None => {}
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        hide(&self.bar);
    }
}
