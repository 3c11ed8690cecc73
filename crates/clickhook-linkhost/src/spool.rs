//! The spool: where hits go when the store cannot take them, so that a redirect answered is
//! a click kept.
//!
//! An append-only file of JSON lines in the node's data directory. Appends are committed in
//! groups by one writer thread (one `fsync` per group, like the embedded store), and an
//! append returns only after its group is on disk. A replayer moves spooled hits into the
//! store once it answers again: it renames the file aside (new hits start a fresh one), then
//! appends its hits to the store in order and deletes it. Appending a hit twice is harmless:
//! a hit's id makes its store entry, and the uniqueness mark makes its event, happen once.
//! A torn last line (a crash mid-write) is skipped.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clickhook_core::Hit;
use clickhook_store::Store;
use tokio::sync::oneshot;

const ACTIVE: &str = "hits.spool";
const REPLAYING: &str = "hits.replaying.spool";
/// The longest the replayer waits for one store call.
const STORE_CALL_LIMIT: Duration = Duration::from_secs(2);

type Job = (String, oneshot::Sender<Result<(), String>>);

pub struct Spool {
    dir: PathBuf,
    tx: std::sync::mpsc::SyncSender<Job>,
    /// Hits spooled and not yet replayed (approximate across restarts: counted on open).
    pending: Arc<AtomicU64>,
    writer_lock: Arc<std::sync::Mutex<()>>,
    /// Set by the link host when the store failed it; cleared here once the store took the
    /// spooled hits again. While set, hits go straight to the spool.
    store_down: std::sync::atomic::AtomicBool,
}

fn count_lines(path: &Path) -> u64 {
    File::open(path).map(|f| BufReader::new(f).lines().count() as u64).unwrap_or(0)
}

impl Spool {
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let pending = Arc::new(AtomicU64::new(count_lines(&dir.join(ACTIVE)) + count_lines(&dir.join(REPLAYING))));
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(8192);
        let writer_lock = Arc::new(std::sync::Mutex::new(()));
        let (d, p, lock) = (dir.to_path_buf(), pending.clone(), writer_lock.clone());
        std::thread::Builder::new().name("hit-spool".into()).spawn(move || writer(d, rx, p, lock))?;
        metrics::gauge!("clickhook_spool_hits").set(pending.load(Ordering::Relaxed) as f64);
        metrics::gauge!("clickhook_spool_store_down").set(0.0);
        Ok(Self { dir: dir.to_path_buf(), tx, pending, writer_lock, store_down: std::sync::atomic::AtomicBool::new(false) })
    }

    /// Whether hits should skip the store and come here directly.
    pub fn store_down(&self) -> bool {
        self.store_down.load(Ordering::Relaxed)
    }

    /// The store failed: send hits here until the replayer has seen it answer again.
    pub fn mark_store_down(&self) {
        if !self.store_down.swap(true, Ordering::Relaxed) {
            metrics::gauge!("clickhook_spool_store_down").set(1.0);
        }
    }

    /// The store answers again: hits go to it directly.
    fn mark_store_up(&self) {
        if self.store_down.swap(false, Ordering::Relaxed) {
            metrics::gauge!("clickhook_spool_store_down").set(0.0);
        }
    }

    /// Hits waiting in the spool.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Appends a hit; resolves once it is on disk.
    pub async fn append(&self, hit: &Hit) -> Result<(), String> {
        let line = serde_json::to_string(hit).map_err(|e| e.to_string())?;
        let (tx, rx) = oneshot::channel();
        match self.tx.try_send((line, tx)) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(job)) => {
                let sender = self.tx.clone();
                tokio::task::spawn_blocking(move || sender.send(job)).await.map_err(|e| e.to_string())?.map_err(|_| "spool writer stopped".to_owned())?;
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Err("spool writer stopped".into()),
        }
        rx.await.map_err(|_| "spool writer dropped the hit".to_owned())?
    }

    /// Moves spooled hits into the store, oldest first. Returns how many were replayed;
    /// stops at the first store error (the rest stay spooled for the next round).
    pub async fn replay(&self, store: &dyn Store) -> Result<u64, String> {
        let replaying = self.dir.join(REPLAYING);
        if !replaying.exists() {
            let active = self.dir.join(ACTIVE);
            if !active.exists() {
                return Ok(0);
            }
            // Under the writer's lock, so that no group is half-written into the moved file.
            let _g = self.writer_lock.lock().unwrap_or_else(|p| p.into_inner());
            std::fs::rename(&active, &replaying).map_err(|e| e.to_string())?;
        }
        let text = tokio::fs::read_to_string(&replaying).await.map_err(|e| e.to_string())?;
        let mut n = 0u64;
        for line in text.lines() {
            let Ok(hit) = serde_json::from_str::<Hit>(line) else { continue };
            // A bounded wait: a store client that keeps retrying against a dead node (a Redis
            // Cluster mid-failover) must not hold the replayer; the next round starts afresh.
            tokio::time::timeout(STORE_CALL_LIMIT, store.append_hit(&hit))
                .await
                .map_err(|_| format!("the store did not answer within {STORE_CALL_LIMIT:?}"))?
                .map_err(|e| e.to_string())?;
            n += 1;
            let left = self.pending.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
            metrics::gauge!("clickhook_spool_hits").set(left as f64);
        }
        std::fs::remove_file(&replaying).map_err(|e| e.to_string())?;
        Ok(n)
    }

    /// Replays every `interval` until `cancel` fires. Probing the store happens here, off
    /// the redirect path: once a replay (or, with nothing spooled, a ping) succeeds, hits go
    /// to the store again.
    pub async fn run_replayer(self: Arc<Self>, store: Arc<dyn Store>, interval: Duration, cancel: tokio_util::sync::CancellationToken) {
        loop {
            if self.pending() > 0 || self.dir.join(REPLAYING).exists() || self.dir.join(ACTIVE).exists() {
                match self.replay(store.as_ref()).await {
                    Ok(n) => {
                        if n > 0 {
                            tracing::info!(hits = n, "replayed spooled hits into the store");
                        }
                        self.mark_store_up();
                    }
                    Err(e) => tracing::debug!(error = %e, "spool replay waits for the store"),
                }
            } else if self.store_down() && matches!(tokio::time::timeout(STORE_CALL_LIMIT, store.ping()).await, Ok(Ok(()))) {
                self.mark_store_up();
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = cancel.cancelled() => return,
            }
        }
    }
}

