//! The client: submit, status, wait, cancel, download, generate, over one shared `ureq::Agent`.

use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::image::{DataUriReader, ImageSource};
use crate::job::{self, CheckedJob, Job};
use crate::provider::{check_task_id, Method, Provider, WireRequest};
use crate::retry;
use crate::status::{State, TaskStatus};

/// A client for one provider. `Send + Sync`: share it between threads; all calls go through
/// one `ureq::Agent`, so consecutive polls reuse one connection.
pub struct Client {
    config: Config,
    agent: ureq::Agent,
    authorization: String,
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

/// Called on the waiting thread after each poll; returns false to stop waiting.
pub type ProgressCallback<'a> = Box<dyn FnMut(&Progress<'_>) -> bool + 'a>;

/// How to wait for a task.
pub struct WaitOptions<'a> {
    /// Give up after this long, returning [`Error::Timeout`] with the task id and the last
    /// status, so the wait can be resumed later. Default 30 minutes; `None` waits for ever.
    pub timeout: Option<Duration>,
    /// Stops the wait (and a download) from another thread, at once.
    pub cancel: Option<CancelToken>,
    /// Called on the waiting thread after each poll; return false to stop waiting.
    pub on_progress: Option<ProgressCallback<'a>>,
}

impl Default for WaitOptions<'_> {
    fn default() -> Self {
        WaitOptions {
            timeout: Some(Duration::from_secs(30 * 60)),
            cancel: None,
            on_progress: None,
        }
    }
}

impl std::fmt::Debug for WaitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitOptions")
            .field("timeout", &self.timeout)
            .field("cancel", &self.cancel)
            .field("on_progress", &self.on_progress.is_some())
            .finish()
    }
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

/// A response read to the end (bodies of status and error answers are small and capped).
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
    pub trace_id: Option<String>,
}

/// A response header as text, if present and readable.
pub(crate) fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    let value = response.headers().get(name)?;
    value.to_str().ok().map(str::to_owned)
}

/// Consecutive unreadable status answers tolerated before giving up.
const MAX_MALFORMED_POLLS: u32 = 3;

