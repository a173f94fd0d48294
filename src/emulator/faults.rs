//! Faults that compose: each [`Fault`] says *when* (route, provider, task, attempt range,
//! in-flight count) and *what* ([`Effect`]). Add them with [`EmulatorOptions::fault`]; a
//! [`Scenario`] is a preset list of them.
//!
//! Matching, per request: every fault whose filters (route, provider, task, in-flight) match
//! counts the request as one attempt; the first fault, in the order added, whose attempt range
//! holds that count applies. Task-level effects ([`Effect::FailTask`],
//! [`Effect::NeverFinish`], [`Effect::RedirectUrl`]) are decided once, when the task is
//! created, from the faults whose provider and task filters match it; they ignore routes and
//! attempts.
//!
//! [`EmulatorOptions::fault`]: super::EmulatorOptions::fault
//! [`Scenario`]: super::Scenario

use std::collections::HashMap;
use std::time::Duration;

/// The kind of request a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// A submit (`POST /v1/tasks/submit`, `/model/v1/generation`, `/ent/v2/img2video`).
    /// Faults see only submits that passed authentication and validation.
    Submit,
    /// A status poll of one task.
    Status,
    /// The official API's cancel call.
    Cancel,
    /// The official API's task list, `GET /ent/v2/tasks`.
    List,
    /// The official API's credits call, `GET /ent/v2/credits`.
    Credits,
    /// A `GET` or `HEAD` of a result video on the video origin (valid URL of a finished task).
    Video,
}

/// Which tasks a fault applies to.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TaskMatch {
    /// Any task, and requests that name no task.
    #[default]
    Any,
    /// The task created `n`-th by this emulator (1-based, all providers counted).
    Nth(u64),
    /// Tasks whose prompt contains this text.
    PromptContains(String),
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// Answer exactly this instead of handling the request (nothing else happens: a submit
    /// creates no task, a poll does not move the task on). `Content-Length` is added.
    Respond {
        /// The HTTP status.
        status: u16,
        /// Extra headers (a `Content-Type` here replaces the default `application/json`).
        headers: Vec<(String, String)>,
        /// The body, as is.
        body: String,
    },
    /// Answer an error in the provider's own shape instead of handling the request.
    Error {
        /// 429 reads as throttling, 503/500 as unavailable, 403 as forbidden, others as a bad
        /// request.
        status: u16,
        /// The official API's `reason` (`"QuotaExceeded"`, ...); `None`: derived from the
        /// status. The gateways' shapes ignore it.
        reason: Option<String>,
        /// A `Retry-After` header, in seconds.
        retry_after_secs: Option<u32>,
    },
    /// Handle the request (a submit creates its task, a poll counts), then close the
    /// connection without an answer.
    Reset,
    /// Status: answer 200 with the JSON cut in half; the task does not move.
    Malformed,
    /// Status: report the provider's "unknown" state (one no document lists); the task does
    /// not move.
    UnknownState,
    /// Status: report this state string (e.g. `"scheduled"`); the task does not move.
    State(String),
    /// Video: announce the full `Content-Length`, send half the bytes, close.
    CutBody,
    /// Video: ignore `Range` (200 with the whole body).
    IgnoreRange,
    /// Video: answer 403 "expired" and retire the URL; the next status poll gives a new one.
    Expire,
    /// Wait this long (cut short when the emulator stops), then handle the request normally.
    Stall(Duration),
    /// Task-level: the task ends failed.
    FailTask,
    /// Task-level: the task stays in its last running state forever.
    NeverFinish,
    /// Task-level: the result URL points at the API origin, which answers 302 to the video.
    RedirectUrl,
}

impl Effect {
    fn task_level(&self) -> bool {
        matches!(
            self,
            Effect::FailTask | Effect::NeverFinish | Effect::RedirectUrl
        )
    }
}

