//! The task store and its state machine.
//!
//! A task walks through its provider's intermediate states ([`Api::states`]) to a terminal
//! outcome. Two paces: by polls (each status report of a task moves it on after
//! `polls_per_state` reports in a state; the default) or by time (each state lasts
//! `state_duration`, whoever asks). Either way at most `concurrency_limit` tasks are past
//! their provider's queue state ([`Api::queue_state`]) at once; the others wait in it, in
//! submission order, as on the official API.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use super::faults::{Fate, TaskView};
use super::provider::Api;

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failed,
    Cancelled,
}

/// Where a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Index into [`Api::states`].
    Running(usize),
    Done(Outcome),
}

/// How tasks advance.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pace {
    /// After this many status reports in a state, the next report shows the next state.
    Polls(u32),
    /// Each state lasts this long.
    Time(Duration),
}

/// One task.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub api: &'static dyn Api,
    /// 1-based creation order over the emulator.
    pub number: u64,
    pub id: String,
    /// The model as the provider reports it (Vtrix: the customer-facing id).
    pub model: String,
    pub prompt: String,
    /// The images as listed: URLs as sent, data URIs as `"<image>"`.
    pub images: Vec<String>,
    pub duration: u32,
    pub resolution: String,
    pub payload: String,
    pub phase: Phase,
    /// Status reports already given in the current phase.
    pub polls_in_phase: u32,
    /// When the current phase began (time pace).
    pub entered: Instant,
    pub created: SystemTime,
    pub finished_unix: u64,
    /// The current video URL signature; [`super::Effect::Expire`] bumps it.
    pub sig: u32,
    /// A number for ids derived from the task (Vtrix `jobId`, Vidu creation id).
    pub serial: u64,
    pub credits: u64,
    pub fate: Fate,
}

impl Task {
    pub fn view(&self) -> TaskView<'_> {
        TaskView {
            id: &self.id,
            number: self.number,
            prompt: &self.prompt,
        }
    }

    pub fn created_unix(&self) -> u64 {
        unix(self.created)
    }

    fn unfinished(&self) -> bool {
        matches!(self.phase, Phase::Running(_))
    }

    /// Past the queue state and not finished: holds a concurrency slot.
    fn holds_slot(&self) -> bool {
        matches!(self.phase, Phase::Running(i) if i > self.api.queue_state())
    }

    /// Whether the task may leave its current phase now (ignoring its pace).
    fn may_move(&self, holding: u32, limit: u32) -> bool {
        match self.phase {
            Phase::Running(i) => {
                let held_at_the_end = self.fate.never_finish && i + 1 == self.api.states().len();
                let no_slot = i == self.api.queue_state() && holding >= limit;
                !held_at_the_end && !no_slot
            }
            Phase::Done(_) => false,
        }
    }

    fn step(&mut self, at: Instant) {
        let Phase::Running(i) = self.phase else {
            return;
        };
        self.polls_in_phase = 0;
        self.entered = at;
        self.phase = if i + 1 < self.api.states().len() {
            Phase::Running(i + 1)
        } else {
            self.finished_unix = unix(SystemTime::now());
            Phase::Done(if self.fate.fail {
                Outcome::Failed
            } else {
                Outcome::Success
            })
        };
    }

    pub fn cancel(&mut self) {
        self.phase = Phase::Done(Outcome::Cancelled);
        self.finished_unix = unix(SystemTime::now());
    }
}

/// Every task of an emulator.
#[derive(Debug)]
pub(crate) struct Tasks {
    map: HashMap<String, Task>,
    /// Ids in creation order.
    order: Vec<String>,
    /// Time pace: the moment up to which tasks have been advanced.
    clock: Instant,
    pace: Pace,
    limit: u32,
}

impl Tasks {
    pub fn new(pace: Pace, concurrency_limit: u32) -> Tasks {
        Tasks {
            map: HashMap::new(),
            order: Vec::new(),
            clock: Instant::now(),
            pace,
            limit: concurrency_limit,
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn insert(&mut self, task: Task) {
        self.order.push(task.id.clone());
        self.map.insert(task.id.clone(), task);
    }

    pub fn get(&self, id: &str) -> Option<&Task> {
        self.map.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Task> {
        self.map.get_mut(id)
    }

    /// Tasks in creation order.
    pub fn ordered(&self) -> impl DoubleEndedIterator<Item = &Task> {
        self.order.iter().filter_map(|id| self.map.get(id))
    }

    /// Unfinished tasks (queued or running).
    pub fn in_flight(&self) -> u32 {
        self.count(Task::unfinished)
    }

    /// Tasks holding a concurrency slot.
    pub fn running(&self) -> u32 {
        self.count(Task::holds_slot)
    }

    pub fn concurrency_limit(&self) -> u32 {
        self.limit
    }

    fn count(&self, f: impl Fn(&Task) -> bool) -> u32 {
        let n = self.map.values().filter(|t| f(t)).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// One status report of task `id`: moves it on as its pace says and counts the report.
    /// Returns its phase, `None` for an unknown id.
    pub fn report(&mut self, id: &str) -> Option<Phase> {
        self.catch_up(Instant::now());
        let holding = self.running();
        let limit = self.limit;
        let task = self.map.get_mut(id)?;
        if let Pace::Polls(per_state) = self.pace {
            while task.polls_in_phase >= per_state && task.may_move(holding, limit) {
                task.step(Instant::now());
            }
        }
        task.polls_in_phase = task.polls_in_phase.saturating_add(1);
        Some(task.phase)
    }

    /// Time pace: advances every task to `now`, one state change at a time in time order, so
    /// a slot freed at T goes to the first queued task at T.
    pub fn catch_up(&mut self, now: Instant) {
        let Pace::Time(each) = self.pace else {
            return;
        };
        loop {
            let holding = self.running();
            let mut next: Option<(Instant, &str)> = None;
            for id in &self.order {
                let Some(t) = self.map.get(id) else { continue };
                if !t.may_move(holding, self.limit) {
                    continue;
                }
                let Some(due) = t.entered.checked_add(each) else {
                    continue;
                };
                let at = due.max(self.clock);
                if at <= now && next.is_none_or(|(best, _)| at < best) {
                    next = Some((at, id));
                }
            }
            let Some((at, id)) = next else { break };
            let id = id.to_string();
            self.clock = at;
            if let Some(t) = self.map.get_mut(&id) {
                t.step(at);
            }
        }
    }
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A time as RFC 3339 with microseconds, like `2025-01-01T15:41:31.968916Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// Parses RFC 3339 (`2025-01-01T15:41:31Z`, fractions and `±hh:mm` offsets accepted) into
/// seconds since the epoch; `None` when malformed or out of range.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || !(0..=9999).contains(&y) {
        return None;
    }
    let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (c, off) = time.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        let (oh, om): (i64, i64) = (oh.parse().ok()?, om.parse().ok()?);
        (c, sign * (oh * 3600 + om * 60))
    };
    let clock = clock.split('.').next()?;
    let mut c = clock.splitn(3, ':');
    let hh: i64 = c.next()?.parse().ok()?;
    let mm: i64 = c.next()?.parse().ok()?;
    let ss: i64 = c.next()?.parse().ok()?;
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_746_091);
        let s = rfc3339(t);
        assert!(s.starts_with("2025-01-01T15:41:31."), "{s}");
        assert_eq!(parse_rfc3339(&s), Some(1_735_746_091));
        assert_eq!(
            parse_rfc3339("2025-01-01T16:41:31+01:00"),
            Some(1_735_746_091)
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2025-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
