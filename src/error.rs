//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::status::TaskStatus;

/// Shorthand for `std::result::Result<T, vidu::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, as a stable category. The C ABI exposes these numbers as `vidu_error_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u32)]
pub enum ErrorKind {
    /// A field of the job or the configuration is not allowed; nothing was sent.
    InvalidInput = 1,
    /// A local file could not be read or written.
    Io = 2,
    /// The network failed (connect, TLS, reset, timeout) and retries did not help.
    Transport = 3,
    /// The provider answered with an HTTP error.
    Api = 4,
    /// The submit request may or may not have created a task: check before submitting again.
    SubmitUncertain = 5,
    /// The task ended in failure, cancellation or expiry on the provider's side.
    TaskFailed = 6,
    /// The deadline passed before the task finished. The task id is kept: wait again later.
    Timeout = 7,
    /// The wait was stopped by a cancel token or a progress callback.
    Cancelled = 8,
    /// The provider does not offer this operation.
    Unsupported = 9,
    /// The provider's answer could not be understood.
    Protocol = 10,
    /// The video download failed.
    Download = 11,
}

/// Everything that can go wrong. Messages say what to do next; the task id is kept whenever a
/// task exists ([`Error::task_id`]), so nothing paid for is lost. The API key never appears here.
///
/// Decide with [`Error::kind`], a stable category, and read the details from the accessors
/// ([`Error::task_id`], [`Error::http_status`], [`Error::provider_code`],
/// [`Error::retry_after`]) or the variant's fields. Variants and fields may be added in minor
/// versions: match with `..` and a `_` arm.
///
/// ```
/// use vidu::{Client, Config, Error, ErrorKind, Provider};
///
/// let client = Client::new(Config::new(Provider::Vtrix, "my-api-key"))?;
/// // Vtrix has no remote cancel: refused before anything is sent.
/// let err = client.cancel("task-1").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Unsupported);
/// assert_eq!(err.to_string(), "remote cancel is not supported by vtrix");
/// match &err {
///     Error::Unsupported { provider, .. } => assert_eq!(*provider, "vtrix"),
///     _ => unreachable!(),
/// }
/// // Where a task exists (a timeout, a failed task, a failed download), its id is kept.
/// assert_eq!(err.task_id(), None);
/// # Ok::<(), vidu::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A field is not allowed. Nothing was sent, unless `task_id` is set: the check failed
    /// after the submit (the output directory vanished during the upload, say), and the task
    /// goes on.
    #[non_exhaustive]
    InvalidInput {
        /// The field, as named in [`crate::Job`] or [`crate::Config`] (`"duration"`, `"image"`).
        field: &'static str,
        /// The rejected value, shortened for display.
        value: String,
        /// What is allowed instead.
        allowed: String,
        /// The task, when the check failed after it was created.
        task_id: Option<String>,
    },
    /// One job of a batch is invalid; nothing was sent for any job.
    #[non_exhaustive]
    InvalidJob {
        /// How the batch names the job, e.g. `"jobs.jsonl line 734"`.
        label: String,
        /// What is wrong with it.
        source: Box<Error>,
    },
    /// A local file could not be read or written.
    #[non_exhaustive]
    Io {
        /// What was being done, e.g. `"reading the image"`.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
        /// The task concerned, if one exists (writing its video, say).
        task_id: Option<String>,
    },
    /// The network failed and retries (where allowed) did not help.
    #[non_exhaustive]
    Transport {
        /// What was being done: `"submit"`, `"status"`, `"cancel"`, `"download"`.
        operation: &'static str,
        /// The task concerned, if one exists.
        task_id: Option<String>,
        /// The underlying network error.
        source: TransportError,
    },
    /// The provider answered with an HTTP error status.
    #[non_exhaustive]
    Api {
        /// What was being done.
        operation: &'static str,
        /// The HTTP status code.
        http_status: u16,
        /// The provider's own error code or reason (`"CreditInsufficient"`, `"param_error"`).
        provider_code: Option<String>,
        /// The provider's message, or the start of the raw body when it had none.
        message: String,
        /// The provider's request or trace id, for support tickets.
        request_id: Option<String>,
        /// The task concerned, if one exists.
        task_id: Option<String>,
        /// The server's `Retry-After` in whole seconds, when it sent one (with `429` and `503`):
        /// how long to hold back. At most 65,535 (18 hours); 16 bits keep the error small. See
        /// [`Error::retry_after`].
        retry_after_secs: Option<u16>,
    },
    /// The connection broke after the submit body was sent: a task may have been created and
    /// may be billed. Look for it in the provider's console before submitting again.
    #[non_exhaustive]
    SubmitUncertain {
        /// The underlying network error.
        source: TransportError,
    },
    /// The task ended without a video (failed, cancelled or expired).
    #[non_exhaustive]
    TaskFailed {
        /// The last status, with the provider's error code and message.
        status: Box<TaskStatus>,
    },
    /// The deadline passed before the task was done. Call `wait` again with this task id.
    #[non_exhaustive]
    Timeout {
        /// The task being waited for.
        task_id: String,
        /// The last status seen, if any poll succeeded.
        last_status: Option<Box<TaskStatus>>,
    },
    /// The call was stopped by a cancel token or the progress callback. A task that exists
    /// goes on.
    #[non_exhaustive]
    Cancelled {
        /// The task that was being waited for; `None` when the submit was stopped while
        /// holding back between attempts, before any task was created.
        task_id: Option<String>,
    },
    /// The provider does not offer this operation.
    #[non_exhaustive]
    Unsupported {
        /// The provider's name.
        provider: &'static str,
        /// The operation, e.g. `"remote cancel"`.
        operation: &'static str,
    },
    /// The provider's answer could not be understood.
    #[non_exhaustive]
    Protocol {
        /// What was being done.
        operation: &'static str,
        /// The task concerned, if one exists.
        task_id: Option<String>,
        /// What was wrong with the answer.
        detail: String,
    },
    /// The video could not be downloaded.
    #[non_exhaustive]
    Download {
        /// The task whose video it is.
        task_id: Option<String>,
        /// What went wrong.
        detail: String,
    },
}

