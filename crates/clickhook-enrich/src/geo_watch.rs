//! Reloads the geo database when its file is replaced, without a restart.
//!
//! `geoipupdate` writes the new database to a temporary file and renames it over the old
//! one (a new inode); other tools copy over the file in place. [`watch`] notices both by
//! polling the file's metadata (device, inode, size, modification and change times) every
//! `interval`, which costs one `stat` per poll.
//!
//! Why a poll and not inotify (the `notify` crate): a rename over the watched file drops an
//! inotify watch on the file, so one would have to watch the directory and filter; bind
//! mounts, Kubernetes ConfigMap/volume updates (symlink swaps of a `..data` directory) and
//! network file systems deliver events unreliably or not at all; and the database changes
//! weekly, so noticing within seconds is plenty. A poll behaves the same everywhere.
//!
//! What happens on a change is [`GeoDb::reload_if_changed`]: the new file is read in full
//! and swapped in; a file that does not load (a half-copied file, garbage) is logged and the
//! database in service stays, and it is tried again when it changes again. A file that is
//! missing at start is loaded when it appears; a file that disappears leaves the loaded
//! database in service.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::geo::{GeoDb, Refresh};

/// Polls `geo`'s file every `interval` and reloads it when it changed, until `cancel`.
///
/// Returns at once when `interval` is zero (reloading disabled) or `geo` has no path.
pub async fn watch(geo: Arc<GeoDb>, interval: Duration, cancel: CancellationToken) {
    let Some(path) = geo.path().map(|p| p.display().to_string()) else {
        return;
    };
    if interval.is_zero() {
        return;
    }
    tracing::debug!(path = %path, interval = ?interval, "watching the geo database for changes");
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; the file was just opened
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = cancel.cancelled() => return,
        }
        let db = geo.clone();
        // Reading a 60 MB file is blocking work: keep it off the runtime's worker threads.
        let outcome = match tokio::task::spawn_blocking(move || db.reload_if_changed()).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(path = %path, %error, "checking the geo database failed");
                continue;
            }
        };
        match outcome {
            Refresh::Unchanged => {}
            Refresh::Reloaded => tracing::info!(path = %path, "geo database file changed; reloaded"),
            Refresh::Failed(error) => tracing::warn!(
                path = %path, %error,
                "geo database file changed but does not load; keeping the database in service, will retry when the file changes again"
            ),
            Refresh::Removed(error) => {
                tracing::warn!(path = %path, %error, "geo database file is gone; keeping the database in service");
            }
            Refresh::Disabled => return,
        }
    }
}
