//! Message records: what clickhook remembers of a tracked message until its retention ends.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where in the message the clicked link was: Postmark's `ClickLocation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClickLocation {
    #[serde(rename = "HTML")]
    Html,
    #[serde(rename = "Text")]
    Text,
}

impl ClickLocation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Html => "HTML",
            Self::Text => "Text",
        }
    }
    pub(crate) fn as_byte(self) -> u8 {
        match self {
            Self::Html => 0,
            Self::Text => 1,
        }
    }
    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Html),
            1 => Some(Self::Text),
            _ => None,
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HTML" => Some(Self::Html),
            "Text" => Some(Self::Text),
            _ => None,
        }
    }
}

/// Postmark's `TrackLinks` setting of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TrackLinks {
    None,
    #[default]
    HtmlAndText,
    HtmlOnly,
    TextOnly,
}

impl TrackLinks {
    pub fn html(self) -> bool {
        matches!(self, Self::HtmlAndText | Self::HtmlOnly)
    }
    pub fn text(self) -> bool {
        matches!(self, Self::HtmlAndText | Self::TextOnly)
    }
}

/// A tracked message, as registered by `POST /tracking/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub message_id: String,
    /// The API server (tenant) the message belongs to.
    pub server: String,
    pub stream: String,
    pub recipient: String,
    pub tag: String,
    /// Postmark metadata: string keys, string values, kept in the order given.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
}
