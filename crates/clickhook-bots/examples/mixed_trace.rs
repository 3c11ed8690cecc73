//! A realistic mixed trace of humans and scanners, run through the bot rules exactly as the
//! click processor would, with a confusion table at the end.
//!
//! ```text
//! cargo run -p clickhook-bots --example mixed_trace [-- SEED]
//! ```
//!
//! # The trace (synthetic, seeded: the same seed gives the same trace and the same numbers)
//!
//! **Messages.** 4 campaigns of 1 000 messages, each campaign sent over 10 minutes, with
//! 1 to 8 tracked links (mostly 3 to 5). 65 % of recipients are consumers, 35 % work at one of
//! 150 companies; each company has an office /24 that its employees share and one mail
//! gateway: Microsoft 365 with Safe Links (45 %), Barracuda (12 %), Proofpoint (15 %),
//! Mimecast (12 %), Cisco Secure Email (8 %), or a scanning gateway that runs in a cloud
//! network *not* in the list (8 %).
//!
//! **Scanners at delivery** (truth: scanner). Delivery is 0.5-4 s after SentAt (88 %),
//! 5-60 s (10 %) or 1-5 min (2 %, greylisting). Safe Links, Barracuda, Mimecast and the
//! unlisted gateway open every link of every message; Proofpoint sandboxes 60 % of messages
//! and re-scans 15 % of those 5-30 min later (TAP); Cisco opens the links of 70 %. All of them
//! send a desktop browser user agent, from one /24 of their network per scan, 100-600 ms
//! between links. 15 % of the unlisted gateway's scans happen at first open, 2-10 min after
//! SentAt, instead of at delivery. For 30 % of the Safe Links recipients' clicks, Safe Links
//! checks the link again from Exchange Online 0.3-1.5 s before the reader's browser arrives.
//!
//! **Other automation** (truth: scanner). 3 % of messages are pasted into a chat: one link is
//! previewed (Slackbot-LinkExpanding, facebookexternalhit, Twitterbot, WhatsApp, Discordbot,
//! SkypeUriPreview, LinkedInBot) minutes to days later from the service's cloud, half of them
//! after a HEAD. 1 % of messages have one link fetched by a script (curl, python-requests,
//! Go-http-client, Wget, okhttp) and 0.5 % by a search crawler (Googlebot) days later. 2 % of
//! human clicks are preceded by the browser's own speculative prefetch (`Sec-Purpose:
//! prefetch`) of the same link.
//!
//! **Humans** (truth: human). 25 % of consumers and 20 % of employees click. The first click
//! comes 15-120 s after SentAt for 10 % of clickers (the notification crowd: part of them
//! inside the 60 s early window), log-normally around 40 min for 55 % (2 min to 2 days), and
//! 3 h to 7 days for 35 %. 72 % click one link, 20 % two, 8 % three, each next link 1-20 min
//! after the previous one; 8 % click a link again later. Devices: desktop browsers (Chrome,
//! Edge, Firefox, Safari; 45 %), phones (iPhone Safari, Android Chrome, Samsung Internet;
//! 40 %), mail apps (Outlook desktop, Gmail app; 15 %). Consumers click from their household's
//! network: 2 500 residential /24s and 1 000 IPv6 /48s shared by all consumers (so several
//! households share a /24), or, for 30 % of phone clicks, from a mobile carrier's CGNAT
//! (a dozen /24s shared by everyone). Employees click from their office /24 (70 %) or home.
//!
//! **Processing.** The link host drops what [`not_a_click`] names (HEAD, prefetch headers);
//! every other hit goes, in receive order, through [`Pipeline`]: classifier, burst tracker
//! and settle holding (default rules, `settle_seconds = 2`). No ASN database: `asn` is None.
//!
//! **Stolen clicks.** For each (message, link) that a human clicked, the uniqueness mark goes
//! to the first recorded hit that is not a `scanner` (`scanner_clicks = "none"`); the click is
//! stolen when that hit is not the human's. The same is counted with no bot rules at all
//! (every recorded hit is a click), for comparison.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use clickhook_bots::{
    BotRules, Classifier, HitFacts, Pipeline, Reason, ScannerNetworks, Verdict, not_a_click,
};

