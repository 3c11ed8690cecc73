//! How the Messages API's click search scales: fill a store with N clicks, then time
//! searches with and without filters, and report what the clicks cost in storage.
//!
//! `cargo run --release -p clickhook-testkit --example click_search_scale -- [embedded|redis] [CLICKS]`
//!
//! Clicks are written through the store contract (append, claim, settle), as the click
//! processor writes them, 64 at a time. Their fields vary the way real traffic does:
//! 200,000 recipients, 50 tags, a handful of browser families and platforms, 100 countries
//! of 20 cities each, 2 streams; one server. Each search runs 5 times; the median is
//! printed. The Redis variant starts a redis-server of its own on a free loopback port.
//! With `CLICK_SCALE_DIR=/some/dir` the embedded database is kept there and reused by later
//! runs (only the searches are run again).

use std::sync::Arc;
use std::time::Instant;

use clickhook_core::event::Platform;
use clickhook_core::{ClickEvent, Hit};
use clickhook_store::{ClickField, ClickOutcome, ClickRow, ClickSearch, HitDecision, StatKeys, Store, search};
use clickhook_testkit::redis::RedisServer;
use futures_util::future::join_all;

fn event(i: usize) -> (String, ClickEvent) {
    let mut e = ClickEvent::example();
    let message = format!("m-{}", i / 3);
    e.message_id = message.clone();
    e.recipient = format!("r{}@example.com", (i / 3) % 200_000);
    e.tag = format!("tag-{}", (i / 3) % 50);
    e.client.family = ["Chrome", "Safari", "Firefox", "Edge", "Samsung Internet", "Opera"][i % 6].into();
    e.client.name = format!("{} {}", e.client.family, 100 + i % 30);
    e.platform = [Platform::Desktop, Platform::Mobile, Platform::Mobile, Platform::WebMail, Platform::Unknown][i % 5];
    let country = (i / 7) % 100;
    e.geo.country = Some(format!("Country {country}"));
    e.geo.city = Some(format!("City {country}-{}", (i / 11) % 20));
    e.geo.region = Some(format!("Region {country}-{}", (i / 13) % 5));
    e.message_stream = ["outbound", "broadcast"][(i / 3) % 2].into();
    e.original_link = format!("https://example.com/{}", i % 3);
    (message, e)
}

async fn fill(store: Arc<dyn Store>, n: usize) {
    let base = clickhook_core::timefmt::unix_ms(time::OffsetDateTime::now_utc()) - n as i64;
    let started = Instant::now();
    let mut next = 0;
    while next < n {
        let batch: Vec<usize> = (next..(next + 64).min(n)).collect();
        next += batch.len();
        join_all(batch.into_iter().map(|i| {
            let store = store.clone();
            async move {
                let (message, e) = event(i);
                let hit = Hit {
                    id: uuid::Uuid::now_v7(),
                    message_id: message.clone(),
                    original_link: e.original_link.clone(),
                    location: clickhook_core::ClickLocation::Html,
                    sent_at: 0,
                    received_at_ms: base + i as i64,
                    ip: "127.0.0.1".parse().unwrap(),
                    user_agent: "x".into(),
                };
                store.append_hit(&hit).await.unwrap();
                let outcome = ClickOutcome {
                    mark_key: format!("{message}|{}|{}", e.recipient, e.original_link),
                    expires_at_ms: base + 45 * 86_400_000,
                    event_id: uuid::Uuid::new_v4(),
                    payload: String::new(),
                    webhook_ids: vec![],
                    click: ClickRow { event_id: uuid::Uuid::nil(), server: "s".into(), message_id: message, received_at_ms: hit.received_at_ms, unique: false, event: e.clone() },
                    stats: Some(StatKeys { day: "2026-12-02".into(), stream: search::normalize(&e.message_stream), tag: search::normalize(&e.tag), metrics: search::stat_metrics(&e) }),
                };
                store.settle_hit(hit.id, HitDecision::Click(Box::new(outcome))).await.unwrap();
            }
        }))
        .await;
        if next % 100_000 < 64 {
            println!("  {next} clicks stored ({:.0}/s)", next as f64 / started.elapsed().as_secs_f64());
        }
    }
}

