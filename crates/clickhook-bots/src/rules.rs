//! Thresholds and the `suspected` policy.

use crate::Verdict;

/// Checked thresholds and policy. Build one with [`BotRules::new`] from a [`BotRules`]-shaped
/// set of values, or take [`BotRules::default`].
///
/// | field | default | why |
/// |---|---|---|
/// | `early_after_send_secs` | 60 | Scanners open links within seconds of delivery (Safe Links, Barracuda, Proofpoint: typically 1-10 s after SentAt; a minute covers queueing). Few people click in the first minute, and an early click alone only makes a hit `suspected`. 0 turns the rule off. |
/// | `burst_distinct_links` | 3 | A scanner opens every link of a message; a person rarely opens three different links of one message within a few seconds (two, by middle-clicking, happens). |
/// | `burst_window_ms` | 5 000 | Scanners fetch a message's links within a second or two of each other; five seconds leaves room for a slow one without reaching a person reading and clicking. |
/// | `settle_ms` | 2 000 | `[bots] settle_seconds` of the config: how long a hit that a burst could still relabel is held. |
/// | `burst_max_keys` | 100 000 | Hard cap on (message, network) keys the burst tracker remembers; older keys are dropped first. At ~200 bytes a key, 20 MB at most. |
/// | `burst_max_hits_per_key` | 64 | Hits remembered per key; a burst needs only a few. |
/// | `early_alone` | `suspected` | An early click with nothing else: labelled, still a click. May be `human`, never `scanner`. |
/// | `probable_alone` | `suspected` | A probable scanner network (or a scanner ASN) with nothing else. |
/// | `probable_and_early` | `scanner` | A probable scanner network within the early window: that is how URL-rewriting gateways behave. |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BotRules {
    pub early_after_send_secs: u32,
    pub burst_distinct_links: u32,
    pub burst_window_ms: u64,
    pub settle_ms: u64,
    pub burst_max_keys: usize,
    pub burst_max_hits_per_key: usize,
    pub early_alone: Verdict,
    pub probable_alone: Verdict,
    pub probable_and_early: Verdict,
}

impl Default for BotRules {
    fn default() -> Self {
        BotRules {
            early_after_send_secs: 60,
            burst_distinct_links: 3,
            burst_window_ms: 5_000,
            settle_ms: 2_000,
            burst_max_keys: 100_000,
            burst_max_hits_per_key: 64,
            early_alone: Verdict::Suspected,
            probable_alone: Verdict::Suspected,
            probable_and_early: Verdict::Scanner,
        }
    }
}

/// A threshold or policy out of its range; the message names the field, the value and the
/// allowed range, like the config's errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bots.{field} = {value}: {allowed}")]
pub struct RulesError {
    pub field: &'static str,
    pub value: String,
    pub allowed: String,
}

impl BotRules {
    /// Checks every field and returns the rules unchanged when they are all in range.
    pub fn new(rules: BotRules) -> Result<BotRules, RulesError> {
        fn range<T: PartialOrd + std::fmt::Display>(
            field: &'static str,
            value: T,
            lo: T,
            hi: T,
        ) -> Result<(), RulesError> {
            if value < lo || value > hi {
                return Err(RulesError {
                    field,
                    value: value.to_string(),
                    allowed: format!("must be {lo}..={hi}"),
                });
            }
            Ok(())
        }
        range(
            "early_after_send_secs",
            rules.early_after_send_secs,
            0,
            3_600,
        )?;
        range("burst_distinct_links", rules.burst_distinct_links, 2, 50)?;
        range("burst_window_ms", rules.burst_window_ms, 200, 60_000)?;
        range("settle_ms", rules.settle_ms, 0, 30_000)?;
        range("burst_max_keys", rules.burst_max_keys, 1, 10_000_000)?;
        range(
            "burst_max_hits_per_key",
            rules.burst_max_hits_per_key,
            rules.burst_distinct_links as usize,
            4_096,
        )?;
        if rules.early_alone == Verdict::Scanner {
            return Err(RulesError {
                field: "early_alone",
                value: rules.early_alone.to_string(),
                allowed: "must be human or suspected: an early click alone never makes a scanner"
                    .into(),
            });
        }
        if rules.probable_and_early < rules.probable_alone.max(rules.early_alone) {
            return Err(RulesError {
                field: "probable_and_early",
                value: rules.probable_and_early.to_string(),
                allowed: format!(
                    "must be at least probable_alone ({}) and early_alone ({})",
                    rules.probable_alone, rules.early_alone
                ),
            });
        }
        Ok(rules)
    }

    /// The rules with `settle_ms` set from the config's `bots.settle_seconds`.
    pub fn with_settle_seconds(self, settle_seconds: u32) -> Result<BotRules, RulesError> {
        BotRules::new(BotRules {
            settle_ms: u64::from(settle_seconds) * 1_000,
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(BotRules::new(BotRules::default()), Ok(BotRules::default()));
        assert_eq!(
            BotRules::default()
                .with_settle_seconds(2)
                .unwrap()
                .settle_ms,
            2_000
        );
    }

    #[test]
    fn out_of_range_values_name_field_value_and_range() {
        let e = BotRules::new(BotRules {
            burst_distinct_links: 1,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bots.burst_distinct_links = 1: must be 2..=50"
        );
        let e = BotRules::new(BotRules {
            early_after_send_secs: 7_200,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bots.early_after_send_secs = 7200: must be 0..=3600"
        );
        let e = BotRules::default().with_settle_seconds(31).unwrap_err();
        assert_eq!(e.field, "settle_ms");
        let e = BotRules::new(BotRules {
            burst_max_hits_per_key: 2,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bots.burst_max_hits_per_key = 2: must be 3..=4096"
        );
    }

    #[test]
    fn early_alone_can_never_be_scanner() {
        let e = BotRules::new(BotRules {
            early_alone: Verdict::Scanner,
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("bots.early_alone = scanner: must be human or suspected")
        );
        assert!(
            BotRules::new(BotRules {
                early_alone: Verdict::Human,
                ..Default::default()
            })
            .is_ok()
        );
    }

    #[test]
    fn combined_policy_is_not_weaker_than_its_parts() {
        let e = BotRules::new(BotRules {
            probable_alone: Verdict::Scanner,
            probable_and_early: Verdict::Suspected,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "probable_and_early");
    }
}
