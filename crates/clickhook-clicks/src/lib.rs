//! The click processor: from a stored hit to a Click event, or to nothing.
//!
//! It runs apart from the link host so that a redirect never waits on what happens here.
//! For each hit it finds the message record, applies the retention rule with the record's
//! SentAt, enriches the hit (geo, user agent), builds the exact Postmark Click JSON and hands
//! the store one atomic decision ([`clickhook_store::Store::settle_hit`]): the store claims
//! the uniqueness mark and enqueues one delivery per matching webhook only when the mark was
//! free. A processor that crashes mid-way leaves its leased hits to be processed again; the
//! atomic settle makes that repeat harmless.
//!
//! # Bots and link scanners
//!
//! Every hit gets a verdict (`human`, `suspected`, `scanner`) with reasons from
//! [`clickhook_bots`], through one [`clickhook_bots::Pipeline`] per processor, fed in receive
//! order. A hit a burst could still relabel (early after SentAt, or from a probable scanner
//! network) is held `bots.settle_seconds` in memory, its store lease (15 s) still running, and
//! released by a ticker; every other hit is decided at once, so an ordinary click waits for
//! nothing. Only a click treated as human ([`BotPolicy`]) claims the uniqueness mark
//! ([`unique::mark_key`]); a scanner's click claims [`unique::scanner_mark_key`], enqueues
//! deliveries only with `bots.scanner_clicks = "webhook"`, and adds nothing to the daily
//! counters; it is stored (with its `Bot` object) like any click.
//!
//! *Limit:* the burst tracker is per processor node. With several dispatch nodes sharing a
//! Redis store, the hits of one burst may be claimed by different nodes, and a burst split
//! that way may be missed (each node sees fewer distinct links). The network and user-agent
//! rules do not depend on it. A shutdown decides the held hits at once with what it knows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clickhook_bots::{Classifier, HitFacts, Pipeline, Reason, Verdict};
use clickhook_core::{BotInfo, ClickEvent, Hit, MessageRecord, RetentionDays, redact, timefmt, unique};
use clickhook_enrich::{AsnDb, Enricher};
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
/// A held hit is released after this much wall time whatever the pipeline's clock says
/// (a processor working through a backlog feeds old receive times), well inside [`LEASE`].
const MAX_HOLD: Duration = Duration::from_secs(11);
/// How often held hits are checked for release.
const TICK: Duration = Duration::from_millis(100);

pub struct ClickProcessor {
    pub store: Arc<dyn Store>,
    pub enricher: Arc<Enricher>,
    pub retention: RetentionDays,
    /// The zone of the daily click counters' days (`stats.timezone`).
    pub timezone: jiff::tz::TimeZone,
    /// Bot verdicts; `None` (`bots.enabled = false`): every hit is a human's click.
    pub bots: Option<Bots>,
}

/// What each verdict does (`[bots]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BotPolicy {
    /// `scanner_clicks = "webhook"`: scanner clicks enqueue deliveries (under their own mark).
    pub scanner_webhooks: bool,
    /// `suspected = "human"`: a suspected click claims the human's mark and sends.
    pub suspected_as_human: bool,
    /// `label = true`: webhook payloads carry the `Bot` object.
    pub label: bool,
}

impl BotPolicy {
    /// Whether a click with `verdict` is treated as a human's (takes the mark, is counted).
    pub fn treats_as_human(&self, verdict: Verdict) -> bool {
        match verdict {
            Verdict::Human => true,
            Verdict::Suspected => self.suspected_as_human,
            Verdict::Scanner => false,
        }
    }
}

/// The processor's bot state: the policy, the ASN database and the shared pipeline.
pub struct Bots {
    pub policy: BotPolicy,
    pub asn: Arc<AsnDb>,
    /// For woothee's category of a hit's user agent (its crawler list).
    agents: clickhook_enrich::UserAgents,
    gate: Mutex<Gate>,
}

struct Gate {
    pipeline: Pipeline<uuid::Uuid>,
    /// Hits fed and not yet decided, with the wall time they were fed.
    held: HashMap<uuid::Uuid, (Hit, Instant)>,
    /// The last claim took fewer hits than a full batch: hits are processed as they come,
    /// so the wall clock is the pipeline's clock. Otherwise the newest fed receive time is.
    caught_up: bool,
    last_fed_ms: i64,
}

/// A hit with its final verdict.
pub struct Decided {
    pub hit: Hit,
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
}

