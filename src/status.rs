//! The unified state of a task, whatever the provider.

use std::fmt;

/// Where a task is, in one vocabulary for all providers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u32)]
pub enum State {
    /// Accepted, not started (`Pending`, `created`, `queueing`).
    #[default]
    Queued = 1,
    /// Being generated (`Running`, `in_progress`, `processing`).
    Running = 2,
    /// Done; the video URL is in [`TaskStatus::video_urls`].
    Succeeded = 3,
    /// Ended without a video; see [`TaskStatus::error_code`] and [`TaskStatus::error_message`].
    Failed = 4,
    /// Cancelled before it finished.
    Cancelled = 5,
    /// Expired on the provider's side.
    Expired = 6,
    /// A state this library does not know; the raw string is in [`TaskStatus::raw_state`].
    /// Waiting goes on until the deadline, reporting it.
    Unknown = 7,
}

impl State {
    /// True when the task will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Succeeded | State::Failed | State::Cancelled | State::Expired
        )
    }

    /// The lower-case name, as shown in progress lines.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
            State::Expired => "expired",
            State::Unknown => "unknown",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One poll's worth of facts about a task.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TaskStatus {
    /// The provider's task id.
    pub task_id: String,
    /// The unified state.
    pub state: State,
    /// The provider's own state string (`"Running"`, `"in_progress"`, `"queueing"`).
    pub raw_state: String,
    /// Progress from 0.0 to 1.0, where the provider reports it (Vtrix).
    pub progress: Option<f32>,
    /// Video URLs, once succeeded. Signed URLs may expire.
    pub video_urls: Vec<String>,
    /// Cover image URL, where given (official API).
    pub cover_url: Option<String>,
    /// The provider's error code on failure.
    pub error_code: Option<String>,
    /// The provider's error message on failure.
    pub error_message: Option<String>,
    /// Cost as the provider states it (Vtrix: USD as a decimal string).
    pub cost: Option<String>,
    /// Credits charged (official API).
    pub credits: Option<u64>,
    /// The provider's request id of this poll, for support tickets.
    pub request_id: Option<String>,
    /// The job's `payload`, echoed back (official API).
    pub payload: Option<String>,
    /// When the task was created, as the provider writes it (official API: RFC 3339).
    pub created_at: Option<String>,
}

impl TaskStatus {
    /// A status of `task_id` in `state`, every other field empty (for tests and fakes).
    pub fn new(task_id: impl Into<String>, state: State) -> Self {
        TaskStatus {
            task_id: task_id.into(),
            state,
            raw_state: state.as_str().to_owned(),
            ..TaskStatus::default()
        }
    }
}