// ---------------------------------------------------------------------------------------
// A small seeded generator (SplitMix64), so the trace does not depend on any crate version.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn f64(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    /// Uniform in lo..=hi.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    /// Picks by weight.
    fn weighted<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.f64() * total;
        for (item, w) in items {
            if x < *w {
                return *item;
            }
            x -= w;
        }
        items[items.len() - 1].0
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.f64().max(1e-12);
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

// ---------------------------------------------------------------------------------------
// User agents.

const DESKTOP: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
];
const MOBILE: &[&str] = &[
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
];
const MAIL_APPS: &[&str] = &[
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 GSA/310.0 GmailApp",
];
const PREVIEWERS: &[&str] = &[
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "WhatsApp/2.24.8.78 A",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
];
const SCRIPTS: &[&str] = &[
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "Wget/1.21.4",
    "okhttp/4.12.0",
];
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

// ---------------------------------------------------------------------------------------
// Networks. Residential, office and cloud ranges are made up inside real operators' blocks
// that the scanner list does not contain; scanner ranges are inside the listed ones.

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn host_in_24(net: IpAddr, rng: &mut Rng) -> IpAddr {
    match net {
        IpAddr::V4(n) => {
            let o = n.octets();
            v4(o[0], o[1], o[2], rng.int(2, 254) as u8)
        }
        IpAddr::V6(n) => {
            let bits =
                n.to_bits() | u128::from(rng.next()) | (u128::from(rng.next() & 0xFFFF) << 64);
            IpAddr::V6(Ipv6Addr::from_bits(bits))
        }
    }
}

fn residential_pool(rng: &mut Rng) -> Vec<IpAddr> {
    let mut pool = Vec::new();
    for _ in 0..2_500 {
        let first = *rng.pick(&[73u8, 24, 98, 71, 86, 90, 84, 2, 109, 151]);
        pool.push(v4(first, rng.int(0, 255) as u8, rng.int(0, 255) as u8, 0));
    }
    for _ in 0..1_000 {
        let top: u128 = *rng.pick(&[0x2601u128, 0x2a01, 0x2003, 0x2a02]);
        let bits = (top << 112) | (u128::from(rng.next() & 0xFFFF_FFFF) << 80);
        pool.push(IpAddr::V6(Ipv6Addr::from_bits(bits)));
    }
    pool
}

