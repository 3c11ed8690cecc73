//! GeoIP2-City test databases, built from a readable TOML source.
//!
//! Tests must not depend on MaxMind's real database (licensed, 60+ MB, changes weekly), so
//! [`build_city_db`] writes a small MaxMind DB in the same format from `data/test-geo.toml`
//! (which documents its fields). The file is a real `.mmdb`: clickhook reads it through the
//! same `maxminddb` code path as the real one.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;
use mmdb_writer::Writer;
use mmdb_writer::ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The source file: `database_type` plus a list of networks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoSource {
    #[serde(default = "default_database_type")]
    pub database_type: String,
    #[serde(default, rename = "network")]
    pub networks: Vec<NetworkSpec>,
}

fn default_database_type() -> String {
    "GeoLite2-City".to_owned()
}

/// One network and its City record, flattened (see `data/test-geo.toml`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub cidr: String,
    pub continent_code: Option<String>,
    pub country_iso_code: Option<String>,
    pub country: Option<String>,
    pub subdivision_iso_code: Option<String>,
    pub subdivision: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub time_zone: Option<String>,
}

// The GeoIP2 City record layout (the subset clickhook reads, plus a little context).
// `None` fields are dropped by mmdb-writer, so absent data is absent, not empty.

#[derive(Serialize)]
struct CityRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    continent: Option<Coded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<Coded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registered_country: Option<Coded>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subdivisions: Vec<Coded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal: Option<Postal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
}

#[derive(Serialize)]
struct Coded {
    #[serde(skip_serializing_if = "Option::is_none")]
    iso_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    names: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Named {
    names: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Postal {
    code: String,
}

#[derive(Serialize)]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    longitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
}

fn english(name: &Option<String>) -> BTreeMap<&'static str, String> {
    name.iter().map(|n| ("en", n.clone())).collect()
}

impl NetworkSpec {
    fn network(&self) -> anyhow::Result<IpNet> {
        self.cidr.parse().with_context(|| format!("network {:?} is not a CIDR", self.cidr))
    }

    fn record(&self) -> CityRecord {
        // Test data has no separate registration country: it is the country.
        let country = || {
            (self.country_iso_code.is_some() || self.country.is_some()).then(|| Coded {
                iso_code: self.country_iso_code.clone(),
                code: None,
                names: english(&self.country),
            })
        };
        let subdivisions = if self.subdivision_iso_code.is_some() || self.subdivision.is_some() {
            vec![Coded { iso_code: self.subdivision_iso_code.clone(), code: None, names: english(&self.subdivision) }]
        } else {
            Vec::new()
        };
        let location = (self.latitude.is_some() || self.longitude.is_some() || self.time_zone.is_some()).then(|| {
            Location { latitude: self.latitude, longitude: self.longitude, time_zone: self.time_zone.clone() }
        });
        CityRecord {
            continent: self.continent_code.as_ref().map(|c| Coded {
                iso_code: None,
                code: Some(c.clone()),
                names: BTreeMap::new(),
            }),
            country: country(),
            registered_country: country(),
            subdivisions,
            city: self.city.as_ref().map(|_| Named { names: english(&self.city) }),
            postal: self.postal_code.as_ref().map(|code| Postal { code: code.clone() }),
            location,
        }
    }
}

impl GeoSource {
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }

    /// The `.mmdb` bytes.
    pub fn to_mmdb(&self) -> anyhow::Result<Vec<u8>> {
        let mut writer = Writer::builder(self.database_type.clone())
            .description(&[("en", "clickhook test geo data (made up)")])
            .build();
        for spec in &self.networks {
            let net = spec.network()?;
            writer.insert(net, &spec.record()).with_context(|| format!("inserting {}", spec.cidr))?;
        }
        Ok(writer.to_bytes()?)
    }
}

#[derive(Serialize)]
struct AsnRecord<'a> {
    autonomous_system_number: u32,
    autonomous_system_organization: &'a str,
}

