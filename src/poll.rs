//! The poll schedule, in one place.

use std::time::Duration;

use crate::config::PollSchedule;
use crate::retry::random_fraction;

impl PollSchedule {
    /// The delay before poll number `n` (0-based): `first * growth^n`, at most `max`, less a
    /// random fraction up to `jitter`, never below `first` times `1 - jitter`.
    pub fn delay(&self, n: u32) -> Duration {
        let base = self.first.as_secs_f64() * self.growth.powi(n.min(64) as i32);
        let capped = base.min(self.max.as_secs_f64());
        Duration::from_secs_f64(capped * (1.0 - self.jitter * random_fraction()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_with_bounded_jitter() {
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
