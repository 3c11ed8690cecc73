//! Operations: `/healthz`, `/readyz`, `/metrics`, and the API listener's request metrics.
//!
//! `/healthz` says the process answers. `/readyz` says whether this node can do its work
//! and, when not, which component is degraded and why: it pings the store (with a time
//! limit) and reads a [`Health`] handle that the node fills in as its roles start (the link
//! host's spool, the geo database) and that a background task keeps up to date with the
//! store's queue counts ([`Health::record_queue`]). Only the store and the spool make it a
//! 503; a missing geo database and a delivery backlog are reported, not failed, since
//! neither stops a click from being redirected, recorded or delivered.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use clickhook_core::labels;
use clickhook_store::StoreStats;
use serde_json::{Value, json};

use crate::ApiState;

/// Requests served, by `listener` (`api` here), `method`, `route` and `status`.
pub const HTTP_REQUESTS: &str = "clickhook_http_requests_total";
/// Time to the response head, by `listener` and `route`.
pub const HTTP_DURATION: &str = "clickhook_http_request_duration_seconds";

/// How long `/readyz` waits for the store's ping.
pub const STORE_PING_TIMEOUT: Duration = Duration::from_secs(2);
/// An oldest pending delivery older than this is reported as a backlog by `/readyz`.
pub const BACKLOG_THRESHOLD: Duration = Duration::from_secs(15 * 60);

/// The link host's spool, as `/readyz` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolHealth {
    /// The link host failed to write to the store and sends every hit to the spool until
    /// the replayer sees the store answer again.
    pub store_down: bool,
    /// Hits in the spool, waiting to be replayed into the store.
    pub pending_hits: u64,
}

type Probe<T> = Arc<dyn Fn() -> T + Send + Sync>;

/// What the node tells `/readyz` beyond the store's ping. Cheap to clone (shared).
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    spool: OnceLock<Probe<SpoolHealth>>,
    geo: OnceLock<Probe<bool>>,
    queue: Mutex<Option<QueueReading>>,
    backlog_threshold: Duration,
}

struct QueueReading {
    at: Instant,
    /// The counts and the oldest pending delivery's age when they were read, or why not.
    stats: Result<(StoreStats, Option<Duration>), String>,
}

impl Default for Health {
    fn default() -> Self {
        Self::new(BACKLOG_THRESHOLD)
    }
}

impl Health {
    pub fn new(backlog_threshold: Duration) -> Self {
        Self { inner: Arc::new(Inner { spool: OnceLock::new(), geo: OnceLock::new(), queue: Mutex::new(None), backlog_threshold }) }
    }

    /// The link host's spool (set by a node that runs the redirect role).
    pub fn set_spool(&self, probe: impl Fn() -> SpoolHealth + Send + Sync + 'static) {
        let _ = self.inner.spool.set(Arc::new(probe));
    }

    /// Whether the geo database is loaded (set by a node that runs the dispatch role).
    pub fn set_geo(&self, probe: impl Fn() -> bool + Send + Sync + 'static) {
        let _ = self.inner.geo.set(Arc::new(probe));
    }

    /// A fresh reading of the store's queue counts (or why there is none), taken at `now_ms`.
    pub fn record_queue(&self, stats: Result<StoreStats, String>, now_ms: i64) {
        let stats = stats.map(|s| {
            let age = s.oldest_pending_delivery_ms.map(|t| Duration::from_millis(u64::try_from(now_ms.saturating_sub(t)).unwrap_or(0)));
            (s, age)
        });
        *self.inner.queue.lock().unwrap_or_else(|p| p.into_inner()) = Some(QueueReading { at: Instant::now(), stats });
    }
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e3).round() / 1e3
}

