//! # vidu
//!
//! A blocking client for the Vidu image-to-video task APIs: one still image and a prompt in,
//! one MP4 file out. It speaks three providers that sell the same models —
//! [UModelVerse](Provider::UModelVerse) (UCloud), the [Vtrix](Provider::Vtrix) gateway and the
//! [official Vidu API](Provider::Vidu) — and ships a built-in [emulator] of all three so that
//! everything can be tried offline.
//!
//! ```no_run
//! use vidu::{Client, Config, Job, Provider, WaitOptions};
//!
//! let client = Client::new(Config::new(Provider::Vidu, "my-api-key"))?;
//! let job = Job::new("examples/sample.png").prompt("the cat turns its head");
//! let done = client.generate(&job, "cat.mp4", &mut WaitOptions::default())?;
//! println!("task {} written to {}", done.task_id, done.path.display());
//! # Ok::<(), vidu::Error>(())
//! ```
//!
//! The layers, each in its own module: [`provider`] builds requests and parses responses
//! without I/O, one file per provider; [`image`] sniffs and streams images; [`Client`] does the
//! I/O over one shared `ureq::Agent`; `ffi` is the C ABI (see `include/vidu.h`). See
//! `ARCHITECTURE.md` for the map.
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

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
pub mod provider;
mod retry;
mod status;
mod submission;
mod transport;

#[cfg(feature = "emulator")]
pub mod emulator;

#[cfg(feature = "capi")]
pub mod ffi;

#[doc(hidden)]
pub mod fuzzing;

pub use account::{CreditRemain, Credits, TaskPage, TaskQuery};
pub use auth::{ApiKey, AuthScheme};
pub use batch::{BatchCallback, BatchEvent, BatchJob, BatchOptions, JobOutcome};
pub use cancel::CancelToken;
pub use client::{Client, Generated, Progress, ProgressCallback, WaitOptions};
pub use config::{Config, Timeouts, MAX_CONFIG_DURATION};
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

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Client>();
    is::<CancelToken>();
    is::<Error>();
}

/// The README's Rust examples, compiled as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
