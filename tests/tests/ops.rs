//! Operating clickhook: `/metrics` after real traffic, `/healthz` and `/readyz` (also with
//! the store down), and logs that carry no secret and no full recipient, in both formats.
//!
//! Metrics are one recorder per process, so the in-process tests here take turns
//! ([`SERIAL`]) and compare scrapes taken before and after their own traffic.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clickhook_testkit::node::{TestNode, base_config, links, message_with_links};
use clickhook_testkit::process::{Process, free_port};
use clickhook_testkit::receiver::{Receiver, Reply};
use clickhook_testkit::redis::RedisServer;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One `/metrics` answer: every sample as (name, labels, value).
struct Scrape {
    text: String,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
        let mut samples = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a value: {line}"));
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => {
                    let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"));
                    let labels = body
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            let (k, v) = p.split_once("=\"").unwrap_or_else(|| panic!("bad label {p:?} in {line}"));
                            (k.to_owned(), v.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (n.to_owned(), labels)
                }
                None => (series.to_owned(), BTreeMap::new()),
            };
            samples.push((name, labels, value));
        }
        Scrape { text, samples }
    }

    /// The sum of every sample of `name` that has all of `labels` (0 when none).
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, _, v)| v)
            .sum()
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.samples.iter().any(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
    }

    /// Every value a label takes on a metric.
    fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut v: Vec<String> = self.samples.iter().filter(|(n, _, _)| n == name).filter_map(|(_, l, _)| l.get(label).cloned()).collect();
        v.sort();
        v.dedup();
        v
    }
}

