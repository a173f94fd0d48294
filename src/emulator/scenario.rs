//! [`Scenario`]: the named presets of the CLI and the C API, each a list of [`Fault`]s.

use std::fmt;
use std::str::FromStr;

use super::faults::{Effect, Fault, Route};

/// A preset of trouble, named for the CLI (`--scenario`) and the C API. Each maps onto
/// [`Fault`]s ([`Scenario::faults`]); combine freely with [`EmulatorOptions::fault`].
/// "Status polls" count over the whole emulator, for every provider.
///
/// [`EmulatorOptions::fault`]: super::EmulatorOptions::fault
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scenario {
    /// Tasks walk through the provider's own intermediate states and succeed.
    Normal,
    /// Tasks end failed, with a provider-shaped error code and message.
    TaskFails,
    /// The first `times` status polls answer 429 with `Retry-After: <retry_after_secs>`.
    Throttled {
        /// How many polls are refused.
        times: u32,
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u32,
    },
    /// The first `times` status polls answer 503.
    Unavailable {
        /// How many polls are refused.
        times: u32,
    },
    /// Every valid submit is read to the end and creates a task, then the connection is closed
    /// without an answer.
    ResetAfterSubmit,
    /// Tasks stay in their last intermediate (running) state forever.
    NeverFinishes,
    /// The first video GET announces the full `Content-Length` but the connection closes after
    /// half the bytes; later `Range` requests are honoured (206 + `Content-Range`).
    CutDownload,
    /// Like [`Scenario::CutDownload`], but later `Range` requests are ignored (200 with the
    /// whole body).
    CutDownloadIgnoresRange,
    /// Result URLs point at the API origin, which answers 302 to the video origin.
    RedirectVideo,
    /// The first video URL of each task answers 403 (expired signature); the next status poll
    /// returns a fresh URL that works.
    ExpiredUrl,
    /// The first `times` status polls answer 200 with JSON cut short; `u32::MAX` means always.
    MalformedStatus {
        /// How many polls are malformed.
        times: u32,
    },
    /// The first `times` status polls report a state no document lists (without moving the
    /// task on), then tasks proceed normally.
    UnknownState {
        /// How many polls report the unknown state.
        times: u32,
    },
    /// Submits made while `in_flight` or more tasks are unfinished answer 429 with the
    /// official API's `{"code": 429, "reason": "QuotaExceeded", ...}` and `Retry-After`.
    QuotaExceeded {
        /// Unfinished tasks from which submits are refused.
        in_flight: u32,
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u32,
    },
}

/// Kebab-case names, in the order of [`Scenario::names`].
const SCENARIO_NAMES: &[&str] = &[
    "normal",
    "task-fails",
    "throttled",
    "unavailable",
    "status-unavailable",
    "reset-after-submit",
    "never-finishes",
    "cut-download",
    "cut-download-ignores-range",
    "redirect-video",
    "expired-url",
    "malformed-status",
    "unknown-state",
    "quota-exceeded",
];

impl Scenario {
    /// The names [`FromStr`] accepts.
    pub fn names() -> &'static [&'static str] {
        SCENARIO_NAMES
    }

    /// The faults this preset stands for.
    pub fn faults(self) -> Vec<Fault> {
        let status = || Fault::on(Route::Status);
        let video = || Fault::on(Route::Video);
        match self {
            Scenario::Normal => vec![],
            Scenario::TaskFails => vec![Fault::tasks().effect(Effect::FailTask)],
            Scenario::Throttled {
                times,
                retry_after_secs,
            } => vec![status()
                .times(times)
                .error(429)
                .retry_after(retry_after_secs)],
            Scenario::Unavailable { times } => vec![status().times(times).error(503)],
            Scenario::ResetAfterSubmit => vec![Fault::on(Route::Submit).effect(Effect::Reset)],
            Scenario::NeverFinishes => vec![Fault::tasks().effect(Effect::NeverFinish)],
            Scenario::CutDownload => vec![video().times(1).effect(Effect::CutBody)],
            Scenario::CutDownloadIgnoresRange => vec![
                video().times(1).effect(Effect::CutBody),
                video().effect(Effect::IgnoreRange),
            ],
            Scenario::RedirectVideo => vec![Fault::tasks().effect(Effect::RedirectUrl)],
            Scenario::ExpiredUrl => vec![video().per_task().times(1).effect(Effect::Expire)],
            Scenario::MalformedStatus { times } => {
                vec![status().times(times).effect(Effect::Malformed)]
            }
            Scenario::UnknownState { times } => {
                vec![status().times(times).effect(Effect::UnknownState)]
            }
            Scenario::QuotaExceeded {
                in_flight,
                retry_after_secs,
            } => vec![Fault::on(Route::Submit)
                .when_in_flight_at_least(in_flight)
                .error(429)
                .reason("QuotaExceeded")
                .retry_after(retry_after_secs)],
        }
    }
}

/// The error of [`Scenario::from_str`]: the name is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown scenario {:?}; known scenarios: {}",
            self.0,
            SCENARIO_NAMES.join(", ")
        )
    }
}

impl std::error::Error for UnknownScenario {}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    /// Parses a kebab-case name. Counted scenarios get fixed counts: `throttled` is 1 poll
    /// with `Retry-After: 1`, `unavailable` 2 polls, `status-unavailable` and
    /// `malformed-status` always,
    /// `unknown-state` 2 polls, `quota-exceeded` from 5 unfinished tasks with
    /// `Retry-After: 1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "normal" => Scenario::Normal,
            "task-fails" => Scenario::TaskFails,
            "throttled" => Scenario::Throttled {
                times: 1,
                retry_after_secs: 1,
            },
            "unavailable" => Scenario::Unavailable { times: 2 },
            "status-unavailable" => Scenario::Unavailable { times: u32::MAX },
            "reset-after-submit" => Scenario::ResetAfterSubmit,
            "never-finishes" => Scenario::NeverFinishes,
            "cut-download" => Scenario::CutDownload,
            "cut-download-ignores-range" => Scenario::CutDownloadIgnoresRange,
            "redirect-video" => Scenario::RedirectVideo,
            "expired-url" => Scenario::ExpiredUrl,
            "malformed-status" => Scenario::MalformedStatus { times: u32::MAX },
            "unknown-state" => Scenario::UnknownState { times: 2 },
            "quota-exceeded" => Scenario::QuotaExceeded {
                in_flight: 5,
                retry_after_secs: 1,
            },
            other => return Err(UnknownScenario(other.to_string())),
        })
    }
}
