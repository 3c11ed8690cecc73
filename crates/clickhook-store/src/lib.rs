//! The store: everything clickhook keeps, behind one contract that every backend fulfils.
//!
//! The services (link host, click processor, dispatcher, API) only see [`Store`]. A backend
//! is chosen in config (`store.backend`); [`conformance`] is the one test suite that every
//! backend must pass, so that behaviour cannot drift between them.
//!
//! The contract is shaped by the guarantees the service makes:
//! - [`Store::append_hit`] returns only once the hit is durable: a 302 is sent after it.
//! - [`Store::settle_hit`] is atomic: the uniqueness mark, the click row, the delivery jobs
//!   and the removal of the hit happen together or not at all, so that a crash between any
//!   two steps neither loses a unique click nor makes a second event for it.
//! - Claims ([`Store::claim_hits`], [`Store::claim_deliveries`]) are leases: work that a
//!   crashed worker held becomes visible again when its lease runs out (at least once).

pub mod conformance;
pub mod embedded;
pub mod hit_journal;
pub mod instrumented;
pub mod redis;
mod model;
pub mod search;
pub mod thread_priority;

pub use model::*;
pub use search::{ClickField, ClickSearch, StatKeys, StatRow, StatsQuery};

use std::time::Duration;

use async_trait::async_trait;
use clickhook_core::{Hit, MessageRecord, Webhook};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or failed; the caller may retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The request conflicts with what is stored (e.g. a MessageID owned by another server).
    #[error("conflict: {0}")]
    Conflict(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A short name for logs and `/readyz`: "embedded", "redis", ...
    fn backend(&self) -> &'static str;

    /// Cheap round trip used by readiness checks.
    async fn ping(&self) -> Result<()>;

    /// Returns the value stored under `key`, storing `init` first when there is none.
    /// The flag is true when `init` was stored by this call. Used for generated secrets
    /// (signing key, default server token) that every node sharing the store must agree on.
    async fn get_or_init_meta(&self, key: &str, init: &str) -> Result<(String, bool)>;

    // ---- messages -------------------------------------------------------------------
    /// Stores (or replaces) a message record until `expires_at_ms`. A MessageID already
    /// registered by another server is a [`StoreError::Conflict`].
    async fn put_message(&self, message: &MessageRecord, expires_at_ms: i64) -> Result<()>;
    /// The record, until [`Store::purge_expired`] removes it. Whether a click on it still
    /// counts is the caller's call, made with the click's own time.
    async fn get_message(&self, message_id: &str) -> Result<Option<MessageRecord>>;

    // ---- hits -----------------------------------------------------------------------
    /// Makes a hit durable. Returns only after it would survive a crash of this process.
    async fn append_hit(&self, hit: &Hit) -> Result<()>;
    /// Leases up to `max` hits in arrival order; leased hits are invisible to other claims
    /// until `lease` passes.
    async fn claim_hits(&self, max: usize, lease: Duration) -> Result<Vec<Hit>>;
    /// Decides a claimed hit, atomically. Settling a hit that is already gone (settled by
    /// another worker after a lease ran out) changes nothing and returns `AlreadySettled`.
    async fn settle_hit(&self, hit_id: uuid::Uuid, decision: HitDecision) -> Result<Settled>;
    /// Waits until hits may be available, or `timeout`.
    async fn wait_for_hits(&self, timeout: Duration);

    // ---- webhooks -------------------------------------------------------------------
    /// Stores a new webhook; its `id` is assigned by the store.
    async fn create_webhook(&self, webhook: Webhook) -> Result<Webhook>;
    async fn list_webhooks(&self, server: &str, stream: Option<&str>) -> Result<Vec<Webhook>>;
    async fn get_webhook(&self, id: i64) -> Result<Option<Webhook>>;
    /// Replaces a stored webhook (same id and server). False when there is none.
    async fn update_webhook(&self, webhook: &Webhook) -> Result<bool>;
    /// False when there was none of that server with that id.
    async fn delete_webhook(&self, server: &str, id: i64) -> Result<bool>;

    // ---- deliveries -----------------------------------------------------------------
    /// Leases up to `max` deliveries that are due at `now_ms`.
    async fn claim_deliveries(&self, now_ms: i64, max: usize, lease: Duration) -> Result<Vec<DeliveryJob>>;
    /// Records one attempt and what comes next, atomically.
    async fn finish_attempt(&self, delivery_id: i64, attempt: &AttemptRecord, next: NextStep) -> Result<()>;
    /// Waits until deliveries may be due, or `timeout`.
    async fn wait_for_deliveries(&self, timeout: Duration);
    /// Gives a leased delivery back without counting an attempt: it is due again at
    /// `until_ms`. Used when a receiver's concurrency cap or open circuit holds it, and for
    /// attempts cut off by shutdown.
    async fn defer_delivery(&self, delivery_id: i64, until_ms: i64) -> Result<()>;
    async fn get_delivery(&self, delivery_id: i64) -> Result<Option<DeliveryInfo>>;
    async fn list_attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRecord>>;
    /// Deliveries of a webhook, newest first, optionally of one state; with the total count.
    async fn list_deliveries(&self, webhook_id: i64, state: Option<DeliveryState>, count: usize, offset: usize) -> Result<(u64, Vec<DeliveryInfo>)>;
    /// Queues a finished delivery again, due now, with a fresh retry schedule (its attempt
    /// log is kept). False when the webhook has no such delivery.
    async fn resend_delivery(&self, webhook_id: i64, delivery_id: i64, now_ms: i64) -> Result<bool>;
    /// Queues again every dead or stopped delivery of a webhook created in
    /// `[from_ms, to_ms)`. Returns how many.
    async fn recover_deliveries(&self, webhook_id: i64, from_ms: i64, to_ms: i64, now_ms: i64) -> Result<u64>;

    // ---- clicks ---------------------------------------------------------------------
    /// Clicks of a server (repeats included) that match every filter of the search, newest
    /// first, `count` from `offset`; with how many match in all. Clicks are kept until
    /// [`Store::purge_expired`] removes them after their message's retention.
    async fn search_clicks(&self, search: &ClickSearch) -> Result<(u64, Vec<ClickRow>)>;
    /// Daily click counters (kept forever), summed over the tags and streams that the query
    /// lets through, by day and metric.
    async fn click_stats(&self, query: &StatsQuery) -> Result<Vec<StatRow>>;

    // ---- maintenance ----------------------------------------------------------------
    /// Deletes message records, uniqueness marks, clicks and finished deliveries whose
    /// retention ended before `now_ms`. Returns how many rows went.
    async fn purge_expired(&self, now_ms: i64) -> Result<u64>;
    /// Counts for metrics and readiness.
    async fn stats(&self) -> Result<StoreStats>;
}
