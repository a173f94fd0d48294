//! What every provider shares: the [`Api`] trait a provider file implements, the table of
//! providers, errors before they take a provider's shape, typed field access and the Vidu
//! model limits the three providers resell. Written from `PROTOCOLS.md` (beside this file).

use std::fmt;

use serde_json::{Map, Value};

use super::faults::Route;
use super::http::{Request, Response};
use super::image_check::{self, ImageProblem};
use super::tasks::Task;
use super::Shared;

pub(crate) const MIB: u64 = 1024 * 1024;

/// The providers, in routing order. A fourth provider is one more file and one more entry.
pub(crate) static PROVIDERS: &[&dyn Api] = &[
    &super::umodelverse::UModelVerse,
    &super::vtrix::Vtrix,
    &super::vidu::Vidu,
];

/// A request matched to one of a provider's routes.
#[derive(Debug)]
pub(crate) struct Routed {
    pub route: Route,
    /// The method the route takes (another one gets 405).
    pub method: &'static str,
    /// The task id the request names; empty when none.
    pub task_id: String,
}

/// A validated submit.
#[derive(Debug, Default)]
pub(crate) struct Submitted {
    pub model: String,
    pub prompt: String,
    pub duration: u32,
    pub resolution: String,
    pub payload: String,
    /// Fields a submit answer echoes (official API).
    pub echo: Map<String, Value>,
}

/// Everything the emulator knows of one provider.
pub(crate) trait Api: fmt::Debug + Send + Sync + 'static {
    /// `"umodelverse"`, `"vtrix"`, `"vidu"`.
    fn name(&self) -> &'static str;
    /// Which of this provider's routes a request is on, if any.
    fn route(&self, req: &Request) -> Option<Routed>;
    /// Checks the `Authorization` header with the provider's scheme; returns the key.
    fn check_auth(&self, header: Option<&str>) -> Result<String, ApiError>;
    /// The scheme named in `WWW-Authenticate` on a 401, if the provider sends one.
    fn auth_challenge(&self) -> Option<&'static str>;
    /// Largest request body, if the provider documents one.
    fn max_body(&self) -> Option<u64>;
    /// Where the image string sits in a submit body (a JSON pointer).
    fn image_pointer(&self) -> &'static str;
    /// Checks a submit body (its image replaced by `"<image>"`; `image` is the original).
    fn validate(&self, body: &Map<String, Value>, image: &str) -> Result<Submitted, ApiError>;
    /// The id of the task with this serial number.
    fn task_id(&self, serial: u64) -> String;
    /// Intermediate states, in order.
    fn states(&self) -> &'static [&'static str];
    /// The index in [`Api::states`] where tasks wait for a concurrency slot.
    fn queue_state(&self) -> usize;
    /// A state string no document lists.
    fn unknown_state(&self) -> &'static str;
    /// Where the state string sits in a status body (a JSON pointer).
    fn state_pointer(&self) -> &'static str;
    /// The answer to an accepted submit.
    fn submit_answer(&self, shared: &Shared, task: &Task, echo: Map<String, Value>) -> Response;
    /// A status body.
    fn status_json(&self, shared: &Shared, task: &Task) -> Value;
    /// An error in the provider's shape.
    fn error(&self, shared: &Shared, e: &ApiError) -> Response;
    /// A header carrying a trace id on every answer, if the provider sends one.
    fn trace_header(&self) -> Option<&'static str> {
        None
    }
    /// The optional calls (cancel, task list, credits) the provider offers; they are
    /// answered here. Authentication is already checked.
    fn extra(&self, shared: &Shared, route: Route, req: &Request, task_id: &str) -> Response {
        let _ = (shared, req, task_id);
        self.error(
            shared,
            &ApiError::new(404, Kind::NotFound, format!("{route:?} is not offered")),
        )
    }
}

/// What went wrong, before it is put in a provider's shape.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: u16,
    pub kind: Kind,
    pub message: String,
    /// Replaces the official API's `reason` derived from `kind`.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Auth,
    Forbidden,
    Lacking,
    Invalid,
    ImageFormat,
    TooLarge,
    BadRequest,
    NotFound,
    Throttled,
    Unavailable,
}

