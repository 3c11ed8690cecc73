//! How fast one node turns clicks into delivered webhooks on this machine.
//!
//! `cargo run --release -p clickhook-testkit --example delivery_throughput [CLICKS]`
//!
//! Starts a node in-process on the embedded store with one webhook pointing at the test
//! kit's receiver (all on loopback), clicks CLICKS distinct tracked links (default 5000)
//! with 32 concurrent clients, and reports the redirect rate and the end-to-end rate: from
//! the first click until the receiver has every event. A rough figure for one machine, not
//! a benchmark: the benchmark harness compares against baselines measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clickhook_testkit::node::{TestNode, links};
use clickhook_testkit::receiver::Receiver;
use serde_json::json;

#[tokio::main]
async fn main() {
    let clicks: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    let node = Arc::new(TestNode::start("[webhooks]\nconcurrency = 256\nper_webhook_concurrency = 64\n[log]\nlevel = \"warn\"").await);
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let mut all = Vec::new();
    let per_message = 1000;
    for m in 0..clicks.div_ceil(per_message) {
        let n = per_message.min(clicks - m * per_message);
        let html: String = (0..n).map(|i| format!("<a href=\"https://example.com/{m}/{i}\">x</a>")).collect();
        let msg = node.track(json!({ "MessageID": format!("bench-{m}"), "Recipient": "r@example.com", "HtmlBody": html })).await;
        all.extend(links(&msg, "HTML"));
    }
    let all = Arc::new(all);
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (node, all, next) = (node.clone(), all.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(l) = all.get(i) else { break };
                assert_eq!(node.click(l, "8.8.8.8").await.status(), 302);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let redirected = started.elapsed();
    rx.wait_for(clicks, Duration::from_secs(600)).await;
    let delivered = started.elapsed();
    println!(
        "{clicks} clicks: redirects {:.0}/s ({redirected:.2?}); all webhooks delivered after {delivered:.2?}: {:.0} events/s end to end",
        clicks as f64 / redirected.as_secs_f64(),
        clicks as f64 / delivered.as_secs_f64()
    );
}
