//! The click path end to end: track a message, click its links, see the webhooks.

use std::time::Duration;

use clickhook_core::event::EXAMPLE_JSON;
use clickhook_testkit::node::{TestNode, links};
use clickhook_testkit::receiver::Receiver;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn example_message(id: &str, recipient: &str) -> Value {
    json!({
        "MessageID": id,
        "Recipient": recipient,
        "Tag": "welcome-email",
        "Metadata": { "a_key": "a_value", "b_key": "b_value" },
        "MessageStream": "outbound",
        "HtmlBody": "<p><a href=\"https://example.com\">x</a> <a data-pm-no-track href=\"https://example.org\">y</a> <a href=\"mailto:a@example.com\">m</a> <a href=\"https://example.net/other\">z</a></p>",
        "TextBody": "See https://example.com and https://example.net/text-only"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_click_gives_the_documented_payload() {
    let node = TestNode::start("").await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let msg = node.track(example_message("00000000-0000-0000-0000-000000000000", "john@example.com")).await;
    let html = links(&msg, "HTML");
    let r = node.click(&html[0], "8.8.8.8").await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://example.com");

    let got = rx.wait_for(1, WAIT).await;
    let mut body = got[0].json();
    let mut expected: Value = serde_json::from_str(EXAMPLE_JSON).unwrap();
    // ReceivedAt is the click's time: check its shape, then compare everything else.
    let received = body["ReceivedAt"].as_str().unwrap().to_owned();
    assert!(clickhook_core::timefmt::parse_rfc3339(&received).is_some(), "{received}");
    assert_eq!(received.len(), "2017-10-25T15:21:11.9065619Z".len());
    body["ReceivedAt"] = Value::Null;
    expected["ReceivedAt"] = Value::Null;
    assert_eq!(body, expected, "webhook body differs from INTERFACE.md's example");
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert!(got[0].header("webhook-id").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_means_first_click_per_recipient_link_and_message() {
    let node = TestNode::start("").await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let msg = node.track(example_message("m-1", "john@example.com")).await;
    let html = links(&msg, "HTML");
    let text = links(&msg, "Text");
    // the no-track link and mailto are untouched; two http links in HTML, two in text
    assert_eq!(html.len(), 2, "{msg}");
    assert_eq!(text.len(), 2, "{msg}");
    let body = msg["HtmlBody"].as_str().unwrap();
    assert!(body.contains("<a href=\"https://example.org\">y</a>"), "{body}");
    assert!(body.contains("href=\"mailto:a@example.com\""), "{body}");
    assert!(!body.contains("data-pm-no-track"), "{body}");

    // first click: one webhook
    assert_eq!(node.click(&html[0], "8.8.8.8").await.status(), 302);
    node.settle().await;
    assert_eq!(rx.requests().len(), 1);
    // the same link again, and its Text copy: 302, nothing more
    assert_eq!(node.click(&html[0], "8.8.8.8").await.status(), 302);
    assert_eq!(node.click(&text[0], "81.2.69.160").await.status(), 302);
    node.settle().await;
    assert_eq!(rx.requests().len(), 1, "a repeat or the Text copy made a webhook");
    // another link of the same message: one more
    assert_eq!(node.click(&html[1], "8.8.8.8").await.status(), 302);
    node.settle().await;
    assert_eq!(rx.requests().len(), 2);
    // a Text-only link: one more, with ClickLocation Text
    assert_eq!(node.click(&text[1], "8.8.8.8").await.status(), 302);
    node.settle().await;
    let got = rx.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].json()["ClickLocation"], "Text");
    assert_eq!(got[2].json()["OriginalLink"], "https://example.net/text-only");
    // the same link in another recipient's message: one more
    let other = node.track(example_message("m-2", "jane@example.com")).await;
    assert_eq!(node.click(&links(&other, "HTML")[0], "8.8.8.8").await.status(), 302);
    node.settle().await;
    let got = rx.requests();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].json()["Recipient"], "jane@example.com");
    // every event has its own id
    let mut ids: Vec<String> = got.iter().map(|r| r.header("webhook-id").unwrap().to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicks_after_retention_and_head_requests_redirect_without_a_webhook() {
    let node = TestNode::start("[tracking]\nretention_days = 7").await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let sent = time::OffsetDateTime::now_utc() - time::Duration::days(8);
    let sent = sent.format(&time::format_description::well_known::Rfc3339).unwrap();
    let mut old = example_message("m-old", "john@example.com");
    old["SentAt"] = json!(sent);
    let old = node.track(old).await;
    let r = node.click(&links(&old, "HTML")[0], "8.8.8.8").await;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (302, "https://example.com"));

    let fresh = node.track(example_message("m-new", "john@example.com")).await;
    let link = &links(&fresh, "HTML")[0];
    let head = node.http.head(link).send().await.unwrap();
    assert_eq!((head.status().as_u16(), head.headers()["location"].to_str().unwrap()), (302, "https://example.com"));
    // a browser prefetch is not a click either
    let pre = node.http.get(link).header("Sec-Purpose", "prefetch").send().await.unwrap();
    assert_eq!(pre.status(), 302);
    node.settle().await;
    assert_eq!(rx.requests().len(), 0, "after-retention, HEAD or prefetch made a webhook");
    // and the real click on the fresh message does
    node.click(link, "8.8.8.8").await;
    rx.wait_for(1, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tampered_truncated_and_unknown_key_links_are_404() {
    let node = TestNode::start("").await;
    let msg = node.track(example_message("m-1", "john@example.com")).await;
    let link = links(&msg, "HTML")[0].clone();
    let token = link.rsplit('/').next().unwrap().to_owned();
    let mut bad = vec![
        format!("{}/{}", node.link_base, &token[..token.len() - 1]),
        format!("{}/{}", node.link_base, &token[..token.len() / 2]),
        format!("{}/{}x", node.link_base, token),
        format!("{}/", node.link_base),
        format!("{}/not-a-token", node.link_base),
    ];
    // flip one character in the middle
    let mut chars: Vec<char> = token.chars().collect();
    let mid = chars.len() / 2;
    chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
    bad.push(format!("{}/{}", node.link_base, chars.into_iter().collect::<String>()));
    // a well-formed token signed by a key this node does not have
    let foreign = clickhook_core::Keyring::new(vec![clickhook_core::SigningKey::new("other", b"another-secret-0123456789".to_vec()).unwrap()]).unwrap();
    let forged = foreign
        .sign(&clickhook_core::TokenPayload {
            message_id: "m-1".into(),
            original_link: "https://evil.example/".into(),
            location: clickhook_core::ClickLocation::Html,
            sent_at: 0,
        })
        .unwrap();
    bad.push(format!("{}/{}", node.link_base, forged));
    for url in bad {
        let r = node.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 404, "{url}");
        assert!(r.headers().get("location").is_none(), "{url} redirected");
    }
    assert_eq!(node.http.get(&link).send().await.unwrap().status(), 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_webhooks_with_click_enabled_are_called() {
    let node = TestNode::start("").await;
    let on = Receiver::start().await;
    let off = Receiver::start().await;
    node.add_webhook(&on.url("/on"), true).await;
    node.add_webhook(&off.url("/off"), false).await;
    // a webhook on another stream is not called either
    let (s, _) = node.post("/webhooks", json!({ "Url": off.url("/other-stream"), "MessageStream": "broadcast", "Triggers": { "Click": { "Enabled": true } } })).await;
    assert_eq!(s, 200);
    let msg = node.track(example_message("m-1", "john@example.com")).await;
    node.click(&links(&msg, "HTML")[0], "8.8.8.8").await;
    on.wait_for(1, WAIT).await;
    node.settle().await;
    assert_eq!(on.requests().len(), 1);
    assert_eq!(off.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_auth_and_custom_headers_are_sent() {
    let node = TestNode::start("").await;
    let rx = Receiver::start().await;
    let (s, w) = node
        .post(
            "/webhooks",
            json!({
                "Url": rx.url("/hook"),
                "HttpAuth": { "Username": "user", "Password": "pass" },
                "HttpHeaders": [{ "Name": "X-Custom", "Value": "abc" }],
                "Triggers": { "Click": { "Enabled": true } }
            }),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    let msg = node.track(example_message("m-1", "john@example.com")).await;
    node.click(&links(&msg, "HTML")[0], "8.8.8.8").await;
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].header("authorization"), Some("Basic dXNlcjpwYXNz"));
    assert_eq!(got[0].header("x-custom"), Some("abc"));
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/hook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_and_unknown_addresses_are_enriched_as_documented() {
    let node = TestNode::start("").await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let msg = node.track(example_message("m-1", "john@example.com")).await;
    let html = links(&msg, "HTML");
    node.click(&html[0], "2a02:2770::21a:4aff:fe0a:1").await;
    node.click(&html[1], "203.0.113.50").await;
    let got = rx.wait_for(2, WAIT).await;
    let by_link = |l: &str| got.iter().map(|r| r.json()).find(|j| j["OriginalLink"] == l).unwrap();
    let v6 = by_link("https://example.com");
    assert_eq!(v6["Geo"]["IP"], "2a02:2770::21a:4aff:fe0a:1");
    assert!(v6["Geo"]["CountryISOCode"].is_string(), "{v6}");
    assert_eq!(by_link("https://example.net/other")["Geo"], json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_base_with_a_path_serves_tokens_below_it() {
    let node = TestNode::start("[tracking]\nlink_base_url = \"http://127.0.0.1:{redirect_port}/t/\"").await;
    let msg = node.track(example_message("m-1", "john@example.com")).await;
    let link = links(&msg, "HTML")[0].clone();
    assert!(link.starts_with(&format!("{}/", node.link_base)) && node.link_base.ends_with("/t"), "{link}");
    assert_eq!(node.click(&link, "8.8.8.8").await.status(), 302);
    // the same token outside the prefix is not a link
    let token = link.rsplit('/').next().unwrap();
    let outside = format!("{}/{}", node.link_base.trim_end_matches("/t"), token);
    assert_eq!(node.http.get(&outside).send().await.unwrap().status(), 404);
}
