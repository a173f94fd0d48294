//! The HTTP layer shared by the API calls and the download: the agent, reading a capped
//! answer, response headers, and which ureq failures are worth retrying.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ureq::unversioned::transport::{NextTimeout, Transport};

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

/// True when the request certainly never reached the server (so even a submit may be retried,
/// and a submit that failed so created nothing): the name did not resolve, no connection could
/// be made, or the TLS handshake failed (ureq completes it while connecting, before a byte of
/// the request is written), or the request could not even be built.
pub(crate) fn never_sent(err: &ureq::Error) -> bool {
    could_not_connect(err)
        || is_tls_handshake(err)
        || matches!(
            err,
            ureq::Error::BadUri(_)
                | ureq::Error::Http(_)
                | ureq::Error::InvalidProxyUrl
                | ureq::Error::ConnectProxyFailed(_)
                | ureq::Error::RequireHttpsOnly(_)
                | ureq::Error::TlsRequired
        )
}

/// No connection could be made: worth trying again, even for a submit.
pub(crate) fn could_not_connect(err: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match err {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Timeout(t) => matches!(t, ureq::Timeout::Connect | ureq::Timeout::Resolve),
        ureq::Error::Io(e) => {
            matches!(
                e.kind(),
                K::ConnectionRefused
                    | K::NotFound
                    | K::AddrNotAvailable
                    | K::NetworkUnreachable
                    | K::HostUnreachable
                    | K::NetworkDown
            ) || is_name_lookup_failure(e)
        }
        _ => false,
    }
}

/// A TLS failure: with ureq's rustls connector these come only from the handshake, which is
/// completed while connecting (errors on an established TLS stream surface as `Io`).
pub(crate) fn is_tls_handshake(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => true,
        // ureq completes the handshake with rustls's `complete_io`, whose errors arrive as I/O
        // errors wrapping rustls's own. These kinds only arise in a handshake (certificates,
        // alerts, version or cipher mismatch) or when the peer does not speak TLS at all (a
        // record that is no TLS record: an HTTP answer on a TLS connection).
        ureq::Error::Io(e) => e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(|tls| {
                matches!(
                    tls,
                    rustls::Error::InvalidCertificate(_)
                        | rustls::Error::NoCertificatesPresented
                        | rustls::Error::UnsupportedNameType
                        | rustls::Error::PeerIncompatible(_)
                        | rustls::Error::InappropriateHandshakeMessage { .. }
                        | rustls::Error::AlertReceived(_)
                        | rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
                )
            }),
        _ => false,
    }
}

/// std reports a failed `getaddrinfo` (unknown host, no network) as an uncategorised I/O error
/// with this text; nothing else carries it.
fn is_name_lookup_failure(e: &std::io::Error) -> bool {
    e.to_string()
        .starts_with("failed to lookup address information")
}

/// True for network failures worth retrying on idempotent requests.
pub(crate) fn is_transient_error(err: &ureq::Error) -> bool {
    could_not_connect(err)
        || matches!(
            err,
            ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::Protocol(_)
        )
}

/// The `Authorization` value goes into requests as a random placeholder of the same length;
/// the real value replaces it only on the way to the socket (or to TLS). ureq-proto hexdumps
/// every request head at TRACE level, so this keeps the key out of any log, at every level.
pub(crate) struct KeyInserter {
    /// `\r\nauthorization: <placeholder>\r\n`, as ureq writes the header.
    placeholder_line: Arc<[u8]>,
    /// The same line with the real value.
    real_line: Arc<[u8]>,
}

impl std::fmt::Debug for KeyInserter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyInserter(<redacted>)")
    }
}

impl KeyInserter {
    /// The inserter for `value`, and the placeholder to send instead of it.
    pub(crate) fn new(value: &str) -> (KeyInserter, String) {
        let placeholder: String = std::iter::repeat_with(|| {
            let n = (retry::random_fraction() * 16.0) as usize;
            b"0123456789abcdef"[n.min(15)] as char
        })
        .take(value.len())
        .collect();
        let line =
            |v: &str| -> Arc<[u8]> { format!("\r\nauthorization: {v}\r\n").into_bytes().into() };
        let inserter = KeyInserter {
            placeholder_line: line(&placeholder),
            real_line: line(value),
        };
        (inserter, placeholder)
    }

