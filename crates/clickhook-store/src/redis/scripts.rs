//! The Lua scripts. Each one runs on one hash slot (one shard, the meta hash or the webhook
//! keys): Redis runs a script atomically, which is what makes a settle or a claim one step.
//!
//! Keys that depend on data only known inside a script (delivery ids, a webhook's server) are
//! built from the shard's key start, passed as an argument; they carry the same hash tag, so
//! they are in the declared keys' slot, which Redis Cluster allows.
//!
//! Numbers: Lua numbers are doubles. Every number here (ms timestamps, ids) stays far below
//! 2^53, and ids are turned into strings with `%d`, never with `tostring` (which would switch
//! to exponent notation past 14 digits).

use ::redis::{Cmd, Script, ToRedisArgs};

/// A Lua script: its code and SHA1.
///
/// Called with `EVALSHA`; when the server does not know it (`NOSCRIPT`: restarted, or a
/// replica promoted after a restart), the same call is made with `EVAL`, which runs it and
/// caches it on that server. redis-rs's own `Script` loads with `SCRIPT LOAD`, which in a
/// cluster goes to every node and fails while any node is down.
pub struct Lua {
    code: String,
    hash: String,
}

impl Lua {
    fn new(code: &str) -> Lua {
        Lua { hash: Script::new(code).get_hash().to_owned(), code: code.to_owned() }
    }

    pub fn call(&self) -> Call<'_> {
        Call { lua: self, keys: Vec::new(), args: Vec::new() }
    }
}

/// One invocation of a [`Lua`] script: its keys (which route it in a cluster) and arguments.
pub struct Call<'a> {
    lua: &'a Lua,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl Call<'_> {
    pub fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        self.keys.extend(key.to_redis_args());
        self
    }

    pub fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        self.args.extend(arg.to_redis_args());
        self
    }

    /// `EVALSHA` (or, with `with_code`, `EVAL`) of this call.
    pub fn cmd(&self, with_code: bool) -> Cmd {
        let mut cmd = if with_code { ::redis::cmd("EVAL") } else { ::redis::cmd("EVALSHA") };
        if with_code {
            cmd.arg(self.lua.code.as_bytes());
        } else {
            cmd.arg(self.lua.hash.as_bytes());
        }
        cmd.arg(self.keys.len()).arg(&self.keys).arg(&self.args);
        cmd
    }
}

/// `get_or_init_meta`. KEYS: meta hash. ARGV: key, init. Returns {value, created 0/1}.
const META: &str = r#"
local created = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return {redis.call('HGET', KEYS[1], ARGV[1]), created}
"#;

/// `put_message`. KEYS: record, expiry index. ARGV: message id, server, body, expires_at_ms,
/// key expiry (ms). Returns 0 when another server owns the MessageID.
const PUT_MESSAGE: &str = r#"
local owner = redis.call('HGET', KEYS[1], 'server')
if owner and owner ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'server', ARGV[2], 'body', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
"#;

/// `append_hit`. KEYS: stream, hit marker. ARGV: hit id, hit JSON. Returns 1 when added,
/// 0 for a hit id already seen (pending, or settled within the replay window).
const APPEND_HIT: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local entry = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'hit', ARGV[2])
redis.call('SET', KEYS[2], entry)
return 1
"#;

/// `claim_hits` on one shard. KEYS: stream, lease zset. ARGV: max, lease ms, group/consumer.
/// Hits whose lease ran out come first (XCLAIM), then never-read ones (XREADGROUP, without
/// BLOCK). The lease end is kept per entry in the zset, on this server's clock, because the
/// lease length is chosen by each claim (XAUTOCLAIM's min-idle would use the reclaimer's).
/// Returns {entry id, hit JSON, ...}.
const CLAIM_HITS: &str = r#"
local stream, leases, g = KEYS[1], KEYS[2], ARGV[3]
local has_group = false
if redis.call('EXISTS', stream) == 1 then
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    for i = 1, #info, 2 do
      if info[i] == 'name' and info[i + 1] == g then has_group = true end
    end
  end
