//! Webhook delivery: retries, stops, and restarts that lose nothing and repeat nothing.

use std::collections::HashSet;
use std::time::Duration;

use clickhook_testkit::node::{message_with_links, TestNode, base_config, links};
use clickhook_testkit::process::{Process, free_port};
use clickhook_testkit::receiver::{Receiver, Reply};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_retries_with_one_event_id_then_nothing_more() {
    let node = TestNode::start("").await;
    let rx = Receiver::start().await;
    rx.script([Reply::status(500), Reply::status(500)]);
    let hook = node.add_webhook(&rx.url("/hook"), true).await;
    let msg = node.track(message_with_links("m-1", 1)).await;
    node.click(&links(&msg, "HTML")[0], "8.8.8.8").await;
    let got = rx.wait_for(3, WAIT).await;
    node.settle().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_after = rx.requests();
    assert_eq!(got_after.len(), 3, "delivered again after a 200");
    let ids: HashSet<&str> = got.iter().map(|r| r.header("webhook-id").unwrap()).collect();
    assert_eq!(ids.len(), 1, "every attempt of one event carries the same id");
    assert!(got.iter().all(|r| r.body == got[0].body), "the body changed between attempts");
    // the attempt log shows 500, 500, 200
    let store = node.node.as_ref().unwrap().store.clone();
    let (_, deliveries) = store.list_deliveries(hook, None, 10, 0).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].state, clickhook_store::DeliveryState::Delivered);
    let attempts = store.list_attempts(deliveries[0].id).await.unwrap();
    assert_eq!(attempts.iter().map(|a| a.status).collect::<Vec<_>>(), vec![Some(500), Some(500), Some(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_stops_after_one_attempt_and_redirects_are_failures() {
    let node = TestNode::start("[webhooks]\nretry_schedule = [\"50ms\", \"50ms\"]").await;
    let forbidden = Receiver::start().await;
    forbidden.set_default(Reply::status(403));
    let elsewhere = Receiver::start().await;
    let moved = Receiver::start().await;
    let target: &'static str = Box::leak(elsewhere.url("/moved-here").into_boxed_str());
    moved.set_default(Reply { location: Some(target), ..Reply::status(302) });
    node.add_webhook(&forbidden.url("/hook"), true).await;
    node.add_webhook(&moved.url("/hook"), true).await;
    let msg = node.track(message_with_links("m-1", 1)).await;
    node.click(&links(&msg, "HTML")[0], "8.8.8.8").await;
    // 302 is retried as a failure until the schedule (2 retries) runs out: 3 attempts
    moved.wait_for(3, WAIT).await;
    node.settle().await;
    assert_eq!(forbidden.requests().len(), 1, "403 was retried");
    assert_eq!(moved.requests().len(), 3);
    assert!(elsewhere.requests().is_empty(), "a redirect was followed");
    let stats = node.node.as_ref().unwrap().store.stats().await.unwrap();
    assert_eq!(stats.dead_deliveries, 1, "the 302 delivery is dead-lettered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_delivers_what_it_had_pending() {
    // retries slow enough that the schedule cannot run out before the restart
    const SLOW: &str = "[webhooks]\nretry_schedule = [\"400ms\", \"400ms\", \"400ms\", \"400ms\", \"400ms\", \"400ms\", \"400ms\", \"400ms\", \"400ms\", \"400ms\"]";
    let mut node = TestNode::start(SLOW).await;
    let rx_port = free_port();
    // nothing listens on rx_port yet: every attempt fails and is retried
    node.add_webhook(&format!("http://127.0.0.1:{rx_port}/hook"), true).await;
    let msg = node.track(message_with_links("m-1", 5)).await;
    for l in links(&msg, "HTML") {
        assert_eq!(node.click(&l, "8.8.8.8").await.status(), 302);
    }
    node.stop().await;
    let dir = node.dir.clone();
    let rx = Receiver::start_on(tokio::net::TcpListener::bind(("127.0.0.1", rx_port)).await.unwrap()).await;
    let node2 = TestNode::start_in(dir, SLOW).await;
    let got = rx.wait_for(5, WAIT).await;
    node2.settle().await;
    let links: HashSet<String> = rx.requests().iter().map(|r| r.json()["OriginalLink"].as_str().unwrap().to_owned()).collect();
    assert_eq!(links.len(), 5);
    assert_eq!(rx.requests().len(), 5, "a delivery was repeated: {got:?}");
}

/// `kill -9` of the real binary with hits and deliveries pending: after a restart every
/// unique click is delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_jobs_pending_loses_nothing_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (redirect, api, rx_port) = (free_port(), free_port(), free_port());
    let config = dir.path().join("clickhook.toml");
    let mut text = base_config(&dir.path().join("store"), redirect);
    text.push_str(&format!("[listen]\nredirect = \"127.0.0.1:{redirect}\"\napi = \"127.0.0.1:{api}\"\n"));
    // retries slow enough that no delivery is dead-lettered before the restart
    assert!(text.contains("retry_schedule = [\"100ms\""), "the base config changed: update this test");
    text = text.replace("retry_schedule = [\"100ms\", \"100ms\", \"100ms\", \"100ms\", \"100ms\"]", &format!("retry_schedule = [{}]", vec!["\"500ms\""; 40].join(", ")));
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("clickhook.log");

    let mut p = Process::spawn(&config, api, &log);
    let http = clickhook_testkit::http_client();
    let call = |method: reqwest::Method, path: &str, body: serde_json::Value| {
        http.request(method, format!("http://127.0.0.1:{api}{path}"))
            .header("X-Postmark-Server-Token", clickhook_testkit::node::TOKEN)
            .json(&body)
            .send()
    };
    let r = call(reqwest::Method::POST, "/webhooks", json!({ "Url": format!("http://127.0.0.1:{rx_port}/hook"), "Triggers": { "Click": { "Enabled": true } } }))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let n = 40;
    let msg: serde_json::Value = call(reqwest::Method::POST, "/tracking/messages", message_with_links("m-kill", n)).await.unwrap().json().await.unwrap();
    let tracked = links(&msg, "HTML");
    assert_eq!(tracked.len(), n);
    // every link clicked twice: n unique clicks, n repeats
    for l in tracked.iter().chain(tracked.iter()) {
        let r = http.get(l).header("X-Forwarded-For", "8.8.8.8").send().await.unwrap();
        assert_eq!(r.status(), 302);
    }
    p.kill9();

    let rx = Receiver::start_on(tokio::net::TcpListener::bind(("127.0.0.1", rx_port)).await.unwrap()).await;
    let _p2 = Process::spawn(&config, api, &log);
    rx.wait_for(n, Duration::from_secs(30)).await;
    // give any duplicate time to show up
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = rx.requests();
    let ids: HashSet<String> = got.iter().map(|r| r.header("webhook-id").unwrap().to_owned()).collect();
    let links: HashSet<String> = got.iter().map(|r| r.json()["OriginalLink"].as_str().unwrap().to_owned()).collect();
    assert_eq!(links.len(), n, "a unique click was lost");
    assert_eq!(ids.len(), n);
    assert_eq!(got.len(), n, "a delivery was repeated");
}
