//! A local emulator of the three provider APIs, for tests and offline use.
//!
//! [`Emulator::start`] binds two servers on `127.0.0.1`: the API origin
//! ([`Emulator::base_url`]) serves the UModelVerse, Vtrix and official Vidu routes side by side
//! (their paths differ), and the video origin ([`Emulator::video_base_url`]) serves the MP4 of
//! every successful task ([`Emulator::video_bytes`]). A [`Scenario`] injects one kind of
//! trouble; [`Emulator::stats`] tells what the emulator saw.
//!
//! The emulator is written from the provider documents only and shares no wire code with the
//! client: it exists to check the client.
//!
//! ```
//! use vidu::emulator::{Emulator, EmulatorOptions, Scenario};
//!
//! let emulator = Emulator::start_with(EmulatorOptions {
//!     api_key: Some("secret".into()),
//!     scenario: Scenario::Normal,
//!     ..EmulatorOptions::default()
//! })?;
//! assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
//! assert_ne!(emulator.base_url(), emulator.video_base_url());
//! assert_eq!(emulator.stats().submits, 0);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Routes of the API origin:
//!
//! | provider | submit | status | cancel |
//! |---|---|---|---|
//! | UModelVerse | `POST /v1/tasks/submit` | `GET /v1/tasks/status?task_id=<id>` | — |
//! | Vtrix | `POST /model/v1/generation` | `GET /model/v1/generation/task/<id>` | — |
//! | Vidu | `POST /ent/v2/img2video` | `GET /ent/v2/tasks/<id>/creations` | `POST /ent/v2/tasks/<id>/cancel` |
//!
//! Each status poll moves a task on by one poll; after [`EmulatorOptions::polls_per_state`]
//! polls in an intermediate state it enters the next one. Video URLs look like
//! `<video origin>/videos/<task id>.mp4?sig=<n>`.

mod api;
mod http;
mod image_check;
mod video;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The MP4 every successful task yields: one second of a 128x128 test pattern, H.264.
static SAMPLE_MP4: &[u8] = include_bytes!("sample.mp4");

/// A running emulator. Dropping it stops both servers and joins their threads.
pub struct Emulator {
    shared: Arc<Shared>,
    // Declared after `shared` only for clarity; both servers are stopped in `Drop`.
    api: Option<http::Server>,
    video: Option<http::Server>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url())
            .field("video_base_url", &self.video_base_url())
            .field("options", &self.shared.options)
            .finish()
    }
}

/// How an [`Emulator`] behaves.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// The only API key accepted (with each provider's own scheme). `None` (the default):
    /// any non-empty key is accepted, still with the right scheme.
    pub api_key: Option<String>,
    /// The trouble to inject. Default [`Scenario::Normal`].
    pub scenario: Scenario,
    /// Status polls a task spends in each intermediate state. Default 1; 0 makes the first
    /// poll report the terminal state.
    pub polls_per_state: u32,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            api_key: None,
            scenario: Scenario::Normal,
            polls_per_state: 1,
        }
    }
}

/// The trouble an [`Emulator`] injects. "Status polls" count over the whole emulator, for
/// every provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scenario {
    /// Tasks walk through the provider's own intermediate states and succeed.
    Normal,
    /// Tasks end failed, with a provider-shaped error code and message.
    TaskFails,
    /// The first `times` status polls answer 429 with `Retry-After: <retry_after_secs>`.
    Throttled {
        /// How many polls are refused.
        times: u32,
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u32,
    },
    /// The first `times` status polls answer 503.
    Unavailable {
        /// How many polls are refused.
        times: u32,
    },
    /// Every valid submit is read to the end and creates a task, then the connection is closed
    /// without an answer.
    ResetAfterSubmit,
    /// Tasks stay in their last intermediate (running) state forever.
    NeverFinishes,
    /// The first video GET announces the full `Content-Length` but the connection closes after
    /// half the bytes; later `Range` requests are honoured (206 + `Content-Range`).
    CutDownload,
    /// Like [`Scenario::CutDownload`], but later `Range` requests are ignored (200 with the
    /// whole body).
    CutDownloadIgnoresRange,
    /// Result URLs point at the API origin, which answers 302 to the video origin.
    RedirectVideo,
    /// The first video URL of each task answers 403 (expired signature); the next status poll
    /// returns a fresh URL that works.
    ExpiredUrl,
    /// The first `times` status polls answer 200 with JSON cut short; `u32::MAX` means always.
    MalformedStatus {
        /// How many polls are malformed.
        times: u32,
    },
    /// The first `times` status polls report a state no document lists (without moving the
    /// task on), then tasks proceed normally.
    UnknownState {
        /// How many polls report the unknown state.
        times: u32,
    },
}

/// Kebab-case names, in the order of [`Scenario::names`].
const SCENARIO_NAMES: &[&str] = &[
    "normal",
    "task-fails",
    "throttled",
    "unavailable",
    "reset-after-submit",
    "never-finishes",
    "cut-download",
    "cut-download-ignores-range",
    "redirect-video",
    "expired-url",
    "malformed-status",
    "unknown-state",
];