end
if not has_group then
  redis.call('XGROUP', 'CREATE', stream, g, '0', 'MKSTREAM')
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease_end = now + tonumber(ARGV[2])
local max = tonumber(ARGV[1])
local out, n = {}, 0
local function take(e)
  local f = e[2]
  redis.call('ZADD', leases, lease_end, e[1])
  for i = 1, #f, 2 do
    if f[i] == 'hit' then
      out[#out + 1] = e[1]
      out[#out + 1] = f[i + 1]
    end
  end
  n = n + 1
end
local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, max)
if #expired > 0 then
  local seen = {}
  local claimed = redis.call('XCLAIM', stream, g, g, 0, unpack(expired))
  for _, e in ipairs(claimed) do
    if e then
      seen[e[1]] = true
      take(e)
    end
  end
  for _, id in ipairs(expired) do
    if not seen[id] then redis.call('ZREM', leases, id) end
  end
end
if n < max then
  local r = redis.call('XREADGROUP', 'GROUP', g, g, 'COUNT', max - n, 'STREAMS', stream, '>')
  if r then
    for _, e in ipairs(r[1][2]) do take(e) end
  end
end
return out
"#;

/// Lua helpers shared by the click scripts: `split` on `\x1f`, the facet field names in
/// `ClickField::ALL` order (a test checks them), and the server's index key start.
pub const CLICK_FNS: &str = r#"
local function split(s)
  local t = {}
  for v in string.gmatch(s .. '\31', '(.-)\31') do t[#t + 1] = v end
  return t
end
local FIELDS = {'recipient', 'tag', 'client_name', 'client_company', 'client_family', 'os_name',
  'os_family', 'os_company', 'platform', 'country', 'region', 'city', 'messagestream'}
local function server_base(p, server) return p .. 'ci:' .. #server .. ':' .. server end
"#;

/// `settle_hit` on the message's shard. KEYS: stream, lease zset, hit marker.
/// ARGV: [1] key start of the shard, [2] shard number, [3] replay window ms, [4] 'discard' or
/// 'click'; for a click: [5] mark key, [6] expires_at_ms, [7] message id, [8] event id,
/// [9] click row JSON, [10] payload, [11] now ms, [12] received_at_ms, [13] server,
/// [14] facet values (`\x1f`-joined), [15] stats day ('' = count nothing), [16] stats day number, [17] stats
/// stream, [18] stats tag, [19] stats metrics (`\x1f`-joined), [20] most tags a day,
/// [21] overflow tag, [22..] webhook ids.
/// Returns {outcome, deliveries}: outcome is nohit (no such hit in this shard), already,
/// discarded, repeat or unique.
const SETTLE_HIT: &str = r#"
local stream, leases, marker = KEYS[1], KEYS[2], KEYS[3]
local entry = redis.call('GET', marker)
if not entry then return {'nohit', 0} end
redis.call('XACK', stream, 'clickhook', entry)
redis.call('ZREM', leases, entry)
if redis.call('XDEL', stream, entry) == 0 then return {'already', 0} end
redis.call('PEXPIRE', marker, ARGV[3])
if ARGV[4] == 'discard' then return {'discarded', 0} end
local p, exp, now = ARGV[1], ARGV[6], ARGV[11]
local fresh = redis.call('SET', p .. 'mark:' .. ARGV[5], '1', 'NX', 'PXAT', exp)
local unique = fresh and '1' or '0'
local server, received = ARGV[13], ARGV[12]
local cid = redis.call('INCR', p .. 'cseq')
redis.call('HSET', p .. 'cb', cid, unique .. '|' .. ARGV[9])
redis.call('HSET', p .. 'cf', cid, server .. '\31' .. ARGV[7] .. '\31' .. ARGV[14])
redis.call('ZADD', p .. 'cx', exp, cid)
redis.call('ZADD', p .. 'cm:' .. ARGV[7], received, cid)
local base = server_base(p, server)
redis.call('ZADD', base, received, cid)
local facets = split(ARGV[14])
for i = 1, #FIELDS do
  if facets[i] and facets[i] ~= '' then redis.call('ZADD', base .. ':' .. FIELDS[i] .. ':' .. facets[i], received, cid) end
end
local sbase = p .. 'st:' .. #server .. ':' .. server
local day, tag = ARGV[15], ARGV[18]
local counted = day ~= ''
local counters, cstart
if counted then
  redis.call('ZADD', sbase .. ':days', ARGV[16], day)
  if tag ~= '' then
    local tags = sbase .. ':tags:' .. day
    if redis.call('HSETNX', tags, tag, 1) == 1 and redis.call('HLEN', tags) > tonumber(ARGV[20]) then
      redis.call('HDEL', tags, tag)
      tag = ARGV[21]
    end
  end
  counters = sbase .. ':' .. day
  cstart = ARGV[17] .. '\31' .. tag .. '\31'
  for _, m in ipairs(split(ARGV[19])) do redis.call('HINCRBY', counters, cstart .. m, 1) end
end
if not fresh then return {'repeat', 0} end
if counted then redis.call('HINCRBY', counters, cstart .. 'unique', 1) end
local ev = p .. 'ev:' .. ARGV[8]
local made = 0
for i = 22, #ARGV do
  local w = ARGV[i]
  if redis.call('HEXISTS', ev, w) == 0 then
    local id = string.format('%d', redis.call('INCR', p .. 'dseq') * 16 + tonumber(ARGV[2]))
    redis.call('HSET', ev, w, id)
    redis.call('HSET', p .. 'd:' .. id, 'event_id', ARGV[8], 'webhook_id', w, 'payload', ARGV[10],
      'state', 'pending', 'attempts', 0, 'next_at_ms', now, 'created_at_ms', now, 'expires_at_ms', exp)
    redis.call('ZADD', p .. 'due', now, id)
    redis.call('ZADD', p .. 'pend', now, id)
    redis.call('ZADD', p .. 'whd:' .. w, id, id)
    made = made + 1
  end
end
if made > 0 then redis.call('PEXPIREAT', ev, exp) end
return {'unique', made}
"#;

/// `claim_deliveries` on one shard. KEYS: due. ARGV: key start, now, max, lease end.
/// Returns {id, event id, webhook id, payload, attempts, created_at_ms, ...}.
const CLAIM_DELIVERIES: &str = r#"
local due, p = KEYS[1], ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', due, '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
local out = {}
for _, id in ipairs(ids) do
  local d = p .. 'd:' .. id
  local f = redis.call('HMGET', d, 'event_id', 'webhook_id', 'payload', 'attempts', 'created_at_ms', 'state')
  if f[1] and f[6] == 'pending' then
    redis.call('ZADD', due, ARGV[4], id)
    redis.call('HSET', d, 'next_at_ms', ARGV[4])
    for _, v in ipairs({id, f[1], f[2], f[3], f[4], f[5]}) do out[#out + 1] = v end
  else
    redis.call('ZREM', due, id)
  end
end
return out
"#;

/// `finish_attempt`. KEYS: delivery, attempts, due, pend, dead, dexp. ARGV: id, state,
/// next_at_ms, attempt JSON. Returns 0 when there is no such delivery.
const FINISH_ATTEMPT: &str = r#"
local d, att, due, pend, dead, dexp = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, state = ARGV[1], ARGV[2]
if redis.call('EXISTS', d) == 0 then return 0 end
if state ~= 'dropped' then
  redis.call('RPUSH', att, ARGV[4])
  redis.call('HINCRBY', d, 'attempts', 1)
end
redis.call('HSET', d, 'state', state, 'next_at_ms', ARGV[3])
if state == 'pending' then
  redis.call('ZADD', due, ARGV[3], id)
  redis.call('ZADD', pend, redis.call('HGET', d, 'created_at_ms'), id)
  redis.call('ZREM', dexp, id)
else
  redis.call('ZREM', due, id)
  redis.call('ZREM', pend, id)
  redis.call('ZADD', dexp, redis.call('HGET', d, 'expires_at_ms'), id)
end
if state == 'dead' then redis.call('SADD', dead, id) else redis.call('SREM', dead, id) end
return 1
"#;

/// `defer_delivery`. KEYS: delivery, due. ARGV: id, until.
const DEFER: &str = r#"
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'next_at_ms', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"#;

/// Shared by resend and recover: queue a finished delivery again, due now.
const REVIVE_FN: &str = r#"
local function revive(d, id, created, expires, now, min_exp, due, pend, dead, dexp)
  local e = tonumber(expires)
  if e < tonumber(min_exp) then e = tonumber(min_exp) end
  redis.call('HSET', d, 'state', 'pending', 'attempts', 0, 'next_at_ms', now,
    'expires_at_ms', string.format('%d', e))
  redis.call('ZADD', due, now, id)
  redis.call('ZADD', pend, created, id)
  redis.call('SREM', dead, id)
  redis.call('ZREM', dexp, id)
end
"#;

/// `resend_delivery`. KEYS: delivery, due, pend, dead, dexp. ARGV: id, webhook id, now,
/// new minimum expiry. Returns 1 when queued again.
const RESEND: &str = r#"
local f = redis.call('HMGET', KEYS[1], 'state', 'webhook_id', 'created_at_ms', 'expires_at_ms')
if not f[1] or f[2] ~= ARGV[2] or f[1] == 'pending' then return 0 end
revive(KEYS[1], ARGV[1], f[3], f[4], ARGV[3], ARGV[4], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return 1
"#;

/// `recover_deliveries` on one shard, one chunk. KEYS: the webhook's deliveries, due, pend,
/// dead, dexp. ARGV: key start, from, to, now, new minimum expiry, cursor (last id done),
/// chunk size. Returns {revived, last id looked at or '' when done}.
const RECOVER: &str = r#"
local p = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[6], '+inf', 'LIMIT', 0, ARGV[7])
local n = 0
for _, id in ipairs(ids) do
  local d = p .. 'd:' .. id
  local f = redis.call('HMGET', d, 'state', 'created_at_ms', 'expires_at_ms')
  if (f[1] == 'dead' or f[1] == 'stopped') then
    local c = tonumber(f[2])
    if c >= tonumber(ARGV[2]) and c < tonumber(ARGV[3]) then
      revive(d, id, f[2], f[3], ARGV[4], ARGV[5], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
      n = n + 1
    end
  end
end
local last = ''
if #ids == tonumber(ARGV[7]) then last = ids[#ids] end
return {n, last}
"#;

/// `list_deliveries` on one shard. KEYS: the webhook's deliveries. ARGV: key start, state
/// ('' for any), limit. Newest (highest id) first. Returns {total, then 7 fields per
/// delivery: id, event id, webhook id, state, attempts, next_at_ms, created_at_ms}.
const LIST_DELIVERIES: &str = r#"
local p, want, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {0}
local function add(id, f)
  for _, v in ipairs({id, f[1], f[2], f[3], f[4], f[5], f[6]}) do out[#out + 1] = v end
end
local fields = {'event_id', 'webhook_id', 'state', 'attempts', 'next_at_ms', 'created_at_ms'}
if want == '' then
  out[1] = redis.call('ZCARD', KEYS[1])
  if limit > 0 then
    for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, limit - 1)) do
      local f = redis.call('HMGET', p .. 'd:' .. id, unpack(fields))
      if f[1] then add(id, f) end
    end
  end
  return out
end
local total, taken, start = 0, 0, 0
while true do
  local ids = redis.call('ZREVRANGE', KEYS[1], start, start + 499)
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', p .. 'd:' .. id, unpack(fields))
    if f[1] and f[3] == want then
      total = total + 1
      if taken < limit then
        add(id, f)
        taken = taken + 1
      end
    end
  end
  if #ids < 500 then break end
  start = start + 500
end
out[1] = total
return out
"#;

/// `purge_expired` on one shard, one batch. KEYS: message expiry index, dexp, dead.
/// ARGV: key start, now, batch. Returns {deleted, more 0/1}.
const PURGE: &str = r#"
local p, now, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = 0
local ms = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, batch)
for _, m in ipairs(ms) do
  n = n + redis.call('DEL', p .. 'msg:' .. m)
  redis.call('ZREM', KEYS[1], m)
end
local ds = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, batch)
for _, id in ipairs(ds) do
  local d = p .. 'd:' .. id
  local w = redis.call('HGET', d, 'webhook_id')
  if w then redis.call('ZREM', p .. 'whd:' .. w, id) end
  n = n + redis.call('DEL', d)
  redis.call('DEL', p .. 'att:' .. id)
  redis.call('SREM', KEYS[3], id)
  redis.call('ZREM', KEYS[2], id)
end
local more = 0
if #ms == batch or #ds == batch then more = 1 end
return {n, more}
"#;

/// Expired clicks of one shard, one batch. KEYS: cx. ARGV: key start, now, batch.
/// Returns {deleted, more 0/1}.
const PURGE_CLICKS: &str = r#"
local p, now, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, batch)
for _, id in ipairs(ids) do
  local f = redis.call('HGET', p .. 'cf', id)
  if f then
    local v = split(f)
    local base = server_base(p, v[1])
    redis.call('ZREM', base, id)
    redis.call('ZREM', p .. 'cm:' .. v[2], id)
    for i = 1, #FIELDS do
      if v[i + 2] and v[i + 2] ~= '' then redis.call('ZREM', base .. ':' .. FIELDS[i] .. ':' .. v[i + 2], id) end
    end
  end
  redis.call('HDEL', p .. 'cf', id)
  redis.call('HDEL', p .. 'cb', id)
  redis.call('ZREM', KEYS[1], id)
