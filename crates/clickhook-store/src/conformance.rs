//! The store conformance suite: one set of behaviours every backend must show.
//!
//! Each case is a plain async function over `Arc<dyn Store>`; [`crate::conformance_suite!`]
//! turns them into `#[tokio::test]`s for a backend, given an expression that makes a fresh,
//! empty store. The embedded backend runs it in `tests/embedded.rs`; every new backend
//! adds one such file and nothing else.

use std::sync::Arc;
use std::time::Duration;

use clickhook_core::{ClickEvent, Hit, MessageRecord, Webhook, timefmt, webhook::Toggle};

use crate::*;

fn now_ms() -> i64 {
    timefmt::unix_ms(time::OffsetDateTime::now_utc())
}

/// A message record of `server`, sent now, for john@example.com (also used by other store tests).
pub fn message(id: &str, server: &str) -> MessageRecord {
    MessageRecord {
        message_id: id.into(),
        server: server.into(),
        stream: "outbound".into(),
        recipient: "john@example.com".into(),
        tag: "welcome".into(),
        metadata: serde_json::Map::new(),
        sent_at: time::OffsetDateTime::now_utc(),
    }
}

fn hit(message_id: &str, link: &str) -> Hit {
    Hit {
        id: uuid::Uuid::now_v7(),
        message_id: message_id.into(),
        original_link: link.into(),
        location: clickhook_core::ClickLocation::Html,
        sent_at: 0,
        received_at_ms: now_ms(),
        ip: "127.0.0.1".parse().unwrap(),
        user_agent: "test".into(),
    }
}

fn message_clicks(server: &str, message_id: &str) -> ClickSearch {
    ClickSearch { message_id: Some(message_id.into()), ..ClickSearch::new(server) }
}

fn webhook(server: &str, stream: &str, click: bool) -> Webhook {
    Webhook {
        id: 0,
        url: "http://127.0.0.1:9/hook".into(),
        message_stream: stream.into(),
        http_auth: None,
        http_headers: vec![],
        triggers: clickhook_core::Triggers { click: Toggle { enabled: click }, ..Default::default() },
        signing_secrets: vec![],
        server: server.into(),
    }
}

fn click(h: &Hit, mark: &str, webhooks: Vec<i64>) -> HitDecision {
    let mut event = ClickEvent::example();
    event.message_id = h.message_id.clone();
    HitDecision::Click(Box::new(ClickOutcome {
        mark_key: mark.into(),
        expires_at_ms: now_ms() + 86_400_000,
        event_id: uuid::Uuid::new_v4(),
        payload: serde_json::to_string(&event).unwrap(),
        webhook_ids: webhooks,
        click: ClickRow {
            event_id: uuid::Uuid::nil(),
            server: "s1".into(),
            message_id: h.message_id.clone(),
            received_at_ms: h.received_at_ms,
            unique: false,
            event,
        },
        stats: Some(StatKeys { day: "2026-12-01".into(), stream: "outbound".into(), tag: "welcome".into(), metrics: vec!["clicks".into()] }),
    }))
}

pub async fn meta_is_set_once(s: Arc<dyn Store>) {
    let (v, created) = s.get_or_init_meta("k", "first").await.unwrap();
    assert_eq!((v.as_str(), created), ("first", true));
    let (v, created) = s.get_or_init_meta("k", "second").await.unwrap();
    assert_eq!((v.as_str(), created), ("first", false));
}

