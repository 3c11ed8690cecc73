//! The dispatcher: delivers Click events to webhooks until they are taken.
//!
//! It leases due deliveries from the store, POSTs each one, and records the attempt and
//! what comes next in one store write: 2xx done, 403 stop (Postmark), anything else retry on
//! `webhooks.retry_schedule`, dead-lettered when the schedule runs out. A dispatcher that
//! dies mid-attempt leaves the delivery leased; the lease (longer than the request
//! timeout) runs out and another attempt is made: delivery is at least once, and every
//! attempt of one event carries the same `webhook-id`.

pub mod guard;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clickhook_core::{AttemptVerdict, RetrySchedule, Webhook, timefmt};
use clickhook_store::{AttemptRecord, DeliveryJob, NextStep, Store};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How much of a receiver's response body is kept in the attempt log.
pub const RESPONSE_PREFIX: usize = 1024;

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub schedule: RetrySchedule,
    pub request_timeout: Duration,
    pub allow_private_targets: bool,
    pub concurrency: usize,
}

/// Builds the one HTTP client a process uses for webhooks: no redirects followed, the SSRF
/// guard as resolver unless private targets are allowed, no proxy from the environment.
pub fn http_client(request_timeout: Duration, allow_private_targets: bool) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(request_timeout.min(Duration::from_secs(10)))
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
}

/// POSTs `body` to a webhook the way every attempt does: JSON content type, Basic auth from
/// `HttpAuth`, each custom header, and `webhook-id`.
pub async fn post(client: &reqwest::Client, webhook: &Webhook, event_id: &str, body: String, allow_private: bool) -> PostResult {
    let started = Instant::now();
    let fail = |e: String| PostResult { status: None, duration: started.elapsed(), error: Some(e), response: None };
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
    match req.body(body).send().await {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
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
            }
        }
        Err(e) => {
            // Without the URL: it may carry credentials or tokens, and this text is logged
            // and kept in the attempt log.
            let e = e.without_url();
            let mut msg = e.to_string();
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
}

fn now_ms() -> i64 {
    timefmt::unix_ms(time::OffsetDateTime::now_utc())
}

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, settings: DispatchSettings) -> Self {
        let client = http_client(settings.request_timeout, settings.allow_private_targets);
        Self { store, client, settings }
    }

    /// A leased delivery becomes visible again after this: longer than any attempt.
    fn lease(&self) -> Duration {
        self.settings.request_timeout + Duration::from_secs(30)
    }

    /// Makes one attempt of a delivery and records it.
    pub async fn attempt(&self, job: DeliveryJob) {
        let webhook = match self.store.get_webhook(job.webhook_id).await {
            Ok(Some(w)) => w,
            Ok(None) => {
                let rec = AttemptRecord { at_ms: now_ms(), status: None, duration_ms: 0, error: Some("webhook deleted".into()), response: None };
                let _ = self.store.finish_attempt(job.id, &rec, NextStep::Dropped).await;
                metrics::counter!("clickhook_deliveries_total", "outcome" => "dropped").increment(1);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, delivery = job.id, "cannot read webhook; the lease will bring the delivery back");
                return;
            }
        };
        let at_ms = now_ms();
        let r = post(&self.client, &webhook, &job.event_id.to_string(), job.payload, self.settings.allow_private_targets).await;
        let failed = job.attempts + 1;
        let next = match AttemptVerdict::of(r.status) {
            AttemptVerdict::Delivered => NextStep::Delivered,
            AttemptVerdict::Stop => NextStep::Stopped,
            AttemptVerdict::Retry => match self.settings.schedule.delay_after(failed) {
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
        metrics::counter!("clickhook_deliveries_total", "outcome" => outcome).increment(1);
        metrics::histogram!("clickhook_delivery_seconds").record(r.duration.as_secs_f64());
        if matches!(next, NextStep::RetryAt(_) | NextStep::Dead) {
            tracing::info!(delivery = job.id, webhook = webhook.id, status = ?r.status, error = ?r.error, attempt = failed, outcome, "webhook attempt failed");
        }
        let rec = AttemptRecord {
            at_ms,
            status: r.status,
            duration_ms: r.duration.as_millis() as i64,
            error: r.error,
            response: r.response,
        };
        if let Err(e) = self.store.finish_attempt(job.id, &rec, next).await {
            // Not recorded: the lease brings the delivery back and it is attempted again
            // (at least once, never lost).
            tracing::warn!(error = %e, delivery = job.id, "attempt not recorded");
        }
    }

    /// Delivers until `cancel` fires; then stops claiming and lets the attempts in flight
    /// finish for up to `grace`. A claim is never abandoned half-way (every claimed job is
    /// attempted); jobs whose attempt outlives `grace` come back when their lease ends.
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
                let permit = permits.clone().acquire_owned().await.expect("semaphore never closes");
                let this = self.clone();
                tasks.spawn(async move {
                    this.attempt(job).await;
                    drop(permit);
                });
            }
        }
        let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    }
}
