//! The geo database follows its file: replaced by a rename (as geoipupdate does), copied over
//! in place, broken, created late, removed. Real MaxMind DBs built by the test kit.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clickhook_enrich::GeoDb;
use clickhook_enrich::geo::Refresh;
use clickhook_enrich::geo_watch::watch;
use clickhook_testkit::mmdb::{build_city_db, test_geo_source};
use tokio_util::sync::CancellationToken;

const POLL: Duration = Duration::from_millis(50);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn city(db: &GeoDb) -> Option<String> {
    db.lookup(ip("8.8.8.8")).city
}

/// Two databases in `dir` that differ where 8.8.8.8 is: "Novi Sad" (the test data) and
/// "Subotica". The names have the same length, so the files have the same size: an in-place
/// copy changes neither inode nor size, only the times.
fn two_databases(dir: &Path) -> (PathBuf, PathBuf) {
    let a = dir.join("a.mmdb");
    build_city_db(&test_geo_source(), &a).unwrap();
    let moved = std::fs::read_to_string(test_geo_source())
        .unwrap()
        .replace("\"Novi Sad\"", "\"Subotica\"")
        .replace("\"21000\"", "\"24000\"");
    let source = dir.join("b.toml");
    std::fs::write(&source, moved).unwrap();
    let b = dir.join("b.mmdb");
    build_city_db(&source, &b).unwrap();
    (a, b)
}

/// geoipupdate's way: write a temporary file next to the target, rename it over the target.
fn replace_by_rename(from: &Path, to: &Path) {
    let tmp = to.with_extension("mmdb.tmp");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

/// `cp from to`: the same inode, truncated and written again.
fn copy_in_place(from: &Path, to: &Path) {
    let before = inode(to);
    std::fs::write(to, std::fs::read(from).unwrap()).unwrap();
    assert_eq!(inode(to), before, "an in-place copy keeps the inode");
}

fn inode(p: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(p).ok().map(|m| m.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = p;
        None
    }
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The file at `path` and a watcher on it, stopped when dropped.
struct Watched {
    db: Arc<GeoDb>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Watched {
    fn start(path: &Path) -> Watched {
        let db = Arc::new(GeoDb::open(path));
        let cancel = CancellationToken::new();
        let task = tokio::spawn(watch(db.clone(), POLL, cancel.clone()));
        Watched { db, cancel, task }
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task).await.expect("watcher stops when cancelled").unwrap();
    }
}

#[tokio::test]
async fn a_file_replaced_by_rename_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_databases(dir.path());
    let path = dir.path().join("GeoLite2-City.mmdb");
    std::fs::copy(&a, &path).unwrap();
    let w = Watched::start(&path);
    assert_eq!(city(&w.db).as_deref(), Some("Novi Sad"));

    replace_by_rename(&b, &path);
    eventually("the renamed-in file is in service", || city(&w.db).as_deref() == Some("Subotica")).await;
    assert_eq!(w.db.lookup(ip("8.8.8.8")).zip.as_deref(), Some("24000"));

    // and back again: every replacement counts, not just the first
    replace_by_rename(&a, &path);
    eventually("the first file is back in service", || city(&w.db).as_deref() == Some("Novi Sad")).await;
    w.stop().await;
}

#[tokio::test]
async fn a_file_copied_over_in_place_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_databases(dir.path());
    assert_eq!(std::fs::metadata(&a).unwrap().len(), std::fs::metadata(&b).unwrap().len(), "same size");
    let path = dir.path().join("GeoLite2-City.mmdb");
    std::fs::copy(&a, &path).unwrap();
    let w = Watched::start(&path);
    assert_eq!(city(&w.db).as_deref(), Some("Novi Sad"));

    copy_in_place(&b, &path);
    eventually("the copied-in file is in service", || city(&w.db).as_deref() == Some("Subotica")).await;
    w.stop().await;
}

