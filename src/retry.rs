//! The one retry mechanism: the poll schedule, the backoff policy, `Retry-After`, and
//! [`Backoff`], the loop state used by submit, status and download.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cancel::CancelToken;

/// When to poll a task: `first`, then each delay `growth` times the last, at most `max`, each
/// shortened by up to `jitter` (a fraction) at random so that many clients do not poll in step.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct PollSchedule {
    /// Delay before the first status poll, and the smallest delay. Default 2 s.
    pub first: Duration,
    /// Factor between consecutive delays, at least 1.0. Default 1.5.
    pub growth: f64,
    /// Largest delay. Default 15 s.
    pub max: Duration,
    /// Random fraction taken off each delay, 0.0..=0.5. Default 0.1.
    pub jitter: f64,
}

impl Default for PollSchedule {
    fn default() -> Self {
        PollSchedule {
            first: Duration::from_secs(2),
            growth: 1.5,
            max: Duration::from_secs(15),
            jitter: 0.1,
        }
    }
}

/// Retries of transient failures (connect errors, resets, timeouts, 408, 429, 5xx). Status and
/// download are retried on all of these; submit only when it certainly was not processed
/// (could not connect, 429). Delays use exponential backoff with full jitter; a `Retry-After`
/// from the server is honoured up to `max_retry_after`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per request, the first included. Default 5; 1 disables retries.
    pub max_attempts: u32,
    /// Base of the backoff: attempt n waits a random time up to `base * 2^n`. Default 500 ms.
    pub base: Duration,
    /// Largest backoff delay. Default 10 s.
    pub max_delay: Duration,
    /// Largest `Retry-After` honoured. Default 60 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl PollSchedule {
    /// The defaults: 2 s, growing by 1.5, at most 15 s, 10 % jitter.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`first`](Self::first) (default 2 s).
    pub fn first(mut self, first: Duration) -> Self {
        self.first = first;
        self
    }
    /// Sets [`growth`](Self::growth) (default 1.5).
    pub fn growth(mut self, growth: f64) -> Self {
        self.growth = growth;
        self
    }
    /// Sets [`max`](Self::max) (default 15 s).
    pub fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }
    /// Sets [`jitter`](Self::jitter) (default 0.1).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// The delay before poll number `n` (0-based): `first * growth^n`, at most `max`, less a
    /// random fraction up to `jitter`, never below `first` times `1 - jitter`. Never panics:
    /// a delay too long for a `Duration` is `Duration::MAX`.
    pub fn delay(&self, n: u32) -> Duration {
        let base = self.first.as_secs_f64() * self.growth.powi(n.min(64) as i32);
        let capped = base.min(self.max.as_secs_f64());
        let jittered = capped * (1.0 - self.jitter.clamp(0.0, 1.0) * random_fraction());
        Duration::try_from_secs_f64(jittered).unwrap_or(if jittered > 0.0 {
            Duration::MAX
        } else {
            Duration::ZERO
        })
    }
}

impl RetryPolicy {
    /// The defaults: 5 attempts, backoff from 500 ms up to 10 s, `Retry-After` up to 60 s.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`max_attempts`](Self::max_attempts) (default 5; 1 disables retries).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }
    /// Sets [`base`](Self::base) (default 500 ms).
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }
    /// Sets [`max_delay`](Self::max_delay) (default 10 s).
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max;
        self
    }
    /// Sets [`max_retry_after`](Self::max_retry_after) (default 60 s).
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }
}

/// One retry loop: counts attempts, picks each delay (full jitter, or the server's
/// `Retry-After`), respects a deadline, and sleeps through the cancel token. Submit, status and
/// download all retry through this; what is worth retrying is their own rule.
#[derive(Debug)]
pub(crate) struct Backoff<'p> {
    policy: &'p RetryPolicy,
    max_attempts: u32,
    failures: u32,
    deadline: Option<Instant>,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// The delay was slept: try again.
    Retry,
    /// Attempts are used up, or the next one would start after the deadline.
    GiveUp,
    /// The cancel token was triggered during the delay.
    Cancelled,
}

impl<'p> Backoff<'p> {
    /// `policy.max_attempts` attempts, none starting after `deadline`.
    pub(crate) fn new(policy: &'p RetryPolicy, deadline: Option<Instant>) -> Self {
        Backoff {
            policy,
            max_attempts: policy.max_attempts,
            failures: 0,
            deadline,
        }
    }

