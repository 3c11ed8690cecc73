//! The Webhooks API, as Postmark's: list, get, create, partial edit, delete.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use clickhook_core::Webhook;
use clickhook_core::webhook::HttpHeader;
use serde_json::{Value, json};

use crate::error::{ApiError, code};
use crate::{ApiState, Server, parse_json, query_pairs};

/// Custom headers per webhook, at most.
const MAX_HEADERS: usize = 50;
/// Headers the dispatcher sets itself; a webhook may not override them.
const RESERVED_HEADERS: &[&str] =
    &["content-type", "content-length", "host", "transfer-encoding", "connection", "webhook-id", "webhook-timestamp", "webhook-signature"];

fn not_found(id: i64) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code::WEBHOOK_NOT_FOUND, format!("Webhook {id} was not found."))
}

fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| ApiError::invalid(format!("webhook id {raw:?} is not a number")))
}

/// Checks what a user may put in a webhook, but for where the Url's host name resolves
/// ([`check_resolved_target`]).
fn validate_fields(w: &Webhook, allow_private: bool) -> Result<(), ApiError> {
    if w.url.trim().is_empty() {
        return Err(ApiError::invalid("Url is required"));
    }
    if w.url.len() > 2048 {
        return Err(ApiError::invalid("Url is longer than 2048 bytes"));
    }
    clickhook_dispatch::guard::check_url(&w.url, allow_private).map_err(|e| ApiError::invalid(format!("Url: {e}")))?;
    if w.message_stream.is_empty() || w.message_stream.len() > 100 {
        return Err(ApiError::invalid("MessageStream must be 1 to 100 characters"));
    }
    if w.http_headers.len() > MAX_HEADERS {
        return Err(ApiError::invalid(format!("HttpHeaders has {} entries: at most {MAX_HEADERS}", w.http_headers.len())));
    }
    for HttpHeader { name, value } in &w.http_headers {
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ApiError::invalid(format!("HttpHeaders: {name:?} is not a valid header name")));
        }
        if axum::http::HeaderValue::from_str(value).is_err() || value.len() > 4096 {
            return Err(ApiError::invalid(format!("HttpHeaders: the value of {name:?} is not a valid header value")));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(ApiError::invalid(format!("HttpHeaders: {name:?} is set by clickhook and cannot be overridden")));
        }
    }
    if w.signing_secrets.len() > 5 {
        return Err(ApiError::invalid(format!("SigningSecrets has {} entries: at most 5", w.signing_secrets.len())));
    }
    for s in &w.signing_secrets {
        clickhook_core::signature::WebhookSecret::parse(s).map_err(|e| ApiError::invalid(format!("SigningSecrets: {e}")))?;
    }
    if w.http_auth.as_ref().is_some_and(|a| a.username.len() > 256 || a.password.len() > 256 || a.username.contains(':')) {
        return Err(ApiError::invalid("HttpAuth: Username and Password must be at most 256 bytes, and Username must not contain ':'"));
    }
    Ok(())
}

/// A host name that resolves only to refused addresses is refused (unless private targets
/// are allowed). The one check that does I/O, so it runs after [`validate_fields`].
async fn check_resolved_target(w: &Webhook, allow_private: bool) -> Result<(), ApiError> {
    clickhook_dispatch::guard::check_target(&w.url, allow_private).await.map_err(|e| ApiError::invalid(format!("Url: {e}")))?;
    Ok(())
}

/// The JSON object of a create or edit body, without `ID` (which the path or the store sets).
fn parse_patch(body: &[u8]) -> Result<Value, ApiError> {
    let mut patch: Value = parse_json(body)?;
    let Some(obj) = patch.as_object_mut() else {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code::INVALID_JSON, "Invalid JSON: expected an object"));
    };
    obj.remove("ID");
    Ok(patch)
}

