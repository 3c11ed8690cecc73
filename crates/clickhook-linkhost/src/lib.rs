//! The link host: the server behind every tracked link.
//!
//! For a request on `/{token}` it verifies the token with nothing but the signing keys,
//! makes the hit durable, and answers `302 Found` to the original URL. It never waits on
//! enrichment, uniqueness or webhooks: those happen later in the click processor, from the
//! stored hit. A token that does not verify gets 404, never a redirect (invariant 3).
//!
//! The redirect is sent even when the store cannot take the hit (down, or slower than
//! [`LinkHost::store_timeout`]): the hit then goes to the local [`spool::Spool`] on disk and
//! is replayed into the store when it answers again. After a store failure every hit goes
//! straight to the spool, and only the spool's replayer probes the store, off the redirect
//! path, so redirects stay fast for the whole outage. Only when the spool fails too is a hit lost; that
//! is counted in `clickhook_hits_unrecorded_total` and logged.

pub mod client_ip;
pub mod spool;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clickhook_core::{Hit, Keyring, RetentionDays, TokenError, labels, timefmt};
use clickhook_store::Store;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use ipnet::IpNet;
use tokio::net::TcpListener;

/// What the link host needs. Cheap to share: handlers hold an `Arc`.
pub struct LinkHost {
    pub keyring: Keyring,
    pub store: Arc<dyn Store>,
    pub trusted_proxies: Vec<IpNet>,
    pub retention: RetentionDays,
    /// The path of `tracking.link_base_url` ("" or e.g. "/t"): tokens live below it.
    pub path_prefix: String,
    /// How long a redirect may wait for the store before its hit goes to the spool.
    pub store_timeout: Duration,
    /// Where hits go when the store cannot take them.
    pub spool: Option<Arc<spool::Spool>>,
    /// `privacy.anonymize_ip`: zero the host part of the client address before the hit is
    /// stored, so nothing downstream (geo, store, payloads, logs) sees the full address.
    pub anonymize_ip: bool,
}

type Body = Full<Bytes>;

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// HEAD, OPTIONS and speculative loads (`Purpose`, `Sec-Purpose`, `X-Purpose`, `X-Moz` saying
/// prefetch, preview or prerender) are redirected but never clicks
/// ([`clickhook_bots::not_a_click`]).
fn is_not_a_click(req: &Request<Incoming>) -> bool {
    let headers = req.headers().iter().filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)));
    clickhook_bots::not_a_click(req.method().as_str(), headers).is_some()
}

impl LinkHost {
    /// Answers one request. Public so that benchmarks and tests can call it without a socket.
    pub async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let path = req.uri().path();
        if path == "/healthz" {
            return plain(StatusCode::OK, "ok\n");
        }
        let token = path.strip_prefix(self.path_prefix.as_str()).and_then(|p| p.strip_prefix('/')).unwrap_or("");
        let payload = match self.keyring.verify(token) {
            Ok(p) => p,
            Err(e) => {
                let reason = match e {
                    TokenError::Malformed => "malformed",
                    TokenError::UnknownKey => "unknown_key",
                    TokenError::BadSignature => "bad_signature",
                    TokenError::BadContent => "bad_content",
                };
                metrics::counter!("clickhook_tokens_rejected_total", "reason" => reason).increment(1);
                return plain(StatusCode::NOT_FOUND, "not found\n");
            }
        };
        let location = match HeaderValue::from_str(&payload.original_link) {
            Ok(v) => v,
            Err(_) => return plain(StatusCode::NOT_FOUND, "not found\n"),
        };
        match *req.method() {
            Method::GET | Method::HEAD | Method::OPTIONS => {}
            _ => {
                let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
                r.headers_mut().insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
                return r;
            }
        }
        if !is_not_a_click(&req) {
            self.record(&req, peer, payload).await;
        } else {
            metrics::counter!("clickhook_hits_total", "outcome" => "not_a_click").increment(1);
        }
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::FOUND;
        r.headers_mut().insert(LOCATION, location);
        r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    async fn record(&self, req: &Request<Incoming>, peer: SocketAddr, payload: clickhook_core::TokenPayload) {
        let now = time::OffsetDateTime::now_utc();
        let now_ms = timefmt::unix_ms(now);
        if !self.retention.contains(payload.sent_at.saturating_mul(1000), now_ms) {
            metrics::counter!("clickhook_hits_total", "outcome" => "after_retention").increment(1);
            return;
        }
        let xff = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        let mut ip = client_ip::client_ip(peer.ip(), xff, &self.trusted_proxies);
        if self.anonymize_ip {
            ip = clickhook_bots::anonymize_ip(ip);
        }
        let ua = req.headers().get(hyper::header::USER_AGENT).map(|v| String::from_utf8_lossy(v.as_bytes())).unwrap_or_default();
        let hit = Hit::new(uuid::Uuid::now_v7(), payload, now_ms, ip, &ua);
        if !self.spool.as_ref().is_some_and(|s| s.store_down()) {
            let err = match tokio::time::timeout(self.store_timeout, self.store.append_hit(&hit)).await {
                Ok(Ok(())) => {
                    metrics::counter!("clickhook_hits_total", "outcome" => "recorded").increment(1);
                    return;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {:?}", self.store_timeout),
            };
            // The store's own metrics (clickhook_store_*) count the failure or the abandoned call.
            if let Some(s) = &self.spool {
                s.mark_store_down();
            }
            tracing::warn!(error = %err, "store did not take a hit; spooling hits until it answers again");
        }
        let spooled = match &self.spool {
            Some(spool) => spool.append(&hit).await,
            None => Err("no spool configured".to_owned()),
        };
        match spooled {
            Ok(()) => metrics::counter!("clickhook_hits_total", "outcome" => "spooled").increment(1),
            Err(e) => {
                metrics::counter!("clickhook_hits_unrecorded_total").increment(1);
                tracing::error!(error = %e, hit = %hit.id, "hit neither stored nor spooled; redirecting anyway");
            }
        }
    }
}

/// Serves the link host on an already-bound listener until `shutdown` resolves, then lets
/// open connections finish their requests (up to 10 s).
pub async fn run(listener: TcpListener, state: Arc<LinkHost>, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(256);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "link host: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let service = hyper::service::service_fn(move |req| {
            let state = state.clone();
            async move {
                let started = std::time::Instant::now();
                let resp = state.handle(req, peer).await;
                let status = labels::status(resp.status().as_u16());
                metrics::counter!("clickhook_http_requests_total", "listener" => "redirect", "status" => status).increment(1);
                metrics::histogram!("clickhook_http_request_duration_seconds", "listener" => "redirect").record(started.elapsed().as_secs_f64());
                Ok::<_, Infallible>(resp)
            }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    Ok(())
}