impl Error {
    /// A local file could not be read or written: for a [`crate::JobSource`] that reads its
    /// jobs from a file, say (`Error::io("reading the jobs", path, e)`).
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
            task_id: None,
        }
    }

    /// The stable category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. } | Error::InvalidJob { .. } => ErrorKind::InvalidInput,
            Error::Io { .. } => ErrorKind::Io,
            Error::Transport { .. } => ErrorKind::Transport,
            Error::Api { .. } => ErrorKind::Api,
            Error::SubmitUncertain { .. } => ErrorKind::SubmitUncertain,
            Error::TaskFailed { .. } => ErrorKind::TaskFailed,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Protocol { .. } => ErrorKind::Protocol,
            Error::Download { .. } => ErrorKind::Download,
        }
    }

    /// The task this error concerns, whenever one exists.
    pub fn task_id(&self) -> Option<&str> {
        match self {
            Error::Transport { task_id, .. }
            | Error::Api { task_id, .. }
            | Error::Protocol { task_id, .. }
            | Error::Download { task_id, .. }
            | Error::InvalidInput { task_id, .. }
            | Error::Io { task_id, .. } => task_id.as_deref(),
            Error::TaskFailed { status } => Some(&status.task_id),
            Error::Timeout { task_id, .. } => Some(task_id),
            Error::Cancelled { task_id } => task_id.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of a provider error, if this is one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Api { http_status, .. } => Some(*http_status),
            _ => None,
        }
    }

    /// The provider's own error code (`err_code`, `reason`, `error.code`), if any.
    pub fn provider_code(&self) -> Option<&str> {
        match self {
            Error::Api { provider_code, .. } => provider_code.as_deref(),
            Error::TaskFailed { status } => status.error_code.as_deref(),
            _ => None,
        }
    }

    /// How long the server asked to hold back (`Retry-After` of a final `429` or `503`), if
    /// it did. A batch should wait this long before its next submit.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api {
                retry_after_secs, ..
            } => retry_after_secs.map(|s| Duration::from_secs(s.into())),
            _ => None,
        }
    }

    pub(crate) fn cancelled(task_id: &str) -> Self {
        Error::Cancelled {
            task_id: Some(task_id.to_owned()),
        }
    }

    /// Attaches a task id to errors that can carry one and have none yet.
    pub(crate) fn with_task_id(mut self, id: &str) -> Self {
        match &mut self {
            Error::Transport { task_id, .. }
            | Error::Api { task_id, .. }
            | Error::Protocol { task_id, .. }
            | Error::Download { task_id, .. }
            | Error::InvalidInput { task_id, .. }
            | Error::Io { task_id, .. }
                if task_id.is_none() =>
            {
                *task_id = Some(id.to_owned())
            }
            _ => {}
        }
        self
    }

    pub(crate) fn invalid(
        field: &'static str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Error::InvalidInput {
            field,
            value: shorten(&value.to_string(), 80),
            allowed: allowed.into(),
            task_id: None,
        }
    }

    /// Names the batch job this error is about.
    pub(crate) fn in_job(self, label: String) -> Self {
        Error::InvalidJob {
            label,
            source: Box::new(self),
        }
    }
}

/// Cuts `s` to at most `max` characters, marking the cut, so that errors stay one line.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}… ({} chars)", &s[..cut], s.chars().count()),
    }
}

