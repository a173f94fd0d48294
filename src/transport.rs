//! The HTTP layer shared by the API calls and the download: the agent and whom it trusts,
//! reading a capped answer, response headers, which ureq failures are worth retrying, and
//! the connection wrapper that inserts the key and bounds each API answer's time.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use ureq::tls::{Certificate, PemItem, RootCerts};
use ureq::unversioned::transport::{NextTimeout, Transport};

use crate::config::{CaCertificates, Config, TrustStore};
use crate::error::Error;
use crate::retry;

/// The one agent of a client, from its configuration, inserting the key on the way out
/// ([`KeyInserter`]). Per-phase timeouts, and the API answer bound in [`KeyInserting`], not a
/// global one: ureq spawns a DNS thread per call for a global timeout, even on a pooled
/// connection.
pub(crate) fn agent(config: &Config, inserter: KeyInserter) -> crate::Result<ureq::Agent> {
    let t = config.timeouts;
    static RING: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    let ring = RING.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()));
    let tls = ureq::tls::TlsConfig::builder()
        .unversioned_rustls_crypto_provider(ring.clone())
        .root_certs(root_certificates(config)?)
        .build();
    let mut builder = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(config.user_agent.as_str())
        .tls_config(tls)
        .timeout_connect(Some(t.connect))
        .timeout_send_request(Some(t.send))
        .timeout_send_body(Some(t.send))
        .timeout_recv_response(Some(t.receive))
        .timeout_per_read(Some(t.receive))
        .timeout_per_write(Some(t.receive));
    if !config.proxy_from_env {
        builder = builder.proxy(None);
    }
    Ok(inserter.agent(builder.build()))
}

/// The roots the agent trusts, from [`Config::trust_store`] and [`Config::ca_certificates`];
/// reads and checks the CA file. An error names the field and says what is wrong.
pub(crate) fn root_certificates(config: &Config) -> crate::Result<RootCerts> {
    // Borrowed from the static data: nothing is copied, and every client shares them.
    static BUNDLED: OnceLock<Arc<Vec<Certificate<'static>>>> = OnceLock::new();
    let bundled = || {
        BUNDLED.get_or_init(|| {
            Arc::new(
                webpki_root_certs::TLS_SERVER_ROOT_CERTS
                    .iter()
                    .map(|c| Certificate::from_der(c.as_ref()))
                    .collect(),
            )
        })
    };
    let extra = config.ca_certificates.as_ref().map(read_ca).transpose()?;
    match (config.trust_store, extra) {
        (TrustStore::Bundled, None) => Ok(RootCerts::Specific(bundled().clone())),
        (TrustStore::Bundled, Some(extra)) => Ok(bundled()
            .iter()
            .cloned()
            .chain(extra)
            .collect::<Vec<_>>()
            .into()),
        (TrustStore::CaOnly, Some(extra)) => Ok(extra.into()),
        (TrustStore::CaOnly, None) => Err(Error::invalid(
            "ca_certificates",
            "none",
            "a CA file or PEM text with trust store ca-only, which trusts nothing else",
        )),
        (TrustStore::System, Some(_)) => Err(Error::invalid(
            "ca_certificates",
            "set",
            "none with trust store system (add the CA to the system's store instead), or \
             trust store bundled or ca-only with it",
        )),
        (TrustStore::System, None) if cfg!(feature = "platform-verifier") => {
            Ok(RootCerts::PlatformVerifier)
        }
        (TrustStore::System, None) => Err(Error::invalid(
            "trust_store",
            TrustStore::System,
            "bundled or ca-only: this build of vidu has no system trust store (its \
             `platform-verifier` feature is off)",
        )),
    }
}

