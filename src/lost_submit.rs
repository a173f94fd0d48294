//! Finding the task of a submit whose answer was lost (a crash, a reset after the body was
//! sent), so that it is used rather than paid for twice. Only the official API lists tasks:
//! the submit carries a tag in its `payload`, which the task list shows. Used by
//! [`Client::generate`] (blocking) and by the batch runner (which looks on its own schedule).

use std::time::{Duration, SystemTime};

use crate::account::TaskQuery;
use crate::cancel::CancelToken;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::status::TaskStatus;

/// Looks at the task list before concluding that no task was created (the list may lag
/// behind a submit), and the pause between looks.
pub(crate) const ADOPTION_LOOKS: u32 = 2;
pub(crate) const ADOPTION_PAUSE: Duration = Duration::from_secs(3);
/// How far before the submit the task list is searched, for clock differences.
pub(crate) const CLOCK_SLACK: Duration = Duration::from_secs(300);

impl Client {
    pub(crate) fn lists_tasks(&self) -> bool {
        self.provider().spec().task_list.is_some()
    }

    /// Statuses of up to [`TASKS_PER_LIST`] tasks in one request (official API).
    pub(crate) fn statuses(&self, task_ids: &[&str]) -> Result<Vec<TaskStatus>> {
        let query = TaskQuery::new()
            .task_ids(task_ids.iter().copied())
            .page_size(TASKS_PER_LIST as u32);
        Ok(self.tasks(&query)?.tasks)
    }

    /// The task created since `from` whose payload is `tag`, if the task list shows one.
    pub(crate) fn find_task_by_payload(
        &self,
        tag: &str,
        from: SystemTime,
    ) -> Result<Option<String>> {
        let mut query = TaskQuery::new()
            .created_from(rfc3339(from))
            .page_size(TASKS_PER_LIST as u32);
        // Bounded: a listing of more than 100 pages since one submit is not a search any more.
        for _ in 0..100 {
            let page = self.tasks(&query)?;
            if let Some(task) = page
                .tasks
                .iter()
                .find(|t| t.payload.as_deref() == Some(tag))
            {
                return Ok(Some(task.task_id.clone()));
            }
            match page.next_page_token {
                Some(token) if !page.tasks.is_empty() => query = query.page_token(token),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }
}

impl Client {
    /// After an uncertain submit tagged with `tag` in its payload: the task it created, if
    /// the task list shows one. Looks [`ADOPTION_LOOKS`] times, [`ADOPTION_PAUSE`] apart, in
    /// case the list lags; `Ok(None)` then means no task was created.
    pub(crate) fn find_uncertain_task(
        &self,
        tag: &str,
        sent_at: SystemTime,
        cancel: &CancelToken,
    ) -> Result<Option<String>> {
        let from = sent_at.checked_sub(CLOCK_SLACK).unwrap_or(sent_at);
        for look in 0..ADOPTION_LOOKS {
            if look > 0 && cancel.sleep(ADOPTION_PAUSE) {
                return Err(Error::Cancelled { task_id: None });
            }
            if let Some(task_id) = self.find_task_by_payload(tag, from)? {
                return Ok(Some(task_id));
            }
        }
        Ok(None)
    }
}

/// The most tasks one task-list request answers.
pub(crate) const TASKS_PER_LIST: usize = 100;

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