pub async fn messages_round_trip_and_belong_to_one_server(s: Arc<dyn Store>) {
    let m = message("m-1", "s1");
    s.put_message(&m, now_ms() + 60_000).await.unwrap();
    assert_eq!(s.get_message("m-1").await.unwrap(), Some(m.clone()));
    // the same server may register it again (idempotent re-track)
    s.put_message(&m, now_ms() + 60_000).await.unwrap();
    let other = message("m-1", "s2");
    assert!(matches!(s.put_message(&other, now_ms() + 60_000).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.get_message("nope").await.unwrap(), None);
    // expired records stay readable until purged (a hit received in time may be processed
    // late), then they are gone
    let old = message("m-old", "s1");
    s.put_message(&old, now_ms() - 1).await.unwrap();
    assert_eq!(s.get_message("m-old").await.unwrap(), Some(old));
    assert!(s.purge_expired(now_ms()).await.unwrap() >= 1);
    assert_eq!(s.get_message("m-old").await.unwrap(), None);
    assert_eq!(s.get_message("m-1").await.unwrap(), Some(m));
}

pub async fn hits_are_claimed_in_order_and_leased(s: Arc<dyn Store>) {
    let hits: Vec<Hit> = (0..5).map(|i| hit("m", &format!("https://e.com/{i}"))).collect();
    for h in &hits {
        s.append_hit(h).await.unwrap();
    }
    // appending the same hit again (a replay) is harmless
    s.append_hit(&hits[0]).await.unwrap();
    let a = s.claim_hits(3, Duration::from_secs(60)).await.unwrap();
    assert_eq!(a, hits[..3].to_vec());
    let b = s.claim_hits(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(b, hits[3..].to_vec());
    assert!(s.claim_hits(10, Duration::from_secs(60)).await.unwrap().is_empty());
    assert_eq!(s.stats().await.unwrap().pending_hits, 5);
}

pub async fn expired_leases_make_hits_visible_again(s: Arc<dyn Store>) {
    let h = hit("m", "https://e.com/");
    s.append_hit(&h).await.unwrap();
    assert_eq!(s.claim_hits(10, Duration::from_millis(1)).await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(s.claim_hits(10, Duration::from_secs(60)).await.unwrap(), vec![h]);
}

pub async fn first_click_is_unique_and_enqueues_one_delivery_per_webhook(s: Arc<dyn Store>) {
    let w1 = s.create_webhook(webhook("s1", "outbound", true)).await.unwrap();
    let w2 = s.create_webhook(webhook("s1", "outbound", true)).await.unwrap();
    let h1 = hit("m", "https://e.com/");
    let h2 = hit("m", "https://e.com/");
    s.append_hit(&h1).await.unwrap();
    s.append_hit(&h2).await.unwrap();
    s.claim_hits(10, Duration::from_secs(60)).await.unwrap();
    let d1 = click(&h1, "mark-1", vec![w1.id, w2.id]);
    assert_eq!(s.settle_hit(h1.id, d1.clone()).await.unwrap(), Settled::Unique { deliveries: 2 });
    // settling the same hit twice changes nothing
    assert_eq!(s.settle_hit(h1.id, d1).await.unwrap(), Settled::AlreadySettled);
    assert_eq!(s.settle_hit(h2.id, click(&h2, "mark-1", vec![w1.id, w2.id])).await.unwrap(), Settled::Repeat);
    let jobs = s.claim_deliveries(now_ms(), 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].event_id, jobs[1].event_id, "one event id for the click");
    let mut ids: Vec<i64> = jobs.iter().map(|j| j.webhook_id).collect();
    ids.sort();
    assert_eq!(ids, vec![w1.id, w2.id]);
    let (total, clicks) = s.search_clicks(&message_clicks("s1", "m")).await.unwrap();
    assert_eq!((total, clicks.len()), (2, 2));
    assert_eq!(clicks.iter().filter(|c| c.unique).count(), 1);
    assert_eq!(s.stats().await.unwrap().pending_hits, 0);
}

pub async fn discarded_hits_leave_nothing(s: Arc<dyn Store>) {
    let h = hit("m", "https://e.com/");
    s.append_hit(&h).await.unwrap();
    assert_eq!(s.settle_hit(h.id, HitDecision::Discard).await.unwrap(), Settled::Discarded);
    assert!(s.claim_hits(10, Duration::from_secs(60)).await.unwrap().is_empty());
    assert_eq!(s.search_clicks(&message_clicks("s1", "m")).await.unwrap(), (0, vec![]));
}

pub async fn webhooks_crud_is_scoped_to_a_server(s: Arc<dyn Store>) {
    let a = s.create_webhook(webhook("s1", "outbound", true)).await.unwrap();
    let b = s.create_webhook(webhook("s1", "broadcast", false)).await.unwrap();
    let c = s.create_webhook(webhook("s2", "outbound", true)).await.unwrap();
    assert!(a.id > 0 && a.id != b.id && b.id != c.id);
    assert_eq!(s.list_webhooks("s1", None).await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(s.list_webhooks("s1", Some("broadcast")).await.unwrap(), vec![b.clone()]);
    assert_eq!(s.list_webhooks("s2", None).await.unwrap(), vec![c.clone()]);
    assert_eq!(s.get_webhook(a.id).await.unwrap(), Some(a.clone()));
    let edited = Webhook { url: "http://127.0.0.1:9/other".into(), ..a.clone() };
    assert!(s.update_webhook(&edited).await.unwrap());
    assert_eq!(s.get_webhook(a.id).await.unwrap(), Some(edited));
    // another server can neither edit nor delete it
    assert!(!s.update_webhook(&Webhook { server: "s2".into(), ..a.clone() }).await.unwrap());
    assert!(!s.delete_webhook("s2", a.id).await.unwrap());
    assert!(s.delete_webhook("s1", a.id).await.unwrap());
    assert!(!s.delete_webhook("s1", a.id).await.unwrap());
    assert_eq!(s.get_webhook(a.id).await.unwrap(), None);
}

async fn one_delivery(s: &Arc<dyn Store>) -> DeliveryJob {
    let w = s.create_webhook(webhook("s1", "outbound", true)).await.unwrap();
    let h = hit("m", &format!("https://e.com/{}", uuid::Uuid::new_v4()));
    s.append_hit(&h).await.unwrap();
    s.settle_hit(h.id, click(&h, &uuid::Uuid::new_v4().to_string(), vec![w.id])).await.unwrap();
    let mut jobs = s.claim_deliveries(now_ms(), 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(jobs.len(), 1);
    jobs.remove(0)
}

fn attempt(status: Option<u16>) -> AttemptRecord {
    AttemptRecord { at_ms: now_ms(), status, duration_ms: 3, error: None, response: Some("ok".into()) }
}

pub async fn deliveries_retry_then_finish(s: Arc<dyn Store>) {
    let job = one_delivery(&s).await;
    assert_eq!(job.attempts, 0);
    // leased: not handed out again while the lease holds
    assert!(s.claim_deliveries(now_ms(), 10, Duration::from_secs(60)).await.unwrap().is_empty());
    s.finish_attempt(job.id, &attempt(Some(500)), NextStep::RetryAt(now_ms() - 1)).await.unwrap();
    let again = s.claim_deliveries(now_ms(), 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].event_id, again[0].attempts), (job.id, job.event_id, 1));
    s.finish_attempt(job.id, &attempt(Some(200)), NextStep::Delivered).await.unwrap();
    assert!(s.claim_deliveries(now_ms() + 10_000_000, 10, Duration::from_secs(60)).await.unwrap().is_empty());
    let info = s.get_delivery(job.id).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (DeliveryState::Delivered, 2));
    let attempts = s.list_attempts(job.id).await.unwrap();
    assert_eq!(attempts.iter().map(|a| a.status).collect::<Vec<_>>(), vec![Some(500), Some(200)]);
    let (total, list) = s.list_deliveries(job.webhook_id, None, 10, 0).await.unwrap();
    assert_eq!((total, list.len()), (1, 1));
    let (total, _) = s.list_deliveries(job.webhook_id, Some(DeliveryState::Dead), 10, 0).await.unwrap();
    assert_eq!(total, 0);
    // a resend queues it again with a fresh schedule; the log keeps every attempt
    assert!(s.resend_delivery(job.webhook_id, job.id, now_ms()).await.unwrap());
    assert!(!s.resend_delivery(job.webhook_id + 1, job.id, now_ms()).await.unwrap(), "another webhook's delivery");
    let again = s.claim_deliveries(now_ms(), 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!((again.len(), again[0].attempts, again[0].event_id), (1, 0, job.event_id));
    assert_eq!(s.list_attempts(job.id).await.unwrap().len(), 2);
}

pub async fn deferred_deliveries_keep_their_attempt_count(s: Arc<dyn Store>) {
    let job = one_delivery(&s).await;
    s.defer_delivery(job.id, now_ms() + 60_000).await.unwrap();
    assert!(s.claim_deliveries(now_ms(), 10, Duration::from_secs(60)).await.unwrap().is_empty());
    let later = s.claim_deliveries(now_ms() + 61_000, 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!((later.len(), later[0].attempts), (1, 0));
    assert!(s.list_attempts(job.id).await.unwrap().is_empty());
}

pub async fn dead_deliveries_of_a_window_are_recovered(s: Arc<dyn Store>) {
    let job = one_delivery(&s).await;
    s.finish_attempt(job.id, &attempt(Some(500)), NextStep::Dead).await.unwrap();
    // outside the window: nothing
    assert_eq!(s.recover_deliveries(job.webhook_id, 0, job.created_at_ms, now_ms()).await.unwrap(), 0);
    assert_eq!(s.recover_deliveries(job.webhook_id, job.created_at_ms, job.created_at_ms + 1, now_ms()).await.unwrap(), 1);
    let again = s.claim_deliveries(now_ms(), 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!((again.len(), again[0].id), (1, job.id));
    assert_eq!(s.stats().await.unwrap().dead_deliveries, 0);
}

pub async fn future_retries_wait_and_dead_letters_are_counted(s: Arc<dyn Store>) {
    let job = one_delivery(&s).await;
    s.finish_attempt(job.id, &attempt(None), NextStep::RetryAt(now_ms() + 60_000)).await.unwrap();
    assert!(s.claim_deliveries(now_ms(), 10, Duration::from_secs(60)).await.unwrap().is_empty());
    let stats = s.stats().await.unwrap();
    assert_eq!(stats.pending_deliveries, 1);
    assert!(stats.oldest_pending_delivery_ms.is_some());
    let later = s.claim_deliveries(now_ms() + 61_000, 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(later.len(), 1);
    s.finish_attempt(job.id, &attempt(Some(500)), NextStep::Dead).await.unwrap();
    let stats = s.stats().await.unwrap();
    assert_eq!((stats.pending_deliveries, stats.dead_deliveries), (0, 1));
}

pub async fn expired_delivery_leases_are_retried(s: Arc<dyn Store>) {
    let job = one_delivery(&s).await;
    // a worker that died holding the job: the lease ran out
    let again = s.claim_deliveries(now_ms() + 61_000, 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].event_id), (job.id, job.event_id));
}

pub async fn concurrent_settles_make_one_unique_click(s: Arc<dyn Store>) {
    let w = s.create_webhook(webhook("s1", "outbound", true)).await.unwrap();
    let hits: Vec<Hit> = (0..20).map(|_| hit("m", "https://e.com/same")).collect();
    for h in &hits {
        s.append_hit(h).await.unwrap();
    }
    let mut tasks = Vec::new();
    for h in hits {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.settle_hit(h.id, click(&h, "same-mark", vec![w.id])).await.unwrap() }));
    }
    let mut unique = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Settled::Unique { .. }) {
            unique += 1;
        }
    }
    assert_eq!(unique, 1);
    assert_eq!(s.claim_deliveries(now_ms(), 100, Duration::from_secs(60)).await.unwrap().len(), 1);
}

