//! Deterministic simulation of the job state machine (after FoundationDB's simulation testing
//! and TigerBeetle's VOPR): one seed drives a simulated provider (answers lost before or after
//! creating the task, 5xx after creating it, a garbled 2xx, a task list lagging 0–120 s, 429s,
//! submits a stop kept from being sent,
//! failed tasks, unreadable or failing polls, failing downloads), the clock, and a client that
//! crashes at random points (and in the middle of a group commit) and restarts from its journal.
//! The provider decides outcomes on its own, from the seed, independently of `src/provider`.
//!
//! After each run: at most one task per job (unless resubmit_uncertain on a provider that cannot
//! list tasks); every created task is in the journal or an outcome, or its job ended uncertain;
//! every written output is its own job's video; every job ended (written, failed, uncertain)
//! with its task id when its task is known.
//!
//! `cargo test --lib simulation`; one seed: `VIDU_SIM_SEED=N`; a long soak:
//! `VIDU_SIM_SCHEDULES=1000000 cargo test --release --lib simulation -- --ignored`.

use std::collections::HashMap;
use std::time::Duration;

use super::submit::SubmitOutcome;
use super::*;
use crate::error::{Error, TransportError};
use crate::journal::Record;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64: every seed, 0 included, gives a good stream.
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn millis(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.below(max + 1))
    }
}

/// How unkind the provider is in one schedule, in percent per request.
#[derive(Clone, Copy, Debug)]
struct Faults {
    lose_before: u64,
    lose_after: u64,
    error_after: u64,
    garble: u64,
    throttle: u64,
    fail_task: u64,
    poll_error: u64,
    poll_garble: u64,
    download_error: u64,
    max_lag_ms: u64,
}

struct Task {
    id: String,
    job: usize,
    payload: Option<String>,
    visible_at: Duration,
    done_at: Duration,
    fails: bool,
}

struct Provider {
    rng: Rng,
    faults: Faults,
    tasks: Vec<Task>,
}

fn reset() -> Error {
    Error::SubmitUncertain {
        source: TransportError::new(ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated reset",
        ))),
    }
}

fn api(status: u16) -> Error {
    Error::Api {
        operation: "sim",
        http_status: status,
        provider_code: None,
        message: "simulated".into(),
        request_id: None,
        task_id: None,
        retry_after_secs: Some(1),
    }
}

impl Provider {
    fn create(&mut self, job: usize, payload: Option<String>, now: Duration) -> String {
        let id = format!("t{}", self.tasks.len() + 1);
        let lag = self.rng.millis(self.faults.max_lag_ms);
        let run = Duration::from_secs(5) + self.rng.millis(60_000);
        let fails = self.rng.chance(self.faults.fail_task);
        self.tasks.push(Task {
            id: id.clone(),
            job,
            payload,
            visible_at: now + lag,
            done_at: now + run,
            fails,
        });
        id
    }

    fn submit(&mut self, job: usize, tag: Option<String>, now: Duration) -> SubmitOutcome {
        let f = self.faults;
        let roll = self.rng.below(100);
        let mut edge = 0;
        let mut hit = |p: u64| {
            edge += p;
            roll < edge
        };
        if hit(f.throttle) {
            return SubmitOutcome::NotCreated {
                error: api(429),
                throttled: true,
            };
        }
        if hit(f.lose_before) {
            return SubmitOutcome::Uncertain(reset());
        }
        let id = self.create(job, tag, now);
        if hit(f.lose_after) {
            SubmitOutcome::Uncertain(reset())
        } else if hit(f.error_after) {
            SubmitOutcome::Uncertain(api(500))
        } else if hit(f.garble) {
            SubmitOutcome::Uncertain(Error::Protocol {
                operation: "submit",
                task_id: None,
                detail: "simulated garbled 2xx".into(),
            })
        } else {
            SubmitOutcome::Created(id)
        }
    }

    fn status_of(&self, id: &str, now: Duration) -> Option<TaskStatus> {
        let t = self.tasks.iter().find(|t| t.id == id)?;
        let state = match () {
            _ if now < t.done_at => State::Running,
            _ if t.fails => State::Failed,
            _ => State::Succeeded,
        };
        let mut s = TaskStatus::new(id, state);
        s.raw_state = state.as_str().into();
        s.payload = t.payload.clone();
        Some(s)
    }

    fn poll(&mut self, id: &str, now: Duration) -> crate::Result<TaskStatus> {
        if self.rng.chance(self.faults.poll_error) {
            return Err(api(503));
        }
        if self.rng.chance(self.faults.poll_garble) {
            return Err(Error::Protocol {
                operation: "status",
                task_id: None,
                detail: "simulated".into(),
            });
        }
        self.status_of(id, now).ok_or_else(|| api(404))
    }

