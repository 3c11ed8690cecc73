//! One hit's facts in, a verdict with reasons out.

use std::net::IpAddr;

use crate::agent::user_agent_reason;
use crate::networks::{Certainty, MatchedBy, ScannerNetworks};
use crate::request::not_a_click;
use crate::{BotLabel, BotRules, Reason, Verdict};

/// What the processor knows about a hit. Nothing here is looked up by this crate: the caller
/// passes the ASN (from a MaxMind ASN database, when configured), woothee's category for the
/// user agent and the seconds since SentAt (from the signed token and the hit's receive time).
#[derive(Debug, Clone, Copy)]
pub struct HitFacts<'a> {
    /// The request method ("GET" for a hit the link host recorded).
    pub method: &'a str,
    /// Request headers the link host kept (only `Purpose`, `Sec-Purpose`, `X-Purpose` and
    /// `X-Moz` matter here); empty when it kept none.
    pub headers: &'a [(&'a str, &'a str)],
    /// The user agent, as received (the caller caps its length).
    pub user_agent: Option<&'a str>,
    /// woothee's category for the user agent ("pc", "smartphone", "crawler", ...), if known.
    pub woothee_category: Option<&'a str>,
    /// The client address (after `proxy.trusted` handling).
    pub ip: IpAddr,
    /// The address's autonomous system number, if the caller looked it up.
    pub asn: Option<u32>,
    /// Seconds from the message's SentAt to the hit's receipt; negative when the hit came
    /// "before" SentAt (clock skew, or a SentAt in the future), which counts as early.
    /// `None` when unknown: the early rule does not apply.
    pub secs_since_sent: Option<i64>,
}

impl<'a> HitFacts<'a> {
    /// A GET with no purpose headers, no woothee category and no ASN.
    pub fn get(ip: IpAddr, user_agent: Option<&'a str>, secs_since_sent: i64) -> Self {
        HitFacts {
            method: "GET",
            headers: &[],
            user_agent,
            woothee_category: None,
            ip,
            asn: None,
            secs_since_sent: Some(secs_since_sent),
        }
    }
}

/// The policy part of [`BotRules`] an assessment needs to re-decide after a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Policy {
    early_alone: Verdict,
    probable_alone: Verdict,
    probable_and_early: Verdict,
}

/// The verdict on one hit and its reasons; it may still change when a burst is found
/// ([`Assessment::mark_burst`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    verdict: Verdict,
    /// Sorted in [`Reason::ALL`] order, no duplicates.
    reasons: Vec<Reason>,
    network: Option<String>,
    policy: Policy,
}

impl Assessment {
    fn new(mut reasons: Vec<Reason>, network: Option<String>, policy: Policy) -> Self {
        reasons.sort();
        reasons.dedup();
        let verdict = decide(&reasons, policy);
        Assessment {
            verdict,
            reasons,
            network,
            policy,
        }
    }

    /// The verdict as things stand.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Why, in stable order.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// True when `reason` is among the reasons.
    pub fn has(&self, reason: Reason) -> bool {
        self.reasons.binary_search(&reason).is_ok()
    }

    /// The name of the scanner network entry that matched, for logs.
    pub fn network(&self) -> Option<&str> {
        self.network.as_deref()
    }

    /// The hit is part of a burst: add [`Reason::Burst`]; the verdict becomes `scanner`.
    pub fn mark_burst(&mut self) {
        if !self.has(Reason::Burst) {
            self.reasons.push(Reason::Burst);
            self.reasons.sort();
            self.verdict = decide(&self.reasons, self.policy);
        }
    }

    /// True when a burst could still relabel this hit and it is not a scanner already: it
    /// came early after SentAt, or from a probable scanner network or ASN. The processor
    /// holds such a hit [`BotRules::settle_ms`] before deciding it; every other hit is
    /// decided at once, so ordinary human clicks are never held.
    pub fn needs_settle(&self) -> bool {
        self.verdict != Verdict::Scanner
            && (self.has(Reason::EarlyAfterSend)
                || self.has(Reason::ScannerNetworkProbable)
                || self.has(Reason::ScannerAsn))
    }

    /// The `Bot` object for the Click payload.
    pub fn label(&self) -> BotLabel {
        BotLabel {
            verdict: self.verdict,
            reasons: self.reasons.clone(),
        }
    }

    /// `(verdict, reasons)`.
    pub fn into_parts(self) -> (Verdict, Vec<Reason>) {
        (self.verdict, self.reasons)
    }
}