/// The seeded clicks of the search cases: 48 clicks over 4 messages (3 of server s1, one
/// of s2), with fields that vary independently, one per second, settled in time order.
struct Seeded {
    /// (server, event, unique) in settle order (oldest first).
    clicks: Vec<(String, ClickEvent, bool)>,
}

async fn seed_clicks(s: &Arc<dyn Store>) -> Seeded {
    let base = now_ms() - 3_600_000;
    let mut clicks = Vec::new();
    for i in 0..48usize {
        let message_id = format!("msg-{}", i % 4);
        let server = if i % 4 == 3 { "s2" } else { "s1" };
        let mut h = hit(&message_id, &format!("https://e.com/{}", i % 5));
        h.received_at_ms = base + i as i64 * 1000;
        let mut e = ClickEvent::example();
        e.message_id = message_id.clone();
        e.recipient = ["ann@example.com", "Bob@Example.com", "cy@example.org"][i % 3].into();
        e.tag = ["welcome", "", "Digest"][(i / 3) % 3].into();
        e.client.family = ["Chrome", "Firefox", "Safari", "Chrome"][i % 4].into();
        e.client.name = format!("{} {}", e.client.family, 100 + i % 2);
        e.client.company = ["Google", "Mozilla", "Apple", "Google"][i % 4].into();
        e.os.family = ["Windows", "OS X", "iOS"][(i / 2) % 3].into();
        e.os.name = format!("{} {}", e.os.family, i % 2);
        e.os.company = ["Microsoft", "Apple", "Apple"][(i / 2) % 3].into();
        e.platform = [clickhook_core::event::Platform::Desktop, clickhook_core::event::Platform::Mobile, clickhook_core::event::Platform::WebMail][(i / 4) % 3];
        e.message_stream = ["outbound", "broadcast"][(i / 6) % 2].into();
        e.click_location = if i % 7 == 0 { clickhook_core::ClickLocation::Text } else { clickhook_core::ClickLocation::Html };
        e.original_link = h.original_link.clone();
        match i % 5 {
            0 => e.geo = Default::default(),
            1 => {
                e.geo.country = Some("Germany".into());
                e.geo.region = Some("Bayern".into());
                e.geo.city = Some("München".into());
            }
            _ => {}
        }
        s.append_hit(&h).await.unwrap();
        assert_eq!(s.claim_hits(10, Duration::from_secs(60)).await.unwrap().len(), 1);
        let mark = format!("{message_id}|{}|{}", e.recipient, h.original_link);
        let stats = StatKeys {
            day: ["2026-12-01", "2026-12-02"][usize::from(i >= 24)].into(),
            stream: search::normalize(&e.message_stream),
            tag: search::normalize(&e.tag),
            metrics: search::stat_metrics(&e),
        };
        let outcome = ClickOutcome {
            mark_key: mark,
            expires_at_ms: now_ms() + 86_400_000,
            event_id: uuid::Uuid::new_v4(),
            payload: serde_json::to_string(&e).unwrap(),
            webhook_ids: vec![],
            click: ClickRow {
                event_id: uuid::Uuid::nil(),
                server: server.into(),
                message_id: message_id.clone(),
                received_at_ms: h.received_at_ms,
                unique: false,
                event: e.clone(),
            },
            stats: Some(stats),
        };
        let settled = s.settle_hit(h.id, HitDecision::Click(Box::new(outcome))).await.unwrap();
        clicks.push((server.to_owned(), e, matches!(settled, Settled::Unique { .. })));
    }
    Seeded { clicks }
}