/// The certificates of a CA file or PEM text, each checked to be one rustls can trust.
fn read_ca(ca: &CaCertificates) -> crate::Result<Vec<Certificate<'static>>> {
    let (field, shown, pem) = match ca {
        CaCertificates::File(path) => {
            let shown = path.display().to_string();
            let pem = std::fs::read(path).map_err(|e| {
                Error::invalid(
                    "ca_file",
                    &shown,
                    format!("a readable PEM file of CA certificates; reading it failed: {e}"),
                )
            })?;
            ("ca_file", shown, Cow::Owned(pem))
        }
        CaCertificates::Pem(pem) => (
            "ca_pem",
            format!("<{} bytes>", pem.len()),
            Cow::Borrowed(&pem[..]),
        ),
    };
    let bad = |what: String| {
        Error::invalid(
            field,
            &shown,
            format!("PEM text with CA certificates (-----BEGIN CERTIFICATE-----); {what}"),
        )
    };
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            // A key or a CRL beside the certificates is not ours to judge.
            Ok(_) => {}
            Err(e) => return Err(bad(format!("it is not valid PEM: {e}"))),
        }
    }
    if certs.is_empty() {
        return Err(bad("it holds no certificate (a DER file? convert it with \
                        `openssl x509 -inform der -in FILE -out FILE.pem`)"
            .into()));
    }
    let count = certs.len();
    for (n, cert) in certs.iter().enumerate() {
        rustls::RootCertStore::empty()
            .add(rustls::pki_types::CertificateDer::from(cert.der()))
            .map_err(|e| {
                bad(format!(
                    "certificate {} of {count} is not a usable CA certificate: {e}",
                    n + 1
                ))
            })?;
    }
    Ok(certs)
}

/// The certificate error of a failed TLS handshake, if that is what `err` is. Certificates are
/// checked during the handshake only, before any request byte goes out. (ureq hands the
/// handshake's errors on as I/O errors wrapping rustls' own.)
fn certificate_error(err: &ureq::Error) -> Option<&rustls::CertificateError> {
    let ureq::Error::Io(e) = err else {
        return None;
    };
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(c) => Some(c),
        _ => None,
    }
}

/// Words for the failures whose cure the user must know (the certificate errors, the answer
/// bound); `None` for the others, which ureq describes well enough.
pub(crate) fn explain(err: &ureq::Error) -> Option<String> {
    use rustls::CertificateError as C;
    if let ureq::Error::Timeout(ureq::Timeout::Global) = err {
        // Our own bound (KeyInserting): ureq's global timeout is never set.
        return Some(
            "no complete answer within the time allowed for an API answer (timeouts.request): \
             the server is slow or trickles its answer"
                .into(),
        );
    }
    let cert = certificate_error(err)?;
    let what = match cert {
        C::UnknownIssuer => {
            "it is not signed by an authority this client trusts; nothing was sent. Behind a \
             company proxy that inspects TLS, or for a gateway on a private CA, trust that CA: \
             a CA file (ca_file; `--ca-file FILE` or VIDU_CA_FILE in the CLI) or the system \
             trust store (trust store system, with the `platform-verifier` feature)"
        }
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
            "it is outside its validity dates; nothing was sent. Check this machine's clock \
             and date; if they are right, the server's certificate has expired: tell its \
             operator"
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is for another host name; nothing was sent. Check the host in the base URL (a \
             proxy that inspects TLS may also answer with a certificate for the wrong name)"
        }
        _ => "nothing was sent",
    };
    Some(format!(
        "the server's TLS certificate was refused ({cert}): {what}"
    ))
}

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
        _ if certificate_error(err).is_some() => true,
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
///
/// The same wrapper bounds each API answer's time ([`crate::Timeouts::request`]): it sees
/// every read, so no timer thread is needed.
pub(crate) struct KeyInserter {
    /// `\r\nauthorization: <placeholder>\r\n`, as ureq writes the header.
    placeholder_line: Arc<[u8]>,
    /// The same line with the real value.
    real_line: Arc<[u8]>,
    /// The longest an API answer may take, from the last byte sent.
    answer_bound: Duration,
}

impl std::fmt::Debug for KeyInserter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyInserter(<redacted>)")
    }
}

impl KeyInserter {
    /// The inserter for `value`, and the placeholder to send instead of it. API answers (the
    /// requests that carry the placeholder) must be complete within `answer_bound`.
    pub(crate) fn new(value: &str, answer_bound: Duration) -> (KeyInserter, String) {
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
            answer_bound,
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
            answer_bound: self.answer_bound,
            next_write_is_head: true,
            api_request: false,
            answer_deadline: None,
        }))
    }
}

