//! The client: the I/O around the pure provider code. Submit, status, wait, cancel, download,
//! generate, and the account queries, over one shared `ureq::Agent`.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::account::{Credits, TaskPage, TaskQuery};
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::download::Stale;
use crate::error::{Error, ErrorKind, Result, TransportError};
use crate::job::Job;
use crate::jobs::submit::{failure_class, status_class, FailureClass, StatusClass, SubmitOutcome};
use crate::jobs::{poll_verdict, PollStreak, PollVerdict};
use crate::provider::{check_task_id, Method, Provider, Spec, WireRequest};
use crate::retry::{Backoff, Next};
use crate::status::{State, TaskStatus};
use crate::submission::{self, ImageErrorSlot, Submission};
use crate::transport::{self, Reply};

/// A client for one provider. `Send + Sync`: share it between threads; all calls go through
/// one `ureq::Agent`, so consecutive polls reuse one connection. Cloning is cheap and the clone
/// shares that agent (its connection pool).
#[derive(Clone)]
pub struct Client {
    config: Config,
    agent: ureq::Agent,
    authorization: String,
}

/// What the progress callback sees after each poll.
#[derive(Debug)]
#[non_exhaustive]
pub struct Progress<'s> {
    /// The status just polled.
    pub status: &'s TaskStatus,
    /// Time since the wait started.
    pub elapsed: Duration,
    /// Polls made so far in this wait.
    pub polls: u32,
}

/// Called on the waiting thread after each poll: `ControlFlow::Continue(())` to go on waiting,
/// `ControlFlow::Break(())` to stop (the wait then fails with [`Error::Cancelled`]).
pub type ProgressCallback<'a> = Box<dyn FnMut(&Progress<'_>) -> ControlFlow<()> + 'a>;

/// How to wait, and how to stop: used by [`Client::wait`], [`Client::download`],
/// [`Client::generate`] and [`Client::resume`], so one cancel token stops all of them.
#[non_exhaustive]
pub struct WaitOptions<'a> {
    /// Give up after this long, returning [`Error::Timeout`] with the task id and the last
    /// status, so the wait can be resumed later. Default 30 minutes; `None` waits for ever (as
    /// does a duration too long for the clock).
    pub timeout: Option<Duration>,
    /// Stops the wait, the download, and a submit's backoff, from another thread, at once.
    /// Default none.
    pub cancel: Option<CancelToken>,
    /// Called on the waiting thread after each poll. Default none.
    pub on_progress: Option<ProgressCallback<'a>>,
    /// [`Client::generate`] on the official API: how long the task list is searched for the
    /// task of a submit whose answer was lost before concluding that none was created and
    /// submitting again. Default `None`: 120 s.
    pub search_window: Option<Duration>,
}

impl Default for WaitOptions<'_> {
    fn default() -> Self {
        WaitOptions {
            timeout: Some(Duration::from_secs(30 * 60)),
            cancel: None,
            on_progress: None,
            search_window: None,
        }
    }
}

impl<'a> WaitOptions<'a> {
    /// The defaults: a 30-minute deadline, no cancel token, no callback.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the deadline (default 30 minutes; `None`: none).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }
    /// Sets the cancel token (default none).
    pub fn cancel(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }
    /// Sets the progress callback (default none).
    pub fn on_progress(
        mut self,
        callback: impl FnMut(&Progress<'_>) -> ControlFlow<()> + 'a,
    ) -> Self {
        self.on_progress = Some(Box::new(callback));
        self
    }

    /// Sets how long an uncertain submit is searched for in the task list (default 120 s).
    pub fn search_window(mut self, window: Duration) -> Self {
        self.search_window = Some(window);
        self
    }

    fn token(&self) -> CancelToken {
        self.cancel.clone().unwrap_or_default()
    }
}

impl std::fmt::Debug for WaitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitOptions")
            .field("timeout", &self.timeout)
            .field("cancel", &self.cancel)
            .field("on_progress", &self.on_progress.is_some())
            .field("search_window", &self.search_window)
            .finish()
    }
}

/// The result of [`Client::generate`] and [`Client::resume`].
#[derive(Clone, Debug)]
#[non_exhaustive]
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