/// One fault: when it applies and what it does. Build with [`Fault::on`] or [`Fault::tasks`],
/// narrow with the other methods, finish with the effect.
///
/// ```
/// use vidu::emulator::{Effect, Fault, Route};
///
/// // The first submit is throttled, the second goes through.
/// let throttle = Fault::on(Route::Submit).times(1).error(429).retry_after(1);
/// // Task #3 fails; the others succeed.
/// let third_fails = Fault::tasks().nth_task(3).effect(Effect::FailTask);
/// // Tasks whose prompt mentions "storm" fail.
/// let storm = Fault::tasks().prompt_contains("storm").effect(Effect::FailTask);
/// # let _ = (throttle, third_fails, storm);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The route; `None`: every route (task-level effects ignore it).
    pub route: Option<Route>,
    /// `"umodelverse"`, `"vtrix"` or `"vidu"`; `None`: every provider.
    pub provider: Option<String>,
    /// Which tasks.
    pub task: TaskMatch,
    /// The attempts it applies to, 1-based and inclusive: `(1, 1)` is the first matching
    /// request only. Default `(1, u32::MAX)`: all of them.
    pub attempts: (u32, u32),
    /// Count attempts per task (the first poll *of each task*) rather than over the emulator.
    pub per_task: bool,
    /// Apply only while at least this many tasks are unfinished (queued or running).
    pub min_in_flight: Option<u32>,
    /// What it does.
    pub effect: Effect,
}

impl Fault {
    /// A fault on one route, every provider, every task, every attempt, doing nothing yet
    /// (finish it with an effect).
    pub fn on(route: Route) -> Fault {
        Fault {
            route: Some(route),
            provider: None,
            task: TaskMatch::Any,
            attempts: (1, u32::MAX),
            per_task: false,
            min_in_flight: None,
            effect: Effect::Stall(Duration::ZERO),
        }
    }

    /// A fault on tasks rather than requests, for the task-level effects.
    pub fn tasks() -> Fault {
        Fault {
            route: None,
            ..Fault::on(Route::Status)
        }
    }

    /// Only this provider's requests (`"umodelverse"`, `"vtrix"`, `"vidu"`).
    pub fn provider(mut self, name: &str) -> Fault {
        self.provider = Some(name.to_string());
        self
    }

    /// Only the `n`-th task created by the emulator (1-based).
    pub fn nth_task(mut self, n: u64) -> Fault {
        self.task = TaskMatch::Nth(n);
        self
    }

    /// Only tasks whose prompt contains `text`.
    pub fn prompt_contains(mut self, text: &str) -> Fault {
        self.task = TaskMatch::PromptContains(text.to_string());
        self
    }

    /// Only the first `n` matching requests.
    pub fn times(mut self, n: u32) -> Fault {
        self.attempts = (1, n);
        self
    }

    /// Only the `n`-th matching request (1-based).
    pub fn nth(mut self, n: u32) -> Fault {
        self.attempts = (n, n);
        self
    }

    /// Matching requests `first..=last` (1-based).
    pub fn attempts(mut self, first: u32, last: u32) -> Fault {
        self.attempts = (first, last);
        self
    }

    /// Counts attempts per task instead of over the whole emulator.
    pub fn per_task(mut self) -> Fault {
        self.per_task = true;
        self
    }

    /// Only while at least `n` tasks are unfinished.
    pub fn when_in_flight_at_least(mut self, n: u32) -> Fault {
        self.min_in_flight = Some(n);
        self
    }

    /// Finishes the fault with an effect.
    pub fn effect(mut self, effect: Effect) -> Fault {
        self.effect = effect;
        self
    }

    /// Finishes the fault: answer exactly this status and body (JSON content type).
    pub fn respond(self, status: u16, body: &str) -> Fault {
        self.effect(Effect::Respond {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        })
    }

    /// Finishes the fault: a provider-shaped error with this status.
    pub fn error(self, status: u16) -> Fault {
        self.effect(Effect::Error {
            status,
            reason: None,
            retry_after_secs: None,
        })
    }