fn decide(reasons: &[Reason], policy: Policy) -> Verdict {
    if reasons.iter().any(|r| r.is_decisive()) {
        return Verdict::Scanner;
    }
    let probable = reasons
        .iter()
        .any(|r| matches!(r, Reason::ScannerNetworkProbable | Reason::ScannerAsn));
    let early = reasons.contains(&Reason::EarlyAfterSend);
    match (probable, early) {
        (true, true) => policy.probable_and_early,
        (true, false) => policy.probable_alone,
        (false, true) => policy.early_alone,
        (false, false) => Verdict::Human,
    }
}

/// The per-hit rules: request, user agent, network, time since SentAt.
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: BotRules,
    networks: ScannerNetworks,
}

impl Classifier {
    /// A classifier with checked rules and a parsed network list.
    pub fn new(rules: BotRules, networks: ScannerNetworks) -> Self {
        Classifier { rules, networks }
    }

    pub fn rules(&self) -> &BotRules {
        &self.rules
    }

    pub fn networks(&self) -> &ScannerNetworks {
        &self.networks
    }

    /// Assesses one hit on its own facts (no burst yet).
    pub fn assess(&self, hit: &HitFacts<'_>) -> Assessment {
        let mut reasons = Vec::with_capacity(4);
        if let Some(r) = not_a_click(hit.method, hit.headers.iter().copied()) {
            reasons.push(r);
        }
        if let Some(r) = user_agent_reason(hit.user_agent, hit.woothee_category) {
            reasons.push(r);
        }
        let mut network = None;
        if let Some(m) = self.networks.lookup(hit.ip, hit.asn) {
            reasons.push(match (m.by, m.certainty()) {
                (MatchedBy::Asn(_), _) => Reason::ScannerAsn,
                (MatchedBy::Cidr(_), Certainty::Certain) => Reason::ScannerNetworkCertain,
                (MatchedBy::Cidr(_), Certainty::Probable) => Reason::ScannerNetworkProbable,
            });
            network = Some(m.network.name.clone());
        }
        if let Some(secs) = hit.secs_since_sent
            && self.rules.early_after_send_secs > 0
            && secs < i64::from(self.rules.early_after_send_secs)
        {
            reasons.push(Reason::EarlyAfterSend);
        }
        Assessment::new(
            reasons,
            network,
            Policy {
                early_alone: self.rules.early_alone,
                probable_alone: self.rules.probable_alone,
                probable_and_early: self.rules.probable_and_early,
            },
        )
    }