fn task_suffix(task_id: &Option<String>) -> String {
    task_id
        .as_ref()
        .map(|t| format!(" (task {t})"))
        .unwrap_or_default()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput { field, value, allowed, task_id: None } => {
                write!(f, "invalid {field} {value:?}: {allowed}; nothing was sent")
            }
            Error::InvalidInput { field, value, allowed, task_id: Some(id) } => write!(
                f,
                "invalid {field} {value:?}: {allowed}; task {id} was created and goes on: \
                 resume it with its task id"
            ),
            Error::InvalidJob { label, source } => write!(f, "{label}: {source}"),
            Error::Io { action, path, source, task_id } => {
                write!(f, "error {action} {}{}: {source}", path.display(), task_suffix(task_id))
            }
            Error::Transport { operation, task_id, source } => {
                write!(f, "network error during {operation}{}: {source}", task_suffix(task_id))?;
                if *operation == "submit" && source.never_sent() {
                    f.write_str("; nothing was sent, so no task was created")?;
                }
                if source.is_tls() {
                    f.write_str(
                        "; the TLS handshake failed: check the CA certificate (--ca-file), the \
                         system certificate store and the clock",
                    )
                } else {
                    f.write_str("; check the base URL and your connection")
                }
            }
            Error::Api { operation, http_status, provider_code, message, request_id, task_id, .. } => {
                write!(f, "{operation} failed{}: HTTP {http_status}", task_suffix(task_id))?;
                if let Some(code) = provider_code {
                    write!(f, " {code}")?;
                }
                write!(f, ": {message}")?;
                if let Some(id) = request_id {
                    write!(f, " (request id {id})")?;
                }
                let hint = match http_status {
                    401 => "; check the API key and the auth scheme",
                    403 => "; check the key's permissions and balance",
                    404 => "; check the task id and the base URL",
                    429 => "; slow down or raise your quota",
                    _ if *operation == "submit"
                        && crate::jobs::submit::status_class(*http_status)
                            == crate::jobs::submit::StatusClass::Uncertain =>
                    {
                        "; the submit was sent in full, so a task may have been created and \
                         billed: check the provider's task list before submitting again"
                    }
                    500..=599 => "; the provider is failing, try again later",
                    _ => "",
                };
                f.write_str(hint)
            }
            Error::SubmitUncertain { source } => write!(
                f,
                "the connection failed after the submit request was sent ({source}): a task may \
                 have been created and billed; check the provider's task list before submitting again"
            ),
            Error::TaskFailed { status } => {
                write!(f, "task {} ended {}", status.task_id, status.state)?;
                if let Some(code) = &status.error_code {
                    write!(f, " with code {code}")?;
                }
                if let Some(msg) = &status.error_message {
                    write!(f, ": {msg}")?;
                }
                Ok(())
            }
            Error::Timeout { task_id, last_status } => {
                write!(f, "timed out waiting for task {task_id}")?;
                if let Some(s) = last_status {
                    write!(f, " (last state {}", s.state)?;
                    if let Some(p) = s.progress {
                        write!(f, ", {:.0}%", p * 100.0)?;
                    }
                    f.write_str(")")?;
                }
                write!(f, "; the task goes on: wait for {task_id} again later")
            }
            Error::Cancelled { task_id: Some(task_id) } => write!(
                f,
                "stopped waiting for task {task_id}; the task goes on, wait for it again to get the video"
            ),
            Error::Cancelled { task_id: None } => f.write_str(
                "stopped while holding back between submit attempts; no task was created",
            ),
            Error::Unsupported { provider, operation } => {
                write!(f, "{operation} is not supported by {provider}")
            }
            Error::Protocol { operation, task_id, detail } => write!(
                f,
                "unexpected answer to {operation}{}: {detail}",
                task_suffix(task_id)
            ),
            Error::Download { task_id, detail } => {
                write!(f, "download failed{}: {detail}", task_suffix(task_id))
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Transport { source, .. } | Error::SubmitUncertain { source } => Some(source),
            Error::InvalidJob { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

/// A network failure: connect, TLS, reset, timeout. Opaque, so that our semver does not follow
/// the HTTP library's; `Display` says what happened and `source()` leads to the cause.
pub struct TransportError(Box<ureq::Error>);

impl TransportError {
    pub(crate) fn new(e: ureq::Error) -> Self {
        TransportError(Box::new(e))
    }

    /// A submit whose answer was lost with the process that sent it (found in a journal).
    pub(crate) fn lost_answer(detail: impl Into<String>) -> Self {
        TransportError::new(ureq::Error::Io(std::io::Error::other(detail.into())))
    }

    /// True when trying again may help (no connection, a reset, a timeout).
    pub(crate) fn is_transient(&self) -> bool {
        crate::transport::is_transient_error(&self.0)
    }

    /// True when nothing reached the server (a submit that failed so created nothing).
    pub(crate) fn never_sent(&self) -> bool {
        crate::transport::never_sent(&self.0)
    }

    /// True when the TLS handshake failed.
    pub(crate) fn is_tls(&self) -> bool {
        crate::transport::is_tls_handshake(&self.0)
    }

    /// True when the failure was a timeout (connect, send or receive).
    pub fn is_timeout(&self) -> bool {
        matches!(*self.0, ureq::Error::Timeout(_))
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TransportError").field(&self.0).finish()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::transport::explain(&self.0) {
            Some(words) => f.write_str(&words),
            None => fmt::Display::fmt(&self.0, f),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}
