//! Client configuration. Every field states its default.

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::{ApiKey, AuthScheme};
use crate::error::{Error, Result};
use crate::provider::Provider;
use crate::retry::{PollSchedule, RetryPolicy};
use crate::transport::is_https_or_loopback;

/// The longest duration any configuration field takes: longer ones are surely a mistake, and
/// would overflow the clock arithmetic of the HTTP library.
pub const MAX_CONFIG_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Per-phase network timeouts. Per-phase rather than global: ureq spawns a DNS thread per call
/// for a global timeout, even on a pooled connection.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Resolving and connecting, including TLS. Default 10 s.
    pub connect: Duration,
    /// Sending the request headers and body, in all. Default 600 s: an inline image can make a
    /// 67 MB body, which takes minutes on a slow uplink. A stalled upload fails sooner, after
    /// `receive` without progress.
    pub send: Duration,
    /// Waiting for the response headers, and the longest stall of any single read or write.
    /// Default 30 s.
    pub receive: Duration,
    /// The longest an API answer may take, from the end of sending the request to the last
    /// byte of the answer, however steadily it trickles in. Default 60 s. Not for uploading the
    /// request body (`send` bounds it) nor for the video download (its stall rule,
    /// [`Config::max_download_stalls`], applies instead).
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            send: Duration::from_secs(600),
            receive: Duration::from_secs(30),
            request: Duration::from_secs(60),
        }
    }
}

impl Timeouts {
    /// The defaults: connect 10 s, send 600 s, receive 30 s, request 60 s.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`connect`](Self::connect) (default 10 s).
    pub fn connect(mut self, d: Duration) -> Self {
        self.connect = d;
        self
    }
    /// Sets [`send`](Self::send) (default 600 s).
    pub fn send(mut self, d: Duration) -> Self {
        self.send = d;
        self
    }
    /// Sets [`receive`](Self::receive) (default 30 s).
    pub fn receive(mut self, d: Duration) -> Self {
        self.receive = d;
        self
    }
    /// Sets [`request`](Self::request) (default 60 s).
    pub fn request(mut self, d: Duration) -> Self {
        self.request = d;
        self
    }
}

/// Which certificate authorities a server's certificate must chain to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrustStore {
    /// Mozilla's roots, compiled into the library, plus [`Config::ca_certificates`] if set.
    /// The default: the same on every machine, no system files read.
    #[default]
    Bundled,
    /// Only [`Config::ca_certificates`], which must then be set: a private gateway whose CA is
    /// the only one to trust.
    CaOnly,
    /// The operating system's trust store (where a company installs the CA of a proxy that
    /// inspects TLS). Needs the crate feature `platform-verifier`; not with
    /// [`Config::ca_certificates`] (add the CA to the system store instead).
    System,
}

impl std::fmt::Display for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrustStore::Bundled => "bundled",
            TrustStore::CaOnly => "ca-only",
            TrustStore::System => "system",
        })
    }
}

/// CA certificates to trust, in PEM (`-----BEGIN CERTIFICATE-----` blocks; anything else in
/// the text, such as comments, is skipped).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaCertificates {
    /// A PEM file, read when the client is made (`Client::new`) and by
    /// [`Config::validate`].
    File(PathBuf),
    /// PEM text in memory.
    Pem(Vec<u8>),
}

impl std::fmt::Debug for CaCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaCertificates::File(path) => f.debug_tuple("File").field(path).finish(),
            CaCertificates::Pem(pem) => write!(f, "Pem(<{} bytes>)", pem.len()),
        }
    }
}