    /// An agent with `config` whose connections insert the key.
    pub(crate) fn agent(self, config: ureq::config::Config) -> ureq::Agent {
        use ureq::unversioned::transport::Connector;
        use ureq::unversioned::{resolver::DefaultResolver, transport::DefaultConnector};
        ureq::Agent::with_parts(
            config,
            DefaultConnector::new().chain(self),
            DefaultResolver::default(),
        )
    }
}

impl ureq::unversioned::transport::Connector<Box<dyn Transport>> for KeyInserter {
    type Out = KeyInserting;

    fn connect(
        &self,
        _: &ureq::unversioned::transport::ConnectionDetails,
        chained: Option<Box<dyn Transport>>,
    ) -> Result<Option<KeyInserting>, ureq::Error> {
        Ok(chained.map(|inner| KeyInserting {
            inner,
            placeholder_line: self.placeholder_line.clone(),
            real_line: self.real_line.clone(),
        }))
    }
}

/// A connection that puts the real `Authorization` value into each request head it sends.
pub(crate) struct KeyInserting {
    inner: Box<dyn Transport>,
    placeholder_line: Arc<[u8]>,
    real_line: Arc<[u8]>,
}

impl std::fmt::Debug for KeyInserting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KeyInserting").field(&self.inner).finish()
    }
}

impl KeyInserting {
    /// Replaces the placeholder line in a request head (never in a body: a head starts with
    /// a method and the line is looked for before its blank line).
    fn insert_key(&mut self, amount: usize) {
        let out = &mut self.inner.buffers().output()[..amount];
        if !(out.starts_with(b"GET ") || out.starts_with(b"POST ")) {
            return;
        }
        let head_end = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(out.len(), |p| p + 2);
        let line = &self.placeholder_line[..];
        if let Some(at) = out[..head_end].windows(line.len()).position(|w| w == line) {
            out[at..at + line.len()].copy_from_slice(&self.real_line);
        }
    }
}

impl Transport for KeyInserting {
    fn buffers(&mut self) -> &mut dyn ureq::unversioned::transport::Buffers {
        self.inner.buffers()
    }
    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.insert_key(amount);
        self.inner.transmit_output(amount, timeout)
    }
    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.maybe_await_input(timeout)
    }
    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.await_input(timeout)
    }
    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }
    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_hides_the_key_and_is_swapped_only_in_a_request_head() {
        let (inserter, placeholder) = KeyInserter::new("Bearer sk-secret");
        assert_eq!(placeholder.len(), "Bearer sk-secret".len());
        assert!(!format!("{inserter:?}").contains("secret"));
        let head = format!("GET /x HTTP/1.1\r\nauthorization: {placeholder}\r\n\r\n");
        let body = format!("POST-ish body\r\nauthorization: {placeholder}\r\n\r\n");
        for (sent, swapped) in [(head, true), (body, false)] {
            let mut t = KeyInserting {
                inner: Box::new(Recorder(ureq::unversioned::transport::LazyBuffers::new(
                    1024, 1024,
                ))),
                placeholder_line: inserter.placeholder_line.clone(),
                real_line: inserter.real_line.clone(),
            };
            t.buffers().output()[..sent.len()].copy_from_slice(sent.as_bytes());
            t.insert_key(sent.len());
            let out = String::from_utf8(t.buffers().output()[..sent.len()].to_vec()).unwrap();
            assert_eq!(out.contains("sk-secret"), swapped, "{out}");
            assert_eq!(out.contains(&placeholder), !swapped, "{out}");
        }
    }

    #[derive(Debug)]
    struct Recorder(ureq::unversioned::transport::LazyBuffers);

    impl Transport for Recorder {
        fn buffers(&mut self) -> &mut dyn ureq::unversioned::transport::Buffers {
            &mut self.0
        }
        fn transmit_output(&mut self, _: usize, _: NextTimeout) -> Result<(), ureq::Error> {
            Ok(())
        }
        fn await_input(&mut self, _: NextTimeout) -> Result<bool, ureq::Error> {
            Ok(false)
        }
        fn is_open(&mut self) -> bool {
            true
        }
    }

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
        }
        // A URL that cannot be built was never sent; an answer too large was.
        assert!(never_sent(&ureq::Error::BadUri("x".into())));
        assert!(!never_sent(&ureq::Error::BodyExceedsLimit(1)));
    }
}
