//! The Redis backend, for several gateway instances sharing one state.
//!
//! Every key starts with the configured prefix so that several deployments (or test runs) can
//! share one Redis. Read-modify-write operations are Lua scripts, so they are atomic across
//! instances. The connection manager is created lazily and reconnects by itself: while Redis is
//! unreachable every call fails fast with [`StoreError::Unavailable`] (the HTTP layer answers 503,
//! failing closed), and the first call after Redis returns succeeds again, with no restart.

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncConnectionConfig;
use redis::{AsyncCommands, Script};
use secrecy::ExposeSecret;

use super::{Log, LogHead, PutMode, Records, Store, StoreError, Table, WriteBatch};
use crate::clock::{SharedClock, Timestamp};
use crate::config::RedisSettings;

/// Extra lifetime given to Redis keys beyond their logical expiry, so that instances whose clocks
/// differ slightly still see the entry until each decides it has expired.
const TTL_SLACK_MS: i64 = 5_000;

mod connection;
mod epoch;

use connection::{Connection, Live};
use epoch::Fence;

pub struct RedisStore {
    conn: Connection,
    fence: Fence,
    prefix: String,
    put_expiring: Script,
    increment: Script,
    append_log: Script,
    claim_and_append: Script,
    take_once: Script,
}

/// Key layout, public so that tests can tamper with stored data the way an attacker would.
pub mod layout {
    pub fn record(prefix: &str, table: &str, key: &str) -> String {
        format!("{prefix}:r:{table}:{key}")
    }
    pub fn expiring(prefix: &str, key: &str) -> String {
        format!("{prefix}:x:{key}")
    }
    pub fn log(prefix: &str, name: &str) -> String {
        format!("{prefix}:log:{name}")
    }
    pub fn list(prefix: &str, name: &str) -> String {
        format!("{prefix}:list:{name}")
    }
    pub fn log_head(prefix: &str, name: &str) -> String {
        format!("{prefix}:loghead:{name}")
    }
    /// The store epoch: the `run_id` of the Redis process and the restore fence in force.
    pub fn epoch(prefix: &str) -> String {
        format!("{prefix}:epoch")
    }
}

const PUT_EXPIRING: &str = r"
local v = redis.call('GET', KEYS[1])
if v and ARGV[4] == '1' then
  local p = string.find(v, '|', 1, true)
  if p and tonumber(string.sub(v, 1, p - 1)) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
";

const INCREMENT: &str = r"
local now = tonumber(ARGV[2])
local exp = tonumber(ARGV[1])
local by = tonumber(ARGV[4])
local count = by
local v = redis.call('GET', KEYS[1])
if v then
  local p = string.find(v, '|', 1, true)
  if p then
    local e = tonumber(string.sub(v, 1, p - 1))
    if e > now then
      exp = e
      count = tonumber(string.sub(v, p + 1)) + by
    end
  end
end
local ttl = math.max(exp - now, 1) + tonumber(ARGV[3])
redis.call('SET', KEYS[1], string.format('%d|%d', exp, count), 'PX', string.format('%d', ttl))
return count
";

const CLAIM_AND_APPEND: &str = r"
local v = redis.call('GET', KEYS[1])
if v then
  local p = string.find(v, '|', 1, true)
  if p and tonumber(string.sub(v, 1, p - 1)) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[4])
return 1
";

/// KEYS: entry, used mark. ARGV: mark (with expiry), now ms, mark TTL ms. Answers
/// `{'used', mark}`, `{'value', value}` or `{'absent'}`; both values still carry their expiry.
const TAKE_ONCE: &str = r"
local function live(v)
  if not v then return false end
  local p = string.find(v, '|', 1, true)
  return p and tonumber(string.sub(v, 1, p - 1)) > tonumber(ARGV[2])
end
local used = redis.call('GET', KEYS[2])
if live(used) then return {'used', used} end
local v = redis.call('GET', KEYS[1])
if not live(v) then return {'absent', false} end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return {'value', v}
";

const APPEND_LOG: &str = r"
local cur = redis.call('GET', KEYS[1])
local seq = 0
if cur then seq = tonumber(cjson.decode(cur)['seq']) end
if seq + 1 ~= tonumber(ARGV[1]) then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], ARGV[3])
return 1
";

fn with_expiry(expires_at: Timestamp, value: &[u8]) -> Vec<u8> {
    let mut v = format!("{}|", expires_at.millis()).into_bytes();
    v.extend_from_slice(value);
    v
}

