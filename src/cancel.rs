//! A cancel token: any thread may trigger it, and it wakes a sleeping wait at once.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Stops a wait or a download from another thread. Cloning shares the token.
///
/// Cancelling only stops the local wait; the task goes on at the provider (see
/// [`crate::Client::cancel`] for remote cancel).
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl CancelToken {
    /// A token not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Triggers the token, waking every thread sleeping on it. Idempotent.
    pub fn cancel(&self) {
        let (flag, cond) = &*self.inner;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cond.notify_all();
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps for `duration` or until cancelled, whichever comes first. Returns true when
    /// cancelled. A duration past what the clock can hold sleeps until cancelled.
    pub fn sleep(&self, duration: Duration) -> bool {
        let (flag, cond) = &*self.inner;
        let end = Instant::now().checked_add(duration);
        let mut cancelled = flag.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if *cancelled {
                return true;
            }
            cancelled = match end {
                None => cond.wait(cancelled).unwrap_or_else(|e| e.into_inner()),
                Some(end) => {
                    let now = Instant::now();
                    if now >= end {
                        return false;
                    }
                    cond.wait_timeout(cancelled, end - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn cancel_wakes_a_long_sleep_at_once() {
        let token = CancelToken::new();
        let other = token.clone();
        let start = Instant::now();
        let sleeper = thread::spawn(move || other.sleep(Duration::from_secs(60)));
        thread::sleep(Duration::from_millis(50));
        token.cancel();
        assert!(sleeper.join().unwrap(), "sleep must report cancellation");
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(token.is_cancelled());
    }

    #[test]
    fn an_endless_sleep_does_not_panic_and_ends_on_cancel() {
        let token = CancelToken::new();
        let other = token.clone();
        let sleeper = thread::spawn(move || other.sleep(Duration::MAX));
        thread::sleep(Duration::from_millis(20));
        token.cancel();
        assert!(sleeper.join().unwrap());
    }

    #[test]
    fn sleep_without_cancel_runs_its_time() {
        let token = CancelToken::new();
        let start = Instant::now();
        assert!(!token.sleep(Duration::from_millis(30)));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
