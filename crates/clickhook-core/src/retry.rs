//! What happens after a delivery attempt: done, stop, or try again later.
//!
//! The schedule is data (`webhooks.retry_schedule`): the n-th entry is the wait after the
//! n-th failed attempt. When it runs out the delivery is dead-lettered. Postmark's own
//! schedule is the default: 1m, 5m, 10m, 10m, 10m, 15m, 30m, 1h, 2h, 6h.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

/// The verdict on one attempt's HTTP status (or on a transport failure: `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptVerdict {
    /// Any 2xx.
    Delivered,
    /// 403: the receiver refuses; Postmark stops retrying.
    Stop,
    /// 410 Gone: stop, and disable the webhook's Click trigger (Standard Webhooks).
    StopAndDisable,
    /// Anything else: a timeout, a refused connection, 3xx, 4xx, 5xx.
    Retry,
}

impl AttemptVerdict {
    pub fn of(status: Option<u16>) -> Self {
        match status {
            Some(200..=299) => Self::Delivered,
            Some(403) => Self::Stop,
            Some(410) => Self::StopAndDisable,
            _ => Self::Retry,
        }
    }
}

impl RetrySchedule {
    pub fn postmark() -> Self {
        let m = |n: u64| Duration::from_secs(n * 60);
        Self { delays: vec![m(1), m(5), m(10), m(10), m(10), m(15), m(30), m(60), m(120), m(360)] }
    }

    /// At most 50 steps, each between 1 ms and 7 days.
    pub fn new(delays: Vec<Duration>) -> Result<Self, String> {
        if delays.len() > 50 {
            return Err(format!("webhooks.retry_schedule has {} entries: at most 50", delays.len()));
        }
        if let Some(d) = delays.iter().find(|d| **d < Duration::from_millis(1) || **d > Duration::from_secs(7 * 86_400)) {
            return Err(format!("webhooks.retry_schedule entry {d:?}: must be 1ms..=7d"));
        }
        Ok(Self { delays })
    }

    /// The wait before the next attempt after `failed_attempts` failures (1-based), or
    /// `None` when the schedule is used up and the delivery is dead.
    pub fn delay_after(&self, failed_attempts: u32) -> Option<Duration> {
        let i = usize::try_from(failed_attempts).ok()?.checked_sub(1)?;
        self.delays.get(i).copied()
    }

    /// How many attempts a delivery gets in all: the first plus one per schedule entry.
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }

    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::postmark()
    }
}

/// The whole retry policy: the schedule, jitter, and how far a receiver's `Retry-After`
/// is followed.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub schedule: RetrySchedule,
    /// Each wait is scaled by a factor drawn from `1 ± jitter` (0.2 = ±20%), so that the
    /// retries of many deliveries that failed together do not arrive together. 0..=0.5.
    pub jitter: f64,
    /// The longest `Retry-After` that is followed; longer requests are cut to this.
    pub retry_after_max: Duration,
}

impl RetryPolicy {
    /// The wait before the next attempt after `failed_attempts` failures, or `None` when
    /// the schedule is used up. `retry_after` is the receiver's request (429 and 503
    /// only); the wait is then at least that, up to `retry_after_max`. `unit` is a uniform
    /// random number in `[0, 1)` supplied by the caller, so that this stays pure.
    pub fn next_delay(&self, failed_attempts: u32, retry_after: Option<Duration>, unit: f64) -> Option<Duration> {
        let base = self.schedule.delay_after(failed_attempts)?;
        let d = jittered(base, self.jitter, unit);
        Some(match retry_after {
            Some(ra) => d.max(ra.min(self.retry_after_max)),
            None => d,
        })
    }
}

/// `base` scaled by `1 + jitter * (2 * unit - 1)`: with `unit` in `[0, 1)` the result lies
/// in `[base * (1 - jitter), base * (1 + jitter))`.
pub fn jittered(base: Duration, jitter: f64, unit: f64) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    let unit = if unit.is_finite() { unit.clamp(0.0, 1.0) } else { 0.5 };
    base.mul_f64(1.0 + jitter * (2.0 * unit - 1.0))
}