/// Splits `expiry|value`, returning the value if it is still live at `now`.
fn unexpired(raw: Vec<u8>, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
    let sep = raw
        .iter()
        .position(|b| *b == b'|')
        .ok_or_else(|| StoreError::Corrupt("expiring entry has no expiry".into()))?;
    let exp: i64 = std::str::from_utf8(&raw[..sep])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("expiring entry has a bad expiry".into()))?;
    Ok((exp > now.millis()).then(|| raw[sep + 1..].to_vec()))
}

fn ttl_ms(expires_at: Timestamp, now: Timestamp) -> i64 {
    (expires_at.millis() - now.millis()).max(1) + TTL_SLACK_MS
}

impl RedisStore {
    /// Prepares a lazily-connecting client; never fails because Redis is down. `clock` dates
    /// the restore fence, in the same time as the tokens it is compared with.
    pub fn connect(settings: &RedisSettings, clock: SharedClock) -> Result<Self, StoreError> {
        let client = redis::Client::open(settings.url.expose_secret())
            .map_err(|e| StoreError::Unavailable(format!("invalid Redis URL ({:?})", e.kind())))?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
            .set_response_timeout(Some(Duration::from_millis(settings.response_timeout_ms)));
        let prefix = settings.key_prefix.clone();
        Ok(Self {
            conn: Connection::new(client, config),
            fence: Fence::new(
                clock,
                layout::epoch(&prefix),
                layout::log_head(&prefix, Log::Audit.name()),
            ),
            prefix,
            put_expiring: Script::new(PUT_EXPIRING),
            increment: Script::new(INCREMENT),
            append_log: Script::new(APPEND_LOG),
            claim_and_append: Script::new(CLAIM_AND_APPEND),
            take_once: Script::new(TAKE_ONCE),
        })
    }

    /// The live connection, made (and fenced) first if there is none.
    async fn live(&self) -> Result<Live, StoreError> {
        self.conn.get(|c| self.fence.handshake(c)).await
    }

    /// A failed command: drops its connection if it broke, and answers 503.
    fn failed(&self, live: &Live, e: redis::RedisError) -> StoreError {
        match self.conn.check::<()>(live, Err(e)) {
            Err(e) => e,
            Ok(()) => StoreError::Unavailable("unreachable".into()),
        }
    }