    fn list(&mut self, ids: &[(usize, String)], now: Duration) -> crate::Result<Vec<TaskStatus>> {
        if self.rng.chance(self.faults.poll_error) {
            return Err(api(429));
        }
        Ok(ids
            .iter()
            .filter(|(_, id)| {
                self.tasks
                    .iter()
                    .any(|t| &t.id == id && t.visible_at <= now)
            })
            .filter_map(|(_, id)| self.status_of(id, now))
            .collect())
    }

    fn search(&mut self, tag: &str, now: Duration) -> crate::Result<Option<String>> {
        if self.rng.chance(self.faults.poll_error) {
            return Err(api(503));
        }
        Ok(self
            .tasks
            .iter()
            .find(|t| t.visible_at <= now && t.payload.as_deref() == Some(tag))
            .map(|t| t.id.clone()))
    }
}

/// One schedule: its configuration drawn from the seed.
struct Schedule {
    seed: u64,
    jobs: usize,
    lists_tasks: bool,
    resubmit_uncertain: bool,
    caller_payload: Vec<bool>,
    /// Submits awaiting their answer at once.
    submits: usize,
    faults: Faults,
    /// Crash before the action with this number (counted over the whole run), repeatedly.
    crashes: Vec<u64>,
}

impl Schedule {
    fn draw(seed: u64) -> Schedule {
        let mut rng = Rng(seed);
        let jobs = 1 + rng.below(6) as usize;
        let mut pct = |max: u64| rng.below(max + 1);
        let faults = Faults {
            lose_before: pct(15),
            lose_after: pct(15),
            error_after: pct(10),
            garble: pct(10),
            throttle: pct(20),
            fail_task: pct(20),
            poll_error: pct(20),
            poll_garble: pct(10),
            download_error: pct(10),
            max_lag_ms: 0,
        };
        let max_lag_ms = rng.below(120_001);
        let lists_tasks = rng.chance(70);
        let resubmit_uncertain = rng.chance(20);
        let caller_payload = (0..jobs).map(|_| rng.chance(15)).collect();
        let crashes = (0..rng.below(4)).map(|_| rng.below(120)).collect();
        let submits = 1 + rng.below(4) as usize;
        Schedule {
            seed,
            jobs,
            lists_tasks,
            resubmit_uncertain,
            caller_payload,
            submits,
            faults: Faults {
                max_lag_ms,
                ..faults
            },
            crashes,
        }
    }
}

/// What a run left behind, for the invariants.
struct World {
    provider: Provider,
    durable: Vec<Record>,
    outputs: HashMap<usize, String>,
    outcomes: Vec<JobOutcome>,
    /// Records cut by a crash in the middle of a group commit.
    torn_commits: u32,
}

fn rules(s: &Schedule) -> Rules {
    Rules {
        lists_tasks: s.lists_tasks,
        list_polls: s.lists_tasks && s.jobs > 1,
        resubmit_uncertain: s.resubmit_uncertain,
        concurrency: 1 + (s.seed % 3) as usize,
        submits: s.submits,
        // Longer than the provider's longest lag: the window is what makes absence proof.
        search_window: Duration::from_secs(150),
        poll: PollSchedule {
            first: Duration::from_secs(2),
            growth: 1.5,
            max: Duration::from_secs(15),
            jitter: 0.0,
        },
        retry: RetryPolicy::default(),
    }
}

