//! Several stateless nodes on one Redis: one webhook per unique click, and a Redis outage
//! that costs no click and slows no redirect.
//!
//! Sizes are scaled for CI; `CLICKHOOK_FULL_SCALE=1 cargo test -p clickhook-testkit --test
//! scale_out -- --nocapture` runs the full sizes of the issue (10,000 clicks, a 20 s outage).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clickhook_testkit::node::{TestNode, links};
use clickhook_testkit::receiver::Receiver;
use clickhook_testkit::redis::RedisServer;
use serde_json::json;

/// These tests load the whole machine (several nodes, Redis servers, a cluster); they take
/// turns so that each measures itself and not its neighbours.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn full_scale() -> bool {
    std::env::var("CLICKHOOK_FULL_SCALE").is_ok_and(|v| v == "1")
}

fn redis_config(url: &str) -> String {
    format!("[store]\nbackend = \"redis\"\nredis_url = \"{url}\"\n[log]\nlevel = \"warn\"")
}

/// Tracks `messages` messages of `per_message` links each through `node`; returns every
/// tracked link.
async fn track_many(node: &TestNode, messages: usize, per_message: usize) -> Vec<String> {
    let mut all = Vec::new();
    for m in 0..messages {
        let html: String = (0..per_message).map(|i| format!("<a href=\"https://example.com/{m}/{i}\">x</a>")).collect();
        let msg = node.track(json!({ "MessageID": format!("scale-{m}"), "Recipient": format!("r{m}@example.com"), "HtmlBody": html })).await;
        all.extend(links(&msg, "HTML"));
    }
    all
}

