//! The providers. Each file owns everything about one provider: routes, auth, base URL, models
//! and their limits, accepted fields, body limits, header names, state mapping, and which
//! optional calls it offers. `Provider::spec` is the one place that dispatches to them.
//!
//! A fourth provider is one new file here with its `SPEC`, one row in [`Provider`] (and in
//! `Provider::spec` and [`Provider::ALL`]), and one row in the C enum (`src/ffi/mod.rs`).

use std::fmt;
use std::str::FromStr;

use crate::account::{Credits, TaskPage, TaskQuery};
use crate::auth::AuthScheme;
use crate::error::{Error, Result};
use crate::model::{BodyLimits, ModelSpec};
use crate::status::TaskStatus;

pub(crate) mod umodelverse;
pub(crate) mod vidu;
pub(crate) mod vtrix;
pub(crate) mod wire;

pub(crate) use wire::{check_task_id, ApiError, Method, SubmitParams, Submitted, WireRequest};

/// A service that sells the Vidu image-to-video models.
///
/// More providers may be added in a minor version: match with a `_` arm, and use
/// [`Provider::ALL`] to list them.
///
/// ```
/// use vidu::Provider;
///
/// let provider: Provider = "vtrix".parse()?;
/// assert_eq!(provider, Provider::Vtrix);
/// assert_eq!(provider.default_base_url(), "https://cloud.vtrix.ai");
/// assert!(Provider::ALL.iter().any(|p| p.name() == "umodelverse"));
/// # Ok::<(), vidu::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u32)]
pub enum Provider {
    /// UModelVerse (UCloud): `https://api.umodelverse.ai`, bare key auth.
    UModelVerse = 1,
    /// The Vtrix gateway: `https://cloud.vtrix.ai`, `Bearer` auth.
    Vtrix = 2,
    /// The official Vidu platform API: `https://api.vidu.com`, `Token` auth.
    Vidu = 3,
}

/// An optional job field that not every provider takes. Each provider lists the ones it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Seed,
    Bgm,
    CallbackUrl,
    Payload,
    Audio,
    VoiceId,
    IsRec,
    OffPeak,
    Watermark,
    WmPosition,
    WmUrl,
    MetaData,
}

impl Field {
    /// The field's name, as in [`crate::Job`] and on the wire.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Seed => "seed",
            Field::Bgm => "bgm",
            Field::CallbackUrl => "callback_url",
            Field::Payload => "payload",
            Field::Audio => "audio",
            Field::VoiceId => "voice_id",
            Field::IsRec => "is_rec",
            Field::OffPeak => "off_peak",
            Field::Watermark => "watermark",
            Field::WmPosition => "wm_position",
            Field::WmUrl => "wm_url",
            Field::MetaData => "meta_data",
        }
    }
}

/// The task-list call of a provider that offers one.
pub(crate) struct TaskListCall {
    pub request: fn(&TaskQuery) -> Result<WireRequest>,
    pub parse: fn(&[u8]) -> Result<TaskPage>,
}

/// The account-credits call of a provider that offers one.
pub(crate) struct CreditsCall {
    pub request: fn() -> WireRequest,
    pub parse: fn(&[u8]) -> Result<Credits>,
}

/// Everything about one provider, as constants and pure functions.
pub(crate) struct Spec {
    pub name: &'static str,
    pub base_url: &'static str,
    pub auth_scheme: AuthScheme,
    pub default_model: &'static str,
    pub models: &'static [ModelSpec],
    /// A prefix users may type before the upstream model name (Vtrix's customer-facing id).
    pub model_prefix: Option<&'static str>,
    pub body_limits: BodyLimits,
    /// Optional fields it takes; a job setting another one is refused, naming the field.
    pub accepts: &'static [Field],
    /// Keys this library may write where extra fields go; extra fields must not collide.
    pub own_fields: &'static [&'static str],
    /// Longest `payload`, in characters, where it is accepted.
    pub max_payload_chars: usize,
    /// Response headers that carry a request or trace id, in order of preference.
    pub request_id_headers: &'static [&'static str],
    pub submit_request: fn(&SubmitParams<'_>) -> WireRequest,
    pub parse_submit: fn(&[u8]) -> Result<Submitted>,
    /// The status request; the task id has passed [`check_task_id`].
    pub status_request: fn(&str) -> WireRequest,
    pub parse_status: fn(&str, &[u8]) -> Result<TaskStatus>,
    /// Parses the body of a non-2xx answer (any endpoint). Never fails.
    pub parse_error: fn(u16, &[u8]) -> ApiError,
    pub cancel_request: Option<fn(&str) -> WireRequest>,
    pub task_list: Option<TaskListCall>,
    pub credits: Option<CreditsCall>,
}

impl Provider {
    /// All providers, in a stable order. A slice, so that a new provider is not a breaking
    /// change.
    pub const ALL: &'static [Provider] = &[Provider::UModelVerse, Provider::Vtrix, Provider::Vidu];

    /// What this provider is: the one dispatch.
    pub(crate) fn spec(self) -> &'static Spec {
        match self {
            Provider::UModelVerse => &umodelverse::SPEC,
            Provider::Vtrix => &vtrix::SPEC,
            Provider::Vidu => &vidu::SPEC,
        }
    }

    /// The name used on the command line and in messages: `umodelverse`, `vtrix`, `vidu`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The production base URL.
    pub fn default_base_url(self) -> &'static str {
        self.spec().base_url
    }

    /// The auth scheme the provider's documents show.
    pub fn default_auth_scheme(self) -> AuthScheme {
        self.spec().auth_scheme
    }

    /// The model used when a job names none.
    pub fn default_model(self) -> &'static str {
        self.spec().default_model
    }

    /// The models this provider sells, with their limits.
    pub fn models(self) -> &'static [ModelSpec] {
        self.spec().models
    }

    /// The upstream model name for what a user typed: Vtrix users may type the customer-facing
    /// id (`vidu-cn-img2video-viduq1-classic`) or the upstream name (`viduq1-classic`).
    pub fn upstream_model_name(self, typed: &str) -> &str {
        match self.spec().model_prefix {
            Some(prefix) => typed.strip_prefix(prefix).unwrap_or(typed),
            None => typed,
        }
    }

    /// The limits of model `name` (either form), if the provider sells it.
    pub fn find_model(self, name: &str) -> Option<&'static ModelSpec> {
        let name = self.upstream_model_name(name);
        self.models().iter().find(|m| m.name == name)
    }

    /// The provider's documented request-body limits for inline images.
    pub fn body_limits(self) -> BodyLimits {
        self.spec().body_limits
    }

    pub(crate) fn unsupported(self, operation: &'static str) -> Error {
        Error::Unsupported {
            provider: self.name(),
            operation,
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
            .iter()
            .copied()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
                Error::invalid("provider", s, format!("one of {}", names.join(", ")))
            })
    }
}