end
local more = 0
if #ids == batch then more = 1 end
return {#ids, more}
"#;

/// One shard's part of a click search. KEYS: the index zsets to intersect, then a scratch
/// key. ARGV: how many ids to return at most. Returns {total, {id, score, id, score, ...}}
/// newest first.
const SEARCH_CLICKS: &str = r#"
local n = #KEYS - 1
local src, total = KEYS[1], 0
if n > 1 then
  local args = {'ZINTERSTORE', KEYS[n + 1], n}
  for i = 1, n do args[#args + 1] = KEYS[i] end
  args[#args + 1] = 'AGGREGATE'
  args[#args + 1] = 'MAX'
  total = redis.call(unpack(args))
  src = KEYS[n + 1]
else
  total = redis.call('ZCARD', src)
end
local limit = tonumber(ARGV[1])
local ids = {}
if limit > 0 and total > 0 then ids = redis.call('ZREVRANGE', src, 0, limit - 1, 'WITHSCORES') end
if n > 1 then redis.call('DEL', KEYS[n + 1]) end
return {total, ids}
"#;

/// A server's click counters of one shard. KEYS: the days zset. ARGV: counters key start
/// (`...st:<n>:<server>:`), first and last day number. Returns {day, field, count, ...}.
const READ_STATS: &str = r#"
local days = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[3])
local out = {}
for _, d in ipairs(days) do
  local h = redis.call('HGETALL', ARGV[1] .. d)
  for i = 1, #h, 2 do
    out[#out + 1] = d
    out[#out + 1] = h[i]
    out[#out + 1] = h[i + 1]
  end
end
return out
"#;

/// `stats` on one shard. KEYS: stream, pend, dead. Returns {hits, pending, dead, oldest or -1}.
const STATS: &str = r#"
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local o = -1
if oldest[2] then o = tonumber(oldest[2]) end
return {redis.call('XLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('SCARD', KEYS[3]), o}
"#;

/// `create_webhook`. KEYS: seq, server map, the server's hash. ARGV: server, JSON. Returns id.
const WH_CREATE: &str = r#"
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[3], id, ARGV[2])
redis.call('HSET', KEYS[2], id, ARGV[1])
return id
"#;

/// `get_webhook`. KEYS: server map. ARGV: webhook key start, id. Returns {} or {server, JSON}.
const WH_GET: &str = r#"
local server = redis.call('HGET', KEYS[1], ARGV[2])
if not server then return {} end
local body = redis.call('HGET', ARGV[1] .. 's:' .. server, ARGV[2])
if not body then return {} end
return {server, body}
"#;

/// `update_webhook` / `delete_webhook`. KEYS: server map, the server's hash. ARGV: id,
/// server, 'update' or 'delete', JSON. Returns 1 when that server has that webhook.
const WH_CHANGE: &str = r#"
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == 'delete' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
end
return 1
"#;

pub struct Scripts {
    pub meta: Lua,
    pub put_message: Lua,
    pub append_hit: Lua,
    pub claim_hits: Lua,
    pub settle_hit: Lua,
    pub claim_deliveries: Lua,
    pub finish_attempt: Lua,
    pub defer: Lua,
    pub resend: Lua,
    pub recover: Lua,
    pub list_deliveries: Lua,
    pub purge: Lua,
    pub purge_clicks: Lua,
    pub search_clicks: Lua,
    pub read_stats: Lua,
    pub stats: Lua,
    pub wh_create: Lua,
    pub wh_get: Lua,
    pub wh_change: Lua,
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            meta: Lua::new(META),
            put_message: Lua::new(PUT_MESSAGE),
            append_hit: Lua::new(APPEND_HIT),
            claim_hits: Lua::new(CLAIM_HITS),
            settle_hit: Lua::new(&format!("{CLICK_FNS}{SETTLE_HIT}")),
            claim_deliveries: Lua::new(CLAIM_DELIVERIES),
            finish_attempt: Lua::new(FINISH_ATTEMPT),
            defer: Lua::new(DEFER),
            resend: Lua::new(&format!("{REVIVE_FN}{RESEND}")),
            recover: Lua::new(&format!("{REVIVE_FN}{RECOVER}")),
            list_deliveries: Lua::new(LIST_DELIVERIES),
            purge: Lua::new(PURGE),
            purge_clicks: Lua::new(&format!("{CLICK_FNS}{PURGE_CLICKS}")),
            search_clicks: Lua::new(SEARCH_CLICKS),
            read_stats: Lua::new(READ_STATS),
            stats: Lua::new(STATS),
            wh_create: Lua::new(WH_CREATE),
            wh_get: Lua::new(WH_GET),
            wh_change: Lua::new(WH_CHANGE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_facet_fields_follow_click_field_order() {
        let start = CLICK_FNS.find("local FIELDS = {").unwrap() + "local FIELDS = {".len();
        let end = start + CLICK_FNS[start..].find('}').unwrap();
        let lua: Vec<&str> = CLICK_FNS[start..end].split(',').map(|s| s.trim().trim_matches('\'')).collect();
        let rust: Vec<&str> = crate::ClickField::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(lua, rust);
    }
}