impl Client {
    /// Checks `config` and builds the client.
    pub fn new(config: Config) -> Result<Client> {
        config.validate()?;
        let t = config.timeouts;
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(config.user_agent.as_str())
            .timeout_connect(Some(t.connect))
            .timeout_send_request(Some(t.send))
            .timeout_send_body(Some(t.send))
            .timeout_recv_response(Some(t.receive))
            .timeout_per_read(Some(t.receive))
            .timeout_per_write(Some(t.receive));
        if !config.proxy_from_env {
            builder = builder.proxy(None);
        }
        let agent = builder.build().new_agent();
        let authorization = config.auth_scheme.header_value(&config.api_key);
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

    /// Runs every check on `job` without sending anything.
    pub fn check(&self, job: &Job<'_>) -> Result<()> {
        job::check(self.provider(), job).map(|_| ())
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
        let status = response.status().as_u16();
        let header = |name: &str| header(&response, name);
        let retry_after =
            header("retry-after").and_then(|v| retry::parse_retry_after(&v, SystemTime::now()));
        let trace_id = header("x-md-trace-id").or_else(|| header("x-request-id"));
        let mut response = response;
        let body = response
            .body_mut()
            .with_config()
            .limit(self.config.max_status_body)
            .read_to_vec()?;
        Ok(Reply {
            status,
            body,
            retry_after,
            trace_id,
        })
    }

    fn api_error(&self, operation: &'static str, reply: &Reply, task_id: Option<&str>) -> Error {
        let parsed = self.provider().parse_error(reply.status, &reply.body);
        Error::Api {
            operation,
            http_status: reply.status,
            provider_code: parsed.code,
            message: parsed.message,
            request_id: parsed.request_id.or_else(|| reply.trace_id.clone()),
            task_id: task_id.map(str::to_owned),
        }
    }

    /// Sends an idempotent request, retrying transient failures within `deadline`.
    /// Returns the first non-transient reply, 2xx or not.
    pub(crate) fn send_idempotent(
        &self,
        operation: &'static str,
        task_id: &str,
        request: &WireRequest,
        deadline: Option<Instant>,
        cancel: &CancelToken,
    ) -> Result<Reply> {
        let policy = &self.config.retry;
        let mut attempt = 0;
        loop {
            let (retry_after, failure) = match self.send(request, None) {
                Ok(reply) if retry::is_transient_status(reply.status) => (
                    reply.retry_after,
                    self.api_error(operation, &reply, Some(task_id)),
                ),
                Ok(reply) => return Ok(reply),
                Err(ureq::Error::BodyExceedsLimit(limit)) => {
                    return Err(Error::Protocol {
                        operation,
                        task_id: Some(task_id.to_owned()),
                        detail: format!(
                            "the answer is larger than {limit} bytes (Config::max_status_body)"
                        ),
                    })
                }
                Err(e) if retry::is_transient_error(&e) => (
                    None,
                    Error::Transport {
                        operation,
                        task_id: Some(task_id.to_owned()),
                        source: Box::new(e),
                    },
                ),
                Err(e) => {
                    return Err(Error::Transport {
                        operation,
                        task_id: Some(task_id.to_owned()),
                        source: Box::new(e),
                    })
                }
            };
            attempt += 1;
            if attempt >= policy.max_attempts {
                return Err(failure);
            }
            let delay = retry::delay(policy, attempt - 1, retry_after);
            if deadline.is_some_and(|d| Instant::now() + delay > d) {
                return Err(failure);
            }
            if cancel.sleep(delay) {
                return Err(Error::Cancelled {
                    task_id: task_id.to_owned(),
                });
            }
        }
    }

    /// Submits `job` and returns the task id.
    ///
    /// Submit costs money and no provider documents an idempotency key, so it is retried only
    /// when it certainly was not processed (could not connect, `429`). A failure after the body
    /// was sent is [`Error::SubmitUncertain`].
    pub fn submit(&self, job: &Job<'_>) -> Result<String> {
        let checked = job::check(self.provider(), job)?;
        let request = self.provider().submit_request(&checked.params());
        let policy = &self.config.retry;
        let mut attempt = 0;
        loop {
            let image_error = Arc::new(Mutex::new(None));
            let mut body = open_body(&checked, &request, &image_error)?;
            let result = self.send(&request, Some((&mut body, checked.body_len)));
            drop(body);
            if let Some(source) = image_error.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let path = match &job.image {
                    ImageSource::Path(p) => p.clone(),
                    _ => PathBuf::from("<memory>"),
                };
                return Err(Error::Io {
                    action: "reading the image while sending it",
                    path,
                    source,
                    task_id: None,
                });
            }
            let retry_after = match result {
                Ok(reply) if (200..300).contains(&reply.status) => {
                    return self.provider().parse_submit(&reply.body).map(|s| s.task_id);
                }
                Ok(reply) if reply.status == 429 => {
                    if attempt + 1 >= policy.max_attempts {
                        return Err(self.api_error("submit", &reply, None));
                    }
                    reply.retry_after
                }
                Ok(reply) => return Err(self.api_error("submit", &reply, None)),
                Err(e) if retry::never_sent(&e) => {
                    if attempt + 1 >= policy.max_attempts {
                        return Err(Error::Transport {
                            operation: "submit",
                            task_id: None,
                            source: Box::new(e),
                        });
                    }
                    None
                }
                Err(e) => {
                    return Err(Error::SubmitUncertain {
                        source: Box::new(e),
                    })
                }
            };
            std::thread::sleep(retry::delay(policy, attempt, retry_after));
            attempt += 1;
        }
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
        let request = self.provider().status_request(task_id);
        let reply = self.send_idempotent("status", task_id, &request, deadline, cancel)?;
        if !(200..300).contains(&reply.status) {
            return Err(self.api_error("status", &reply, Some(task_id)));
        }
        let mut status = self.provider().parse_status(task_id, &reply.body)?;
        if status.request_id.is_none() {
            status.request_id = reply.trace_id;
        }
        Ok(status)
    }