impl Scenario {
    /// The names [`FromStr`] accepts.
    pub fn names() -> &'static [&'static str] {
        SCENARIO_NAMES
    }
}

/// The error of [`Scenario::from_str`]: the name is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown scenario {:?}; known scenarios: {}",
            self.0,
            SCENARIO_NAMES.join(", ")
        )
    }
}

impl std::error::Error for UnknownScenario {}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    /// Parses a kebab-case name. Counted scenarios get fixed counts: `throttled` is 1 poll
    /// with `Retry-After: 1`, `unavailable` 2 polls, `malformed-status` always,
    /// `unknown-state` 2 polls.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "normal" => Scenario::Normal,
            "task-fails" => Scenario::TaskFails,
            "throttled" => Scenario::Throttled {
                times: 1,
                retry_after_secs: 1,
            },
            "unavailable" => Scenario::Unavailable { times: 2 },
            "reset-after-submit" => Scenario::ResetAfterSubmit,
            "never-finishes" => Scenario::NeverFinishes,
            "cut-download" => Scenario::CutDownload,
            "cut-download-ignores-range" => Scenario::CutDownloadIgnoresRange,
            "redirect-video" => Scenario::RedirectVideo,
            "expired-url" => Scenario::ExpiredUrl,
            "malformed-status" => Scenario::MalformedStatus { times: u32::MAX },
            "unknown-state" => Scenario::UnknownState { times: 2 },
            other => return Err(UnknownScenario(other.to_string())),
        })
    }
}

/// What an [`Emulator`] has seen so far ([`Emulator::stats`] takes a snapshot).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Submit requests that created a task (including those of
    /// [`Scenario::ResetAfterSubmit`], which are never answered).
    pub submits: u32,
    /// Submit requests answered with a 4xx status.
    pub rejected_submits: u32,
    /// Requests that reached a status route, whatever the answer (429, 503, 404 included).
    pub status_polls: u32,
    /// Requests that reached the Vidu cancel route, whatever the answer.
    pub cancels: u32,
    /// TCP connections accepted on the API origin.
    pub api_connections: u32,
    /// TCP connections accepted on the video origin.
    pub video_connections: u32,
    /// Every request that reached the video origin, in order.
    pub video_requests: Vec<RecordedRequest>,
    /// The last request that reached a submit route, accepted or rejected.
    pub last_submit: Option<SubmitRecord>,
}

/// One request the video origin received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target as sent: path and query (`/videos/<id>.mp4?sig=1`).
    pub path: String,
    /// Headers in arrival order, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The status the emulator answered.
    pub status: u16,
}

impl RecordedRequest {
    /// The first header with this name (give it lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A submit request as the emulator received it.
#[derive(Clone, Debug)]
pub struct SubmitRecord {
    /// `"umodelverse"`, `"vtrix"` or `"vidu"`.
    pub provider: &'static str,
    /// The `Authorization` header as received (empty when absent).
    pub authorization: String,
    /// The JSON body with the image string replaced by `"<image>"`; `Null` when the body was
    /// not JSON.
    pub json: serde_json::Value,
    /// `url:<the url>` or `data:image/png;<decoded byte count>` (`data:<type>;invalid` when it
    /// does not decode, `other:<first chars>` for anything else, empty when absent).
    pub image: String,
    /// The body length in bytes.
    pub body_len: u64,
    /// Headers in arrival order, names lower-case.
    pub headers: Vec<(String, String)>,
}

impl SubmitRecord {
    /// The first header with this name (give it lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Emulator {
    /// Starts an emulator with [`EmulatorOptions::default`].
    pub fn start() -> std::io::Result<Emulator> {
        Emulator::start_with(EmulatorOptions::default())
    }

    /// Starts an emulator: binds the API origin and the video origin on `127.0.0.1`, each on a
    /// free port.
    pub fn start_with(options: EmulatorOptions) -> std::io::Result<Emulator> {
        let shared = Arc::new(Shared {
            options,
            api_base: OnceLock::new(),
            video_base: OnceLock::new(),
            state: Mutex::default(),
            api_connections: AtomicU32::new(0),
            video_connections: AtomicU32::new(0),
        });
        let api = {
            let (s1, s2) = (shared.clone(), shared.clone());
            http::Server::start(
                Arc::new(move |req: &http::Request| api::handle(&s1, req)),
                Arc::new(move || {
                    s2.api_connections.fetch_add(1, Ordering::SeqCst);
                }),
            )?
        };
        let video = {
            let (s1, s2) = (shared.clone(), shared.clone());
            http::Server::start(
                Arc::new(move |req: &http::Request| video::handle(&s1, req)),
                Arc::new(move || {
                    s2.video_connections.fetch_add(1, Ordering::SeqCst);
                }),
            )?
        };
        let _ = shared
            .api_base
            .set(format!("http://127.0.0.1:{}", api.addr().port()));
        let _ = shared
            .video_base
            .set(format!("http://127.0.0.1:{}", video.addr().port()));
        Ok(Emulator {
            shared,
            api: Some(api),
            video: Some(video),
        })
    }

