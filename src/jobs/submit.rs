//! The one table of submit outcomes: what a submit met, read as *created* (the task id is
//! known), *not created* (it provably never reached the provider, or the provider documents the
//! answer as a refusal that creates nothing) or *uncertain* (a task may exist and be billed).
//! Nothing else in the crate decides this.
//!
//! | what the submit met | outcome | why |
//! |---|---|---|
//! | 2xx, body read, task id parsed and usable | created | |
//! | 2xx, body unreadable (reset, timeout, too large) or not JSON / no task id | uncertain | the provider accepted it |
//! | 2xx, task id not safe in a URL | uncertain, the id in the error | the task exists, but cannot be polled |
//! | 3xx | not created | redirects are not followed; a redirecting host did not take the request |
//! | 400, 401, 402, 403, 404, 405, 411, 413, 414, 415, 422, 431 | not created | documented refusals: validation, key, balance, route, size |
//! | 429 | not created, throttled | refused before processing; `Retry-After` kept |
//! | 408, 409, other 4xx, 1xx, 5xx | uncertain | sent in full; the provider may have created the task before failing |
//! | DNS failure, connection refused or unreachable, connect timeout | not created (not sent), retried with backoff | nothing reached the provider |
//! | TLS handshake failure | not created (not sent) | completed while connecting, before the request is written |
//! | bad URL, bad proxy, request not buildable | not created (not sent) | |
//! | reset, timeout or protocol error after connecting | uncertain | the body may have been processed |
//! | the image could not be read while sending | not created | the body was cut short: the provider cannot parse it |

use crate::error::{Error, Result};
use crate::transport;

/// What one submit came to.
#[derive(Debug)]
pub(crate) enum SubmitOutcome {
    /// The task exists, with this id.
    Created(String),
    /// Certainly no task: nothing reached the provider, or it refused. `throttled` for a `429`
    /// (hold back; the error keeps the server's `Retry-After`).
    NotCreated { error: Error, throttled: bool },
    /// A task may exist and be billed.
    Uncertain(Error),
}

impl SubmitOutcome {
    /// The task id, or the error as the plain submit API reports it.
    pub(crate) fn into_result(self) -> Result<String> {
        match self {
            SubmitOutcome::Created(id) => Ok(id),
            SubmitOutcome::NotCreated { error, .. } | SubmitOutcome::Uncertain(error) => Err(error),
        }
    }

    /// A short name of the class, for logs.
    pub(crate) fn class(&self) -> &'static str {
        match self {
            SubmitOutcome::Created(_) => "created",
            SubmitOutcome::NotCreated {
                throttled: true, ..
            } => "not created (throttled)",
            SubmitOutcome::NotCreated { .. } => "not created",
            SubmitOutcome::Uncertain(_) => "uncertain",
        }
    }

    /// Why, for logs: the task id, or the error.
    pub(crate) fn why(&self) -> String {
        match self {
            SubmitOutcome::Created(task_id) => format!("task {task_id}"),
            SubmitOutcome::NotCreated { error, .. } | SubmitOutcome::Uncertain(error) => {
                error.to_string()
            }
        }
    }
}

/// How the HTTP status of a submit's answer is read, before its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusClass {
    /// 2xx: created, if the body gives a usable task id (else uncertain).
    Accepted,
    /// A refusal that creates nothing.
    Refused,
    /// `429`: refused, may be sent again after holding back.
    Throttled,
    /// The provider may have created the task.
    Uncertain,
}

/// The status column of the table.
pub(crate) fn status_class(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Accepted,
        429 => StatusClass::Throttled,
        300..=399 | 400..=405 | 411 | 413..=415 | 422 | 431 => StatusClass::Refused,
        _ => StatusClass::Uncertain,
    }
}

/// How a network failure of a submit is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureClass {
    /// Nothing was sent, and trying again may work (no connection could be made).
    NotSentRetry,
    /// Nothing was sent; trying again will not help (TLS, a bad URL).
    NotSent,
    /// The request may have reached the provider.
    Uncertain,
}

