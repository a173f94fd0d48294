//! A local emulator of the three provider APIs, for tests and offline use.
//!
//! [`Emulator::start`] binds two servers on `127.0.0.1`: the API origin
//! ([`Emulator::base_url`]) serves the UModelVerse, Vtrix and official Vidu routes side by side
//! (their paths differ), and the video origin ([`Emulator::video_base_url`]) serves the MP4 of
//! every successful task ([`Emulator::video_bytes`]). [`Fault`]s inject trouble per route,
//! provider, task and attempt; a [`Scenario`] is a named preset of them.
//! [`Emulator::stats`] tells what the emulator saw.
//!
//! The emulator is written from the provider documents only (`src/emulator/PROTOCOLS.md`) and
//! shares no wire code with the client: it exists to check the client.
//!
//! ```
//! use vidu::emulator::{Emulator, EmulatorOptions, Fault, Route, Scenario};
//!
//! let emulator = Emulator::start_with(
//!     EmulatorOptions::new()
//!         .api_key("secret")
//!         .scenario(Scenario::Normal)
//!         // The first submit is throttled; the client should wait and retry.
//!         .fault(Fault::on(Route::Submit).times(1).error(429).retry_after(1)),
//! )?;
//! assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
//! assert_ne!(emulator.base_url(), emulator.video_base_url());
//! assert_eq!(emulator.stats().submits, 0);
//! # Ok::<(), vidu::Error>(())
//! ```
//!
//! Routes of the API origin:
//!
//! | provider | submit | status | other |
//! |---|---|---|---|
//! | UModelVerse | `POST /v1/tasks/submit` | `GET /v1/tasks/status?task_id=<id>` | — |
//! | Vtrix | `POST /model/v1/generation` | `GET /model/v1/generation/task/<id>` | — |
//! | Vidu | `POST /ent/v2/img2video` | `GET /ent/v2/tasks/<id>/creations` | `POST /ent/v2/tasks/<id>/cancel`, `GET /ent/v2/tasks`, `GET /ent/v2/credits` |
//!
//! Tasks advance by polls (the default: after [`EmulatorOptions::polls_per_state`] status
//! reports in an intermediate state, the next report shows the next state; a task list
//! entry is a report too) or by time ([`EmulatorOptions::state_duration`]). At most
//! [`EmulatorOptions::concurrency_limit`] tasks run at once; the rest wait in the queue state
//! (`queueing`, `Pending`, `pending`). Video URLs look like
//! `<video origin>/videos/<task id>.mp4?sig=<n>`.
//!
//! Layout: `http.rs` transport, `routes.rs` the request flow, `provider.rs` the trait each
//! provider file implements (`umodelverse.rs`, `vtrix.rs`, `vidu.rs`), `tasks.rs` the state
//! machine, `faults.rs` and `scenario.rs` the trouble, `video.rs` the video origin,
//! `image_check.rs` the image rules. A fourth provider is one new file plus a row in
//! `provider::PROVIDERS`.

mod faults;
mod http;
mod image_check;
mod provider;
mod routes;
mod scenario;
mod tasks;
mod umodelverse;
mod video;
mod vidu;
mod vtrix;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

pub use faults::{Effect, Fault, Route, TaskMatch};
pub(crate) use http::{parse_request, MAX_BODY};
pub use scenario::{Scenario, UnknownScenario};

use tasks::{Pace, Task, Tasks};

/// The MP4 every successful task yields: one second of a 128x128 test pattern, H.264.
static SAMPLE_MP4: &[u8] = include_bytes!("sample.mp4");