impl Seeded {
    /// The reference answer: the matching events, newest first.
    fn expect(&self, q: &ClickSearch) -> Vec<ClickEvent> {
        self.clicks.iter().rev().filter(|(srv, e, _)| q.matches(srv, e)).map(|(_, e, _)| e.clone()).collect()
    }
}

pub async fn clicks_are_found_by_every_filter(s: Arc<dyn Store>) {
    let seeded = seed_clicks(&s).await;
    let all = ClickSearch { count: 500, ..ClickSearch::new("s1") };
    let (total, rows) = s.search_clicks(&all).await.unwrap();
    // Known answers, independent of the reference matcher.
    assert_eq!(total, 36, "s1 has 3 of every 4 clicks");
    assert_eq!(rows.len(), 36);
    assert!(rows.windows(2).all(|w| w[0].received_at_ms > w[1].received_at_ms), "newest first");
    assert_eq!(rows.iter().filter(|r| r.unique).count(), seeded.clicks.iter().filter(|c| c.0 == "s1" && c.2).count());
    let count = |q: ClickSearch| {
        let s = s.clone();
        async move { s.search_clicks(&ClickSearch { count: 500, ..q }).await.unwrap().0 }
    };
    assert_eq!(count(ClickSearch::new("s1").filter(ClickField::Recipient, "bob@example.com")).await, 12);
    assert_eq!(count(ClickSearch::new("s1").filter(ClickField::City, "MÜNCHEN")).await, 8);
    assert_eq!(count(ClickSearch::new("s1").filter(ClickField::Tag, "digest")).await, 11);
    assert_eq!(count(ClickSearch::new("s2")).await, 12);
    assert_eq!(count(ClickSearch::new("nobody")).await, 0);
    // Every field, with every value it takes, alone and with a second filter.
    for f in ClickField::ALL {
        let mut values: Vec<String> =
            seeded.clicks.iter().filter_map(|(_, e, _)| f.raw_value(e).map(search::normalize)).filter(|v| !v.is_empty()).collect();
        values.sort();
        values.dedup();
        assert!(!values.is_empty(), "{f:?} has values in the seed");
        for v in values.iter().chain([&"no-such-value".to_owned()]) {
            for q in [
                ClickSearch::new("s1").filter(f, v),
                ClickSearch::new("s1").filter(f, &v.to_uppercase()).filter(ClickField::Platform, "desktop"),
                ClickSearch { message_id: Some("msg-1".into()), ..ClickSearch::new("s1").filter(f, v) },
            ] {
                let q = ClickSearch { count: 500, ..q };
                let (total, rows) = s.search_clicks(&q).await.unwrap();
                let want = seeded.expect(&q);
                assert_eq!(total as usize, want.len(), "total of {q:?}");
                assert_eq!(rows.into_iter().map(|r| r.event).collect::<Vec<_>>(), want, "clicks of {q:?}");
            }
        }
    }
}