/// Parses a `Retry-After` header: delay-seconds or an HTTP date, relative to `now_unix`.
/// A date in the past is a zero wait; anything unparsable is `None`.
pub fn parse_retry_after(value: &str, now_unix: i64) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    let when = when.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(Duration::from_secs(when.saturating_sub(now_unix).max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(AttemptVerdict::of(Some(200)), AttemptVerdict::Delivered);
        assert_eq!(AttemptVerdict::of(Some(204)), AttemptVerdict::Delivered);
        assert_eq!(AttemptVerdict::of(Some(403)), AttemptVerdict::Stop);
        assert_eq!(AttemptVerdict::of(Some(410)), AttemptVerdict::StopAndDisable);
        for s in [301, 302, 400, 404, 429, 500, 503] {
            assert_eq!(AttemptVerdict::of(Some(s)), AttemptVerdict::Retry, "{s}");
        }
        assert_eq!(AttemptVerdict::of(None), AttemptVerdict::Retry);
    }

    #[test]
    fn postmark_schedule_walks_then_ends() {
        let s = RetrySchedule::postmark();
        assert_eq!(s.delay_after(0), None);
        assert_eq!(s.delay_after(1), Some(Duration::from_secs(60)));
        assert_eq!(s.delay_after(10), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(s.delay_after(11), None);
        assert_eq!(s.max_attempts(), 11);
    }

    fn policy(jitter: f64) -> RetryPolicy {
        RetryPolicy { schedule: RetrySchedule::postmark(), jitter, retry_after_max: Duration::from_secs(3600) }
    }

    #[test]
    fn retry_after_is_followed_within_bounds() {
        let p = policy(0.0);
        // shorter than the schedule: the schedule wins
        assert_eq!(p.next_delay(1, Some(Duration::from_secs(5)), 0.5), Some(Duration::from_secs(60)));
        // longer: the receiver's wish, up to the cap
        assert_eq!(p.next_delay(1, Some(Duration::from_secs(600)), 0.5), Some(Duration::from_secs(600)));
        assert_eq!(p.next_delay(1, Some(Duration::from_secs(86_400)), 0.5), Some(Duration::from_secs(3600)));
        // the schedule still ends
        assert_eq!(p.next_delay(11, Some(Duration::from_secs(5)), 0.5), None);
    }

    #[test]
    fn retry_after_header_forms() {
        let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    proptest::proptest! {
        #[test]
        fn jitter_stays_within_its_band(secs in 1u64..100_000, jitter in 0.0f64..=0.5, unit in 0.0f64..1.0) {
            let base = Duration::from_secs(secs);
            let d = jittered(base, jitter, unit);
            let lo = base.mul_f64(1.0 - jitter);
            let hi = base.mul_f64(1.0 + jitter);
            proptest::prop_assert!(d >= lo - Duration::from_nanos(1) && d <= hi + Duration::from_nanos(1), "{d:?} not in [{lo:?}, {hi:?}]");
        }

        #[test]
        fn every_step_of_a_schedule_is_jittered_around_its_entry(unit in 0.0f64..1.0, n in 1u32..=10) {
            let p = policy(0.2);
            let base = RetrySchedule::postmark().delay_after(n).unwrap();
            let d = p.next_delay(n, None, unit).unwrap();
            proptest::prop_assert!(d >= base.mul_f64(0.8) - Duration::from_nanos(1) && d <= base.mul_f64(1.2) + Duration::from_nanos(1));
        }
    }

    #[test]
    fn bounds() {
        assert!(RetrySchedule::new(vec![Duration::ZERO]).is_err());
        assert!(RetrySchedule::new(vec![Duration::from_secs(8 * 86_400)]).is_err());
        assert!(RetrySchedule::new(vec![Duration::from_millis(5); 51]).is_err());
        assert!(RetrySchedule::new(vec![]).unwrap().delay_after(1).is_none());
    }
}