/// The network column of the table.
pub(crate) fn failure_class(err: &ureq::Error) -> FailureClass {
    if transport::could_not_connect(err) {
        FailureClass::NotSentRetry
    } else if transport::never_sent(err) {
        FailureClass::NotSent
    } else {
        FailureClass::Uncertain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error as IoError, ErrorKind as K};

    #[test]
    fn every_status_row() {
        use StatusClass::*;
        for (status, class) in [
            (200, Accepted),
            (201, Accepted),
            (299, Accepted),
            (301, Refused),
            (307, Refused),
            (400, Refused),
            (401, Refused),
            (402, Refused),
            (403, Refused),
            (404, Refused),
            (405, Refused),
            (411, Refused),
            (413, Refused),
            (414, Refused),
            (415, Refused),
            (422, Refused),
            (431, Refused),
            (429, Throttled),
            (100, Uncertain),
            (408, Uncertain),
            (409, Uncertain),
            (410, Uncertain),
            (425, Uncertain),
            (500, Uncertain),
            (502, Uncertain),
            (503, Uncertain),
            (504, Uncertain),
            (599, Uncertain),
            (600, Uncertain),
        ] {
            assert_eq!(status_class(status), class, "{status}");
        }
    }

    #[test]
    fn every_network_row() {
        use FailureClass::*;
        let io = |k: K| ureq::Error::Io(IoError::new(k, "x"));
        let dns = ureq::Error::Io(IoError::other(
            "failed to lookup address information: Name or service not known",
        ));
        for (err, class) in [
            (ureq::Error::HostNotFound, NotSentRetry),
            (dns, NotSentRetry),
            (ureq::Error::ConnectionFailed, NotSentRetry),
            (io(K::ConnectionRefused), NotSentRetry),
            (io(K::NetworkUnreachable), NotSentRetry),
            (io(K::HostUnreachable), NotSentRetry),
            (io(K::NetworkDown), NotSentRetry),
            (io(K::AddrNotAvailable), NotSentRetry),
            (ureq::Error::Timeout(ureq::Timeout::Connect), NotSentRetry),
            (ureq::Error::Timeout(ureq::Timeout::Resolve), NotSentRetry),
            (ureq::Error::Tls("handshake"), NotSent),
            (ureq::Error::BadUri("x".into()), NotSent),
            (ureq::Error::InvalidProxyUrl, NotSent),
            (ureq::Error::ConnectProxyFailed("x".into()), NotSent),
            (ureq::Error::RequireHttpsOnly("x".into()), NotSent),
            (ureq::Error::TlsRequired, NotSent),
            (io(K::ConnectionReset), Uncertain),
            (io(K::BrokenPipe), Uncertain),
            (io(K::UnexpectedEof), Uncertain),
            (io(K::TimedOut), Uncertain),
            (io(K::Other), Uncertain),
            (ureq::Error::Timeout(ureq::Timeout::SendRequest), Uncertain),
            (ureq::Error::Timeout(ureq::Timeout::SendBody), Uncertain),
            (ureq::Error::Timeout(ureq::Timeout::RecvResponse), Uncertain),
            (ureq::Error::Timeout(ureq::Timeout::RecvBody), Uncertain),
            (ureq::Error::Timeout(ureq::Timeout::PerRead), Uncertain),
            (ureq::Error::Timeout(ureq::Timeout::PerWrite), Uncertain),
            (ureq::Error::Timeout(ureq::Timeout::Global), Uncertain),
            (ureq::Error::Timeout(ureq::Timeout::PerCall), Uncertain),
            (ureq::Error::BodyExceedsLimit(1), Uncertain),
            (ureq::Error::TooManyRedirects, Uncertain),
            (ureq::Error::RedirectFailed, Uncertain),
            (ureq::Error::BodyStalled, Uncertain),
        ] {
            assert_eq!(failure_class(&err), class, "{err:?}");
        }
    }
}