impl ApiError {
    pub fn new(status: u16, kind: Kind, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            reason: None,
        }
    }

    /// The error a fault injects: the kind follows the status.
    pub fn injected(status: u16, reason: Option<String>) -> ApiError {
        let (kind, message) = match status {
            401 => (Kind::Auth, "invalid API key"),
            403 => (Kind::Forbidden, "forbidden"),
            404 => (Kind::NotFound, "not found"),
            413 => (Kind::TooLarge, "request too large"),
            429 => (Kind::Throttled, "too many requests, retry later"),
            500..=599 => (Kind::Unavailable, "service temporarily unavailable"),
            _ => (Kind::BadRequest, "bad request"),
        };
        ApiError {
            reason,
            ..ApiError::new(status, kind, message)
        }
    }

    pub fn lacking(field: &str) -> ApiError {
        ApiError::new(400, Kind::Lacking, format!("{field} is required"))
    }

    pub fn invalid(field: &str, why: impl fmt::Display) -> ApiError {
        ApiError::new(400, Kind::Invalid, format!("{field}: {why}"))
    }

    pub fn image(field: &str, problem: ImageProblem) -> ApiError {
        let kind = match problem {
            ImageProblem::Format(_) | ImageProblem::NotAnImage(_) => Kind::ImageFormat,
            ImageProblem::TooLarge(_) | ImageProblem::Dimensions(_) => Kind::Invalid,
        };
        ApiError::new(400, kind, format!("{field}: {}", problem.message()))
    }
}

/// Parses `Authorization` as `[scheme ]key`: the key when the scheme is one of `schemes`
/// (case-insensitive; `""` allows a bare key).
pub(crate) fn auth_key(
    header: Option<&str>,
    schemes: &[&str],
    expected_form: &str,
) -> Result<String, ApiError> {
    let fail = |why: &str| ApiError::new(401, Kind::Auth, why.to_string());
    let Some(header) = header else {
        return Err(fail("missing Authorization header"));
    };
    let (scheme, key) = header.split_once(' ').unwrap_or(("", header));
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(fail(&format!("Authorization must be {expected_form}")));
    }
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(fail("invalid API key"));
    }
    Ok(key.to_string())
}

/// Typed field access with errors naming the field by its full path.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>, prefix: &'a str) -> Self {
        Fields { map, prefix }
    }

    pub(crate) fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(&self.name(key), "must be a string")),
        }
    }

    pub(crate) fn req_str(&self, key: &str) -> Result<&'a str, ApiError> {
        self.opt_str(key)?
            .ok_or_else(|| ApiError::lacking(&self.name(key)))
    }

    pub(crate) fn opt_int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid(&self.name(key), "must be an integer")),
        }
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(&self.name(key), "must be a boolean")),
        }
    }

    pub(crate) fn req_object(&self, key: &str) -> Result<&'a Map<String, Value>, ApiError> {
        match self.get(key) {
            None => Err(ApiError::lacking(&self.name(key))),
            Some(Value::Object(m)) => Ok(m),
            Some(_) => Err(ApiError::invalid(&self.name(key), "must be an object")),
        }
    }

    /// An array holding exactly one string.
    pub(crate) fn one_image(&self, key: &str) -> Result<&'a str, ApiError> {
        let name = self.name(key);
        match self.get(key) {
            None => Err(ApiError::lacking(&name)),
            Some(Value::Array(items)) => match items.as_slice() {
                [Value::String(s)] => Ok(s),
                [_] => Err(ApiError::invalid(&name, "items must be strings")),
                _ => Err(ApiError::invalid(
                    &name,
                    format!(
                        "must hold exactly one image for image-to-video, got {}",
                        items.len()
                    ),
                )),
            },
            Some(_) => Err(ApiError::invalid(&name, "must be an array of strings")),
        }
    }

    pub(crate) fn prompt(&self, max_chars: usize) -> Result<String, ApiError> {
        let prompt = self.opt_str("prompt")?.unwrap_or("");
        let n = prompt.chars().count();
        if n > max_chars {
            return Err(ApiError::invalid(
                &self.name("prompt"),
                format!("{n} characters, at most {max_chars} allowed"),
            ));
        }
        Ok(prompt.to_string())
    }

    pub(crate) fn seed(&self) -> Result<Option<i64>, ApiError> {
        let seed = self.opt_int("seed")?;
        if seed.is_some_and(|s| !(0..=i64::from(u32::MAX)).contains(&s)) {
            return Err(ApiError::invalid(
                &self.name("seed"),
                "must be a non-negative 32-bit integer",
            ));
        }
        Ok(seed)
    }

    pub(crate) fn movement_amplitude(&self) -> Result<&'a str, ApiError> {
        let m = self.opt_str("movement_amplitude")?.unwrap_or("auto");
        if !["auto", "small", "medium", "large"].contains(&m) {
            return Err(ApiError::invalid(
                &self.name("movement_amplitude"),
                format!("{m:?} is not one of auto, small, medium, large"),
            ));
        }
        Ok(m)
    }

    pub(crate) fn callback_url(&self) -> Result<Option<&'a str>, ApiError> {
        let url = self.opt_str("callback_url")?;
        if let Some(u) = url {
            if !(u.is_empty() || u.starts_with("http://") || u.starts_with("https://")) {
                return Err(ApiError::invalid(
                    &self.name("callback_url"),
                    "must be an http(s) URL",
                ));
            }
        }
        Ok(url)
    }

    pub(crate) fn image(&self, field: &str, value: &str, max_decoded: u64) -> Result<(), ApiError> {
        image_check::check(value, max_decoded).map_err(|p| ApiError::image(&self.name(field), p))
    }
}

