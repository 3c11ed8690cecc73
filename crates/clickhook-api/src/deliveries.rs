//! clickhook's delivery log API (beyond Postmark): see every delivery of a webhook and each
//! of its attempts, resend one, and recover the failed deliveries of a time window.
//!
//! - `GET  /webhooks/{id}/deliveries?count=&offset=&status=`
//! - `GET  /webhooks/{id}/deliveries/{delivery}`
//! - `POST /webhooks/{id}/deliveries/{delivery}/resend`
//! - `POST /webhooks/{id}/deliveries/recover` with `{"From": "...", "To": "..."}` (RFC 3339)

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use clickhook_core::{Webhook, timefmt};
use clickhook_store::{AttemptRecord, DeliveryInfo, DeliveryState};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, code};
use crate::{ApiState, Server, parse_json, query_pairs};

/// Deliveries listed per page at most.
pub const MAX_COUNT: usize = 500;
/// `count + offset` at most.
pub const MAX_WINDOW: usize = 10_000;

fn time_text(ms: i64) -> String {
    timefmt::postmark(timefmt::from_unix_ms(ms))
}

fn delivery_json(d: &DeliveryInfo) -> Value {
    json!({
        "ID": d.id,
        "EventID": d.event_id.to_string(),
        "WebhookID": d.webhook_id,
        "Status": d.state.as_str(),
        "Attempts": d.attempts,
        "NextAttemptAt": (d.state == DeliveryState::Pending).then(|| time_text(d.next_at_ms)),
        "CreatedAt": time_text(d.created_at_ms),
    })
}

fn attempt_json(a: &AttemptRecord) -> Value {
    json!({
        "At": time_text(a.at_ms),
        "StatusCode": a.status,
        "DurationMs": a.duration_ms,
        "Error": a.error,
        "Response": a.response,
    })
}

fn parse_i64(what: &str, raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| ApiError::invalid(format!("{what} {raw:?} is not a number")))
}

/// The webhook must exist and belong to the caller's server.
async fn owned_webhook(state: &ApiState, server: &Server, raw: &str) -> Result<i64, ApiError> {
    owned_webhook_record(state, server, raw).await.map(|w| w.id)
}

/// The same check as `owned_webhook`, answering the webhook itself.
pub(crate) async fn owned_webhook_record(state: &ApiState, server: &Server, raw: &str) -> Result<Webhook, ApiError> {
    let id = parse_i64("webhook id", raw)?;
    match state.store.get_webhook(id).await? {
        Some(w) if w.server == server.name => Ok(Webhook { id, ..w }),
        _ => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code::WEBHOOK_NOT_FOUND, format!("Webhook {id} was not found."))),
    }
}

fn delivery_not_found(id: i64) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code::DELIVERY_NOT_FOUND, format!("Delivery {id} was not found."))
}

pub async fn list(State(state): State<ApiState>, server: Server, Path(id): Path<String>, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let webhook = owned_webhook(&state, &server, &id).await?;
    let (mut count, mut offset, mut status) = (50usize, 0usize, None);
    for (k, v) in query_pairs(q.as_deref()) {
        match k.as_str() {
            "count" => count = v.parse().map_err(|_| ApiError::invalid(format!("count {v:?} is not a number")))?,
            "offset" => offset = v.parse().map_err(|_| ApiError::invalid(format!("offset {v:?} is not a number")))?,
            "status" => {
                status = Some(match v.to_ascii_lowercase().as_str() {
                    "pending" => DeliveryState::Pending,
                    "delivered" => DeliveryState::Delivered,
                    "stopped" => DeliveryState::Stopped,
                    "dead" => DeliveryState::Dead,
                    "dropped" => DeliveryState::Dropped,
                    _ => return Err(ApiError::invalid(format!("status {v:?}: use pending, delivered, stopped, dead or dropped"))),
                })
            }
            _ => {}
        }
    }
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(ApiError::invalid(format!("count must be 1..={MAX_COUNT}")));
    }
    if count + offset > MAX_WINDOW {
        return Err(ApiError::invalid(format!("count + offset must be at most {MAX_WINDOW}")));
    }
    let (total, list) = state.store.list_deliveries(webhook, status, count, offset).await?;
    Ok(Json(json!({ "TotalCount": total, "Deliveries": list.iter().map(delivery_json).collect::<Vec<_>>() })))
}

pub async fn get(State(state): State<ApiState>, server: Server, Path((id, delivery)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    let webhook = owned_webhook(&state, &server, &id).await?;
    let delivery = parse_i64("delivery id", &delivery)?;
    let d = match state.store.get_delivery(delivery).await? {
        Some(d) if d.webhook_id == webhook => d,
        _ => return Err(delivery_not_found(delivery)),
    };
    let attempts = state.store.list_attempts(delivery).await?;
    let mut v = delivery_json(&d);
    v["AttemptLog"] = Value::Array(attempts.iter().map(attempt_json).collect());
    Ok(Json(v))
}

pub async fn resend(State(state): State<ApiState>, server: Server, Path((id, delivery)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    let webhook = owned_webhook(&state, &server, &id).await?;
    let delivery = parse_i64("delivery id", &delivery)?;
    let now = timefmt::unix_ms(time::OffsetDateTime::now_utc());
    if !state.store.resend_delivery(webhook, delivery, now).await? {
        return match state.store.get_delivery(delivery).await? {
            Some(d) if d.webhook_id == webhook => Err(ApiError::invalid(format!("Delivery {delivery} is already queued."))),
            _ => Err(delivery_not_found(delivery)),
        };
    }
    Ok(Json(json!({ "ErrorCode": 0, "Message": format!("Delivery {delivery} queued.") })))
}

#[derive(Deserialize)]
struct RecoverRequest {
    #[serde(rename = "From")]
    from: String,
    #[serde(rename = "To")]
    to: String,
}

pub async fn recover(State(state): State<ApiState>, server: Server, Path(id): Path<String>, crate::Body(body): crate::Body) -> Result<Json<Value>, ApiError> {
    let webhook = owned_webhook(&state, &server, &id).await?;
    let req: RecoverRequest = parse_json(&body)?;
    let parse = |field: &str, v: &str| {
        timefmt::parse_rfc3339(v).ok_or_else(|| ApiError::invalid(format!("{field} {v:?} is not an RFC 3339 time such as 2026-11-29T10:00:00Z")))
    };
    let (from, to) = (parse("From", &req.from)?, parse("To", &req.to)?);
    if from >= to {
        return Err(ApiError::invalid("From must be before To"));
    }
    let now = timefmt::unix_ms(time::OffsetDateTime::now_utc());
    let n = state.store.recover_deliveries(webhook, timefmt::unix_ms(from), timefmt::unix_ms(to), now).await?;
    Ok(Json(json!({ "Recovered": n })))
}
