//! The Messages API's clicks, as Postmark has them:
//!
//! - `GET /messages/outbound/clicks?count=&offset=[&filters]`: clicks of the caller's server.
//! - `GET /messages/outbound/clicks/{messageid}?count=&offset=`: clicks of one message.
//!
//! Both answer `{"TotalCount": n, "Clicks": [...]}`, newest first, each item the Click event
//! as webhooks receive it. Every click is listed, repeats included (the webhook goes only to
//! the unique ones). Clicks are kept for the retention window and removed within an hour of
//! its end. `count` (1..=500) and `offset` are required, with `count + offset <= 10000`, as at
//! Postmark. Filters match whole values without regard to case; see
//! [`clickhook_store::search`].

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use clickhook_store::{ClickField, ClickRow, ClickSearch};
use serde_json::{Value, json};

use crate::error::{ApiError, code};
use crate::{ApiState, Server, query_pairs};

/// Clicks listed per page at most.
pub const MAX_COUNT: usize = 500;
/// `count + offset` at most.
pub const MAX_WINDOW: usize = 10_000;
/// Longest filter value accepted.
pub const MAX_FILTER_LEN: usize = 1000;

/// Reads `count`, `offset` and (when `filters` is true) the click filters of a query.
fn parse_search(server: &Server, q: Option<&str>, filters: bool) -> Result<ClickSearch, ApiError> {
    let (mut count, mut offset) = (None, None);
    let mut search = ClickSearch::new(&server.name);
    for (k, v) in query_pairs(q) {
        match k.as_str() {
            "count" => count = Some(v.trim().parse::<usize>().map_err(|_| ApiError::invalid(format!("count {v:?} is not a number")))?),
            "offset" => offset = Some(v.trim().parse::<usize>().map_err(|_| ApiError::invalid(format!("offset {v:?} is not a number")))?),
            key if filters => {
                if let Some(field) = ClickField::from_folded_key(key) {
                    if v.len() > MAX_FILTER_LEN {
                        return Err(ApiError::invalid(format!("{} is longer than {MAX_FILTER_LEN} bytes", field.name())));
                    }
                    search = search.filter(field, &v);
                }
            }
            _ => {}
        }
    }
    let count = count.ok_or_else(|| ApiError::invalid("The count parameter is required (1..=500)."))?;
    let offset = offset.ok_or_else(|| ApiError::invalid("The offset parameter is required."))?;
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(ApiError::invalid(format!("count must be 1..={MAX_COUNT}")));
    }
    if count.saturating_add(offset) > MAX_WINDOW {
        return Err(ApiError::invalid(format!("count + offset must be at most {MAX_WINDOW}")));
    }
    search.count = count;
    search.offset = offset;
    Ok(search)
}

fn page(total: u64, rows: Vec<ClickRow>) -> Json<Value> {
    let clicks: Vec<Value> = rows.into_iter().map(|r| serde_json::to_value(r.event).unwrap_or(Value::Null)).collect();
    Json(json!({ "TotalCount": total, "Clicks": clicks }))
}

pub async fn clicks(State(state): State<ApiState>, server: Server, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let search = parse_search(&server, q.as_deref(), true)?;
    let (total, rows) = state.store.search_clicks(&search).await?;
    Ok(page(total, rows))
}

pub async fn clicks_of_message(
    State(state): State<ApiState>,
    server: Server,
    Path(message_id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut search = parse_search(&server, q.as_deref(), false)?;
    let not_found = || ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code::MESSAGE_NOT_FOUND, format!("Message {message_id:?} was not found."));
    if message_id.len() > 256 {
        return Err(not_found());
    }
    match state.store.get_message(&message_id).await? {
        Some(m) if m.server == server.name => {}
        _ => return Err(not_found()),
    }
    search.message_id = Some(message_id.clone());
    let (total, rows) = state.store.search_clicks(&search).await?;
    Ok(page(total, rows))
}