fn run(s: &Schedule) -> World {
    crate::retry::seed_random(s.seed);
    let mut rng = Rng(s.seed ^ 0xdead_beef);
    let mut provider = Provider {
        rng: Rng(s.seed.rotate_left(17)),
        faults: s.faults,
        tasks: Vec::new(),
    };
    let keys: Vec<JobKey> = (0..s.jobs)
        .map(|i| JobKey {
            key: 0x1000 + i as u64,
            caller_payload: s.caller_payload[i],
        })
        .collect();
    let mut durable: Vec<Record> = Vec::new();
    let mut outputs: HashMap<usize, String> = HashMap::new();
    let mut now = Duration::ZERO;
    let mut action_no = 0u64;
    let mut torn_commits = 0;
    let mut crashes = s.crashes.clone();
    crashes.sort_unstable();
    crashes.dedup();
    let mut crashes = crashes.into_iter().peekable();
    loop {
        // A (re)started process: the same transitions from the journal, then live.
        let mut m = Scheduler::new(rules(s), &keys, 1_700_000_000_000, rng.next());
        m.epoch_unix_ms = 1_700_000_000_000 + now.as_millis() as u64;
        for record in &durable {
            m.replay(record.job().unwrap() as usize, record);
        }
        // Times in this life count from its start.
        let life_start = now;
        m.start(Duration::ZERO);
        let mut pending: Vec<Record> = Vec::new();
        // Answers of submits and downloads sent from the driver's threads, not taken yet: they
        // come back later and in any order, as from a pool of threads.
        let mut answers: Vec<Input> = Vec::new();
        let crashed = loop {
            assert!(
                now < Duration::from_secs(3 * 24 * 3600),
                "seed {}: the run does not end",
                s.seed
            );
            // Some of the answers that have come are taken before the pass.
            let mut k = 0;
            while k < answers.len() {
                if rng.chance(50) {
                    m.handle(now - life_start, answers.swap_remove(k));
                } else {
                    k += 1;
                }
            }
            // One pass: every action due, its records committed once, then the I/O.
            let local = now - life_start;
            let mut pass = Vec::new();
            while let Some(action) = m.next_action(local) {
                match action {
                    Action::Record(r) => pending.push(r),
                    action => pass.push(action),
                }
            }
            if pass.is_empty() {
                durable.append(&mut pending);
                if !answers.is_empty() {
                    // Nothing to do but wait for an answer.
                    let k = rng.below(answers.len() as u64) as usize;
                    now += rng.millis(1000);
                    m.handle(now - life_start, answers.swap_remove(k));
                    continue;
                }
                if m.is_finished() {
                    break false;
                }
                let wake = m
                    .next_wake()
                    .unwrap_or_else(|| panic!("seed {}: stuck with jobs unfinished", s.seed));
                now = now.max(life_start + wake);
                continue;
            }
            let first = action_no + 1;
            action_no += pass.len() as u64;
            let crash = match crashes.peek() {
                Some(&c) if c <= action_no => {
                    crashes.next();
                    Some((c.max(first) - first) as usize)
                }
                _ => None,
            };
            match crash {
                // Died mid-commit: a prefix of the group reached the disk.
                Some(0) => {
                    let keep = rng.below(pending.len() as u64 + 1) as usize;
                    if keep < pending.len() {
                        torn_commits += 1;
                    }
                    durable.extend(pending.drain(..keep));
                    break true;
                }
                _ => durable.append(&mut pending),
            }
            // Died after the commit, with part of the pass sent: those answers are lost.
            let sent = crash.unwrap_or(pass.len());
            for action in pass.into_iter().take(sent) {
                now += rng.millis(500);
                let local = now - life_start;
                match action {
                    Action::Record(_) | Action::Emit(_) => {}
                    // A stop before a submit thread sent it: answered "not created" unsent.
                    Action::Submit { job, .. } if rng.chance(3) => {
                        let outcome = SubmitOutcome::NotCreated {
                            error: Error::Cancelled { task_id: None },
                            throttled: false,
                        };
                        answers.push(Input::Submitted { job, outcome });
                    }
                    Action::Submit { job, tag } => {
                        let payload = if s.caller_payload[job] {
                            Some("caller's own".into())
                        } else {
                            tag
                        };
                        let outcome = provider.submit(job, payload, now);
                        answers.push(Input::Submitted { job, outcome });
                    }
                    Action::Download { job, status } => {
                        let result = if provider.rng.chance(s.faults.download_error) {
                            Err(Error::Download {
                                task_id: None,
                                detail: "simulated".into(),
                            })
                        } else {
                            outputs.insert(job, status.task_id.clone());
                            Ok((1, PathBuf::from(format!("{job}.mp4"))))
                        };
                        answers.push(Input::Downloaded { job, result });
                    }
                    // Polls, lists and searches are answered on the loop, before the next.
                    Action::List { polls } => {
                        let result = provider.list(&polls, now);
                        m.handle(local, Input::Listed { polls, result });
                    }
                    Action::Poll { job, task_id } => {
                        let result = provider.poll(&task_id, now);
                        m.handle(local, Input::Polled { job, result });
                    }
                    Action::Search { job, tag, .. } => {
                        assert!(s.lists_tasks, "seed {}: searched a gateway", s.seed);
                        let result = provider.search(&tag, now);
                        m.handle(local, Input::Searched { job, result });
                    }
                }
            }
            if crash.is_some() {
                break true;
            }
        };
        if !crashed {
            return World {
                provider,
                durable,
                outputs,
                outcomes: m.into_outcomes(),
                torn_commits,
            };
        }
        // The process is gone for a while; tasks go on.
        now += rng.millis(30_000);
    }
}

