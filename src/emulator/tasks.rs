//! The task store and its state machine.
//!
//! A task walks through its provider's intermediate states ([`Api::states`]) to a terminal
//! outcome. Two paces: by polls (each status report of a task moves it on after
//! `polls_per_state` reports in a state; the default) or by time (each state lasts
//! `state_duration`, whoever asks). Either way at most `concurrency_limit` tasks are past
//! their provider's queue state ([`Api::queue_state`]) at once; the others wait in it, in
//! submission order, as on the official API.
//!
//! Built to carry 100,000 tasks: tasks sit in one vector in creation order (a task's index
//! is its number minus one) with a map from id to index; the counts a request needs
//! (unfinished, holding a slot, credits spent) are kept up to date rather than counted; and
//! time pace keeps the next state change of every task in a heap, so a request costs
//! O(log n) per state change it catches up on, not a scan of every task.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
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
    pub id: Box<str>,
    /// The model as the provider reports it (Vtrix: the customer-facing id); shared by the
    /// tasks of a model ([`Tasks::intern`]).
    pub model: Arc<str>,
    pub prompt: Box<str>,
    /// The image as listed: a URL as sent, a data URI as `"<image>"`.
    pub image: Box<str>,
    pub duration: u32,
    pub resolution: Arc<str>,
    pub payload: Box<str>,
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
    /// When the task was last reported (polled or listed) while unfinished.
    pub reported: Option<Instant>,
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

    fn cancel(&mut self) {
        self.phase = Phase::Done(Outcome::Cancelled);
        self.finished_unix = unix(SystemTime::now());
    }
}

/// Every task of an emulator.
#[derive(Debug)]
pub(crate) struct Tasks {
    /// In creation order: task number `n` is at index `n - 1`.
    list: Vec<Task>,
    /// Id to index into `list`.
    index: HashMap<Box<str>, u32>,
    /// Models and resolutions, one copy of each.
    names: Vec<Arc<str>>,
    /// Time pace: the moment up to which tasks have been advanced.
    clock: Instant,
    pace: Pace,
    limit: u32,
    /// Tasks queued or running.
    unfinished: u32,
    /// Tasks holding a concurrency slot.
    holding: u32,
    credits: u64,
    /// Time pace: when each task that may move next does, as (due, index, phase index).
    /// Entries whose task has left that phase since (a cancel) are skipped when popped.
    timers: BinaryHeap<Reverse<(Instant, u32, usize)>>,
    /// Time pace: indexes of tasks whose time in the queue state is up but which found no
    /// free slot, served in submission order as slots free up.
    waiting: BinaryHeap<Reverse<u32>>,
    /// The longest time between two reports of an unfinished task.
    longest_gap: Duration,
}

impl Tasks {
    pub fn new(pace: Pace, concurrency_limit: u32) -> Tasks {
        Tasks {
            list: Vec::new(),
            index: HashMap::new(),
            names: Vec::new(),
            clock: Instant::now(),
            pace,
            limit: concurrency_limit,
            unfinished: 0,
            holding: 0,
            credits: 0,
            timers: BinaryHeap::new(),
            waiting: BinaryHeap::new(),
            longest_gap: Duration::ZERO,
        }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Adds a task (its `number` must be `len() + 1`).
    pub fn insert(&mut self, task: Task) {
        let Ok(i) = u32::try_from(self.list.len()) else {
            return; // four billion tasks: beyond any test
        };
        self.index.insert(task.id.clone(), i);
        self.credits = self.credits.saturating_add(task.credits);
        self.unfinished = self.unfinished.saturating_add(u32::from(task.unfinished()));
        self.holding = self.holding.saturating_add(u32::from(task.holds_slot()));
        self.list.push(task);
        self.arm(i);
    }

    /// One shared copy of a model or resolution name (a handful of them, validated against
    /// the model tables), instead of one per task.
    pub fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(known) = self.names.iter().find(|n| ***n == *name) {
            return known.clone();
        }
        let name: Arc<str> = Arc::from(name);
        // Bounded anyway, should validation ever let arbitrary names through.
        if self.names.len() < 256 {
            self.names.push(name.clone());
        }
        name
    }