pub async fn click_pages_tile_the_result(s: Arc<dyn Store>) {
    let seeded = seed_clicks(&s).await;
    let q = ClickSearch::new("s1").filter(ClickField::MessageStream, "outbound");
    let want = seeded.expect(&q);
    assert_eq!(want.len(), 20);
    for count in [1, 5, 7, 20, 500] {
        let mut got = Vec::new();
        let mut offset = 0;
        while offset < want.len() + count {
            let (total, rows) = s.search_clicks(&ClickSearch { count, offset, ..q.clone() }).await.unwrap();
            assert_eq!(total, 20);
            assert!(rows.len() <= count);
            got.extend(rows.into_iter().map(|r| r.event));
            offset += count;
        }
        assert_eq!(got, want, "pages of {count}");
    }
    // one message, another server's message is not found through s1
    let (n, rows) = s.search_clicks(&ClickSearch { count: 3, offset: 2, ..message_clicks("s1", "msg-0") }).await.unwrap();
    assert_eq!(n, 12);
    assert_eq!(rows.into_iter().map(|r| r.event).collect::<Vec<_>>(), seeded.expect(&message_clicks("s1", "msg-0"))[2..5].to_vec());
    assert_eq!(s.search_clicks(&message_clicks("s1", "msg-3")).await.unwrap().0, 0);
    assert_eq!(s.search_clicks(&message_clicks("s2", "msg-3")).await.unwrap().0, 12);
}

