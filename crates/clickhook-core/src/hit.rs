//! Hits: what the link host records about a request before it answers with a 302.
//!
//! A hit is raw: it holds only what came with the request and what the token said. Whether
//! it becomes a click, and whether that click is unique, is decided later by the click
//! processor, so that the redirect never waits on enrichment or on the store's reads.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::message::ClickLocation;
use crate::token::TokenPayload;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// UUIDv7: unique and ordered by arrival, so replay keeps order and dedups by id.
    pub id: uuid::Uuid,
    pub message_id: String,
    pub original_link: String,
    pub location: ClickLocation,
    /// The message's SentAt from the token, unix seconds.
    pub sent_at: i64,
    /// When the link host received the request, unix milliseconds.
    pub received_at_ms: i64,
    pub ip: IpAddr,
    pub user_agent: String,
}

/// User agents longer than this are cut (at a character boundary) before they are stored.
pub const MAX_USER_AGENT_LEN: usize = 1024;

impl Hit {
    pub fn new(id: uuid::Uuid, token: TokenPayload, received_at_ms: i64, ip: IpAddr, user_agent: &str) -> Self {
        let mut ua = user_agent;
        if ua.len() > MAX_USER_AGENT_LEN {
            let mut end = MAX_USER_AGENT_LEN;
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua = &ua[..end];
        }
        Self {
            id,
            message_id: token.message_id,
            original_link: token.original_link,
            location: token.location,
            sent_at: token.sent_at,
            received_at_ms,
            ip,
            user_agent: ua.to_owned(),
        }
    }
}
