//! The Redis backend: standalone Redis or Redis Cluster, shared by any number of nodes.
//!
//! ## Layout
//!
//! Data is split into [`SHARDS`] shards by a stable hash of the MessageID; every key of a
//! shard carries the hash tag `{<prefix>:s<k>}` (see [`keys`] for the whole table). A message's
//! record, its hits, uniqueness marks, clicks and its events' deliveries all live in its
//! shard, so each multi-key step is one Lua script on one hash slot, which is what Redis
//! Cluster requires and what makes [`Store::settle_hit`] atomic. The webhooks and the meta
//! hash have their own tags. Sixteen tags spread over the masters of a cluster; the shard
//! count is part of the data layout and cannot change without moving data.
//!
//! ## Round trips
//!
//! - `append_hit`: one (a script: dedupe marker + `XADD`).
//! - `settle_hit`: one, on the message's shard (mark, click row, deliveries, `XACK`+`XDEL`).
//!   A `Discard` of a hit this process did not claim (so it does not know its shard) is
//!   tried on every shard at once.
//! - `claim_hits` / `claim_deliveries`: one script per shard; a first round asks every shard
//!   for its fair share concurrently, then shards that had more are asked for the rest, one
//!   by one, starting at a shard that rotates between calls.
//!
//! ## Durability
//!
//! A write is acknowledged once Redis has applied it in memory. Whether it survives a crash
//! of Redis depends on the operator's persistence settings (`appendonly yes` with
//! `appendfsync always` for "durable before the 302"; `everysec` loses up to a second) and on
//! replication: a failover can lose writes a master acknowledged but had not yet sent to its
//! replica. This backend does not issue `WAIT`.
//!
//! ## Leases and clocks
//!
//! Hit leases are kept per stream entry in a zset scored by the lease end on the Redis
//! server's own clock (`TIME` inside the script), so nodes with skewed clocks agree. The
//! consumer group still tracks what was read (`XREADGROUP ... >`, never with `BLOCK`), and an
//! expired lease is taken over with `XCLAIM`. Delivery leases use the caller's `now_ms`, as the
//! trait passes it.
//!
//! ## Waiting
//!
//! `wait_for_hits` / `wait_for_deliveries` wake on this process's own writes (a local
//! [`Notify`]); writes made by other nodes are seen at the next poll, at most
//! [`RedisOptions::poll_interval`] later.
//!
//! ## Where it differs from the embedded store
//!
//! - A settled hit's id is remembered for [`RedisOptions::hit_replay_window`], so a replayed
//!   append after settling is ignored too (the embedded store forgets it at once).
//! - A uniqueness mark is a key with `PXAT expires_at_ms`: it frees itself by the Redis
//!   server's clock, not by comparison with the click's receipt time.
//! - `claim_hits` returns hits in arrival order within a shard; across shards the order is
//!   only approximate. `list_deliveries` orders by creation time (ids are per shard).
//! - `purge_expired` counts the records, clicks and deliveries it deletes; marks and
//!   settled-hit ids go by their own TTLs and are not counted.
//! - redis-rs may send a request again after an I/O error or a redirect. Every script is
//!   safe to run twice (dedupe markers, `XDEL`'s result, leases) except `finish_attempt`,
//!   which then logs and counts the attempt twice.

mod conn;
pub mod keys;
mod scripts;

pub use keys::{SHARDS, shard_of_delivery, shard_of_message};

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClientBuilder;
use ::redis::{ErrorKind, FromRedisValue, RedisError, ServerErrorKind};
use async_trait::async_trait;
use clickhook_core::{Hit, MessageRecord, Webhook, timefmt};
use futures_util::future::join_all;
use tokio::sync::Notify;

use self::conn::Conn;
use self::keys::{GROUP, Keys};
use self::scripts::{Call, Scripts};
use crate::model::*;
use crate::search::{ClickSearch, StatRow, StatsQuery};
use crate::{Result, Store, StoreError};

/// How long a message record stays in Redis after its expiry when `purge_expired` does not
/// run: a hit received in time but processed late still finds it.
const RECORD_GRACE_MS: i64 = 86_400_000;
/// How far a resent or recovered delivery's expiry is pushed out (as the embedded store does).
const REVIVED_TTL_MS: i64 = 86_400_000;
/// Most entries one purge or recover script handles before giving Redis back to others.
const BATCH: usize = 500;
/// Most hits or deliveries one claim script takes on one shard.
const MAX_CLAIM_PER_SHARD: usize = 1000;

