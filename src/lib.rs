//! # vidu
//!
//! A blocking client for the Vidu image-to-video task APIs: one still image and a prompt in,
//! one MP4 file out. It speaks three providers that sell the same models —
//! [UModelVerse](Provider::UModelVerse) (UCloud), the [Vtrix](Provider::Vtrix) gateway and the
//! [official Vidu API](Provider::Vidu) — and ships a built-in emulator of all three (the
//! `emulator` feature) so that everything can be tried offline. The examples below run against
//! it: no network, no account.
//!
//! ## One job
//!
//! A [`Client`] is made from a [`Config`] (provider, key, and everything else with a stated
//! default). [`Client::generate`] submits a [`Job`], waits for the task and writes the video:
//!
//! ```
//! # #[cfg(feature = "emulator")]
//! # fn main() -> Result<(), vidu::Error> {
//! use std::time::Duration;
//! use vidu::emulator::Emulator;
//! use vidu::{Client, Config, Job, PollSchedule, Provider, WaitOptions};
//!
//! let emulator = Emulator::start()?; // in production: leave the base URL at its default
//! let config = Config::new(Provider::Vidu, "my-api-key")
//!     .base_url(emulator.base_url())
//!     .poll(PollSchedule::new().first(Duration::from_millis(10))); // default: 2 s, growing
//! let client = Client::new(config)?;
//!
//! let job = Job::new("examples/sample.png").prompt("the cat turns its head").duration(4);
//! let video = std::env::temp_dir().join(format!("cat-{}.mp4", std::process::id()));
//! let done = client.generate(&job, &video, &mut WaitOptions::new())?;
//! println!("task {} written to {} ({} bytes)", done.task_id, done.path.display(), done.bytes);
//! # std::fs::remove_file(&video).unwrap();
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "emulator"))]
//! # fn main() {}
//! ```
//!
//! The image is a path, an `http(s)` URL or bytes ([`ImageSource`]); a local image is streamed
//! into the request body, never held whole. Every rule (model, duration, resolution, image
//! format and size...) is checked before anything is sent: [`Client::check`] runs the checks
//! alone. The steps are also there one by one: [`Client::submit`], [`Client::status`],
//! [`Client::wait`], [`Client::download`], [`Client::cancel`] (official API only), and
//! [`Client::resume`] to finish a task submitted earlier.
//!
//! [`WaitOptions`] say how long to wait, report progress after each poll, and carry a
//! [`CancelToken`] that stops a wait, a download or a submit's backoff from another thread:
//!
//! ```
//! # #[cfg(feature = "emulator")]
//! # fn main() -> Result<(), vidu::Error> {
//! use std::ops::ControlFlow;
//! use std::time::Duration;
//! use vidu::emulator::Emulator;
//! use vidu::{CancelToken, Client, Config, Job, PollSchedule, Provider, WaitOptions};
//!
//! # let emulator = Emulator::start()?;
//! # let config = Config::new(Provider::Vtrix, "my-api-key")
//! #     .base_url(emulator.base_url())
//! #     .poll(PollSchedule::new().first(Duration::from_millis(10)));
//! let client = Client::new(config)?;
//! let task_id = client.submit(&Job::new("examples/sample.png").prompt("waves"))?;
//!
//! let stop = CancelToken::new(); // clone it into a Ctrl-C handler, say
//! let mut polls = 0;
//! let mut wait = WaitOptions::new()
//!     .timeout(Some(Duration::from_secs(600)))
//!     .cancel(stop.clone())
//!     .on_progress(|p| {
//!         polls += 1;
//!         eprintln!("{} {}", p.status.state, p.status.progress.unwrap_or(0.0));
//!         ControlFlow::Continue(()) // Break(()) stops waiting
//!     });
//! let status = client.wait(&task_id, &mut wait)?;
//! drop(wait);
//! assert!(status.state.is_terminal() && polls > 0);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "emulator"))]
//! # fn main() {}
//! ```
//!
//! ## Errors and task ids
//!
//! Everything fails with one [`Error`] type: [`Error::kind`] is a stable category
//! ([`ErrorKind`]), `Display` says what to do next, and **once a task exists every error
//! carries its id** ([`Error::task_id`]): a timeout, a failed download or a cancelled wait
//! loses nothing paid for. Pick the task up again with [`Client::resume`]:
//!
//! ```
//! # #[cfg(feature = "emulator")]
//! # fn main() -> Result<(), vidu::Error> {
//! use std::time::Duration;
//! use vidu::emulator::{Emulator, EmulatorOptions, Scenario};
//! use vidu::{Client, Config, ErrorKind, Job, PollSchedule, Provider, WaitOptions};
//!
//! let emulator = Emulator::start_with(EmulatorOptions::new().scenario(Scenario::TaskFails))?;
//! let config = Config::new(Provider::UModelVerse, "my-api-key")
//!     .base_url(emulator.base_url())
//!     .poll(PollSchedule::new().first(Duration::from_millis(10)));
//! let client = Client::new(config)?;
//!
//! let video = std::env::temp_dir().join(format!("failed-{}.mp4", std::process::id()));
//! let job = Job::new("examples/sample.png").duration(99); // no model makes 99 s
//! let err = client.generate(&job, &video, &mut WaitOptions::new()).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidInput); // nothing was sent
//! assert_eq!(err.task_id(), None);
//!
//! let job = Job::new("examples/sample.png");
//! match client.generate(&job, &video, &mut WaitOptions::new()) {
//!     Ok(done) => println!("written: {}", done.path.display()),
//!     Err(e) if e.kind() == ErrorKind::TaskFailed => {
//!         // The provider's message, and the task to quote to its support.
//!         eprintln!("{e}");
//!         assert!(e.task_id().is_some());
//!     }
//!     Err(e) => match e.task_id() {
//!         Some(id) => eprintln!("{e}; later: client.resume({id:?}, ...)"),
//!         None => eprintln!("{e}"),
//!     },
//! }
//! assert!(!video.exists()); // the output path holds the whole video or nothing
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "emulator"))]
//! # fn main() {}
//! ```
//!
//! ## Many videos: a batch
//!
//! [`Client::run_batch`] runs many jobs from the calling thread: at most N tasks at once, each
//! video downloaded as soon as it is ready, and with a journal ([`BatchOptions::journal`]) a
//! run killed at any instant is finished by running it again, paying once per job. Every job
//! is checked before the first submit. See [`batch`]. For very many jobs,
//! [`Client::run_batch_from`] reads each job from a [`JobSource`] when it needs it and reports
//! each outcome as an event, holding about 300 bytes per job instead of the jobs.
//!
//! ```
//! # #[cfg(feature = "emulator")]
//! # fn main() -> Result<(), vidu::Error> {
//! use std::time::Duration;
//! use vidu::emulator::Emulator;
//! use vidu::{BatchJob, BatchOptions, Client, Config, Job, JobOutcome, PollSchedule, Provider};
//!
//! # let emulator = Emulator::start()?;
//! # let config = Config::new(Provider::Vidu, "my-api-key")
//! #     .base_url(emulator.base_url())
//! #     .poll(PollSchedule::new().first(Duration::from_millis(10)));
//! let client = Client::new(config)?;
//! let dir = std::env::temp_dir().join(format!("videos-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let jobs: Vec<BatchJob> = ["waves", "wind", "rain"]
//!     .into_iter()
//!     .map(|prompt| {
//!         let job = Job::new("examples/sample.png").prompt(prompt);
//!         BatchJob::new(job, dir.join(format!("{prompt}.mp4"))).label(prompt)
//!     })
//!     .collect();
//! let mut options = BatchOptions::default().concurrency(2);
//! for outcome in client.run_batch(&jobs, &mut options)? {
//!     match outcome {
//!         JobOutcome::Written { task_id, path, .. } => println!("{task_id}: {}", path.display()),
//!         other => eprintln!("{other:?} (task {:?})", other.task_id()),
//!     }
//! }
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "emulator"))]
//! # fn main() {}
//! ```
//!
//! ## Testing offline
//!
//! With the `emulator` feature (for tests: `[dev-dependencies] vidu = { version = "…",
//! features = ["emulator"] }`), `vidu::emulator::Emulator` serves the three providers' APIs
//! on `127.0.0.1`; point [`Config::base_url`] at it. Scenarios and faults reproduce failed
//! tasks, throttling, resets, cut downloads, expired URLs and malformed answers, and
//! `Emulator::stats` tells what it saw. Nothing in it is needed in production.
//!
//! ## From C and C++
//!
//! The `capi` feature is a C ABI over this crate (`vidu::ffi`), declared in the committed
//! `include/vidu.h` (and a C++17 wrapper, `include/vidu.hpp`), with the same operations under
//! the same names: `vidu_client_generate`, `vidu_client_cancel`, `vidu_error_task_id`... Build
//! and install the library with `make -C examples/c install PREFIX=...` (or cargo-c); see the
//! README.
//!
//! ## Features
//!
//! | feature | what it adds | default |
//! |---|---|---|
//! | `emulator` | `vidu::emulator`, the offline emulator of the three providers | off |
//! | `capi` | `vidu::ffi`, the C ABI of `include/vidu.h` | off |
//!
//! ## Threads
//!
//! A [`Client`] is `Send + Sync` and `Clone` (a clone shares the connection pool): share one
//! between threads; its calls go through one connection pool. A [`CancelToken`] may be triggered from any thread.
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod account;
mod auth;
pub mod batch;
mod cancel;
mod client;
mod config;
mod download;
mod error;
pub mod image;
mod job;
mod jobs;
pub mod journal;
mod lost_submit;
pub mod model;
mod provider;
mod retry;
mod status;
mod submission;
mod transport;