pub async fn click_counters_sum_by_day_tag_and_stream(s: Arc<dyn Store>) {
    let seeded = seed_clicks(&s).await;
    let q = |from: Option<&str>, to: Option<&str>, tag: Option<&str>, stream: Option<&str>| StatsQuery {
        server: "s1".into(),
        from_day: from.map(Into::into),
        to_day: to.map(Into::into),
        tag: tag.map(Into::into),
        stream: stream.map(Into::into),
    };
    let rows = s.click_stats(&q(None, None, None, None)).await.unwrap();
    let get = |rows: &[StatRow], day: &str, metric: &str| rows.iter().find(|r| r.day == day && r.metric == metric).map_or(0, |r| r.count);
    // reference: s1 clicks (i % 4 != 3): 18 per day
    assert_eq!(get(&rows, "2026-12-01", "clicks"), 18);
    assert_eq!(get(&rows, "2026-12-02", "clicks"), 18);
    let unique = |day_second_half: bool| {
        seeded.clicks.iter().enumerate().filter(|(i, c)| c.0 == "s1" && c.2 && (*i >= 24) == day_second_half).count() as u64
    };
    assert_eq!(get(&rows, "2026-12-01", "unique"), unique(false));
    assert_eq!(get(&rows, "2026-12-02", "unique"), unique(true));
    let html = seeded.clicks.iter().enumerate().filter(|(i, c)| c.0 == "s1" && *i < 24 && i % 7 != 0).count() as u64;
    assert_eq!(get(&rows, "2026-12-01", "location:HTML"), html);
    assert_eq!(get(&rows, "2026-12-01", "location:HTML") + get(&rows, "2026-12-01", "location:Text"), 18);
    assert_eq!(get(&rows, "2026-12-01", "browser:Chrome") + get(&rows, "2026-12-01", "browser:Firefox") + get(&rows, "2026-12-01", "browser:Safari"), 18);
    // day range
    let one = s.click_stats(&q(Some("2026-12-02"), Some("2026-12-02"), None, None)).await.unwrap();
    assert!(one.iter().all(|r| r.day == "2026-12-02") && get(&one, "2026-12-02", "clicks") == 18);
    assert!(s.click_stats(&q(Some("2026-12-03"), None, None, None)).await.unwrap().is_empty());
    // tag and stream
    let tagged = |tag: &str, stream: Option<&str>| {
        seeded
            .clicks
            .iter()
            .filter(|c| c.0 == "s1" && search::normalize(&c.1.tag) == tag && stream.is_none_or(|s| c.1.message_stream == s))
            .count() as u64
    };
    let digest = s.click_stats(&q(None, None, Some("digest"), None)).await.unwrap();
    assert_eq!(digest.iter().filter(|r| r.metric == "clicks").map(|r| r.count).sum::<u64>(), tagged("digest", None));
    let untagged = s.click_stats(&q(None, None, Some(""), Some("broadcast"))).await.unwrap();
    assert_eq!(untagged.iter().filter(|r| r.metric == "clicks").map(|r| r.count).sum::<u64>(), tagged("", Some("broadcast")));
    // another server's counters are its own
    let other = s.click_stats(&StatsQuery { server: "s2".into(), ..Default::default() }).await.unwrap();
    assert_eq!(other.iter().filter(|r| r.metric == "clicks").map(|r| r.count).sum::<u64>(), 12);
}