async fn time_search(store: &Arc<dyn Store>, what: &str, q: ClickSearch) {
    let mut times = Vec::new();
    let mut total = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let (n, rows) = store.search_clicks(&q).await.unwrap();
        times.push(t.elapsed());
        total = n;
        assert!(rows.len() <= q.count);
    }
    times.sort();
    println!("{what:<48} {total:>8} found   median {:>8.1} ms   max {:>8.1} ms", times[2].as_secs_f64() * 1e3, times[4].as_secs_f64() * 1e3);
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let backend = args.next().unwrap_or_else(|| "embedded".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    // CLICK_SCALE_DIR keeps the embedded database between runs (filled once, then reused).
    let keep = std::env::var_os("CLICK_SCALE_DIR").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let reuse = keep.is_some() && dir.join("clickhook.sqlite3").exists() && backend == "embedded";
    let mut redis = None;
    let store: Arc<dyn Store> = match backend.as_str() {
        "embedded" => Arc::new(clickhook_store::embedded::EmbeddedStore::open(&dir).unwrap()),
        "redis" => {
            let r = RedisServer::start();
            let s = clickhook_store::redis::RedisStore::connect_standalone(&r.url()).await.unwrap();
            redis = Some(r);
            Arc::new(s)
        }
        other => panic!("backend {other:?}: embedded or redis"),
    };
    if reuse {
        println!("reusing the clicks stored in {}", dir.display());
    } else {
        println!("filling the {backend} store with {n} clicks...");
        fill(store.clone(), n).await;
    }
    // Let the planner see the data, as the hourly purge does.
    store.purge_expired(0).await.unwrap();
    let q = |count| ClickSearch { count, ..ClickSearch::new("s") };
    println!("searches over {n} clicks (page of 50 unless noted):");
    time_search(&store, "no filter", q(50)).await;
    time_search(&store, "no filter, offset 9950", ClickSearch { offset: 9950, ..q(50) }).await;
    time_search(&store, "recipient", q(50).filter(ClickField::Recipient, "r12345@example.com")).await;
    time_search(&store, "tag (2% of clicks)", q(50).filter(ClickField::Tag, "tag-7")).await;
    time_search(&store, "city (0.05%)", q(50).filter(ClickField::City, "City 42-3")).await;
    time_search(&store, "platform = Mobile (40%)", q(50).filter(ClickField::Platform, "mobile")).await;
    time_search(&store, "platform + client family (7%)", q(50).filter(ClickField::Platform, "mobile").filter(ClickField::ClientFamily, "safari")).await;
    time_search(&store, "platform + country (0.4%)", q(50).filter(ClickField::Platform, "desktop").filter(ClickField::Country, "country 42")).await;
    time_search(&store, "stream + client family + platform", q(50).filter(ClickField::MessageStream, "outbound").filter(ClickField::ClientFamily, "chrome").filter(ClickField::Platform, "desktop")).await;
    time_search(&store, "one message", ClickSearch { message_id: Some("m-4242".into()), ..q(50) }).await;
    let t = Instant::now();
    let rows = store.click_stats(&clickhook_store::StatsQuery { server: "s".into(), ..Default::default() }).await.unwrap();
    println!("daily counters (all days): {} rows in {:.1} ms", rows.len(), t.elapsed().as_secs_f64() * 1e3);
    match &redis {
        Some(r) => {
            let info = r.info("memory");
            let used: f64 = info.lines().find_map(|l| l.strip_prefix("used_memory:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0);
            println!("redis used_memory: {:.0} MB, {:.0} bytes per click", used / 1e6, used / n as f64);
        }
        None => {
            let size: u64 = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
            println!("sqlite files: {:.0} MB, {:.0} bytes per click", size as f64 / 1e6, size as f64 / n as f64);
        }
    }
}
