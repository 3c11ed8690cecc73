//! The embedded store's hit journal on real files: hits past the in-memory window wait on
//! disk and come back in order, segments are deleted once settled, a restart replays only
//! unsettled hits, a torn last line is skipped, and hits of the older SQLite layout move over.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clickhook_core::{ClickLocation, Hit};
use clickhook_store::hit_journal::{HitJournal, WINDOW};
use clickhook_store::{HitDecision, Settled, Store, embedded::EmbeddedStore};

fn hit(n: usize) -> Hit {
    Hit {
        id: uuid::Uuid::now_v7(),
        message_id: format!("m-{}", n % 7),
        original_link: format!("https://example.com/{n}"),
        location: ClickLocation::Html,
        sent_at: 1_700_000_000,
        received_at_ms: 1_700_000_000_000 + n as i64,
        ip: "192.0.2.1".parse().unwrap(),
        user_agent: "Mozilla/5.0".into(),
    }
}

fn segments(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".jsonl")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_past_the_window_wait_on_disk_and_come_back_in_order_once() {
    let dir = tempfile::tempdir().unwrap();
    let j = Arc::new(HitJournal::open(dir.path(), &[], 64 * 1024).unwrap());
    let total = WINDOW * 2 + 777;
    let hits: Vec<Hit> = (0..total).map(hit).collect();
    // 64 appenders at a time, as concurrent redirects would.
    for chunk in hits.chunks(64) {
        let tasks: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|h| {
                let j = j.clone();
                tokio::spawn(async move { j.append(&h).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    }
    assert_eq!(j.pending(), total as u64);
    assert!(
        j.unread() >= (total - WINDOW) as u64,
        "no more than the window is held in memory"
    );
    assert!(
        segments(dir.path()) > 3,
        "small segments: the hits span several files"
    );
    let mut seen = Vec::new();
    loop {
        let batch = j.claim(300, Duration::from_secs(60)).await.unwrap();
        if batch.is_empty() {
            break;
        }
        for c in batch {
            assert!(!c.replayed);
            seen.push(c.hit.id);
            j.settled(c.hit.id);
        }
    }
    let mut want: Vec<uuid::Uuid> = hits.iter().map(|h| h.id).collect();
    want.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, want, "every hit exactly once");
    assert_eq!(j.pending(), 0);
    // Deletion happens on the writer thread: give it a moment.
    for _ in 0..100 {
        if segments(dir.path()) <= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        segments(dir.path()) <= 2,
        "settled segments are deleted, found {}",
        segments(dir.path())
    );
}

#[tokio::test]
async fn a_restart_replays_the_unsettled_hits_only() {
    let dir = tempfile::tempdir().unwrap();
    let hits: Vec<Hit> = (0..10).map(hit).collect();
    {
        let s = EmbeddedStore::open(dir.path()).unwrap();
        for h in &hits {
            s.append_hit(h).await.unwrap();
        }
        assert_eq!(
            s.claim_hits(10, Duration::from_secs(60))
                .await
                .unwrap()
                .len(),
            10
        );
        for h in &hits[..4] {
            assert_eq!(
                s.settle_hit(h.id, HitDecision::Discard).await.unwrap(),
                Settled::Discarded
            );
        }
    } // a crash: six hits leased, none settled
    let s = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(
        s.stats().await.unwrap().pending_hits,
        10,
        "read from disk, not yet checked"
    );
    let again = s.claim_hits(100, Duration::from_secs(60)).await.unwrap();
    assert_eq!(again, hits[4..].to_vec());
    for h in &again {
        assert_eq!(
            s.settle_hit(h.id, HitDecision::Discard).await.unwrap(),
            Settled::Discarded
        );
        assert_eq!(
            s.settle_hit(h.id, HitDecision::Discard).await.unwrap(),
            Settled::AlreadySettled
        );
    }
    assert_eq!(s.stats().await.unwrap().pending_hits, 0);
    assert!(
        s.claim_hits(100, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_torn_last_line_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (hit(1), hit(2));
    let mut text = String::new();
    for h in [&a, &b] {
        text.push_str(&serde_json::to_string(h).unwrap());
        text.push('\n');
    }
    text.push_str(&serde_json::to_string(&hit(3)).unwrap()[..40]);
    std::fs::write(
        dir.path().join("0000000000000001-1700000000000.jsonl"),
        text,
    )
    .unwrap();
    let j = HitJournal::open(dir.path(), &[], 1 << 20).unwrap();
    let got: Vec<Hit> = j
        .claim(10, Duration::from_secs(60))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.hit)
        .collect();
    assert_eq!(got, vec![a, b]);
}

#[tokio::test]
async fn hits_of_the_older_sqlite_layout_move_to_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let old = hit(9);
    {
        let c = rusqlite::Connection::open(dir.path().join("clickhook.sqlite3")).unwrap();
        c.execute_batch("CREATE TABLE hits (id BLOB PRIMARY KEY, body TEXT NOT NULL, lease_until_ms INTEGER NOT NULL DEFAULT 0)").unwrap();
        c.execute(
            "INSERT INTO hits (id, body) VALUES (?1, ?2)",
            rusqlite::params![
                old.id.as_bytes().as_slice(),
                serde_json::to_string(&old).unwrap()
            ],
        )
        .unwrap();
    }
    let s = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(
        s.claim_hits(10, Duration::from_secs(60)).await.unwrap(),
        vec![old.clone()]
    );
    assert_eq!(
        s.settle_hit(old.id, HitDecision::Discard).await.unwrap(),
        Settled::Discarded
    );
    drop(s);
    let c = rusqlite::Connection::open(dir.path().join("clickhook.sqlite3")).unwrap();
    let tables: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'hits'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        tables, 0,
        "the old table is gone once its hits are in the journal"
    );
}