#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub mod emulator;

#[cfg(feature = "capi")]
#[cfg_attr(docsrs, doc(cfg(feature = "capi")))]
pub mod ffi;

#[doc(hidden)]
pub mod fuzzing;

pub use account::{CreditRemain, Credits, TaskPage, TaskQuery};
pub use auth::{ApiKey, AuthScheme};
pub use batch::{
    BatchCallback, BatchEvent, BatchJob, BatchOptions, BatchSummary, JobOutcome, JobSource,
};
pub use cancel::CancelToken;
pub use client::{Client, Generated, Progress, ProgressCallback, WaitOptions};
pub use config::{CaCertificates, Config, Timeouts, TrustStore, MAX_CONFIG_DURATION};
pub use error::{Error, ErrorKind, Result, TransportError};
pub use image::{ImageFormat, ImageSource};
pub use job::{Job, MovementAmplitude};
pub use journal::Journal;
pub use provider::Provider;
pub use retry::{PollSchedule, RetryPolicy};
pub use status::{State, TaskStatus};
pub use submission::Submission;

/// The crate version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

// What the docs promise about threads, checked at compile time.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn clone_send_sync<T: Clone + Send + Sync>() {}
    clone_send_sync::<Client>();
    send_sync::<Config>();
    send_sync::<CancelToken>();
    send_sync::<Error>();
    send_sync::<TaskStatus>();
    send_sync::<Job<'static>>();
    #[cfg(feature = "emulator")]
    send_sync::<emulator::Emulator>();
};

/// The README's Rust examples, compiled as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
