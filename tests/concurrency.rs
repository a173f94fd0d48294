//! Many threads share one `Client` against the emulator, submitting, waiting and downloading at
//! once, while another thread fires their cancel tokens at random moments (seeded, so every run
//! makes the same choices). No deadlock (a watchdog fails the test), no lost result (every task
//! the emulator created is reported to exactly one caller), every wait returns, and every
//! cancelled task can be resumed by its id.
#![cfg(feature = "emulator")]

mod common;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

use common::emulated::{fast_config, job};
use common::scratch_dir;
use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Route, Scenario};
use vidu::{CancelToken, Client, Error, Provider, WaitOptions};

/// xorshift64*, std-only and deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Runs `body` on its own thread and fails if it does not finish within `limit`.
fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| {
        panic!("no answer within {limit:?}: a deadlock or a wait that never returns")
    })
}

const THREADS: usize = 8;
const JOBS_PER_THREAD: usize = 3;

enum Outcome {
    Done(String),
    Cancelled(String),
}

fn run(provider: Provider, seed: u64) {
    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .scenario(Scenario::Normal)
            .polls_per_state(2)
            // Some trouble on the way: resets on status polls and cut downloads, retried.
            .fault(Fault::on(Route::Status).nth(3).effect(Effect::Reset))
            .fault(Fault::on(Route::Video).nth(2).effect(Effect::CutBody)),
    )
    .unwrap();
    let client = Client::new(fast_config(provider, emu.base_url(), "test-key")).unwrap();
    let tokens: Vec<CancelToken> = (0..THREADS * JOBS_PER_THREAD)
        .map(|_| CancelToken::new())
        .collect();
    let dir = scratch_dir();

    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        // The canceller: fires about a third of the tokens, at random moments.
        let canceller = s.spawn(|| {
            let mut rng = Rng(seed);
            for token in &tokens {
                if rng.next().is_multiple_of(3) {
                    std::thread::sleep(Duration::from_millis(rng.next() % 40));
                    token.cancel();
                }
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (client, tokens, dir) = (&client, &tokens, &dir);
                s.spawn(move || {
                    (0..JOBS_PER_THREAD)
                        .map(|j| {
                            let i = t * JOBS_PER_THREAD + j;
                            let out = dir.join(format!("v{i}.mp4"));
                            let mut options = WaitOptions::new()
                                .timeout(Some(Duration::from_secs(30)))
                                .cancel(tokens[i].clone());
                            match client.generate(&job(), &out, &mut options) {
                                Ok(done) => {
                                    assert_eq!(
                                        std::fs::read(&out).unwrap(),
                                        Emulator::video_bytes(),
                                        "{}",
                                        done.task_id
                                    );
                                    Outcome::Done(done.task_id)
                                }
                                Err(Error::Cancelled {
                                    task_id: Some(id), ..
                                }) => {
                                    assert!(!out.exists(), "nothing at the output when cancelled");
                                    Outcome::Cancelled(id)
                                }
                                Err(e) => panic!("job {i}: {e}"),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        canceller.join().unwrap();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });

    // No lost result: one outcome per job, each a distinct task the emulator created.
    assert_eq!(outcomes.len(), THREADS * JOBS_PER_THREAD);
    let ids: BTreeSet<&str> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Done(id) | Outcome::Cancelled(id) => id.as_str(),
        })
        .collect();
    assert_eq!(ids.len(), outcomes.len(), "task ids are distinct");
    assert_eq!(
        emu.stats().submits as usize,
        outcomes.len(),
        "every task is reported"
    );
    let cancelled = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Cancelled(_)))
        .count();
    eprintln!("{provider}: {cancelled} of {} cancelled", outcomes.len());
    // Tokens not fired always finish; the first fired token beats its job by design.
    assert!(cancelled > 0 && cancelled < outcomes.len());
    // A cancelled wait leaves a task that can be picked up again by its id, concurrently.
    std::thread::scope(|s| {
        for (i, o) in outcomes.iter().enumerate() {
            if let Outcome::Cancelled(id) = o {
                let (client, dir) = (&client, &dir);
                s.spawn(move || {
                    let out = dir.join(format!("resumed{i}.mp4"));
                    client
                        .resume(id, &out, &mut WaitOptions::new())
                        .unwrap_or_else(|e| panic!("resume {id}: {e}"));
                });
            }
        }
    });
}

#[test]
fn many_threads_share_one_client_with_random_cancels() {
    within(Duration::from_secs(120), || {
        for (provider, seed) in Provider::ALL.iter().copied().zip([7, 11, 13]) {
            run(provider, seed);
        }
    });
}

/// Cancel tokens fired while every thread is blocked in a wait on a task that never finishes:
/// every wait returns `Cancelled` with its task id.
#[test]
fn every_blocked_wait_returns_when_cancelled() {
    within(Duration::from_secs(60), || {
        let emu =
            Emulator::start_with(EmulatorOptions::new().scenario(Scenario::NeverFinishes)).unwrap();
        let client = Client::new(fast_config(Provider::Vidu, emu.base_url(), "test-key")).unwrap();
        let ids: Vec<String> = (0..THREADS)
            .map(|_| client.submit(&job()).unwrap())
            .collect();
        let token = CancelToken::new();
        std::thread::scope(|s| {
            let waits: Vec<_> = ids
                .iter()
                .map(|id| {
                    let (client, token) = (&client, token.clone());
                    s.spawn(move || {
                        client.wait(id, &mut WaitOptions::new().timeout(None).cancel(token))
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(200));
            token.cancel();
            for (w, id) in waits.into_iter().zip(&ids) {
                match w.join().unwrap() {
                    Err(Error::Cancelled { task_id, .. }) => {
                        assert_eq!(task_id.as_deref(), Some(id.as_str()))
                    }
                    other => panic!("{id}: {other:?}"),
                }
            }
        });
    });
}

/// A cancel cannot interrupt a request already in flight (ureq has no way to abort a blocked
/// read from another thread, and a thread per poll would cost every wait): it takes effect when
/// that request ends, so its bound is the receive timeout (`Timeouts::receive`, 30 s by
/// default; set it lower for a snappier cancel button). Here 1 s, against a 20 s stall.
#[test]
fn cancel_during_a_stalled_status_poll_takes_effect_within_the_receive_timeout() {
    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .fault(Fault::on(Route::Status).effect(Effect::Stall(Duration::from_secs(20)))),
    )
    .unwrap();
    let mut config = fast_config(Provider::Vidu, emu.base_url(), "test-key");
    config.timeouts.receive = Duration::from_secs(1);
    let client = Client::new(config).unwrap();
    let task_id = client.submit(&job()).unwrap();
    let token = CancelToken::new();
    let canceller = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let start = std::time::Instant::now();
    let err = within(Duration::from_secs(10), move || {
        client
            .wait(&task_id, &mut WaitOptions::new().cancel(token))
            .unwrap_err()
    });
    let elapsed = start.elapsed();
    assert!(
        matches!(
            err,
            Error::Cancelled {
                task_id: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}