#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Start of every key's hash tag; several stores can share one Redis with different
    /// prefixes. No `{` or `}`.
    pub prefix: String,
    pub connect_timeout: Duration,
    /// Per request. redis-rs defaults to 500 ms, too little for a loaded server; nothing here
    /// blocks on the server side, so this bounds real work only.
    pub response_timeout: Duration,
    /// How often `wait_for_*` looks again when this process wrote nothing.
    pub poll_interval: Duration,
    /// How long a settled hit's id is remembered, so that a replayed append of it is ignored.
    pub hit_replay_window: Duration,
    /// PEM of the CA certificate(s) that a `rediss://` server's certificate must chain to,
    /// instead of the system's roots (a private CA). Ignored for plain `redis://` URLs.
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "ch".into(),
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(250),
            hit_replay_window: Duration::from_secs(24 * 3600),
            ca_pem: None,
        }
    }
}

pub struct RedisStore {
    conn: Conn,
    keys: Keys,
    opts: RedisOptions,
    scripts: Scripts,
    /// Shard of each hit this process claimed, so a `Discard` goes to one shard. Entries are
    /// removed when settled; ones left behind (another node settled the hit after our lease
    /// ran out) are pruned by age.
    hit_shards: Mutex<HashMap<uuid::Uuid, (u32, Instant)>>,
    rotation: AtomicU32,
    hits_ready: Notify,
    deliveries_ready: Notify,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.conn {
            Conn::Standalone(_) => "standalone",
            Conn::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStore").field("mode", &mode).field("prefix", &self.keys.prefix()).finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn redis_err(e: RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

fn now_ms() -> i64 {
    timefmt::unix_ms(time::OffsetDateTime::now_utc())
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// rediss:// needs a rustls crypto provider; install ring's unless one is installed.
fn ensure_tls_provider(url: &str) {
    if is_tls(url) && rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The CA to trust for `rediss://` connections, when one is given (else the system's roots).
fn tls_certificates(opts: &RedisOptions) -> Option<::redis::TlsCertificates> {
    opts.ca_pem.as_ref().map(|pem| ::redis::TlsCertificates { client_tls: None, root_cert: Some(pem.clone()) })
}

fn is_tls(url: &str) -> bool {
    url.starts_with("rediss:")
}

/// Builds a script invocation: `script!(self.name, [keys...], [args...])`.
macro_rules! script {
    ($self:ident . $name:ident, [$($k:expr),* $(,)?], [$($a:expr),* $(,)?]) => {{
        let mut inv = $self.scripts.$name.call();
        $( inv.key($k); )*
        $( inv.arg($a); )*
        inv
    }};
}

fn parse_i64(s: &str) -> i64 {
    s.parse().unwrap_or_default()
}

fn parse_uuid(s: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(s).unwrap_or_default()
}

impl RedisStore {
    /// Connects to a standalone Redis (`redis://` or `rediss://` URL) with default options.
    pub async fn connect_standalone(url: &str) -> Result<Self> {
        Self::connect_standalone_with(url, RedisOptions::default()).await
    }

    pub async fn connect_standalone_with(url: &str, opts: RedisOptions) -> Result<Self> {
        let keys = Keys::new(&opts.prefix).ok_or_else(|| unavailable(format!("bad redis key prefix {:?}", opts.prefix)))?;
        ensure_tls_provider(url);
        let client = match tls_certificates(&opts) {
            Some(certs) if is_tls(url) => ::redis::Client::build_with_tls(url, certs),
            _ => ::redis::Client::open(url),
        }
        .map_err(redis_err)?;
        // Requests made while the manager reconnects wait for it. Its default (6 retries with
        // exponential backoff) makes every request wait ~10 s when Redis is down; with 2,
        // they fail within a few hundred ms (plus the connect timeouts), and the next request
        // starts a new reconnect.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(opts.connect_timeout))
            .set_response_timeout(Some(opts.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_with_config(client, config).await.map_err(redis_err)?;
        Ok(Self::new(Conn::Standalone(manager), keys, opts))
    }

    /// Connects to a Redis Cluster given some of its nodes' URLs, with default options.
    pub async fn connect_cluster(urls: &[String]) -> Result<Self> {
        Self::connect_cluster_with(urls, RedisOptions::default()).await
    }

    pub async fn connect_cluster_with(urls: &[String], opts: RedisOptions) -> Result<Self> {
        let keys = Keys::new(&opts.prefix).ok_or_else(|| unavailable(format!("bad redis key prefix {:?}", opts.prefix)))?;
        if urls.is_empty() {
            return Err(unavailable("no redis cluster nodes given"));
        }
        urls.iter().for_each(|u| ensure_tls_provider(u));
        let mut builder = ClusterClientBuilder::new(urls.iter().map(String::as_str))
            .connection_timeout(opts.connect_timeout)
            .response_timeout(opts.response_timeout);
        if let Some(certs) = tls_certificates(&opts).filter(|_| urls.iter().any(|u| is_tls(u))) {
            builder = builder.certs(certs);
        }
        let client = builder.build().map_err(redis_err)?;
        let conn = client.get_async_connection().await.map_err(redis_err)?;
        Ok(Self::new(Conn::Cluster(conn), keys, opts))
    }

    fn new(conn: Conn, keys: Keys, opts: RedisOptions) -> Self {
        RedisStore {
            conn,
            keys,
            opts,
            scripts: Scripts::new(),
            hit_shards: Mutex::new(HashMap::new()),
            rotation: AtomicU32::new(0),
            hits_ready: Notify::new(),
            deliveries_ready: Notify::new(),
        }
    }

    /// The same connection with another key prefix (tests give each case its own).
    pub fn with_prefix(mut self, prefix: &str) -> Result<Self> {
        self.keys = Keys::new(prefix).ok_or_else(|| unavailable(format!("bad redis key prefix {prefix:?}")))?;
        self.opts.prefix = prefix.to_owned();
        Ok(self)
    }

    pub fn options(&self) -> &RedisOptions {
        &self.opts
    }

    async fn run<T: FromRedisValue>(&self, call: Call<'_>) -> Result<T> {
        let mut conn = self.conn.clone();
        match call.cmd(false).query_async(&mut conn).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                call.cmd(true).query_async(&mut conn).await.map_err(redis_err)
            }
            other => other.map_err(redis_err),
        }
    }

    async fn cmd<T: FromRedisValue>(&self, cmd: &::redis::Cmd) -> Result<T> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn).await.map_err(redis_err)
    }

    /// Takes up to `max` items from the shards with `take(shard, n)`: first every shard's fair
    /// share at once, then the rest from shards that had their share full, one at a time,
    /// starting at a shard that rotates between calls. A shard that fails is skipped when
    /// others delivered (what it may have leased comes back when the lease ends).
    async fn spread<T, F, Fut>(&self, max: usize, take: F) -> Result<Vec<T>>
    where
        F: Fn(u32, usize) -> Fut,
        Fut: Future<Output = Result<Vec<T>>>,
    {
        if max == 0 {
            return Ok(Vec::new());
        }
        let start = self.rotation.fetch_add(1, Ordering::Relaxed) % SHARDS;
        let order: Vec<u32> = (0..SHARDS).map(|i| (start + i) % SHARDS).collect();
        let (base, extra) = (max / SHARDS as usize, max % SHARDS as usize);
        let shares: Vec<usize> = (0..order.len()).map(|i| (base + usize::from(i < extra)).min(MAX_CLAIM_PER_SHARD)).collect();
        let first = join_all(order.iter().zip(&shares).filter(|(_, n)| **n > 0).map(|(k, n)| take(*k, *n))).await;
        let mut out = Vec::new();
        let mut error = None;
        let mut more = Vec::new();
        let mut results = first.into_iter();
        for (k, n) in order.iter().zip(&shares) {
            if *n == 0 {
                more.push(*k);
                continue;
            }
            match results.next() {
                Some(Ok(v)) => {
                    if v.len() >= *n {
                        more.push(*k);
                    }
                    out.extend(v);
                }
                Some(Err(e)) => error = Some(e),
                None => {}
            }
        }
        for k in more {
            if out.len() >= max {
                break;
            }
            match take(k, (max - out.len()).min(MAX_CLAIM_PER_SHARD)).await {
                Ok(v) => out.extend(v),
                Err(e) => error = Some(e),
            }
        }
        match error {
            Some(e) if out.is_empty() => Err(e),
            Some(e) => {
                tracing::warn!(error = %e, "redis store: a shard failed during a claim; returning the others' work");
                Ok(out)
            }
            None => Ok(out),
        }
    }

    async fn claim_hits_in(&self, k: u32, n: usize, lease_ms: i64) -> Result<Vec<(u32, Hit)>> {
        let flat: Vec<String> = self.run(script!(self.claim_hits, [self.keys.hits(k), self.keys.hit_lease(k)], [n, lease_ms, GROUP])).await?;
        let mut hits = Vec::with_capacity(flat.len() / 2);
        for pair in flat.chunks_exact(2) {
            match serde_json::from_str::<Hit>(&pair[1]) {
                Ok(h) => hits.push((k, h)),
                Err(e) => tracing::error!(error = %e, entry = %pair[0], shard = k, "redis store: unreadable hit in the stream; left leased"),
            }
        }
        Ok(hits)
    }

    /// Runs the settle script on shard `k`. `None`: the hit is not in that shard.
    async fn settle_in(&self, k: u32, hit_id: uuid::Uuid, decision: &HitDecision) -> Result<Option<Settled>> {
        let mut inv = script!(
            self.settle_hit,
            [self.keys.hits(k), self.keys.hit_lease(k), self.keys.hit(k, hit_id)],
            [self.keys.shard(k), k, ms(self.opts.hit_replay_window).max(1)]
        );
        match decision {
            HitDecision::Discard => {
                inv.arg("discard");
            }
            HitDecision::Click(o) => {
                let row = ClickRow { event_id: o.event_id, ..o.click.clone() };
                let row = serde_json::to_string(&row).map_err(unavailable)?;
                inv.arg("click")
                    .arg(&o.mark_key)
                    .arg(o.expires_at_ms)
                    .arg(&o.click.message_id)
                    .arg(o.event_id.to_string())
                    .arg(row)
                    .arg(&o.payload)
                    .arg(now_ms())
                    .arg(o.click.received_at_ms)
                    .arg(&o.click.server)
                    .arg(crate::search::facets(&o.click.event).join("\x1f"))
                    // An empty day tells the script to count nothing.
                    .arg(o.stats.as_ref().map_or("", |s| s.day.as_str()))
                    .arg(o.stats.as_ref().and_then(|s| crate::search::day_number(&s.day)).unwrap_or_default())
                    .arg(o.stats.as_ref().map_or("", |s| s.stream.as_str()))
                    .arg(o.stats.as_ref().map_or("", |s| s.tag.as_str()))
                    .arg(o.stats.as_ref().map_or_else(String::new, |s| s.metrics.join("\x1f")))
                    .arg(crate::search::MAX_STAT_TAGS_PER_DAY)
                    .arg(crate::search::OVERFLOW_TAG);
                for w in &o.webhook_ids {
                    inv.arg(*w);
                }
            }
        }
        let (outcome, made): (String, i64) = self.run(inv).await?;
        Ok(match outcome.as_str() {
            "nohit" => None,
            "already" => Some(Settled::AlreadySettled),
            "discarded" => Some(Settled::Discarded),
            "repeat" => Some(Settled::Repeat),
            "unique" => Some(Settled::Unique { deliveries: usize::try_from(made).unwrap_or_default() }),
            other => return Err(unavailable(format!("redis store: unexpected settle outcome {other:?}"))),
        })
    }

    async fn claim_deliveries_in(&self, k: u32, now_ms: i64, n: usize, until: i64) -> Result<Vec<DeliveryJob>> {
        let flat: Vec<String> = self.run(script!(self.claim_deliveries, [self.keys.due(k)], [self.keys.shard(k), now_ms, n, until])).await?;
        Ok(flat
            .chunks_exact(6)
            .map(|f| DeliveryJob {
                id: parse_i64(&f[0]),
                event_id: parse_uuid(&f[1]),
                webhook_id: parse_i64(&f[2]),
                payload: f[3].clone(),
                attempts: u32::try_from(parse_i64(&f[4])).unwrap_or_default(),
                created_at_ms: parse_i64(&f[5]),
            })
            .collect())
    }

    async fn list_deliveries_in(&self, k: u32, webhook_id: i64, state: &str, limit: usize) -> Result<(u64, Vec<DeliveryInfo>)> {
        let flat: Vec<String> =
            self.run(script!(self.list_deliveries, [self.keys.webhook_deliveries(k, webhook_id)], [self.keys.shard(k), state, limit])).await?;
        let total = flat.first().map(|t| parse_i64(t)).unwrap_or_default();
        let infos = flat.get(1..).unwrap_or_default().chunks_exact(7).map(delivery_info).collect();
        Ok((u64::try_from(total).unwrap_or_default(), infos))
    }

    fn remember_hit_shards(&self, hits: &[(u32, Hit)]) {
        let mut map = self.hit_shards.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() > 65_536 {
            map.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(3600));
        }
        for (k, h) in hits {
            map.insert(h.id, (*k, now));
        }
    }
}

/// id, event id, webhook id, state, attempts, next_at_ms, created_at_ms
fn delivery_info(f: &[String]) -> DeliveryInfo {
    DeliveryInfo {
        id: parse_i64(&f[0]),
        event_id: parse_uuid(&f[1]),
        webhook_id: parse_i64(&f[2]),
        state: DeliveryState::parse(&f[3]),
        attempts: u32::try_from(parse_i64(&f[4])).unwrap_or_default(),
        next_at_ms: parse_i64(&f[5]),
        created_at_ms: parse_i64(&f[6]),
    }
}

fn webhook_from(id: i64, server: &str, body: &str) -> Result<Webhook> {
    let mut w: Webhook = serde_json::from_str(body).map_err(unavailable)?;
    w.id = id;
    w.server = server.to_owned();
    Ok(w)
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<()> {
        let _: ::redis::Value = self.cmd(&::redis::cmd("PING")).await?;
        Ok(())
    }

    async fn get_or_init_meta(&self, key: &str, init: &str) -> Result<(String, bool)> {
        let (value, created): (String, i64) = self.run(script!(self.meta, [self.keys.meta()], [key, init])).await?;
        Ok((value, created == 1))
    }

    async fn put_message(&self, message: &MessageRecord, expires_at_ms: i64) -> Result<()> {
        let k = shard_of_message(&message.message_id);
        let body = serde_json::to_string(message).map_err(unavailable)?;
        let stored: i64 = self
            .run(script!(
                self.put_message,
                [self.keys.msg(k, &message.message_id), self.keys.msg_exp(k)],
                [&message.message_id, &message.server, body, expires_at_ms, expires_at_ms.saturating_add(RECORD_GRACE_MS)]
            ))
            .await?;
        if stored == 0 {
            return Err(StoreError::Conflict(format!("MessageID {} is already tracked by another server", message.message_id)));
        }
        Ok(())
    }

    async fn get_message(&self, message_id: &str) -> Result<Option<MessageRecord>> {
        let k = shard_of_message(message_id);
        let body: Option<String> = self.cmd(::redis::cmd("HGET").arg(self.keys.msg(k, message_id)).arg("body")).await?;
        body.map(|b| serde_json::from_str(&b).map_err(unavailable)).transpose()
    }

    async fn append_hit(&self, hit: &Hit) -> Result<()> {
        // One round trip. `XADD` answers once the entry is applied in Redis's memory; whether
        // it survives a crash of Redis is the operator's persistence (appendonly, appendfsync)
        // and replication setting, see the module docs.
        let k = shard_of_message(&hit.message_id);
        let body = serde_json::to_string(hit).map_err(unavailable)?;
        let _added: i64 = self.run(script!(self.append_hit, [self.keys.hits(k), self.keys.hit(k, hit.id)], [hit.id.to_string(), body])).await?;
        self.hits_ready.notify_one();
        Ok(())
    }

    async fn claim_hits(&self, max: usize, lease: Duration) -> Result<Vec<Hit>> {
        let lease_ms = ms(lease).max(1);
        let found = self.spread(max, |k, n| self.claim_hits_in(k, n, lease_ms)).await?;
        self.remember_hit_shards(&found);
        let mut hits: Vec<Hit> = found.into_iter().map(|(_, h)| h).collect();
        hits.sort_by_key(|h| h.id);
        // A shard asked twice in one claim hands out again what it leased the first time
        // if that lease has already run out (a lease of a few ms).
        hits.dedup_by_key(|h| h.id);
        Ok(hits)
    }

    async fn settle_hit(&self, hit_id: uuid::Uuid, decision: HitDecision) -> Result<Settled> {
        let hint = self.hit_shards.lock().unwrap_or_else(|p| p.into_inner()).get(&hit_id).map(|(k, _)| *k);
        let settled = match &decision {
            HitDecision::Click(o) => {
                // The click's keys are in its message's shard, and so is the hit (same message).
                let k = shard_of_message(&o.click.message_id);
                match self.settle_in(k, hit_id, &decision).await? {
                    Some(s) => s,
                    None if hint.is_some_and(|h| h != k) => {
                        return Err(unavailable(format!(
                            "hit {hit_id} is in shard {} but its click's message {} in shard {k}",
                            hint.unwrap_or_default(),
                            o.click.message_id
                        )));
                    }
                    None => Settled::AlreadySettled,
                }
            }
            HitDecision::Discard => {
                let mut found = None;
                if let Some(k) = hint {
                    found = self.settle_in(k, hit_id, &decision).await?;
                }
                if found.is_none() {
                    // Not claimed here: only the shard holding the hit's marker acts.
                    let tries = join_all((0..SHARDS).filter(|k| Some(*k) != hint).map(|k| self.settle_in(k, hit_id, &decision))).await;
                    for t in tries {
                        if let Some(s) = t? {
                            found = Some(s);
                        }
                    }
                }
                found.unwrap_or(Settled::AlreadySettled)
            }
        };
        self.hit_shards.lock().unwrap_or_else(|p| p.into_inner()).remove(&hit_id);
        if matches!(settled, Settled::Unique { deliveries } if deliveries > 0) {
            self.deliveries_ready.notify_one();
        }
        Ok(settled)
    }

    async fn wait_for_hits(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout.min(self.opts.poll_interval), self.hits_ready.notified()).await;
    }

    async fn create_webhook(&self, webhook: Webhook) -> Result<Webhook> {
        let body = serde_json::to_string(&webhook).map_err(unavailable)?;
        let id: i64 = self
            .run(script!(
                self.wh_create,
                [self.keys.wh_seq(), self.keys.wh_server(), self.keys.wh_of_server(&webhook.server)],
                [&webhook.server, body]
            ))
            .await?;
        Ok(Webhook { id, ..webhook })
    }

    async fn list_webhooks(&self, server: &str, stream: Option<&str>) -> Result<Vec<Webhook>> {
        let all: BTreeMap<i64, String> = self.cmd(::redis::cmd("HGETALL").arg(self.keys.wh_of_server(server))).await?;
        let mut out = Vec::with_capacity(all.len());
        for (id, body) in all {
            let w = webhook_from(id, server, &body)?;
            if stream.is_none_or(|s| s == w.message_stream) {
                out.push(w);
            }
        }
        Ok(out)
    }

    async fn get_webhook(&self, id: i64) -> Result<Option<Webhook>> {
        let found: Vec<String> = self.run(script!(self.wh_get, [self.keys.wh_server()], [self.keys.wh(), id])).await?;
        match found.as_slice() {
            [server, body] => Ok(Some(webhook_from(id, server, body)?)),
            _ => Ok(None),
        }
    }

    async fn update_webhook(&self, webhook: &Webhook) -> Result<bool> {
        let body = serde_json::to_string(webhook).map_err(unavailable)?;
        let changed: i64 = self
            .run(script!(
                self.wh_change,
                [self.keys.wh_server(), self.keys.wh_of_server(&webhook.server)],
                [webhook.id, &webhook.server, "update", body]
            ))
            .await?;
        Ok(changed == 1)
    }

    async fn delete_webhook(&self, server: &str, id: i64) -> Result<bool> {
        let changed: i64 = self
            .run(script!(self.wh_change, [self.keys.wh_server(), self.keys.wh_of_server(server)], [id, server, "delete", ""]))
            .await?;
        Ok(changed == 1)
    }

    async fn claim_deliveries(&self, now_ms: i64, max: usize, lease: Duration) -> Result<Vec<DeliveryJob>> {
        let until = now_ms.saturating_add(ms(lease));
        let mut jobs = self.spread(max, |k, n| self.claim_deliveries_in(k, now_ms, n, until)).await?;
        // With a zero lease, a shard asked twice in one claim hands out the same jobs again.
        let mut seen = std::collections::HashSet::new();
        jobs.retain(|j| seen.insert(j.id));
        Ok(jobs)
    }

    async fn finish_attempt(&self, delivery_id: i64, attempt: &AttemptRecord, next: NextStep) -> Result<()> {
        let Some(k) = shard_of_delivery(delivery_id) else { return Ok(()) };
        let body = serde_json::to_string(attempt).map_err(unavailable)?;
        let (state, next_at) = next.state();
        let state = state.as_str();
        let keys = &self.keys;
        let _found: i64 = self
            .run(script!(
                self.finish_attempt,
                [keys.delivery(k, delivery_id), keys.attempts(k, delivery_id), keys.due(k), keys.pend(k), keys.dead(k), keys.dexp(k)],
                [delivery_id, state, next_at, body]
            ))
            .await?;
        if matches!(next, NextStep::RetryAt(_)) {
            self.deliveries_ready.notify_one();
        }
        Ok(())
    }

    async fn wait_for_deliveries(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout.min(self.opts.poll_interval), self.deliveries_ready.notified()).await;
    }

