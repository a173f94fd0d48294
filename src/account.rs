//! The account-level queries a batch needs: the task list and the credits left. Only the
//! official API offers them; the gateways answer [`crate::Error::Unsupported`].

use crate::status::TaskStatus;

/// Which tasks [`crate::Client::tasks`] lists. Every filter is optional; the provider's own
/// default window is the last 7 days.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskQuery {
    /// Only these tasks. Default: all.
    pub task_ids: Vec<String>,
    /// Created at or after this time, as the provider writes times (RFC 3339). Default: none.
    pub created_from: Option<String>,
    /// Created before this time (RFC 3339). Default: none.
    pub created_to: Option<String>,
    /// Tasks per page, 1 to 100. Default: the provider's (10).
    pub page_size: Option<u32>,
    /// The page after the one that returned this [`TaskPage::next_page_token`]. Default: the
    /// first page.
    pub page_token: Option<String>,
    /// The page number, from 0 (`pager.page`), for servers that page by number. Default: the
    /// first page.
    pub page: Option<u32>,
}

impl TaskQuery {
    /// No filter: the first page of the provider's default window.
    pub fn new() -> Self {
        Self::default()
    }
    /// Only these tasks.
    pub fn task_ids<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.task_ids = ids.into_iter().map(Into::into).collect();
        self
    }
    /// Created at or after `time` (RFC 3339).
    pub fn created_from(mut self, time: impl Into<String>) -> Self {
        self.created_from = Some(time.into());
        self
    }
    /// Created before `time` (RFC 3339).
    pub fn created_to(mut self, time: impl Into<String>) -> Self {
        self.created_to = Some(time.into());
        self
    }
    /// Tasks per page, 1 to 100.
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = Some(n);
        self
    }
    /// Page number `n` (from 0).
    pub fn page(mut self, n: u32) -> Self {
        self.page = Some(n);
        self
    }
    /// The page after the one that gave `token`.
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.page_token = Some(token.into());
        self
    }
}

/// One page of [`crate::Client::tasks`].
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TaskPage {
    /// The tasks of this page, each as a status (state, video URLs, payload, created_at).
    pub tasks: Vec<TaskStatus>,
    /// Pass to [`TaskQuery::page_token`] for the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

/// What [`crate::Client::credits`] reports: one entry per kind of credit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credits {
    /// The provider's `remains` entries.
    pub remains: Vec<CreditRemain>,
}

/// One `remains` entry: credits left and how many tasks may run at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreditRemain {
    /// The kind of credit (`"metered"`, a package name), if given.
    pub kind: Option<String>,
    /// Credits left.
    pub credit_remain: Option<u64>,
    /// Tasks that may run at once (per organisation).
    pub concurrency_limit: Option<u64>,
    /// Tasks running now.
    pub current_concurrency: Option<u64>,
    /// Tasks waiting in the queue.
    pub queue_count: Option<u64>,
}
