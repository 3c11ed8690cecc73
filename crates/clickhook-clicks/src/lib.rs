//! The click processor: from a stored hit to a Click event, or to nothing.
//!
//! It runs apart from the link host so that a redirect never waits on what happens here.
//! For each hit it finds the message record, applies the retention rule with the record's
//! SentAt, enriches the hit (geo, user agent), builds the exact Postmark Click JSON and hands
//! the store one atomic decision ([`clickhook_store::Store::settle_hit`]): the store claims
//! the uniqueness mark and enqueues one delivery per matching webhook only when the mark was
//! free. A processor that crashes mid-way leaves its leased hits to be processed again; the
//! atomic settle makes that repeat harmless.

use std::sync::Arc;
use std::time::Duration;

use clickhook_core::{ClickEvent, Hit, MessageRecord, RetentionDays, redact, timefmt, unique};
use clickhook_enrich::Enricher;
use clickhook_store::{ClickOutcome, ClickRow, HitDecision, Settled, StatKeys, Store, search};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Hits claimed per round.
const BATCH: usize = 256;
/// Hits processed at once; concurrency lets the store's group commit batch the settles.
const CONCURRENCY: usize = 64;
/// A claimed hit is invisible to other processors this long.
/// Processing a hit takes milliseconds; after a crash, its hits come back this soon.
const LEASE: Duration = Duration::from_secs(15);

pub struct ClickProcessor {
    pub store: Arc<dyn Store>,
    pub enricher: Arc<Enricher>,
    pub retention: RetentionDays,
    /// The zone of the daily click counters' days (`stats.timezone`).
    pub timezone: jiff::tz::TimeZone,
}

/// The calendar day (`YYYY-MM-DD`) of `unix_ms` in `tz`.
pub fn day_of(unix_ms: i64, tz: &jiff::tz::TimeZone) -> String {
    let ts = jiff::Timestamp::from_millisecond(unix_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    tz.to_datetime(ts).date().to_string()
}

/// What a click adds to the daily counters: its day, normalised stream and tag, metrics.
pub fn stat_keys(event: &ClickEvent, received_at_ms: i64, tz: &jiff::tz::TimeZone) -> StatKeys {
    StatKeys {
        day: day_of(received_at_ms, tz),
        stream: search::normalize(&event.message_stream),
        tag: search::normalize(&event.tag),
        metrics: search::stat_metrics(event),
    }
}

/// Builds the Click event for a hit of a message. Pure apart from the enrichment lookups.
pub fn click_event(hit: &Hit, message: &MessageRecord, enricher: &Enricher) -> ClickEvent {
    let e = enricher.enrich(hit.ip, &hit.user_agent);
    ClickEvent {
        record_type: "Click".into(),
        message_stream: message.stream.clone(),
        click_location: hit.location,
        client: e.client,
        os: e.os,
        platform: e.platform,
        user_agent: hit.user_agent.clone(),
        original_link: hit.original_link.clone(),
        geo: e.geo,
        message_id: message.message_id.clone(),
        metadata: message.metadata.clone(),
        received_at: timefmt::postmark(timefmt::from_unix_ms(hit.received_at_ms)),
        tag: message.tag.clone(),
        recipient: message.recipient.clone(),
    }
}

impl ClickProcessor {
    /// Decides one hit and settles it in the store.
    pub async fn process(&self, hit: Hit) -> Result<Settled, clickhook_store::StoreError> {
        let Some(message) = self.store.get_message(&hit.message_id).await? else {
            metrics::counter!("clickhook_clicks_total", "outcome" => "unknown_message").increment(1);
            return self.store.settle_hit(hit.id, HitDecision::Discard).await;
        };
        let sent_ms = timefmt::unix_ms(message.sent_at);
        if !self.retention.contains(sent_ms, hit.received_at_ms) {
            metrics::counter!("clickhook_clicks_total", "outcome" => "after_retention").increment(1);
            return self.store.settle_hit(hit.id, HitDecision::Discard).await;
        }
        let event = click_event(&hit, &message, &self.enricher);
        let payload = serde_json::to_string(&event).expect("a Click event always serializes");
        let webhook_ids = self
            .store
            .list_webhooks(&message.server, Some(&message.stream))
            .await?
            .into_iter()
            .filter(|w| w.triggers.click.enabled)
            .map(|w| w.id)
            .collect();
        let event_id = uuid::Uuid::new_v4();
        let stats = stat_keys(&event, hit.received_at_ms, &self.timezone);
        let outcome = ClickOutcome {
            mark_key: unique::mark_key(&message.message_id, &message.recipient, &hit.original_link),
            expires_at_ms: self.retention.expires_at_ms(sent_ms),
            event_id,
            payload,
            webhook_ids,
            click: ClickRow {
                event_id,
                server: message.server.clone(),
                message_id: message.message_id.clone(),
                received_at_ms: hit.received_at_ms,
                unique: false,
                event,
            },
            stats,
        };
        let settled = self.store.settle_hit(hit.id, HitDecision::Click(Box::new(outcome))).await?;
        let outcome = match settled {
            Settled::Unique { .. } => "unique",
            Settled::Repeat => "repeat",
            Settled::Discarded | Settled::AlreadySettled => "already_settled",
        };
        metrics::counter!("clickhook_clicks_total", "outcome" => outcome).increment(1);
        // Never the full recipient in a log line (ARCHITECTURE.md, invariant 8).
        tracing::debug!(message_id = %message.message_id, recipient = %redact::Recipient(&message.recipient), outcome, "click settled");
        Ok(settled)
    }

    /// Processes hits until `cancel` fires. A claim is never abandoned half-way: the
    /// round that claimed hits settles them all before the loop looks at `cancel` again,
    /// so a shutdown leaves no hit leased.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        while !cancel.is_cancelled() {
            let hits = match self.store.claim_hits(BATCH, LEASE).await {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "click processor: cannot claim hits; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = cancel.cancelled() => return,
                    }
                }
            };
            if hits.is_empty() {
                tokio::select! {
                    () = self.store.wait_for_hits(Duration::from_millis(500)) => continue,
                    () = cancel.cancelled() => return,
                }
            }
            let mut tasks = JoinSet::new();
            for hit in hits {
                while tasks.len() >= CONCURRENCY {
                    tasks.join_next().await;
                }
                let this = self.clone();
                tasks.spawn(async move {
                    let id = hit.id;
                    if let Err(e) = this.process(hit).await {
                        // The hit stays leased and comes back when the lease ends.
                        tracing::warn!(error = %e, hit = %id, "click processor: hit not settled; will retry");
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_follow_the_configured_zone() {
        // 2025-12-01T23:30:00Z
        let ms = 1_764_631_800_000;
        assert_eq!(day_of(ms, &jiff::tz::TimeZone::UTC), "2025-12-01");
        assert_eq!(day_of(ms, &jiff::tz::TimeZone::get("Europe/Berlin").unwrap()), "2025-12-02");
        assert_eq!(day_of(ms, &jiff::tz::TimeZone::get("America/New_York").unwrap()), "2025-12-01");
    }
}
