//! The client: submit, status, wait, cancel, download, generate, over one shared `ureq::Agent`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::Result;
use crate::job::Job;
use crate::provider::Provider;
use crate::status::TaskStatus;

/// A client for one provider. `Send + Sync`: share it between threads; polls reuse one
/// connection pool.
pub struct Client {
    config: Config,
    agent: ureq::Agent,
}

/// What the progress callback sees after each poll.
#[derive(Debug)]
pub struct Progress<'s> {
    /// The status just polled.
    pub status: &'s TaskStatus,
    /// Time since the wait started.
    pub elapsed: Duration,
    /// Polls made so far in this wait.
    pub polls: u32,
}

/// How to wait for a task.
#[derive(Default)]
pub struct WaitOptions<'a> {
    /// Give up after this long, returning [`crate::Error::Timeout`] with the task id and last
    /// status. Default: no deadline.
    pub timeout: Option<Duration>,
    /// Stops the wait from another thread, at once.
    pub cancel: Option<CancelToken>,
    /// Called on the waiting thread after each poll; return false to stop waiting.
    pub on_progress: Option<Box<dyn FnMut(&Progress<'_>) -> bool + 'a>>,
}

/// The result of [`Client::generate`].
#[derive(Clone, Debug)]
pub struct Generated {
    /// The provider's task id.
    pub task_id: String,
    /// Where the video was written.
    pub path: PathBuf,
    /// Size of the video in bytes.
    pub bytes: u64,
    /// The final status.
    pub status: TaskStatus,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Checks `config` and builds the client.
    pub fn new(config: Config) -> Result<Client> {
        todo!()
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The provider.
    pub fn provider(&self) -> Provider {
        self.config.provider
    }
    /// Runs every check on `job` without sending anything.
    pub fn check(&self, job: &Job<'_>) -> Result<()> {
        todo!()
    }
    /// Submits `job` and returns the task id.
    pub fn submit(&self, job: &Job<'_>) -> Result<String> {
        todo!()
    }
    /// Polls the status of `task_id` once (with retries of transient failures).
    pub fn status(&self, task_id: &str) -> Result<TaskStatus> {
        todo!()
    }
    /// Polls until the task is terminal, the deadline passes or the wait is stopped.
    pub fn wait(&self, task_id: &str, options: &mut WaitOptions<'_>) -> Result<TaskStatus> {
        todo!()
    }
    /// Asks the provider to cancel the task (official API only).
    pub fn cancel(&self, task_id: &str) -> Result<()> {
        todo!()
    }
    /// Downloads the video of a succeeded task to `path`, atomically.
    pub fn download(
        &self,
        status: &TaskStatus,
        path: impl AsRef<Path>,
        cancel: Option<&CancelToken>,
    ) -> Result<u64> {
        todo!()
    }
    /// Submit, wait and download in one call.
    pub fn generate(
        &self,
        job: &Job<'_>,
        path: impl AsRef<Path>,
        options: &mut WaitOptions<'_>,
    ) -> Result<Generated> {
        todo!()
    }
}
