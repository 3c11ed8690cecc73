//! The Click event: Postmark's Click webhook JSON, field for field.
//!
//! Field names, order and shapes follow Postmark's documented payload so that receivers
//! written for Postmark parse it unchanged. Unknown geo is `{}`; unknown client or OS
//! fields are `"unknown"`.

use serde::{Deserialize, Serialize};

use crate::message::ClickLocation;

pub const UNKNOWN: &str = "unknown";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientInfo {
    pub name: String,
    pub company: String,
    pub family: String,
}

impl Default for ClientInfo {
    fn default() -> Self {
        Self { name: UNKNOWN.into(), company: UNKNOWN.into(), family: UNKNOWN.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OsInfo {
    pub name: String,
    pub company: String,
    pub family: String,
}

impl Default for OsInfo {
    fn default() -> Self {
        Self { name: UNKNOWN.into(), company: UNKNOWN.into(), family: UNKNOWN.into() }
    }
}

/// Where a click came from. Every field is optional; an unknown address is `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geo {
    #[serde(rename = "CountryISOCode", skip_serializing_if = "Option::is_none", default)]
    pub country_iso_code: Option<String>,
    #[serde(rename = "Country", skip_serializing_if = "Option::is_none", default)]
    pub country: Option<String>,
    #[serde(rename = "RegionISOCode", skip_serializing_if = "Option::is_none", default)]
    pub region_iso_code: Option<String>,
    #[serde(rename = "Region", skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    #[serde(rename = "City", skip_serializing_if = "Option::is_none", default)]
    pub city: Option<String>,
    #[serde(rename = "Zip", skip_serializing_if = "Option::is_none", default)]
    pub zip: Option<String>,
    /// `"lat,lon"`.
    #[serde(rename = "Coords", skip_serializing_if = "Option::is_none", default)]
    pub coords: Option<String>,
    #[serde(rename = "IP", skip_serializing_if = "Option::is_none", default)]
    pub ip: Option<String>,
}

impl Geo {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Postmark's `Platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Platform {
    Desktop,
    Mobile,
    WebMail,
    #[default]
    Unknown,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "Desktop",
            Self::Mobile => "Mobile",
            Self::WebMail => "WebMail",
            Self::Unknown => "Unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Desktop" => Some(Self::Desktop),
            "Mobile" => Some(Self::Mobile),
            "WebMail" => Some(Self::WebMail),
            "Unknown" => Some(Self::Unknown),
            _ => None,
        }
    }
}

/// The Click webhook payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClickEvent {
    #[serde(rename = "RecordType")]
    pub record_type: String,
    #[serde(rename = "MessageStream")]
    pub message_stream: String,
    #[serde(rename = "ClickLocation")]
    pub click_location: ClickLocation,
    #[serde(rename = "Client")]
    pub client: ClientInfo,
    #[serde(rename = "OS")]
    pub os: OsInfo,
    #[serde(rename = "Platform")]
    pub platform: Platform,
    #[serde(rename = "UserAgent")]
    pub user_agent: String,
    #[serde(rename = "OriginalLink")]
    pub original_link: String,
    #[serde(rename = "Geo")]
    pub geo: Geo,
    #[serde(rename = "MessageID")]
    pub message_id: String,
    #[serde(rename = "Metadata")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Postmark format, see [`crate::timefmt::postmark`].
    #[serde(rename = "ReceivedAt")]
    pub received_at: String,
    #[serde(rename = "Tag")]
    pub tag: String,
    #[serde(rename = "Recipient")]
    pub recipient: String,
    /// clickhook's extension: the bot verdict on the click. The stored click (Messages API)
    /// always carries it; a webhook payload only with `bots.label = true`. Left out of the
    /// JSON when absent, so the payload is exactly Postmark's by default.
    #[serde(rename = "Bot", default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<BotInfo>,
}

/// The `Bot` object: `{"Verdict": "scanner", "Reasons": ["scanner_network_certain"]}`.
/// Verdict is `human`, `suspected` or `scanner`; reasons are stable snake_case codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotInfo {
    #[serde(rename = "Verdict")]
    pub verdict: String,
    #[serde(rename = "Reasons", default)]
    pub reasons: Vec<String>,
}

impl ClickEvent {
    /// Postmark's documented example, the body `send-test-webhook` posts.
    pub fn example() -> Self {
        serde_json::from_str(EXAMPLE_JSON).expect("the embedded example is valid")
    }
}

/// Postmark's documented example Click payload.
pub const EXAMPLE_JSON: &str = r#"{
  "RecordType": "Click",
  "MessageStream": "outbound",
  "ClickLocation": "HTML",
  "Client": { "Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome" },
  "OS": { "Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10" },
  "Platform": "Desktop",
  "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36",
  "OriginalLink": "https://example.com",
  "Geo": { "CountryISOCode": "RS", "Country": "Serbia", "RegionISOCode": "VO",
           "Region": "Autonomna Pokrajina Vojvodina", "City": "Novi Sad", "Zip": "21000",
           "Coords": "45.2517,19.8369", "IP": "8.8.8.8" },
  "MessageID": "00000000-0000-0000-0000-000000000000",
  "Metadata": { "a_key": "a_value", "b_key": "b_value" },
  "ReceivedAt": "2017-10-25T15:21:11.9065619Z",
  "Tag": "welcome-email",
  "Recipient": "john@example.com"
}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_round_trips_field_for_field() {
        let ev = ClickEvent::example();
        let a: serde_json::Value = serde_json::to_value(&ev).unwrap();
        let b: serde_json::Value = serde_json::from_str(EXAMPLE_JSON).unwrap();
        assert_eq!(a, b);
        // Postmark's field order
        let text = serde_json::to_string(&ev).unwrap();
        assert!(text.starts_with(r#"{"RecordType":"Click","MessageStream":"outbound","ClickLocation":"HTML","Client""#));
        assert!(!text.contains("\"Bot\""), "no Bot object unless set");
    }

    #[test]
    fn bot_object_is_last_and_round_trips() {
        let mut ev = ClickEvent::example();
        ev.bot = Some(BotInfo { verdict: "scanner".into(), reasons: vec!["burst".into()] });
        let text = serde_json::to_string(&ev).unwrap();
        assert!(text.ends_with(r#","Bot":{"Verdict":"scanner","Reasons":["burst"]}}"#), "{text}");
        assert_eq!(serde_json::from_str::<ClickEvent>(&text).unwrap(), ev);
    }

    #[test]
    fn unknown_geo_is_an_empty_object() {
        assert_eq!(serde_json::to_string(&Geo::default()).unwrap(), "{}");
        assert_eq!(serde_json::to_string(&ClientInfo::default()).unwrap(), r#"{"Name":"unknown","Company":"unknown","Family":"unknown"}"#);
    }
}