impl Bots {
    pub fn new(classifier: Classifier, policy: BotPolicy, asn: Arc<AsnDb>) -> Self {
        Bots {
            policy,
            asn,
            agents: clickhook_enrich::UserAgents::builtin(),
            gate: Mutex::new(Gate { pipeline: Pipeline::new(classifier), held: HashMap::new(), caught_up: true, last_fed_ms: i64::MIN }),
        }
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Feeds hits (in receive order) and returns those decided now: each hit that needs no
    /// settle window, and held hits whose window has ended.
    pub fn feed(&self, mut hits: Vec<Hit>, full_batch: bool) -> Vec<Decided> {
        hits.sort_by_key(|h| (h.received_at_ms, h.id));
        let mut gate = self.gate();
        gate.caught_up = !full_batch;
        let mut out = Vec::new();
        for hit in hits {
            if gate.held.contains_key(&hit.id) {
                // Claimed again while held (its lease ran out): it is decided once.
                continue;
            }
            let asn = self.asn.lookup(hit.ip);
            let at_ms = hit.received_at_ms;
            let step = {
                let facts = HitFacts {
                    method: "GET",
                    headers: &[],
                    user_agent: (!hit.user_agent.is_empty()).then_some(hit.user_agent.as_str()),
                    woothee_category: self.agents.woothee_category(&hit.user_agent),
                    ip: hit.ip,
                    asn,
                    secs_since_sent: Some(at_ms.div_euclid(1000).saturating_sub(hit.sent_at)),
                };
                gate.last_fed_ms = gate.last_fed_ms.max(at_ms);
                gate.pipeline.hit(hit.id, &facts, &hit.message_id, &hit.original_link, at_ms)
            };
            gate.held.insert(hit.id, (hit, Instant::now()));
            if !step.relabelled_too_late.is_empty() {
                metrics::counter!("clickhook_bot_relabelled_too_late_total").increment(step.relabelled_too_late.len() as u64);
            }
            take_decided(&mut gate, step.decided, &mut out);
        }
        metrics::gauge!("clickhook_bot_held_hits").set(gate.pipeline.held() as f64);
        out
    }

    /// Releases held hits whose settle window has ended (by the pipeline's clock, or held
    /// longer than [`MAX_HOLD`]).
    pub fn release(&self, now_ms: i64) -> Vec<Decided> {
        let mut gate = self.gate();
        if gate.held.is_empty() {
            return Vec::new();
        }
        let overdue = gate.held.values().any(|(_, fed)| fed.elapsed() >= MAX_HOLD);
        let clock = if gate.caught_up || overdue { now_ms } else { gate.last_fed_ms };
        let decisions = gate.pipeline.release_due(clock);
        let mut out = Vec::new();
        take_decided(&mut gate, decisions, &mut out);
        metrics::gauge!("clickhook_bot_held_hits").set(gate.pipeline.held() as f64);
        out
    }

    /// Decides everything still held (shutdown).
    pub fn flush(&self) -> Vec<Decided> {
        let mut gate = self.gate();
        let decisions = gate.pipeline.flush();
        let mut out = Vec::new();
        take_decided(&mut gate, decisions, &mut out);
        metrics::gauge!("clickhook_bot_held_hits").set(0.0);
        out
    }
}

fn take_decided(gate: &mut Gate, decisions: Vec<clickhook_bots::Decision<uuid::Uuid>>, out: &mut Vec<Decided>) {
    for d in decisions {
        if let Some((hit, _)) = gate.held.remove(&d.hit) {
            out.push(Decided { hit, verdict: d.verdict, reasons: d.reasons });
        }
    }
}

/// The `Bot` object of a verdict.
pub fn bot_info(verdict: Verdict, reasons: &[Reason]) -> BotInfo {
    BotInfo { verdict: verdict.as_str().to_owned(), reasons: reasons.iter().map(|r| r.as_str().to_owned()).collect() }
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
        bot: None,
    }
}

impl ClickProcessor {
    /// Settles one hit as a human's click, without bot verdicts (as with `bots.enabled = false`).
    pub async fn process(&self, hit: Hit) -> Result<Settled, clickhook_store::StoreError> {
        self.settle(hit, None).await
    }

    /// Settles one decided hit: the verdict picks the mark, the deliveries and the counters.
    pub async fn settle_decided(&self, d: Decided) -> Result<Settled, clickhook_store::StoreError> {
        metrics::counter!("clickhook_bot_verdicts_total", "verdict" => d.verdict.as_str()).increment(1);
        for r in &d.reasons {
            metrics::counter!("clickhook_bot_reasons_total", "reason" => r.as_str()).increment(1);
        }
        self.settle(d.hit, Some((d.verdict, d.reasons))).await
    }

