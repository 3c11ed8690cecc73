//! Webhook delivery you can trust: Retry-After, 410, isolation between receivers,
//! signatures checked by an independent implementation, the SSRF guard, the delivery log,
//! graceful shutdown, and kill -9 with attempts in flight.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use clickhook_testkit::node::{message_with_links, TOKEN, TestNode, base_config, links};
use clickhook_testkit::process::{Process, free_port};
use clickhook_testkit::python;
use clickhook_testkit::receiver::{Receiver, Reply};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

async fn click_all(node: &TestNode, msg: &Value) -> Vec<Instant> {
    let mut at = Vec::new();
    for l in links(msg, "HTML") {
        at.push(Instant::now());
        assert_eq!(node.click(&l, "8.8.8.8").await.status(), 302);
    }
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_on_429_is_honoured() {
    let node = TestNode::start("[webhooks]\nretry_schedule = [\"50ms\", \"50ms\"]\nretry_jitter = 0.0").await;
    let rx = Receiver::start().await;
    rx.script([Reply { status: 429, delay: Duration::ZERO, retry_after: Some("1"), location: None }]);
    node.add_webhook(&rx.url("/hook"), true).await;
    click_all(&node, &node.track(message_with_links("m-1", 1)).await).await;
    let got = rx.wait_for(2, WAIT).await;
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}, before Retry-After's 1 s");
    assert!(gap < Duration::from_secs(5), "retried after {gap:?}");
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_comes_up_late_gets_the_event_once() {
    let node = TestNode::start("[webhooks]\nretry_schedule = [\"200ms\", \"200ms\", \"200ms\", \"200ms\", \"200ms\", \"200ms\", \"200ms\", \"200ms\"]\nbreaker_failures = 100").await;
    let port = free_port();
    let hook = node.add_webhook(&format!("http://127.0.0.1:{port}/hook"), true).await;
    click_all(&node, &node.track(message_with_links("m-1", 1)).await).await;
    // let some attempts fail against the closed port
    let store = node.node.as_ref().unwrap().store.clone();
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, d) = store.list_deliveries(hook, None, 1, 0).await.unwrap();
        if d.first().is_some_and(|d| d.attempts >= 2) {
            break;
        }
        assert!(Instant::now() < deadline, "no failed attempts recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rx = Receiver::start_on(tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap()).await;
    rx.wait_for(1, WAIT).await;
    node.settle().await;
    assert_eq!(rx.requests().len(), 1);
    let (_, d) = store.list_deliveries(hook, None, 1, 0).await.unwrap();
    let attempts = store.list_attempts(d[0].id).await.unwrap();
    assert!(attempts.len() >= 3, "{attempts:?}");
    assert!(attempts[..attempts.len() - 1].iter().all(|a| a.status.is_none() && a.error.is_some()));
    assert_eq!(attempts.last().unwrap().status, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_stops_and_turns_the_click_trigger_off() {
    let node = TestNode::start("").await;
    let rx = Receiver::start().await;
    rx.set_default(Reply::status(410));
    let hook = node.add_webhook(&rx.url("/hook"), true).await;
    click_all(&node, &node.track(message_with_links("m-1", 1)).await).await;
    rx.wait_for(1, WAIT).await;
    node.settle().await;
    let (_, w) = node.get(&format!("/webhooks/{hook}")).await;
    assert_eq!(w["Triggers"]["Click"]["Enabled"], false, "{w}");
    // further clicks send nothing to it
    click_all(&node, &node.track(message_with_links("m-2", 1)).await).await;
    node.settle().await;
    assert_eq!(rx.requests().len(), 1);
}

/// p95 of a set of durations.
fn p95(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[(d.len() * 95 / 100).min(d.len() - 1)]
}

async fn healthy_latencies(with_hanging: bool) -> Vec<Duration> {
    let node = TestNode::start("[webhooks]\nrequest_timeout = \"1s\"\nconnect_timeout = \"1s\"\nconcurrency = 16\nper_webhook_concurrency = 4\nretry_schedule = [\"100ms\", \"100ms\", \"100ms\"]").await;
    let healthy = Receiver::start().await;
    node.add_webhook(&healthy.url("/healthy"), true).await;
    let hanging = Receiver::start().await;
    hanging.set_default(Reply::slow(200, Duration::from_secs(30)));
    if with_hanging {
        node.add_webhook(&hanging.url("/hanging"), true).await;
    }
    let msg = node.track(message_with_links("m-iso", 100)).await;
    let sent = click_all(&node, &msg).await;
    let got = healthy.wait_for(100, Duration::from_secs(60)).await;
    let index: std::collections::HashMap<String, usize> =
        links(&msg, "HTML").iter().enumerate().map(|(i, _)| (format!("https://example.com/{i}"), i)).collect();
    got.iter().map(|r| r.at - sent[index[r.json()["OriginalLink"].as_str().unwrap()]]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_does_not_delay_a_healthy_one() {
    let alone = healthy_latencies(false).await;
    let beside = healthy_latencies(true).await;
    let (a, b) = (p95(alone.clone()), p95(beside.clone()));
    let max_b = *beside.iter().max().unwrap();
    println!("healthy receiver, 100 events: p95 {a:?} alone, p95 {b:?} (max {max_b:?}) beside a receiver that hangs past the 1 s timeout");
    // Without isolation the hanging receiver would take every slot for 1 s at a time and the
    // healthy receiver's events would wait a timeout or more on top of what they wait alone.
    // With it they never wait for a timeout. Compared with the same node alone, not with a
    // fixed time: on a loaded CI machine (processing runs at a lower CPU priority) the healthy
    // receiver alone has taken up to 3 s.
    assert!(b < a + Duration::from_millis(900), "p95 {b:?} beside a hanging receiver (alone: {a:?})");
}

fn signed_request(r: &clickhook_testkit::receiver::Received) -> Value {
    json!({
        "headers": {
            "webhook-id": r.header("webhook-id").unwrap(),
            "webhook-timestamp": r.header("webhook-timestamp").expect("signed"),
            "webhook-signature": r.header("webhook-signature").expect("signed"),
        },
        "body": r.body,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_verify_with_an_independent_implementation_across_a_rotation() {
    let old = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let new = "whsec_bmV3LXNlY3JldC1mb3Itcm90YXRpb24tMDAwMDAw";
    let node = TestNode::start("").await;
    let rx = Receiver::start().await;
    rx.script([Reply::status(500)]);
    let (s, w) = node.post("/webhooks", json!({ "Url": rx.url("/hook"), "SigningSecrets": [old], "Triggers": { "Click": { "Enabled": true } } })).await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["SigningSecrets"], json!([old]));
    let hook = w["ID"].as_i64().unwrap();
    click_all(&node, &node.track(message_with_links("m-1", 1)).await).await;
    // a failed attempt and its retry: each signed for itself
    let got = rx.wait_for(2, WAIT).await;
    let (code, out) = python::verify_signatures(&json!({ "secret": old, "requests": got.iter().map(signed_request).collect::<Vec<_>>() }));
    assert_eq!(code, 0, "{out}");
    // rotation: the new secret first, the old one still accepted
    let (s, w) = node.call("PUT", &format!("/webhooks/{hook}"), Some(serde_json::to_vec(&json!({ "SigningSecrets": [new, old] })).unwrap()), Some(TOKEN)).await;
    assert_eq!(s, 200, "{w}");
    click_all(&node, &node.track(message_with_links("m-2", 1)).await).await;
    let got = rx.wait_for(3, WAIT).await;
    let rotated = vec![signed_request(&got[2])];
    for secret in [old, new] {
        let (code, out) = python::verify_signatures(&json!({ "secret": secret, "requests": rotated }));
        assert_eq!(code, 0, "{secret}: {out}");
    }
    // and a tampered body does not verify
    let mut tampered = signed_request(&got[2]);
    tampered["body"] = json!(got[2].body.replace("john@", "eve@"));
    let (code, out) = python::verify_signatures(&json!({ "secret": new, "requests": [tampered] }));
    assert_eq!(code, 1, "{out}");
    // bad secrets are refused on create
    let (s, v) = node.post("/webhooks", json!({ "Url": rx.url("/x"), "SigningSecrets": ["not-a-secret"] })).await;
    assert_eq!(s, 422, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_on_create_and_at_send() {
    let mut node = TestNode::start("").await;
    let rx = Receiver::start().await;
    // created while private targets are allowed, by name
    node.add_webhook(&format!("http://localhost:{}/hook", rx.addr.port()), true).await;
    let dir = node.dir.clone();
    node.stop().await;
    let node = TestNode::start_in(dir, "[webhooks]\nallow_private_targets = false\nretry_schedule = []").await;
    for url in [
        "http://127.0.0.1/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://localhost/x",
        "http://100.64.0.1/x",
    ] {
        let (s, v) = node.post("/webhooks", json!({ "Url": url })).await;
        assert_eq!(s, 422, "{url} accepted: {v}");
        assert!(v["Message"].as_str().unwrap().contains("private"), "{url}: {v}");
    }
    // at send time the resolver refuses localhost: a recorded failure, nothing sent
    click_all(&node, &node.track(message_with_links("m-1", 1)).await).await;
    node.settle().await;
    assert!(rx.requests().is_empty());
    let store = node.node.as_ref().unwrap().store.clone();
    let (_, list) = store.list_deliveries(1, None, 10, 0).await.unwrap();
    assert_eq!(list.len(), 1);
    let attempts = store.list_attempts(list[0].id).await.unwrap();
    let err = attempts[0].error.clone().unwrap_or_default();
    assert!(err.contains("private"), "{attempts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_shows_attempts_and_resends_and_recovers() {
    let node = TestNode::start("[webhooks]\nretry_schedule = [\"50ms\"]").await;
    let rx = Receiver::start().await;
    rx.script([Reply::status(500), Reply::status(502)]);
    let hook = node.add_webhook(&rx.url("/hook"), true).await;
    click_all(&node, &node.track(message_with_links("m-1", 1)).await).await;
    rx.wait_for(2, WAIT).await;
    node.settle().await;
    let (s, list) = node.get(&format!("/webhooks/{hook}/deliveries?status=dead")).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["TotalCount"], 1, "{list}");
    let id = list["Deliveries"][0]["ID"].as_i64().unwrap();
    let (s, one) = node.get(&format!("/Webhooks/{hook}/Deliveries/{id}")).await;
    assert_eq!(s, 200, "{one}");
    let codes: Vec<Value> = one["AttemptLog"].as_array().unwrap().iter().map(|a| a["StatusCode"].clone()).collect();
    assert_eq!(codes, vec![json!(500), json!(502)]);
    assert!(one["AttemptLog"][0]["DurationMs"].is_number());
    // resend: delivered, with the same event id
    let (s, r) = node.post(&format!("/webhooks/{hook}/deliveries/{id}/resend"), json!({})).await;
    assert_eq!(s, 200, "{r}");
    let got = rx.wait_for(3, WAIT).await;
    assert_eq!(got[2].header("webhook-id"), got[0].header("webhook-id"));
    node.settle().await;
    let (_, one) = node.get(&format!("/webhooks/{hook}/deliveries/{id}")).await;
    assert_eq!(one["Status"], "delivered");
    // bulk recovery of a window
    rx.script([Reply::status(500), Reply::status(500)]);
    click_all(&node, &node.track(message_with_links("m-2", 1)).await).await;
    rx.wait_for(5, WAIT).await;
    node.settle().await;
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let (s, r) = node.post(&format!("/webhooks/{hook}/deliveries/recover"), json!({ "From": fmt(now - time::Duration::hours(1)), "To": fmt(now + time::Duration::minutes(1)) })).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["Recovered"], 1);
    rx.wait_for(6, WAIT).await;
    // unknown ids and bad input
    let (s, v) = node.get(&format!("/webhooks/{hook}/deliveries/999999")).await;
    assert_eq!((s, v["ErrorCode"].as_i64()), (422, Some(1201)), "{v}");
    let (s, _) = node.get(&format!("/webhooks/{hook}/deliveries?count=0")).await;
    assert_eq!(s, 422);
    let (s, _) = node.post(&format!("/webhooks/{hook}/deliveries/recover"), json!({ "From": "x", "To": "y" })).await;
    assert_eq!(s, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_attempts_in_flight_finish() {
    let mut node = TestNode::start("").await;
    let rx = Receiver::start().await;
    rx.set_default(Reply::slow(200, Duration::from_millis(700)));
    node.add_webhook(&rx.url("/hook"), true).await;
    click_all(&node, &node.track(message_with_links("m-1", 1)).await).await;
    rx.wait_for(1, WAIT).await;
    let t = Instant::now();
    node.stop().await;
    assert!(t.elapsed() >= Duration::from_millis(300), "shutdown did not wait for the attempt");
    rx.set_default(Reply::status(200));
    let dir = node.dir.clone();
    let node = TestNode::start_in(dir, "").await;
    node.settle().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.requests().len(), 1, "the finished attempt was repeated after the restart");
}

/// `kill -9` while attempts are in flight: after a restart every event arrives, with the
/// id it had before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_attempts_in_flight_loses_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let (redirect, api) = (free_port(), free_port());
    let config = dir.path().join("clickhook.toml");
    let mut text = base_config(&dir.path().join("store"), redirect);
    text.push_str(&format!("[listen]\nredirect = \"127.0.0.1:{redirect}\"\napi = \"127.0.0.1:{api}\"\n"));
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("clickhook.log");
    let rx = Receiver::start().await;
    // every attempt hangs: all of them are in flight when the process dies
    rx.set_default(Reply::slow(200, Duration::from_secs(60)));

    let mut p = Process::spawn(&config, api, &log);
    let http = clickhook_testkit::http_client();
    let post = |path: &str, body: Value| http.post(format!("http://127.0.0.1:{api}{path}")).header("X-Postmark-Server-Token", TOKEN).json(&body).send();
    assert_eq!(post("/webhooks", json!({ "Url": rx.url("/hook"), "Triggers": { "Click": { "Enabled": true } } })).await.unwrap().status(), 200);
    let n = 6;
    let msg: Value = post("/tracking/messages", message_with_links("m-kill", n)).await.unwrap().json().await.unwrap();
    for l in links(&msg, "HTML") {
        assert_eq!(http.get(&l).send().await.unwrap().status(), 302);
    }
    let before = rx.wait_for(n, WAIT).await;
    let ids_before: HashSet<String> = before.iter().map(|r| r.header("webhook-id").unwrap().to_owned()).collect();
    p.kill9();

    rx.set_default(Reply::status(200));
    let _p2 = Process::spawn(&config, api, &log);
    // the leases of the dead process run out (request_timeout 2 s + 5 s), then each is retried
    let all = rx.wait_for(2 * n, Duration::from_secs(40)).await;
    let after: Vec<&clickhook_testkit::receiver::Received> = all.iter().skip(before.len()).collect();
    let ids_after: HashSet<String> = after.iter().map(|r| r.header("webhook-id").unwrap().to_owned()).collect();
    assert_eq!(ids_after, ids_before, "event ids changed or an event was lost across the crash");
    let links_after: HashSet<String> = after.iter().map(|r| r.json()["OriginalLink"].as_str().unwrap().to_owned()).collect();
    assert_eq!(links_after.len(), n);
}
