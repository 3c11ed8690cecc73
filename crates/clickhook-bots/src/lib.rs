//! Bots and link scanners never steal a human's click.
//!
//! Mail-security services (Microsoft Safe Links, Barracuda, Proofpoint, Mimecast, Cisco) open
//! every link of a message seconds after delivery; chat apps fetch link previews; scripts
//! and crawlers fetch links too. If such a hit is taken for a click it takes the uniqueness
//! mark for (message, recipient, link), and the reader's real click later counts as a repeat.
//! This crate decides, for every hit, a [`Verdict`] (`human`, `suspected` or `scanner`) with the
//! [`Reason`]s behind it, so the click processor can keep scanner hits away from the mark.
//!
//! It does no I/O: no files, no clock, no network. Callers pass text and times in.
//!
//! # How a processor uses it
//!
//! 1. The link host calls [`not_a_click`] with the method and headers: HEAD/OPTIONS and
//!    prefetch/preview requests are redirected but never recorded as hits.
//! 2. For each hit, the processor builds [`HitFacts`] and calls [`Classifier::assess`], which
//!    looks at the request, the user agent, the source network (CIDR list and ASN) and the
//!    seconds since the message's SentAt. The result is an [`Assessment`].
//! 3. It feeds every hit to one shared [`BurstTracker`] (key: message, [`network_key`] of the
//!    address). When the hit completes a burst (several distinct links of one message from one
//!    /24 or /48 within a few seconds), the hit and the earlier hits of the burst that the
//!    tracker names are marked with [`Assessment::mark_burst`].
//! 4. If [`Assessment::needs_settle`] is true (an early or probable-scanner-network hit that a
//!    burst could still relabel), the processor holds the hit [`BotRules::settle_ms`] before
//!    deciding it; any other hit is decided at once.
//! 5. The final `(Verdict, Vec<Reason>)` comes from [`Assessment::verdict`] and
//!    [`Assessment::reasons`]; [`Assessment::label`] gives the JSON `Bot` object.
//!
//! [`Pipeline`] does steps 2 to 5 for a stream of hits in receive-time order (pure: the
//! caller passes each hit's time and asks for due releases); the tests and the
//! `mixed_trace` example run every hit through it.
//!
//! # Verdicts
//!
//! - `scanner`: at least one *decisive* reason (a non-GET or prefetch request, a missing user
//!   agent, an HTTP library, a headless browser, a crawler, a link previewer, a security
//!   scanner's own user agent, a `certain` scanner network, a burst), or a probable scanner
//!   network together with an early click.
//! - `suspected`: only weak reasons (an early click alone, a probable scanner network or ASN
//!   alone), with the policy in [`BotRules`]. A suspected hit is still a click.
//! - `human`: no reason at all (or weak reasons that the policy maps to human).
//!
//! HEAD, OPTIONS and prefetches are a separate outcome at the link host ([`not_a_click`]);
//! if such a hit ever reaches the classifier (an older spool, a caller that records them),
//! it is a `scanner` with reason `head_request` or `prefetch_header`, so it can never take a
//! human's mark.

mod agent;
mod burst;
mod classify;
mod networks;
mod pipeline;
mod request;
mod rules;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use agent::{UA_SCAN_LIMIT, user_agent_reason};
pub use burst::{BurstHit, BurstObservation, BurstTracker};
pub use classify::{Assessment, Classifier, HitFacts};
pub use networks::BUILTIN_TEXT;
pub use networks::{
    Certainty, ListError, MatchedBy, NetworkMatch, ScannerNetwork, ScannerNetworks,
};
pub use pipeline::{Decision, Pipeline, Step};
pub use request::not_a_click;
pub use rules::{BotRules, RulesError};

/// What a hit is taken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A person clicked.
    Human,
    /// Some sign of automation, not enough to say so; still counted as a click.
    Suspected,
    /// A scanner, previewer, crawler or script; never a human's click.
    Scanner,
}

impl Verdict {
    /// The stable lower-case name used in JSON, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Human => "human",
            Verdict::Suspected => "suspected",
            Verdict::Scanner => "scanner",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a hit got its verdict. The snake_case names are stable: they appear in the Click
/// webhook's `Bot.Reasons`, in logs and in metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// HEAD, OPTIONS or any other method than GET: a probe, not a navigation.
    HeadRequest,
    /// `Purpose`, `Sec-Purpose`, `X-Purpose` or `X-Moz` says prefetch, preview or prerender.
    PrefetchHeader,
    /// No user agent, or an empty one.
    MissingUserAgent,
    /// An HTTP library or command-line tool (curl, python-requests, Go-http-client, ...).
    HttpLibrary,
    /// A headless or automated browser (HeadlessChrome, PhantomJS, Puppeteer, Playwright, ...).
    HeadlessBrowser,
    /// A crawler: woothee's `crawler` category, a known crawler token, or a `+http` bot URL.
    Crawler,
    /// A chat or social app fetching a link preview (Slackbot-LinkExpanding, Twitterbot, ...).
    LinkPreview,
    /// A mail or web security scanner naming itself (Google-Safety, BingPreview, Barracuda, ...).
    SecurityScanner,
    /// The address is in a `certain` scanner network.
    ScannerNetworkCertain,
    /// The address is in a `probable` scanner network.
    ScannerNetworkProbable,
    /// The address's ASN belongs to a listed scanner network.
    ScannerAsn,
    /// The hit came within [`BotRules::early_after_send_secs`] of the message's SentAt.
    EarlyAfterSend,
    /// Several distinct links of the message were hit within seconds from one network.
    Burst,
}