    async fn defer_delivery(&self, delivery_id: i64, until_ms: i64) -> Result<()> {
        let Some(k) = shard_of_delivery(delivery_id) else { return Ok(()) };
        let _: i64 = self.run(script!(self.defer, [self.keys.delivery(k, delivery_id), self.keys.due(k)], [delivery_id, until_ms])).await?;
        self.deliveries_ready.notify_one();
        Ok(())
    }

    async fn get_delivery(&self, delivery_id: i64) -> Result<Option<DeliveryInfo>> {
        let Some(k) = shard_of_delivery(delivery_id) else { return Ok(None) };
        let f: Vec<Option<String>> = self
            .cmd(
                ::redis::cmd("HMGET")
                    .arg(self.keys.delivery(k, delivery_id))
                    .arg(&["event_id", "webhook_id", "state", "attempts", "next_at_ms", "created_at_ms"]),
            )
            .await?;
        if f.first().is_none_or(Option::is_none) {
            return Ok(None);
        }
        let mut fields = vec![delivery_id.to_string()];
        fields.extend(f.into_iter().map(Option::unwrap_or_default));
        Ok(Some(delivery_info(&fields)))
    }

    async fn list_attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRecord>> {
        let Some(k) = shard_of_delivery(delivery_id) else { return Ok(Vec::new()) };
        let bodies: Vec<String> = self.cmd(::redis::cmd("LRANGE").arg(self.keys.attempts(k, delivery_id)).arg(0).arg(-1)).await?;
        bodies.iter().map(|b| serde_json::from_str(b).map_err(unavailable)).collect()
    }

