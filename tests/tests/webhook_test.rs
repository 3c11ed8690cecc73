//! `POST /webhooks/{id}/test`: the example Click payload, sent now the way a delivery is
//! sent, to a real receiver; only the caller's own webhooks; the SSRF rules; nothing logged.

use std::time::Duration;

use clickhook_core::ClickEvent;
use clickhook_core::signature::{self, WebhookSecret};
use clickhook_testkit::node::{TOKEN, TestNode};
use clickhook_testkit::process::free_port;
use clickhook_testkit::receiver::{Receiver, Reply};
use serde_json::{Value, json};

const OTHER_TOKEN: &str = "other-server-token-0002";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Two API servers, so that one can try the other's webhook.
fn two_servers() -> String {
    format!("[[servers]]\nname = \"default\"\ntoken = \"{TOKEN}\"\n[[servers]]\nname = \"other\"\ntoken = \"{OTHER_TOKEN}\"\n")
}

async fn test_webhook(node: &TestNode, id: i64, token: Option<&str>) -> (u16, Value) {
    node.call("POST", &format!("/webhooks/{id}/test"), None, token).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_posts_the_example_payload_the_way_a_delivery_does() {
    let node = TestNode::start("").await;
    let rx = Receiver::start().await;
    let (s, w) = node
        .post(
            "/webhooks",
            json!({
                "Url": rx.url("/hook"),
                "HttpAuth": { "Username": "user", "Password": "secret" },
                "HttpHeaders": [{ "Name": "X-Env", "Value": "ui" }],
                "SigningSecrets": [SECRET],
                "Triggers": { "Click": { "Enabled": true } },
            }),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    let id = w["ID"].as_i64().unwrap();

    let (s, r) = test_webhook(&node, id, Some(TOKEN)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["StatusCode"], 200, "{r}");
    assert_eq!(r["Error"], Value::Null);
    assert_eq!(r["Response"], "ok");
    assert!(r["DurationMs"].as_u64().is_some_and(|ms| ms < 15_000), "{r}");

    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    let req = &got[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/hook"));
    assert_eq!(req.json(), serde_json::to_value(ClickEvent::example()).unwrap(), "the documented example payload");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("authorization"), Some("Basic dXNlcjpzZWNyZXQ="));
    assert_eq!(req.header("x-env"), Some("ui"));
    let event_id = req.header("webhook-id").expect("webhook-id");
    let ts: i64 = req.header("webhook-timestamp").expect("webhook-timestamp").parse().unwrap();
    let sig = req.header("webhook-signature").expect("signed with the webhook's secret");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(signature::verify(&WebhookSecret::parse(SECRET).unwrap(), event_id, ts, req.body.as_bytes(), sig, now, 300));

    // A test is not a delivery: nothing in the log, nothing retried.
    let (s, log) = node.get(&format!("/webhooks/{id}/deliveries")).await;
    assert_eq!(s, 200, "{log}");
    assert_eq!(log["TotalCount"], 0, "{log}");

    // Each test is its own event.
    test_webhook(&node, id, Some(TOKEN)).await;
    let got = rx.wait_for(2, Duration::from_secs(5)).await;
    assert_ne!(got[0].header("webhook-id"), got[1].header("webhook-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_reports_refusals_and_failures_as_they_happened() {
    let node = TestNode::start("").await;
    let rx = Receiver::start().await;
    rx.script([Reply::status(500)]);
    let id = node.add_webhook(&rx.url("/hook"), true).await;
    let (s, r) = test_webhook(&node, id, Some(TOKEN)).await;
    assert_eq!((s, r["StatusCode"].clone()), (200, json!(500)), "{r}");
    assert_eq!(r["Error"], Value::Null);

    // Nobody listening: no status, an error that says why (and never the URL).
    let port = free_port();
    let id = node.add_webhook(&format!("http://127.0.0.1:{port}/hook"), true).await;
    let (s, r) = test_webhook(&node, id, Some(TOKEN)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["StatusCode"], Value::Null, "{r}");
    let error = r["Error"].as_str().expect("an error text");
    assert!(!error.is_empty() && !error.contains(&port.to_string()), "{error}");
    assert_eq!(r["Response"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_callers_own_webhooks_can_be_tested() {
    let node = TestNode::start(&two_servers()).await;
    let rx = Receiver::start().await;
    let id = node.add_webhook(&rx.url("/hook"), true).await;

    let (s, r) = test_webhook(&node, id, Some(OTHER_TOKEN)).await;
    assert_eq!((s, r["ErrorCode"].clone()), (422, json!(1200)), "{r}");
    assert_eq!(r["Message"], format!("Webhook {id} was not found."));
    let (s, r) = test_webhook(&node, 999_999, Some(TOKEN)).await;
    assert_eq!((s, r["ErrorCode"].clone()), (422, json!(1200)), "{r}");
    let (s, r) = node.call("POST", "/webhooks/abc/test", None, Some(TOKEN)).await;
    assert_eq!((s, r["ErrorCode"].clone()), (422, json!(300)), "{r}");
    let (s, r) = test_webhook(&node, id, None).await;
    assert_eq!((s, r["ErrorCode"].clone()), (401, json!(10)), "{r}");
    // Paths match in any case, as elsewhere in the API.
    let (s, r) = node.call("POST", &format!("/Webhooks/{id}/Test"), None, Some(TOKEN)).await;
    assert_eq!((s, r["StatusCode"].clone()), (200, json!(200)), "{r}");
    assert_eq!(rx.requests().len(), 1, "only the owner's test reached the receiver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_keeps_to_the_ssrf_rules() {
    let node = TestNode::start("[webhooks]\nallow_private_targets = false").await;
    let rx = Receiver::start().await;
    // The API refuses such a URL; a webhook stored before the setting changed still has one.
    let (s, r) = node.post("/webhooks", json!({ "Url": rx.url("/hook") })).await;
    assert_eq!(s, 422, "{r}");
    let store = node.node.as_ref().unwrap().store.clone();
    let w = store
        .create_webhook(clickhook_core::Webhook {
            id: 0,
            url: rx.url("/hook"),
            message_stream: "outbound".into(),
            http_auth: None,
            http_headers: vec![],
            triggers: Default::default(),
            signing_secrets: vec![],
            server: "default".into(),
        })
        .await
        .unwrap();
    let (s, r) = test_webhook(&node, w.id, Some(TOKEN)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["StatusCode"], Value::Null, "{r}");
    assert!(r["Error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.requests().is_empty(), "a loopback receiver was called with allow_private_targets = false");
}
