//! Bots and link scanners, end to end: a real node (on the backend `CLICKHOOK_TEST_BACKEND`
//! names), real HTTP clicks through the link host, a real webhook receiver. Client addresses are
//! simulated with `X-Forwarded-For` from loopback (`proxy.trusted = ["127.0.0.1/32"]` in the
//! test kit's base config); nothing leaves 127.0.0.1.
//!
//! Time: a verdict depends on the seconds between the message's SentAt (carried in the signed
//! link) and the hit's receipt. "Ten minutes later" is a link of the same message tracked
//! again with SentAt ten minutes in the past (`POST /tracking/messages` takes a past SentAt;
//! tracking a MessageID again replaces its record), so its clicks are received ten minutes after
//! SentAt, as a reader's click would be. The burst test uses real spacing: a full minute.

use std::time::Duration;

use clickhook_testkit::node::{EXAMPLE_UA, TestNode, links, message_with_links};
use clickhook_testkit::process;
use clickhook_testkit::receiver::{Receiver, Received};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);
/// Exchange Online Protection (Safe Links) sends from 40.107.0.0/16.
const EOP: &str = "40.107.12.34";
/// A reader at home (London in the test City database).
const HOME: &str = "81.2.69.160";
const ON: &str = "[bots]\nenabled = true\n";

fn sent_at(ago: Duration) -> String {
    let t = time::OffsetDateTime::now_utc() - ago;
    t.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap()
}

async fn get_as(node: &TestNode, link: &str, ip: &str, ua: Option<&str>, headers: &[(&str, &str)]) {
    let mut req = node.http.get(link).header("X-Forwarded-For", ip);
    if let Some(ua) = ua {
        req = req.header("User-Agent", ua);
    }
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let r = req.send().await.expect("link host answers");
    assert_eq!(r.status(), 302, "{link}");
}

async fn message_clicks(node: &TestNode, id: &str) -> Vec<Value> {
    let (s, body) = node.get(&format!("/messages/outbound/clicks/{id}?count=500&offset=0")).await;
    assert_eq!(s, 200, "{body}");
    body["Clicks"].as_array().unwrap().clone()
}

fn verdicts(clicks: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = clicks.iter().map(|c| c["Bot"]["Verdict"].as_str().unwrap_or("none").to_owned()).collect();
    v.sort();
    v
}