    /// Overrides the number of attempts (downloads count resumed connections too).
    pub(crate) fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Attempts made and failed so far.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a failed attempt; the delay before the next one, or `None` to give up.
    pub(crate) fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= self.max_attempts {
            return None;
        }
        let delay = delay(self.policy, self.failures - 1, retry_after);
        match self.deadline {
            // An instant past what the clock can hold is past any deadline.
            Some(d) if Instant::now().checked_add(delay).is_none_or(|t| t > d) => None,
            _ => Some(delay),
        }
    }

    /// [`after_failure`](Self::after_failure), with a debug record of the failure and of the
    /// delay chosen (the server's `Retry-After`, or the computed backoff), or of giving up.
    pub(crate) fn after_logged_failure(
        &mut self,
        failure: &dyn std::fmt::Display,
        retry_after: Option<Duration>,
        cancel: &CancelToken,
    ) -> Next {
        let attempt = self.failures.saturating_add(1);
        match self.next_delay(retry_after) {
            None => {
                log::debug!("{failure}; giving up after {attempt} attempts");
                Next::GiveUp
            }
            Some(delay) => {
                let from = match retry_after {
                    Some(_) => "Retry-After",
                    None => "backoff",
                };
                log::debug!("{failure}; attempt {attempt} failed, again in {delay:?} ({from})");
                if cancel.sleep(delay) {
                    Next::Cancelled
                } else {
                    Next::Retry
                }
            }
        }
    }

    /// Records a failed attempt and sleeps before the next one, through `cancel`.
    pub(crate) fn after_failure(
        &mut self,
        retry_after: Option<Duration>,
        cancel: &CancelToken,
    ) -> Next {
        match self.next_delay(retry_after) {
            None => Next::GiveUp,
            Some(delay) if cancel.sleep(delay) => Next::Cancelled,
            Some(_) => Next::Retry,
        }
    }
}

/// The wait before retry number `attempt` (0-based): full jitter, a random time between zero
/// and `base * 2^attempt`, at most `max_delay`; a server's `Retry-After` wins, capped.
pub(crate) fn delay(policy: &RetryPolicy, attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after.min(policy.max_retry_after);
    }
    let ceiling = policy
        .base
        .saturating_mul(1u32 << attempt.min(20))
        .min(policy.max_delay);
    // mul_f64 panics when rounding lands past Duration::MAX; the ceiling is a safe answer.
    Duration::try_from_secs_f64(ceiling.as_secs_f64() * random_fraction())
        .map_or(ceiling, |d| d.min(ceiling))
}

/// Parses `Retry-After`: delta seconds or an HTTP date (IMF-fixdate) relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → unix seconds.
fn parse_http_date(s: &str) -> Option<u64> {
    let mut parts = s.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    // Years past 9999 are not dates a server means; they would only overflow the arithmetic.
    if !(1..=9999).contains(&year) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days)
        .ok()?
        .checked_mul(86_400)?
        .checked_add(h * 3600 + m * 60 + sec)
}

thread_local! {
    static STATE: Cell<u64> = Cell::new({
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        h.finish() | 1
    });
}

/// Makes this thread's jitter repeatable (the simulation replays a seed exactly).
#[cfg(test)]
pub(crate) fn seed_random(seed: u64) {
    STATE.with(|s| s.set(seed | 1));
}

