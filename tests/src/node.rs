//! A whole clickhook node in the test process, on listeners bound to 127.0.0.1:0, with a
//! client that speaks its API and clicks its links.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clickhook::{Listeners, Node, Roles};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const TOKEN: &str = "test-server-token-0001";
pub const EXAMPLE_UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36";

/// Which store the test nodes use: `CLICKHOOK_TEST_BACKEND` = `embedded` (default), `redis`
/// (a redis-server of its own for each store directory) or `cluster` (one 3-master/3-replica
/// Redis Cluster per test process, a key prefix of its own for each store directory). The
/// end-to-end suites run unchanged on each; `.ci/run` runs them on all three.
pub fn backend_config(store_dir: &std::path::Path) -> String {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static SERVERS: OnceLock<Mutex<HashMap<PathBuf, Arc<crate::redis::RedisServer>>>> = OnceLock::new();
    static CLUSTER: OnceLock<crate::redis::RedisCluster> = OnceLock::new();
    match std::env::var("CLICKHOOK_TEST_BACKEND").as_deref() {
        Ok("redis") => {
            let mut map = SERVERS.get_or_init(Default::default).lock().unwrap();
            // the same directory (a restart) finds the same server
            let server = map.entry(store_dir.to_path_buf()).or_insert_with(|| Arc::new(crate::redis::RedisServer::start())).clone();
            format!("[store]\nbackend = \"redis\"\nredis_url = \"{}\"\n", server.url())
        }
        Ok("cluster") => {
            let cluster = CLUSTER.get_or_init(crate::redis::RedisCluster::start);
            let urls = cluster.urls().iter().map(|u| format!("\"{u}\"")).collect::<Vec<_>>().join(", ");
            let mut h: u64 = 0xcbf29ce484222325;
            for b in store_dir.to_string_lossy().bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
            }
            format!("[store]\nbackend = \"redis\"\nredis_cluster = [{urls}]\nredis_key_prefix = \"t{h:x}\"\n")
        }
        Ok("embedded") | Err(_) => String::new(),
        Ok(other) => panic!("CLICKHOOK_TEST_BACKEND = {other:?}: use embedded, redis or cluster"),
    }
}

/// The settings every test node starts from: fast retries, private targets allowed
/// (receivers are on loopback), loopback as the trusted proxy, the test City database, and
/// the store of [`backend_config`]. Bot verdicts are off (`bots.enabled = false`): the
/// delivery suites click many links of one message from one address within a second, which
/// is exactly a scanner's burst; `tests/tests/bots.rs` turns them on.
pub fn base_config(store_dir: &std::path::Path, redirect_port: u16) -> String {
    let backend = backend_config(store_dir);
    let store_line = format!("[store]\npath = \"{}\"\n", store_dir.display());
    let text = format!(
        r#"
[tracking]
link_base_url = "http://127.0.0.1:{redirect_port}"
[store]
path = "{store}"
[geoip]
city_database = "{geo}"
[proxy]
trusted = ["127.0.0.1/32"]
[webhooks]
allow_private_targets = true
retry_schedule = ["100ms", "100ms", "100ms", "100ms", "100ms"]
request_timeout = "2s"
breaker_cooldown = "300ms"
[bots]
enabled = false
[[servers]]
name = "default"
token = "{TOKEN}"
"#,
        store = store_dir.display(),
        geo = crate::mmdb::test_city_db().display(),
    );
    if backend.is_empty() { text } else { text.replace(&store_line, &format!("{backend}path = \"{}\"\n", store_dir.display())) }
}

pub struct TestNode {
    pub node: Option<Node>,
    pub api: String,
    pub link_base: String,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub http: reqwest::Client,
}

impl TestNode {
    /// A fresh node with `extra` TOML merged over [`base_config`]. `{redirect_port}` in
    /// `extra` is replaced by the link host's port.
    pub async fn start(extra: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut n = Self::start_in(dir, extra).await;
        n._tmp = Some(tmp);
        n
    }

    /// A node on an existing store directory (a restart).
    pub async fn start_in(dir: PathBuf, extra: &str) -> Self {
        let redirect = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = redirect.local_addr().unwrap().port();
        let api_addr = api.local_addr().unwrap();
        let extra = extra.replace("{redirect_port}", &port.to_string());
        let cfg = clickhook_config::from_toml_layers(&[&base_config(&dir, port), &extra]).expect("test config parses");
        let link_base = cfg.tracking.link_base_url.trim_end_matches('/').to_owned();
        let settings = cfg.validate().expect("test config is valid");
        let node = Node::start(cfg, settings, Roles::ALL, Listeners { redirect: Some(redirect), api: Some(api) })
            .await
            .expect("node starts");
        if !backend_config(&dir).is_empty() {
            assert_eq!(node.store.backend(), "redis", "CLICKHOOK_TEST_BACKEND asked for Redis");
        }
        Self {
            node: Some(node),
            api: format!("http://{api_addr}"),
            link_base,
            dir,
            _tmp: None,
            http: crate::http_client(),
        }
    }

    pub async fn stop(&mut self) {
        if let Some(n) = self.node.take() {
            n.shutdown().await;
        }
    }

    /// Any API call: method, path, raw body, token (None = no header). Returns status and JSON.
    pub async fn call(&self, method: &str, path: &str, body: Option<Vec<u8>>, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{}", self.api, path)).header("Accept", "application/json");
        if let Some(t) = token {
            req = req.header("X-Postmark-Server-Token", t);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req.send().await.expect("API answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(serde_json::to_vec(&body).unwrap()), Some(TOKEN)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None, Some(TOKEN)).await
    }

    /// Creates a webhook on stream "outbound"; returns its id.
    pub async fn add_webhook(&self, url: &str, click: bool) -> i64 {
        let (s, w) = self.post("/webhooks", json!({ "Url": url, "Triggers": { "Click": { "Enabled": click } } })).await;
        assert_eq!(s, 200, "{w}");
        w["ID"].as_i64().unwrap()
    }

    /// Tracks a message; returns the response body.
    pub async fn track(&self, body: Value) -> Value {
        let (s, r) = self.post("/tracking/messages", body).await;
        assert_eq!(s, 200, "{r}");
        r
    }

    /// GETs a tracked link as a browser behind the trusted proxy at `client_ip`.
    pub async fn click(&self, link: &str, client_ip: &str) -> reqwest::Response {
        self.http.get(link).header("User-Agent", EXAMPLE_UA).header("X-Forwarded-For", client_ip).send().await.expect("link host answers")
    }

    /// Waits until every hit is processed and no delivery is pending.
    pub async fn settle(&self) {
        let store = self.node.as_ref().expect("node running").store.clone();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = store.stats().await.unwrap();
            if s.pending_hits == 0 && s.pending_deliveries == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "node did not settle: {s:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The tracked links of a `/tracking/messages` response, by location.
pub fn links(resp: &Value, location: &str) -> Vec<String> {
    resp["Links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["ClickLocation"] == location)
        .map(|l| l["TrackedLink"].as_str().unwrap().to_owned())
        .collect()
}

/// A `/tracking/messages` body for john@example.com whose HTML has `n_links` distinct links
/// (`https://example.com/0`, `/1`, ...).
pub fn message_with_links(id: &str, n_links: usize) -> Value {
    let html: String = (0..n_links).map(|i| format!("<a href=\"https://example.com/{i}\">{i}</a>")).collect();
    json!({ "MessageID": id, "Recipient": "john@example.com", "HtmlBody": html })
}