/// Everything a [`crate::Client`] needs. Build with [`Config::new`], then the setters (or set
/// fields).
///
/// ```
/// use std::time::Duration;
/// use vidu::{Config, PollSchedule, Provider, RetryPolicy, Timeouts};
///
/// let config = Config::new(Provider::Vidu, "my-api-key")
///     .timeouts(Timeouts::new().connect(Duration::from_secs(5)))
///     .poll(PollSchedule::new().first(Duration::from_secs(5)).max(Duration::from_secs(30)))
///     .retry(RetryPolicy::new().max_attempts(3));
/// assert_eq!(config.base_url, "https://api.vidu.com");
/// config.validate()?; // `Client::new` does this too
///
/// // A bad value is refused before anything is sent, naming the field.
/// let err = config.base_url("http://api.example.com").validate().unwrap_err();
/// assert!(err.to_string().starts_with("invalid base_url \"http://api.example.com\""));
/// # Ok::<(), vidu::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The provider. No default.
    pub provider: Provider,
    /// The API key. Must not be empty.
    pub api_key: ApiKey,
    /// Base URL, scheme and host with an optional path prefix. Default
    /// [`Provider::default_base_url`]. Point it at `vidu::emulator` to test offline.
    pub base_url: String,
    /// Default [`Provider::default_auth_scheme`]. UModelVerse documents both bare and Bearer.
    pub auth_scheme: AuthScheme,
    /// Default [`Timeouts::default`].
    pub timeouts: Timeouts,
    /// Default [`PollSchedule::default`].
    pub poll: PollSchedule,
    /// Default [`RetryPolicy::default`].
    pub retry: RetryPolicy,
    /// Default `vidu-rust/<version>`.
    pub user_agent: String,
    /// Largest status or error body read, in bytes. Default 1 MiB.
    pub max_status_body: u64,
    /// Use `HTTPS_PROXY` and friends from the environment. Default true.
    pub proxy_from_env: bool,
    /// Largest video downloaded, in bytes. A larger declared size is refused at once; a body
    /// that grows past it (an endless chunked answer) is stopped, and its partial file
    /// removed. Default 2 GiB.
    pub max_video_bytes: u64,
    /// Which certificate authorities servers must chain to. Default [`TrustStore::Bundled`].
    pub trust_store: TrustStore,
    /// CA certificates trusted besides [`trust_store`](Self::trust_store)'s (or instead of
    /// them, with [`TrustStore::CaOnly`]). Default none. An unreadable file, or one without a
    /// valid certificate, is [`Error::InvalidInput`] from [`Config::validate`] and
    /// `Client::new`, before anything is sent.
    pub ca_certificates: Option<CaCertificates>,
    /// Stalls in a row (no data for [`Timeouts::receive`], before or within the body) after
    /// which a download gives up, keeping its partial file for a later resume. Default 3: at
    /// the default 30 s receive timeout, a host that stalls on every connection ends the
    /// download after about 90 s.
    pub max_download_stalls: u32,
}

impl Config {
    /// A configuration with the provider's defaults.
    pub fn new(provider: Provider, api_key: impl Into<ApiKey>) -> Self {
        Config {
            provider,
            api_key: api_key.into(),
            base_url: provider.default_base_url().to_owned(),
            auth_scheme: provider.default_auth_scheme(),
            timeouts: Timeouts::default(),
            poll: PollSchedule::default(),
            retry: RetryPolicy::default(),
            user_agent: format!("vidu-rust/{}", crate::VERSION),
            max_status_body: 1 << 20,
            proxy_from_env: true,
            max_video_bytes: 2 << 30,
            max_download_stalls: 3,
            trust_store: TrustStore::Bundled,
            ca_certificates: None,
        }
    }

