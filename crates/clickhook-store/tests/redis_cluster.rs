//! The conformance suite on the Redis backend, against a real Redis Cluster (3 masters,
//! 3 replicas) started once for this test binary. Each test gets its own key prefix, which
//! is inside every hash tag, so tests never see each other's data and their keys still
//! spread over the cluster's slots.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use clickhook_store::Store;
use clickhook_store::redis::{RedisOptions, RedisStore};

#[path = "../../../tests/src/redis.rs"]
mod redis_launcher;

use redis_launcher::RedisCluster;

/// Never dropped (it is a static): the launcher's watchdogs kill the nodes when the test
/// binary exits.
static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();

async fn fresh() -> Arc<dyn Store> {
    static N: AtomicU32 = AtomicU32::new(0);
    let urls = tokio::task::spawn_blocking(|| CLUSTER.get_or_init(RedisCluster::start).urls()).await.unwrap();
    let prefix = format!("t{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let opts = RedisOptions { prefix, ..RedisOptions::default() };
    Arc::new(RedisStore::connect_cluster_with(&urls, opts).await.expect("connect to the test cluster"))
}

clickhook_store::conformance_suite!(fresh().await);

// ---- beyond the conformance suite: a master fails over ---------------------------------

use std::time::{Duration, Instant};

use clickhook_store::{HitDecision, Settled, StoreError};

fn a_hit(message_id: &str) -> clickhook_core::Hit {
    clickhook_core::Hit {
        id: uuid::Uuid::now_v7(),
        message_id: message_id.into(),
        original_link: "https://example.com/".into(),
        location: clickhook_core::ClickLocation::Html,
        sent_at: 0,
        received_at_ms: clickhook_core::timefmt::unix_ms(time::OffsetDateTime::now_utc()),
        ip: "127.0.0.1".parse().unwrap(),
        user_agent: "test".into(),
    }
}

async fn eventually<T>(mut f: impl AsyncFnMut() -> Result<T, StoreError>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("still failing after 30 s: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_keeps_working_after_a_master_fails_over() {
    // Its own cluster: killing a master must not disturb the conformance cases.
    let mut cluster = tokio::task::spawn_blocking(RedisCluster::start).await.unwrap();
    let store = RedisStore::connect_cluster(&cluster.urls()).await.unwrap();
    // messages in all 16 shards, so some live on the master that dies
    let hits: Vec<_> = (0..64).map(|i| a_hit(&format!("msg-{i}"))).collect();
    for h in &hits {
        store.append_hit(h).await.unwrap();
    }
    let killed_at = Instant::now();
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.kill_master(0);
        cluster
    })
    .await
    .unwrap();

    // Writes to the dead master's slots fail (Unavailable) until its replica has taken over
    // (node timeout 2 s + election), then the store finds the new master by itself.
    // Replication is asynchronous, so a write acknowledged just before the kill could be
    // lost; on loopback it has always arrived.
    let during: Vec<_> = (0..16).map(|i| a_hit(&format!("during-{i}"))).collect();
    for h in &during {
        eventually(async || store.append_hit(h).await).await;
    }
    assert!(killed_at.elapsed() < Duration::from_secs(20), "healed after {:?}", killed_at.elapsed());
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.wait_ok(Duration::from_secs(30));
        cluster
    })
    .await
    .unwrap();
    let mut claimed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while claimed.len() < hits.len() + during.len() && Instant::now() < deadline {
        match store.claim_hits(100, Duration::from_secs(60)).await {
            Ok(c) if c.is_empty() => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok(c) => claimed.extend(c),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert_eq!(claimed.len(), hits.len() + during.len(), "every hit is claimable after the failover");
    for h in &claimed {
        assert_eq!(eventually(async || store.settle_hit(h.id, HitDecision::Discard).await).await, Settled::Discarded);
    }
    assert_eq!(store.stats().await.unwrap().pending_hits, 0);
    tokio::task::spawn_blocking(move || drop(cluster)).await.ok();
}