    /// `(verdict, reasons)` of one hit on its own facts.
    pub fn classify(&self, hit: &HitFacts<'_>) -> (Verdict, Vec<Reason>) {
        self.assess(hit).into_parts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const HOME: &str = "73.15.2.9";
    const EOP: &str = "40.107.22.5";
    const PROOFPOINT: &str = "148.163.150.3";

    fn c() -> Classifier {
        Classifier::new(BotRules::default(), ScannerNetworks::builtin())
    }

    fn hit(ip: &str, ua: Option<&'static str>, secs: i64) -> HitFacts<'static> {
        HitFacts::get(ip.parse().unwrap(), ua, secs)
    }

    #[test]
    fn a_browser_from_home_an_hour_later_is_human() {
        assert_eq!(
            c().classify(&hit(HOME, Some(CHROME), 3_600)),
            (Verdict::Human, vec![])
        );
    }

    #[test]
    fn early_alone_is_suspected_never_scanner() {
        let a = c().assess(&hit(HOME, Some(CHROME), 5));
        assert_eq!(a.verdict(), Verdict::Suspected);
        assert_eq!(a.reasons(), [Reason::EarlyAfterSend]);
        assert!(a.needs_settle());
        // Negative (clock skew) counts as early; unknown does not.
        assert!(
            c().assess(&hit(HOME, Some(CHROME), -3))
                .has(Reason::EarlyAfterSend)
        );
        let unknown = HitFacts {
            secs_since_sent: None,
            ..hit(HOME, Some(CHROME), 0)
        };
        assert_eq!(c().assess(&unknown).verdict(), Verdict::Human);
        // The boundary: 60 s is no longer early.
        assert_eq!(
            c().assess(&hit(HOME, Some(CHROME), 60)).verdict(),
            Verdict::Human
        );
        assert_eq!(
            c().assess(&hit(HOME, Some(CHROME), 59)).verdict(),
            Verdict::Suspected
        );
    }

    #[test]
    fn early_alone_policy_human() {
        let rules = BotRules::new(BotRules {
            early_alone: Verdict::Human,
            ..Default::default()
        })
        .unwrap();
        let a =
            Classifier::new(rules, ScannerNetworks::builtin()).assess(&hit(HOME, Some(CHROME), 5));
        assert_eq!(a.verdict(), Verdict::Human);
        assert_eq!(a.reasons(), [Reason::EarlyAfterSend]);
        assert!(a.needs_settle(), "still held: a burst may relabel it");
    }

    #[test]
    fn certain_network_is_scanner_at_any_time() {
        for secs in [1, 600, 86_400] {
            let a = c().assess(&hit(EOP, Some(CHROME), secs));
            assert_eq!(a.verdict(), Verdict::Scanner);
            assert!(a.has(Reason::ScannerNetworkCertain));
            assert_eq!(a.network(), Some("microsoft-eop"));
            assert!(!a.needs_settle());
        }
    }

    #[test]
    fn probable_network_alone_is_suspected_and_early_makes_it_scanner() {
        let late = c().assess(&hit(PROOFPOINT, Some(CHROME), 3_600));
        assert_eq!(late.verdict(), Verdict::Suspected);
        assert_eq!(late.reasons(), [Reason::ScannerNetworkProbable]);
        assert!(late.needs_settle());
        let early = c().assess(&hit(PROOFPOINT, Some(CHROME), 4));
        assert_eq!(early.verdict(), Verdict::Scanner);
        assert_eq!(
            early.reasons(),
            [Reason::ScannerNetworkProbable, Reason::EarlyAfterSend]
        );
    }

    #[test]
    fn asn_counts_as_probable() {
        let facts = HitFacts {
            asn: Some(16417),
            ..hit("192.0.2.50", Some(CHROME), 3_600)
        };
        let a = c().assess(&facts);
        assert_eq!(a.verdict(), Verdict::Suspected);
        assert_eq!(a.reasons(), [Reason::ScannerAsn]);
        assert_eq!(a.network(), Some("cisco-secure-email"));
    }

    #[test]
    fn requests_that_are_not_clicks_are_scanners() {
        let head = HitFacts {
            method: "HEAD",
            ..hit(HOME, Some(CHROME), 3_600)
        };
        assert_eq!(
            c().classify(&head),
            (Verdict::Scanner, vec![Reason::HeadRequest])
        );
        let headers = [("Sec-Purpose", "prefetch")];
        let pre = HitFacts {
            headers: &headers,
            ..hit(HOME, Some(CHROME), 3_600)
        };
        assert_eq!(
            c().classify(&pre),
            (Verdict::Scanner, vec![Reason::PrefetchHeader])
        );
    }

    #[test]
    fn burst_makes_scanner_and_is_idempotent() {
        let mut a = c().assess(&hit(HOME, Some(CHROME), 2));
        a.mark_burst();
        a.mark_burst();
        assert_eq!(a.verdict(), Verdict::Scanner);
        assert_eq!(a.reasons(), [Reason::EarlyAfterSend, Reason::Burst]);
        assert!(!a.needs_settle());
        assert_eq!(
            serde_json::to_value(a.label()).unwrap(),
            serde_json::json!({"Verdict": "scanner", "Reasons": ["early_after_send", "burst"]})
        );
    }

    proptest! {
        /// Whatever the facts: a decisive reason means scanner; no reason means human; an
        /// early click with nothing else never means scanner; reasons are sorted and unique.
        #[test]
        fn verdict_follows_reasons(
            ua_pick in 0usize..6,
            ip_pick in 0usize..3,
            secs in -100i64..200_000,
            asn in proptest::option::of(prop_oneof![Just(16417u32), Just(7922u32)]),
            head in proptest::bool::ANY,
        ) {
            let uas = [Some(CHROME), None, Some("curl/8.0"), Some("Twitterbot/1.0"), Some("HeadlessChrome/1"), Some("Mozilla/5.0 (iPhone) AppleWebKit/605 Mobile")];
            let ips = [HOME, EOP, PROOFPOINT];
            let facts = HitFacts { method: if head { "HEAD" } else { "GET" }, asn, ..hit(ips[ip_pick], uas[ua_pick], secs) };
            let (verdict, reasons) = c().classify(&facts);
            let mut sorted = reasons.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(&sorted, &reasons);
            if reasons.iter().any(|r| r.is_decisive()) {
                prop_assert_eq!(verdict, Verdict::Scanner);
            }
            if reasons.is_empty() {
                prop_assert_eq!(verdict, Verdict::Human);
            }
            if reasons == [Reason::EarlyAfterSend] {
                prop_assert_ne!(verdict, Verdict::Scanner);
            }
        }
    }
}