    /// Adds `by` to an expiring counter (created with `expires_at`) and returns the new count.
    async fn add(
        &self,
        key: &str,
        by: u64,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        self.increment
            .key(self.expiring_key(key))
            .arg(expires_at.millis())
            .arg(now.millis())
            .arg(TTL_SLACK_MS)
            .arg(by)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))
    }

    fn record_key(&self, table: Table, key: &str) -> String {
        layout::record(&self.prefix, table.name(), key)
    }
    fn expiring_key(&self, key: &str) -> String {
        layout::expiring(&self.prefix, key)
    }

    /// `LRANGE` from 1-based position `from`, with each item's position.
    async fn numbered_range(
        &self,
        key: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let start = from.max(1) - 1;
        let stop = start + limit as u64 - 1;
        let items: Vec<Vec<u8>> = c
            .lrange(key, start as isize, stop as isize)
            .await
            .map_err(|e| self.failed(&live, e))?;
        Ok(items
            .into_iter()
            .zip(start + 1..)
            .map(|(v, seq)| (seq, v))
            .collect())
    }
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        Ok(())
    }

    async fn check_writable(&self, now: Timestamp) -> Result<(), StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        redis::cmd("SET")
            .arg(format!("{}:readiness-probe", self.prefix))
            .arg(now.millis())
            .arg("PX")
            .arg(60_000)
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))
    }

    async fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        c.get(self.record_key(table, key))
            .await
            .map_err(|e| self.failed(&live, e))
    }

    async fn get_many(&self, table: Table, keys: &[&str]) -> Result<Records, StoreError> {
        if keys.is_empty() {
            return Ok(Records::default());
        }
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let full: Vec<String> = keys.iter().map(|k| self.record_key(table, k)).collect();
        let found: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&full)
            .query_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        Ok(found.iter().map(Option::as_deref).collect())
    }

    async fn put(&self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        c.set::<_, _, ()>(self.record_key(table, key), value)
            .await
            .map_err(|e| self.failed(&live, e))
    }

    async fn insert_new(
        &self,
        table: Table,
        key: &str,
        value: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        c.set_nx(self.record_key(table, key), value)
            .await
            .map_err(|e| self.failed(&live, e))
    }

    async fn put_many(
        &self,
        table: Table,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let mut pipe = redis::pipe();
        for (k, v) in entries {
            pipe.set(self.record_key(table, &k), v).ignore();
        }
        pipe.query_async::<()>(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))
    }

    async fn delete(&self, table: Table, key: &str) -> Result<bool, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let n: u64 = c
            .del(self.record_key(table, key))
            .await
            .map_err(|e| self.failed(&live, e))?;
        Ok(n > 0)
    }

    async fn put_expiring(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Timestamp,
        mode: PutMode,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let written: i64 = self
            .put_expiring
            .key(self.expiring_key(key))
            .arg(with_expiry(expires_at, &value))
            .arg(now.millis())
            .arg(ttl_ms(expires_at, now))
            .arg(if mode == PutMode::IfAbsent { "1" } else { "0" })
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        Ok(written == 1)
    }

    async fn get_expiring(&self, key: &str, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let raw: Option<Vec<u8>> = c
            .get(self.expiring_key(key))
            .await
            .map_err(|e| self.failed(&live, e))?;
        raw.map(|r| unexpired(r, now))
            .transpose()
            .map(Option::flatten)
    }

    async fn take_expiring(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let raw: Option<Vec<u8>> = c
            .get_del(self.expiring_key(key))
            .await
            .map_err(|e| self.failed(&live, e))?;
        raw.map(|r| unexpired(r, now))
            .transpose()
            .map(Option::flatten)
    }

    async fn take_once(
        &self,
        key: &str,
        used_key: &str,
        mark: Vec<u8>,
        mark_expires: Timestamp,
        now: Timestamp,
    ) -> Result<super::Taken, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let (kind, raw): (String, Option<Vec<u8>>) = self
            .take_once
            .key(self.expiring_key(key))
            .key(self.expiring_key(used_key))
            .arg(with_expiry(mark_expires, &mark))
            .arg(now.millis())
            .arg(ttl_ms(mark_expires, now))
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        let value = || -> Result<Vec<u8>, StoreError> {
            raw.clone()
                .map(|r| unexpired(r, now))
                .transpose()?
                .flatten()
                .ok_or_else(|| StoreError::Corrupt("take_once answered without a value".into()))
        };
        match kind.as_str() {
            "value" => Ok(super::Taken::Value(value()?)),
            "used" => Ok(super::Taken::Used(value()?)),
            _ => Ok(super::Taken::Absent),
        }
    }

    async fn increment(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.add(key, 1, expires_at, now).await
    }

    async fn log_head(&self, log: Log) -> Result<Option<LogHead>, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let raw: Option<Vec<u8>> = c
            .get(layout::log_head(&self.prefix, log.name()))
            .await
            .map_err(|e| self.failed(&live, e))?;
        raw.map(|r| super::decode(Table::Meta, &r)).transpose()
    }

    async fn append_log(
        &self,
        log: Log,
        entry: Vec<u8>,
        head: LogHead,
    ) -> Result<bool, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let appended: i64 = self
            .append_log
            .key(layout::log_head(&self.prefix, log.name()))
            .key(layout::log(&self.prefix, log.name()))
            .arg(head.seq)
            .arg(entry)
            .arg(super::encode(&head)?)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        Ok(appended == 1)
    }

    async fn read_log(
        &self,
        log: Log,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.numbered_range(&layout::log(&self.prefix, log.name()), from_seq, limit)
            .await
    }

    async fn count_request(
        &self,
        key: &str,
        amount: u64,
        window_end: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.add(key, amount, window_end, now).await
    }

    async fn claim_and_append(
        &self,
        marker: &str,
        marker_expires: Timestamp,
        list: &str,
        entry: Vec<u8>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let claimed: i64 = self
            .claim_and_append
            .key(self.expiring_key(marker))
            .key(layout::list(&self.prefix, list))
            .arg(with_expiry(marker_expires, &[]))
            .arg(now.millis())
            .arg(ttl_ms(marker_expires, now))
            .arg(entry)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        Ok(claimed == 1)
    }

    async fn list_push(&self, list: &str, value: Vec<u8>) -> Result<u64, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        c.rpush(layout::list(&self.prefix, list), value)
            .await
            .map_err(|e| self.failed(&live, e))
    }

    async fn write_batch(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let live = self.live().await?;
        let mut c = live.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (table, key, value) in &batch.records {
            pipe.set(self.record_key(*table, key), value.as_slice())
                .ignore();
        }
        for (list, value) in batch.appends.iter() {
            pipe.rpush(layout::list(&self.prefix, list), value).ignore();
        }
        pipe.query_async::<()>(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))
    }

    async fn list_range(
        &self,
        list: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.numbered_range(&layout::list(&self.prefix, list), from, limit)
            .await
    }

    fn restore_fence(&self) -> Option<Timestamp> {
        self.fence.current()
    }

    fn reconnects(&self) -> u64 {
        self.conn.reconnects()
    }

    async fn sweep_expired(&self, _now: Timestamp) -> Result<u64, StoreError> {
        // Redis expires keys itself (logical expiry plus a little slack).
        Ok(0)
    }
}