/// Everything `POST /webhooks` does with its body before it resolves the Url's host and
/// stores the webhook: parse, fill in Postmark's defaults, check every field. The fuzz target
/// `api_json` calls it with arbitrary bodies.
pub fn parse_and_validate_create(body: &[u8], server: &str, allow_private: bool) -> Result<Webhook, ApiError> {
    let mut patch = parse_patch(body)?;
    let obj = patch.as_object_mut().expect("parse_patch answers an object");
    if !obj.contains_key("Url") {
        return Err(ApiError::invalid("Url is required"));
    }
    let mut base = json!({ "ID": 0, "Url": "", "MessageStream": "outbound", "HttpHeaders": [], "Triggers": {} });
    if obj.get("MessageStream").is_some_and(Value::is_null) {
        obj.remove("MessageStream");
    }
    merge(&mut base, patch);
    let mut w = from_value(base)?;
    w.server = server.to_owned();
    validate_fields(&w, allow_private)?;
    Ok(w)
}

/// Everything `PUT /webhooks/{id}` does with its body and the stored webhook before it
/// resolves the Url's host and stores the result: a partial edit of `existing`, checked.
pub fn parse_and_validate_edit(body: &[u8], existing: &Webhook, allow_private: bool) -> Result<Webhook, ApiError> {
    apply_edit(existing, parse_patch(body)?, allow_private)
}

fn apply_edit(existing: &Webhook, patch: Value, allow_private: bool) -> Result<Webhook, ApiError> {
    let mut base = serde_json::to_value(existing).map_err(|e| ApiError::invalid(e.to_string()))?;
    merge(&mut base, patch);
    let mut w = from_value(base)?;
    w.id = existing.id;
    w.server = existing.server.clone();
    validate_fields(&w, allow_private)?;
    Ok(w)
}

/// Merges `patch` into `base`: objects key by key, everything else replaced. Postmark's
/// edit is partial: fields left out keep their values, and so do triggers left out.
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, p) => *b = p,
    }
}

fn from_value(v: Value) -> Result<Webhook, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code::INVALID_JSON, format!("Invalid JSON: {e}")))
}

pub async fn list(State(state): State<ApiState>, server: Server, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let stream = query_pairs(q.as_deref()).into_iter().find(|(k, _)| k == "messagestream").map(|(_, v)| v);
    let hooks = state.store.list_webhooks(&server.name, stream.as_deref().filter(|s| !s.is_empty())).await?;
    Ok(Json(json!({ "Webhooks": hooks })))
}

pub async fn get(State(state): State<ApiState>, server: Server, Path(id): Path<String>) -> Result<Json<Webhook>, ApiError> {
    let id = parse_id(&id)?;
    match state.store.get_webhook(id).await? {
        Some(w) if w.server == server.name => Ok(Json(w)),
        _ => Err(not_found(id)),
    }
}

pub async fn create(State(state): State<ApiState>, server: Server, crate::Body(body): crate::Body) -> Result<Json<Webhook>, ApiError> {
    let w = parse_and_validate_create(&body, &server.name, state.allow_private_targets)?;
    check_resolved_target(&w, state.allow_private_targets).await?;
    Ok(Json(state.store.create_webhook(w).await?))
}

pub async fn edit(
    State(state): State<ApiState>,
    server: Server,
    Path(id): Path<String>,
    crate::Body(body): crate::Body,
) -> Result<Json<Webhook>, ApiError> {
    let id = parse_id(&id)?;
    let patch = parse_patch(&body)?;
    let existing = match state.store.get_webhook(id).await? {
        Some(w) if w.server == server.name => w,
        _ => return Err(not_found(id)),
    };
    let w = apply_edit(&existing, patch, state.allow_private_targets)?;
    check_resolved_target(&w, state.allow_private_targets).await?;
    if !state.store.update_webhook(&w).await? {
        return Err(not_found(id));
    }
    Ok(Json(w))
}

pub async fn delete(State(state): State<ApiState>, server: Server, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    if !state.store.delete_webhook(&server.name, id).await? {
        return Err(not_found(id));
    }
    Ok(Json(json!({ "ErrorCode": 0, "Message": format!("Webhook {id} removed.") })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_partial_at_every_level() {
        let mut base = json!({"Url": "a", "Triggers": {"Click": {"Enabled": true}, "Open": {"Enabled": true, "PostFirstOpenOnly": true}}, "HttpHeaders": [{"Name": "x"}]});
        merge(&mut base, json!({"Triggers": {"Open": {"Enabled": false}}, "HttpHeaders": []}));
        assert_eq!(base, json!({"Url": "a", "Triggers": {"Click": {"Enabled": true}, "Open": {"Enabled": false, "PostFirstOpenOnly": true}}, "HttpHeaders": []}));
    }
}
