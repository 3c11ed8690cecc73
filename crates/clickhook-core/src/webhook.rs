//! Webhooks as Postmark's Webhooks API shows them.
//!
//! The same struct is the API's JSON and the stored record: every trigger is always present
//! in responses, as Postmark's client libraries expect.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpHeader {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Toggle {
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OpenTrigger {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub post_first_open_only: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContentTrigger {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub include_content: bool,
}

/// All six Postmark triggers. clickhook only ever fires `Click`; the others are stored and
/// shown so that Postmark clients round-trip them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Triggers {
    #[serde(default)]
    pub open: OpenTrigger,
    #[serde(default)]
    pub click: Toggle,
    #[serde(default)]
    pub delivery: Toggle,
    #[serde(default)]
    pub bounce: ContentTrigger,
    #[serde(default)]
    pub spam_complaint: ContentTrigger,
    #[serde(default)]
    pub subscription_change: Toggle,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    #[serde(rename = "ID")]
    pub id: i64,
    #[serde(rename = "Url")]
    pub url: String,
    #[serde(rename = "MessageStream")]
    pub message_stream: String,
    #[serde(rename = "HttpAuth", skip_serializing_if = "Option::is_none", default)]
    pub http_auth: Option<HttpAuth>,
    #[serde(rename = "HttpHeaders", default)]
    pub http_headers: Vec<HttpHeader>,
    #[serde(rename = "Triggers", default)]
    pub triggers: Triggers,
    /// clickhook's extension: Standard Webhooks signing secrets (`whsec_...`), newest first.
    /// Every attempt is signed with each of them; absent or empty means unsigned, as at
    /// Postmark. Not shown when empty, so Postmark clients see Postmark's JSON.
    #[serde(rename = "SigningSecrets", default, skip_serializing_if = "Vec::is_empty")]
    pub signing_secrets: Vec<String>,
    /// The API server (tenant) that owns it; never shown in Postmark JSON.
    #[serde(skip)]
    pub server: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_triggers_are_always_serialized() {
        let w = Webhook {
            id: 7,
            url: "https://example.com/hook".into(),
            message_stream: "outbound".into(),
            http_auth: None,
            http_headers: vec![],
            triggers: Triggers { click: Toggle { enabled: true }, ..Default::default() },
            signing_secrets: vec![],
            server: "default".into(),
        };
        let v = serde_json::to_value(&w).unwrap();
        for t in ["Open", "Click", "Delivery", "Bounce", "SpamComplaint", "SubscriptionChange"] {
            assert!(v["Triggers"][t].is_object(), "{t} missing");
        }
        assert_eq!(v["Triggers"]["Click"]["Enabled"], true);
        assert_eq!(v["Triggers"]["Open"]["PostFirstOpenOnly"], false);
        assert!(v.get("server").is_none());
        assert!(v.get("SigningSecrets").is_none(), "an unsigned webhook shows Postmark's fields only");
    }
}