/// A running emulator. Dropping it stops both servers and joins their threads.
///
/// ```
/// use std::time::Duration;
/// use vidu::emulator::{Emulator, EmulatorOptions};
/// use vidu::{Client, Config, Job, PollSchedule, Provider, State, WaitOptions};
///
/// // Tasks end at the first poll; any non-empty key is accepted.
/// let emulator = Emulator::start_with(EmulatorOptions::new().polls_per_state(0))?;
/// let config = Config::new(Provider::Vidu, "test-key")
///     .base_url(emulator.base_url())
///     .poll(PollSchedule::new().first(Duration::from_millis(10)));
/// let client = Client::new(config)?;
/// let task_id = client.submit(&Job::new("examples/sample.png"))?;
/// let status = client.wait(&task_id, &mut WaitOptions::new())?;
/// assert_eq!(status.state, State::Succeeded);
/// assert_eq!(emulator.stats().submits, 1);
/// # Ok::<(), vidu::Error>(())
/// ```
pub struct Emulator {
    shared: Arc<Shared>,
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

/// How an [`Emulator`] behaves. Start from [`EmulatorOptions::new`] (or `default()`) and
/// change what you need with the builder methods, which state the defaults.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// The only API key accepted (with each provider's own scheme). `None` (the default):
    /// any non-empty key is accepted, still with the right scheme.
    pub api_key: Option<String>,
    /// A preset of trouble. Default [`Scenario::Normal`] (none).
    pub scenario: Scenario,
    /// Status reports a task gives in each intermediate state (poll pace). Default 1; 0 makes
    /// the first poll report the terminal state. Ignored when `state_duration` is set.
    pub polls_per_state: u32,
    /// Time pace: each intermediate state lasts this long, however often it is polled.
    /// Default `None`: poll pace.
    pub state_duration: Option<Duration>,
    /// Tasks running at once, over the emulator (an organisation, on the official API); the
    /// others wait in the queue state. Default 5; `u32::MAX`: no limit.
    pub concurrency_limit: u32,
    /// Faults, tried before the scenario's, in order. Default none.
    pub faults: Vec<Fault>,
    /// Credits of the account (`GET /ent/v2/credits`); each task costs twice its duration.
    /// Default 100,000.
    pub credits: u64,
    /// Serve a synthetic video of this many bytes (generated while sent, never held in
    /// memory; see [`Emulator::synthetic_video_byte`]) instead of the sample MP4. Default
    /// `None`.
    pub video_size: Option<u64>,
    /// Connections that send nothing for this long are closed. Default 30 s.
    pub idle_timeout: Duration,
    /// Connections served at once, per origin; more are answered 503 and closed.
    /// Default 256.
    pub max_connections: usize,
    /// The video origin sends at most this many bytes per second on each connection (a
    /// distant CDN). Default `None`: as fast as it can.
    pub video_rate: Option<u64>,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            api_key: None,
            scenario: Scenario::Normal,
            polls_per_state: 1,
            state_duration: None,
            concurrency_limit: 5,
            faults: Vec::new(),
            credits: 100_000,
            video_size: None,
            idle_timeout: Duration::from_secs(30),
            max_connections: 256,
            video_rate: None,
        }
    }
}

impl EmulatorOptions {
    /// The defaults: any key, no faults, one poll per state, 5 tasks at once.
    pub fn new() -> EmulatorOptions {
        EmulatorOptions::default()
    }

    /// Accepts only this key. Default: any non-empty key.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Uses a preset. Default [`Scenario::Normal`].
    pub fn scenario(mut self, scenario: Scenario) -> Self {
        self.scenario = scenario;
        self
    }

    /// Poll pace with `n` reports per state. Default 1.
    pub fn polls_per_state(mut self, n: u32) -> Self {
        self.polls_per_state = n;
        self
    }

    /// Time pace: each state lasts `d`. Default: poll pace.
    pub fn state_duration(mut self, d: Duration) -> Self {
        self.state_duration = Some(d);
        self
    }

    /// Tasks running at once. Default 5; `u32::MAX`: no limit.
    pub fn concurrency_limit(mut self, n: u32) -> Self {
        self.concurrency_limit = n;
        self
    }