#[tokio::test]
async fn a_broken_replacement_keeps_the_old_data_and_the_next_good_one_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_databases(dir.path());
    let path = dir.path().join("GeoLite2-City.mmdb");
    std::fs::copy(&a, &path).unwrap();
    let w = Watched::start(&path);

    // garbage, then a file cut short (a copy caught half-way: no metadata section)
    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"not a maxmind database").unwrap();
    replace_by_rename(&garbage, &path);
    tokio::time::sleep(POLL * 6).await;
    assert!(w.db.is_loaded());
    assert_eq!(city(&w.db).as_deref(), Some("Novi Sad"), "the old database stays in service");

    let bytes = std::fs::read(&b).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    tokio::time::sleep(POLL * 6).await;
    assert_eq!(city(&w.db).as_deref(), Some("Novi Sad"), "the old database stays in service");

    // the file changes again, to a good one: it is loaded
    copy_in_place(&b, &path);
    eventually("the good file is in service", || city(&w.db).as_deref() == Some("Subotica")).await;
    w.stop().await;
}

#[tokio::test]
async fn a_file_missing_at_start_is_loaded_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_databases(dir.path());
    let path = dir.path().join("GeoLite2-City.mmdb");
    let w = Watched::start(&path);
    assert!(!w.db.is_loaded());
    assert!(w.db.lookup(ip("8.8.8.8")).is_empty());
    tokio::time::sleep(POLL * 3).await;

    replace_by_rename(&a, &path);
    eventually("the new file is in service", || city(&w.db).as_deref() == Some("Novi Sad")).await;

    // removed: the loaded database stays; a new file put there later is loaded
    std::fs::remove_file(&path).unwrap();
    tokio::time::sleep(POLL * 4).await;
    assert_eq!(city(&w.db).as_deref(), Some("Novi Sad"));
    replace_by_rename(&b, &path);
    eventually("the file put back is in service", || city(&w.db).as_deref() == Some("Subotica")).await;
    w.stop().await;
}

#[tokio::test]
async fn a_zero_interval_or_no_path_disables_the_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("GeoLite2-City.mmdb");
    let done = tokio::time::timeout(Duration::from_secs(1), watch(Arc::new(GeoDb::open(&path)), Duration::ZERO, CancellationToken::new())).await;
    assert!(done.is_ok(), "returns at once with a zero interval");
    let done = tokio::time::timeout(Duration::from_secs(1), watch(Arc::new(GeoDb::disabled()), POLL, CancellationToken::new())).await;
    assert!(done.is_ok(), "returns at once without a path");
}

#[test]
fn reload_if_changed_reads_only_a_changed_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_databases(dir.path());
    let path = dir.path().join("GeoLite2-City.mmdb");

    let db = GeoDb::open(&path);
    assert_eq!(db.reload_if_changed(), Refresh::Unchanged, "still missing");
    std::fs::copy(&a, &path).unwrap();
    assert_eq!(db.reload_if_changed(), Refresh::Reloaded, "appeared");
    assert_eq!(db.reload_if_changed(), Refresh::Unchanged);
    assert_eq!(city(&db).as_deref(), Some("Novi Sad"));

    replace_by_rename(&b, &path);
    assert_eq!(db.reload_if_changed(), Refresh::Reloaded);
    assert_eq!(city(&db).as_deref(), Some("Subotica"));

    std::fs::write(&path, b"garbage").unwrap();
    assert!(matches!(db.reload_if_changed(), Refresh::Failed(e) if e.contains("GeoLite2-City.mmdb")));
    assert_eq!(db.reload_if_changed(), Refresh::Unchanged, "a broken file is not read again until it changes");
    assert_eq!(city(&db).as_deref(), Some("Subotica"));

    std::fs::remove_file(&path).unwrap();
    assert!(matches!(db.reload_if_changed(), Refresh::Removed(_)));
    assert_eq!(db.reload_if_changed(), Refresh::Unchanged, "reported once");
    assert_eq!(city(&db).as_deref(), Some("Subotica"), "a removed file leaves the database in service");

    replace_by_rename(&a, &path);
    assert_eq!(db.reload_if_changed(), Refresh::Reloaded);
    assert_eq!(city(&db).as_deref(), Some("Novi Sad"));

    // reload() itself also remembers what it read
    db.reload().unwrap();
    assert_eq!(db.reload_if_changed(), Refresh::Unchanged);
    assert_eq!(GeoDb::disabled().reload_if_changed(), Refresh::Disabled);
}