    async fn list_deliveries(&self, webhook_id: i64, state: Option<DeliveryState>, count: usize, offset: usize) -> Result<(u64, Vec<DeliveryInfo>)> {
        let state = state.map(DeliveryState::as_str).unwrap_or("");
        let limit = offset.saturating_add(count);
        let shards = join_all((0..SHARDS).map(|k| self.list_deliveries_in(k, webhook_id, state, limit))).await;
        let mut total = 0;
        let mut all = Vec::new();
        for s in shards {
            let (t, infos) = s?;
            total += t;
            all.extend(infos);
        }
        // Newest first. Ids are per shard, so the order across shards is by creation time.
        all.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then(b.id.cmp(&a.id)));
        Ok((total, all.into_iter().skip(offset).take(count).collect()))
    }

    async fn resend_delivery(&self, webhook_id: i64, delivery_id: i64, now_ms: i64) -> Result<bool> {
        let Some(k) = shard_of_delivery(delivery_id) else { return Ok(false) };
        let keys = &self.keys;
        let queued: i64 = self
            .run(script!(
                self.resend,
                [keys.delivery(k, delivery_id), keys.due(k), keys.pend(k), keys.dead(k), keys.dexp(k)],
                [delivery_id, webhook_id, now_ms, now_ms.saturating_add(REVIVED_TTL_MS)]
            ))
            .await?;
        self.deliveries_ready.notify_one();
        Ok(queued == 1)
    }

    async fn recover_deliveries(&self, webhook_id: i64, from_ms: i64, to_ms: i64, now_ms: i64) -> Result<u64> {
        let keys = &self.keys;
        let mut total: u64 = 0;
        for k in 0..SHARDS {
            let mut cursor = "0".to_owned();
            loop {
                let (n, last): (i64, String) = self
                    .run(script!(
                        self.recover,
                        [keys.webhook_deliveries(k, webhook_id), keys.due(k), keys.pend(k), keys.dead(k), keys.dexp(k)],
                        [keys.shard(k), from_ms, to_ms, now_ms, now_ms.saturating_add(REVIVED_TTL_MS), &cursor, BATCH]
                    ))
                    .await?;
                total += u64::try_from(n).unwrap_or_default();
                if last.is_empty() {
                    break;
                }
                cursor = last;
            }
        }
        self.deliveries_ready.notify_one();
        Ok(total)
    }

    async fn search_clicks(&self, q: &ClickSearch) -> Result<(u64, Vec<ClickRow>)> {
        let shards: Vec<u32> = match &q.message_id {
            Some(m) => vec![shard_of_message(m)],
            None => (0..SHARDS).collect(),
        };
        let window = q.offset + q.count;
        let keys = &self.keys;
        // Round 1: every shard intersects its indexes and returns its newest `window` ids.
        let parts = join_all(shards.iter().map(|&k| async move {
            let mut inv = self.scripts.search_clicks.call();
            // The fewest, narrowest sets that answer the search: the field keys are already
            // per server, so the server's all-clicks set is only needed without any filter.
            // A message's set is checked against its server with the server's set (a message
            // id belongs to one server, which the API also checks).
            match &q.message_id {
                Some(m) => {
                    inv.key(keys.message_clicks(k, m));
                    if q.filters.is_empty() {
                        inv.key(keys.server_clicks(k, &q.server));
                    }
                }
                None if q.filters.is_empty() => {
                    inv.key(keys.server_clicks(k, &q.server));
                }
                None => {}
            }
            for (f, v) in &q.filters {
                inv.key(keys.field_clicks(k, &q.server, *f, v));
            }
            inv.key(keys.search_tmp(k));
            inv.arg(window);
            let (total, flat): (u64, Vec<String>) = self.run(inv).await?;
            Ok::<_, StoreError>((k, total, flat))
        }))
        .await;
        let mut total = 0u64;
        let mut found: Vec<(i64, u32, i64)> = Vec::new();
        for part in parts {
            let (k, n, flat) = part?;
            total += n;
            found.extend(flat.chunks_exact(2).map(|p| (p[1].parse::<f64>().unwrap_or_default() as i64, k, parse_i64(&p[0]))));
        }
        found.sort_unstable_by(|a, b| b.cmp(a));
        let page: Vec<(i64, u32, i64)> = found.into_iter().skip(q.offset).take(q.count).collect();
        // Round 2: the page's bodies, one HMGET per shard that has some.
        let mut by_shard: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
        for (_, k, id) in &page {
            by_shard.entry(*k).or_default().push(*id);
        }
        let bodies = join_all(by_shard.into_iter().map(|(k, ids)| async move {
            let mut cmd = ::redis::cmd("HMGET");
            cmd.arg(keys.click_bodies(k));
            for id in &ids {
                cmd.arg(*id);
            }
            let got: Vec<Option<String>> = self.cmd(&cmd).await?;
            Ok::<_, StoreError>(ids.into_iter().zip(got).map(move |(id, b)| ((k, id), b)).collect::<Vec<_>>())
        }))
        .await;
        let mut map: HashMap<(u32, i64), String> = HashMap::new();
        for b in bodies {
            for (key, body) in b? {
                if let Some(body) = body {
                    map.insert(key, body);
                }
            }
        }
        let mut out = Vec::with_capacity(page.len());
        for (_, k, id) in page {
            // A click purged between the two rounds is left out.
            let Some(body) = map.remove(&(k, id)) else { continue };
            let Some((unique, json)) = body.split_once('|') else { continue };
            let mut click: ClickRow = serde_json::from_str(json).map_err(unavailable)?;
            click.unique = unique == "1";
            out.push(click);
        }
        Ok((total, out))
    }

    async fn click_stats(&self, q: &StatsQuery) -> Result<Vec<StatRow>> {
        let from = q.from_day.as_deref().and_then(crate::search::day_number).map_or("-inf".to_owned(), |d| d.to_string());
        let to = q.to_day.as_deref().and_then(crate::search::day_number).map_or("+inf".to_owned(), |d| d.to_string());
        let keys = &self.keys;
        let parts = join_all((0..SHARDS).map(|k| {
            let (from, to) = (from.clone(), to.clone());
            let start = keys.stat_start(k, &q.server);
            async move {
                let flat: Vec<String> = self.run(script!(self.read_stats, [keys.stat_days(k, &q.server)], [start, from, to])).await?;
                Ok::<_, StoreError>(flat)
            }
        }))
        .await;
        let mut rows = Vec::new();
        for part in parts {
            for t in part?.chunks_exact(3) {
                let mut f = t[1].splitn(3, '\x1f');
                let (Some(stream), Some(tag), Some(metric)) = (f.next(), f.next(), f.next()) else { continue };
                if q.stream.as_deref().is_some_and(|s| s != stream) || q.tag.as_deref().is_some_and(|x| x != tag) {
                    continue;
                }
                rows.push(StatRow { day: t[0].clone(), metric: metric.to_owned(), count: t[2].parse().unwrap_or_default() });
            }
        }
        Ok(crate::search::sum_stat_rows(rows))
    }

    async fn purge_expired(&self, now_ms: i64) -> Result<u64> {
        let keys = &self.keys;
        let mut total: u64 = 0;
        for k in 0..SHARDS {
            loop {
                let (n, more): (i64, i64) =
                    self.run(script!(self.purge, [keys.msg_exp(k), keys.dexp(k), keys.dead(k)], [keys.shard(k), now_ms, BATCH])).await?;
                total += u64::try_from(n).unwrap_or_default();
                if more == 0 {
                    break;
                }
            }
            loop {
                let (n, more): (i64, i64) = self.run(script!(self.purge_clicks, [keys.click_expiry(k)], [keys.shard(k), now_ms, BATCH])).await?;
                total += u64::try_from(n).unwrap_or_default();
                if more == 0 {
                    break;
                }
            }
        }
        Ok(total)
    }

    async fn stats(&self) -> Result<StoreStats> {
        let keys = &self.keys;
        let shards = join_all((0..SHARDS).map(|k| async move {
            let r: (i64, i64, i64, i64) = self.run(script!(self.stats, [keys.hits(k), keys.pend(k), keys.dead(k)], [])).await?;
            Ok::<_, StoreError>(r)
        }))
        .await;
        let mut stats = StoreStats::default();
        for s in shards {
            let (hits, pending, dead, oldest) = s?;
            stats.pending_hits += u64::try_from(hits).unwrap_or_default();
            stats.pending_deliveries += u64::try_from(pending).unwrap_or_default();
            stats.dead_deliveries += u64::try_from(dead).unwrap_or_default();
            if oldest >= 0 {
                stats.oldest_pending_delivery_ms = Some(stats.oldest_pending_delivery_ms.map_or(oldest, |o| o.min(oldest)));
            }
        }
        Ok(stats)
    }
}
