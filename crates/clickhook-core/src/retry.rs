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
    /// Anything else: a timeout, a refused connection, 3xx, 4xx, 5xx.
    Retry,
}

impl AttemptVerdict {
    pub fn of(status: Option<u16>) -> Self {
        match status {
            Some(200..=299) => Self::Delivered,
            Some(403) => Self::Stop,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(AttemptVerdict::of(Some(200)), AttemptVerdict::Delivered);
        assert_eq!(AttemptVerdict::of(Some(204)), AttemptVerdict::Delivered);
        assert_eq!(AttemptVerdict::of(Some(403)), AttemptVerdict::Stop);
        for s in [301, 302, 400, 404, 410, 429, 500, 503] {
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

    #[test]
    fn bounds() {
        assert!(RetrySchedule::new(vec![Duration::ZERO]).is_err());
        assert!(RetrySchedule::new(vec![Duration::from_secs(8 * 86_400)]).is_err());
        assert!(RetrySchedule::new(vec![Duration::from_millis(5); 51]).is_err());
        assert!(RetrySchedule::new(vec![]).unwrap().delay_after(1).is_none());
    }
}