fn writer(dir: PathBuf, rx: std::sync::mpsc::Receiver<Job>, pending: Arc<AtomicU64>, lock: Arc<std::sync::Mutex<()>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let result = {
            let _g = lock.lock().unwrap_or_else(|p| p.into_inner());
            (|| -> std::io::Result<()> {
                let mut f = OpenOptions::new().create(true).append(true).open(dir.join(ACTIVE))?;
                let mut buf = String::new();
                for (line, _) in &batch {
                    buf.push_str(line);
                    buf.push('\n');
                }
                f.write_all(buf.as_bytes())?;
                f.sync_data()
            })()
        };
        if result.is_ok() {
            let now = pending.fetch_add(batch.len() as u64, Ordering::Relaxed) + batch.len() as u64;
            metrics::gauge!("clickhook_spool_hits").set(now as f64);
        }
        let result = result.map_err(|e| e.to_string());
        for (_, reply) in batch {
            let _ = reply.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clickhook_core::{ClickLocation, TokenPayload};
    use clickhook_store::embedded::EmbeddedStore;

    use super::*;

    fn hit(i: u32) -> Hit {
        let p = TokenPayload { message_id: "m".into(), original_link: format!("https://e.com/{i}"), location: ClickLocation::Html, sent_at: 0 };
        Hit::new(uuid::Uuid::now_v7(), p, 1, "127.0.0.1".parse().unwrap(), "ua")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spooled_hits_survive_a_reopen_and_replay_in_order_once() {
        let dir = tempfile::tempdir().unwrap();
        let hits: Vec<Hit> = (0..50).map(hit).collect();
        {
            let spool = Spool::open(&dir.path().join("spool")).unwrap();
            let mut tasks = Vec::new();
            let spool = Arc::new(spool);
            for h in hits.clone() {
                let s = spool.clone();
                tasks.push(tokio::spawn(async move { s.append(&h).await.unwrap() }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(spool.pending(), 50);
        }
        // a torn last line from a crash mid-write is skipped
        let mut f = OpenOptions::new().append(true).open(dir.path().join("spool").join(ACTIVE)).unwrap();
        f.write_all(b"{\"id\":\"01").unwrap();
        drop(f);
        let spool = Spool::open(&dir.path().join("spool")).unwrap();
        assert_eq!(spool.pending(), 51);
        let store = EmbeddedStore::open(&dir.path().join("store")).unwrap();
        assert_eq!(spool.replay(&store).await.unwrap(), 50);
        assert_eq!(spool.replay(&store).await.unwrap(), 0);
        let mut claimed = store.claim_hits(100, Duration::from_secs(60)).await.unwrap();
        claimed.sort_by_key(|h| h.original_link.clone());
        let mut want = hits.clone();
        want.sort_by_key(|h| h.original_link.clone());
        assert_eq!(claimed, want);
        assert!(!dir.path().join("spool").join(REPLAYING).exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_replayer_brings_hits_back_to_the_store_once_it_answers() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Arc::new(Spool::open(&dir.path().join("spool")).unwrap());
        spool.mark_store_down();
        spool.append(&hit(1)).await.unwrap();
        assert!(spool.store_down());
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir.path().join("store")).unwrap());
        let cancel = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(spool.clone().run_replayer(store.clone(), Duration::from_millis(20), cancel.clone()));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while spool.store_down() {
            assert!(std::time::Instant::now() < deadline, "the replayer never cleared the flag");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(store.stats().await.unwrap().pending_hits, 1);
        // with nothing spooled, a ping is enough to bring the store back
        spool.mark_store_down();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while spool.store_down() {
            assert!(std::time::Instant::now() < deadline, "a healthy store stayed marked down");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        task.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_during_a_replay_go_to_a_fresh_file() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.append(&hit(1)).await.unwrap();
        let store = EmbeddedStore::open(&dir.path().join("store")).unwrap();
        assert_eq!(spool.replay(&store).await.unwrap(), 1);
        spool.append(&hit(2)).await.unwrap();
        assert_eq!(spool.pending(), 1);
        assert_eq!(spool.replay(&store).await.unwrap(), 1);
        assert_eq!(store.stats().await.unwrap().pending_hits, 2);
    }
}