fn reasons(click: &Value) -> Vec<String> {
    click["Bot"]["Reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect()
}

/// Lets in-flight work land, then returns everything the receiver has.
async fn all_received(node: &TestNode, rx: &Receiver) -> Vec<Received> {
    node.settle().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    rx.requests()
}

/// The Safe Links sequence: EOP opens every link of the message within 3 s of SentAt with a
/// browser's user agent; ten minutes after SentAt the reader clicks one link from home.
/// Returns the message id and the reader's link.
async fn safe_links_sequence(node: &TestNode, id: &str) -> String {
    let first = node.track(json!({ "MessageID": id, "Recipient": "john@example.com", "HtmlBody": html(4) })).await;
    let started = std::time::Instant::now();
    for l in links(&first, "HTML") {
        get_as(node, &l, EOP, Some(EXAMPLE_UA), &[]).await;
    }
    assert!(started.elapsed() < Duration::from_secs(3), "the scan took {:?}", started.elapsed());
    let later = node.track(json!({ "MessageID": id, "Recipient": "john@example.com", "HtmlBody": html(4), "SentAt": sent_at(Duration::from_secs(600)) })).await;
    let reader_link = links(&later, "HTML")[2].clone();
    get_as(node, &reader_link, HOME, Some(EXAMPLE_UA), &[]).await;
    "https://example.com/2".to_owned()
}

fn html(n: usize) -> String {
    (0..n).map(|i| format!("<a href=\"https://example.com/{i}\">{i}</a>")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_safe_links_scan_never_takes_the_readers_click() {
    let node = TestNode::start(ON).await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let link = safe_links_sequence(&node, "m-safelinks").await;

    rx.wait_for(1, WAIT).await;
    let got = all_received(&node, &rx).await;
    assert_eq!(got.len(), 1, "exactly one Click webhook: {:?}", got.iter().map(Received::json).collect::<Vec<_>>());
    let hook = got[0].json();
    assert_eq!(hook["OriginalLink"], link);
    assert_eq!(hook["Geo"]["IP"], HOME);
    assert!(hook.get("Bot").is_none(), "bots.label is off: Postmark's JSON only: {hook}");

    // The Messages API lists all five clicks with their verdicts; the Stats API counts one.
    let clicks = message_clicks(&node, "m-safelinks").await;
    assert_eq!(verdicts(&clicks), ["human", "scanner", "scanner", "scanner", "scanner"]);
    for c in clicks.iter().filter(|c| c["Bot"]["Verdict"] == "scanner") {
        assert!(reasons(c).contains(&"scanner_network_certain".to_owned()), "{c}");
    }
    let (s, stats) = node.get("/stats/outbound/clicks").await;
    assert_eq!(s, 200, "{stats}");
    assert_eq!((stats["Clicks"].as_i64(), stats["Unique"].as_i64()), (Some(1), Some(1)), "scanner clicks are not counted: {stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_label_and_scanner_webhooks_the_scan_arrives_labelled() {
    let node = TestNode::start(&format!("{ON}label = true\nscanner_clicks = \"webhook\"\n")).await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let link = safe_links_sequence(&node, "m-labelled").await;

    rx.wait_for(5, WAIT).await;
    let got: Vec<Value> = all_received(&node, &rx).await.iter().map(Received::json).collect();
    assert_eq!(got.len(), 5, "four scanner events and the reader's: {got:?}");
    let (scans, humans): (Vec<&Value>, Vec<&Value>) = got.iter().partition(|b| b["Bot"]["Verdict"] == "scanner");
    assert_eq!((scans.len(), humans.len()), (4, 1), "{got:?}");
    for s in &scans {
        assert_eq!(s["MessageID"], "m-labelled");
        assert!(reasons(s).contains(&"scanner_network_certain".to_owned()), "{s}");
    }
    assert_eq!(humans[0]["Bot"], json!({ "Verdict": "human", "Reasons": [] }));
    assert_eq!(humans[0]["OriginalLink"], link);
    // The scanner's click of link 2 did not take the reader's mark: both made an event.
    assert_eq!(got.iter().filter(|b| b["OriginalLink"] == link).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_five_links_from_one_network_is_a_scanner() {
    let node = TestNode::start(ON).await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let msg = node.track(message_with_links("m-burst", 5)).await;
    let started = std::time::Instant::now();
    for (i, l) in links(&msg, "HTML").iter().enumerate() {
        // One /24 (a documentation range, in no scanner list), a browser's user agent.
        get_as(&node, l, &format!("198.51.100.{}", 10 + i), Some(EXAMPLE_UA), &[]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(2), "the burst took {:?}", started.elapsed());

    let got = all_received(&node, &rx).await;
    assert!(got.is_empty(), "no webhooks for a burst: {:?}", got.iter().map(Received::json).collect::<Vec<_>>());
    let clicks = message_clicks(&node, "m-burst").await;
    assert_eq!(verdicts(&clicks), ["scanner"; 5]);
    for c in &clicks {
        assert!(reasons(c).contains(&"burst".to_owned()), "{c}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_prefetch_and_scripts_redirect_without_a_webhook_then_the_reader_gets_one() {
    let node = TestNode::start(ON).await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let msg = node.track(json!({ "MessageID": "m-probes", "Recipient": "john@example.com", "HtmlBody": html(1), "SentAt": sent_at(Duration::from_secs(600)) })).await;
    let link = links(&msg, "HTML")[0].clone();

    // Not clicks at all: redirected, never recorded.
    let head = node.http.head(&link).header("User-Agent", EXAMPLE_UA).header("X-Forwarded-For", HOME).send().await.unwrap();
    assert_eq!(head.status(), 302);
    for (name, value) in [("Purpose", "prefetch"), ("Sec-Purpose", "prefetch;prerender"), ("X-Purpose", "preview"), ("X-Moz", "prefetch")] {
        get_as(&node, &link, HOME, Some(EXAMPLE_UA), &[(name, value)]).await;
    }
    // Recorded, but scanners: no user agent, curl, python-requests.
    get_as(&node, &link, "203.0.113.7", None, &[]).await;
    get_as(&node, &link, "203.0.113.8", Some("curl/8.5.0"), &[]).await;
    get_as(&node, &link, "192.0.2.9", Some("python-requests/2.31.0"), &[]).await;
    let got = all_received(&node, &rx).await;
    assert!(got.is_empty(), "no webhook yet: {:?}", got.iter().map(Received::json).collect::<Vec<_>>());

    // The reader's click after them is still the unique click.
    get_as(&node, &link, HOME, Some(EXAMPLE_UA), &[]).await;
    rx.wait_for(1, WAIT).await;
    let got = all_received(&node, &rx).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["UserAgent"], EXAMPLE_UA);

    let clicks = message_clicks(&node, "m-probes").await;
    assert_eq!(verdicts(&clicks), ["human", "scanner", "scanner", "scanner"], "HEAD and prefetches are not listed");
    let mut why: Vec<Vec<String>> = clicks.iter().filter(|c| c["Bot"]["Verdict"] == "scanner").map(reasons).collect();
    why.sort();
    assert_eq!(why, [vec!["http_library".to_owned()], vec!["http_library".to_owned()], vec!["missing_user_agent".to_owned()]]);
}

/// Two distinct links already make a burst here (`burst_links = 2`, stricter than the default
/// 3), so the test shows the spacing, not the count, keeps the reader's clicks apart: the same
/// two clicks one second apart (another message, a neighbour on the same /24) are a burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_clicking_two_links_a_minute_apart_is_not_a_burst() {
    let node = TestNode::start(&format!("{ON}burst_links = 2\n")).await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let past = sent_at(Duration::from_secs(600));
    let a = node.track(json!({ "MessageID": "m-reader", "Recipient": "john@example.com", "HtmlBody": html(2), "SentAt": past })).await;
    let b = node.track(json!({ "MessageID": "m-hasty", "Recipient": "john@example.com", "HtmlBody": html(2), "SentAt": past })).await;
    let (a, b) = (links(&a, "HTML"), links(&b, "HTML"));

    let first = std::time::Instant::now();
    get_as(&node, &a[0], HOME, Some(EXAMPLE_UA), &[]).await;
    // The control: two links one second apart.
    get_as(&node, &b[0], "81.2.69.161", Some(EXAMPLE_UA), &[]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    get_as(&node, &b[1], "81.2.69.161", Some(EXAMPLE_UA), &[]).await;
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(first.elapsed())).await;
    get_as(&node, &a[1], HOME, Some(EXAMPLE_UA), &[]).await;

    rx.wait_for(3, WAIT).await;
    let got: Vec<Value> = all_received(&node, &rx).await.iter().map(Received::json).collect();
    let of = |id: &str| got.iter().filter(|b| b["MessageID"] == id).count();
    assert_eq!((of("m-reader"), of("m-hasty")), (2, 1), "{got:?}");
    assert_eq!(verdicts(&message_clicks(&node, "m-reader").await), ["human", "human"]);
    let hasty = message_clicks(&node, "m-hasty").await;
    assert_eq!(verdicts(&hasty), ["human", "scanner"], "the control pair is a burst");
    assert!(hasty.iter().any(|c| reasons(c) == ["burst"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymize_ip_zeroes_the_last_octet_before_anything_sees_it() {
    let node = TestNode::start(&format!("{ON}[privacy]\nanonymize_ip = true\n")).await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let msg = node.track(json!({ "MessageID": "m-private", "Recipient": "john@example.com", "HtmlBody": html(1), "SentAt": sent_at(Duration::from_secs(600)) })).await;
    get_as(&node, &links(&msg, "HTML")[0], "8.8.8.77", Some(EXAMPLE_UA), &[]).await;
    let got = rx.wait_for(1, WAIT).await;
    let hook = got[0].json();
    assert_eq!(hook["Geo"]["IP"], "8.8.8.0", "{hook}");
    assert_eq!(hook["Geo"]["City"], "Novi Sad", "the /24 still places the click");
    let clicks = message_clicks(&node, "m-private").await;
    assert_eq!(clicks[0]["Geo"]["IP"], "8.8.8.0");
    assert!(!serde_json::to_string(&clicks).unwrap().contains("8.8.8.77"));
}

#[test]
fn the_scanner_list_loads_from_data_and_a_malformed_entry_stops_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/scanner-networks.toml");
    let cfg = dir.path().join("clickhook.toml");
    std::fs::write(&cfg, format!("[bots]\nnetworks_file = {:?}\n", shipped.display().to_string())).unwrap();
    let (code, out, err) = process::run(&["check-config", "--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("warning"), "the shipped list loads: {err}");
    assert!(out.contains("networks_file"), "{out}");

    let mut text = std::fs::read_to_string(&shipped).unwrap();
    text.push_str("\n[[network]]\nname = \"typo\"\nvendor = \"x\"\ncertainty = \"certain\"\nsource = \"x\"\ncidrs = [\"203.0.113.0/33\"]\n");
    let bad = dir.path().join("scanners.toml");
    std::fs::write(&bad, text).unwrap();
    std::fs::write(&cfg, format!("[bots]\nnetworks_file = {:?}\n", bad.display().to_string())).unwrap();
    let (code, out, err) = process::run(&["check-config", "--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("bots.networks_file") && err.contains("(\"typo\")") && err.contains("203.0.113.0/33"), "{err}");

    // An explicitly named file that is missing is an error too (only the default falls back).
    std::fs::write(&cfg, "[bots]\nnetworks_file = \"/nonexistent/scanners.toml\"\n").unwrap();
    let (code, _, err) = process::run(&["check-config", "--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bots.networks_file"), "{err}");
}
