//! A [`Store`] decorator that measures every call the same way, whatever the backend.
//!
//! The node wraps the store it opens in [`Instrumented`], so the link host, the click
//! processor, the dispatcher and the API all go through it:
//!
//! - `clickhook_store_duration_seconds{op}` (histogram): how long each call took, for calls
//!   that completed, successfully or not;
//! - `clickhook_store_errors_total{op, kind}`: calls that failed, with `kind` one of
//!   `unavailable` (the backend failed or cannot be reached), `conflict` (the request
//!   conflicts with what is stored) or `abandoned` (the caller stopped waiting, e.g. the
//!   link host's `store.append_timeout`, before the backend answered).
//!
//! `op` is the trait method's name, a fixed set. [`Store::wait_for_hits`] and
//! [`Store::wait_for_deliveries`] wait on purpose and are passed through unmeasured; so is
//! [`Store::backend`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clickhook_core::{Hit, MessageRecord, Webhook};

use crate::{
    AttemptRecord, ClickRow, ClickSearch, DeliveryInfo, DeliveryJob, DeliveryState, HitDecision, NextStep, Result, Settled, StatRow, StatsQuery,
    Store, StoreError, StoreStats,
};

/// Histogram of store call durations, by `op`.
pub const DURATION: &str = "clickhook_store_duration_seconds";
/// Counter of failed store calls, by `op` and `kind`.
pub const ERRORS: &str = "clickhook_store_errors_total";

/// Wraps a store and measures each call (see the module docs).
pub struct Instrumented {
    inner: Arc<dyn Store>,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner }
    }

    /// The wrapped store, as the services take it.
    pub fn wrap(inner: Arc<dyn Store>) -> Arc<dyn Store> {
        Arc::new(Self::new(inner))
    }

    /// The store underneath.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }
}

/// Counts a call as abandoned when it is dropped before it finished.
struct Call {
    op: &'static str,
    started: Instant,
    finished: bool,
}

impl Call {
    fn start(op: &'static str) -> Self {
        Self { op, started: Instant::now(), finished: false }
    }

    fn finish<T>(mut self, result: &Result<T>) {
        self.finished = true;
        metrics::histogram!(DURATION, "op" => self.op).record(self.started.elapsed().as_secs_f64());
        match result {
            Ok(_) => {}
            Err(StoreError::Unavailable(_)) => metrics::counter!(ERRORS, "op" => self.op, "kind" => "unavailable").increment(1),
            Err(StoreError::Conflict(_)) => metrics::counter!(ERRORS, "op" => self.op, "kind" => "conflict").increment(1),
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.finished {
            metrics::counter!(ERRORS, "op" => self.op, "kind" => "abandoned").increment(1);
        }
    }
}

async fn measured<T>(op: &'static str, call: impl Future<Output = Result<T>>) -> Result<T> {
    let c = Call::start(op);
    let r = call.await;
    c.finish(&r);
    r
}

#[async_trait]
impl Store for Instrumented {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> Result<()> {
        measured("ping", self.inner.ping()).await
    }

    async fn get_or_init_meta(&self, key: &str, init: &str) -> Result<(String, bool)> {
        measured("get_or_init_meta", self.inner.get_or_init_meta(key, init)).await
    }

    async fn put_message(&self, message: &MessageRecord, expires_at_ms: i64) -> Result<()> {
        measured("put_message", self.inner.put_message(message, expires_at_ms)).await
    }

    async fn get_message(&self, message_id: &str) -> Result<Option<MessageRecord>> {
        measured("get_message", self.inner.get_message(message_id)).await
    }

    async fn append_hit(&self, hit: &Hit) -> Result<()> {
        measured("append_hit", self.inner.append_hit(hit)).await
    }

    async fn claim_hits(&self, max: usize, lease: Duration) -> Result<Vec<Hit>> {
        measured("claim_hits", self.inner.claim_hits(max, lease)).await
    }

    async fn settle_hit(&self, hit_id: uuid::Uuid, decision: HitDecision) -> Result<Settled> {
        measured("settle_hit", self.inner.settle_hit(hit_id, decision)).await
    }

    async fn wait_for_hits(&self, timeout: Duration) {
        self.inner.wait_for_hits(timeout).await;
    }

    async fn create_webhook(&self, webhook: Webhook) -> Result<Webhook> {
        measured("create_webhook", self.inner.create_webhook(webhook)).await
    }

    async fn list_webhooks(&self, server: &str, stream: Option<&str>) -> Result<Vec<Webhook>> {
        measured("list_webhooks", self.inner.list_webhooks(server, stream)).await
    }

    async fn get_webhook(&self, id: i64) -> Result<Option<Webhook>> {
        measured("get_webhook", self.inner.get_webhook(id)).await
    }

    async fn update_webhook(&self, webhook: &Webhook) -> Result<bool> {
        measured("update_webhook", self.inner.update_webhook(webhook)).await
    }

    async fn delete_webhook(&self, server: &str, id: i64) -> Result<bool> {
        measured("delete_webhook", self.inner.delete_webhook(server, id)).await
    }

    async fn claim_deliveries(&self, now_ms: i64, max: usize, lease: Duration) -> Result<Vec<DeliveryJob>> {
        measured("claim_deliveries", self.inner.claim_deliveries(now_ms, max, lease)).await
    }

    async fn finish_attempt(&self, delivery_id: i64, attempt: &AttemptRecord, next: NextStep) -> Result<()> {
        measured("finish_attempt", self.inner.finish_attempt(delivery_id, attempt, next)).await
    }

    async fn wait_for_deliveries(&self, timeout: Duration) {
        self.inner.wait_for_deliveries(timeout).await;
    }

    async fn defer_delivery(&self, delivery_id: i64, until_ms: i64) -> Result<()> {
        measured("defer_delivery", self.inner.defer_delivery(delivery_id, until_ms)).await
    }

    async fn get_delivery(&self, delivery_id: i64) -> Result<Option<DeliveryInfo>> {
        measured("get_delivery", self.inner.get_delivery(delivery_id)).await
    }

    async fn list_attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRecord>> {
        measured("list_attempts", self.inner.list_attempts(delivery_id)).await
    }

    async fn list_deliveries(&self, webhook_id: i64, state: Option<DeliveryState>, count: usize, offset: usize) -> Result<(u64, Vec<DeliveryInfo>)> {
        measured("list_deliveries", self.inner.list_deliveries(webhook_id, state, count, offset)).await
    }

    async fn resend_delivery(&self, webhook_id: i64, delivery_id: i64, now_ms: i64) -> Result<bool> {
        measured("resend_delivery", self.inner.resend_delivery(webhook_id, delivery_id, now_ms)).await
    }

    async fn recover_deliveries(&self, webhook_id: i64, from_ms: i64, to_ms: i64, now_ms: i64) -> Result<u64> {
        measured("recover_deliveries", self.inner.recover_deliveries(webhook_id, from_ms, to_ms, now_ms)).await
    }

    async fn search_clicks(&self, search: &ClickSearch) -> Result<(u64, Vec<ClickRow>)> {
        measured("search_clicks", self.inner.search_clicks(search)).await
    }

    async fn click_stats(&self, query: &StatsQuery) -> Result<Vec<StatRow>> {
        measured("click_stats", self.inner.click_stats(query)).await
    }

    async fn purge_expired(&self, now_ms: i64) -> Result<u64> {
        measured("purge_expired", self.inner.purge_expired(now_ms)).await
    }

    async fn stats(&self) -> Result<StoreStats> {
        measured("stats", self.inner.stats()).await
    }
}