    fn find(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    pub fn get(&self, id: &str) -> Option<&Task> {
        self.find(id).map(|i| &self.list[i as usize])
    }

    /// For fields other than the phase (which moves through [`Tasks::report`],
    /// [`Tasks::catch_up`] and [`Tasks::cancel`], which keep the counts).
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Task> {
        self.find(id).map(|i| &mut self.list[i as usize])
    }

    /// Unfinished tasks (queued or running).
    pub fn in_flight(&self) -> u32 {
        self.unfinished
    }

    /// Tasks holding a concurrency slot.
    pub fn running(&self) -> u32 {
        self.holding
    }

    pub fn concurrency_limit(&self) -> u32 {
        self.limit
    }

    /// Credits of every task created.
    pub fn credits_spent(&self) -> u64 {
        self.credits
    }

    /// The longest time so far between two consecutive reports of a task that was unfinished
    /// at the first of them.
    pub fn longest_report_gap(&self) -> Duration {
        self.longest_gap
    }

    /// Changes task `i`'s phase with `f`, keeping the counts; a freed slot goes to the first
    /// waiting task (time pace) at `at`.
    fn change(&mut self, i: u32, at: Instant, f: impl FnOnce(&mut Task)) {
        let task = &mut self.list[i as usize];
        let before = (task.unfinished(), task.holds_slot());
        f(task);
        let after = (task.unfinished(), task.holds_slot());
        let adjust = |n: u32, was: bool, is: bool| match (was, is) {
            (true, false) => n.saturating_sub(1),
            (false, true) => n.saturating_add(1),
            _ => n,
        };
        self.unfinished = adjust(self.unfinished, before.0, after.0);
        self.holding = adjust(self.holding, before.1, after.1);
        self.arm(i);
        if before.1 && !after.1 {
            // The first waiting task still queued (a cancelled one gives its turn on).
            while let Some(Reverse(w)) = self.waiting.pop() {
                if let Phase::Running(j) = self.list[w as usize].phase {
                    self.timers.push(Reverse((at.max(self.clock), w, j)));
                    break;
                }
            }
        }
    }

    /// Time pace: sets the timer of task `i` for leaving its current phase, if it may ever.
    fn arm(&mut self, i: u32) {
        let Pace::Time(each) = self.pace else {
            return;
        };
        let task = &self.list[i as usize];
        let Phase::Running(j) = task.phase else {
            return;
        };
        if task.fate.never_finish && j + 1 == task.api.states().len() {
            return;
        }
        if let Some(due) = task.entered.checked_add(each) {
            self.timers.push(Reverse((due, i, j)));
        }
    }

    /// Cancels task `id` (which must be unfinished).
    pub fn cancel(&mut self, id: &str) {
        // Tasks whose turn came before now queue first, so the freed slot goes to the first
        // of them in submission order.
        let now = Instant::now();
        self.catch_up(now);
        if let Some(i) = self.find(id) {
            self.change(i, now, Task::cancel);
        }
    }

    /// One status report of task `id`: moves it on as its pace says and counts the report.
    /// Returns its phase, `None` for an unknown id.
    pub fn report(&mut self, id: &str) -> Option<Phase> {
        let i = self.find(id)?;
        Some(self.report_index(i).phase)
    }

    /// The task numbered `n` (1-based creation order).
    pub fn numbered(&self, n: u64) -> Option<&Task> {
        self.list.get(usize::try_from(n.checked_sub(1)?).ok()?)
    }

    /// [`Tasks::report`] of the task numbered `n`.
    pub fn report_numbered(&mut self, n: u64) -> Option<&Task> {
        self.numbered(n)?;
        let i = u32::try_from(n - 1).ok()?;
        Some(self.report_index(i))
    }

    fn report_index(&mut self, i: u32) -> &Task {
        let now = Instant::now();
        self.catch_up(now);
        if let Pace::Polls(per_state) = self.pace {
            loop {
                let task = &self.list[i as usize];
                if task.polls_in_phase < per_state || !task.may_move(self.holding, self.limit) {
                    break;
                }
                self.change(i, now, |t| t.step(now));
            }
        }
        let task = &mut self.list[i as usize];
        if task.unfinished() {
            if let Some(gap) = task.reported.map(|r| now.saturating_duration_since(r)) {
                self.longest_gap = self.longest_gap.max(gap);
            }
            task.reported = Some(now);
        }
        task.polls_in_phase = task.polls_in_phase.saturating_add(1);
        task
    }

    /// Time pace: advances every task to `now`, one state change at a time in time order
    /// (ties in submission order), so a slot freed at T goes to the first queued task at T.
    pub fn catch_up(&mut self, now: Instant) {
        while let Some(&Reverse((due, i, j))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            let task = &self.list[i as usize];
            if task.phase != Phase::Running(j) {
                continue; // cancelled since
            }
            if !task.may_move(self.holding, self.limit) {
                // The queue state with every slot taken: wait for one to free up.
                self.waiting.push(Reverse(i));
                continue;
            }
            let at = due.max(self.clock);
            self.clock = at;
            self.change(i, at, |t| t.step(at));
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

    fn task(tasks: &mut Tasks, entered: Instant) -> Task {
        let number = tasks.len() as u64 + 1;
        Task {
            api: &super::super::vidu::Vidu,
            number,
            id: format!("t{number}").into(),
            model: tasks.intern("viduq2-pro"),
            prompt: "".into(),
            image: "".into(),
            duration: 5,
            resolution: tasks.intern("720p"),
            payload: "".into(),
            phase: Phase::Running(0),
            polls_in_phase: 0,
            entered,
            created: SystemTime::now(),
            finished_unix: 0,
            sig: 1,
            serial: number,
            credits: 10,
            fate: Fate::default(),
            reported: None,
        }
    }

    #[test]
    fn time_pace_moves_tasks_in_time_order_and_hands_slots_on_when_they_free() {
        let ms = Duration::from_millis;
        let mut tasks = Tasks::new(Pace::Time(ms(10)), 1);
        let t0 = Instant::now();
        for _ in 0..3 {
            let t = task(&mut tasks, t0);
            tasks.insert(t);
        }
        let phases = |tasks: &Tasks| -> Vec<(Phase, Duration)> {
            (1..=3)
                .map(|n| {
                    let t = tasks.numbered(n).unwrap();
                    (t.phase, t.entered - t0)
                })
                .collect()
        };
        // Vidu: created, queueing (the queue state), processing; one slot.
        tasks.catch_up(t0 + ms(35));
        assert_eq!(
            phases(&tasks),
            [
                (Phase::Done(Outcome::Success), ms(30)),
                (Phase::Running(2), ms(30)), // queued since 20, the slot freed at 30
                (Phase::Running(1), ms(10)),
            ]
        );
        assert_eq!((tasks.in_flight(), tasks.running()), (2, 1));
        tasks.catch_up(t0 + ms(60));
        assert_eq!(
            phases(&tasks),
            [
                (Phase::Done(Outcome::Success), ms(30)),
                (Phase::Done(Outcome::Success), ms(40)),
                (Phase::Done(Outcome::Success), ms(50)),
            ]
        );
        assert_eq!((tasks.in_flight(), tasks.running()), (0, 0));
        assert_eq!(tasks.credits_spent(), 30);
        assert!(Arc::ptr_eq(
            &tasks.numbered(1).unwrap().model,
            &tasks.numbered(3).unwrap().model
        ));
    }

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
