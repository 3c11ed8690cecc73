//! The Messages and Stats APIs over real clicks: track, click through the link host with
//! different browsers and places, then read the clicks back with filters and the counters.

use clickhook_testkit::node::{TestNode, links};
use serde_json::{Value, json};

const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const FIREFOX_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0";

async fn click_as(node: &TestNode, link: &str, ip: &str, ua: &str) {
    let r = node.http.get(link).header("User-Agent", ua).header("X-Forwarded-For", ip).send().await.unwrap();
    assert_eq!(r.status(), 302);
}

fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", now.year(), u8::from(now.month()), now.day())
}

/// Two messages, five clicks: returns the node after every click is processed.
async fn seeded() -> TestNode {
    let node = TestNode::start("").await;
    let a = node
        .track(json!({
            "MessageID": "msg-a", "Recipient": "ann@example.com", "Tag": "Welcome", "MessageStream": "outbound",
            "HtmlBody": "<a href=\"https://example.com/1\">1</a><a href=\"https://example.com/2\">2</a>",
            "TextBody": "https://example.com/text"
        }))
        .await;
    let b = node
        .track(json!({
            "MessageID": "msg-b", "Recipient": "bob@example.com", "Tag": "digest", "MessageStream": "broadcast",
            "HtmlBody": "<a href=\"https://example.com/b\">b</a>"
        }))
        .await;
    let (ah, at, bh) = (links(&a, "HTML"), links(&a, "Text"), links(&b, "HTML"));
    click_as(&node, &ah[0], "8.8.8.8", clickhook_testkit::node::EXAMPLE_UA).await; // Novi Sad, Chrome, Desktop
    node.settle().await;
    click_as(&node, &ah[0], "81.2.69.160", IPHONE_UA).await; // a repeat, London, Mobile
    node.settle().await;
    click_as(&node, &at[0], "81.2.69.160", FIREFOX_UA).await; // Text, London, Firefox
    node.settle().await;
    click_as(&node, &ah[1], "8.8.8.8", FIREFOX_UA).await;
    node.settle().await;
    click_as(&node, &bh[0], "8.8.8.8", IPHONE_UA).await; // msg-b
    node.settle().await;
    node
}

