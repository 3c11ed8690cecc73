//! Bad input gets a clear 4xx (or a startup error), never a panic or a 5xx.

use clickhook_testkit::node::{TOKEN, TestNode};
use clickhook_testkit::process;
use serde_json::{Value, json};

async fn expect_error(node: &TestNode, method: &str, path: &str, body: Option<Vec<u8>>, status: u16, code: i64, needle: &str) {
    let (s, v) = node.call(method, path, body.clone(), Some(TOKEN)).await;
    assert_eq!(s, status, "{method} {path} {:?}: {v}", body.as_deref().map(String::from_utf8_lossy));
    assert_eq!(v["ErrorCode"], code, "{v}");
    let msg = v["Message"].as_str().unwrap_or_default();
    assert!(msg.contains(needle), "{method} {path}: message {msg:?} does not mention {needle:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_rejects_bad_messages_with_reasons() {
    let node = TestNode::start("").await;
    let p = "/tracking/messages";
    let b = |v: Value| Some(serde_json::to_vec(&v).unwrap());
    expect_error(&node, "POST", p, Some(b"{not json".to_vec()), 422, 402, "Invalid JSON").await;
    expect_error(&node, "POST", p, Some(Vec::new()), 422, 402, "empty").await;
    expect_error(&node, "POST", p, b(json!([1, 2])), 422, 402, "Invalid JSON").await;
    expect_error(&node, "POST", p, b(json!({ "HtmlBody": "<a href=\"https://e.com\">x</a>" })), 422, 300, "Recipient").await;
    expect_error(&node, "POST", p, b(json!({ "Recipient": "  " })), 422, 300, "Recipient").await;
    expect_error(&node, "POST", p, b(json!({ "Recipient": 42 })), 422, 402, "invalid type").await;
    expect_error(&node, "POST", p, b(json!({ "Recipient": "a@b.c", "TrackLinks": "Sometimes" })), 422, 300, "TrackLinks").await;
    expect_error(&node, "POST", p, b(json!({ "Recipient": "a@b.c", "SentAt": "yesterday" })), 422, 300, "SentAt").await;
    expect_error(&node, "POST", p, b(json!({ "Recipient": "a@b.c", "SentAt": "2999-01-01T00:00:00Z" })), 422, 300, "future").await;
    expect_error(&node, "POST", p, b(json!({ "Recipient": "a@b.c", "Metadata": { "k": 1 } })), 422, 300, "Metadata").await;
    expect_error(&node, "POST", p, b(json!({ "Recipient": "a@b.c", "MessageID": "" })), 422, 300, "MessageID").await;
    expect_error(&node, "POST", p, b(json!({ "Recipient": "a@b.c", "HtmlBody": ["x"] })), 422, 402, "invalid type").await;
    // a body over the limit
    let huge = format!("{{\"Recipient\":\"a@b.c\",\"HtmlBody\":\"{}\"}}", "x".repeat(clickhook_api::MAX_BODY));
    expect_error(&node, "POST", p, Some(huge.into_bytes()), 413, 413, "larger than").await;
    // a MessageID owned by another server cannot be taken over (same server: fine)
    let ok = node.track(json!({ "Recipient": "a@b.c", "MessageID": "mine" })).await;
    assert_eq!(ok["MessageID"], "mine");
    // TrackLinks None leaves bodies alone
    let none = node.track(json!({ "Recipient": "a@b.c", "TrackLinks": "None", "HtmlBody": "<a href=\"https://e.com\">x</a>", "TextBody": "https://e.com" })).await;
    assert_eq!(none["HtmlBody"], "<a href=\"https://e.com\">x</a>");
    assert_eq!(none["Links"], json!([]));
    // HtmlOnly tracks only the HTML body
    let html_only = node.track(json!({ "Recipient": "a@b.c", "TrackLinks": "HtmlOnly", "HtmlBody": "<a href=\"https://e.com\">x</a>", "TextBody": "https://e.com" })).await;
    assert_eq!(html_only["TextBody"], "https://e.com");
    assert_eq!(html_only["Links"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_api_rejects_bad_input_and_unknown_ids() {
    let node = TestNode::start("").await;
    let b = |v: Value| Some(serde_json::to_vec(&v).unwrap());
    expect_error(&node, "POST", "/webhooks", Some(b"nope".to_vec()), 422, 402, "Invalid JSON").await;
    expect_error(&node, "POST", "/webhooks", b(json!({})), 422, 300, "Url").await;
    expect_error(&node, "POST", "/webhooks", b(json!({ "Url": "ftp://example.com" })), 422, 300, "scheme").await;
    expect_error(&node, "POST", "/webhooks", b(json!({ "Url": "not a url" })), 422, 300, "Url").await;
    expect_error(&node, "POST", "/webhooks", b(json!({ "Url": "https://e.com", "Triggers": { "Click": { "Enabled": "yes" } } })), 422, 402, "invalid type").await;
    expect_error(&node, "POST", "/webhooks", b(json!({ "Url": "https://e.com", "HttpHeaders": [{ "Name": "bad header", "Value": "x" }] })), 422, 300, "header name").await;
    expect_error(&node, "POST", "/webhooks", b(json!({ "Url": "https://e.com", "HttpHeaders": [{ "Name": "Content-Type", "Value": "x" }] })), 422, 300, "cannot be overridden").await;
    expect_error(&node, "GET", "/webhooks/999999", None, 422, 1200, "999999").await;
    expect_error(&node, "PUT", "/webhooks/999999", b(json!({ "Url": "https://e.com" })), 422, 1200, "999999").await;
    expect_error(&node, "DELETE", "/webhooks/999999", None, 422, 1200, "999999").await;
    expect_error(&node, "GET", "/webhooks/abc", None, 422, 300, "abc").await;
    expect_error(&node, "GET", "/no/such/path", None, 404, 404, "/no/such/path").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_unless_allowed() {
    let node = TestNode::start("[webhooks]\nallow_private_targets = false").await;
    for url in ["http://127.0.0.1:9/x", "http://localhost/x", "http://169.254.169.254/latest", "http://[::1]/x", "http://10.0.0.1/x"] {
        let (s, v) = node.post("/webhooks", json!({ "Url": url })).await;
        assert_eq!(s, 422, "{url}: {v}");
        assert!(v["Message"].as_str().unwrap().contains("private"), "{url}: {v}");
    }
    let (s, v) = node.post("/webhooks", json!({ "Url": "https://hooks.example.com/x" })).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_required_and_checked() {
    let node = TestNode::start("").await;
    let (s, v) = node.call("GET", "/webhooks", None, None).await;
    assert_eq!((s, v["ErrorCode"].as_i64()), (401, Some(10)), "{v}");
    let (s, v) = node.call("GET", "/webhooks", None, Some("wrong-token")).await;
    assert_eq!((s, v["ErrorCode"].as_i64()), (401, Some(10)), "{v}");
    let (s, v) = node.call("POST", "/tracking/messages", Some(b"{}".to_vec()), None).await;
    assert_eq!(s, 401, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_crud_is_postmark_shaped() {
    let node = TestNode::start("").await;
    let (s, created) = node
        .post("/webhooks", json!({ "Url": "https://hooks.example.com/a", "MessageStream": "outbound", "Triggers": { "Click": { "Enabled": true } } }))
        .await;
    assert_eq!(s, 200, "{created}");
    let id = created["ID"].as_i64().unwrap();
    for t in ["Open", "Click", "Delivery", "Bounce", "SpamComplaint", "SubscriptionChange"] {
        assert!(created["Triggers"][t].is_object(), "{t} missing: {created}");
    }
    // partial edit: only the URL and the Open trigger change
    let (s, edited) = node
        .call("PUT", &format!("/webhooks/{id}"), Some(serde_json::to_vec(&json!({ "Url": "https://hooks.example.com/b", "Triggers": { "Open": { "Enabled": true } } })).unwrap()), Some(TOKEN))
        .await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(edited["Url"], "https://hooks.example.com/b");
    assert_eq!(edited["Triggers"]["Click"]["Enabled"], true);
    assert_eq!(edited["Triggers"]["Open"]["Enabled"], true);
    assert_eq!(edited["MessageStream"], "outbound");
    // paths and query keys in any case
    let (s, list) = node.get("/Webhooks?messageStream=outbound").await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["Webhooks"].as_array().unwrap().len(), 1);
    let (_, none) = node.get("/webhooks?MessageStream=broadcast").await;
    assert_eq!(none["Webhooks"], json!([]));
    let (s, got) = node.get(&format!("/webhooks/{id}")).await;
    assert_eq!((s, &got), (200, &edited));
    let (s, del) = node.call("DELETE", &format!("/webhooks/{id}"), None, Some(TOKEN)).await;
    assert_eq!(s, 200);
    assert_eq!(del["ErrorCode"], 0);
    let (s, _) = node.get(&format!("/webhooks/{id}")).await;
    assert_eq!(s, 422);
}

#[test]
fn bad_config_is_a_startup_error_that_names_the_key() {
    let (code, _, err) = process::run(&["check-config"], &[("CLICKHOOK__TRACKING__RETENTION_DAYS", "400")]);
    assert_eq!(code, 2);
    assert!(err.contains("tracking.retention_days = 400: must be 7..=365"), "{err}");
    let (code, _, err) = process::run(&["serve"], &[("CLICKHOOK__TRACKING__RETENTION_DAYS", "3")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("must be 7..=365"), "{err}");
    let (code, _, err) = process::run(&["serve", "--roles", "everything"], &[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = process::run(&["check-config", "--config", "/nonexistent/clickhook.toml"], &[]);
    assert_eq!(code, 2, "{err}");
    let (code, out, _) = process::run(&["check-config"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("retention_days = 45"), "{out}");
}
