//! The geo database is replaced under a running node (as geoipupdate does it: a new file
//! renamed over the old one) and the next clicks carry the new Geo, without a restart.

use std::time::{Duration, Instant};

use clickhook_testkit::mmdb::{build_city_db, test_geo_source};
use clickhook_testkit::node::{TestNode, links, message_with_links};
use clickhook_testkit::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_geo_database_is_used_without_a_restart() {
    let geo_dir = tempfile::tempdir().unwrap();
    let db_path = geo_dir.path().join("GeoLite2-City.mmdb");
    build_city_db(&test_geo_source(), &db_path).unwrap();
    let moved_source = geo_dir.path().join("moved.toml");
    let moved = std::fs::read_to_string(test_geo_source()).unwrap().replace("\"Novi Sad\"", "\"Subotica\"").replace("\"21000\"", "\"24000\"");
    std::fs::write(&moved_source, moved).unwrap();

    let node = TestNode::start(&format!("[geoip]\ncity_database = {:?}\nreload_interval = \"100ms\"\n", db_path.display().to_string())).await;
    let rx = Receiver::start().await;
    node.add_webhook(&rx.url("/hook"), true).await;
    let msg = node.track(message_with_links("geo-reload-1", 50)).await;
    let html = links(&msg, "HTML");

    // Geo A
    assert_eq!(node.click(&html[0], "8.8.8.8").await.status(), 302);
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].json()["Geo"]["City"], "Novi Sad");

    // The file is replaced by a rename (build_city_db writes a temporary file and renames it).
    build_city_db(&moved_source, &db_path).unwrap();

    // Geo B: each click is on a new link (so each is unique and makes a webhook), until the
    // watcher has swapped the database in; it polls every 100 ms.
    let started = Instant::now();
    let mut next = 1;
    loop {
        assert_eq!(node.click(&html[next], "8.8.8.8").await.status(), 302);
        let got = rx.wait_for(next + 1, WAIT).await;
        let geo = got[next].json()["Geo"].clone();
        next += 1;
        if geo["City"] == "Subotica" {
            assert_eq!(geo["Zip"], "24000");
            assert_eq!(geo["Country"], "Serbia");
            break;
        }
        assert_eq!(geo["City"], "Novi Sad", "{geo}");
        assert!(started.elapsed() < WAIT && next < html.len(), "the replaced database was not picked up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // and it stays
    assert_eq!(node.click(&html[next], "8.8.8.8").await.status(), 302);
    let got = rx.wait_for(next + 1, WAIT).await;
    assert_eq!(got[next].json()["Geo"]["City"], "Subotica");
}