    /// Sets the API key.
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = key.into();
        self
    }
    /// Sets the base URL (default [`Provider::default_base_url`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }
    /// Sets the auth scheme (default [`Provider::default_auth_scheme`]).
    pub fn auth_scheme(mut self, scheme: AuthScheme) -> Self {
        self.auth_scheme = scheme;
        self
    }
    /// Sets the network timeouts (default [`Timeouts::default`]).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }
    /// Sets the poll schedule (default [`PollSchedule::default`]).
    pub fn poll(mut self, poll: PollSchedule) -> Self {
        self.poll = poll;
        self
    }
    /// Sets the retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
    /// Sets the `User-Agent` (default `vidu-rust/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }
    /// Sets the largest status or error body read, in bytes (default 1 MiB).
    pub fn max_status_body(mut self, bytes: u64) -> Self {
        self.max_status_body = bytes;
        self
    }
    /// Uses `HTTPS_PROXY` and friends from the environment, or not (default true).
    pub fn proxy_from_env(mut self, yes: bool) -> Self {
        self.proxy_from_env = yes;
        self
    }
    /// Sets the largest video downloaded, in bytes (default 2 GiB).
    pub fn max_video_bytes(mut self, bytes: u64) -> Self {
        self.max_video_bytes = bytes;
        self
    }
    /// Sets the stalls in a row after which a download gives up (default 3).
    pub fn max_download_stalls(mut self, n: u32) -> Self {
        self.max_download_stalls = n;
        self
    }

    /// Sets which certificate authorities servers must chain to (default
    /// [`TrustStore::Bundled`]).
    pub fn trust_store(mut self, store: TrustStore) -> Self {
        self.trust_store = store;
        self
    }
    /// Trusts the CA certificates of this PEM file too (default none): the CA of a proxy that
    /// inspects TLS, or of a gateway on a private CA. The CLI's `--ca-file`.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_certificates = Some(CaCertificates::File(path.into()));
        self
    }
    /// Trusts the CA certificates of this PEM text too (default none).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificates = Some(CaCertificates::Pem(pem.into()));
        self
    }

    /// Checks every field; the error names the field, the value and what is allowed. Reads
    /// the CA file, if one is set.
    pub fn validate(&self) -> Result<()> {
        if self.api_key.is_empty() {
            return Err(Error::invalid("api_key", "", "a non-empty API key"));
        }
        if !self.api_key.expose().bytes().all(|b| b.is_ascii_graphic()) {
            // Never echo the key: say only what is wrong with it. A non-ASCII key cannot go
            // into a header, so it would fail only once sending.
            return Err(Error::invalid(
                "api_key",
                "<redacted>",
                "printable ASCII characters, without spaces or control characters",
            ));
        }
        let url = self.base_url.trim_end_matches('/');
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .filter(|r| !r.is_empty() && !r.contains(['?', '#', ' ']));
        if rest.is_none() || !is_https_or_loopback(url) {
            // Plain http would show the key to anyone on the path; loopback is for local testing.
            return Err(Error::invalid(
                "base_url",
                &self.base_url,
                "an https:// URL with a host, without query or fragment (http:// only to \
                 localhost or 127.0.0.1, for testing)",
            ));
        }
        let d = |name: &'static str, v: Duration, zero_ok: bool| {
            if (v.is_zero() && !zero_ok) || v > MAX_CONFIG_DURATION {
                Err(Error::invalid(
                    name,
                    format!("{v:?}"),
                    if zero_ok {
                        "at most 365 days"
                    } else {
                        "a duration above zero, at most 365 days"
                    },
                ))
            } else {
                Ok(())
            }
        };
        d("timeouts.connect", self.timeouts.connect, false)?;
        d("timeouts.send", self.timeouts.send, false)?;
        d("timeouts.receive", self.timeouts.receive, false)?;
        d("timeouts.request", self.timeouts.request, false)?;
        d("poll.first", self.poll.first, false)?;
        d("poll.max", self.poll.max, false)?;
        d("retry.base", self.retry.base, true)?;
        d("retry.max_delay", self.retry.max_delay, true)?;
        d("retry.max_retry_after", self.retry.max_retry_after, true)?;
        if self.poll.max < self.poll.first {
            return Err(Error::invalid(
                "poll.max",
                format!("{:?}", self.poll.max),
                "at least poll.first",
            ));
        }
        if !(self.poll.growth >= 1.0 && self.poll.growth <= 10.0) {
            return Err(Error::invalid(
                "poll.growth",
                self.poll.growth,
                "1.0 to 10.0",
            ));
        }
        if !(0.0..=0.5).contains(&self.poll.jitter) {
            return Err(Error::invalid(
                "poll.jitter",
                self.poll.jitter,
                "0.0 to 0.5",
            ));
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::invalid("retry.max_attempts", 0, "at least 1"));
        }
        if self.max_video_bytes == 0 {
            return Err(Error::invalid("max_video_bytes", 0, "at least 1 byte"));
        }
        if self.max_download_stalls == 0 {
            return Err(Error::invalid("max_download_stalls", 0, "at least 1"));
        }
        if self.user_agent.bytes().any(|b| b.is_ascii_control()) {
            return Err(Error::invalid(
                "user_agent",
                &self.user_agent,
                "no control characters",
            ));
        }
        crate::transport::root_certificates(self).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> Result<()> {
        Config::new(Provider::Vidu, "k").base_url(url).validate()
    }

    #[test]
    fn base_url_must_be_https_or_loopback_http() {
        for ok in [
            "https://api.vidu.com",
            "https://gw.example.com/prefix/",
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:1",
        ] {
            assert!(base(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.vidu.com",
            "http://127.0.0.1.example.com",
            "ftp://x",
            "api.vidu.com",
            "https://",
            "https://a/?q=1",
        ] {
            let err = base(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        field: "base_url",
                        ..
                    }
                ),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn every_config_field_is_checked_and_named() {
        type Breaker = Box<dyn Fn(&mut Config)>;
        let cases: Vec<(&str, Breaker)> = vec![
            ("api_key", Box::new(|c| c.api_key = ApiKey::new(""))),
            (
                "api_key",
                Box::new(|c| c.api_key = ApiKey::new("has space")),
            ),
            (
                "timeouts.connect",
                Box::new(|c| c.timeouts.connect = Duration::ZERO),
            ),
            ("poll.first", Box::new(|c| c.poll.first = Duration::ZERO)),
            (
                "poll.max",
                Box::new(|c| c.poll.max = Duration::from_millis(1)),
            ),
            ("poll.growth", Box::new(|c| c.poll.growth = 0.5)),
            ("poll.growth", Box::new(|c| c.poll.growth = f64::NAN)),
            ("poll.jitter", Box::new(|c| c.poll.jitter = 0.9)),
            ("retry.max_attempts", Box::new(|c| c.retry.max_attempts = 0)),
            ("max_video_bytes", Box::new(|c| c.max_video_bytes = 0)),
            (
                "max_download_stalls",
                Box::new(|c| c.max_download_stalls = 0),
            ),
            ("user_agent", Box::new(|c| c.user_agent = "a\nb".into())),
            ("api_key", Box::new(|c| c.api_key = ApiKey::new("sk-ключ"))),
            (
                "timeouts.connect",
                Box::new(|c| c.timeouts.connect = Duration::MAX),
            ),
            (
                "timeouts.send",
                Box::new(|c| c.timeouts.send = Duration::MAX),
            ),
            (
                "timeouts.receive",
                Box::new(|c| c.timeouts.receive = Duration::MAX),
            ),
            (
                "timeouts.request",
                Box::new(|c| c.timeouts.request = Duration::ZERO),
            ),
            (
                "timeouts.request",
                Box::new(|c| c.timeouts.request = Duration::MAX),
            ),
            (
                "ca_certificates",
                Box::new(|c| c.trust_store = TrustStore::CaOnly),
            ),
            (
                "ca_pem",
                Box::new(|c| c.ca_certificates = Some(CaCertificates::Pem(b"x".to_vec()))),
            ),
            ("poll.max", Box::new(|c| c.poll.max = Duration::MAX)),
            ("poll.first", Box::new(|c| c.poll.first = Duration::MAX)),
            ("retry.base", Box::new(|c| c.retry.base = Duration::MAX)),
            (
                "retry.max_delay",
                Box::new(|c| c.retry.max_delay = Duration::MAX),
            ),
            (
                "retry.max_retry_after",
                Box::new(|c| c.retry.max_retry_after = Duration::MAX),
            ),
        ];
        for (field, break_it) in cases {
            let mut c = Config::new(Provider::Vtrix, "key");
            assert!(c.validate().is_ok());
            break_it(&mut c);
            match c.validate() {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        // The key is never echoed, even when it is what is wrong.
        let err = Config::new(Provider::Vidu, "sk-secret value")
            .validate()
            .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("sk-secret"));
        // Only the CLI reads VIDU_API_KEY; the library does not tell users to set it.
        let err = Config::new(Provider::Vidu, "").validate().unwrap_err();
        assert!(!err.to_string().contains("VIDU_API_KEY"), "{err}");
        let err = Config::new(Provider::Vidu, "sk-ключ")
            .validate()
            .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("ключ"), "{err}");
    }

    #[test]
    fn setters_set_and_defaults_are_as_documented() {
        let c = Config::new(Provider::UModelVerse, "k");
        assert_eq!(c.base_url, "https://api.umodelverse.ai");
        assert_eq!(c.auth_scheme, AuthScheme::Bare);
        assert_eq!(c.timeouts, Timeouts::new());
        assert_eq!(c.timeouts.send, Duration::from_secs(600));
        assert_eq!(c.timeouts.request, Duration::from_secs(60));
        assert_eq!(
            (c.trust_store, c.ca_certificates.clone()),
            (TrustStore::Bundled, None)
        );
        // The names errors show (and the README uses).
        let names =
            [TrustStore::Bundled, TrustStore::CaOnly, TrustStore::System].map(|t| t.to_string());
        assert_eq!(names, ["bundled", "ca-only", "system"]);
        assert_eq!(c.poll, PollSchedule::new());
        assert_eq!(c.retry.max_attempts, 5);
        assert_eq!((c.max_status_body, c.proxy_from_env), (1 << 20, true));
        assert_eq!((c.max_video_bytes, c.max_download_stalls), (1 << 31, 3));
        let c = c
            .api_key("k2")
            .base_url("https://gw.example.com")
            .auth_scheme(AuthScheme::Bearer)
            .timeouts(Timeouts::new().connect(Duration::from_secs(1)))
            .poll(PollSchedule::new().first(Duration::from_secs(3)))
            .retry(RetryPolicy::new().max_attempts(1))
            .user_agent("ua")
            .max_status_body(7)
            .proxy_from_env(false)
            .max_video_bytes(9)
            .max_download_stalls(2)
            .trust_store(TrustStore::CaOnly)
            .ca_file("/etc/corp-ca.pem");
        assert_eq!(c.api_key.expose(), "k2");
        assert_eq!(c.base_url, "https://gw.example.com");
        assert_eq!(c.auth_scheme, AuthScheme::Bearer);
        assert_eq!(c.timeouts.connect, Duration::from_secs(1));
        assert_eq!(c.poll.first, Duration::from_secs(3));
        assert_eq!(c.retry.max_attempts, 1);
        assert_eq!((c.user_agent.as_str(), c.max_status_body), ("ua", 7));
        assert!(!c.proxy_from_env);
        assert_eq!((c.max_video_bytes, c.max_download_stalls), (9, 2));
        assert_eq!(c.trust_store, TrustStore::CaOnly);
        assert_eq!(
            c.ca_certificates,
            Some(CaCertificates::File("/etc/corp-ca.pem".into()))
        );
        assert_eq!(
            c.clone().ca_pem("pem").ca_certificates,
            Some(CaCertificates::Pem(b"pem".to_vec()))
        );
        assert_eq!(
            Timeouts::new().request(Duration::from_secs(5)).request,
            Duration::from_secs(5)
        );
        // The file does not exist: back to the defaults to validate the rest.
        let mut c = c;
        (c.trust_store, c.ca_certificates) = (TrustStore::Bundled, None);
        assert!(c.validate().is_ok());
    }
}
