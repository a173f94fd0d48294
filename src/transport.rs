//! The HTTP layer shared by the API calls and the download: the agent, reading a capped
//! answer, response headers, and which ureq failures are worth retrying.

use std::time::{Duration, SystemTime};

use crate::retry;

/// True for `https` URLs and for `http` URLs whose host is loopback (local testing).
pub(crate) fn is_https_or_loopback(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A response read to the end (bodies of API answers are small and capped), so the connection
/// goes back to the pool.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
    pub request_id: Option<String>,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Reads `response` into a [`Reply`], at most `limit` bytes of body; the request id comes from
/// the first of `request_id_headers` present.
pub(crate) fn read_reply(
    mut response: ureq::http::Response<ureq::Body>,
    limit: u64,
    request_id_headers: &[&str],
) -> Result<Reply, ureq::Error> {
    let status = response.status().as_u16();
    let retry_after = retry_after(&response);
    let request_id = request_id_headers
        .iter()
        .find_map(|name| header(&response, name));
    let body = response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()?;
    Ok(Reply {
        status,
        body,
        retry_after,
        request_id,
    })
}

/// A response header as text, if present and readable.
pub(crate) fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    let value = response.headers().get(name)?;
    value.to_str().ok().map(str::to_owned)
}

/// The answer's `Retry-After`, parsed.
pub(crate) fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    header(response, "retry-after").and_then(|v| retry::parse_retry_after(&v, SystemTime::now()))
}

/// HTTP statuses worth retrying on idempotent requests.
pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// True when the request certainly never reached the server (so even a submit may be retried).
pub(crate) fn never_sent(err: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match err {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Timeout(t) => matches!(t, ureq::Timeout::Connect | ureq::Timeout::Resolve),
        ureq::Error::Io(e) => matches!(
            e.kind(),
            K::ConnectionRefused | K::NotFound | K::AddrNotAvailable
        ),
        _ => false,
    }
}

/// True for network failures worth retrying on idempotent requests.
pub(crate) fn is_transient_error(err: &ureq::Error) -> bool {
    never_sent(err)
        || matches!(
            err,
            ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::Protocol(_)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 413] {
            assert!(!is_transient_status(s), "{s}");
        }
    }

    #[test]
    fn which_failures_are_retried() {
        use std::io::{Error as IoError, ErrorKind as K};
        let refused = ureq::Error::Io(IoError::new(K::ConnectionRefused, "x"));
        assert!(never_sent(&refused) && is_transient_error(&refused));
        assert!(never_sent(&ureq::Error::ConnectionFailed));
        let reset = ureq::Error::Io(IoError::new(K::ConnectionReset, "x"));
        assert!(!never_sent(&reset) && is_transient_error(&reset));
        let read_timeout = ureq::Error::Timeout(ureq::Timeout::RecvResponse);
        assert!(!never_sent(&read_timeout) && is_transient_error(&read_timeout));
        // Permanent: a bad URL or a body too large is not fixed by trying again.
        for permanent in [
            ureq::Error::BadUri("x".into()),
            ureq::Error::BodyExceedsLimit(1),
            ureq::Error::TooManyRedirects,
        ] {
            assert!(!is_transient_error(&permanent), "{permanent}");
            assert!(!never_sent(&permanent), "{permanent}");
        }
    }
}