fn recipients(v: &Value) -> Vec<&str> {
    v["Clicks"].as_array().unwrap().iter().map(|c| c["Recipient"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicks_are_listed_filtered_and_paged() {
    let node = seeded().await;
    let (s, all) = node.get("/messages/outbound/clicks?count=50&offset=0").await;
    assert_eq!(s, 200, "{all}");
    assert_eq!(all["TotalCount"], 5, "repeats are listed: {all}");
    let clicks = all["Clicks"].as_array().unwrap();
    assert_eq!(clicks[0]["MessageID"], "msg-b", "newest first");
    assert_eq!(clicks[4]["Geo"]["City"], "Novi Sad", "oldest last");
    assert_eq!(clicks[4]["RecordType"], "Click");
    assert_eq!(clicks[4]["OriginalLink"], "https://example.com/1");
    assert_eq!(clicks[4]["Metadata"], json!({}));

    // Every spelling of a key; values without regard to case.
    for q in ["recipient=ANN@example.com", "Recipient=ann@example.com", "tag=welcome", "messageStream=Outbound", "message_stream=outbound"] {
        let (s, v) = node.get(&format!("/messages/outbound/clicks?count=50&offset=0&{q}")).await;
        assert_eq!(s, 200, "{q}: {v}");
        assert_eq!(v["TotalCount"], 4, "{q}: {v}");
        assert!(recipients(&v).iter().all(|r| *r == "ann@example.com"), "{q}");
    }
    let count = |q: &'static str| {
        let node = &node;
        async move {
            let (s, v) = node.get(&format!("/messages/outbound/clicks?count=50&offset=0&{q}")).await;
            assert_eq!(s, 200, "{q}: {v}");
            v["TotalCount"].as_u64().unwrap()
        }
    };
    assert_eq!(count("city=london").await, 2);
    assert_eq!(count("city=London&platform=mobile").await, 1);
    assert_eq!(count("clientFamily=firefox").await, 2);
    assert_eq!(count("client_family=Firefox&country=Serbia").await, 1);
    assert_eq!(count("platform=Mobile").await, 2);
    assert_eq!(count("Country=United%20Kingdom").await, 2);
    assert_eq!(count("region=nowhere").await, 0);
    assert_eq!(count("tag=digest&messagestream=broadcast").await, 1);

    // Paging: two pages of 3 and 2 make the whole list.
    let (_, p1) = node.get("/messages/outbound/clicks?count=3&offset=0").await;
    let (_, p2) = node.get("/messages/outbound/clicks?count=3&offset=3").await;
    assert_eq!(p1["Clicks"].as_array().unwrap().len(), 3);
    assert_eq!(p2["Clicks"].as_array().unwrap().len(), 2);
    let paged: Vec<Value> = p1["Clicks"].as_array().unwrap().iter().chain(p2["Clicks"].as_array().unwrap()).cloned().collect();
    assert_eq!(paged, *clicks);

    // One message.
    let (s, one) = node.get("/messages/outbound/clicks/msg-a?count=10&offset=1").await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["TotalCount"], 4);
    assert_eq!(one["Clicks"].as_array().unwrap().len(), 3);
    let (s, e) = node.get("/messages/outbound/clicks/no-such-message?count=10&offset=0").await;
    assert_eq!((s, e["ErrorCode"].as_i64()), (422, Some(701)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_click_queries_are_422_with_a_reason() {
    let node = TestNode::start("").await;
    for (q, says) in [
        ("", "count"),
        ("count=10", "offset"),
        ("offset=0", "count"),
        ("count=0&offset=0", "count"),
        ("count=501&offset=0", "count"),
        ("count=500&offset=9501", "count + offset"),
        ("count=ten&offset=0", "count"),
    ] {
        let (s, e) = node.get(&format!("/messages/outbound/clicks?{q}")).await;
        assert_eq!(s, 422, "{q}: {e}");
        assert!(e["Message"].as_str().unwrap().contains(says), "{q}: {e}");
    }
    let long = "x".repeat(1001);
    let (s, _) = node.get(&format!("/messages/outbound/clicks?count=1&offset=0&city={long}")).await;
    assert_eq!(s, 422);
    let (s, _) = node.call("GET", "/messages/outbound/clicks?count=1&offset=0", None, None).await;
    assert_eq!(s, 401);
    let (s, e) = node.get("/stats/outbound/clicks?fromdate=2026-02-30").await;
    assert_eq!(s, 422, "{e}");
    let (s, e) = node.get("/stats/outbound/clicks?fromdate=2026-12-02&todate=2026-12-01").await;
    assert_eq!(s, 422, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_clicks_by_day_browser_platform_and_location() {
    let node = seeded().await;
    let day = today();
    let (s, v) = node.get(&format!("/stats/outbound/clicks?fromdate={day}&todate={day}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({ "Days": [{ "Date": day, "Clicks": 5, "Unique": 4 }], "Clicks": 5, "Unique": 4 }));
    let (_, v) = node.get("/stats/outbound/clicks?tag=Welcome").await;
    assert_eq!((v["Clicks"].as_u64(), v["Unique"].as_u64()), (Some(4), Some(3)), "{v}");
    let (_, v) = node.get("/stats/outbound/clicks?messagestream=broadcast").await;
    assert_eq!((v["Clicks"].as_u64(), v["Unique"].as_u64()), (Some(1), Some(1)), "{v}");
    let (_, v) = node.get("/stats/outbound/clicks?todate=2000-01-01").await;
    assert_eq!(v, json!({ "Days": [], "Clicks": 0, "Unique": 0 }));

    let (s, v) = node.get("/stats/outbound/clicks/browserFamilies").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Days"][0]["Date"], day);
    let fam = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    assert_eq!((fam(&v, "Chrome"), fam(&v, "Firefox"), fam(&v, "Mobile Safari")), (1, 2, 2), "{v}");
    assert_eq!(fam(&v, "Firefox"), 2, "{v}");
    let (_, v) = node.get("/stats/outbound/clicks/platforms").await;
    assert_eq!((v["Desktop"].as_u64(), v["Mobile"].as_u64()), (Some(3), Some(2)), "{v}");
    assert_eq!(v["Days"][0]["Mobile"], 2);
    let (_, v) = node.get("/stats/outbound/clicks/location").await;
    assert_eq!((v["HTML"].as_u64(), v["Text"].as_u64()), (Some(4), Some(1)), "{v}");
}
