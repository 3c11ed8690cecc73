//! The instrumented decorator: transparent (the whole conformance suite passes through it)
//! and measuring (every call lands in the duration histogram, failures in the error counter).

use std::sync::Arc;
use std::time::Duration;

use clickhook_core::{ClickLocation, Hit, TokenPayload};
use clickhook_store::conformance::message;
use clickhook_store::instrumented::Instrumented;
use clickhook_store::{Store, StoreError, embedded::EmbeddedStore};

fn fresh() -> Arc<dyn Store> {
    // Leaked on purpose: the directory must outlive the store's writer thread.
    let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    Instrumented::wrap(Arc::new(EmbeddedStore::open(dir.path()).unwrap()))
}

clickhook_store::conformance_suite!(fresh());

/// The value of one series in Prometheus text, 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

#[test]
fn every_call_is_timed_and_failures_are_counted_by_kind() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Full(clickhook_store::instrumented::DURATION.into()), &[0.001, 0.01, 0.1, 1.0])
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    // A local recorder is per thread: run the store calls on this thread.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            let store = fresh();
            store.ping().await.unwrap();
            store.put_message(&message("m1", "a"), i64::MAX / 2).await.unwrap();
            // The same MessageID from another server is a conflict.
            assert!(matches!(store.put_message(&message("m1", "b"), i64::MAX / 2).await, Err(StoreError::Conflict(_))));
            assert!(store.get_message("m1").await.unwrap().is_some());
            // A caller that stops waiting (as the link host does after store.append_timeout)
            // leaves an abandoned call behind.
            let p = TokenPayload { message_id: "m1".into(), original_link: "https://example.com".into(), location: ClickLocation::Html, sent_at: 0 };
            let hit = Hit::new(uuid::Uuid::now_v7(), p, 1, "127.0.0.1".parse().unwrap(), "ua");
            let mut call = Box::pin(store.append_hit(&hit));
            let first = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "a durable append cannot be done on its first poll");
            drop(call);
            // Waits are not calls.
            store.wait_for_hits(Duration::from_millis(1)).await;
        });
    });
    let text = handle.render();
    assert_eq!(value(&text, r#"clickhook_store_duration_seconds_count{op="ping"}"#), 1.0, "{text}");
    assert_eq!(value(&text, r#"clickhook_store_duration_seconds_count{op="put_message"}"#), 2.0, "{text}");
    assert_eq!(value(&text, r#"clickhook_store_duration_seconds_count{op="get_message"}"#), 1.0, "{text}");
    assert_eq!(value(&text, r#"clickhook_store_duration_seconds_bucket{op="get_message",le="+Inf"}"#), 1.0, "{text}");
    assert_eq!(value(&text, r#"clickhook_store_errors_total{op="put_message",kind="conflict"}"#), 1.0, "{text}");
    assert_eq!(value(&text, r#"clickhook_store_errors_total{op="append_hit",kind="abandoned"}"#), 1.0, "{text}");
    assert_eq!(value(&text, r#"clickhook_store_duration_seconds_count{op="append_hit"}"#), 0.0, "an abandoned call has no duration: {text}");
    assert!(!text.contains("wait_for_hits"), "{text}");
    assert!(!text.contains(r#"kind="unavailable""#), "{text}");
}