    /// The API origin, `http://127.0.0.1:<port>`, serving all three providers' routes.
    pub fn base_url(&self) -> String {
        self.shared.api_base()
    }

    /// The video origin, `http://127.0.0.1:<other port>`, serving the result MP4s.
    pub fn video_base_url(&self) -> String {
        self.shared.video_base()
    }

    /// The MP4 every successful task yields (a few KB, a real H.264 file).
    pub fn video_bytes() -> &'static [u8] {
        SAMPLE_MP4
    }

    /// A snapshot of what the emulator has seen so far.
    pub fn stats(&self) -> Stats {
        let mut stats = self.shared.lock().stats.clone();
        stats.api_connections = self.shared.api_connections.load(Ordering::SeqCst);
        stats.video_connections = self.shared.video_connections.load(Ordering::SeqCst);
        stats
    }

    /// The options it runs with.
    pub fn options(&self) -> &EmulatorOptions {
        &self.shared.options
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Each server's own Drop stops its accept loop and joins its connection threads.
        drop(self.api.take());
        drop(self.video.take());
    }
}

/// The provider a route belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provider {
    UModelVerse,
    Vtrix,
    Vidu,
}

impl Provider {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Provider::UModelVerse => "umodelverse",
            Provider::Vtrix => "vtrix",
            Provider::Vidu => "vidu",
        }
    }

    /// The provider's own intermediate states, in order.
    pub(crate) fn intermediate_states(self) -> &'static [&'static str] {
        match self {
            Provider::UModelVerse => &["Pending", "Running"],
            Provider::Vtrix => &["pending", "in_progress"],
            Provider::Vidu => &["created", "queueing", "processing"],
        }
    }
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failed,
    Cancelled,
}

/// Where a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Index into [`Provider::intermediate_states`].
    Running(usize),
    Done(Outcome),
}

/// One task.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub provider: Provider,
    pub id: String,
    /// The model as the provider reports it (Vtrix: the customer-facing id).
    pub model: String,
    pub duration: u32,
    pub payload: String,
    pub phase: Phase,
    /// Polls already spent in the current phase.
    pub polls_in_phase: u32,
    pub created_unix: u64,
    pub finished_unix: u64,
    /// The current video URL signature; [`Scenario::ExpiredUrl`] bumps it.
    pub sig: u32,
    /// A number for ids derived from the task (Vtrix `jobId`, Vidu creation id).
    pub serial: u64,
}

/// Mutable state behind one lock.
#[derive(Default)]
pub(crate) struct State {
    pub stats: Stats,
    pub tasks: HashMap<String, Task>,
    pub next_serial: u64,
    /// Status polls answered by a scenario fault so far.
    pub faulted_polls: u32,
    /// Video GETs answered with the body so far (for the cut scenarios).
    pub video_gets: u32,
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub options: EmulatorOptions,
    api_base: OnceLock<String>,
    video_base: OnceLock<String>,
    state: Mutex<State>,
    api_connections: AtomicU32,
    video_connections: AtomicU32,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn api_base(&self) -> String {
        self.api_base.get().cloned().unwrap_or_default()
    }

    pub(crate) fn video_base(&self) -> String {
        self.video_base.get().cloned().unwrap_or_default()
    }

    /// The URL a successful task reports for its video.
    pub(crate) fn video_url(&self, task: &Task) -> String {
        let origin = if self.options.scenario == Scenario::RedirectVideo {
            self.api_base()
        } else {
            self.video_base()
        };
        format!("{origin}/videos/{}.mp4?sig={}", task.id, task.sig)
    }
}

impl Task {
    /// Reports the phase for this poll and counts the poll: after `polls_per_state` polls in
    /// an intermediate state the task enters the next one.
    pub(crate) fn poll(&mut self, options: &EmulatorOptions) -> Phase {
        let states = self.provider.intermediate_states().len();
        while let Phase::Running(i) = self.phase {
            if options.scenario == Scenario::NeverFinishes && i + 1 == states {
                break;
            }
            if self.polls_in_phase < options.polls_per_state {
                break;
            }
            self.polls_in_phase = 0;
            self.phase = if i + 1 < states {
                Phase::Running(i + 1)
            } else {
                self.finished_unix = unix_now();
                Phase::Done(if options.scenario == Scenario::TaskFails {
                    Outcome::Failed
                } else {
                    Outcome::Success
                })
            };
        }
        self.polls_in_phase = self.polls_in_phase.saturating_add(1);
        self.phase
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Emulator>();
    is::<Stats>();
    is::<EmulatorOptions>();
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Now as RFC 3339 with microseconds, like `2025-01-01T15:41:31.968916Z`.
pub(crate) fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        now.subsec_micros()
    )
}

#[cfg(test)]
mod tests;