/// A connection that puts the real `Authorization` value into each request head it sends, and
/// ends an API answer that takes longer than its bound.
pub(crate) struct KeyInserting {
    inner: Box<dyn Transport>,
    placeholder_line: Arc<[u8]>,
    real_line: Arc<[u8]>,
    answer_bound: Duration,
    /// HTTP/1.1 without pipelining: a request head is the first write after an answer was
    /// read (or on a new connection); later writes are its body.
    next_write_is_head: bool,
    /// The request being sent or answered carries the placeholder: an API call, not a download.
    api_request: bool,
    /// When the answer being read must be complete (API requests only).
    answer_deadline: Option<Instant>,
}

impl std::fmt::Debug for KeyInserting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KeyInserting").field(&self.inner).finish()
    }
}

impl KeyInserting {
    /// Replaces the placeholder line in a request head (never in a body: a head starts with
    /// a method and the line is looked for before its blank line). True when it was there.
    fn insert_key(&mut self, amount: usize) -> bool {
        let out = &mut self.inner.buffers().output()[..amount];
        if !(out.starts_with(b"GET ") || out.starts_with(b"POST ")) {
            return false;
        }
        let head_end = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(out.len(), |p| p + 2);
        let line = &self.placeholder_line[..];
        if let Some(at) = out[..head_end].windows(line.len()).position(|w| w == line) {
            out[at..at + line.len()].copy_from_slice(&self.real_line);
            return true;
        }
        false
    }

    /// `timeout` cut to what is left of the API answer's bound; the bound's own timeout
    /// (`Timeout::Global`, which ureq itself is never given) once it has passed.
    fn bounded(&self, timeout: NextTimeout) -> Result<NextTimeout, ureq::Error> {
        let Some(deadline) = self.answer_deadline else {
            return Ok(timeout);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ureq::Error::Timeout(ureq::Timeout::Global));
        }
        Ok(if *timeout.after > left {
            NextTimeout {
                after: left.into(),
                reason: ureq::Timeout::Global,
                ..timeout
            }
        } else {
            timeout
        })
    }
}

impl Transport for KeyInserting {
    fn buffers(&mut self) -> &mut dyn ureq::unversioned::transport::Buffers {
        self.inner.buffers()
    }
    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if std::mem::take(&mut self.next_write_is_head) {
            self.api_request = self.insert_key(amount);
        }
        let sent = self.inner.transmit_output(amount, timeout);
        // The answer's clock starts when the request is out: each write restarts it (the
        // upload itself is bounded by the send timeout).
        self.answer_deadline = if self.api_request {
            Instant::now().checked_add(self.answer_bound)
        } else {
            None
        };
        sent
    }
    // No `maybe_await_input`: ureq reaches this transport through `Box<T>`, whose impl of the
    // trait leaves it to the default, which calls `await_input` below.
    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.next_write_is_head = true;
        let timeout = self.bounded(timeout)?;
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
        let (inserter, placeholder) = KeyInserter::new("Bearer sk-secret", Duration::from_secs(60));
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
                answer_bound: inserter.answer_bound,
                next_write_is_head: true,
                api_request: false,
                answer_deadline: None,
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
    fn a_ca_is_added_to_the_bundled_roots_or_replaces_them() {
        // Any parsable certificate will do: the webpki bundle's first.
        let der = webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref();
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der)
        );
        let config = |store| {
            Config::new(crate::Provider::Vidu, "k")
                .trust_store(store)
                .ca_pem(pem.clone())
        };
        let count = |roots| match roots {
            RootCerts::Specific(certs) => certs.len(),
            other => panic!("{other:?}"),
        };
        let bundled = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
        assert!(bundled > 100);
        let added = root_certificates(&config(TrustStore::Bundled)).unwrap();
        assert_eq!(count(added), bundled + 1);
        let alone = root_certificates(&config(TrustStore::CaOnly)).unwrap();
        assert_eq!(count(alone), 1);
        let default = Config::new(crate::Provider::Vidu, "k");
        assert_eq!(count(root_certificates(&default).unwrap()), bundled);
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