    /// Adds a fault (tried before the scenario's, in the order added). Default none.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// The account's credits. Default 100,000.
    pub fn credits(mut self, n: u64) -> Self {
        self.credits = n;
        self
    }

    /// Serves a synthetic video of `bytes` bytes. Default: the sample MP4.
    pub fn video_size(mut self, bytes: u64) -> Self {
        self.video_size = Some(bytes);
        self
    }

    /// Closes connections idle this long. Default 30 s.
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Connections served at once per origin. Default 256.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Sends videos at most `bytes_per_sec` per connection. Default: as fast as it can.
    pub fn video_rate(mut self, bytes_per_sec: u64) -> Self {
        self.video_rate = Some(bytes_per_sec);
        self
    }
}

/// What an [`Emulator`] has seen so far ([`Emulator::stats`] takes a snapshot).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Submit requests that created a task (including those a fault reset unanswered).
    pub submits: u32,
    /// Submit requests answered with a 4xx status by validation or authentication.
    pub rejected_submits: u32,
    /// Requests that reached a submit route, whatever the answer.
    pub submit_requests: u32,
    /// Requests that reached a status route, whatever the answer (429, 503, 404 included).
    pub status_polls: u32,
    /// Requests that reached the task list, `GET /ent/v2/tasks`.
    pub list_calls: u32,
    /// Requests that reached `GET /ent/v2/credits`.
    pub credits_calls: u32,
    /// Requests that reached the Vidu cancel route, whatever the answer.
    pub cancels: u32,
    /// `GET` requests on the video origin.
    pub video_gets: u32,
    /// TCP connections accepted on the API origin.
    pub api_connections: u32,
    /// TCP connections accepted on the video origin.
    pub video_connections: u32,
    /// Connections refused (503) on either origin because `max_connections` were open.
    pub refused_connections: u32,
    /// Every request that reached the video origin, in order: the first
    /// [`MAX_RECORDED_VIDEO_REQUESTS`] of them (`video_gets` counts them all).
    pub video_requests: Vec<RecordedRequest>,
    /// Tasks queued or running now.
    pub unfinished_tasks: u32,
    /// The longest time between two consecutive status reports (polls or task-list entries)
    /// of one task that was unfinished at the first of them: how late a client's polls came.
    pub longest_report_gap: Duration,
    /// The last request that reached a submit route, accepted or rejected.
    pub last_submit: Option<SubmitRecord>,
}

