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

fn message(id: &str, server: &str) -> MessageRecord {
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
    let clicks = s.clicks_of_message("m", 10).await.unwrap();
    assert_eq!(clicks.len(), 2);
    assert_eq!(clicks.iter().filter(|c| c.unique).count(), 1);
    assert_eq!(s.stats().await.unwrap().pending_hits, 0);
}

pub async fn discarded_hits_leave_nothing(s: Arc<dyn Store>) {
    let h = hit("m", "https://e.com/");
    s.append_hit(&h).await.unwrap();
    assert_eq!(s.settle_hit(h.id, HitDecision::Discard).await.unwrap(), Settled::Discarded);
    assert!(s.claim_hits(10, Duration::from_secs(60)).await.unwrap().is_empty());
    assert!(s.clicks_of_message("m", 10).await.unwrap().is_empty());
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
