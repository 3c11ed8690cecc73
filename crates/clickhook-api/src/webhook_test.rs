//! `POST /webhooks/{id}/test` (clickhook's own): POSTs Postmark's example Click payload to
//! one of the caller's webhooks right now and answers with what happened.
//!
//! The attempt is made the way the dispatcher makes one ([`clickhook_dispatch::post`]: JSON
//! body, Basic auth, custom headers, a fresh `webhook-id`, signatures) with the same SSRF
//! rules (`webhooks.allow_private_targets`). It is not a delivery: nothing is queued, retried
//! or written to the delivery log. The call succeeds (200) whatever the receiver answers:
//! `{"StatusCode": 200 | null, "DurationMs": n, "Error": null | "...", "Response": "..."}`,
//! with `StatusCode` null when no response came and `Response` the first 1 KiB of the body.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use clickhook_core::ClickEvent;
use serde_json::{Value, json};

use crate::deliveries::owned_webhook_record;
use crate::error::ApiError;
use crate::{ApiState, Server};

/// Time limit of the whole test request. The API does not see the dispatcher's
/// `webhooks.request_timeout`; this is its default, so a test waits as long as an attempt.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Time limit of the connect, as `webhooks.connect_timeout`'s default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn send(State(state): State<ApiState>, server: Server, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let webhook = owned_webhook_record(&state, &server, &id).await?;
    let client = clickhook_dispatch::http_client(REQUEST_TIMEOUT, CONNECT_TIMEOUT, state.allow_private_targets);
    let body = serde_json::to_string(&ClickEvent::example()).map_err(|e| ApiError::invalid(e.to_string()))?;
    let event_id = uuid::Uuid::new_v4().to_string();
    let r = clickhook_dispatch::post(&client, &webhook, &event_id, body, state.allow_private_targets).await;
    tracing::info!(webhook = webhook.id, status = ?r.status, error = ?r.error, "test webhook sent");
    Ok(Json(json!({
        "StatusCode": r.status,
        "DurationMs": u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
        "Error": r.error,
        "Response": r.response,
    })))
}
