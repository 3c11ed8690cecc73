//! IP address → autonomous system number, from a MaxMind ASN database (GeoLite2-ASN), for
//! the bot rules' ASN match (`geoip.asn_database`).
//!
//! Optional, like the City database: a missing or unreadable file is logged once at start and
//! every lookup then answers `None`, so a click is never lost or delayed for want of it. Read
//! once at start (a restart picks up a new file); the ASN only ever makes a hit `suspected`.

use std::net::IpAddr;
use std::path::Path;

use maxminddb::{Reader, geoip2};

/// A loaded ASN database, or none.
pub struct AsnDb {
    reader: Option<Reader<Vec<u8>>>,
}

impl std::fmt::Debug for AsnDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsnDb").field("loaded", &self.is_loaded()).finish()
    }
}

impl AsnDb {
    /// Opens `path`; never fails (a missing or bad file logs a warning and looks up nothing).
    pub fn open(path: &Path) -> AsnDb {
        match Reader::open_readfile(path) {
            Ok(reader) => {
                let meta = reader.metadata();
                if !meta.database_type.contains("ASN") {
                    tracing::warn!(path = %path.display(), database_type = %meta.database_type,
                        "geoip.asn_database is not an ASN database; ASN lookups will find nothing");
                }
                tracing::info!(path = %path.display(), database_type = %meta.database_type, "ASN database loaded");
                AsnDb { reader: Some(reader) }
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ASN database not loaded; scanner networks are matched by address only");
                AsnDb::disabled()
            }
        }
    }

    /// No database: every lookup answers `None`.
    pub fn disabled() -> AsnDb {
        AsnDb { reader: None }
    }

    pub fn is_loaded(&self) -> bool {
        self.reader.is_some()
    }

    /// The ASN of `ip` (IPv4-mapped IPv6 looked up as IPv4), or `None`.
    pub fn lookup(&self, ip: IpAddr) -> Option<u32> {
        let reader = self.reader.as_ref()?;
        let ip = ip.to_canonical();
        match reader.lookup(ip).and_then(|found| found.decode::<geoip2::Asn<'_>>()) {
            Ok(found) => found.and_then(|a| a.autonomous_system_number),
            Err(error) => {
                tracing::debug!(%ip, %error, "ASN lookup failed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_answers_none() {
        let db = AsnDb::open(Path::new("/nonexistent/GeoLite2-ASN.mmdb"));
        assert!(!db.is_loaded());
        assert_eq!(db.lookup("8.8.8.8".parse().unwrap()), None);
    }
}