fn cgnat_pool() -> Vec<IpAddr> {
    (0..12u8).map(|i| v4(172, 56, i * 3, 0)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Gateway {
    SafeLinks,
    Barracuda,
    Proofpoint,
    Mimecast,
    Cisco,
    Unlisted,
}

/// A /24 inside the gateway's network (listed ranges; for Unlisted, a cloud block).
fn gateway_net(g: Gateway, rng: &mut Rng) -> IpAddr {
    match g {
        Gateway::SafeLinks => match rng.int(0, 2) {
            0 => v4(40, 107, rng.int(0, 255) as u8, 0),
            1 => v4(52, rng.int(100, 103) as u8, rng.int(0, 255) as u8, 0),
            _ => v4(104, 47, rng.int(0, 127) as u8, 0),
        },
        Gateway::Barracuda => v4(209, 222, rng.int(80, 87) as u8, 0),
        Gateway::Proofpoint => {
            if rng.chance(0.7) {
                v4(148, 163, rng.int(128, 159) as u8, 0)
            } else {
                v4(67, 231, rng.int(144, 159) as u8, 0)
            }
        }
        Gateway::Mimecast => *rng.pick(&[
            v4(205, 139, 110, 0),
            v4(207, 211, 30, 0),
            v4(170, 10, 129, 0),
            v4(91, 220, 42, 0),
        ]),
        Gateway::Cisco => v4(68, 232, rng.int(128, 159) as u8, 0),
        Gateway::Unlisted => v4(34, rng.int(64, 127) as u8, rng.int(0, 255) as u8, 0),
    }
}

// ---------------------------------------------------------------------------------------
// The trace.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Consumer,
    Employee,
    Scan(Gateway),
    SafeLinksRecheck,
    ProofpointRescan,
    UnlistedAtOpen,
    Preview,
    PreviewHead,
    Script,
    Crawler,
    BrowserPrefetch,
}

impl Kind {
    fn is_human(self) -> bool {
        matches!(self, Kind::Consumer | Kind::Employee)
    }
    fn name(self) -> String {
        match self {
            Kind::Scan(g) => format!("scan at delivery: {g:?}"),
            Kind::ProofpointRescan => "Proofpoint re-scan (5-30 min)".into(),
            Kind::UnlistedAtOpen => "unlisted gateway, scan at open".into(),
            Kind::SafeLinksRecheck => "Safe Links check at click".into(),
            other => format!("{other:?}"),
        }
    }
}

struct TraceHit {
    kind: Kind,
    message: u32,
    link: u8,
    at_ms: i64,
    sent_ms: i64,
    ip: IpAddr,
    ua: &'static str,
    method: &'static str,
    prefetch: bool,
}

struct Company {
    office: IpAddr,
    gateway: Gateway,
}

fn build_trace(seed: u64) -> (Vec<TraceHit>, usize) {
    let mut rng = Rng(seed);
    let residential = residential_pool(&mut rng);
    let cgnat = cgnat_pool();
    let companies: Vec<Company> = (0..150)
        .map(|_| Company {
            office: v4(
                *rng.pick(&[12u8, 38, 162, 199]),
                rng.int(0, 255) as u8,
                rng.int(0, 255) as u8,
                0,
            ),
            gateway: rng.weighted(&[
                (Gateway::SafeLinks, 45.0),
                (Gateway::Barracuda, 12.0),
                (Gateway::Proofpoint, 15.0),
                (Gateway::Mimecast, 12.0),
                (Gateway::Cisco, 8.0),
                (Gateway::Unlisted, 8.0),
            ]),
        })
        .collect();

    let mut hits = Vec::new();
    let messages = 4_000u32;
    for m in 0..messages {
        let campaign = i64::from(m / 1_000);
        let sent = campaign * 2 * DAY + rng.int(0, 10 * MIN);
        let links = rng.weighted(&[
            (1u8, 10.0),
            (2, 15.0),
            (3, 20.0),
            (4, 20.0),
            (5, 15.0),
            (6, 10.0),
            (8, 10.0),
        ]);
        let employee = rng.chance(0.35);
        let company = if employee {
            Some(&companies[rng.int(0, 149) as usize])
        } else {
            None
        };
        let household = *rng.pick(&residential);
        let mut push = |kind, link, at_ms, ip, ua, method, prefetch| {
            hits.push(TraceHit {
                kind,
                message: m,
                link,
                at_ms,
                sent_ms: sent,
                ip,
                ua,
                method,
                prefetch,
            });
        };

        // Scanners at delivery.
        let delivery = sent
            + rng
                .weighted(&[(0u8, 88.0), (1, 10.0), (2, 2.0)])
                .pipe(|b| match b {
                    0 => rng.int(500, 4_000),
                    1 => rng.int(5 * SEC, 60 * SEC),
                    _ => rng.int(MIN, 5 * MIN),
                });
        if let Some(c) = company {
            let g = c.gateway;
            let scans = match g {
                Gateway::Proofpoint => rng.chance(0.6),
                Gateway::Cisco => rng.chance(0.7),
                _ => true,
            };
            if scans {
                let at_open = g == Gateway::Unlisted && rng.chance(0.15);
                let (kind, mut t) = if at_open {
                    (Kind::UnlistedAtOpen, sent + rng.int(2 * MIN, 10 * MIN))
                } else {
                    (Kind::Scan(g), delivery + rng.int(300, 3_000))
                };
                let net = gateway_net(g, &mut rng);
                let ua = *rng.pick(&DESKTOP[..2]);
                for l in 0..links {
                    push(kind, l, t, host_in_24(net, &mut rng), ua, "GET", false);
                    t += rng.int(100, 600);
                }
                if g == Gateway::Proofpoint && rng.chance(0.15) {
                    let mut t = delivery + rng.int(5 * MIN, 30 * MIN);
                    let net = gateway_net(g, &mut rng);
                    for l in 0..links {
                        push(
                            Kind::ProofpointRescan,
                            l,
                            t,
                            host_in_24(net, &mut rng),
                            ua,
                            "GET",
                            false,
                        );
                        t += rng.int(100, 600);
                    }
                }
            }
        }

        // Chat previews, scripts, crawlers.
        if rng.chance(0.03) {
            let t = sent + rng.int(3 * MIN, 3 * DAY);
            let link = rng.int(0, i64::from(links) - 1) as u8;
            let ip = v4(
                *rng.pick(&[54u8, 31, 199, 157, 35, 52]),
                rng.int(0, 255) as u8,
                rng.int(0, 255) as u8,
                rng.int(1, 254) as u8,
            );
            let ua = *rng.pick(PREVIEWERS);
            if rng.chance(0.5) {
                push(Kind::PreviewHead, link, t - 200, ip, ua, "HEAD", false);
            }
            push(Kind::Preview, link, t, ip, ua, "GET", false);
        }
        if rng.chance(0.01) {
            let t = sent + rng.int(MIN, 2 * DAY);
            let ip = v4(
                *rng.pick(&[35u8, 18, 159, 167]),
                rng.int(0, 255) as u8,
                rng.int(0, 255) as u8,
                rng.int(1, 254) as u8,
            );
            push(
                Kind::Script,
                rng.int(0, i64::from(links) - 1) as u8,
                t,
                ip,
                *rng.pick(SCRIPTS),
                "GET",
                false,
            );
        }
        if rng.chance(0.005) {
            let t = sent + rng.int(DAY, 7 * DAY);
            let ip = v4(66, 249, rng.int(64, 95) as u8, rng.int(1, 254) as u8);
            push(
                Kind::Crawler,
                rng.int(0, i64::from(links) - 1) as u8,
                t,
                ip,
                GOOGLEBOT,
                "GET",
                false,
            );
        }

        // The reader.
        let clicks = if employee {
            rng.chance(0.20)
        } else {
            rng.chance(0.25)
        };
        if !clicks {
            continue;
        }
        let kind = if employee {
            Kind::Employee
        } else {
            Kind::Consumer
        };
        let first = match rng.weighted(&[(0u8, 10.0), (1, 55.0), (2, 35.0)]) {
            0 => rng.int(15 * SEC, 120 * SEC),
            1 => {
                let median = 40.0 * MIN as f64;
                ((median.ln() + 1.2 * rng.normal()).exp() as i64).clamp(2 * MIN, 2 * DAY)
            }
            _ => {
                let lo = (3.0 * HOUR as f64).ln();
                let hi = (7.0 * DAY as f64).ln();
                (lo + (hi - lo) * rng.f64()).exp() as i64
            }
        };
        let device = rng.weighted(&[(0u8, 45.0), (1, 40.0), (2, 15.0)]);
        let ua = match device {
            0 => *rng.pick(DESKTOP),
            1 => *rng.pick(MOBILE),
            _ => *rng.pick(MAIL_APPS),
        };
        let net = match company {
            Some(c) if rng.chance(0.7) => c.office,
            _ if device == 1 && rng.chance(0.3) => *rng.pick(&cgnat),
            _ => household,
        };
        let ip = host_in_24(net, &mut rng);
        let n_links = rng.weighted(&[(1u8, 72.0), (2, 20.0), (3, 8.0)]).min(links);
        let mut order: Vec<u8> = (0..links).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.int(0, i as i64) as usize);
        }
        let mut t = sent + first;
        let mut clicked = Vec::new();
        for &l in order.iter().take(n_links as usize) {
            clicked.push((l, t));
            t += rng.int(MIN, 20 * MIN);
        }
        if rng.chance(0.08) {
            let (l, t0) = clicked[0];
            clicked.push((l, t0 + rng.int(10 * MIN, DAY)));
        }
        for (l, t) in clicked {
            if company.is_some_and(|c| c.gateway == Gateway::SafeLinks) && rng.chance(0.3) {
                let eop = gateway_net(Gateway::SafeLinks, &mut rng);
                let ip = host_in_24(eop, &mut rng);
                push(
                    Kind::SafeLinksRecheck,
                    l,
                    t - rng.int(300, 1_500),
                    ip,
                    DESKTOP[1],
                    "GET",
                    false,
                );
            }
            if rng.chance(0.02) {
                push(
                    Kind::BrowserPrefetch,
                    l,
                    t - rng.int(100, 1_000),
                    ip,
                    ua,
                    "GET",
                    true,
                );
            }
            push(kind, l, t, ip, ua, "GET", false);
        }
    }
    hits.sort_by_key(|h| (h.at_ms, h.message, h.link));
    (hits, messages as usize)
}