    /// Polls until the task is terminal, the deadline passes or the wait is stopped.
    ///
    /// Returns the final status when the task succeeded, [`Error::TaskFailed`] when it failed,
    /// was cancelled or expired, and [`Error::Timeout`] (with the task id and the last status)
    /// when the deadline passed: the task goes on and can be waited for again.
    pub fn wait(&self, task_id: &str, options: &mut WaitOptions<'_>) -> Result<TaskStatus> {
        check_task_id(task_id)?;
        let start = Instant::now();
        let deadline = options.timeout.map(|t| start + t);
        let cancel = options.cancel.clone().unwrap_or_default();
        let mut last: Option<TaskStatus> = None;
        let mut polls = 0u32;
        let mut malformed = 0u32;
        loop {
            let mut delay = self.config.poll.delay(polls);
            if let Some(d) = deadline {
                delay = delay.min(d.saturating_duration_since(Instant::now()));
            }
            if cancel.sleep(delay) {
                return Err(Error::Cancelled {
                    task_id: task_id.to_owned(),
                });
            }
            polls += 1;
            match self.fetch_status(task_id, deadline, &cancel) {
                Ok(status) => {
                    malformed = 0;
                    let keep_going = match options.on_progress.as_mut() {
                        Some(callback) => callback(&Progress {
                            status: &status,
                            elapsed: start.elapsed(),
                            polls,
                        }),
                        None => true,
                    };
                    match status.state {
                        State::Succeeded => return Ok(status),
                        s if s.is_terminal() => {
                            return Err(Error::TaskFailed {
                                status: Box::new(status),
                            })
                        }
                        _ => {}
                    }
                    last = Some(status);
                    if !keep_going {
                        return Err(Error::Cancelled {
                            task_id: task_id.to_owned(),
                        });
                    }
                }
                // A proxy glitch may garble one answer; a server that keeps doing it is an error.
                Err(Error::Protocol { .. }) if malformed + 1 < MAX_MALFORMED_POLLS => {
                    malformed += 1
                }
                Err(e) => return Err(e.with_task_id(task_id)),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
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
        let request = self.provider().cancel_request(task_id)?;
        let reply = self.send(&request, None).map_err(|e| Error::Transport {
            operation: "cancel",
            task_id: Some(task_id.to_owned()),
            source: Box::new(e),
        })?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(self.api_error("cancel", &reply, Some(task_id)))
        }
    }

    /// Downloads the video of a succeeded task to `path`: streamed to a temporary file beside
    /// it, synced, then renamed, so `path` holds the whole video or nothing. Resumes a dropped
    /// connection with `Range`, fetches a fresh URL once when the signed URL expired (`403`),
    /// follows only `https` (or `http` to loopback) URLs, and never sends the API key to the
    /// video host. Returns the size in bytes.
    pub fn download(
        &self,
        status: &TaskStatus,
        path: impl AsRef<Path>,
        cancel: Option<&CancelToken>,
    ) -> Result<u64> {
        let cancel = cancel.cloned().unwrap_or_default();
        crate::download::download(self, status, path.as_ref(), &cancel)
            .map_err(|e| e.with_task_id(&status.task_id))
    }

    pub(crate) fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// Submit, wait and download in one call. On failure the error carries the task id
    /// whenever a task was created ([`Error::task_id`]): pass it to [`Client::resume`].
    pub fn generate(
        &self,
        job: &Job<'_>,
        path: impl AsRef<Path>,
        options: &mut WaitOptions<'_>,
    ) -> Result<Generated> {
        let path = path.as_ref();
        crate::download::check_output_path(path)?;
        let task_id = self.submit(job)?;
        self.resume(&task_id, path, options)
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
        crate::download::check_output_path(path)?;
        let status = self.wait(task_id, options)?;
        let bytes = self.download(&status, path, options.cancel.as_ref())?;
        Ok(Generated {
            task_id: task_id.to_owned(),
            path: path.to_owned(),
            bytes,
            status,
        })
    }
}

/// Reads `inner`, remembering its first error so the caller can tell an image read failure
/// from a network failure, and failing if it yields other than `expected` bytes.
struct ImageReader<R> {
    inner: R,
    remaining: u64,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> Read for ImageReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let cap = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let result = if cap == 0 {
            Ok(0)
        } else {
            self.inner.read(&mut buf[..cap])
        };
        let result = match result {
            Ok(0) if self.remaining > 0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the image file shrank while it was being sent",
            )),
            other => other,
        };
        match result {
            Ok(n) => {
                self.remaining -= n as u64;
                Ok(n)
            }
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(copy)
            }
        }
    }
}

/// The submit body as a stream: JSON head, the data URI encoded chunk by chunk, JSON tail.
fn open_body<'a>(
    checked: &'a CheckedJob<'_, '_>,
    request: &'a WireRequest,
    error: &Arc<Mutex<Option<io::Error>>>,
) -> Result<Box<dyn Read + 'a>> {
    let body = request.body.as_ref().expect("submit requests have a body");
    let head = Cursor::new(&body.head[..]);
    let tail = Cursor::new(&body.tail[..]);
    let Some(info) = checked.inline.filter(|_| body.inline_image) else {
        return Ok(Box::new(head.chain(tail)));
    };
    let source: Box<dyn Read + 'a> = match &checked.job.image {
        ImageSource::Path(path) => {
            Box::new(std::fs::File::open(path).map_err(|source| Error::Io {
                action: "opening the image",
                path: path.clone(),
                source,
                task_id: None,
            })?)
        }
        ImageSource::Bytes(bytes) => Box::new(&bytes[..]),
        ImageSource::Url(_) => unreachable!("URLs are not inline"),
    };
    let image = ImageReader {
        inner: source,
        remaining: info.byte_len,
        error: error.clone(),
    };
    Ok(Box::new(
        head.chain(DataUriReader::new(info.format, image))
            .chain(tail),
    ))
}