async fn scrape(node: &TestNode) -> Scrape {
    let r = node.http.get(format!("{}/metrics", node.api)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    Scrape::parse(r.text().await.unwrap())
}

/// `link` with one character of its signature changed.
fn tampered(link: &str) -> String {
    let mut b = link.as_bytes().to_vec();
    let i = b.len() - 6;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_clicks_store_calls_deliveries_and_queues() {
    let _turn = SERIAL.lock().await;
    let mut node = TestNode::start("").await;
    let ok = Receiver::start().await;
    let failing = Receiver::start().await;
    failing.set_default(Reply::status(500));
    let ok_id = node.add_webhook(&ok.url("/ok"), true).await.to_string();
    let bad_id = node.add_webhook(&failing.url("/fail"), true).await.to_string();
    let before = scrape(&node).await;

    // Two links of one message: two unique clicks, one repeat, a HEAD, a forged link.
    let msg = node.track(message_with_links("m-ops-metrics", 2)).await;
    let html = links(&msg, "HTML");
    for l in [&html[0], &html[1], &html[0]] {
        assert_eq!(node.click(l, "8.8.8.8").await.status(), 302);
    }
    assert_eq!(node.http.head(&html[0]).send().await.unwrap().status(), 302);
    assert_eq!(node.click(&tampered(&html[1]), "8.8.8.8").await.status(), 404);
    // A message sent 100 days ago: past the 45-day retention, redirected, not recorded.
    let sent = (time::OffsetDateTime::now_utc() - time::Duration::days(100)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let old = node.track(json!({ "MessageID": "m-ops-old", "Recipient": "old@example.com", "SentAt": sent, "HtmlBody": "<a href=\"https://example.com/old\">x</a>" })).await;
    assert_eq!(node.click(&links(&old, "HTML")[0], "8.8.8.8").await.status(), 302);
    // API requests: a route with an id, and a path that matches no route.
    assert_eq!(node.get(&format!("/webhooks/{ok_id}")).await.0, 200);
    assert_eq!(node.get("/no/such/path/12345").await.0, 404);

    ok.wait_for(2, WAIT).await;
    // The failing receiver gets each of the 2 events 6 times (the first attempt and the
    // base config's 5 retries), then both are dead letters.
    failing.wait_for(12, WAIT).await;
    node.settle().await;
    let after = scrape(&node).await;
    let delta = |name: &str, labels: &[(&str, &str)]| after.sum(name, labels) - before.sum(name, labels);

    // Requests per listener, by status; the API's by route template, never the raw path.
    let redirect = |status| delta("clickhook_http_requests_total", &[("listener", "redirect"), ("status", status)]);
    assert_eq!(redirect("302"), 5.0, "{}", after.text);
    assert_eq!(redirect("404"), 1.0);
    let api = |method, route, status| delta("clickhook_http_requests_total", &[("listener", "api"), ("method", method), ("route", route), ("status", status)]);
    assert_eq!(api("POST", "/tracking/messages", "200"), 2.0, "{}", after.text);
    assert_eq!(api("GET", "/webhooks/{id}", "200"), 1.0);
    assert_eq!(api("GET", "unmatched", "404"), 1.0);
    let routes = after.label_values("clickhook_http_requests_total", "route");
    assert!(routes.iter().all(|r| !r.contains("12345") && !r.contains(&format!("/webhooks/{ok_id}"))), "raw paths in route labels: {routes:?}");
    assert!(after.text.contains("# TYPE clickhook_http_request_duration_seconds histogram"), "{}", after.text);
    assert!(after.has("clickhook_http_request_duration_seconds_bucket", &[("listener", "redirect"), ("le", "0.005")]));
    assert!(delta("clickhook_http_request_duration_seconds_count", &[("listener", "api"), ("route", "/tracking/messages")]) >= 2.0);

    // Hits at the link host, tokens refused, clicks decided by the processor.
    assert_eq!(delta("clickhook_hits_total", &[("outcome", "recorded")]), 3.0, "{}", after.text);
    assert_eq!(delta("clickhook_hits_total", &[("outcome", "not_a_click")]), 1.0);
    assert_eq!(delta("clickhook_hits_total", &[("outcome", "after_retention")]), 1.0);
    assert_eq!(delta("clickhook_tokens_rejected_total", &[("reason", "bad_signature")]), 1.0, "{}", after.text);
    assert_eq!(delta("clickhook_clicks_total", &[("outcome", "unique")]), 2.0);
    assert_eq!(delta("clickhook_clicks_total", &[("outcome", "repeat")]), 1.0);
    assert_eq!(delta("clickhook_messages_tracked_total", &[]), 2.0);

    // Store calls, by operation, through the instrumented store.
    assert!(after.text.contains("# TYPE clickhook_store_duration_seconds histogram"));
    assert_eq!(delta("clickhook_store_duration_seconds_count", &[("op", "append_hit")]), 3.0, "{}", after.text);
    assert!(delta("clickhook_store_duration_seconds_count", &[("op", "settle_hit")]) >= 3.0);
    assert!(delta("clickhook_store_duration_seconds_count", &[("op", "finish_attempt")]) >= 14.0);
    assert!(after.has("clickhook_store_duration_seconds_count", &[("op", "stats")]), "the queue gauges read Store::stats");
    assert_eq!(delta("clickhook_store_errors_total", &[("kind", "unavailable")]), 0.0);

    // Deliveries by outcome and webhook id, retries, dead letters.
    let deliveries = |outcome, webhook: &str| delta("clickhook_deliveries_total", &[("outcome", outcome), ("webhook", webhook)]);
    assert_eq!(deliveries("delivered", &ok_id), 2.0, "{}", after.text);
    assert_eq!(deliveries("retry", &bad_id), 10.0, "{}", after.text);
    assert_eq!(deliveries("dead", &bad_id), 2.0);
    assert_eq!(deliveries("delivered", &bad_id), 0.0);
    assert_eq!(delta("clickhook_delivery_retries_total", &[("webhook", bad_id.as_str())]), 10.0);
    assert_eq!(delta("clickhook_delivery_retries_total", &[("webhook", ok_id.as_str())]), 0.0);
    assert!(after.text.contains("# TYPE clickhook_delivery_duration_seconds histogram"));
    assert!(after.has("clickhook_delivery_duration_seconds_bucket", &[("webhook", ok_id.as_str()), ("le", "300")]), "delivery buckets reach 5 min");
    // No label carries a URL, a recipient or a message id.
    for needle in ["example.com", "m-ops-metrics", "127.0.0.1", "/ok", "/fail"] {
        assert!(
            !after.samples.iter().any(|(_, l, _)| l.values().any(|v| v.contains(needle))),
            "a label holds {needle:?}: {}",
            after.text
        );
    }

    // Queue gauges, refreshed from Store::stats every few seconds.
    let deadline = Instant::now() + WAIT;
    let queue = loop {
        let s = scrape(&node).await;
        if s.sum("clickhook_queue_dead_deliveries", &[]) == 2.0 && s.sum("clickhook_queue_pending_deliveries", &[]) == 0.0 {
            break s;
        }
        assert!(Instant::now() < deadline, "queue gauges did not show 2 dead letters: {}", s.text);
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(queue.sum("clickhook_queue_pending_hits", &[]), 0.0);
    assert_eq!(queue.sum("clickhook_queue_oldest_pending_delivery_age_seconds", &[]), 0.0);
    assert_eq!(queue.sum("clickhook_spool_hits", &[]), 0.0);
    assert_eq!(queue.sum("clickhook_spool_store_down", &[]), 0.0);
    assert!(queue.text.contains("# HELP clickhook_clicks_total"), "metrics are described");

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_without_geo_and_with_a_delivery_waiting() {
    let _turn = SERIAL.lock().await;
    // A failed attempt waits an hour for its retry.
    let mut node = TestNode::start("[geoip]\ncity_database = \"/nonexistent/GeoLite2-City.mmdb\"\n[webhooks]\nretry_schedule = [\"1h\"]\n").await;
    let (status, body) = node.call("GET", "/healthz", None, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")), "{body}");
    assert!(!body["version"].as_str().unwrap().is_empty());

    let (status, body) = node.call("GET", "/readyz", None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["degraded"], json!([]));
    assert!(body["warnings"].as_array().unwrap().contains(&json!("geo")), "a missing geo database is a warning: {body}");
    assert_eq!(body["geo"], json!({ "status": "not_loaded", "loaded": false, "reason": body["geo"]["reason"] }));
    assert_eq!(body["store"]["status"], "ok");
    assert_eq!(body["spool"]["status"], "ok");
    // The first queue reading is taken at start.
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, body) = node.call("GET", "/readyz", None, None).await;
        if body["backlog"]["status"] == "ok" {
            assert_eq!(body["backlog"]["pending_deliveries"], 0);
            assert_eq!(body["backlog"]["oldest_pending_delivery_age_seconds"], Value::Null);
            break;
        }
        assert!(Instant::now() < deadline, "no queue reading: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A delivery waiting for its retry: counted, and its age shows in /readyz and /metrics.
    let failing = Receiver::start().await;
    failing.set_default(Reply::status(500));
    node.add_webhook(&failing.url("/fail"), true).await;
    let msg = node.track(message_with_links("m-ops-waiting", 1)).await;
    node.click(&links(&msg, "HTML")[0], "8.8.8.8").await;
    failing.wait_for(1, WAIT).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = node.call("GET", "/readyz", None, None).await;
        let m = scrape(&node).await;
        let age = body["backlog"]["oldest_pending_delivery_age_seconds"].as_f64();
        if body["backlog"]["pending_deliveries"] == 1 && age.is_some_and(|a| a > 0.0) && m.sum("clickhook_queue_oldest_pending_delivery_age_seconds", &[]) > 0.0 {
            assert_eq!(status, 200, "a young backlog is no warning: {body}");
            assert_eq!(body["backlog"]["status"], "ok");
            assert_eq!(m.sum("clickhook_queue_pending_deliveries", &[]), 1.0, "{}", m.text);
            assert_eq!(m.sum("clickhook_queue_dead_deliveries", &[]), 0.0);
            break;
        }
        assert!(Instant::now() < deadline, "the waiting delivery does not show: {body}\n{}", m.text);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    node.stop().await;
}

/// Readiness with the store going away and coming back: a Redis server of this test's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_the_store_and_the_spool_while_redis_is_down() {
    let _turn = SERIAL.lock().await;
    let mut redis = RedisServer::start();
    let mut node = TestNode::start(&format!("[store]\nbackend = \"redis\"\nredis_url = \"{}\"\nredis_cluster = []\n", redis.url())).await;
    let (status, body) = node.call("GET", "/readyz", None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["store"]["backend"], "redis");
    assert_eq!(body["store"]["status"], "ok");
    assert_eq!(body["geo"]["loaded"], true);
    assert_eq!(body["spool"]["store_down"], false);

    let msg = node.track(message_with_links("m-ops-outage", 3)).await;
    let html = links(&msg, "HTML");
    let before = scrape(&node).await;
    redis.stop();
    // The redirect still answers; its hit goes to the spool.
    assert_eq!(node.click(&html[0], "8.8.8.8").await.status(), 302);
    let (status, body) = node.call("GET", "/readyz", None, None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["degraded"], json!(["store", "spool"]), "{body}");
    assert!(["error", "timeout"].contains(&body["store"]["status"].as_str().unwrap()), "{body}");
    assert!(!body["store"]["reason"].as_str().unwrap().is_empty());
    assert_eq!(body["spool"]["status"], "spooling");
    assert_eq!(body["spool"]["pending_hits"], 1);
    let during = scrape(&node).await;
    assert_eq!(during.sum("clickhook_spool_store_down", &[]), 1.0, "{}", during.text);
    assert_eq!(during.sum("clickhook_spool_hits", &[]), 1.0);
    assert_eq!(during.sum("clickhook_hits_total", &[("outcome", "spooled")]) - before.sum("clickhook_hits_total", &[("outcome", "spooled")]), 1.0);
    let failed = |s: &Scrape| s.sum("clickhook_store_errors_total", &[("op", "append_hit")]);
    assert!(failed(&during) - failed(&before) >= 1.0, "the failed append is counted: {}", during.text);

    redis.start_again();
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = node.call("GET", "/readyz", None, None).await;
        if status == 200 {
            assert_eq!(body["spool"]["store_down"], false, "{body}");
            assert_eq!(body["spool"]["pending_hits"], 0, "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "not ready again after Redis came back: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(scrape(&node).await.sum("clickhook_spool_store_down", &[]), 0.0);
    node.stop().await;
}

const SIGNING_SECRET: &str = "b3BzLXRlc3Qtc2lnbmluZy1zZWNyZXQtMDEyMzQ1Njc4OQ";
const WEBHOOK_PASSWORD: &str = "hunter2-webhook-password";
const HEADER_SECRET: &str = "header-secret-value-0042";
const URL_PASSWORD: &str = "url-password-0077";
const URL_TOKEN: &str = "querytoken0099";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const RECIPIENT: &str = "jane.doe.private@example.com";

/// Runs the real binary with `format` logs through the whole click path (a recipient, a
/// webhook with Basic auth, a secret header and a signing secret; a failing one whose URL
/// carries credentials and a token; a refused connection; a forged link) and returns what
/// it wrote to stdout and stderr.
async fn run_and_capture_logs(format: &str, level: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (redirect, api) = (free_port(), free_port());
    let mut text = base_config(&dir.path().join("store"), redirect);
    assert!(text.contains("[tracking]\n"), "the base config changed: update this test");
    text = text.replacen("[tracking]\n", &format!("[tracking]\nsigning_keys = [{{ id = \"k1\", secret = \"{SIGNING_SECRET}\" }}]\n"), 1);
    text.push_str(&format!("[listen]\nredirect = \"127.0.0.1:{redirect}\"\napi = \"127.0.0.1:{api}\"\n[log]\nformat = \"{format}\"\nlevel = \"{level}\"\n"));
    let config = dir.path().join("clickhook.toml");
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("clickhook.log");
    let p = Process::spawn(&config, api, &log);

    let ok = Receiver::start().await;
    let failing = Receiver::start().await;
    failing.set_default(Reply::status(500));
    let closed = free_port();
    let http = clickhook_testkit::http_client();
    let call = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("http://127.0.0.1:{api}{path}")).header("X-Postmark-Server-Token", clickhook_testkit::node::TOKEN).json(&body).send()
    };
    let hooks = [
        json!({ "Url": ok.url("/ok"), "HttpAuth": { "Username": "hookuser", "Password": WEBHOOK_PASSWORD },
                "HttpHeaders": [{ "Name": "X-Secret", "Value": HEADER_SECRET }], "SigningSecrets": [STANDARD_SECRET],
                "Triggers": { "Click": { "Enabled": true } } }),
        json!({ "Url": format!("http://urluser:{URL_PASSWORD}@{}/fail/{URL_TOKEN}?token={URL_TOKEN}", failing.addr),
                "Triggers": { "Click": { "Enabled": true } } }),
        json!({ "Url": format!("http://127.0.0.1:{closed}/closed?token={URL_TOKEN}"), "Triggers": { "Click": { "Enabled": true } } }),
    ];
    let mut ids = Vec::new();
    for h in hooks {
        let r: Value = call(reqwest::Method::POST, "/webhooks", h).await.unwrap().json().await.unwrap();
        ids.push(r["ID"].as_i64().unwrap_or_else(|| panic!("webhook not created: {r}")));
    }
    let msg: Value = call(reqwest::Method::POST, "/tracking/messages", json!({ "Recipient": RECIPIENT, "HtmlBody": "<a href=\"https://example.com/x\">x</a>" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = links(&msg, "HTML")[0].clone();
    for l in [link.clone(), link.clone(), tampered(&link)] {
        let _ = http.get(&l).header("X-Forwarded-For", "8.8.8.8").send().await.unwrap();
    }
    let got = ok.wait_for(1, WAIT).await;
    assert!(got[0].body.contains(RECIPIENT), "the receiver, not the log, gets the recipient");
    // Both failing webhooks run out of retries (6 attempts each) and end dead.
    failing.wait_for(6, WAIT).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let dead = |id: i64| {
            let call = &call;
            async move {
                let v: Value = call(reqwest::Method::GET, &format!("/webhooks/{id}/deliveries?status=dead&count=10&offset=0"), Value::Null).await.unwrap().json().await.unwrap();
                v["TotalCount"].as_u64().unwrap_or(0)
            }
        };
        if dead(ids[1]).await == 1 && dead(ids[2]).await == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the failing webhooks did not end dead");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(p);
    let out = std::fs::read_to_string(&log).unwrap();
    let token = link.rsplit('/').next().unwrap().to_owned();
    for (what, secret) in [
        ("the server token", clickhook_testkit::node::TOKEN),
        ("the link signing secret", SIGNING_SECRET),
        ("the webhook's Basic auth password", WEBHOOK_PASSWORD),
        ("the webhook's header value", HEADER_SECRET),
        ("the webhook's signing secret", STANDARD_SECRET),
        ("the password in a webhook URL", URL_PASSWORD),
        ("the token in a webhook URL", URL_TOKEN),
        ("the tracked link's token", &token),
        ("the recipient", RECIPIENT),
        ("the recipient's local part", "jane.doe"),
    ] {
        assert!(!out.contains(secret), "{format} logs show {what} ({secret}):\n{out}");
    }
    assert!(out.contains("webhook attempt failed"), "the failing attempts are logged:\n{out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_carry_no_secret_and_no_full_recipient() {
    let out = run_and_capture_logs("text", "info").await;
    assert!(out.contains("clickhook is running"), "{out}");
    // The failing receiver is named by its origin only.
    assert!(out.contains("url=http://127.0.0.1:"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_without_secrets_even_at_debug() {
    let out = run_and_capture_logs("json", "info,clickhook=debug,clickhook_clicks=debug,clickhook_dispatch=debug,clickhook_linkhost=debug,clickhook_api=debug,clickhook_store=debug,clickhook_enrich=debug").await;
    let mut messages = Vec::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"));
        assert!(v.is_object(), "{line}");
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{line}");
        messages.push(v["fields"]["message"].as_str().unwrap_or_default().to_owned());
    }
    assert!(messages.iter().any(|m| m == "clickhook is running"), "{out}");
    // At debug a settled click names its recipient, masked.
    assert!(out.contains("j***@example.com"), "the masked recipient is in the debug line:\n{out}");
}