/// The same token on another node's link host.
fn on_node(link: &str, node: &TestNode) -> String {
    format!("{}/{}", node.link_base, link.rsplit('/').next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_one_redis_make_one_webhook_per_unique_click() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let redis = RedisServer::start();
    let cfg = redis_config(&redis.url());
    let nodes = Arc::new(vec![TestNode::start(&cfg).await, TestNode::start(&cfg).await, TestNode::start(&cfg).await]);
    let rx = Receiver::start().await;
    nodes[0].add_webhook(&rx.url("/hook"), true).await;
    let unique = if full_scale() { 10_000 } else { 1_000 };
    let links = track_many(&nodes[0], unique / 100, 100).await;
    assert_eq!(links.len(), unique);
    // every link once, and every fifth link a second time, spread over the three nodes
    let mut clicks: Vec<String> = Vec::new();
    for (i, l) in links.iter().enumerate() {
        clicks.push(on_node(l, &nodes[i % 3]));
        if i % 5 == 0 {
            clicks.push(on_node(l, &nodes[(i + 1) % 3]));
        }
    }
    let clicks = Arc::new(clicks);
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (nodes, clicks, next) = (nodes.clone(), clicks.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(l) = clicks.get(i) else { break };
                assert_eq!(nodes[0].click(l, "8.8.8.8").await.status(), 302);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let redirected = started.elapsed();
    rx.wait_for(unique, Duration::from_secs(120)).await;
    println!(
        "3 nodes, 1 Redis: {} clicks ({unique} unique) redirected in {redirected:?}, every webhook after {:?}",
        clicks.len(),
        started.elapsed()
    );
    for n in nodes.iter() {
        n.settle().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.requests();
    let ids: HashSet<&str> = got.iter().map(|r| r.header("webhook-id").unwrap()).collect();
    let clicked: HashSet<String> = got.iter().map(|r| r.json()["OriginalLink"].as_str().unwrap().to_owned()).collect();
    assert_eq!(clicked.len(), unique, "a unique click was lost");
    assert_eq!(ids.len(), unique);
    assert_eq!(got.len(), unique, "a unique click made more than one webhook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_slows_no_redirect_and_loses_no_click() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // Redis keeps its data across the restart, as a production Redis would.
    let mut redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let node = Arc::new(TestNode::start(&redis_config(&redis.url())).await);
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let (before, during, after) = if full_scale() { (500, 4000, 500) } else { (100, 600, 100) };
    let outage = if full_scale() { Duration::from_secs(20) } else { Duration::from_secs(4) };
    let links = track_many(&node, (before + during + after) / 100, 100).await;

    for l in &links[..before] {
        assert_eq!(node.click(l, "8.8.8.8").await.status(), 302);
    }
    redis.stop();
    // clicks spread evenly over the outage
    let gap = outage / during as u32;
    let mut latencies = Vec::new();
    let started = Instant::now();
    for (i, l) in links[before..before + during].iter().enumerate() {
        let due = started + gap * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let t = Instant::now();
        let r = node.click(l, "8.8.8.8").await;
        latencies.push(t.elapsed());
        assert_eq!(r.status(), 302);
        assert_eq!(r.headers()["location"].to_str().unwrap(), format!("https://example.com/{}/{}", (before + i) / 100, (before + i) % 100));
    }
    // readiness says what is wrong while Redis is down
    let (status, body) = node.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    redis.start_again();
    for l in &links[before + during..] {
        assert_eq!(node.click(l, "8.8.8.8").await.status(), 302);
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let p50 = latencies[latencies.len() / 2];
    println!("Redis down {outage:?}: {during} redirects, p50 {p50:?}, p99 {p99:?}, max {:?}", latencies.last().unwrap());
    assert!(p99 <= Duration::from_millis(50), "p99 {p99:?} while Redis was down");

    let total = before + during + after;
    rx.wait_for(total, Duration::from_secs(120)).await;
    node.settle().await;
    let got = rx.requests();
    let clicked: HashSet<String> = got.iter().map(|r| r.json()["OriginalLink"].as_str().unwrap().to_owned()).collect();
    assert_eq!(clicked.len(), total, "clicks were lost in the outage");
    let ids: HashSet<&str> = got.iter().map(|r| r.header("webhook-id").unwrap()).collect();
    assert_eq!(ids.len(), total, "duplicates other than retries of one id");
}

/// Writes a config for one process of a multi-process deployment on `redis_url`.
fn process_config(dir: &std::path::Path, name: &str, redis: &str, redirect: u16, api: u16) -> std::path::PathBuf {
    let mut text = clickhook_testkit::node::base_config(&dir.join(name), redirect);
    text.push_str(&format!("[listen]\nredirect = \"127.0.0.1:{redirect}\"\napi = \"127.0.0.1:{api}\"\n"));
    text = text.replace("[store]\n", &format!("[store]\nbackend = \"redis\"\nredis_url = \"{redis}\"\n"));
    text.push_str("[log]\nlevel = \"warn\"\n");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Two redirect nodes, an api+dispatch node and a dispatch node on one Redis. Mid-load, a
/// redirect node and the other dispatch node are killed with SIGKILL. Every click that got
/// its 302 makes exactly one event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_a_redirect_node_and_a_dispatch_node_loses_no_answered_click() {
    let _turn = ONE_AT_A_TIME.lock().await;
    use clickhook_testkit::process::{Process, free_port};
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nodes.log");
    let ports: Vec<(u16, u16)> = (0..4).map(|_| (free_port(), free_port())).collect();
    let cfg: Vec<_> = ports.iter().enumerate().map(|(i, (r, a))| process_config(dir.path(), &format!("n{i}"), &redis.url(), *r, *a)).collect();
    let _api = Process::spawn_roles(&cfg[0], "api,dispatch", ports[0].1, &log);
    let mut dispatch = Process::spawn_roles(&cfg[1], "dispatch", ports[0].1, &log);
    let redirect_a = Process::spawn_roles(&cfg[2], "redirect", ports[2].0, &log);
    let mut redirect_b = Process::spawn_roles(&cfg[3], "redirect", ports[3].0, &log);
    let _ = &redirect_a;

    let rx = Receiver::start().await;
    let http = clickhook_testkit::http_client();
    let api = format!("http://127.0.0.1:{}", ports[0].1);
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{api}{path}")).header("X-Postmark-Server-Token", clickhook_testkit::node::TOKEN).json(&body).send()
    };
    assert_eq!(post("/webhooks", json!({ "Url": rx.url("/hook"), "Triggers": { "Click": { "Enabled": true } } })).await.unwrap().status(), 200);
    let unique = if full_scale() { 10_000 } else { 1_000 };
    let mut tokens = Vec::new();
    for m in 0..unique / 100 {
        let html: String = (0..100).map(|i| format!("<a href=\"https://example.com/{m}/{i}\">x</a>")).collect();
        let msg: serde_json::Value = post("/tracking/messages", json!({ "MessageID": format!("k-{m}"), "Recipient": "r@example.com", "HtmlBody": html })).await.unwrap().json().await.unwrap();
        tokens.extend(links(&msg, "HTML").iter().map(|l| l.rsplit('/').next().unwrap().to_owned()));
    }
    let hosts = [ports[2].0, ports[3].0];
    let mut answered: HashSet<String> = HashSet::new();
    for (i, t) in tokens.iter().enumerate() {
        if i == tokens.len() / 3 {
            redirect_b.kill9();
        }
        if i == tokens.len() / 2 {
            dispatch.kill9();
        }
        for k in 0..2 {
            // a click, and every fourth one a repeat on the other host
            if k == 1 && i % 4 != 0 {
                continue;
            }
            // like a load balancer: a refused connection goes to the other link host
            for port in [hosts[(i + k) % 2], hosts[(i + k + 1) % 2]] {
                if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/{t}")).send().await {
                    assert_eq!(r.status(), 302);
                    answered.insert(r.headers()["location"].to_str().unwrap().to_owned());
                    break;
                }
            }
        }
    }
    assert_eq!(answered.len(), unique, "a click got no 302 from either link host");
    // Wait for every answered click's event, not for as many requests: an attempt in flight
    // when its dispatch node was killed reaches the receiver and is sent again after its lease,
    // so duplicates can make up the count while one event is still waiting for its lease.
    let distinct = || -> HashSet<String> { rx.requests().iter().map(|r| r.json()["OriginalLink"].as_str().unwrap().to_owned()).collect() };
    let waited = Instant::now();
    while distinct() != answered && waited.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = rx.requests();
    let got_links = distinct();
    assert_eq!(got_links, answered, "the receiver's clicks differ from the answered ones");
    let mut per_id: std::collections::HashMap<String, HashSet<String>> = std::collections::HashMap::new();
    for r in rx.requests() {
        per_id.entry(r.header("webhook-id").unwrap().to_owned()).or_default().insert(r.json()["OriginalLink"].as_str().unwrap().to_owned());
    }
    assert_eq!(per_id.len(), answered.len(), "an answered click made more or fewer than one event ({} requests)", got.len());
    assert!(per_id.values().all(|links| links.len() == 1), "one event id carried two clicks");
}

/// A Redis Cluster master is killed mid-load; its replica takes over. No answered click is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_master_failover_loses_no_answered_click() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut cluster = clickhook_testkit::redis::RedisCluster::start();
    let urls = cluster.urls().iter().map(|u| format!("\"{u}\"")).collect::<Vec<_>>().join(", ");
    let node = TestNode::start(&format!("[store]\nbackend = \"redis\"\nredis_cluster = [{urls}]\n[log]\nlevel = \"warn\"")).await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let unique = if full_scale() { 5_000 } else { 600 };
    let all = track_many(&node, unique / 100, 100).await;
    for (i, l) in all.iter().enumerate() {
        if i == all.len() / 3 {
            let port = cluster.kill_master(0);
            println!("killed the master on port {port}");
        }
        assert_eq!(node.click(l, "8.8.8.8").await.status(), 302);
    }
    cluster.wait_ok(Duration::from_secs(30));
    rx.wait_for(unique, Duration::from_secs(120)).await;
    node.settle().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.requests();
    let clicked: HashSet<String> = got.iter().map(|r| r.json()["OriginalLink"].as_str().unwrap().to_owned()).collect();
    assert_eq!(clicked.len(), unique, "answered clicks were lost in the failover");
    let ids: HashSet<&str> = got.iter().map(|r| r.header("webhook-id").unwrap()).collect();
    assert_eq!(ids.len(), unique);
}