pub async fn expired_clicks_are_purged_and_counters_kept(s: Arc<dyn Store>) {
    let h = hit("m", "https://e.com/");
    s.append_hit(&h).await.unwrap();
    s.claim_hits(10, Duration::from_secs(60)).await.unwrap();
    let HitDecision::Click(mut o) = click(&h, "mark-x", vec![]) else { unreachable!() };
    o.expires_at_ms = now_ms() + 1000;
    o.click.event.geo.city = Some("Gone".into());
    s.settle_hit(h.id, HitDecision::Click(o)).await.unwrap();
    let by_city = ClickSearch::new("s1").filter(ClickField::City, "gone");
    assert_eq!(s.search_clicks(&by_city).await.unwrap().0, 1);
    s.purge_expired(now_ms()).await.unwrap();
    assert_eq!(s.search_clicks(&by_city).await.unwrap().0, 1, "not expired yet");
    s.purge_expired(now_ms() + 2000).await.unwrap();
    assert_eq!(s.search_clicks(&by_city).await.unwrap(), (0, vec![]));
    assert_eq!(s.search_clicks(&message_clicks("s1", "m")).await.unwrap().0, 0);
    assert_eq!(s.search_clicks(&ClickSearch::new("s1")).await.unwrap().0, 0);
    let kept = s.click_stats(&StatsQuery { server: "s1".into(), ..Default::default() }).await.unwrap();
    assert_eq!(kept.iter().find(|r| r.metric == "clicks").map(|r| r.count), Some(1), "counters outlive clicks");
}

