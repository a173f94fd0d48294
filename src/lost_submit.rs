//! The task-list I/O the job state machine asks for: statuses of many tasks in one request,
//! and the search for the task of a submit whose answer was lost, by the tag its `payload`
//! carries (official API only). When to search and what a result means is the machine's
//! (`src/jobs/`); every request here honours the cancel token and the deadline.

use std::time::{Instant, SystemTime};

use crate::account::{TaskPage, TaskQuery};
use crate::cancel::CancelToken;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::jobs::TASKS_PER_LIST;
use crate::status::TaskStatus;

/// Pages read in one search at most: 10,000 tasks created since the submit.
const MAX_SEARCH_PAGES: u32 = 100;

impl Client {
    pub(crate) fn lists_tasks(&self) -> bool {
        self.provider().spec().task_list.is_some()
    }

    /// One page of the task list, retried like a status poll within `deadline`.
    pub(crate) fn task_page(
        &self,
        query: &TaskQuery,
        deadline: Option<Instant>,
        cancel: &CancelToken,
    ) -> Result<TaskPage> {
        let call = (self.provider().spec().task_list.as_ref())
            .ok_or_else(|| self.provider().unsupported("task list"))?;
        let body = self.query_until("task list", &(call.request)(query)?, deadline, cancel)?;
        (call.parse)(&body)
    }

    /// Statuses of up to [`TASKS_PER_LIST`] tasks in one request (official API).
    pub(crate) fn statuses(
        &self,
        task_ids: &[&str],
        deadline: Option<Instant>,
        cancel: &CancelToken,
    ) -> Result<Vec<TaskStatus>> {
        let query = TaskQuery::new()
            .task_ids(task_ids.iter().copied())
            .page_size(TASKS_PER_LIST as u32);
        Ok(self.task_page(&query, deadline, cancel)?.tasks)
    }

    /// The task created since `from_unix_ms` whose payload is `tag`: `Ok(None)` only when the
    /// whole list was read and none has it. Pages by `next_page_token` when the server gives
    /// one, else by `pager.page` until a short or empty page (PROTOCOLS.md documents both);
    /// a list longer than [`MAX_SEARCH_PAGES`] pages, or one that ignores the page number, is
    /// an error, never "not found".
    pub(crate) fn find_task_by_payload(
        &self,
        tag: &str,
        from_unix_ms: u64,
        deadline: Option<Instant>,
        cancel: &CancelToken,
    ) -> Result<Option<String>> {
        let from = SystemTime::UNIX_EPOCH
            .checked_add(std::time::Duration::from_millis(from_unix_ms))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let base = TaskQuery::new()
            .created_from(rfc3339(from))
            .page_size(TASKS_PER_LIST as u32);
        let mut query = base.clone();
        let mut number = 0u32;
        let mut previous_first: Option<String> = None;
        for page_read in 1..=MAX_SEARCH_PAGES {
            let page = self.task_page(&query, deadline, cancel)?;
            log::debug!(
                "task list search for {tag}: page {page_read} of at most {MAX_SEARCH_PAGES}, {} tasks",
                page.tasks.len()
            );
            if let Some(task) = page
                .tasks
                .iter()
                .find(|t| t.payload.as_deref() == Some(tag))
            {
                return Ok(Some(task.task_id.clone()));
            }
            let first = page.tasks.first().map(|t| t.task_id.clone());
            if first.is_none() {
                return Ok(None);
            }
            match page.next_page_token {
                Some(token) => query = base.clone().page_token(token),
                None if page.tasks.len() < TASKS_PER_LIST => return Ok(None),
                None => {
                    if number > 0 && first == previous_first {
                        return Err(not_searchable(
                            "the task list answers the same page for every page number",
                        ));
                    }
                    number += 1;
                    query = base.clone().page(number);
                }
            }
            previous_first = first;
        }
        Err(not_searchable(&format!(
            "more than {} tasks were created since the submit",
            MAX_SEARCH_PAGES as usize * TASKS_PER_LIST
        )))
    }
}

fn not_searchable(why: &str) -> Error {
    Error::Protocol {
        operation: "task list",
        task_id: None,
        detail: format!("could not search the whole task list: {why}"),
    }
}

/// `time` as RFC 3339 in UTC, as the task list's `created_at` filters take it.
fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
