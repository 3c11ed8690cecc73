//! `clickhook send-test-webhook`: POST Postmark's example Click payload to a URL, the way
//! the dispatcher posts (same headers, Basic auth, custom headers), and report the result.

use std::time::Duration;

use clickhook_core::{ClickEvent, Webhook, webhook::{HttpAuth, HttpHeader}};

pub struct TestWebhook {
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}

/// Returns the printable report and whether the receiver answered 2xx.
pub async fn send(t: TestWebhook) -> (String, bool) {
    let webhook = Webhook {
        id: 0,
        url: t.url.clone(),
        message_stream: "outbound".into(),
        http_auth: (t.user.is_some() || t.password.is_some())
            .then(|| HttpAuth { username: t.user.unwrap_or_default(), password: t.password.unwrap_or_default() }),
        http_headers: t.headers.into_iter().map(|(name, value)| HttpHeader { name, value }).collect(),
        triggers: Default::default(),
        signing_secrets: vec![],
        server: String::new(),
    };
    // The operator names the URL, so private targets are allowed here.
    let client = clickhook_dispatch::http_client(t.timeout, t.timeout, true);
    let body = serde_json::to_string(&ClickEvent::example()).expect("the example serializes");
    let event_id = uuid::Uuid::new_v4().to_string();
    let r = clickhook_dispatch::post(&client, &webhook, &event_id, body, true).await;
    let latency = format!("{:.1} ms", r.duration.as_secs_f64() * 1000.0);
    match r.status {
        Some(s) => {
            let ok = (200..300).contains(&s);
            let resp = r.response.unwrap_or_default();
            (format!("status: {s}\nlatency: {latency}\nwebhook-id: {event_id}\nresponse: {resp}\n"), ok)
        }
        None => (format!("error: {}\nlatency: {latency}\n", r.error.unwrap_or_default()), false),
    }
}
