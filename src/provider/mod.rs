//! The three wire protocols, without I/O: build a request, parse a response (bytes in, structs
//! out). One file per provider; the client does the sending.

use std::fmt;
use std::str::FromStr;

use crate::config::AuthScheme;
use crate::error::{Error, Result};
use crate::status::TaskStatus;

pub(crate) mod umodelverse;
pub(crate) mod vidu;
pub(crate) mod vtrix;

/// A service that sells the Vidu image-to-video models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Provider {
    /// UModelVerse (UCloud): `https://api.umodelverse.ai`, bare key auth.
    UModelVerse = 1,
    /// The Vtrix gateway: `https://cloud.vtrix.ai`, `Bearer` auth.
    Vtrix = 2,
    /// The official Vidu platform API: `https://api.vidu.com`, `Token` auth.
    Vidu = 3,
}

impl Provider {
    /// All providers, in a stable order.
    pub const ALL: [Provider; 3] = [Provider::UModelVerse, Provider::Vtrix, Provider::Vidu];

    /// The name used on the command line and in messages: `umodelverse`, `vtrix`, `vidu`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::UModelVerse => "umodelverse",
            Provider::Vtrix => "vtrix",
            Provider::Vidu => "vidu",
        }
    }

    /// The production base URL.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::UModelVerse => "https://api.umodelverse.ai",
            Provider::Vtrix => "https://cloud.vtrix.ai",
            Provider::Vidu => "https://api.vidu.com",
        }
    }

    /// The auth scheme the provider's documents show.
    pub fn default_auth_scheme(self) -> AuthScheme {
        match self {
            Provider::UModelVerse => AuthScheme::Bare,
            Provider::Vtrix => AuthScheme::Bearer,
            Provider::Vidu => AuthScheme::Token,
        }
    }

    /// The model used when a job names none.
    pub fn default_model(self) -> &'static str {
        match self {
            Provider::UModelVerse => "viduq2-pro",
            Provider::Vtrix => "viduq1-classic",
            Provider::Vidu => "viduq2-pro",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Provider {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Provider::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::invalid("provider", s, "one of umodelverse, vtrix, vidu"))
    }
}

/// HTTP method of a [`WireRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

/// A request to send, relative to the base URL. Pure data.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WireRequest {
    pub method: Method,
    /// Path and query, starting with `/`, already percent-encoded.
    pub path: String,
    /// JSON body for POST requests.
    pub body: Option<JsonBody>,
}

/// A JSON body, possibly with a slot for an inline image. When `inline_image` is true the client
/// streams the `data:image/...;base64,...` text (which needs no JSON escaping) between `head` and
/// `tail`, so the image is never held in memory as base64 or JSON text. Otherwise `head` is the
/// whole body and `tail` is empty.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct JsonBody {
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
    pub inline_image: bool,
}

/// Validated job parameters in provider-neutral form, ready to be written on the wire.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SubmitParams<'a> {
    /// The upstream Vidu model name, e.g. `"viduq2-pro"` or `"viduq1-classic"`.
    pub model: &'a str,
    /// The image URL; `None` means an inline data URI goes in the body's image slot.
    pub image_url: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub duration: Option<u32>,
    pub seed: Option<u64>,
    pub resolution: Option<&'a str>,
    pub movement_amplitude: Option<&'a str>,
    pub bgm: Option<bool>,
    pub callback_url: Option<&'a str>,
    pub payload: Option<&'a str>,
}

/// The parsed answer to a submit.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Submitted {
    pub task_id: String,
    /// The task as the submit answer described it, when it did (Vtrix, official API).
    pub status: Option<TaskStatus>,
}

/// The provider's description of an HTTP error, parsed from the body.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ApiError {
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

/// Task ids come from servers; they go into URL paths, so only a safe alphabet is accepted.
pub(crate) fn check_task_id(task_id: &str) -> Result<()> {
    let ok = !task_id.is_empty()
        && task_id.len() <= 256
        && task_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "task_id",
            task_id,
            "1 to 256 characters from A-Z a-z 0-9 - _ . :",
        ))
    }
}

impl Provider {
    pub(crate) fn submit_request(self, p: &SubmitParams<'_>) -> WireRequest {
        match self {
            Provider::UModelVerse => umodelverse::submit_request(p),
            Provider::Vtrix => vtrix::submit_request(p),
            Provider::Vidu => vidu::submit_request(p),
        }
    }

    /// Parses a 2xx submit answer.
    pub(crate) fn parse_submit(self, body: &[u8]) -> Result<Submitted> {
        match self {
            Provider::UModelVerse => umodelverse::parse_submit(body),
            Provider::Vtrix => vtrix::parse_submit(body),
            Provider::Vidu => vidu::parse_submit(body),
        }
    }

    /// The status request; `task_id` must have passed [`check_task_id`].
    pub(crate) fn status_request(self, task_id: &str) -> WireRequest {
        match self {
            Provider::UModelVerse => umodelverse::status_request(task_id),
            Provider::Vtrix => vtrix::status_request(task_id),
            Provider::Vidu => vidu::status_request(task_id),
        }
    }

    /// Parses a 2xx status answer.
    pub(crate) fn parse_status(self, task_id: &str, body: &[u8]) -> Result<TaskStatus> {
        match self {
            Provider::UModelVerse => umodelverse::parse_status(task_id, body),
            Provider::Vtrix => vtrix::parse_status(task_id, body),
            Provider::Vidu => vidu::parse_status(task_id, body),
        }
    }

    /// The remote-cancel request, or `Error::Unsupported`.
    pub(crate) fn cancel_request(self, task_id: &str) -> Result<WireRequest> {
        match self {
            Provider::Vidu => Ok(vidu::cancel_request(task_id)),
            _ => Err(Error::Unsupported {
                provider: self.name(),
                operation: "remote cancel",
            }),
        }
    }

    /// Parses the body of a non-2xx answer (any endpoint). Never fails: falls back to the raw body.
    pub(crate) fn parse_error(self, http_status: u16, body: &[u8]) -> ApiError {
        match self {
            Provider::UModelVerse => umodelverse::parse_error(http_status, body),
            Provider::Vtrix => vtrix::parse_error(http_status, body),
            Provider::Vidu => vidu::parse_error(http_status, body),
        }
    }
}
