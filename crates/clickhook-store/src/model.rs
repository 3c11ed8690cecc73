//! The records the store contract speaks in.

use serde::{Deserialize, Serialize};

/// What the click processor decided about a hit.
#[derive(Debug, Clone, PartialEq)]
pub enum HitDecision {
    /// Not a click that counts: the message is unknown, or retention is over. The hit is
    /// removed and nothing else happens.
    Discard,
    /// A click inside retention. Whether it is unique is decided atomically by the store:
    /// when `mark_key` was not yet marked, the click is unique and one delivery per
    /// `webhook_ids` entry is enqueued with `event_id`.
    Click(Box<ClickOutcome>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClickOutcome {
    pub mark_key: String,
    /// When the mark, the click row and the message's deliveries' logs expire.
    pub expires_at_ms: i64,
    pub event_id: uuid::Uuid,
    /// The Click JSON, exactly as receivers get it.
    pub payload: String,
    pub webhook_ids: Vec<i64>,
    pub click: ClickRow,
    /// The daily counters the click adds to; `None` counts nothing (a click taken for a
    /// scanner is stored and listed, but is not a click in the Stats API).
    pub stats: Option<crate::search::StatKeys>,
}

/// A click as the Messages API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClickRow {
    pub event_id: uuid::Uuid,
    pub server: String,
    pub message_id: String,
    pub received_at_ms: i64,
    pub unique: bool,
    pub event: clickhook_core::ClickEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Unique { deliveries: usize },
    Repeat,
    Discarded,
    AlreadySettled,
}

/// A delivery handed to a dispatcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryJob {
    pub id: i64,
    pub event_id: uuid::Uuid,
    pub webhook_id: i64,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub at_ms: i64,
    /// HTTP status, when a response came.
    pub status: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// The first bytes of the response body.
    pub response: Option<String>,
}

/// What a delivery does after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    /// The receiver refused (403); no more attempts.
    Stopped,
    RetryAt(i64),
    /// The schedule ran out.
    Dead,
    /// The attempt was not made (e.g. the webhook was deleted): drop without counting.
    Dropped,
}

impl NextStep {
    /// The state a delivery is left in, and when it is next due (0 when never).
    pub fn state(self) -> (DeliveryState, i64) {
        match self {
            Self::Delivered => (DeliveryState::Delivered, 0),
            Self::Stopped => (DeliveryState::Stopped, 0),
            Self::Dead => (DeliveryState::Dead, 0),
            Self::Dropped => (DeliveryState::Dropped, 0),
            Self::RetryAt(t) => (DeliveryState::Pending, t),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Stopped,
    Dead,
    Dropped,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Stopped => "stopped",
            Self::Dead => "dead",
            Self::Dropped => "dropped",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "delivered" => Self::Delivered,
            "stopped" => Self::Stopped,
            "dead" => Self::Dead,
            "dropped" => Self::Dropped,
            _ => Self::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryInfo {
    pub id: i64,
    pub event_id: uuid::Uuid,
    pub webhook_id: i64,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_at_ms: i64,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub pending_hits: u64,
    pub pending_deliveries: u64,
    pub dead_deliveries: u64,
    /// Creation time of the oldest pending delivery, unix ms.
    pub oldest_pending_delivery_ms: Option<i64>,
}
