//! clickhook's API listener: the Postmark-compatible Webhooks API, message tracking,
//! `/healthz`, `/readyz` and `/metrics`.
//!
//! Postmark's client libraries must work unchanged against it, so paths, methods, JSON
//! field names, status codes and error bodies follow Postmark's API: success is 200 with a
//! JSON body, errors are `{"ErrorCode": n, "Message": "..."}` (401 for a bad token, 422 for
//! invalid input and unknown entities). Paths and query keys match case-insensitively, as
//! they do at Postmark. Every body has a size limit and every field a length limit.

pub mod deliveries;
pub mod error;
pub mod messages;
pub mod openapi;
pub mod ops;
pub mod stats;
pub mod tracking;
pub mod webhook_test;
pub mod webhooks;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::Router;
use clickhook_core::{Keyring, RetentionDays};
use clickhook_store::Store;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::error::{ApiError, code};

/// The largest request body accepted: Postmark's 10 MB message limit plus room for JSON.
pub const MAX_BODY: usize = 12 * 1024 * 1024;

pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// Shared by every handler.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub keyring: Keyring,
    pub link_base_url: String,
    pub retention: RetentionDays,
    /// SHA-256 of each server token → server name.
    pub servers: Arc<HashMap<[u8; 32], String>>,
    pub allow_private_targets: bool,
    pub metrics: Option<MetricsRender>,
    /// What `/readyz` reports besides the store's ping.
    pub health: ops::Health,
}

impl ApiState {
    /// Hashes tokens so that the lookup's timing says nothing about a token's prefix.
    pub fn server_table(servers: impl IntoIterator<Item = (String, String)>) -> Arc<HashMap<[u8; 32], String>> {
        Arc::new(servers.into_iter().map(|(name, token)| (Sha256::digest(token.as_bytes()).into(), name)).collect())
    }
}

/// The API server (tenant) a request's `X-Postmark-Server-Token` selects.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
}

impl FromRequestParts<ApiState> for Server {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let Some(token) = parts.headers.get("x-postmark-server-token") else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                code::BAD_TOKEN,
                "No Server API token was supplied in the HTTP headers. Please add a header X-Postmark-Server-Token.",
            ));
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        match state.servers.get(&digest) {
            Some(name) => Ok(Server { name: name.clone() }),
            None => Err(ApiError::new(StatusCode::UNAUTHORIZED, code::BAD_TOKEN, "The X-Postmark-Server-Token is not valid.")),
        }
    }
}

/// A request body read up to [`MAX_BODY`], with Postmark-shaped errors.
pub struct Body(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        axum::body::to_bytes(req.into_body(), MAX_BODY).await.map(Body).map_err(|_| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, code::TOO_LARGE, format!("The request body is larger than {MAX_BODY} bytes."))
        })
    }
}

/// Parses a JSON body, with the reason and position when it is not valid.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code::INVALID_JSON, "Invalid JSON: the request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code::INVALID_JSON, format!("Invalid JSON: {e}")))
}

/// Query pairs with keys lower-cased and `_` removed: `MessageStream`, `messagestream` and
/// `message_stream` are one key.
pub fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = q else { return Vec::new() };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k).to_ascii_lowercase().replace('_', ""), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Static path segments that match in any case (`/Webhooks` = `/webhooks`).
const SEGMENTS: &[&str] =
    &["webhooks", "test", "deliveries", "resend", "recover", "tracking", "messages", "outbound", "clicks", "stats", "browserfamilies", "platforms", "location", "healthz", "readyz", "metrics"];

fn normalize_path(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    if !path.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let fixed: Vec<String> = path
        .split('/')
        .map(|seg| {
            let lower = seg.to_ascii_lowercase();
            if SEGMENTS.contains(&lower.as_str()) { lower } else { seg.to_owned() }
        })
        .collect();
    let mut s = fixed.join("/");
    if let Some(q) = uri.query() {
        s.push('?');
        s.push_str(q);
    }
    s.parse().ok()
}

async fn fallback(uri: Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, code::NOT_FOUND, format!("No endpoint at {}.", uri.path()))
}

/// Every (method, path template) that [`router`] registers. `openapi.json` documents exactly
/// these; the tests in `openapi.rs` check both against `router()` and against each other.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("GET", "/webhooks/{id}"),
    ("PUT", "/webhooks/{id}"),
    ("DELETE", "/webhooks/{id}"),
    ("POST", "/webhooks/{id}/test"),
    ("GET", "/webhooks/{id}/deliveries"),
    ("POST", "/webhooks/{id}/deliveries/recover"),
    ("GET", "/webhooks/{id}/deliveries/{delivery}"),
    ("POST", "/webhooks/{id}/deliveries/{delivery}/resend"),
    ("POST", "/tracking/messages"),
    ("GET", "/messages/outbound/clicks"),
    ("GET", "/messages/outbound/clicks/{messageid}"),
    ("GET", "/stats/outbound/clicks"),
    ("GET", "/stats/outbound/clicks/browserfamilies"),
    ("GET", "/stats/outbound/clicks/platforms"),
    ("GET", "/stats/outbound/clicks/location"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::get).put(webhooks::edit).delete(webhooks::delete))
        .route("/webhooks/{id}/test", post(webhook_test::send))
        .route("/webhooks/{id}/deliveries", get(deliveries::list))
        .route("/webhooks/{id}/deliveries/recover", post(deliveries::recover))
        .route("/webhooks/{id}/deliveries/{delivery}", get(deliveries::get))
        .route("/webhooks/{id}/deliveries/{delivery}/resend", post(deliveries::resend))
        .route("/tracking/messages", post(tracking::track_message))
        .route("/messages/outbound/clicks", get(messages::clicks))
        .route("/messages/outbound/clicks/{messageid}", get(messages::clicks_of_message))
        .route("/stats/outbound/clicks", get(stats::clicks))
        .route("/stats/outbound/clicks/browserfamilies", get(stats::browser_families))
        .route("/stats/outbound/clicks/platforms", get(stats::platforms))
        .route("/stats/outbound/clicks/location", get(stats::location))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(openapi::serve))
        .merge(clickhook_web::routes())
        .fallback(fallback)
        .layer(axum::middleware::from_fn(ops::track))
        .with_state(state)
}

/// Serves the API on an already-bound listener until `shutdown` resolves.
pub async fn run(listener: TcpListener, state: ApiState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let app = router(state);
    let app = tower::ServiceExt::map_request(app, |mut req: Request| {
        if let Some(uri) = normalize_path(req.uri()) {
            *req.uri_mut() = uri;
        }
        req
    });
    axum::serve(listener, tower::make::Shared::new(app)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keys_fold_case_and_underscores() {
        let q = query_pairs(Some("MessageStream=out%20bound&client_Name=Chrome+35&x"));
        assert_eq!(q, vec![("messagestream".into(), "out bound".into()), ("clientname".into(), "Chrome 35".into()), ("x".into(), "".into())]);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn static_segments_fold_case_ids_do_not() {
        let u: Uri = "/Messages/Outbound/Clicks/AbC?Count=1".parse().unwrap();
        assert_eq!(normalize_path(&u).unwrap(), "/messages/outbound/clicks/AbC?Count=1");
        assert!(normalize_path(&"/webhooks/1".parse().unwrap()).is_none());
    }
}
