//! The retention window: how long after SentAt a click can still count.

use std::time::Duration;

/// `tracking.retention_days`, always within 7..=365.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDays(u16);

impl RetentionDays {
    pub const MIN: u16 = 7;
    pub const MAX: u16 = 365;
    pub const DEFAULT: u16 = 45;

    pub fn new(days: i64) -> Result<Self, String> {
        if (i64::from(Self::MIN)..=i64::from(Self::MAX)).contains(&days) {
            Ok(Self(days as u16))
        } else {
            Err(format!("tracking.retention_days = {days}: must be {}..={}", Self::MIN, Self::MAX))
        }
    }

    pub fn days(self) -> u16 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0) * 86_400)
    }

    /// When everything about a message sent at `sent_at_ms` expires (unix ms).
    pub fn expires_at_ms(self, sent_at_ms: i64) -> i64 {
        sent_at_ms.saturating_add(i64::from(self.0) * 86_400_000)
    }

    /// Whether a click at `at_ms` on a message sent at `sent_at_ms` is inside the window.
    /// Clicks "before" SentAt (clock skew, SentAt in the future) count as inside.
    pub fn contains(self, sent_at_ms: i64, at_ms: i64) -> bool {
        at_ms < self.expires_at_ms(sent_at_ms)
    }
}

impl Default for RetentionDays {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_enforced_with_a_clear_message() {
        assert!(RetentionDays::new(7).is_ok());
        assert!(RetentionDays::new(365).is_ok());
        assert_eq!(RetentionDays::new(400).unwrap_err(), "tracking.retention_days = 400: must be 7..=365");
        assert!(RetentionDays::new(6).is_err());
        assert!(RetentionDays::new(-1).is_err());
    }

    #[test]
    fn window_edges() {
        let r = RetentionDays::new(7).unwrap();
        let sent = 1_000_000;
        let week = 7 * 86_400_000;
        assert!(r.contains(sent, sent));
        assert!(r.contains(sent, sent + week - 1));
        assert!(!r.contains(sent, sent + week));
        assert!(r.contains(sent, sent - 5_000));
    }
}