/// `GET /readyz`: 200 when every component that matters is fine, 503 when one is degraded.
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let mut degraded: Vec<&str> = Vec::new();
    let mut warnings: Vec<&str> = Vec::new();
    let mut body = serde_json::Map::new();

    let backend = state.store.backend();
    let started = Instant::now();
    let store = match tokio::time::timeout(STORE_PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => json!({ "status": "ok", "backend": backend, "latency_ms": ms(started.elapsed()) }),
        Ok(Err(e)) => {
            degraded.push("store");
            json!({ "status": "error", "backend": backend, "latency_ms": ms(started.elapsed()), "reason": e.to_string() })
        }
        Err(_) => {
            degraded.push("store");
            json!({ "status": "timeout", "backend": backend, "latency_ms": ms(started.elapsed()),
                    "reason": format!("the store did not answer a ping within {}s", STORE_PING_TIMEOUT.as_secs()) })
        }
    };
    body.insert("store".into(), store);

    let health = &state.health.inner;
    if let Some(probe) = health.spool.get() {
        let s = probe();
        let spool = if s.store_down {
            degraded.push("spool");
            json!({ "status": "spooling", "store_down": true, "pending_hits": s.pending_hits,
                    "reason": "the link host could not write to the store and keeps hits in its local spool until the store answers again" })
        } else {
            json!({ "status": "ok", "store_down": false, "pending_hits": s.pending_hits })
        };
        body.insert("spool".into(), spool);
    }

    if let Some(probe) = health.geo.get() {
        let geo = if probe() {
            json!({ "status": "ok", "loaded": true })
        } else {
            warnings.push("geo");
            json!({ "status": "not_loaded", "loaded": false, "reason": "no geo database is loaded (geoip.city_database); clicks carry an empty Geo" })
        };
        body.insert("geo".into(), geo);
    }

    let threshold = health.backlog_threshold;
    let reading = health.queue.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|q| (q.at.elapsed(), q.stats.clone()));
    let backlog = match reading {
        None => {
            json!({ "status": "unknown", "backlog_threshold_seconds": secs(threshold), "reason": "the queue counts have not been read yet" })
        }
        Some((age, Err(e))) => {
            warnings.push("backlog");
            json!({ "status": "unknown", "backlog_threshold_seconds": secs(threshold), "stats_age_seconds": secs(age),
                    "reason": format!("the queue counts could not be read: {e}") })
        }
        Some((age, Ok((s, oldest)))) => {
            let mut b = json!({
                "status": "ok",
                "pending_hits": s.pending_hits,
                "pending_deliveries": s.pending_deliveries,
                "dead_deliveries": s.dead_deliveries,
                "oldest_pending_delivery_age_seconds": oldest.map(secs),
                "backlog_threshold_seconds": secs(threshold),
                "stats_age_seconds": secs(age),
            });
            if let Some(oldest) = oldest.filter(|o| *o > threshold) {
                warnings.push("backlog");
                b["status"] = "backlog".into();
                b["reason"] = format!(
                    "the oldest pending delivery is {}s old (threshold {}s): receivers are failing or the dispatchers cannot keep up",
                    oldest.as_secs(),
                    threshold.as_secs()
                )
                .into();
            }
            b
        }
    };
    body.insert("backlog".into(), backlog);

    let ready = degraded.is_empty();
    let mut out = serde_json::Map::new();
    out.insert("status".into(), if ready { "ready" } else { "degraded" }.into());
    out.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    out.insert("degraded".into(), json!(degraded));
    out.insert("warnings".into(), json!(warnings));
    out.extend(body);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Value::Object(out))).into_response()
}

/// `GET /metrics`: the Prometheus text exposition of this process's metrics.
pub async fn metrics(State(state): State<ApiState>) -> Response {
    match &state.metrics {
        Some(render) => ([("content-type", "text/plain; version=0.0.4")], render()).into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}

/// The `route` label of a matched path: the route template as `ROUTES` spells it (never
/// the raw path), `/ui` for the operator's page, `unmatched` for the 404 fallback.
fn route_label(matched: Option<&MatchedPath>) -> &'static str {
    let Some(m) = matched else { return "unmatched" };
    let path = m.as_str();
    if let Some((_, p)) = crate::ROUTES.iter().find(|(_, p)| *p == path) {
        return p;
    }
    if path == "/" || path.starts_with("/ui") { "/ui" } else { "other" }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Middleware: counts and times every API request by route template (static labels only).
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(req.extensions().get::<MatchedPath>());
    let method = method_label(req.method());
    let resp = next.run(req).await;
    let status = labels::status(resp.status().as_u16());
    metrics::counter!(HTTP_REQUESTS, "listener" => "api", "method" => method, "route" => route, "status" => status).increment(1);
    metrics::histogram!(HTTP_DURATION, "listener" => "api", "route" => route).record(started.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_age_is_measured_from_the_reading() {
        let h = Health::new(Duration::from_secs(60));
        h.record_queue(Ok(StoreStats { pending_deliveries: 2, oldest_pending_delivery_ms: Some(1_000), ..Default::default() }), 91_000);
        let q = h.inner.queue.lock().unwrap();
        let (s, age) = q.as_ref().unwrap().stats.clone().unwrap();
        assert_eq!(s.pending_deliveries, 2);
        assert_eq!(age, Some(Duration::from_secs(90)));
    }

    #[test]
    fn route_labels_are_templates() {
        assert_eq!(route_label(None), "unmatched");
        assert_eq!(method_label(&Method::TRACE), "other");
    }
}