/// A click settled without stat keys (a scanner's click) is stored and listed, may be unique
/// under its own mark and enqueue deliveries, but adds nothing to the daily counters.
pub async fn clicks_without_stat_keys_are_listed_but_not_counted(s: Arc<dyn Store>) {
    let w = s.create_webhook(webhook("s1", "outbound", true)).await.unwrap();
    let (a, b) = (hit("m", "https://e.com/"), hit("m", "https://e.com/"));
    s.append_hit(&a).await.unwrap();
    s.append_hit(&b).await.unwrap();
    s.claim_hits(10, Duration::from_secs(60)).await.unwrap();
    let HitDecision::Click(mut o) = click(&a, "scanner:mark-s", vec![w.id]) else { unreachable!() };
    o.stats = None;
    assert_eq!(s.settle_hit(a.id, HitDecision::Click(o)).await.unwrap(), Settled::Unique { deliveries: 1 });
    let all = StatsQuery { server: "s1".into(), ..Default::default() };
    assert!(s.click_stats(&all).await.unwrap().is_empty(), "nothing counted");
    // The human's mark is another key: still free.
    assert_eq!(s.settle_hit(b.id, click(&b, "mark-s", vec![w.id])).await.unwrap(), Settled::Unique { deliveries: 1 });
    let rows = s.click_stats(&all).await.unwrap();
    assert_eq!(rows.iter().find(|r| r.metric == "clicks").map(|r| r.count), Some(1));
    assert_eq!(rows.iter().find(|r| r.metric == "unique").map(|r| r.count), Some(1));
    assert_eq!(s.search_clicks(&message_clicks("s1", "m")).await.unwrap().0, 2, "both listed");
}

/// Generates one `#[tokio::test]` per conformance case for a backend.
/// `$make` is an async expression giving a fresh, empty `Arc<dyn Store>`.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            meta_is_set_once,
            messages_round_trip_and_belong_to_one_server,
            hits_are_claimed_in_order_and_leased,
            expired_leases_make_hits_visible_again,
            first_click_is_unique_and_enqueues_one_delivery_per_webhook,
            discarded_hits_leave_nothing,
            webhooks_crud_is_scoped_to_a_server,
            deliveries_retry_then_finish,
            future_retries_wait_and_dead_letters_are_counted,
            expired_delivery_leases_are_retried,
            concurrent_settles_make_one_unique_click,
            deferred_deliveries_keep_their_attempt_count,
            dead_deliveries_of_a_window_are_recovered,
            clicks_are_found_by_every_filter,
            click_pages_tile_the_result,
            click_counters_sum_by_day_tag_and_stream,
            expired_clicks_are_purged_and_counters_kept,
            clicks_without_stat_keys_are_listed_but_not_counted,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make;
                $crate::conformance::$case(store).await;
            }
        )*
    };
}
