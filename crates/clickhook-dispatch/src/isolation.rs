//! Per-receiver isolation: a concurrency cap and a circuit breaker for each webhook.
//!
//! State is per node and in memory: it protects this node's slots, and is rebuilt from
//! nothing after a restart (a receiver that is still down trips the breaker again after
//! `breaker_failures` attempts).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Go,
    /// The receiver already has its cap of attempts in flight.
    Busy,
    /// The receiver's circuit is open until then.
    Open { until_ms: i64 },
}

#[derive(Debug, Default)]
struct Receiver {
    in_flight: usize,
    consecutive_failures: u32,
    open_until_ms: i64,
}

#[derive(Debug)]
pub struct Receivers {
    cap: usize,
    threshold: u32,
    cooldown_ms: i64,
    map: Mutex<HashMap<i64, Receiver>>,
}

impl Receivers {
    pub fn new(cap: usize, threshold: u32, cooldown: Duration) -> Self {
        Self { cap: cap.max(1), threshold: threshold.max(1), cooldown_ms: cooldown.as_millis() as i64, map: Mutex::new(HashMap::new()) }
    }

    /// May an attempt to `webhook` start now? On `Go` the attempt is counted in flight and
    /// must be reported with [`Receivers::finish`].
    pub fn admit(&self, webhook: i64, now_ms: i64) -> Admission {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let r = map.entry(webhook).or_default();
        if r.open_until_ms > now_ms {
            return Admission::Open { until_ms: r.open_until_ms };
        }
        // Half-open: after the cooldown, one probe at a time decides.
        let cap = if r.consecutive_failures >= self.threshold { 1 } else { self.cap };
        if r.in_flight >= cap {
            return Admission::Busy;
        }
        r.in_flight += 1;
        Admission::Go
    }

    /// Reports an admitted attempt: `Some(true)` the receiver answered acceptably (2xx, or
    /// a final 403/410), `Some(false)` it failed, `None` no request was made.
    pub fn finish(&self, webhook: i64, ok: Option<bool>, now_ms: i64) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let r = map.entry(webhook).or_default();
        r.in_flight = r.in_flight.saturating_sub(1);
        match ok {
            Some(true) => {
                r.consecutive_failures = 0;
                r.open_until_ms = 0;
            }
            Some(false) => {
                r.consecutive_failures += 1;
                if r.consecutive_failures >= self.threshold {
                    r.open_until_ms = now_ms + self.cooldown_ms;
                    metrics::counter!("clickhook_circuit_opened_total").increment(1);
                }
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_limits_attempts_in_flight_per_receiver() {
        let r = Receivers::new(2, 5, Duration::from_secs(30));
        assert_eq!(r.admit(1, 0), Admission::Go);
        assert_eq!(r.admit(1, 0), Admission::Go);
        assert_eq!(r.admit(1, 0), Admission::Busy);
        assert_eq!(r.admit(2, 0), Admission::Go, "another receiver is not affected");
        r.finish(1, Some(true), 0);
        assert_eq!(r.admit(1, 0), Admission::Go);
    }

    #[test]
    fn breaker_opens_after_failures_then_probes_once() {
        let r = Receivers::new(8, 3, Duration::from_millis(1000));
        for _ in 0..3 {
            assert_eq!(r.admit(1, 0), Admission::Go);
            r.finish(1, Some(false), 100);
        }
        assert_eq!(r.admit(1, 500), Admission::Open { until_ms: 1100 });
        // after the cooldown: one probe, not more
        assert_eq!(r.admit(1, 1100), Admission::Go);
        assert_eq!(r.admit(1, 1100), Admission::Busy);
        // the probe fails: open again
        r.finish(1, Some(false), 1200);
        assert_eq!(r.admit(1, 1300), Admission::Open { until_ms: 2200 });
        // the next probe succeeds: closed, full cap again
        assert_eq!(r.admit(1, 2200), Admission::Go);
        r.finish(1, Some(true), 2300);
        for _ in 0..8 {
            assert_eq!(r.admit(1, 2400), Admission::Go);
        }
    }

    #[test]
    fn attempts_not_made_do_not_count() {
        let r = Receivers::new(1, 1, Duration::from_secs(1));
        assert_eq!(r.admit(1, 0), Admission::Go);
        r.finish(1, None, 0);
        assert_eq!(r.admit(1, 0), Admission::Go);
    }
}