fn transport_error(operation: &'static str, task_id: Option<&str>, e: ureq::Error) -> Error {
    Error::Transport {
        operation,
        task_id: task_id.map(str::to_owned),
        source: TransportError::new(e),
    }
}

impl Client {
    /// Checks `config` and builds the client. Nothing is sent.
    pub fn new(config: Config) -> Result<Client> {
        config.validate()?;
        // Requests carry a placeholder; the key itself is put in on the way to the socket.
        let (inserter, authorization) = transport::KeyInserter::new(
            &config.auth_scheme.header_value(&config.api_key),
            config.timeouts.request,
        );
        let agent = transport::agent(&config, inserter)?;
        Ok(Client {
            config,
            agent,
            authorization,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The provider.
    pub fn provider(&self) -> Provider {
        self.config.provider
    }

    fn spec(&self) -> &'static Spec {
        self.provider().spec()
    }

    /// Runs every check on `job` without sending anything.
    pub fn check(&self, job: &Job<'_>) -> Result<()> {
        self.prepare(job).map(drop)
    }

    /// Checks `job` and builds the request that [`submit_prepared`](Self::submit_prepared)
    /// will send, reading only the image's header. Nothing is sent.
    pub fn prepare<'j>(&self, job: &'j Job<'_>) -> Result<Submission<'j>> {
        submission::prepare(self.provider(), job)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url.trim_end_matches('/'), path)
    }

    /// Sends one API request and reads the whole answer (capped), so the connection is reused.
    /// `body` streams a submit body of the given length; without it a POST sends the request's
    /// own JSON.
    fn send(
        &self,
        request: &WireRequest,
        body: Option<(&mut dyn Read, u64)>,
    ) -> std::result::Result<Reply, ureq::Error> {
        let url = self.url(&request.path);
        let response = match (request.method, body) {
            (Method::Get, _) => self
                .agent
                .get(&url)
                .header("authorization", &self.authorization)
                .header("accept", "application/json")
                .call()?,
            (Method::Post, Some((reader, len))) => self
                .agent
                .post(&url)
                .header("authorization", &self.authorization)
                .header("accept", "application/json")
                .header("content-type", "application/json")
                .header("content-length", len.to_string())
                .send(ureq::SendBody::from_reader(reader))?,
            (Method::Post, None) => {
                let json = request
                    .body
                    .as_ref()
                    .map(|b| [&b.head[..], &b.tail[..]].concat())
                    .unwrap_or_default();
                self.agent
                    .post(&url)
                    .header("authorization", &self.authorization)
                    .header("accept", "application/json")
                    .header("content-type", "application/json")
                    .send(&json[..])?
            }
        };
        transport::read_reply(
            response,
            self.config.max_status_body,
            self.spec().request_id_headers,
        )
    }

    fn api_error(&self, operation: &'static str, reply: &Reply, task_id: Option<&str>) -> Error {
        let parsed = (self.spec().parse_error)(reply.status, &reply.body);
        Error::Api {
            operation,
            http_status: reply.status,
            provider_code: parsed.code,
            message: parsed.message,
            request_id: parsed.request_id.or_else(|| reply.request_id.clone()),
            task_id: task_id.map(str::to_owned),
            retry_after_secs: reply
                .retry_after
                .map(|d| u16::try_from(d.as_secs()).unwrap_or(u16::MAX)),
        }
    }

    /// Sends an idempotent request, retrying transient failures (resets, timeouts, 408, 429,
    /// 5xx) within `deadline`. Returns the first non-transient reply, 2xx or not.
    fn send_idempotent(
        &self,
        operation: &'static str,
        task_id: Option<&str>,
        request: &WireRequest,
        deadline: Option<Instant>,
        cancel: &CancelToken,
    ) -> Result<Reply> {
        let mut backoff = Backoff::new(&self.config.retry, deadline);
        loop {
            let (retry_after, failure) = match self.send(request, None) {
                Ok(reply) if transport::is_transient_status(reply.status) => (
                    reply.retry_after,
                    self.api_error(operation, &reply, task_id),
                ),
                Ok(reply) => return Ok(reply),
                Err(ureq::Error::BodyExceedsLimit(limit)) => {
                    return Err(Error::Protocol {
                        operation,
                        task_id: task_id.map(str::to_owned),
                        detail: format!(
                            "the answer is larger than {limit} bytes (Config::max_status_body)"
                        ),
                    })
                }
                Err(e) if transport::is_transient_error(&e) => {
                    (None, transport_error(operation, task_id, e))
                }
                Err(e) => return Err(transport_error(operation, task_id, e)),
            };
            match backoff.after_logged_failure(&failure, retry_after, cancel) {
                Next::Retry => {}
                Next::GiveUp => return Err(failure),
                Next::Cancelled => {
                    return Err(Error::Cancelled {
                        task_id: task_id.map(str::to_owned),
                    })
                }
            }
        }
    }

    /// A GET of an account query, retried like a status poll; the 2xx body.
    fn query(&self, operation: &'static str, request: &WireRequest) -> Result<Vec<u8>> {
        self.query_until(operation, request, None, &CancelToken::new())
    }

    /// [`query`](Self::query) within `deadline`, stopped by `cancel`.
    pub(crate) fn query_until(
        &self,
        operation: &'static str,
        request: &WireRequest,
        deadline: Option<Instant>,
        cancel: &CancelToken,
    ) -> Result<Vec<u8>> {
        let reply = self.send_idempotent(operation, None, request, deadline, cancel)?;
        if !reply.is_success() {
            return Err(self.api_error(operation, &reply, None));
        }
        Ok(reply.body)
    }

    /// Submits `job` and returns the task id: [`prepare`](Self::prepare), then
    /// [`submit_prepared`](Self::submit_prepared) without a cancel token.
    pub fn submit(&self, job: &Job<'_>) -> Result<String> {
        let submission = self.prepare(job)?;
        self.submit_prepared(&submission, &CancelToken::new())
    }

    /// Sends a prepared submission and returns the task id. `cancel` stops the wait between
    /// attempts (then [`Error::Cancelled`] without a task id: none was created).
    ///
    /// Submit costs money and no provider documents an idempotency key, so it is retried only
    /// when it certainly was not processed: the connection could not be made, or the provider
    /// answered `429`. How every other answer and failure is read (created, not created,
    /// uncertain) is one table, in `src/jobs/submit.rs`: a failure after the body was sent is
    /// [`Error::SubmitUncertain`] (network), [`Error::Api`] (an HTTP error that may have created
    /// the task, such as a `5xx`, or a documented refusal) or [`Error::Protocol`] (a `2xx` whose
    /// task id cannot be read or used); none is ever retried. A final `429` keeps the server's
    /// `Retry-After` ([`Error::retry_after`]).
    pub fn submit_prepared(
        &self,
        submission: &Submission<'_>,
        cancel: &CancelToken,
    ) -> Result<String> {
        self.send_submission(submission, cancel, None, true)
            .into_result()
    }

    /// Sends a submission and reads what came of it through the table of submit outcomes. With
    /// `wait_out_throttling` false a `429` returns at once, so that a batch can go on polling
    /// while it holds back. Retries (only of what was certainly not sent) stop at `deadline`.
    pub(crate) fn send_submission(
        &self,
        submission: &Submission<'_>,
        cancel: &CancelToken,
        deadline: Option<Instant>,
        wait_out_throttling: bool,
    ) -> SubmitOutcome {
        let not_created = |error: Error| SubmitOutcome::NotCreated {
            error,
            throttled: false,
        };
        if submission.provider() != self.provider() {
            return not_created(Error::invalid(
                "submission",
                submission.provider(),
                format!("a submission prepared for {}", self.provider()),
            ));
        }
        let mut backoff = Backoff::new(&self.config.retry, deadline);
        loop {
            let image_error = ImageErrorSlot::default();
            let mut body = match submission.open_body(&image_error) {
                Ok(body) => body,
                Err(e) => return not_created(e),
            };
            let result = self.send(
                submission.request(),
                Some((&mut body, submission.content_length())),
            );
            drop(body);
            if let Some(source) = image_error.lock().unwrap_or_else(|e| e.into_inner()).take() {
                // The body was cut short: the provider cannot have parsed it.
                return not_created(Error::Io {
                    action: "reading the image while sending it",
                    path: submission.image_path(),
                    source,
                    task_id: None,
                });
            }
            let (retry_after, failure) = match result {
                Ok(reply) => match status_class(reply.status) {
                    StatusClass::Accepted => return self.accepted(&reply),
                    StatusClass::Throttled if !wait_out_throttling => {
                        return SubmitOutcome::NotCreated {
                            error: self.api_error("submit", &reply, None),
                            throttled: true,
                        }
                    }
                    StatusClass::Throttled => {
                        (reply.retry_after, self.api_error("submit", &reply, None))
                    }
                    StatusClass::Refused => {
                        return not_created(self.api_error("submit", &reply, None))
                    }
                    StatusClass::Uncertain => {
                        return SubmitOutcome::Uncertain(self.api_error("submit", &reply, None))
                    }
                },
                Err(e) => match failure_class(&e) {
                    FailureClass::NotSentRetry => (None, transport_error("submit", None, e)),
                    FailureClass::NotSent => {
                        return not_created(transport_error("submit", None, e))
                    }
                    FailureClass::Uncertain => {
                        return SubmitOutcome::Uncertain(Error::SubmitUncertain {
                            source: TransportError::new(e),
                        })
                    }
                },
            };
            match backoff.after_logged_failure(&failure, retry_after, cancel) {
                Next::Retry => {}
                Next::GiveUp => {
                    let throttled = failure.http_status() == Some(429);
                    return SubmitOutcome::NotCreated {
                        error: failure,
                        throttled,
                    };
                }
                Next::Cancelled => return not_created(Error::Cancelled { task_id: None }),
            }
        }
    }

    /// A 2xx answer to a submit: created when its task id is read and usable; otherwise the
    /// task may well exist (the provider accepted the request), so uncertain.
    fn accepted(&self, reply: &Reply) -> SubmitOutcome {
        let task_id = match (self.spec().parse_submit)(&reply.body) {
            Ok(parsed) => parsed.task_id,
            Err(e) => {
                let detail = match e {
                    Error::Protocol { detail, .. } => detail,
                    other => other.to_string(),
                };
                return SubmitOutcome::Uncertain(Error::Protocol {
                    operation: "submit",
                    task_id: None,
                    detail: format!(
                        "{detail}; the provider accepted the submit (HTTP {}), so a task may have \
                         been created and billed: look for it in the provider's task list or \
                         console before submitting again",
                        reply.status
                    ),
                });
            }
        };
        // The task exists and is billed even if its id is unusable here: say so, with the id,
        // rather than "invalid input".
        if check_task_id(&task_id).is_err() {
            return SubmitOutcome::Uncertain(Error::Protocol {
                operation: "submit",
                task_id: Some(task_id),
                detail: "the provider created a task whose id is not safe in a URL \
                         (allowed: 1 to 256 of A-Z a-z 0-9 - _ . :, not only dots); \
                         look it up in the provider's console"
                    .into(),
            });
        }
        SubmitOutcome::Created(task_id)
    }

    /// Polls the status of `task_id` once, retrying transient failures.
    pub fn status(&self, task_id: &str) -> Result<TaskStatus> {
        check_task_id(task_id)?;
        self.fetch_status(task_id, None, &CancelToken::new())
    }

    pub(crate) fn fetch_status(
        &self,
        task_id: &str,
        deadline: Option<Instant>,
        cancel: &CancelToken,
    ) -> Result<TaskStatus> {
        let request = (self.spec().status_request)(task_id);
        let reply = self.send_idempotent("status", Some(task_id), &request, deadline, cancel)?;
        if !reply.is_success() {
            return Err(self.api_error("status", &reply, Some(task_id)));
        }
        let mut status = (self.spec().parse_status)(task_id, &reply.body)?;
        if status.request_id.is_none() {
            status.request_id = reply.request_id;
        }
        Ok(status)
    }

    /// Polls until the task is terminal, the deadline passes or the wait is stopped.
    ///
    /// Returns the final status when the task succeeded, [`Error::TaskFailed`] when it failed,
    /// was cancelled or expired, and [`Error::Timeout`] (with the task id and the last status)
    /// when the deadline passed: the task goes on and can be waited for again. Failed polls
    /// (network, 5xx) are retried until the deadline; when it passes during such a streak, the
    /// last poll's error (with the task id) is returned instead of the timeout.
    pub fn wait(&self, task_id: &str, options: &mut WaitOptions<'_>) -> Result<TaskStatus> {
        check_task_id(task_id)?;
        let start = Instant::now();
        // A deadline past what the clock can hold is no deadline.
        let deadline = options.timeout.and_then(|t| start.checked_add(t));
        let cancel = options.token();
        let mut last: Option<TaskStatus> = None;
        let mut polls = 0u32;
        let mut streak = PollStreak::default();
        let mut failing: Option<Error>;
        let mut delay = self.config.poll.delay(0);
        loop {
            if let Some(d) = deadline {
                delay = delay.min(d.saturating_duration_since(Instant::now()));
            }
            if cancel.sleep(delay) {
                return Err(Error::cancelled(task_id));
            }
            polls = polls.saturating_add(1);
            match self.fetch_status(task_id, deadline, &cancel) {
                Ok(status) => {
                    streak = PollStreak::default();
                    failing = None;
                    let flow = match options.on_progress.as_mut() {
                        Some(callback) => callback(&Progress {
                            status: &status,
                            elapsed: start.elapsed(),
                            polls,
                        }),
                        None => ControlFlow::Continue(()),
                    };
                    match status.state {
                        State::Succeeded => {
                            log::info!("task {task_id}: succeeded");
                            return Ok(status);
                        }
                        s if s.is_terminal() => {
                            log::info!("task {task_id}: {}", status.state.as_str());
                            return Err(Error::TaskFailed {
                                status: Box::new(status),
                            });
                        }
                        _ => {}
                    }
                    last = Some(status);
                    if flow.is_break() {
                        return Err(Error::cancelled(task_id));
                    }
                    delay = self.config.poll.delay(polls);
                }
                Err(e) if e.kind() == ErrorKind::Cancelled => return Err(e.with_task_id(task_id)),
                // The one poll rule (src/jobs): transient trouble is retried within the
                // deadline, a few unreadable answers in a row are tolerated.
                Err(e) => match poll_verdict(&e, &mut streak, &self.config.retry) {
                    PollVerdict::Retry(pause) => {
                        // As the batch: a warning at the third failure in a row, then every
                        // twentieth; the others are debug.
                        let errors = streak.errors.max(streak.malformed);
                        if errors == 3 || errors.is_multiple_of(20) {
                            log::warn!("task {task_id}: {errors} polls failed in a row: {e}");
                        } else {
                            log::debug!("task {task_id}: poll failed ({e}); again in {pause:?}");
                        }
                        delay = pause;
                        failing = Some(e);
                    }
                    PollVerdict::Fail => return Err(e.with_task_id(task_id)),
                },
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // Polls were failing when time ran out: their error says more than a timeout.
                if let Some(e) = failing {
                    return Err(e.with_task_id(task_id));
                }
                return Err(Error::Timeout {
                    task_id: task_id.to_owned(),
                    last_status: last.map(Box::new),
                });
            }
        }
    }

    /// Asks the provider to cancel the task. Only the official Vidu API offers this; the
    /// others answer [`Error::Unsupported`]. To stop only the local wait, use a [`CancelToken`].
    pub fn cancel(&self, task_id: &str) -> Result<()> {
        check_task_id(task_id)?;
        let cancel_request = self
            .spec()
            .cancel_request
            .ok_or_else(|| self.provider().unsupported("remote cancel"))?;
        let reply = self
            .send(&cancel_request(task_id), None)
            .map_err(|e| transport_error("cancel", Some(task_id), e))?;
        if reply.is_success() {
            Ok(())
        } else {
            Err(self.api_error("cancel", &reply, Some(task_id)))
        }
    }

    /// Lists tasks (official API only; the gateways answer [`Error::Unsupported`]): one page,
    /// filtered by `query`. Follow [`TaskPage::next_page_token`] for more.
    pub fn tasks(&self, query: &TaskQuery) -> Result<TaskPage> {
        let call = (self.spec().task_list.as_ref())
            .ok_or_else(|| self.provider().unsupported("task list"))?;
        let body = self.query("task list", &(call.request)(query)?)?;
        (call.parse)(&body)
    }

    /// The account's credits and concurrency (official API only; the gateways answer
    /// [`Error::Unsupported`]).
    pub fn credits(&self) -> Result<Credits> {
        let call =
            (self.spec().credits.as_ref()).ok_or_else(|| self.provider().unsupported("credits"))?;
        let body = self.query("credits", &(call.request)())?;
        (call.parse)(&body)
    }

    /// Downloads the video of a succeeded task to `path`: streamed to a partial file beside
    /// it, synced, then renamed, so `path` holds the whole video or nothing. Returns the size
    /// in bytes. Only `options.cancel` is used.
    ///
    /// - `path` must be a new name or a regular file; a symlink, directory, device or FIFO
    ///   there is refused (symlinks are not followed), as is a name longer than 240 bytes.
    /// - The partial file is `.<name>.<8 hex digits from the task id>.part`, locked while
    ///   written: a second download of the same task to the same path, in any process, fails
    ///   at once. When the call is cancelled, or the host keeps failing (resets, `5xx`,
    ///   [`Config::max_download_stalls`] stalls in a row), the partial file is kept, and the
    ///   next download of the same task to the same path resumes it with `Range`, restarting
    ///   from zero when the host's declared size does not fit it. On other failures (too
    ///   large, refused, an error answer, a disk error) it is removed.
    /// - A dropped connection is resumed with `Range`; a fresh URL is fetched once when the
    ///   signed URL expired (`403`); redirects are followed hop by hop, only to `https` (or
    ///   `http` to loopback), at most 5; the API key never goes to the video host.
    /// - A video declared or growing larger than [`Config::max_video_bytes`] is refused.
    pub fn download(
        &self,
        status: &TaskStatus,
        path: impl AsRef<Path>,
        options: &WaitOptions<'_>,
    ) -> Result<u64> {
        self.download_cleaning(status, path.as_ref(), options, Stale::Scan)
    }

    /// [`Client::download`], with the stale partial files of the output already known (the
    /// batch lists each output directory once).
    pub(crate) fn download_cleaning(
        &self,
        status: &TaskStatus,
        path: &Path,
        options: &WaitOptions<'_>,
        stale: Stale<'_>,
    ) -> Result<u64> {
        let cancel = options.token();
        // Called only when the video URL expired (download.rs).
        let mut refresh = || {
            log::warn!(
                "task {}: the video URL expired; fetching a fresh one",
                status.task_id
            );
            self.fetch_status(&status.task_id, None, &cancel)
        };
        crate::download::download(
            &self.agent,
            &self.config,
            status,
            path,
            &cancel,
            &mut refresh,
            stale,
        )
    }

    /// Submit, wait and download in one call. On failure the error carries the task id
    /// whenever a task was created ([`Error::task_id`]): pass it to [`Client::resume`].
    ///
    /// This is a batch of one: the same job state machine as [`Client::run_batch`] decides
    /// every step. On the official API a submit whose answer was lost is looked for in the task
    /// list (by a tag in `payload`, when the job sets none) for
    /// [`WaitOptions::search_window`]; found, it is used; shown absent for the whole window, the
    /// job is sent once more. Otherwise an uncertain submit is returned as an error and never
    /// sent again. The cancel token stops the wait, the download and a submit's backoff.
    pub fn generate(
        &self,
        job: &Job<'_>,
        path: impl AsRef<Path>,
        options: &mut WaitOptions<'_>,
    ) -> Result<Generated> {
        self.generate_one(job, path.as_ref(), options)
    }

    /// Waits for a task submitted earlier and downloads its video: how to pick up a task
    /// after a timeout, a crash or a restart, without paying for a new one.
    pub fn resume(
        &self,
        task_id: &str,
        path: impl AsRef<Path>,
        options: &mut WaitOptions<'_>,
    ) -> Result<Generated> {
        let path = path.as_ref();
        check_task_id(task_id)?;
        let named = |e: Error| e.with_task_id(task_id);
        crate::download::check_output_path(path).map_err(named)?;
        let status = self.wait(task_id, options).map_err(named)?;
        let bytes = self.download(&status, path, options).map_err(named)?;
        log::info!("task {task_id}: written {} ({bytes} bytes)", path.display());
        Ok(Generated {
            task_id: task_id.to_owned(),
            path: path.to_owned(),
            bytes,
            status,
        })
    }
}
