//! `POST /tracking/messages`: register a message and rewrite its links.

use axum::Json;
use axum::extract::State;
use clickhook_core::{ClickLocation, Keyring, MessageRecord, TokenPayload, TrackLinks, timefmt};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::{ApiState, Server, parse_json};

/// Postmark's metadata limits.
const MAX_METADATA_FIELDS: usize = 10;
const MAX_METADATA_KEY: usize = 20;
const MAX_METADATA_VALUE: usize = 80;
/// Links tracked in one message, at most.
pub const MAX_LINKS: usize = 2000;

#[derive(Debug, Deserialize)]
pub struct TrackRequest {
    #[serde(rename = "MessageID", default)]
    message_id: Option<String>,
    #[serde(rename = "Recipient", default)]
    recipient: Option<String>,
    #[serde(rename = "Tag", default)]
    tag: Option<String>,
    #[serde(rename = "Metadata", default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(rename = "MessageStream", default)]
    message_stream: Option<String>,
    #[serde(rename = "SentAt", default)]
    sent_at: Option<String>,
    #[serde(rename = "TrackLinks", default)]
    track_links: Option<String>,
    #[serde(rename = "HtmlBody", default)]
    html_body: Option<String>,
    #[serde(rename = "TextBody", default)]
    text_body: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TrackedLink {
    #[serde(rename = "OriginalLink")]
    pub original_link: String,
    #[serde(rename = "TrackedLink")]
    pub tracked_link: String,
    #[serde(rename = "ClickLocation")]
    pub click_location: ClickLocation,
}

#[derive(Debug, Serialize)]
pub struct TrackResponse {
    #[serde(rename = "MessageID")]
    pub message_id: String,
    #[serde(rename = "HtmlBody", skip_serializing_if = "Option::is_none")]
    pub html_body: Option<String>,
    #[serde(rename = "TextBody", skip_serializing_if = "Option::is_none")]
    pub text_body: Option<String>,
    #[serde(rename = "Links")]
    pub links: Vec<TrackedLink>,
}

/// A `POST /tracking/messages` body, checked and with its links rewritten: what the handler
/// stores and answers. Nothing is stored yet.
#[derive(Debug)]
pub struct Prepared {
    pub record: MessageRecord,
    pub response: TrackResponse,
}

fn parse_track_links(s: Option<&str>) -> Result<TrackLinks, ApiError> {
    match s {
        None => Ok(TrackLinks::HtmlAndText),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "none" => Ok(TrackLinks::None),
            "htmlandtext" => Ok(TrackLinks::HtmlAndText),
            "htmlonly" => Ok(TrackLinks::HtmlOnly),
            "textonly" => Ok(TrackLinks::TextOnly),
            _ => Err(ApiError::invalid(format!(
                "TrackLinks {v:?} is not valid: use None, HtmlAndText, HtmlOnly or TextOnly"
            ))),
        },
    }
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.len() > max {
        return Err(ApiError::invalid(format!("{field} is longer than {max} bytes")));
    }
    Ok(())
}

pub async fn track_message(
    State(state): State<ApiState>,
    server: Server,
    crate::Body(body): crate::Body,
) -> Result<Json<TrackResponse>, ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let Prepared { record, response } = parse_and_validate(&body, &server.name, &state.keyring, &state.link_base_url, now)?;
    state.store.put_message(&record, state.retention.expires_at_ms(timefmt::unix_ms(record.sent_at))).await?;
    metrics::counter!("clickhook_messages_tracked_total").increment(1);
    metrics::counter!("clickhook_links_tracked_total").increment(response.links.len() as u64);
    Ok(Json(response))
}

