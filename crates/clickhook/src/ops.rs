//! The node's operational plumbing: the Prometheus recorder (histogram buckets, metric
//! descriptions, upkeep) and the task that exports the store's queue counts as gauges and
//! hands them to `/readyz`.
//!
//! Every metric clickhook records is described in [`describe`] and listed in
//! ARCHITECTURE.md's metrics table and the README's "Operating" section.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clickhook_core::timefmt;
use clickhook_store::Store;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

/// Buckets of every `*_seconds` histogram (HTTP requests, store calls): 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Buckets of `clickhook_delivery_duration_seconds`: a webhook attempt may take up to
/// `webhooks.request_timeout` (at most 5 min).
pub const DELIVERY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 300.0];

/// How often the queue counts are read, and the histograms' raw samples folded into buckets.
pub const REFRESH: Duration = Duration::from_secs(5);
/// The longest one reading of the queue counts may take.
pub const STATS_TIMEOUT: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process (every node in it shares it) and
/// returns its handle; `None` when another recorder was installed first.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("clickhook_delivery_duration_seconds".into()), DELIVERY_BUCKETS))
                .expect("static, non-empty buckets")
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| {
                describe();
                handle
            })
        })
        .clone()
}

/// `# HELP` text for every metric.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("clickhook_http_requests_total", "HTTP requests answered, by listener (redirect, api), status, and for the API method and route template.");
    describe_histogram!("clickhook_http_request_duration_seconds", "Time from request to response head, by listener and (API) route template.");
    describe_counter!("clickhook_hits_total", "Requests on valid tracked links, by outcome: recorded, spooled, not_a_click (HEAD, prefetch), after_retention.");
    describe_counter!("clickhook_hits_unrecorded_total", "Hits neither stored nor spooled (redirected anyway).");
    describe_counter!("clickhook_tokens_rejected_total", "Tracked-link requests refused with 404, by reason: malformed, unknown_key, bad_signature, bad_content.");
    describe_counter!("clickhook_clicks_total", "Hits decided by the click processor, by outcome: unique, repeat, scanner (a scanner's first hit of a link), scanner_repeat, unknown_message, after_retention, already_settled.");
    describe_counter!("clickhook_bot_verdicts_total", "Bot verdicts on hits settled as clicks, by verdict: human, suspected, scanner.");
    describe_counter!("clickhook_bot_reasons_total", "Reasons behind bot verdicts (a hit may have several), by reason: the stable codes of the README's \"Bots and link scanners\".");
    describe_gauge!("clickhook_bot_held_hits", "Hits held in this processor's settle window (bots.settle_seconds) before their verdict.");
    describe_counter!("clickhook_bot_relabelled_too_late_total", "Hits a later burst would have made scanners but that were already decided (not held).");
    describe_histogram!("clickhook_store_duration_seconds", "Store call durations, by op (the Store method).");
    describe_counter!("clickhook_store_errors_total", "Failed store calls, by op and kind: unavailable, conflict, abandoned (the caller stopped waiting).");
    describe_gauge!("clickhook_queue_pending_hits", "Hits stored and not yet processed (store-wide; the same on every node).");
    describe_gauge!("clickhook_queue_pending_deliveries", "Deliveries waiting for an attempt or a retry (store-wide).");
    describe_gauge!("clickhook_queue_dead_deliveries", "Dead letters: deliveries whose retry schedule ran out, kept until purged (store-wide).");
    describe_gauge!("clickhook_queue_oldest_pending_delivery_age_seconds", "Age of the oldest pending delivery, 0 when none (store-wide).");
    describe_counter!("clickhook_deliveries_total", "Delivery attempts and drops, by outcome (delivered, stopped, retry, dead, dropped) and webhook id.");
    describe_counter!("clickhook_delivery_retries_total", "Attempts that were retries (not a delivery's first attempt), by webhook id.");
    describe_histogram!("clickhook_delivery_duration_seconds", "Webhook attempt durations, by webhook id.");
    describe_counter!("clickhook_deliveries_deferred_total", "Deliveries held back without using an attempt, by reason: busy, circuit_open.");
    describe_counter!("clickhook_circuit_opened_total", "Failures that opened or re-opened a webhook's circuit breaker.");
    describe_gauge!("clickhook_spool_hits", "Hits in this node's spool, waiting to be replayed into the store.");
    describe_gauge!("clickhook_spool_store_down", "1 while this node's link host sends hits to the spool because the store failed it.");
    describe_counter!("clickhook_messages_tracked_total", "Messages tracked through POST /tracking/messages.");
    describe_counter!("clickhook_links_tracked_total", "Links rewritten into tracked links.");
}

/// Folds histogram samples into their buckets every [`REFRESH`], so that a process whose
/// metrics are never scraped (no `api` role) does not keep them all.
pub async fn run_upkeep(handle: PrometheusHandle, cancel: CancellationToken) {
    loop {
        handle.run_upkeep();
        tokio::select! {
            () = tokio::time::sleep(REFRESH) => {}
            () = cancel.cancelled() => return,
        }
    }
}

/// Reads [`Store::stats`] every `interval` (each reading bounded by [`STATS_TIMEOUT`]),
/// sets the `clickhook_queue_*` gauges and gives the reading to `/readyz`.
pub async fn run_queue_stats(store: Arc<dyn Store>, health: clickhook_api::ops::Health, interval: Duration, cancel: CancellationToken) {
    loop {
        let reading = match tokio::time::timeout(STATS_TIMEOUT, store.stats()).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {}s", STATS_TIMEOUT.as_secs())),
        };
        let now_ms = timefmt::unix_ms(time::OffsetDateTime::now_utc());
        match &reading {
            Ok(s) => {
                metrics::gauge!("clickhook_queue_pending_hits").set(s.pending_hits as f64);
                metrics::gauge!("clickhook_queue_pending_deliveries").set(s.pending_deliveries as f64);
                metrics::gauge!("clickhook_queue_dead_deliveries").set(s.dead_deliveries as f64);
                let age_ms = s.oldest_pending_delivery_ms.map_or(0, |t| now_ms.saturating_sub(t).max(0));
                metrics::gauge!("clickhook_queue_oldest_pending_delivery_age_seconds").set(age_ms as f64 / 1000.0);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the store's queue counts; the clickhook_queue_* gauges keep their last values"),
        }
        health.record_queue(reading, now_ms);
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = cancel.cancelled() => return,
        }
    }
}
