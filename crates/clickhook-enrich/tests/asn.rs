//! The ASN reader on a real MaxMind-format ASN database that the test builds.

use std::net::IpAddr;

use clickhook_enrich::asn::AsnDb;

#[test]
fn looks_up_the_asn_of_an_address_and_nothing_outside_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("asn.mmdb");
    let bytes = clickhook_testkit::mmdb::asn_db_bytes(&[("203.0.113.0/24", 64_500, "Example Scanner Ltd"), ("2001:db8::/32", 64_501, "Example v6")]).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let db = AsnDb::open(&path);
    assert!(db.is_loaded());
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(db.lookup(ip("203.0.113.77")), Some(64_500));
    assert_eq!(db.lookup(ip("::ffff:203.0.113.77")), Some(64_500), "IPv4-mapped addresses are looked up as IPv4");
    assert_eq!(db.lookup(ip("2001:db8::1")), Some(64_501));
    assert_eq!(db.lookup(ip("198.51.100.1")), None);
}

#[test]
fn a_missing_or_corrupt_file_looks_up_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(AsnDb::open(&dir.path().join("absent.mmdb")).lookup("203.0.113.1".parse().unwrap()), None);
    let bad = dir.path().join("bad.mmdb");
    std::fs::write(&bad, b"not a database").unwrap();
    let db = AsnDb::open(&bad);
    assert!(!db.is_loaded());
    assert_eq!(db.lookup("203.0.113.1".parse().unwrap()), None);
}
