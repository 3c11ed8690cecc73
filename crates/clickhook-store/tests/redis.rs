//! The conformance suite on the Redis backend, against a real standalone `redis-server`:
//! a fresh server per test (tests run in parallel threads).

use std::sync::Arc;

use clickhook_store::Store;
use clickhook_store::redis::RedisStore;

#[path = "../../../tests/src/redis.rs"]
mod redis_launcher;

use redis_launcher::RedisServer;

thread_local! {
    /// The server of the test running on this thread. `#[tokio::test]` polls the test's
    /// body on the test's own thread, which ends with the test: the server is dropped
    /// (killed) then. Should that ever not happen, the launcher's watchdog still kills it
    /// when the test binary exits.
    static SERVER: std::cell::RefCell<Option<RedisServer>> = const { std::cell::RefCell::new(None) };
}

async fn fresh() -> Arc<dyn Store> {
    let server = RedisServer::start();
    let url = server.url();
    SERVER.with(|s| *s.borrow_mut() = Some(server));
    Arc::new(RedisStore::connect_standalone(&url).await.expect("connect to the test redis-server"))
}

clickhook_store::conformance_suite!(fresh().await);

// ---- beyond the conformance suite: what an outage of Redis does -------------------------

use std::time::{Duration, Instant};

use clickhook_store::StoreError;
use clickhook_store::redis::RedisOptions;

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

fn quick() -> RedisOptions {
    RedisOptions { connect_timeout: Duration::from_millis(500), response_timeout: Duration::from_secs(1), ..RedisOptions::default() }
}

/// Retries `f` until it succeeds or 15 s pass.
async fn eventually<T>(mut f: impl AsyncFnMut() -> Result<T, StoreError>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("still failing after 15 s: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_is_unavailable_quickly_and_the_store_reconnects() {
    let mut server = RedisServer::start();
    let store = RedisStore::connect_standalone_with(&server.url(), quick()).await.unwrap();
    store.append_hit(&a_hit("m")).await.unwrap();

    server.stop();
    let started = Instant::now();
    let err = store.append_hit(&a_hit("m")).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(store.ping().await.is_err());
    // (the manager's own reconnect attempts, not the ~10 s of redis-rs's defaults)
    assert!(started.elapsed() < Duration::from_secs(3), "errors come quickly, took {:?}", started.elapsed());

    server.start_again();
    let h = a_hit("m");
    eventually(async || store.append_hit(&h).await).await;
    // Without persistence the restarted server is empty: only the new hit is there.
    let claimed = store.claim_hits(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(claimed, vec![h]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_appendfsync_always_an_acknowledged_hit_survives_a_crash_of_redis() {
    let mut server = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let store = RedisStore::connect_standalone_with(&server.url(), quick()).await.unwrap();
    let hits: Vec<_> = (0..20).map(|i| a_hit(&format!("m-{i}"))).collect();
    for h in &hits {
        store.append_hit(h).await.unwrap();
    }
    let leased = store.claim_hits(5, Duration::from_secs(1)).await.unwrap();
    assert_eq!(leased.len(), 5);

    server.stop(); // SIGKILL
    server.start_again();

    // the unleased hits at once, the leased ones when their lease (kept in Redis) runs out
    let mut back = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while back.len() < hits.len() && Instant::now() < deadline {
        match store.claim_hits(100, Duration::from_secs(60)).await {
            Ok(c) if !c.is_empty() => back.extend(c),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    back.sort_by_key(|h| h.id);
    assert_eq!(back, hits, "every acknowledged hit, leased or not, is there after the crash");
    // and the replay marker survived too: appending one again changes nothing
    store.append_hit(&hits[0]).await.unwrap();
    assert_eq!(store.stats().await.unwrap().pending_hits, 20);
}

// ---- password auth from the URL, and rediss:// with a private CA ------------------------

/// Two conformance cases, each on its own key prefix of a store connected as given.
async fn a_few_conformance_cases(url: &str, opts: RedisOptions) {
    let connect = async |prefix: &str| -> Arc<dyn Store> {
        let store = RedisStore::connect_standalone_with(url, RedisOptions { prefix: prefix.into(), ..opts.clone() }).await;
        let store: Arc<dyn Store> = Arc::new(store.unwrap_or_else(|e| panic!("connect to {url}: {e}")));
        store
    };
    clickhook_store::conformance::meta_is_set_once(connect("c1").await).await;
    clickhook_store::conformance::first_click_is_unique_and_enqueues_one_delivery_per_webhook(connect("c2").await).await;
}

/// A connection that must not work: connecting fails, or the first request does; either way
/// with `Unavailable`, soon. Returns the error's text.
async fn refused(url: &str, opts: RedisOptions) -> String {
    let started = Instant::now();
    let err = match RedisStore::connect_standalone_with(url, opts).await {
        Err(e) => e,
        Ok(store) => store.ping().await.expect_err("a request on a connection that should have been refused"),
    };
    assert!(started.elapsed() < Duration::from_secs(5), "refused quickly, took {:?}", started.elapsed());
    match err {
        StoreError::Unavailable(text) => text,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_in_the_url_authenticates() {
    let server = RedisServer::start_with_password("s3cret-pass");
    let url = format!("redis://:s3cret-pass@127.0.0.1:{}", server.port);
    assert_eq!(url.trim_end_matches('/'), server.url().trim_end_matches('/'));
    RedisStore::connect_standalone(&url).await.expect("connect with the password").ping().await.unwrap();
    a_few_conformance_cases(&url, RedisOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_password_is_unavailable_not_a_panic() {
    let server = RedisServer::start_with_password("s3cret-pass");
    let wrong = refused(&format!("redis://:wrong-pass@127.0.0.1:{}", server.port), quick()).await;
    assert!(wrong.to_lowercase().contains("auth") || wrong.contains("WRONGPASS"), "{wrong}");
    let missing = refused(&format!("redis://127.0.0.1:{}", server.port), quick()).await;
    assert!(missing.contains("NOAUTH") || missing.to_lowercase().contains("auth"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_the_servers_ca_works() {
    let server = RedisServer::start_tls();
    let ca_pem = server.tls_files().unwrap().ca_pem();
    let opts = RedisOptions { ca_pem: Some(ca_pem), ..RedisOptions::default() };
    let url = format!("rediss://127.0.0.1:{}", server.port);
    RedisStore::connect_standalone_with(&url, opts.clone()).await.expect("connect over TLS").ping().await.unwrap();
    a_few_conformance_cases(&url, opts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_an_unknown_ca_is_refused_not_a_panic() {
    let server = RedisServer::start_tls();
    // system roots only: the test CA is not among them
    let err = refused(&server.tls_url(), quick()).await;
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // a plaintext client on the TLS port gets nowhere either
    refused(&format!("redis://127.0.0.1:{}", server.port), quick()).await;
}
