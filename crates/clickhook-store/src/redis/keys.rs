//! The key layout. Every key starts with a hash tag, so Redis Cluster places by tag only:
//!
//! | key | type | what |
//! |---|---|---|
//! | `{P:meta}` | hash | [`crate::Store::get_or_init_meta`] |
//! | `{P:wh}:seq` | counter | webhook ids |
//! | `{P:wh}:server` | hash | webhook id → owning server |
//! | `{P:wh}:s:<server>` | hash | webhook id → webhook JSON, per server |
//! | `{P:sK}:msg:<message id>` | hash `server`, `body` | message record; PEXPIREAT expiry + 1 day |
//! | `{P:sK}:msg-exp` | zset | message id → expires_at_ms, for `purge_expired` |
//! | `{P:sK}:hits` | stream, group `clickhook` | hits: fields `id` (uuid), `hit` (JSON) |
//! | `{P:sK}:hit-lease` | zset | stream entry id → lease end (server clock, ms) |
//! | `{P:sK}:hit:<hit uuid>` | string | stream entry id; no TTL while pending, then the replay window |
//! | `{P:sK}:mark:<mark key>` | string | uniqueness mark; PXAT expires_at_ms |
//! | `{P:sK}:cseq` | counter | click ids (per shard) |
//! | `{P:sK}:cb` | hash | click id → `<unique 0/1>\|<ClickRow JSON>` |
//! | `{P:sK}:cf` | hash | click id → server, message id and the 13 facet values, `\x1f`-separated (for the purge) |
//! | `{P:sK}:cx` | zset | click id → expires_at_ms, for `purge_expired` |
//! | `{P:sK}:cm:<message id>` | zset | click id → received_at_ms, a message's clicks |
//! | `{P:sK}:ci:<n>:<server>` | zset | click id → received_at_ms, all clicks of a server (`n` = its byte length) |
//! | `{P:sK}:ci:<n>:<server>:<field>:<value>` | zset | the same, of clicks with that normalised field value |
//! | `{P:sK}:st:<n>:<server>:days` | zset | day `YYYY-MM-DD` → `YYYYMMDD`, days with counters |
//! | `{P:sK}:st:<n>:<server>:<day>` | hash | `<stream>\x1f<tag>\x1f<metric>` → count, a day's click counters (kept) |
//! | `{P:sK}:st:<n>:<server>:tags:<day>` | hash | tags counted apart that day (at most `MAX_STAT_TAGS_PER_DAY`) |
//! | `{P:sK}:ev:<event id>` | hash | webhook id → delivery id (one delivery per event and webhook) |
//! | `{P:sK}:dseq` | counter | delivery sequence; delivery id = seq × 16 + K |
//! | `{P:sK}:d:<delivery id>` | hash | the delivery |
//! | `{P:sK}:att:<delivery id>` | list | attempt JSON, oldest first |
//! | `{P:sK}:due` | zset | pending delivery id → next attempt or lease end (ms) |
//! | `{P:sK}:pend` | zset | pending delivery id → created_at_ms (count, oldest) |
//! | `{P:sK}:dead` | set | dead delivery ids |
//! | `{P:sK}:dexp` | zset | finished delivery id → expires_at_ms, for `purge_expired` |
//! | `{P:sK}:whd:<webhook id>` | zset | delivery id → delivery id, a webhook's deliveries |
//!
//! `P` is the prefix (default `ch`), `K` the shard 0..16 of the message id. Everything about
//! one message (record, hits, marks, clicks, its events' deliveries) lives in one shard, so
//! every script runs on one hash slot. The shard of a delivery is `id % 16`.

/// Number of shards. Part of the data layout: changing it strands existing data.
pub const SHARDS: u32 = 16;

/// The consumer group (and consumer) name on the hit streams. Leases are kept in the
/// `hit-lease` zset, not in the group's idle times, so one consumer name serves every node.
pub const GROUP: &str = "clickhook";

/// FNV-1a (32 bit): stable across versions and platforms, unlike `std`'s hasher.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

pub fn shard_of_message(message_id: &str) -> u32 {
    fnv1a(message_id.as_bytes()) % SHARDS
}

