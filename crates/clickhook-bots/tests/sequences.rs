//! Whole sequences of hits, run through classifier + burst tracker + settle holding the way
//! the click processor runs them (`Pipeline`).

use std::collections::HashMap;
use std::net::IpAddr;

use clickhook_bots::{
    BotRules, Classifier, Decision, HitFacts, ListError, Pipeline, Reason, ScannerNetworks,
    Verdict, not_a_click,
};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67";
const EOP: &str = "40.107.22.";
const HOME: &str = "73.15.2.9";

struct Hit {
    id: u32,
    method: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    ua: Option<&'static str>,
    ip: IpAddr,
    link: String,
    /// Milliseconds after SentAt.
    at_ms: i64,
}

fn get(id: u32, ip: &str, ua: Option<&'static str>, link: &str, at_ms: i64) -> Hit {
    Hit {
        id,
        method: "GET",
        headers: vec![],
        ua,
        ip: ip.parse().unwrap(),
        link: link.into(),
        at_ms,
    }
}

/// Runs the hits (sorted by time) of one message sent at t = 0 and returns each decision.
fn run(mut hits: Vec<Hit>) -> (HashMap<u32, Decision<u32>>, Vec<u32>) {
    hits.sort_by_key(|h| h.at_ms);
    let classifier = Classifier::new(BotRules::default(), ScannerNetworks::builtin());
    let mut p = Pipeline::new(classifier);
    let mut out = HashMap::new();
    let mut too_late = Vec::new();
    for h in &hits {
        let facts = HitFacts {
            method: h.method,
            headers: &h.headers,
            user_agent: h.ua,
            woothee_category: None,
            ip: h.ip,
            asn: None,
            secs_since_sent: Some(h.at_ms.div_euclid(1000)),
        };
        let step = p.hit(h.id, &facts, "msg-1", &h.link, h.at_ms);
        too_late.extend(step.relabelled_too_late);
        for d in step.decided {
            out.insert(d.hit, d);
        }
    }
    for d in p.flush() {
        out.insert(d.hit, d);
    }
    assert_eq!(out.len(), hits.len(), "every hit is decided exactly once");
    (out, too_late)
}

#[test]
fn a_safe_links_scan_then_the_reader_clicks_ten_minutes_later() {
    let mut hits: Vec<Hit> = (0..6)
        .map(|i| {
            get(
                i,
                &format!("{EOP}{}", 10 + i),
                Some(CHROME),
                &format!("link-{i}"),
                400 + i64::from(i) * 450,
            )
        })
        .collect();
    hits.push(get(100, HOME, Some(CHROME), "link-2", 10 * 60_000));
    let (d, too_late) = run(hits);
    for i in 0..6 {
        assert_eq!(d[&i].verdict, Verdict::Scanner, "scan hit {i}: {:?}", d[&i]);
        assert!(d[&i].reasons.contains(&Reason::ScannerNetworkCertain));
        assert_eq!(d[&i].held_ms, 0, "a certain scanner is decided at once");
    }
    // All six links within 3 s from one /24 is also a burst, from the third hit on.
    assert!(d[&5].reasons.contains(&Reason::Burst));
    assert_eq!(d[&100].verdict, Verdict::Human);
    assert!(d[&100].reasons.is_empty());
    assert_eq!(d[&100].held_ms, 0, "a late human click is never held");
    // The first two scan hits were decided at once (already scanners), so the burst
    // "relabels" them too late, which changes nothing.
    assert_eq!(too_late, vec![0, 1]);
}

/// Five distinct links, 500 ms apart, from five addresses of 198.51.100.0/24 (in no scanner
/// list), with a browser user agent, starting `start_ms` after SentAt.
fn five_links_from_one_24(start_ms: i64) -> Vec<Hit> {
    (0..5)
        .map(|i| {
            let ip = format!("198.51.100.{}", 20 + i);
            get(
                i,
                &ip,
                Some(CHROME),
                &format!("l{i}"),
                start_ms + i64::from(i) * 500,
            )
        })
        .collect()
}

#[test]
fn five_links_in_two_seconds_from_one_24_is_a_burst_of_scanners() {
    // 198.51.100.0/24 is in no scanner list; a browser user agent; 5 s after SentAt.
    let (d, too_late) = run(five_links_from_one_24(5_000));
    for i in 0..5 {
        assert_eq!(d[&i].verdict, Verdict::Scanner, "hit {i}: {:?}", d[&i]);
        assert_eq!(d[&i].reasons, [Reason::EarlyAfterSend, Reason::Burst]);
    }
    // The first two were held (early) and relabelled in time.
    assert!(too_late.is_empty());
    assert_eq!(d[&0].held_ms, 2_000);
}

