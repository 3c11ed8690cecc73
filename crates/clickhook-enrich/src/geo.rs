//! IP address → [`Geo`], from a GeoIP2/GeoLite2 City database.
//!
//! The database is optional. A missing or unreadable file is logged and every lookup then
//! answers `Geo::default()` (`{}` on the wire), which is exactly what Postmark sends for
//! an address it cannot place: a click is never lost or delayed because geo data is.
//!
//! The reader sits behind an [`ArcSwapOption`], so [`GeoDb::reload`] can swap in a newly
//! downloaded database while lookups keep running on the old one; a lookup holds its
//! reader only for the duration of the call. The file is read into memory with
//! `Reader::open_readfile` (memory-mapping needs `unsafe`, which the workspace forbids,
//! and a mapped file that is replaced underneath the process is a crash waiting to
//! happen anyway).
//!
//! Each load remembers which file it read ([`FileStamp`]: device, inode, size, modification
//! and change times), so [`GeoDb::reload_if_changed`] can tell a replaced file from the one in
//! service with one `stat`; [`crate::geo_watch::watch`] calls it every few seconds.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use clickhook_core::Geo;
use maxminddb::{Reader, geoip2};

type CityReader = Reader<Vec<u8>>;

/// A hot-reloadable GeoIP2 City database.
pub struct GeoDb {
    path: Option<PathBuf>,
    reader: ArcSwapOption<CityReader>,
    /// The file as it was when it was last read (successfully or not); `None` when it was
    /// missing then, or was never read.
    stamp: Mutex<Option<FileStamp>>,
}

/// Which file, and which version of it: enough to notice that a file was replaced by a
/// rename (new inode, as `geoipupdate` does it) or rewritten in place (new size, mtime or
/// ctime; ctime changes even when `cp -p` keeps the old mtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
}

impl FileStamp {
    /// The stamp of the file at `path` now (following symlinks, as reading does).
    pub fn of(path: &Path) -> std::io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        let (dev, ino, changed) = {
            use std::os::unix::fs::MetadataExt as _;
            (meta.dev(), meta.ino(), (meta.ctime(), meta.ctime_nsec()))
        };
        #[cfg(not(unix))]
        let (dev, ino, changed) = (0, 0, (0, 0));
        Ok(FileStamp { dev, ino, len: meta.len(), modified: meta.modified().ok(), changed })
    }
}

/// What [`GeoDb::reload_if_changed`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The file is the one read last time (or is still missing): nothing to do.
    Unchanged,
    /// The file changed and the new database is in service.
    Reloaded,
    /// The file changed but does not load; the database in service (if any) stays, and the
    /// file is tried again when it changes again.
    Failed(String),
    /// The file was there last time and is gone (or unreadable) now; the database in service
    /// (if any) stays.
    Removed(String),
    /// No database path is configured.
    Disabled,
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoDb").field("path", &self.path).field("loaded", &self.is_loaded()).finish()
    }
}