    /// Adds a header to an [`Effect::Respond`], or sets `Retry-After` on an [`Effect::Error`]
    /// when the name is `Retry-After` and the value a number; otherwise does nothing.
    pub fn header(mut self, name: &str, value: &str) -> Fault {
        match &mut self.effect {
            Effect::Respond { headers, .. } => headers.push((name.into(), value.into())),
            Effect::Error {
                retry_after_secs, ..
            } if name.eq_ignore_ascii_case("retry-after") => {
                *retry_after_secs = value.parse().ok();
            }
            _ => {}
        }
        self
    }

    /// Sets `Retry-After` (seconds) on an error or canned answer.
    pub fn retry_after(self, secs: u32) -> Fault {
        self.header("Retry-After", &secs.to_string())
    }

    /// Sets the official API's `reason` of an [`Effect::Error`].
    pub fn reason(mut self, reason: &str) -> Fault {
        if let Effect::Error { reason: r, .. } = &mut self.effect {
            *r = Some(reason.to_string());
        }
        self
    }

    fn matches(&self, route: Option<Route>, provider: &str, task: Option<TaskView<'_>>) -> bool {
        if self.route.is_some() && route.is_some() && self.route != route {
            return false;
        }
        if self.provider.as_deref().is_some_and(|p| p != provider) {
            return false;
        }
        match (&self.task, task) {
            (TaskMatch::Any, _) => true,
            (TaskMatch::Nth(n), Some(t)) => t.number == *n,
            (TaskMatch::PromptContains(s), Some(t)) => t.prompt.contains(s.as_str()),
            (_, None) => false,
        }
    }
}

/// What a fault may look at of a task.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskView<'a> {
    pub id: &'a str,
    pub number: u64,
    pub prompt: &'a str,
}

/// The task-level effects decided at creation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fate {
    pub fail: bool,
    pub never_finish: bool,
    pub redirect: bool,
}

/// The faults of one emulator with their attempt counters.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    faults: Vec<Fault>,
    counts: Vec<u32>,
    per_task_counts: HashMap<(usize, String), u32>,
}

impl Faults {
    pub fn new(faults: Vec<Fault>) -> Faults {
        Faults {
            counts: vec![0; faults.len()],
            faults,
            per_task_counts: HashMap::new(),
        }
    }

    /// The request-level effect for one request, counting it as an attempt of every matching
    /// fault.
    pub fn pick(
        &mut self,
        route: Route,
        provider: &str,
        task: Option<TaskView<'_>>,
        in_flight: u32,
    ) -> Option<Effect> {
        let mut chosen = None;
        for (i, fault) in self.faults.iter().enumerate() {
            if fault.effect.task_level()
                || !fault.matches(Some(route), provider, task)
                || fault.min_in_flight.is_some_and(|n| in_flight < n)
            {
                continue;
            }
            let count = match (fault.per_task, task) {
                (true, Some(t)) => self
                    .per_task_counts
                    .entry((i, t.id.to_string()))
                    .or_insert(0),
                (true, None) => continue,
                (false, _) => &mut self.counts[i],
            };
            *count = count.saturating_add(1);
            let (first, last) = fault.attempts;
            if chosen.is_none() && (first..=last).contains(count) {
                chosen = Some(fault.effect.clone());
            }
        }
        chosen
    }

    /// The task-level effects for a new task.
    pub fn fate(&self, provider: &str, task: TaskView<'_>) -> Fate {
        let mut fate = Fate::default();
        for f in &self.faults {
            if f.effect.task_level() && f.matches(None, provider, Some(task)) {
                match f.effect {
                    Effect::FailTask => fate.fail = true,
                    Effect::NeverFinish => fate.never_finish = true,
                    Effect::RedirectUrl => fate.redirect = true,
                    _ => {}
                }
            }
        }
        fate
    }
}