/// The shard a delivery id was made in, or `None` for an id this backend never makes.
pub fn shard_of_delivery(id: i64) -> Option<u32> {
    (id > 0).then(|| (id % i64::from(SHARDS)) as u32)
}

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// `prefix` must not contain `{` or `}` (it goes inside the hash tags).
    pub fn new(prefix: &str) -> Option<Keys> {
        (!prefix.is_empty() && !prefix.contains(['{', '}'])).then(|| Keys { prefix: prefix.to_owned() })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn meta(&self) -> String {
        format!("{{{}:meta}}", self.prefix)
    }

    /// Start of every webhook key: `{P:wh}:`.
    pub fn wh(&self) -> String {
        format!("{{{}:wh}}:", self.prefix)
    }

    pub fn wh_seq(&self) -> String {
        format!("{}seq", self.wh())
    }

    pub fn wh_server(&self) -> String {
        format!("{}server", self.wh())
    }

    pub fn wh_of_server(&self, server: &str) -> String {
        format!("{}s:{server}", self.wh())
    }

    /// Start of every key of shard `k`: `{P:sK}:`.
    pub fn shard(&self, k: u32) -> String {
        format!("{{{}:s{k}}}:", self.prefix)
    }

    pub fn msg(&self, k: u32, message_id: &str) -> String {
        format!("{}msg:{message_id}", self.shard(k))
    }

    pub fn msg_exp(&self, k: u32) -> String {
        format!("{}msg-exp", self.shard(k))
    }

    pub fn hits(&self, k: u32) -> String {
        format!("{}hits", self.shard(k))
    }

    pub fn hit_lease(&self, k: u32) -> String {
        format!("{}hit-lease", self.shard(k))
    }

    pub fn hit(&self, k: u32, hit_id: uuid::Uuid) -> String {
        format!("{}hit:{hit_id}", self.shard(k))
    }

    pub fn click_bodies(&self, k: u32) -> String {
        format!("{}cb", self.shard(k))
    }

    pub fn click_expiry(&self, k: u32) -> String {
        format!("{}cx", self.shard(k))
    }

    pub fn message_clicks(&self, k: u32, message_id: &str) -> String {
        format!("{}cm:{message_id}", self.shard(k))
    }

    /// All clicks of a server in shard `k`. The server's length goes first, so that no
    /// server name can spell another's field key.
    pub fn server_clicks(&self, k: u32, server: &str) -> String {
        format!("{}ci:{}:{server}", self.shard(k), server.len())
    }

    /// Clicks of a server in shard `k` whose `field` has the normalised `value`.
    pub fn field_clicks(&self, k: u32, server: &str, field: crate::ClickField, value: &str) -> String {
        format!("{}:{}:{value}", self.server_clicks(k, server), field.name())
    }

    /// Start of a server's counter keys in shard `k`: `{P:sK}:st:<n>:<server>:`.
    pub fn stat_start(&self, k: u32, server: &str) -> String {
        format!("{}st:{}:{server}:", self.shard(k), server.len())
    }

    pub fn stat_days(&self, k: u32, server: &str) -> String {
        format!("{}days", self.stat_start(k, server))
    }

    pub fn search_tmp(&self, k: u32) -> String {
        format!("{}tmp:{}", self.shard(k), uuid::Uuid::new_v4())
    }

    pub fn delivery(&self, k: u32, id: i64) -> String {
        format!("{}d:{id}", self.shard(k))
    }

    pub fn attempts(&self, k: u32, id: i64) -> String {
        format!("{}att:{id}", self.shard(k))
    }

    pub fn due(&self, k: u32) -> String {
        format!("{}due", self.shard(k))
    }

    pub fn pend(&self, k: u32) -> String {
        format!("{}pend", self.shard(k))
    }

    pub fn dead(&self, k: u32) -> String {
        format!("{}dead", self.shard(k))
    }

    pub fn dexp(&self, k: u32) -> String {
        format!("{}dexp", self.shard(k))
    }

    pub fn webhook_deliveries(&self, k: u32, webhook_id: i64) -> String {
        format!("{}whd:{webhook_id}", self.shard(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn keys_of_one_shard_share_a_tag() {
        let k = Keys::new("ch").unwrap();
        assert_eq!(k.msg(3, "m-1"), "{ch:s3}:msg:m-1");
        assert_eq!(k.delivery(3, 35), "{ch:s3}:d:35");
        assert_eq!(shard_of_delivery(35), Some(3));
        assert_eq!(shard_of_delivery(0), None);
        assert!(Keys::new("a{b").is_none() && Keys::new("").is_none());
        assert_eq!(k.field_clicks(2, "srv", crate::ClickField::City, "novi sad"), "{ch:s2}:ci:3:srv:city:novi sad");
    }
}
