//! clickhook under test: the release binary as a child process (pinned), set up through its
//! API the way a sender would: a webhook, then tracked messages whose links the loads click.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::tools::{Running, pinned, wait_for_port};

pub const TOKEN: &str = "bench-server-token-000000001";

pub struct Node {
    pub proc: Running,
    pub api: String,
    pub link_port: u16,
    http: reqwest::Client,
}

pub struct NodeConfig<'a> {
    pub binary: &'a Path,
    pub dir: &'a Path,
    pub cpu_list: &'a str,
    /// Extra TOML (e.g. the Redis store).
    pub store: String,
    pub geo: Option<PathBuf>,
    pub retry_schedule: &'a str,
    /// `bots.enabled`.
    pub bots: bool,
}

impl Node {
    pub async fn start(c: NodeConfig<'_>) -> Result<Node> {
        let (link_port, api_port) = (clickhook_testkit::process::free_port(), clickhook_testkit::process::free_port());
        std::fs::create_dir_all(c.dir)?;
        let geo = c.geo.as_ref().map_or_else(|| c.dir.join("no-geo.mmdb"), Clone::clone);
        let config = format!(
            r#"
[tracking]
link_base_url = "http://127.0.0.1:{link_port}"
[listen]
redirect = "127.0.0.1:{link_port}"
api = "127.0.0.1:{api_port}"
[store]
path = "{dir}/store"
{store}
[geoip]
city_database = "{geo}"
[webhooks]
allow_private_targets = true
retry_schedule = {retry}
# One receiver takes every event here: let it have all of the node's delivery slots (the
# default, 8, is for nodes with many receivers; see config/clickhook.toml).
per_webhook_concurrency = 64
breaker_failures = 1000
breaker_cooldown = "10ms"
[bots]
enabled = {bots}
[log]
level = "warn"
[[servers]]
name = "bench"
token = "{TOKEN}"
"#,
            dir = c.dir.display(),
            store = c.store,
            geo = geo.display(),
            retry = c.retry_schedule,
            bots = c.bots,
        );
        let path = c.dir.join("clickhook.toml");
        std::fs::write(&path, config)?;
        let log = std::fs::File::create(c.dir.join("clickhook.log"))?;
        let child = pinned(c.cpu_list, &c.binary.display().to_string())
            .args(["serve", "--config"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting clickhook")?;
        let proc = Running { child };
        wait_for_port(api_port, "clickhook's API")?;
        wait_for_port(link_port, "clickhook's link host")?;
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
        Ok(Node { proc, api: format!("http://127.0.0.1:{api_port}"), link_port, http })
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.api)).header("X-Postmark-Server-Token", TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path}: {status} {v}");
        }
        Ok(v)
    }

    pub async fn add_webhook(&self, url: &str) -> Result<i64> {
        let v = self.call(reqwest::Method::POST, "/webhooks", Some(json!({ "Url": url, "Triggers": { "Click": { "Enabled": true } } }))).await?;
        v["ID"].as_i64().context("webhook id")
    }

    /// Tracks `messages` messages of `links_per` distinct links each (32 requests at a time);
    /// returns the tracked links' paths (`/token`).
    pub async fn track(&self, first: usize, messages: usize, links_per: usize) -> Result<Vec<String>> {
        let results: Vec<Result<Vec<String>>> = futures_util::stream::iter(first..first + messages)
            .map(|m| async move {
                // Sent ten minutes ago, so that clicks now are not "early after send".
                let sent_at = (time::OffsetDateTime::now_utc() - time::Duration::minutes(10))
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                let html: String = (0..links_per).map(|i| format!("<a href=\"https://example.com/{m}/{i}\">{i}</a>")).collect();
                let v = self
                    .call(reqwest::Method::POST, "/tracking/messages", Some(json!({ "MessageID": format!("bench-{m}"), "Recipient": format!("r{m}@example.com"), "HtmlBody": html, "SentAt": sent_at })))
                    .await?;
                Ok(v["Links"]
                    .as_array()
                    .context("links")?
                    .iter()
                    .filter_map(|l| l["TrackedLink"].as_str())
                    .filter_map(|l| l.find("://").and_then(|s| l[s + 3..].find('/').map(|p| l[s + 3 + p..].to_owned())))
                    .collect())
            })
            .buffer_unordered(32)
            .collect()
            .await;
        let mut out = Vec::with_capacity(messages * links_per);
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }

    /// Deliveries of a webhook in a state (`pending`, `delivered`, ...).
    pub async fn deliveries(&self, webhook: i64, status: &str) -> Result<u64> {
        let v = self.call(reqwest::Method::GET, &format!("/webhooks/{webhook}/deliveries?count=1&offset=0&status={status}"), None).await?;
        v["TotalCount"].as_u64().context("TotalCount")
    }

    /// Clicks processed so far (the Messages API's TotalCount).
    pub async fn clicks(&self) -> Result<u64> {
        let v = self.call(reqwest::Method::GET, "/messages/outbound/clicks?count=1&offset=0", None).await?;
        v["TotalCount"].as_u64().context("TotalCount")
    }

    /// Unique clicks so far (the Stats API's total): each one makes one webhook event.
    pub async fn unique_clicks(&self) -> Result<u64> {
        let v = self.call(reqwest::Method::GET, "/stats/outbound/clicks", None).await?;
        v["Unique"].as_u64().context("Unique")
    }
}
