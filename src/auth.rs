//! The API key and how it goes into the `Authorization` header.

use std::fmt;

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
#[non_exhaustive]
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
