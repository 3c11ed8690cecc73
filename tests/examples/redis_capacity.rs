//! What a tracked message and a click cost in Redis: commands, operations and bytes.
//!
//! `cargo run --release -p clickhook-testkit --example redis_capacity [MESSAGES] [LINKS]`
//!
//! Starts a redis-server of its own on a free loopback port and one clickhook node on it
//! (every role), tracks MESSAGES messages of LINKS links, clicks every link once (each a
//! unique click with one webhook), waits until every webhook is delivered, and reads Redis's
//! INFO before and after each phase. "commands" are what clients sent (a Lua script is one);
//! "operations" count the commands run inside scripts too (INFO commandstats).

use std::time::{Duration, Instant};

use clickhook_testkit::node::{TestNode, links};
use clickhook_testkit::receiver::Receiver;
use clickhook_testkit::redis::RedisServer;
use serde_json::json;

fn field(info: &str, name: &str) -> f64 {
    info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
}

fn ops(info: &str) -> f64 {
    info.lines()
        .filter(|l| l.starts_with("cmdstat_"))
        .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<f64>().ok())
        .sum()
}

struct Snap {
    mem: f64,
    cmds: f64,
    ops: f64,
}

fn snap(r: &RedisServer) -> Snap {
    Snap { mem: field(&r.info("memory"), "used_memory"), cmds: field(&r.info("stats"), "total_commands_processed"), ops: ops(&r.info("commandstats")) }
}

fn report(what: &str, n: usize, a: &Snap, b: &Snap) {
    let n = n as f64;
    println!(
        "{what}: {:.1} commands, {:.1} operations, {:.0} bytes of Redis memory each",
        (b.cmds - a.cmds) / n,
        (b.ops - a.ops) / n,
        (b.mem - a.mem) / n
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let messages: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let per: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let redis = RedisServer::start();
    let node = TestNode::start(&format!("[store]\nbackend = \"redis\"\nredis_url = \"{}\"\n[log]\nlevel = \"warn\"", redis.url())).await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    // let the background pollers settle into their idle rhythm before measuring
    tokio::time::sleep(Duration::from_secs(1)).await;

    let idle_a = snap(&redis);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_b = snap(&redis);
    let idle_cmds_per_s = (idle_b.cmds - idle_a.cmds) / 5.0;
    println!("idle node: {idle_cmds_per_s:.1} commands/s of polling");

    let a = snap(&redis);
    let mut all = Vec::new();
    for m in 0..messages {
        let html: String = (0..per).map(|i| format!("<a href=\"https://example.com/article/{m}/{i}?utm_source=newsletter\">read</a>")).collect();
        let msg = node
            .track(json!({ "MessageID": format!("cap-{m}"), "Recipient": format!("reader{m}@example.com"), "Tag": "newsletter",
                           "Metadata": { "campaign": "winter" }, "HtmlBody": html }))
            .await;
        all.extend(links(&msg, "HTML"));
    }
    let b = snap(&redis);
    report(&format!("tracked message ({per} links)"), messages, &a, &b);

    let started = Instant::now();
    for l in &all {
        node.click(l, "8.8.8.8").await;
    }
    rx.wait_for(all.len(), Duration::from_secs(300)).await;
    node.settle().await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut c = snap(&redis);
    // take the idle polling out of the click phase
    c.cmds -= idle_cmds_per_s * elapsed;
    c.ops -= idle_cmds_per_s * elapsed;
    report("unique click with one webhook, hit to delivered", all.len(), &b, &c);
}
