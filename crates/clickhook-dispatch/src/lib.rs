//! The dispatcher: delivers Click events to webhooks until they are taken.
//!
//! It leases due deliveries from the store, POSTs each one, and records the attempt and
//! what comes next in one store write: 2xx done; 403 stop (Postmark); 410 stop and turn
//! the webhook's Click trigger off (Standard Webhooks); anything else, a timeout or a
//! refused connection: retry on `webhooks.retry_schedule` with jitter, waiting at least a
//! 429/503's `Retry-After` (bounded), dead-lettered when the schedule runs out.
//!
//! At least once: a delivery is acknowledged only by recording its attempt. A dispatcher
//! that dies mid-attempt leaves the delivery leased; the lease (longer than the request
//! timeout) runs out and it is attempted again, with the same `webhook-id`.
//!
//! Isolation: each receiver gets at most `per_webhook_concurrency` attempts in flight and a
//! circuit breaker, so a receiver that hangs or fails holds a bounded share of the node and
//! its queued deliveries step aside (deferred, no attempt used) for everyone else's.

pub mod guard;
mod isolation;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clickhook_core::signature::{self, WebhookSecret};
use clickhook_core::{AttemptVerdict, RetryPolicy, Webhook, redact, retry, timefmt};
use clickhook_store::{AttemptRecord, DeliveryJob, NextStep, Store};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::isolation::{Admission, Receivers};

/// How much of a receiver's response body is kept in the attempt log.
pub const RESPONSE_PREFIX: usize = 1024;

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub allow_private_targets: bool,
    pub concurrency: usize,
    pub per_webhook_concurrency: usize,
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
}

/// Installs the TLS crypto provider (ring) for this process, once. Every reqwest client
/// needs it, since reqwest is built without a default provider.
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the one HTTP client a process uses for webhooks: no redirects followed, the SSRF
/// guard as resolver unless private targets are allowed, no proxy from the environment.
pub fn http_client(request_timeout: Duration, connect_timeout: Duration, allow_private_targets: bool) -> reqwest::Client {
    ensure_crypto_provider();
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout.min(request_timeout))
        .timeout(request_timeout)
        .no_proxy()
        .user_agent(concat!("clickhook/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(30));
    if !allow_private_targets {
        b = b.dns_resolver(Arc::new(guard::GuardedResolver));
    }
    b.build().expect("the webhook HTTP client builds with static settings")
}

/// What one POST gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostResult {
    pub status: Option<u16>,
    pub duration: Duration,
    pub error: Option<String>,
    pub response: Option<String>,
    /// The receiver's `Retry-After`, on 429 and 503.
    pub retry_after: Option<Duration>,
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// POSTs `body` to a webhook the way every attempt does: JSON content type, Basic auth from
/// `HttpAuth`, each custom header, `webhook-id`, and, when the webhook has signing
/// secrets, `webhook-timestamp` and `webhook-signature` computed for this attempt.
pub async fn post(client: &reqwest::Client, webhook: &Webhook, event_id: &str, body: String, allow_private: bool) -> PostResult {
    let started = Instant::now();
    let fail = |e: String| PostResult { status: None, duration: started.elapsed(), error: Some(e), response: None, retry_after: None };
    let url = match guard::check_url(&webhook.url, allow_private) {
        Ok(u) => u,
        Err(e) => return fail(e),
    };
    let mut req = client.post(url).header("Content-Type", "application/json").header("webhook-id", event_id);
    for h in &webhook.http_headers {
        req = req.header(h.name.as_str(), h.value.as_str());
    }
    if let Some(auth) = webhook.http_auth.as_ref().filter(|a| !a.username.is_empty() || !a.password.is_empty()) {
        req = req.basic_auth(&auth.username, Some(&auth.password));
    }
    let secrets: Vec<WebhookSecret> = webhook.signing_secrets.iter().filter_map(|s| WebhookSecret::parse(s).ok()).collect();
    let ts = unix_now();
    if let Some(sig) = signature::sign(&secrets, event_id, ts, body.as_bytes()) {
        req = req.header("webhook-timestamp", ts.to_string()).header("webhook-signature", sig);
    }
    match req.body(body).send().await {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let retry_after = if matches!(status, 429 | 503) {
                resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| retry::parse_retry_after(v, unix_now()))
            } else {
                None
            };
            let mut prefix = Vec::new();
            // Read only what the log keeps; a huge response does not cost memory.
            while prefix.len() < RESPONSE_PREFIX {
                match resp.chunk().await {
                    Ok(Some(c)) => prefix.extend_from_slice(&c[..c.len().min(RESPONSE_PREFIX - prefix.len())]),
                    _ => break,
                }
            }
            PostResult {
                status: Some(status),
                duration: started.elapsed(),
                error: None,
                response: Some(String::from_utf8_lossy(&prefix).into_owned()),
                retry_after,
            }
        }
        Err(e) => {
            // Without the URL: it may carry credentials or tokens, and this text is logged
            // and kept in the attempt log.
            let e = e.without_url();
            let mut msg = if e.is_timeout() { "timed out".to_owned() } else { e.to_string() };
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            fail(msg)
        }
    }
}

pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    pub settings: DispatchSettings,
    receivers: Receivers,
    in_flight: Mutex<HashSet<i64>>,
}

fn now_ms() -> i64 {
    timefmt::unix_ms(time::OffsetDateTime::now_utc())
}

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, settings: DispatchSettings) -> Self {
        let client = http_client(settings.request_timeout, settings.connect_timeout, settings.allow_private_targets);
        let receivers = Receivers::new(settings.per_webhook_concurrency, settings.breaker_failures, settings.breaker_cooldown);
        Self { store, client, settings, receivers, in_flight: Mutex::new(HashSet::new()) }
    }

    /// A leased delivery becomes visible again after this: longer than any attempt (which
    /// the request timeout bounds), with room for recording it.
    fn lease(&self) -> Duration {
        self.settings.request_timeout + (self.settings.request_timeout / 2).max(Duration::from_secs(5))
    }

    /// How long a delivery steps aside when its receiver is at its concurrency cap.
    fn busy_deferral(&self) -> Duration {
        self.settings.request_timeout.min(Duration::from_secs(1))
    }

    /// Makes one attempt of a delivery and records it. Admission (cap, breaker) is the
    /// caller's; `attempt` reports the outcome back to [`Receivers`].
    async fn attempt(&self, job: DeliveryJob) {
        let webhook = match self.store.get_webhook(job.webhook_id).await {
            Ok(Some(w)) if w.triggers.click.enabled => w,
            Ok(_) => {
                // Deleted, or its Click trigger turned off since the click: nothing to send.
                self.receivers.finish(job.webhook_id, None, now_ms());
                let rec = AttemptRecord { at_ms: now_ms(), status: None, duration_ms: 0, error: Some("webhook deleted or Click trigger off".into()), response: None };
                let _ = self.store.finish_attempt(job.id, &rec, NextStep::Dropped).await;
                metrics::counter!("clickhook_deliveries_total", "outcome" => "dropped", "webhook" => job.webhook_id.to_string()).increment(1);
                return;
            }
            Err(e) => {
                self.receivers.finish(job.webhook_id, None, now_ms());
                tracing::warn!(error = %e, delivery = job.id, "cannot read webhook; the lease will bring the delivery back");
                return;
            }
        };
        let at_ms = now_ms();
        let r = post(&self.client, &webhook, &job.event_id.to_string(), job.payload, self.settings.allow_private_targets).await;
        let failed = job.attempts + 1;
        let verdict = AttemptVerdict::of(r.status);
        // 2xx and final refusals (403, 410) show a live receiver; everything else is a failure.
        self.receivers.finish(job.webhook_id, Some(verdict != AttemptVerdict::Retry), now_ms());
        let next = match verdict {
            AttemptVerdict::Delivered => NextStep::Delivered,
            AttemptVerdict::Stop => NextStep::Stopped,
            AttemptVerdict::StopAndDisable => {
                let mut off = webhook.clone();
                off.triggers.click.enabled = false;
                match self.store.update_webhook(&off).await {
                    Ok(_) => tracing::warn!(webhook = webhook.id, "receiver answered 410 Gone: Click trigger turned off"),
                    Err(e) => tracing::warn!(webhook = webhook.id, error = %e, "receiver answered 410 Gone; could not turn the Click trigger off"),
                }
                NextStep::Stopped
            }
            AttemptVerdict::Retry => match self.settings.retry.next_delay(failed, r.retry_after, rand::random::<f64>()) {
                Some(d) => NextStep::RetryAt(now_ms() + d.as_millis() as i64),
                None => NextStep::Dead,
            },
        };
        let outcome = match next {
            NextStep::Delivered => "delivered",
            NextStep::Stopped => "stopped",
            NextStep::RetryAt(_) => "retry",
            NextStep::Dead => "dead",
            NextStep::Dropped => "dropped",
        };
        // The webhook id is the only per-receiver label: bounded by the webhooks configured,
        // never a URL.
        let webhook_label = webhook.id.to_string();
        if job.attempts > 0 {
            metrics::counter!("clickhook_delivery_retries_total", "webhook" => webhook_label.clone()).increment(1);
        }
        metrics::counter!("clickhook_deliveries_total", "outcome" => outcome, "webhook" => webhook_label.clone()).increment(1);
        metrics::histogram!("clickhook_delivery_duration_seconds", "webhook" => webhook_label).record(r.duration.as_secs_f64());
        if matches!(next, NextStep::RetryAt(_) | NextStep::Dead) {
            // The URL only as its origin: it may carry credentials or a token in its path.
            tracing::info!(delivery = job.id, webhook = webhook.id, url = %redact::Url(&webhook.url), status = r.status, error = r.error.as_deref(), attempt = failed, outcome, "webhook attempt failed");
        }
        let rec = AttemptRecord { at_ms, status: r.status, duration_ms: r.duration.as_millis() as i64, error: r.error, response: r.response };
        if let Err(e) = self.store.finish_attempt(job.id, &rec, next).await {
            // Not recorded: the lease brings the delivery back and it is attempted again
            // (at least once, never lost).
            tracing::warn!(error = %e, delivery = job.id, "attempt not recorded");
        }
    }

    /// Delivers until `cancel` fires; then stops claiming and lets the attempts in flight
    /// finish for up to `grace`. Attempts still running then are abandoned and their
    /// deliveries handed back to the queue, due at once (a receiver may then see that event
    /// twice, with the same `webhook-id`).
    pub async fn run(self: Arc<Self>, cancel: CancellationToken, grace: Duration) {
        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut tasks = JoinSet::new();
        while !cancel.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            let free = permits.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = tasks.join_next() => continue,
                    () = cancel.cancelled() => break,
                }
            }
            let jobs = match self.store.claim_deliveries(now_ms(), free.min(256), self.lease()).await {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(error = %e, "dispatcher: cannot claim deliveries; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = cancel.cancelled() => break,
                    }
                }
            };
            if jobs.is_empty() {
                tokio::select! {
                    () = self.store.wait_for_deliveries(Duration::from_millis(250)) => continue,
                    () = cancel.cancelled() => break,
                }
            }
            for job in jobs {
                let now = now_ms();
                match self.receivers.admit(job.webhook_id, now) {
                    Admission::Go => {}
                    Admission::Busy => {
                        metrics::counter!("clickhook_deliveries_deferred_total", "reason" => "busy").increment(1);
                        let until = now + self.busy_deferral().as_millis() as i64;
                        let _ = self.store.defer_delivery(job.id, until).await;
                        continue;
                    }
                    Admission::Open { until_ms } => {
                        metrics::counter!("clickhook_deliveries_deferred_total", "reason" => "circuit_open").increment(1);
                        let _ = self.store.defer_delivery(job.id, until_ms).await;
                        continue;
                    }
                }
                let permit = permits.clone().acquire_owned().await.expect("semaphore never closes");
                self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(job.id);
                let this = self.clone();
                tasks.spawn(async move {
                    let id = job.id;
                    this.attempt(job).await;
                    this.in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                    drop(permit);
                });
            }
        }
        let drained = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            let left: Vec<i64> = self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
            for id in &left {
                let _ = self.store.defer_delivery(*id, now_ms()).await;
            }
            tracing::info!(returned = left.len(), "shutdown: attempts still running were handed back to the queue");
        }
    }
}