impl GeoDb {
    /// Opens the database at `path`.
    ///
    /// Never fails: if the file is missing or is not a valid MaxMind DB, this logs a
    /// warning and returns a database whose lookups all answer `Geo::default()`. A later
    /// [`reload`](Self::reload) picks the file up once it exists.
    pub fn open(path: impl Into<PathBuf>) -> GeoDb {
        let path = path.into();
        let stamp = FileStamp::of(&path).ok();
        let reader = match read(&path) {
            Ok(reader) => Some(Arc::new(reader)),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "geo database not loaded; clicks will carry an empty Geo");
                None
            }
        };
        GeoDb { path: Some(path), reader: ArcSwapOption::new(reader), stamp: Mutex::new(stamp) }
    }

    /// No database: every lookup answers `Geo::default()`.
    pub fn disabled() -> GeoDb {
        GeoDb { path: None, reader: ArcSwapOption::empty(), stamp: Mutex::new(None) }
    }

    /// The configured file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether a database is loaded (lookups can return data).
    pub fn is_loaded(&self) -> bool {
        self.reader.load().is_some()
    }

    /// Re-reads the file and swaps it in atomically.
    ///
    /// On failure the previously loaded database (if any) stays in service and the error
    /// is returned for the caller to log; lookups never observe a half-loaded state.
    pub fn reload(&self) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Err("geo lookups are disabled (no database path configured)".into());
        };
        // The stamp is taken before the read: if the file changes while it is read, the
        // next check sees a stamp other than this one and reads it again.
        let stamp = FileStamp::of(path).ok();
        *self.stamp.lock().unwrap_or_else(PoisonError::into_inner) = stamp;
        let reader = read(path)?;
        self.reader.store(Some(Arc::new(reader)));
        Ok(())
    }

    /// Reloads the file if it is not the one read last time: replaced by a rename, rewritten
    /// in place, or created since. A file that fails to load leaves the database in service
    /// as it is and is not tried again until it changes again. Blocking (reads the file).
    pub fn reload_if_changed(&self) -> Refresh {
        let Some(path) = &self.path else {
            return Refresh::Disabled;
        };
        let last = *self.stamp.lock().unwrap_or_else(PoisonError::into_inner);
        match FileStamp::of(path) {
            Ok(now) if Some(now) == last => Refresh::Unchanged,
            Ok(_) => match self.reload() {
                Ok(()) => Refresh::Reloaded,
                Err(error) => Refresh::Failed(error),
            },
            Err(_) if last.is_none() => Refresh::Unchanged,
            Err(error) => {
                *self.stamp.lock().unwrap_or_else(PoisonError::into_inner) = None;
                Refresh::Removed(format!("{}: {error}", path.display()))
            }
        }
    }

    /// Looks `ip` up. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are looked up, and
    /// reported, as the IPv4 address. An address the database does not cover, a disabled
    /// database and a corrupt record all answer `Geo::default()`.
    pub fn lookup(&self, ip: IpAddr) -> Geo {
        let ip = canonical(ip);
        let guard = self.reader.load();
        let Some(reader) = guard.as_deref() else {
            return Geo::default();
        };
        let city = match reader.lookup(ip).and_then(|found| found.decode::<geoip2::City<'_>>()) {
            Ok(Some(city)) => city,
            Ok(None) => return Geo::default(),
            Err(error) => {
                tracing::debug!(%ip, %error, "geo lookup failed");
                return Geo::default();
            }
        };
        to_geo(&city, ip)
    }
}

fn read(path: &Path) -> Result<CityReader, String> {
    let reader = Reader::open_readfile(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = reader.metadata();
    if !meta.database_type.contains("City") {
        tracing::warn!(path = %path.display(), database_type = %meta.database_type,
            "geo database is not a City database; City, Region and Zip will be missing");
    }
    tracing::info!(path = %path.display(), database_type = %meta.database_type,
        build_epoch = meta.build_epoch, "geo database loaded");
    Ok(reader)
}

/// `::ffff:a.b.c.d` → `a.b.c.d`; everything else unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn text(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

fn to_geo(city: &geoip2::City<'_>, ip: IpAddr) -> Geo {
    let subdivision = city.subdivisions.first();
    let coords = match (city.location.latitude, city.location.longitude) {
        (Some(lat), Some(lon)) => Some(format!("{lat},{lon}")),
        _ => None,
    };
    Geo {
        country_iso_code: text(city.country.iso_code),
        country: text(city.country.names.english),
        region_iso_code: text(subdivision.and_then(|s| s.iso_code)),
        region: text(subdivision.and_then(|s| s.names.english)),
        city: text(city.city.names.english),
        zip: text(city.postal.code),
        coords,
        ip: Some(ip.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_mapped_addresses_become_ipv4() {
        let mapped: IpAddr = "::ffff:8.8.8.8".parse().unwrap();
        assert_eq!(canonical(mapped), "8.8.8.8".parse::<IpAddr>().unwrap());
        let v6: IpAddr = "2a02:2770::1".parse().unwrap();
        assert_eq!(canonical(v6), v6);
        // the deprecated IPv4-compatible form is a real IPv6 address, not IPv4
        let compat: IpAddr = "::8.8.8.8".parse().unwrap();
        assert_eq!(canonical(compat), compat);
    }

    #[test]
    fn coordinates_print_as_display_does() {
        assert_eq!(format!("{},{}", 45.2517_f64, 19.8369_f64), "45.2517,19.8369");
        assert_eq!(format!("{},{}", 51.5142_f64, -0.0931_f64), "51.5142,-0.0931");
    }

    #[test]
    fn disabled_database_answers_empty() {
        let db = GeoDb::disabled();
        assert!(!db.is_loaded());
        assert!(db.lookup("8.8.8.8".parse().unwrap()).is_empty());
        assert!(db.reload().is_err());
    }
}
