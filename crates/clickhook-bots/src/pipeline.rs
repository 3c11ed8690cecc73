//! The whole decision for a stream of hits: classify, track bursts, hold what may still be
//! relabelled, release. Pure (times come in), so a processor can use it as it is or copy its
//! steps; the tests and the `mixed_trace` example drive it the way a processor would.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use crate::{
    Assessment, BurstHit, BurstTracker, Classifier, HitFacts, Reason, Verdict, network_key,
};

/// The final word on one hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<H> {
    pub hit: H,
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    /// How long the hit was held for the settle window (0 when decided at once).
    pub held_ms: i64,
}

/// What one call gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<H> {
    /// Hits decided now: held hits whose settle window ended, then this hit if it is not held.
    pub decided: Vec<Decision<H>>,
    /// Earlier hits a burst would relabel but that were already decided (not held): the
    /// processor can only count them.
    pub relabelled_too_late: Vec<H>,
}

impl<H> Default for Step<H> {
    fn default() -> Self {
        Step {
            decided: Vec::new(),
            relabelled_too_late: Vec::new(),
        }
    }
}

struct Held {
    assessment: Assessment,
    at_ms: i64,
    release_ms: i64,
}

/// Classifier + burst tracker + settle holding, for hits fed in receive-time order.
pub struct Pipeline<H> {
    classifier: Classifier,
    tracker: BurstTracker<H>,
    held: HashMap<H, Held>,
    /// (release time, sequence) -> hit, so release order is stable.
    due: BTreeMap<(i64, u64), H>,
    seq: u64,
}

impl<H: Clone + Eq + Hash> Pipeline<H> {
    pub fn new(classifier: Classifier) -> Self {
        let tracker = BurstTracker::new(classifier.rules());
        Pipeline {
            classifier,
            tracker,
            held: HashMap::new(),
            due: BTreeMap::new(),
            seq: 0,
        }
    }

    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// Hits held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// When the next held hit is due, if any.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.due.keys().next().map(|(t, _)| *t)
    }

    /// Releases the held hits due at or before `now_ms`.
    pub fn release_due(&mut self, now_ms: i64) -> Vec<Decision<H>> {
        let mut out = Vec::new();
        while let Some((&(t, seq), _)) = self.due.first_key_value() {
            if t > now_ms {
                break;
            }
            if let Some(id) = self.due.remove(&(t, seq))
                && let Some(h) = self.held.remove(&id)
            {
                let (verdict, reasons) = h.assessment.into_parts();
                out.push(Decision {
                    hit: id,
                    verdict,
                    reasons,
                    held_ms: h.release_ms - h.at_ms,
                });
            }
        }
        self.tracker.expire(now_ms);
        out
    }

    /// Takes one hit received at `at_ms` (hits must come in receive-time order).
    pub fn hit(
        &mut self,
        id: H,
        facts: &HitFacts<'_>,
        message: &str,
        link: &str,
        at_ms: i64,
    ) -> Step<H> {
        let mut step = Step {
            decided: self.release_due(at_ms),
            ..Step::default()
        };
        let mut assessment = self.classifier.assess(facts);
        let seen = self.tracker.observe(BurstHit {
            message,
            network: network_key(facts.ip),
            link,
            hit: id.clone(),
            at_ms,
        });
        if seen.in_burst {
            assessment.mark_burst();
        }
        for earlier in seen.relabel {
            match self.held.get_mut(&earlier) {
                Some(h) => h.assessment.mark_burst(),
                None => step.relabelled_too_late.push(earlier),
            }
        }
        let settle = i64::try_from(self.classifier.rules().settle_ms).unwrap_or(i64::MAX);
        if assessment.needs_settle() && settle > 0 {
            let release_ms = at_ms.saturating_add(settle);
            self.seq += 1;
            self.due.insert((release_ms, self.seq), id.clone());
            self.held.insert(
                id,
                Held {
                    assessment,
                    at_ms,
                    release_ms,
                },
            );
        } else {
            let (verdict, reasons) = assessment.into_parts();
            step.decided.push(Decision {
                hit: id,
                verdict,
                reasons,
                held_ms: 0,
            });
        }
        step
    }

    /// Releases everything still held (at shutdown, or the end of a trace).
    pub fn flush(&mut self) -> Vec<Decision<H>> {
        self.release_due(i64::MAX)
    }
}