impl Reason {
    /// Every reason, in their stable order.
    pub const ALL: [Reason; 13] = [
        Reason::HeadRequest,
        Reason::PrefetchHeader,
        Reason::MissingUserAgent,
        Reason::HttpLibrary,
        Reason::HeadlessBrowser,
        Reason::Crawler,
        Reason::LinkPreview,
        Reason::SecurityScanner,
        Reason::ScannerNetworkCertain,
        Reason::ScannerNetworkProbable,
        Reason::ScannerAsn,
        Reason::EarlyAfterSend,
        Reason::Burst,
    ];

    /// The stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::HeadRequest => "head_request",
            Reason::PrefetchHeader => "prefetch_header",
            Reason::MissingUserAgent => "missing_user_agent",
            Reason::HttpLibrary => "http_library",
            Reason::HeadlessBrowser => "headless_browser",
            Reason::Crawler => "crawler",
            Reason::LinkPreview => "link_preview",
            Reason::SecurityScanner => "security_scanner",
            Reason::ScannerNetworkCertain => "scanner_network_certain",
            Reason::ScannerNetworkProbable => "scanner_network_probable",
            Reason::ScannerAsn => "scanner_asn",
            Reason::EarlyAfterSend => "early_after_send",
            Reason::Burst => "burst",
        }
    }

    /// True for reasons that make a hit a scanner on their own.
    pub fn is_decisive(self) -> bool {
        !matches!(
            self,
            Reason::ScannerNetworkProbable | Reason::ScannerAsn | Reason::EarlyAfterSend
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `Bot` object added to a Click payload when `bots.label` is on:
/// `{"Verdict": "scanner", "Reasons": ["scanner_network_certain", "burst"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BotLabel {
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
}

/// Zeroes the host part of an address for storage and webhooks (`privacy.anonymize_ip`):
/// the last octet of IPv4 (a /24 is left) and the last 80 bits of IPv6 (a /48 is left).
/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) keeps its form and loses its last octet,
/// as the IPv4 address would.
pub fn anonymize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(anonymize_v4(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V6(anonymize_v4(v4).to_ipv6_mapped()),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 80) - 1))),
        },
    }
}

fn anonymize_v4(v4: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from_bits(v4.to_bits() & 0xFFFF_FF00)
}

/// The network a hit comes from, for burst detection: the /24 of an IPv4 address, the /48 of
/// an IPv6 one (an IPv4-mapped IPv6 address counts as its IPv4 address).
pub fn network_key(ip: IpAddr) -> IpNet {
    let (ip, len) = match ip.to_canonical() {
        v4 @ IpAddr::V4(_) => (v4, 24),
        v6 @ IpAddr::V6(_) => (v6, 48),
    };
    // Both prefix lengths are valid for their family, so this cannot fail.
    IpNet::new(ip, len)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reason_codes_are_stable_and_serde_agrees() {
        for r in Reason::ALL {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(r.to_string(), r.as_str());
        }
        let codes: Vec<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert!(codes.contains(&"scanner_network_certain"));
        assert!(codes.contains(&"early_after_send"));
    }

    #[test]
    fn bot_label_serializes_with_pascal_case_fields() {
        let label = BotLabel {
            verdict: Verdict::Scanner,
            reasons: vec![Reason::ScannerNetworkCertain, Reason::Burst],
        };
        assert_eq!(
            serde_json::to_string(&label).unwrap(),
            r#"{"Verdict":"scanner","Reasons":["scanner_network_certain","burst"]}"#
        );
        let back: BotLabel = serde_json::from_str(r#"{"Verdict":"human","Reasons":[]}"#).unwrap();
        assert_eq!(back.verdict, Verdict::Human);
    }

    #[test]
    fn anonymize_examples() {
        let a = |s: &str| anonymize_ip(s.parse().unwrap()).to_string();
        assert_eq!(a("203.0.113.77"), "203.0.113.0");
        assert_eq!(
            a("2001:db8:1234:5678:9abc:def0:1234:5678"),
            "2001:db8:1234::"
        );
        assert_eq!(a("::ffff:203.0.113.77"), "::ffff:203.0.113.0");
    }

    #[test]
    fn network_key_examples() {
        let k = |s: &str| network_key(s.parse().unwrap()).to_string();
        assert_eq!(k("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(k("2001:db8:1234:5678::1"), "2001:db8:1234::/48");
        assert_eq!(k("::ffff:203.0.113.77"), "203.0.113.0/24");
    }

    proptest! {
        #[test]
        fn anonymized_v4_keeps_the_24_and_is_idempotent(bits in any::<u32>()) {
            let ip = IpAddr::V4(Ipv4Addr::from_bits(bits));
            let an = anonymize_ip(ip);
            let IpAddr::V4(v4) = an else { panic!("family changed") };
            prop_assert_eq!(v4.to_bits(), bits & 0xFFFF_FF00);
            prop_assert_eq!(anonymize_ip(an), an);
            prop_assert!(network_key(ip).contains(&an));
        }

        #[test]
        fn anonymized_v6_keeps_the_48_and_is_idempotent(bits in any::<u128>()) {
            let v6 = Ipv6Addr::from_bits(bits);
            prop_assume!(v6.to_ipv4_mapped().is_none());
            let an = anonymize_ip(IpAddr::V6(v6));
            let IpAddr::V6(out) = an else { panic!("family changed") };
            prop_assert_eq!(out.to_bits() >> 80, bits >> 80);
            prop_assert_eq!(out.to_bits() & ((1u128 << 80) - 1), 0);
            prop_assert_eq!(anonymize_ip(an), an);
            prop_assert!(network_key(IpAddr::V6(v6)).contains(&an));
        }
    }
}