    async fn settle(&self, hit: Hit, verdict: Option<(Verdict, Vec<Reason>)>) -> Result<Settled, clickhook_store::StoreError> {
        let Some(message) = self.store.get_message(&hit.message_id).await? else {
            metrics::counter!("clickhook_clicks_total", "outcome" => "unknown_message").increment(1);
            return self.store.settle_hit(hit.id, HitDecision::Discard).await;
        };
        let sent_ms = timefmt::unix_ms(message.sent_at);
        if !self.retention.contains(sent_ms, hit.received_at_ms) {
            metrics::counter!("clickhook_clicks_total", "outcome" => "after_retention").increment(1);
            return self.store.settle_hit(hit.id, HitDecision::Discard).await;
        }
        let mut event = click_event(&hit, &message, &self.enricher);
        let policy = self.bots.as_ref().map(|b| b.policy);
        let human = match (&verdict, policy) {
            (Some((v, _)), Some(p)) => p.treats_as_human(*v),
            _ => true,
        };
        let sends = human || policy.is_some_and(|p| p.scanner_webhooks);
        // The stored click always carries the verdict; the payload only with `bots.label`.
        let payload = match &verdict {
            Some((v, reasons)) if policy.is_some_and(|p| p.label) => {
                let mut labelled = event.clone();
                labelled.bot = Some(bot_info(*v, reasons));
                serde_json::to_string(&labelled)
            }
            _ => serde_json::to_string(&event),
        }
        .expect("a Click event always serializes");
        if let Some((v, reasons)) = &verdict {
            event.bot = Some(bot_info(*v, reasons));
        }
        let webhook_ids = if sends {
            self.store
                .list_webhooks(&message.server, Some(&message.stream))
                .await?
                .into_iter()
                .filter(|w| w.triggers.click.enabled)
                .map(|w| w.id)
                .collect()
        } else {
            Vec::new()
        };
        let event_id = uuid::Uuid::new_v4();
        let stats = human.then(|| stat_keys(&event, hit.received_at_ms, &self.timezone));
        let mark_key = if human {
            unique::mark_key(&message.message_id, &message.recipient, &hit.original_link)
        } else {
            unique::scanner_mark_key(&message.message_id, &message.recipient, &hit.original_link)
        };
        let outcome = ClickOutcome {
            mark_key,
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
            Settled::Unique { .. } if !human => "scanner",
            Settled::Repeat if !human => "scanner_repeat",
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
        // Held hits are released by a ticker of their own; it stops after the claim loop, and
        // what is still held then is decided at once and settled before `run` returns.
        let loop_done = CancellationToken::new();
        let ticker = self.bots.is_some().then(|| tokio::spawn(self.clone().run_ticker(loop_done.clone())));
        self.clone().claim_loop(&cancel).await;
        loop_done.cancel();
        if let Some(t) = ticker {
            let _ = t.await;
        }
        if let Some(bots) = &self.bots {
            self.settle_all(bots.flush()).await;
        }
    }

    async fn run_ticker(self: Arc<Self>, done: CancellationToken) {
        let Some(bots) = &self.bots else { return };
        while !done.is_cancelled() {
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = done.cancelled() => return,
            }
            let now_ms = timefmt::unix_ms(time::OffsetDateTime::now_utc());
            let decided = bots.release(now_ms);
            if !decided.is_empty() {
                self.settle_all(decided).await;
            }
        }
    }

    /// Settles decided hits, up to [`CONCURRENCY`] at once, and waits for all of them.
    async fn settle_all(self: &Arc<Self>, decided: Vec<Decided>) {
        let mut tasks = JoinSet::new();
        for d in decided {
            while tasks.len() >= CONCURRENCY {
                tasks.join_next().await;
            }
            let this = self.clone();
            tasks.spawn(async move {
                let id = d.hit.id;
                if let Err(e) = this.settle_decided(d).await {
                    tracing::warn!(error = %e, hit = %id, "click processor: hit not settled; will retry");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn claim_loop(self: Arc<Self>, cancel: &CancellationToken) {
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
                if let Some(bots) = &self.bots {
                    // Caught up: the ticker may release by the wall clock.
                    bots.feed(Vec::new(), false);
                }
                tokio::select! {
                    () = self.store.wait_for_hits(Duration::from_millis(500)) => continue,
                    () = cancel.cancelled() => return,
                }
            }
            if let Some(bots) = &self.bots {
                let full = hits.len() >= BATCH;
                let decided = bots.feed(hits, full);
                self.settle_all(decided).await;
                continue;
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