/// `x.pipe(f)`: lets the delivery delay read top to bottom.
trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl<T> Pipe for T {}

// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Outcome {
    NotRecorded,
    Decided(Verdict),
}

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026);
    let (trace, messages) = build_trace(seed);
    let rules = BotRules::new(BotRules::default()).expect("default rules are valid");
    let mut pipeline: Pipeline<usize> =
        Pipeline::new(Classifier::new(rules, ScannerNetworks::builtin()));

    let mut outcome: Vec<Option<(Outcome, Vec<Reason>, i64)>> = vec![None; trace.len()];
    let mut too_late = 0usize;
    let message_ids: Vec<String> = (0..messages).map(|m| format!("msg-{m}")).collect();
    for (i, h) in trace.iter().enumerate() {
        let headers: &[(&str, &str)] = if h.prefetch {
            &[("Sec-Purpose", "prefetch")]
        } else {
            &[]
        };
        if let Some(r) = not_a_click(h.method, headers.iter().copied()) {
            outcome[i] = Some((Outcome::NotRecorded, vec![r], 0));
            continue;
        }
        let facts = HitFacts {
            method: h.method,
            headers,
            user_agent: Some(h.ua),
            woothee_category: None,
            ip: h.ip,
            asn: None,
            secs_since_sent: Some((h.at_ms - h.sent_ms).div_euclid(SEC)),
        };
        let link = format!("link-{}", h.link);
        let step = pipeline.hit(i, &facts, &message_ids[h.message as usize], &link, h.at_ms);
        // A burst naming a hit that already went out as a click: it cannot be taken back.
        too_late += step
            .relabelled_too_late
            .iter()
            .filter(|&&j| matches!(outcome[j], Some((Outcome::Decided(v), _, _)) if v != Verdict::Scanner))
            .count();
        for d in step.decided {
            outcome[d.hit] = Some((Outcome::Decided(d.verdict), d.reasons, d.held_ms));
        }
    }
    for d in pipeline.flush() {
        outcome[d.hit] = Some((Outcome::Decided(d.verdict), d.reasons, d.held_ms));
    }
    let outcome: Vec<_> = outcome
        .into_iter()
        .map(|o| o.expect("every hit decided"))
        .collect();

    // Confusion table.
    let cols = [
        Outcome::NotRecorded,
        Outcome::Decided(Verdict::Human),
        Outcome::Decided(Verdict::Suspected),
        Outcome::Decided(Verdict::Scanner),
    ];
    let mut table: BTreeMap<(bool, Outcome), usize> = BTreeMap::new();
    for (h, (o, _, _)) in trace.iter().zip(&outcome) {
        *table.entry((h.kind.is_human(), *o)).or_default() += 1;
    }
    println!(
        "mixed trace: seed {seed:#x}, {messages} messages, {} hits",
        trace.len()
    );
    println!(
        "rules: early window {} s, burst {} distinct links in {} ms, settle {} ms\n",
        rules.early_after_send_secs,
        rules.burst_distinct_links,
        rules.burst_window_ms,
        rules.settle_ms
    );
    println!(
        "{:<16}{:>14}{:>10}{:>12}{:>10}{:>9}",
        "truth \\ verdict", "not recorded", "human", "suspected", "scanner", "total"
    );
    for (label, human) in [("human", true), ("scanner", false)] {
        let row: Vec<usize> = cols
            .iter()
            .map(|c| table.get(&(human, *c)).copied().unwrap_or(0))
            .collect();
        println!(
            "{:<16}{:>14}{:>10}{:>12}{:>10}{:>9}",
            label,
            row[0],
            row[1],
            row[2],
            row[3],
            row.iter().sum::<usize>()
        );
    }

    // Humans mislabelled, by reason.
    let mut human_reasons: BTreeMap<(Verdict, String), usize> = BTreeMap::new();
    let (mut humans, mut humans_held) = (0usize, 0usize);
    for (h, (o, reasons, held)) in trace.iter().zip(&outcome) {
        if !h.kind.is_human() {
            continue;
        }
        humans += 1;
        if *held > 0 {
            humans_held += 1;
        }
        if let Outcome::Decided(v) = o
            && *v != Verdict::Human
        {
            let why = reasons
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join("+");
            *human_reasons.entry((*v, why)).or_default() += 1;
        }
    }
    println!(
        "\nhuman clicks not labelled human: {}",
        human_reasons.values().sum::<usize>()
    );
    for ((v, why), n) in &human_reasons {
        println!("  {:<10} {:<40} {n}", v.as_str(), why);
    }
    println!("human clicks held for the settle window: {humans_held} of {humans} (2 s each)");

    // Automation that got through, by kind.
    let mut by_kind: BTreeMap<Kind, [usize; 4]> = BTreeMap::new();
    for (h, (o, _, _)) in trace.iter().zip(&outcome) {
        if h.kind.is_human() {
            continue;
        }
        let col = cols.iter().position(|c| c == o).unwrap_or(0);
        by_kind.entry(h.kind).or_default()[col] += 1;
    }
    println!("\nautomated hits by source: not recorded / human / suspected / scanner");
    for (k, row) in &by_kind {
        println!(
            "  {:<36} {:>6} {:>6} {:>6} {:>6}",
            k.name(),
            row[0],
            row[1],
            row[2],
            row[3]
        );
    }
    println!("hits a burst would relabel but that had already gone out as clicks: {too_late}");

    // Stolen clicks: who takes the uniqueness mark of each (message, link) a human clicked.
    let mut per_link: HashMap<(u32, u8), Vec<usize>> = HashMap::new();
    for (i, h) in trace.iter().enumerate() {
        per_link.entry((h.message, h.link)).or_default().push(i);
    }
    let (mut clicked_links, mut stolen, mut stolen_without_rules) = (0usize, 0usize, 0usize);
    let mut stolen_by: BTreeMap<Kind, usize> = BTreeMap::new();
    for idx in per_link.values() {
        if !idx.iter().any(|&i| trace[i].kind.is_human()) {
            continue;
        }
        clicked_links += 1;
        let recorded = idx
            .iter()
            .copied()
            .filter(|&i| outcome[i].0 != Outcome::NotRecorded);
        if let Some(first) = recorded.clone().next()
            && !trace[first].kind.is_human()
        {
            stolen_without_rules += 1;
        }
        let mark = recorded
            .clone()
            .find(|&i| outcome[i].0 != Outcome::Decided(Verdict::Scanner));
        if let Some(i) = mark
            && !trace[i].kind.is_human()
        {
            stolen += 1;
            *stolen_by.entry(trace[i].kind).or_default() += 1;
        }
    }
    println!(
        "\n(message, link) pairs a human clicked: {clicked_links}; first click taken by automation: {stolen} with bot rules, {stolen_without_rules} without"
    );
    for (k, n) in &stolen_by {
        println!("  stolen by {:<36} {n}", k.name());
    }
}