/// A random number in `[0, 1)`, from a per-thread xorshift seeded by the OS-random `RandomState`.
pub(crate) fn random_fraction() -> f64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setter_sets_its_own_field() {
        let d = |ms| Duration::from_millis(ms);
        let p = PollSchedule::new()
            .first(d(1))
            .growth(3.0)
            .max(d(2))
            .jitter(0.25);
        assert_eq!(
            (p.first, p.growth, p.max, p.jitter),
            (d(1), 3.0, d(2), 0.25)
        );
        let r = RetryPolicy::new()
            .max_attempts(9)
            .base(d(3))
            .max_delay(d(4))
            .max_retry_after(d(5));
        assert_eq!(
            (r.max_attempts, r.base, r.max_delay, r.max_retry_after),
            (9, d(3), d(4), d(5))
        );
    }

    #[test]
    fn a_poll_delay_out_of_range_saturates_the_right_way() {
        let huge = PollSchedule::new()
            .first(Duration::MAX)
            .max(Duration::MAX)
            .jitter(0.0);
        assert_eq!(
            huge.delay(3),
            Duration::MAX,
            "too long for a Duration: the longest"
        );
        // Nonsense a caller could build (validation refuses it): never negative, never a panic.
        let negative = PollSchedule::new().growth(-1.0).jitter(0.0);
        assert_eq!(negative.delay(1), Duration::ZERO, "below zero: none");
    }

    #[test]
    fn http_dates_convert_exactly_and_out_of_range_fields_are_refused() {
        for (date, unix) in [
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Fri, 31 Dec 1999 23:59:59 GMT", Some(946_684_799)),
            ("Tue, 29 Feb 2000 00:00:00 GMT", Some(951_782_400)),
            ("Wed, 01 Mar 2000 00:00:00 GMT", Some(951_868_800)),
            ("Mon, 28 Feb 2100 12:30:45 GMT", Some(4_107_501_045)),
            ("Sat, 30 Jun 2012 23:59:60 GMT", Some(1_341_100_800)),
            ("Fri, 31 Dec 9999 23:59:59 GMT", Some(253_402_300_799)),
            ("Sun, 06 Nov 1994 08:49:37 UTC", None),
            ("Sun, 00 Nov 1994 08:49:37 GMT", None),
            ("Sun, 32 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 24:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:60:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49:61 GMT", None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 0 08:49:37 GMT", None),
            ("Sun, 06 Nov 10000 08:49:37 GMT", None),
            ("Wed, 31 Dec 1969 23:59:59 GMT", None),
            ("Sun, 06 Nov 1994 08:49 GMT", None),
        ] {
            assert_eq!(parse_http_date(date), unix, "{date}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 25:00:00 GMT", now),
            None
        );
    }

    #[test]
    fn backoff_is_jittered_below_a_growing_capped_ceiling() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..Default::default()
        };
        for attempt in 0..10 {
            let ceiling = (Duration::from_millis(100) * (1 << attempt)).min(Duration::from_secs(1));
            for _ in 0..50 {
                assert!(delay(&p, attempt, None) <= ceiling);
            }
        }
        let distinct: std::collections::HashSet<_> = (0..20).map(|_| delay(&p, 3, None)).collect();
        assert!(distinct.len() > 10, "full jitter must spread delays");
        assert_eq!(
            delay(&p, 0, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            delay(&p, 0, Some(Duration::from_secs(500))),
            p.max_retry_after
        );
    }

    #[test]
    fn hostile_retry_after_values_do_not_panic() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 9999999999999999 08:49:37 GMT", now),
            None
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov -9999999999999999 08:49:37 GMT", now),
            None
        );
        assert!(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now).is_some());
    }

    #[test]
    fn huge_durations_never_panic() {
        let p = RetryPolicy {
            base: Duration::MAX,
            max_delay: Duration::MAX,
            max_retry_after: Duration::MAX,
            ..Default::default()
        };
        for attempt in [0, 1, 30, u32::MAX] {
            let _ = delay(&p, attempt, None);
        }
        assert_eq!(
            delay(&p, 0, Some(Duration::from_secs(u64::MAX))),
            Duration::from_secs(u64::MAX)
        );
        let s = PollSchedule {
            first: Duration::MAX,
            growth: 10.0,
            max: Duration::MAX,
            jitter: 0.5,
        };
        for n in [0, 1, 64, u32::MAX] {
            let _ = s.delay(n);
        }
        // A deadline with a delay that would overflow the clock: give up, no panic.
        let mut b = Backoff::new(&p, Some(Instant::now()));
        assert_eq!(b.next_delay(Some(Duration::from_secs(u64::MAX))), None);
    }

    #[test]
    fn backoff_counts_attempts_and_respects_the_deadline() {
        let p = RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            max_retry_after: Duration::from_secs(60),
        };
        // Three attempts: two delays, then give up.
        let mut b = Backoff::new(&p, None);
        assert!(b.next_delay(None).is_some());
        assert!(b.next_delay(None).is_some());
        assert_eq!(b.next_delay(None), None);
        assert_eq!(b.failures(), 3);
        // The first retry uses attempt 0 of the backoff, so its delay is at most `base`.
        let p2 = RetryPolicy {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            ..p
        };
        for _ in 0..50 {
            let mut b = Backoff::new(&p2, None);
            assert!(b.next_delay(None).unwrap() <= Duration::from_millis(100));
        }
        // A Retry-After that ends after the deadline: give up now rather than sleep past it.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut b = Backoff::new(&p, Some(deadline));
        assert_eq!(b.next_delay(Some(Duration::from_secs(5))), None);
        let mut b = Backoff::new(&p, Some(deadline));
        assert_eq!(
            b.next_delay(Some(Duration::from_millis(10))),
            Some(Duration::from_millis(10))
        );
        // One attempt only: never retried.
        let once = RetryPolicy {
            max_attempts: 1,
            ..p
        };
        assert_eq!(Backoff::new(&once, None).next_delay(None), None);
    }

    #[test]
    fn a_cancel_stops_the_backoff_sleep() {
        let p = RetryPolicy {
            max_retry_after: Duration::from_secs(600),
            ..Default::default()
        };
        let token = CancelToken::new();
        token.cancel();
        let mut b = Backoff::new(&p, None);
        assert_eq!(
            b.after_failure(Some(Duration::from_secs(600)), &token),
            Next::Cancelled
        );
    }

    #[test]
    fn poll_delays_grow_to_the_cap_with_bounded_jitter() {
        let s = PollSchedule {
            first: Duration::from_millis(100),
            growth: 2.0,
            max: Duration::from_millis(500),
            jitter: 0.1,
        };
        let within = |d: Duration, nominal: f64| {
            let d = d.as_secs_f64();
            d <= nominal + 1e-9 && d >= nominal * 0.9 - 1e-9
        };
        for _ in 0..100 {
            assert!(within(s.delay(0), 0.1));
            assert!(within(s.delay(1), 0.2));
            assert!(within(s.delay(2), 0.4));
            assert!(within(s.delay(3), 0.5));
            assert!(within(s.delay(1000), 0.5));
        }
    }
}