/// The most video requests [`Stats::video_requests`] keeps: a batch of 100,000 videos would
/// otherwise hold a record of each.
pub const MAX_RECORDED_VIDEO_REQUESTS: usize = 1_000;

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
    pub fn start() -> crate::Result<Emulator> {
        Emulator::start_with(EmulatorOptions::default())
    }

    /// Starts an emulator: binds the API origin and the video origin on `127.0.0.1`, each on a
    /// free port. Fails with [`crate::Error::Io`] when a socket or thread cannot be had.
    pub fn start_with(options: EmulatorOptions) -> crate::Result<Emulator> {
        Emulator::try_start(options).map_err(|source| crate::Error::Io {
            action: "starting the emulator on",
            path: PathBuf::from("127.0.0.1"),
            source,
            task_id: None,
        })
    }

    fn try_start(options: EmulatorOptions) -> std::io::Result<Emulator> {
        let pace = match options.state_duration {
            Some(d) => Pace::Time(d),
            None => Pace::Polls(options.polls_per_state),
        };
        let mut faults = options.faults.clone();
        faults.extend(options.scenario.faults());
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                stats: Stats::default(),
                tasks: Tasks::new(pace, options.concurrency_limit),
                faults: faults::Faults::new(faults),
            }),
            options,
            api_base: OnceLock::new(),
            video_base: OnceLock::new(),
            counter: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            api_connections: AtomicU32::new(0),
            video_connections: AtomicU32::new(0),
            refused_connections: AtomicU32::new(0),
        });
        let limits = http::Limits {
            idle_timeout: shared.options.idle_timeout,
            max_connections: shared.options.max_connections,
            body_rate: None,
        };
        let api = {
            let s = shared.clone();
            http::Server::start(
                Arc::new(move |req| routes::handle(&s, req)),
                Arc::new(Connections {
                    shared: shared.clone(),
                    video: false,
                }),
                limits,
            )?
        };
        let video = {
            let s = shared.clone();
            http::Server::start(
                Arc::new(move |req| video::handle(&s, req)),
                Arc::new(Connections {
                    shared: shared.clone(),
                    video: true,
                }),
                http::Limits {
                    body_rate: shared.options.video_rate,
                    ..limits
                },
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

    /// The sample MP4 successful tasks yield without [`EmulatorOptions::video_size`] (a few
    /// KB, a real H.264 file).
    pub fn video_bytes() -> &'static [u8] {
        SAMPLE_MP4
    }

    /// The length of the video this emulator serves.
    pub fn video_len(&self) -> u64 {
        self.shared.video_len()
    }

    /// Byte `offset` of the synthetic video of [`EmulatorOptions::video_size`], to check a
    /// download without holding it.
    pub fn synthetic_video_byte(offset: u64) -> u8 {
        http::synthetic_byte(offset)
    }

    /// A snapshot of what the emulator has seen so far.
    pub fn stats(&self) -> Stats {
        let state = self.shared.lock();
        let mut stats = state.stats.clone();
        stats.unfinished_tasks = state.tasks.in_flight();
        stats.longest_report_gap = state.tasks.longest_report_gap();
        drop(state);
        stats.api_connections = self.shared.api_connections.load(Ordering::SeqCst);
        stats.video_connections = self.shared.video_connections.load(Ordering::SeqCst);
        stats.refused_connections = self.shared.refused_connections.load(Ordering::SeqCst);
        stats
    }

    /// The options it runs with.
    pub fn options(&self) -> &EmulatorOptions {
        &self.shared.options
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Stalled handlers see this and return; each server's own Drop stops its accept loop
        // and joins its connection threads.
        self.shared.stopping.store(true, Ordering::SeqCst);
        drop(self.api.take());
        drop(self.video.take());
    }
}

/// Counts an origin's connections.
struct Connections {
    shared: Arc<Shared>,
    video: bool,
}

impl http::Observer for Connections {
    fn accepted(&self) {
        let counter = if self.video {
            &self.shared.video_connections
        } else {
            &self.shared.api_connections
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    fn refused(&self) {
        self.shared
            .refused_connections
            .fetch_add(1, Ordering::SeqCst);
    }
}

/// Mutable state behind one lock.
pub(crate) struct State {
    pub stats: Stats,
    pub tasks: Tasks,
    pub faults: faults::Faults,
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub options: EmulatorOptions,
    api_base: OnceLock<String>,
    video_base: OnceLock<String>,
    state: Mutex<State>,
    /// Request ids and task serials.
    counter: AtomicU64,
    stopping: AtomicBool,
    api_connections: AtomicU32,
    video_connections: AtomicU32,
    refused_connections: AtomicU32,
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

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn serial(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub(crate) fn request_id(&self) -> String {
        format!("req-{:08x}", self.serial())
    }

    pub(crate) fn video_len(&self) -> u64 {
        self.options.video_size.unwrap_or(SAMPLE_MP4.len() as u64)
    }

    /// The URL a successful task reports for its video.
    pub(crate) fn video_url(&self, task: &Task) -> String {
        let origin = if task.fate.redirect {
            self.api_base()
        } else {
            self.video_base()
        };
        format!("{origin}/videos/{}.mp4?sig={}", task.id, task.sig)
    }
}

/// splitmix64: ids that do not look sequential.
pub(crate) fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Emulator>();
    is::<Stats>();
    is::<EmulatorOptions>();
}

#[cfg(test)]
mod tests;