/// Limits of one upstream Vidu model.
pub(crate) struct ModelRule {
    pub(crate) durations: &'static [u32],
    pub(crate) default_duration: u32,
    pub(crate) resolutions: &'static [&'static str],
    pub(crate) default_resolution: &'static str,
    pub(crate) max_prompt: usize,
}

const Q_RES: &[&str] = &["540p", "720p", "1080p"];
const CLASSIC_RES: &[&str] = &["360p", "720p", "1080p"];

pub(crate) fn vidu_rule(model: &str) -> Option<ModelRule> {
    Some(match model {
        "viduq3-pro" | "viduq3-turbo" => ModelRule {
            durations: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
            default_duration: 5,
            resolutions: Q_RES,
            default_resolution: "720p",
            max_prompt: 5000,
        },
        "viduq2-pro" | "viduq2-turbo" => ModelRule {
            durations: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            default_duration: 5,
            resolutions: Q_RES,
            default_resolution: "720p",
            max_prompt: 2000,
        },
        "viduq1" | "viduq1-classic" => ModelRule {
            durations: &[5],
            default_duration: 5,
            resolutions: &["1080p"],
            default_resolution: "1080p",
            max_prompt: 2000,
        },
        "vidu2.0" | "vidu1.5" => ModelRule {
            durations: &[4, 8],
            default_duration: 4,
            resolutions: CLASSIC_RES,
            default_resolution: "360p",
            max_prompt: 2000,
        },
        _ => return None,
    })
}

/// Checks duration and resolution against a rule; returns them with defaults filled in.
pub(crate) fn duration_resolution<'a>(
    f: &Fields<'a>,
    model: &str,
    rule: &ModelRule,
) -> Result<(u32, &'a str), ApiError> {
    let duration = match f.opt_int("duration")? {
        None => rule.default_duration,
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| rule.durations.contains(d))
            .ok_or_else(|| {
                ApiError::invalid(
                    &f.name("duration"),
                    format!(
                        "{d} is not allowed for {model}: allowed {:?}",
                        rule.durations
                    ),
                )
            })?,
    };
    let resolution = match f.opt_str("resolution")? {
        None if duration == 8 && rule.durations == [4, 8] => "720p",
        None => rule.default_resolution,
        Some(r) => r,
    };
    if !rule.resolutions.contains(&resolution) {
        return Err(ApiError::invalid(
            &f.name("resolution"),
            format!(
                "{resolution:?} is not allowed for {model}: allowed {:?}",
                rule.resolutions
            ),
        ));
    }
    if rule.durations == [4, 8] && duration == 8 && resolution != "720p" {
        return Err(ApiError::invalid(
            &f.name("resolution"),
            format!("{model} makes 8 s videos in 720p only"),
        ));
    }
    Ok((duration, resolution))
}