/// Everything `POST /tracking/messages` does before it stores the message: parses the JSON
/// body, checks every field, and rewrites the bodies' links into tracked links signed with
/// `keyring` under `link_base_url`. Pure but for a random MessageID when none is given; `now`
/// is the time SentAt defaults to and is checked against. The fuzz target `api_json` calls
/// it with arbitrary bodies.
pub fn parse_and_validate(
    body: &[u8],
    server: &str,
    keyring: &Keyring,
    link_base_url: &str,
    now: time::OffsetDateTime,
) -> Result<Prepared, ApiError> {
    let req: TrackRequest = parse_json(body)?;
    let recipient = req.recipient.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if recipient.is_empty() {
        return Err(ApiError::invalid("Recipient is required"));
    }
    check_len("Recipient", &recipient, 512)?;
    let message_id = match req.message_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => id.to_owned(),
        Some(_) => return Err(ApiError::invalid("MessageID, when given, must not be empty")),
        None => uuid::Uuid::new_v4().to_string(),
    };
    check_len("MessageID", &message_id, 255)?;
    let tag = req.tag.unwrap_or_default();
    check_len("Tag", &tag, 1000)?;
    let stream = req.message_stream.unwrap_or_else(|| "outbound".into());
    if stream.is_empty() || stream.len() > 100 {
        return Err(ApiError::invalid("MessageStream must be 1 to 100 characters"));
    }
    let metadata = req.metadata.unwrap_or_default();
    if metadata.len() > MAX_METADATA_FIELDS {
        return Err(ApiError::invalid(format!("Metadata has {} fields: at most {MAX_METADATA_FIELDS}", metadata.len())));
    }
    for (k, v) in &metadata {
        if k.is_empty() || k.chars().count() > MAX_METADATA_KEY {
            return Err(ApiError::invalid(format!("Metadata key {k:?} must be 1 to {MAX_METADATA_KEY} characters")));
        }
        match v {
            serde_json::Value::String(s) if s.chars().count() <= MAX_METADATA_VALUE => {}
            serde_json::Value::String(_) => {
                return Err(ApiError::invalid(format!("Metadata value of {k:?} is longer than {MAX_METADATA_VALUE} characters")));
            }
            _ => return Err(ApiError::invalid(format!("Metadata value of {k:?} must be a string"))),
        }
    }
    let sent_at = match req.sent_at.as_deref() {
        None => now,
        Some(s) => timefmt::parse_rfc3339(s)
            .ok_or_else(|| ApiError::invalid(format!("SentAt {s:?} is not an RFC 3339 time such as 2026-11-29T10:00:00Z")))?,
    };
    if sent_at > now + time::Duration::days(1) {
        return Err(ApiError::invalid("SentAt lies more than a day in the future"));
    }
    // Tokens carry whole seconds; the record keeps the same instant so both agree.
    let sent_at = sent_at.replace_nanosecond(0).unwrap_or(sent_at);
    let track = parse_track_links(req.track_links.as_deref())?;

    let mut links = Vec::new();
    let mut too_many = false;
    let mut sign = |url: &str, location: ClickLocation, links: &mut Vec<TrackedLink>| -> Option<String> {
        if links.len() >= MAX_LINKS {
            too_many = true;
            return None;
        }
        let payload = TokenPayload {
            message_id: message_id.clone(),
            original_link: url.to_owned(),
            location,
            sent_at: sent_at.unix_timestamp(),
        };
        // Links that cannot be signed (too long, odd scheme) are left as they are.
        let token = keyring.sign(&payload).ok()?;
        let tracked = format!("{link_base_url}/{token}");
        links.push(TrackedLink { original_link: url.to_owned(), tracked_link: tracked.clone(), click_location: location });
        Some(tracked)
    };
    let html_body = match req.html_body {
        Some(html) if track.html() => Some(
            clickhook_rewrite::rewrite_html(&html, &mut |u| sign(u, ClickLocation::Html, &mut links))
                .map_err(|e| ApiError::invalid(format!("HtmlBody: {e}")))?,
        ),
        other => other,
    };
    let text_body = match req.text_body {
        Some(text) if track.text() => Some(clickhook_rewrite::rewrite_text(&text, &mut |u| sign(u, ClickLocation::Text, &mut links))),
        other => other,
    };
    if too_many {
        return Err(ApiError::invalid(format!("the message has more than {MAX_LINKS} links")));
    }
    let record = MessageRecord { message_id: message_id.clone(), server: server.to_owned(), stream, recipient, tag, metadata, sent_at };
    Ok(Prepared { record, response: TrackResponse { message_id, html_body, text_body, links } })
}
