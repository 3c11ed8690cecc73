//! GeoDb against a real MaxMind DB built by the test kit from `data/test-geo.toml`.

use std::net::IpAddr;
use std::path::Path;

use clickhook_core::Geo;
use clickhook_enrich::{Enricher, GeoDb, UserAgents};
use clickhook_testkit::mmdb::{build_city_db, test_city_db, test_geo_source};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

fn novi_sad() -> Geo {
    Geo {
        country_iso_code: some("RS"),
        country: some("Serbia"),
        region_iso_code: some("VO"),
        region: some("Autonomna Pokrajina Vojvodina"),
        city: some("Novi Sad"),
        zip: some("21000"),
        coords: some("45.2517,19.8369"),
        ip: some("8.8.8.8"),
    }
}

#[test]
fn ipv4_gives_postmarks_example_geo_exactly() {
    let db = GeoDb::open(test_city_db());
    assert!(db.is_loaded());
    let geo = db.lookup(ip("8.8.8.8"));
    assert_eq!(geo, novi_sad());

    // Field for field and in order, the Geo object of Postmark's example payload.
    let example = clickhook_core::ClickEvent::example();
    assert_eq!(geo, example.geo);
    assert_eq!(
        serde_json::to_string(&geo).unwrap(),
        r#"{"CountryISOCode":"RS","Country":"Serbia","RegionISOCode":"VO","Region":"Autonomna Pokrajina Vojvodina","City":"Novi Sad","Zip":"21000","Coords":"45.2517,19.8369","IP":"8.8.8.8"}"#
    );
}

#[test]
fn ipv4_mapped_ipv6_is_looked_up_and_reported_as_ipv4() {
    let db = GeoDb::open(test_city_db());
    assert_eq!(db.lookup(ip("::ffff:8.8.8.8")), novi_sad());
    assert_eq!(db.lookup(ip("::ffff:8.8.8.200")).ip.as_deref(), Some("8.8.8.200"));
}

#[test]
fn ipv6_records() {
    let db = GeoDb::open(test_city_db());
    let geo = db.lookup(ip("2a02:2770:1:2::3"));
    assert_eq!(
        geo,
        Geo {
            country_iso_code: some("NL"),
            country: some("Netherlands"),
            region_iso_code: some("NH"),
            region: some("North Holland"),
            city: some("Amsterdam"),
            zip: some("1012"),
            coords: some("52.3759,4.8975"),
            ip: some("2a02:2770:1:2::3"),
        }
    );
    // country only
    let geo = db.lookup(ip("2001:db8:1::42"));
    assert_eq!(
        serde_json::to_string(&geo).unwrap(),
        r#"{"CountryISOCode":"DE","Country":"Germany","IP":"2001:db8:1::42"}"#
    );
}

#[test]
fn other_records_map_what_they_have() {
    let db = GeoDb::open(test_city_db());
    let london = db.lookup(ip("81.2.69.160"));
    assert_eq!(london.city.as_deref(), Some("London"));
    assert_eq!(london.region_iso_code.as_deref(), Some("ENG"));
    assert_eq!(london.coords.as_deref(), Some("51.5142,-0.0931"));

    let sweden = db.lookup(ip("89.160.20.128"));
    assert_eq!(
        serde_json::to_string(&sweden).unwrap(),
        r#"{"CountryISOCode":"SE","Country":"Sweden","IP":"89.160.20.128"}"#
    );

    let china = db.lookup(ip("175.16.199.1"));
    assert_eq!(
        serde_json::to_string(&china).unwrap(),
        r#"{"CountryISOCode":"CN","Country":"China","Coords":"34.7732,113.722","IP":"175.16.199.1"}"#
    );
}

#[test]
fn addresses_not_in_the_database_are_empty() {
    let db = GeoDb::open(test_city_db());
    for addr in ["8.8.4.4", "127.0.0.1", "10.1.2.3", "::1", "2a03::1", "::ffff:9.9.9.9"] {
        let geo = db.lookup(ip(addr));
        assert!(geo.is_empty(), "{addr}: {geo:?}");
        assert_eq!(serde_json::to_string(&geo).unwrap(), "{}");
    }
}

#[test]
fn a_missing_file_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = GeoDb::open(dir.path().join("GeoLite2-City.mmdb"));
    assert!(!db.is_loaded());
    assert_eq!(serde_json::to_string(&db.lookup(ip("8.8.8.8"))).unwrap(), "{}");
    assert!(db.reload().is_err(), "still missing");
    assert!(!db.is_loaded());
}

#[test]
fn a_corrupt_file_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("GeoLite2-City.mmdb");
    std::fs::write(&path, b"this is not a maxmind db").unwrap();
    let db = GeoDb::open(&path);
    assert!(!db.is_loaded());
    assert!(db.lookup(ip("8.8.8.8")).is_empty());
}

#[test]
fn reload_swaps_in_a_replaced_file_and_keeps_the_old_one_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("GeoLite2-City.mmdb");

    // Starts missing; reload picks the file up once it appears.
    let db = GeoDb::open(&db_path);
    assert!(db.lookup(ip("8.8.8.8")).is_empty());
    build_city_db(&test_geo_source(), &db_path).unwrap();
    db.reload().unwrap();
    assert_eq!(db.lookup(ip("8.8.8.8")), novi_sad());

    // The file is replaced with one where 8.8.8.0/24 moved.
    let moved = std::fs::read_to_string(test_geo_source())
        .unwrap()
        .replace("\"Novi Sad\"", "\"Subotica\"")
        .replace("\"21000\"", "\"24000\"");
    let source = dir.path().join("moved.toml");
    std::fs::write(&source, moved).unwrap();
    build_city_db(&source, &db_path).unwrap();
    assert_eq!(db.lookup(ip("8.8.8.8")).city.as_deref(), Some("Novi Sad"), "no reload, no change");
    db.reload().unwrap();
    let geo = db.lookup(ip("8.8.8.8"));
    assert_eq!((geo.city.as_deref(), geo.zip.as_deref()), (Some("Subotica"), Some("24000")));

    // A broken replacement is refused and the loaded database stays in service.
    std::fs::write(&db_path, b"truncated").unwrap();
    assert!(db.reload().is_err());
    assert!(db.is_loaded());
    assert_eq!(db.lookup(ip("8.8.8.8")).city.as_deref(), Some("Subotica"));
}

#[test]
fn lookups_run_while_another_thread_reloads() {
    let db = GeoDb::open(test_city_db());
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..20 {
                db.reload().unwrap();
            }
        });
        for _ in 0..2_000 {
            assert_eq!(db.lookup(ip("8.8.8.8")).city.as_deref(), Some("Novi Sad"));
        }
    });
}

#[test]
fn enricher_fills_the_example_click() {
    let enricher = Enricher::new(GeoDb::open(test_city_db()), UserAgents::builtin());
    let example = clickhook_core::ClickEvent::example();
    let e = enricher.enrich(ip("::ffff:8.8.8.8"), &example.user_agent);
    assert_eq!(e.geo, example.geo);
    assert_eq!(e.client, example.client);
    assert_eq!(e.os, example.os);
    assert_eq!(e.platform, example.platform);
}

#[test]
fn the_test_database_lives_where_the_kit_says() {
    let path = test_city_db();
    assert!(Path::new(&path).is_file());
    assert_eq!(GeoDb::open(&path).path(), Some(path.as_path()));
}