fn check(s: &Schedule, w: &World) {
    let seed = s.seed;
    let journaled: Vec<&str> = w.durable.iter().filter_map(Record::task_id).collect();
    for j in 0..s.jobs {
        let tasks: Vec<&Task> = w.provider.tasks.iter().filter(|t| t.job == j).collect();
        let outcome = &w.outcomes[j];
        // Every job ended.
        assert!(
            !matches!(outcome, JobOutcome::Unfinished { .. }),
            "seed {seed}: job {j} unfinished"
        );
        // Without a tag to search by, resubmit_uncertain may pay twice, as documented.
        let may_pay_twice = s.resubmit_uncertain && (!s.lists_tasks || s.caller_payload[j]);
        if !may_pay_twice {
            assert!(
                tasks.len() <= 1,
                "seed {seed}: job {j} has {} tasks: {:?}",
                tasks.len(),
                tasks.iter().map(|t| &t.id).collect::<Vec<_>>()
            );
        }
        // Every created task is known, or its job is reported uncertain.
        for t in &tasks {
            let known = journaled.contains(&t.id.as_str()) || outcome.task_id() == Some(&t.id);
            assert!(
                known || matches!(outcome, JobOutcome::Uncertain(_)) || may_pay_twice,
                "seed {seed}: task {} of job {j} is lost: {outcome:?}",
                t.id
            );
        }
        match outcome {
            JobOutcome::Written { task_id, .. } => {
                let video = w.outputs.get(&j);
                assert_eq!(video, Some(task_id), "seed {seed}: job {j}'s output");
                let task = w.provider.tasks.iter().find(|t| &t.id == task_id);
                assert_eq!(
                    task.map(|t| t.job),
                    Some(j),
                    "seed {seed}: job {j} wrote another job's video"
                );
            }
            JobOutcome::Failed(e) => {
                // A failure after a task is known names it.
                if let Some(t) = tasks.iter().find(|t| journaled.contains(&t.id.as_str())) {
                    if e.kind() != crate::ErrorKind::SubmitUncertain {
                        assert_eq!(
                            e.task_id(),
                            Some(t.id.as_str()),
                            "seed {seed}: job {j}: {e}"
                        );
                    }
                }
            }
            _ => {}
        }
        if let Some(task) = w.outputs.get(&j) {
            let t = w.provider.tasks.iter().find(|t| &t.id == task);
            assert_eq!(t.map(|t| t.job), Some(j), "seed {seed}: output of job {j}");
        }
    }
}

fn schedules() -> u64 {
    std::env::var("VIDU_SIM_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn run_seeds(seeds: impl Iterator<Item = u64>) -> (u64, u32) {
    let mut count = 0;
    let mut torn = 0;
    for seed in seeds {
        let s = Schedule::draw(seed);
        let w = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&s))).unwrap_or_else(
            |e| {
                eprintln!("simulation failed: reproduce with VIDU_SIM_SEED={seed}");
                std::panic::resume_unwind(e)
            },
        );
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&s, &w))).unwrap_or_else(
            |e| {
                eprintln!("simulation failed: reproduce with VIDU_SIM_SEED={seed}");
                std::panic::resume_unwind(e)
            },
        );
        torn += w.torn_commits;
        count += 1;
    }
    (count, torn)
}

#[test]
fn ten_thousand_seeded_schedules_keep_every_invariant() {
    if let Some(seed) = std::env::var("VIDU_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        run_seeds(std::iter::once(seed));
        return;
    }
    let started = std::time::Instant::now();
    let (n, torn) = run_seeds(0..10_000.min(schedules()));
    eprintln!(
        "simulation: {n} schedules, {torn} torn group commits, in {:?}",
        started.elapsed()
    );
    assert!(torn > 0, "crashes mid-commit were exercised");
}

#[test]
#[ignore]
fn soak() {
    let started = std::time::Instant::now();
    let (n, _) = run_seeds(1_000_000..1_000_000 + schedules());
    eprintln!("simulation soak: {n} schedules in {:?}", started.elapsed());
}

