//! Client configuration. Every field states its default.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::provider::Provider;

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

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }
    /// The key itself, for building the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True when no key was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "ApiKey(<empty>)"
        } else {
            "ApiKey(<redacted>)"
        })
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<S: Into<String>> From<S> for ApiKey {
    fn from(s: S) -> Self {
        ApiKey(s.into())
    }
}

/// How the key goes into the `Authorization` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum AuthScheme {
    /// `Authorization: <key>` (UModelVerse's Vidu page).
    Bare = 1,
    /// `Authorization: Bearer <key>` (Vtrix; UModelVerse's general auth page).
    Bearer = 2,
    /// `Authorization: Token <key>` (official Vidu API).
    Token = 3,
}

impl AuthScheme {
    /// The header value for `key`.
    pub(crate) fn header_value(self, key: &ApiKey) -> String {
        match self {
            AuthScheme::Bare => key.expose().to_owned(),
            AuthScheme::Bearer => format!("Bearer {}", key.expose()),
            AuthScheme::Token => format!("Token {}", key.expose()),
        }
    }
}

/// Per-phase network timeouts. Per-phase rather than global: ureq spawns a DNS thread per call
/// for a global timeout, even on a pooled connection.
#[derive(Clone, Copy, Debug, PartialEq)]
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
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            send: Duration::from_secs(600),
            receive: Duration::from_secs(30),
        }
    }
}

/// When to poll a task: `first`, then each delay `growth` times the last, at most `max`, each
/// shortened by up to `jitter` (a fraction) at random so that many clients do not poll in step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PollSchedule {
    /// Delay before the first status poll, and the smallest delay. Default 2 s.
    pub first: Duration,
    /// Factor between consecutive delays, at least 1.0. Default 1.5.
    pub growth: f64,
    /// Largest delay. Default 15 s.
    pub max: Duration,
    /// Random fraction taken off each delay, 0.0..=0.5. Default 0.1.
    pub jitter: f64,
}

impl Default for PollSchedule {
    fn default() -> Self {
        PollSchedule {
            first: Duration::from_secs(2),
            growth: 1.5,
            max: Duration::from_secs(15),
            jitter: 0.1,
        }
    }
}

/// Retries of transient failures (connect errors, resets, timeouts, 408, 429, 5xx). Status and
/// download are retried on all of these; submit only when it certainly was not processed
/// (could not connect, 429). Delays use exponential backoff with full jitter; a `Retry-After`
/// from the server is honoured up to `max_retry_after`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included. Default 5; 1 disables retries.
    pub max_attempts: u32,
    /// Base of the backoff: attempt n waits a random time up to `base * 2^n`. Default 500 ms.
    pub base: Duration,
    /// Largest backoff delay. Default 10 s.
    pub max_delay: Duration,
    /// Largest `Retry-After` honoured. Default 60 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Everything a [`crate::Client`] needs. Build with [`Config::new`], then set fields.
#[derive(Clone, Debug)]
pub struct Config {
    /// The provider. No default.
    pub provider: Provider,
    /// The API key. Must not be empty.
    pub api_key: ApiKey,
    /// Base URL, scheme and host with an optional path prefix. Default
    /// [`Provider::default_base_url`]. Point it at [`crate::emulator`] to test offline.
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
        }
    }

    /// Sets the base URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Checks every field; the error names the field, the value and what is allowed.
    pub fn validate(&self) -> Result<()> {
        if self.api_key.is_empty() {
            return Err(Error::invalid(
                "api_key",
                "",
                "a non-empty API key (set VIDU_API_KEY)",
            ));
        }
        if self
            .api_key
            .expose()
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ')
        {
            // Never echo the key: say only what is wrong with it.
            return Err(Error::invalid(
                "api_key",
                "<redacted>",
                "no spaces or control characters",
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
        let d = |name: &'static str, v: Duration| {
            if v.is_zero() {
                Err(Error::invalid(
                    name,
                    format!("{v:?}"),
                    "a duration above zero",
                ))
            } else {
                Ok(())
            }
        };
        d("timeouts.connect", self.timeouts.connect)?;
        d("timeouts.send", self.timeouts.send)?;
        d("timeouts.receive", self.timeouts.receive)?;
        d("poll.first", self.poll.first)?;
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
        if self.user_agent.bytes().any(|b| b.is_ascii_control()) {
            return Err(Error::invalid(
                "user_agent",
                &self.user_agent,
                "no control characters",
            ));
        }
        Ok(())
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
            ("user_agent", Box::new(|c| c.user_agent = "a\nb".into())),
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
    }
}