/// The bytes of a GeoLite2-ASN-format database with the given `(cidr, asn, organisation)`
/// networks (for `geoip.asn_database` tests).
pub fn asn_db_bytes(networks: &[(&str, u32, &str)]) -> anyhow::Result<Vec<u8>> {
    let mut writer = Writer::builder("GeoLite2-ASN".to_owned()).description(&[("en", "clickhook test ASN data (made up)")]).build();
    for (cidr, asn, org) in networks {
        let net: IpNet = cidr.parse().with_context(|| format!("network {cidr:?} is not a CIDR"))?;
        writer
            .insert(net, &AsnRecord { autonomous_system_number: *asn, autonomous_system_organization: org })
            .with_context(|| format!("inserting {cidr}"))?;
    }
    Ok(writer.to_bytes()?)
}

/// Builds a GeoIP2-City-format database at `out` from the TOML at `source_toml`.
///
/// The file is written next to `out` and renamed into place, so a reader (or a concurrent
/// builder) never sees a partial database, and a running `GeoDb` can be pointed at `out`
/// and reloaded.
pub fn build_city_db(source_toml: &Path, out: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(source_toml).with_context(|| format!("reading {}", source_toml.display()))?;
    let source = GeoSource::from_toml(&text).with_context(|| format!("parsing {}", source_toml.display()))?;
    let bytes = source.to_mmdb().with_context(|| format!("building from {}", source_toml.display()))?;
    write_atomically(out, &bytes)
}

fn write_atomically(out: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let file_name = out.file_name().with_context(|| format!("{} has no file name", out.display()))?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
    Ok(())
}

/// The repository's `data/test-geo.toml`.
pub fn test_geo_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("data").join("test-geo.toml")
}

/// A database built from `data/test-geo.toml`, once per process.
///
/// It lives in the system temp directory under a name derived from the source's contents,
/// so concurrent test processes share one file (each writes it atomically, with identical
/// bytes) and an edited source gets a new file. Treat it as read-only: a test that changes
/// the database should build its own with [`build_city_db`].
///
/// # Panics
///
/// If the source cannot be read or built: the test cannot run without it.
pub fn test_city_db() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let source = test_geo_source();
        let text = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        let out = std::env::temp_dir().join(format!("clickhook-test-city-{:016x}.mmdb", hasher.finish()));
        build_city_db(&source, &out).unwrap_or_else(|e| panic!("building the test geo database: {e:#}"));
        out
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MaxMind DB metadata marker every valid file ends its data with.
    const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

    #[test]
    fn the_source_parses_and_holds_the_example_location() {
        let source = GeoSource::from_toml(&std::fs::read_to_string(test_geo_source()).unwrap()).unwrap();
        assert_eq!(source.database_type, "GeoLite2-City");
        let novi_sad = source.networks.iter().find(|n| n.cidr == "8.8.8.0/24").unwrap();
        assert_eq!(novi_sad.city.as_deref(), Some("Novi Sad"));
        assert_eq!((novi_sad.latitude, novi_sad.longitude), (Some(45.2517), Some(19.8369)));
        assert!(source.networks.iter().any(|n| n.cidr.contains(':')), "an IPv6 network");
        assert!(source.networks.iter().any(|n| n.city.is_none()), "a country-only network");
    }

    #[test]
    fn test_city_db_is_built_once_and_is_a_maxmind_db() {
        let a = test_city_db();
        let b = test_city_db();
        assert_eq!(a, b);
        let bytes = std::fs::read(&a).unwrap();
        assert!(bytes.windows(METADATA_MARKER.len()).any(|w| w == METADATA_MARKER));
        assert!(bytes.windows(b"GeoLite2-City".len()).any(|w| w == b"GeoLite2-City"));
    }

    #[test]
    fn bad_sources_are_reported() {
        let err = GeoSource::from_toml("[[network]]\ncidr = \"8.8.8.0/33\"").unwrap().to_mmdb().unwrap_err();
        assert!(format!("{err:#}").contains("8.8.8.0/33"), "{err:#}");
        assert!(GeoSource::from_toml("[[network]]\ncidr = \"8.8.8.0/24\"\ncity_name = \"x\"").is_err());
        let dir = std::env::temp_dir();
        assert!(build_city_db(&dir.join("clickhook-no-such-source.toml"), &dir.join("clickhook-never.mmdb")).is_err());
    }
}