#[test]
fn a_late_burst_can_only_relabel_what_is_still_held() {
    // The same burst ten minutes after SentAt: nothing is held, so the first two hits go out
    // as human and the tracker says so; from the third on they are scanners.
    let (d, too_late) = run(five_links_from_one_24(600_000));
    assert_eq!(d[&0].verdict, Verdict::Human);
    assert_eq!(d[&1].verdict, Verdict::Human);
    for i in 2..5 {
        assert_eq!(d[&i].verdict, Verdict::Scanner);
        assert_eq!(d[&i].reasons, [Reason::Burst]);
    }
    assert_eq!(too_late, vec![0, 1]);
}

#[test]
fn probes_previews_and_scripts_are_not_clicks_and_the_browser_after_them_is_human() {
    let mut head = get(1, HOME, Some(CHROME), "a", 120_000);
    head.method = "HEAD";
    let mut prefetch = get(2, HOME, Some(CHROME), "a", 121_000);
    prefetch.headers = vec![("Sec-Purpose", "prefetch;prerender")];
    let mut purpose = get(3, HOME, Some(CHROME), "a", 122_000);
    purpose.headers = vec![("Purpose", "prefetch")];
    let missing = get(4, HOME, None, "a", 123_000);
    let curl = get(5, HOME, Some("curl/8.5.0"), "a", 124_000);
    let requests = get(6, HOME, Some("python-requests/2.31.0"), "a", 125_000);
    let browser = get(7, HOME, Some(CHROME), "a", 190_000);

    // The link host never records the first three.
    assert_eq!(
        not_a_click(head.method, head.headers.iter().copied()),
        Some(Reason::HeadRequest)
    );
    assert_eq!(
        not_a_click("GET", prefetch.headers.iter().copied()),
        Some(Reason::PrefetchHeader)
    );
    assert_eq!(
        not_a_click("GET", purpose.headers.iter().copied()),
        Some(Reason::PrefetchHeader)
    );
    assert_eq!(not_a_click("GET", browser.headers.iter().copied()), None);

    let (d, _) = run(vec![
        head, prefetch, purpose, missing, curl, requests, browser,
    ]);
    let expect = [
        (1, Reason::HeadRequest),
        (2, Reason::PrefetchHeader),
        (3, Reason::PrefetchHeader),
        (4, Reason::MissingUserAgent),
        (5, Reason::HttpLibrary),
        (6, Reason::HttpLibrary),
    ];
    for (id, reason) in expect {
        assert_eq!(d[&id].verdict, Verdict::Scanner, "{id}");
        assert_eq!(d[&id].reasons, [reason], "{id}");
    }
    assert_eq!(d[&7].verdict, Verdict::Human);
    assert!(d[&7].reasons.is_empty());
}

#[test]
fn a_human_clicking_two_links_a_minute_apart_is_human() {
    let (d, _) = run(vec![
        get(1, HOME, Some(CHROME), "a", 15 * 60_000),
        get(2, HOME, Some(CHROME), "b", 16 * 60_000),
    ]);
    for id in [1, 2] {
        assert_eq!(d[&id].verdict, Verdict::Human);
        assert!(d[&id].reasons.is_empty());
        assert_eq!(d[&id].held_ms, 0);
    }
}

#[test]
fn an_early_human_is_suspected_at_worst_never_a_scanner() {
    // Clicks 20 s after SentAt, then another link 70 s later: held briefly, no burst.
    let (d, _) = run(vec![
        get(1, HOME, Some(CHROME), "a", 20_000),
        get(2, HOME, Some(CHROME), "b", 90_000),
    ]);
    assert_eq!(d[&1].verdict, Verdict::Suspected);
    assert_eq!(d[&1].reasons, [Reason::EarlyAfterSend]);
    assert_eq!(d[&1].held_ms, 2_000);
    assert_eq!(d[&2].verdict, Verdict::Human);
}

#[test]
fn the_shipped_list_parses_and_a_malformed_entry_is_named() {
    let text = include_str!("../../../data/scanner-networks.toml");
    let list = ScannerNetworks::parse(text).expect("shipped list parses");
    let names: Vec<_> = list.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "microsoft-eop",
            "barracuda",
            "proofpoint",
            "mimecast",
            "cisco-secure-email"
        ]
    );
    assert!(
        list.entries()
            .iter()
            .all(|e| !e.source.is_empty() && !e.cidrs.is_empty())
    );
    assert!(
        list.entries()
            .iter()
            .any(|e| e.cidrs.iter().any(|c| matches!(c, ipnet::IpNet::V6(_))))
    );

    let broken = text.replacen("\"64.235.144.0/20\"", "\"64.235.144.0/33\"", 1);
    assert_ne!(broken, text);
    let err = ScannerNetworks::parse(&broken).unwrap_err();
    assert!(matches!(err, ListError::Entry { index: 2, .. }));
    assert_eq!(
        err.to_string(),
        r#"entry 2 ("barracuda"): "64.235.144.0/33" is not a CIDR"#
    );

    let unknown = text.replacen("certainty = \"probable\"", "certainty = \"likely\"", 1);
    assert_eq!(
        ScannerNetworks::parse(&unknown).unwrap_err().to_string(),
        r#"entry 3 ("proofpoint"): certainty "likely" is not "certain" or "probable""#
    );
}