#[test]
fn every_crash_point_of_small_batches() {
    let mut points = 0;
    for jobs in 1..=3 {
        for lists_tasks in [true, false] {
            for faulty in [false, true] {
                let base = |crashes: Vec<u64>| Schedule {
                    seed: 7 + jobs as u64,
                    jobs,
                    lists_tasks,
                    resubmit_uncertain: false,
                    caller_payload: vec![false; jobs],
                    submits: jobs,
                    faults: Faults {
                        lose_before: 0,
                        lose_after: if faulty { 30 } else { 0 },
                        error_after: 0,
                        garble: 0,
                        throttle: 20,
                        fail_task: 0,
                        // Transient poll trouble never fails a job.
                        poll_error: 20,
                        poll_garble: 5,
                        download_error: 0,
                        max_lag_ms: if faulty { 40_000 } else { 0 },
                    },
                    crashes,
                };
                // The number of actions of a crash-free run bounds the crash points.
                let total = count_actions(&base(Vec::new()));
                for k in 1..=total {
                    let s = base(vec![k]);
                    let w = run(&s);
                    check(&s, &w);
                    // On a gateway a crash between the intent and the submit cannot be told from
                    // one after it: the job is reported uncertain, which is the safe answer.
                    if !faulty && lists_tasks {
                        assert!(
                            w.outcomes
                                .iter()
                                .all(|o| matches!(o, JobOutcome::Written { .. })),
                            "crash before action {k} of {jobs} jobs: {:?}",
                            w.outcomes
                        );
                    }
                    points += 1;
                }
            }
        }
    }
    assert!(points > 50, "{points}");
}

fn count_actions(s: &Schedule) -> u64 {
    // A crash point past the end never fires: run once with one far away and count the
    // journal's records as a bound (each I/O action follows at least one record or poll).
    let w = run(&Schedule {
        crashes: vec![u64::MAX],
        ..Schedule {
            ..clone_schedule(s)
        }
    });
    (w.durable.len() as u64) * 3 + 10
}

fn clone_schedule(s: &Schedule) -> Schedule {
    Schedule {
        seed: s.seed,
        jobs: s.jobs,
        lists_tasks: s.lists_tasks,
        resubmit_uncertain: s.resubmit_uncertain,
        caller_payload: s.caller_payload.clone(),
        submits: s.submits,
        faults: s.faults,
        crashes: s.crashes.clone(),
    }
}

/// Scale of the machine alone (issue 14): 100,000 jobs, every answer instant and kind, all
/// submitted at once; prints the CPU time per job and the bytes a job holds. A measurement,
/// not a timed test: `cargo test --release --lib jobs::simulation::scale -- --ignored --nocapture`.
#[test]
#[ignore]
fn scale_of_100_000_jobs() {
    let n: usize = std::env::var("VIDU_SCALE_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let s = Schedule {
        seed: 1,
        jobs: n,
        lists_tasks: true,
        resubmit_uncertain: false,
        caller_payload: vec![false; n],
        submits: n,
        faults: Faults {
            lose_before: 0,
            lose_after: 0,
            error_after: 0,
            garble: 0,
            throttle: 0,
            fail_task: 0,
            poll_error: 0,
            poll_garble: 0,
            download_error: 0,
            max_lag_ms: 0,
        },
        crashes: Vec::new(),
    };
    let keys: Vec<JobKey> = (0..n)
        .map(|i| JobKey {
            key: i as u64,
            caller_payload: false,
        })
        .collect();
    let mut r = rules(&s);
    r.concurrency = n;
    let started = std::time::Instant::now();
    let mut m = Scheduler::new(r, &keys, 0, 1);
    m.start(Duration::ZERO);
    let mut provider = Provider {
        rng: Rng(1),
        faults: s.faults,
        tasks: Vec::new(),
    };
    let mut now = Duration::ZERO;
    let (mut actions, mut lists) = (0u64, 0u64);
    while !m.is_finished() {
        match m.next_action(now) {
            Some(Action::Submit { job, tag }) => {
                let outcome = provider.submit(job, tag, now);
                m.handle(now, Input::Submitted { job, outcome });
            }
            Some(Action::List { polls }) => {
                lists += 1;
                // Answered from a map, not the provider's scan, so the machine is measured.
                let result = Ok(polls
                    .iter()
                    .map(|(_, id)| TaskStatus::new(id.clone(), State::Succeeded))
                    .collect());
                m.handle(now, Input::Listed { polls, result });
            }
            Some(Action::Download { job, .. }) => m.handle(
                now,
                Input::Downloaded {
                    job,
                    result: Ok((1, PathBuf::from("x.mp4"))),
                },
            ),
            Some(_) => {}
            None => now = m.next_wake().unwrap(),
        }
        actions += 1;
    }
    let took = started.elapsed();
    eprintln!(
        "scale: {n} jobs, {actions} actions, {lists} list requests, {:?} CPU in all, {:.2} µs \
         per job; a job's slot is {} bytes plus its task id and tag",
        took,
        took.as_secs_f64() * 1e6 / n as f64,
        std::mem::size_of::<Slot>()
    );
}
