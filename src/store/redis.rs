//! The Redis backend, for several gateway instances sharing one state: one Redis, or a Redis
//! Cluster (`store.redis.cluster`), where the [`layout`] keeps each atomic operation in one slot.
//!
//! Every key starts with the configured prefix so that several deployments (or test runs) can
//! share one Redis. Read-modify-write operations are Lua scripts, so they are atomic across
//! instances. The connection manager is created lazily and reconnects by itself: while Redis is
//! unreachable every call fails fast with [`StoreError::Unavailable`] (the HTTP layer answers 503,
//! failing closed), and the first call after Redis returns succeeds again, with no restart.

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncConnectionConfig;
use redis::cluster::ClusterClientBuilder;
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

use connection::{Connection, Handle, Live, Target};
use epoch::Fence;
use layout::Layout;

pub struct RedisStore {
    conn: Connection,
    fence: Fence,
    layout: Layout,
    /// Replicas that must hold a single-use write before it is acknowledged (`WAIT`).
    replica_acks: u32,
    replica_ack_timeout_ms: u64,
    put_expiring: Script,
    increment: Script,
    append_log: Script,
    claim_and_append: Script,
    take_once: Script,
}

/// Key layout, public so that tests can tamper with stored data the way an attacker would.
///
/// On one Redis every key is `prefix:kind-of-store:…`. On a cluster the same keys carry a hash
/// tag, so that the keys one atomic operation touches always share a slot:
/// - a logical key's tag is what follows its kind (`oidc-code:H` and `oidc-code-used:H` both
///   hash `H`; `history:P` hashes `P`), so an entry and its used mark live together, and a
///   citizen's records and lists with them;
/// - a replay marker claimed with a history entry takes the tag of the history list;
/// - a log, its head and the store epoch share the log's name.
pub mod layout {
    /// One Redis's keys, for tests that tamper with them.
    pub fn log(prefix: &str, name: &str) -> String {
        Layout::new(prefix, false).log(name)
    }
    pub fn log_head(prefix: &str, name: &str) -> String {
        Layout::new(prefix, false).log_head(name)
    }
    /// The store epoch: the `run_id` of the Redis process and the restore fence in force.
    pub fn epoch(prefix: &str) -> String {
        Layout::new(prefix, false).epoch()
    }

    /// The key layout of one deployment: its prefix, and whether keys carry hash tags.
    #[derive(Debug, Clone)]
    pub struct Layout {
        prefix: String,
        cluster: bool,
    }

    /// What picks a logical key's slot: what follows its kind, or the whole key.
    fn tag(key: &str) -> &str {
        match key.split_once(':') {
            Some((_, rest)) if !rest.is_empty() => rest,
            _ => key,
        }
    }

    impl Layout {
        pub fn new(prefix: &str, cluster: bool) -> Self {
            Self {
                prefix: prefix.to_owned(),
                cluster,
            }
        }

        /// `prefix:space:key`, or `prefix:space:kind:{rest}` on a cluster.
        fn tagged(&self, space: &str, key: &str) -> String {
            let p = &self.prefix;
            if !self.cluster {
                return format!("{p}:{space}:{key}");
            }
            match key.split_once(':') {
                Some((kind, rest)) if !rest.is_empty() => format!("{p}:{space}:{kind}:{{{rest}}}"),
                _ => format!("{p}:{space}:{{{key}}}"),
            }
        }

        pub fn record(&self, table: &str, key: &str) -> String {
            if self.cluster {
                format!("{}:r:{table}:{{{key}}}", self.prefix)
            } else {
                format!("{}:r:{table}:{key}", self.prefix)
            }
        }
        pub fn expiring(&self, key: &str) -> String {
            self.tagged("x", key)
        }
        /// A replay marker that [`crate::store::Store::claim_and_append`] writes with an entry of
        /// `list`: in that list's slot. (Nothing else reads such a marker.)
        pub fn claim_marker(&self, marker: &str, list: &str) -> String {
            if self.cluster {
                format!("{}:x:{{{}}}:{marker}", self.prefix, tag(list))
            } else {
                self.expiring(marker)
            }
        }
        pub fn list(&self, name: &str) -> String {
            self.tagged("list", name)
        }
        pub fn log(&self, name: &str) -> String {
            if self.cluster {
                format!("{}:log:{{{name}}}", self.prefix)
            } else {
                format!("{}:log:{name}", self.prefix)
            }
        }
        pub fn log_head(&self, name: &str) -> String {
            if self.cluster {
                format!("{}:loghead:{{{name}}}", self.prefix)
            } else {
                format!("{}:loghead:{name}", self.prefix)
            }
        }
        /// In the audit log's slot: the epoch script reads the log's head beside it.
        pub fn epoch(&self) -> String {
            if self.cluster {
                format!("{}:epoch:{{audit}}", self.prefix)
            } else {
                format!("{}:epoch", self.prefix)
            }
        }
        pub fn readiness_probe(&self) -> String {
            format!("{}:readiness-probe", self.prefix)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::Layout;
        use redis::cluster_routing::Slot;

        fn slot(key: &str) -> Slot {
            Slot::for_key(key)
        }

        #[test]
        fn one_redis_keeps_the_keys_it_always_had() {
            let l = Layout::new("eidgw", false);
            assert_eq!(l.expiring("oidc-code:abc"), "eidgw:x:oidc-code:abc");
            assert_eq!(l.list("history:001"), "eidgw:list:history:001");
            assert_eq!(l.record("accounts", "001"), "eidgw:r:accounts:001");
            assert_eq!(l.claim_marker("used:j", "history:001"), "eidgw:x:used:j");
            assert_eq!(l.epoch(), "eidgw:epoch");
            assert_eq!(l.log_head("audit"), "eidgw:loghead:audit");
        }

        #[test]
        fn on_a_cluster_each_atomic_operations_keys_share_a_slot() {
            let l = Layout::new("eidgw", true);
            // take_once: the entry and its used mark.
            assert_eq!(
                slot(&l.expiring("oidc-code:abc")),
                slot(&l.expiring("oidc-code-used:abc"))
            );
            assert_eq!(
                slot(&l.expiring("challenge:chip:42")),
                slot(&l.expiring("challenge-used:chip:42"))
            );
            // claim_and_append: the replay marker and the citizen's history.
            let marker = l.claim_marker("presentation-used:000001800000:j1", "history:001");
            assert_eq!(slot(&marker), slot(&l.list("history:001")));
            // A citizen's records and lists live together (the registry writes two at once).
            assert_eq!(
                slot(&l.record("people", "001")),
                slot(&l.record("person_facts", "001"))
            );
            assert_eq!(
                slot(&l.record("accounts", "001")),
                slot(&l.list("history:001"))
            );
            // append_log and the epoch script.
            assert_eq!(slot(&l.log("audit")), slot(&l.log_head("audit")));
            assert_eq!(slot(&l.epoch()), slot(&l.log_head("audit")));
        }

        #[test]
        fn on_a_cluster_citizens_and_codes_spread_over_the_slots() {
            let l = Layout::new("eidgw", true);
            let slots: std::collections::HashSet<_> = (0..200)
                .map(|i| slot(&l.list(&format!("history:{i:012}"))))
                .chain((0..200).map(|i| slot(&l.expiring(&format!("oidc-code:{i}")))))
                .collect();
            assert!(slots.len() > 350, "{} slots for 400 keys", slots.len());
        }
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

/// How many replicas a primary's `ROLE` answer lists (`None`: not a primary's answer).
fn attached_replicas(role: &redis::Value) -> Option<u64> {
    use redis::Value;
    let Value::Array(parts) = role else {
        return None;
    };
    match (parts.first(), parts.get(2)) {
        (Some(Value::BulkString(kind)), Some(Value::Array(replicas))) if kind == b"master" => {
            Some(replicas.len() as u64)
        }
        _ => None,
    }
}

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
        let invalid = |e: redis::RedisError| {
            StoreError::Unavailable(format!("invalid Redis URL ({:?})", e.kind()))
        };
        let connect_timeout = Duration::from_millis(settings.connect_timeout_ms);
        let response_timeout = Duration::from_millis(settings.response_timeout_ms);
        let target = if settings.cluster {
            // No retries inside the client: a command that met a failed or moved primary comes
            // back as an error, the connection is made again, and the handshake looks at the
            // primaries before anything else runs (a retry would reach a promoted replica
            // unfenced).
            let client = ClusterClientBuilder::new(settings.urls())
                .connection_timeout(connect_timeout)
                .response_timeout(response_timeout)
                .retries(0)
                .build()
                .map_err(invalid)?;
            Target::Cluster(client)
        } else {
            let client = redis::Client::open(settings.url.expose_secret()).map_err(invalid)?;
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(Some(response_timeout));
            Target::Single(client, config)
        };
        let layout = Layout::new(&settings.key_prefix, settings.cluster);
        Ok(Self {
            conn: Connection::new(target),
            fence: Fence::new(clock, layout.epoch(), layout.log_head(Log::Audit.name())),
            layout,
            replica_acks: settings.replica_acks,
            replica_ack_timeout_ms: settings.replica_ack_timeout_ms,
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
        self.layout.record(table.name(), key)
    }
    fn expiring_key(&self, key: &str) -> String {
        self.layout.expiring(key)
    }

    /// Waits until `replica_acks` replicas hold what this connection wrote to the server of `key`
    /// (to every primary, without a key); fewer in time answer 503. The write stands on the
    /// primary either way, so a claim that was not confirmed stays claimed: it fails closed.
    ///
    /// A primary with fewer replicas attached than asked for (just promoted, its old self not
    /// back yet) counts what it has: no replica that lacks the write can be promoted over it
    /// without a failover, and a failover changes the primaries, which raises the restore fence.
    /// A replica that is attached but does not confirm in time fails the write.
    async fn replicated(&self, live: &Live, key: Option<&str>) -> Result<(), StoreError> {
        if self.replica_acks == 0 {
            return Ok(());
        }
        let required = u64::from(self.replica_acks);
        let mut wait = redis::cmd("WAIT");
        wait.arg(self.replica_acks).arg(self.replica_ack_timeout_ms);
        let mut c = live.conn.clone();
        let acks = c
            .on_servers(key, &wait)
            .await
            .map_err(|e| self.failed(live, e))?;
        let short: Vec<(String, u64)> = acks
            .into_iter()
            .map(|(addr, v)| (addr, redis::from_redis_value::<u64>(v).unwrap_or(0)))
            .filter(|(_, n)| *n < required)
            .collect();
        if short.is_empty() {
            return Ok(());
        }
        let roles = c
            .on_servers(key, &redis::cmd("ROLE"))
            .await
            .map_err(|e| self.failed(live, e))?;
        for (addr, acked) in short {
            let attached = roles
                .iter()
                .find(|(a, _)| *a == addr)
                .and_then(|(_, role)| attached_replicas(role));
            if attached.is_none_or(|n| n >= required) {
                return Err(StoreError::Unavailable(format!(
                    "{acked} of {required} replicas confirmed the write in {} ms",
                    self.replica_ack_timeout_ms
                )));
            }
        }
        Ok(())
    }

    /// A write batch on a cluster, where one transaction cannot span slots: the records land
    /// first, then each list's entries in one `RPUSH` (in order, atomic per list), all lists in
    /// flight at once. A failure in between leaves some lists written and the caller told it
    /// failed: a history may then show a check whose answer never went out, never the reverse
    /// (the batch's shared record is there before any entry that points at it).
    async fn write_batch_across_slots(
        &self,
        live: &Live,
        batch: WriteBatch,
    ) -> Result<(), StoreError> {
        use futures_util::future::try_join_all;
        // The last write of a key wins, as in a transaction.
        let mut records: std::collections::HashMap<String, &[u8]> = Default::default();
        for (table, key, value) in &batch.records {
            records.insert(self.record_key(*table, key), value.as_slice());
        }
        let sets = records.into_iter().map(|(key, value)| {
            let mut c = live.conn.clone();
            async move { c.set::<_, _, ()>(key, value).await }
        });
        try_join_all(sets).await.map_err(|e| self.failed(live, e))?;
        let mut lists: Vec<(String, Vec<&[u8]>)> = Vec::new();
        let mut position: std::collections::HashMap<&str, usize> = Default::default();
        for (list, value) in batch.appends.iter() {
            let i = *position.entry(list).or_insert_with(|| {
                lists.push((self.layout.list(list), Vec::new()));
                lists.len() - 1
            });
            lists[i].1.push(value);
        }
        let pushes = lists.into_iter().map(|(key, values)| {
            let mut c = live.conn.clone();
            async move { c.rpush::<_, _, ()>(key, values).await }
        });
        try_join_all(pushes)
            .await
            .map_err(|e| self.failed(live, e))?;
        self.replicated(live, None).await
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
            .arg(self.layout.readiness_probe())
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
        if entries.is_empty() {
            return Ok(());
        }
        let live = self.live().await?;
        let mut c = live.conn.clone();
        // One MSET: a cluster client splits it by slot (each record is atomic on its own).
        let mut mset = redis::cmd("MSET");
        for (k, v) in entries {
            mset.arg(self.record_key(table, &k)).arg(v);
        }
        mset.query_async::<()>(&mut c)
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
        let full_key = self.expiring_key(key);
        let written: i64 = self
            .put_expiring
            .key(&full_key)
            .arg(with_expiry(expires_at, &value))
            .arg(now.millis())
            .arg(ttl_ms(expires_at, now))
            .arg(if mode == PutMode::IfAbsent { "1" } else { "0" })
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        if written == 1 && mode == PutMode::IfAbsent {
            self.replicated(&live, Some(&full_key)).await?;
        }
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
        let entry_key = self.expiring_key(key);
        let (kind, raw): (String, Option<Vec<u8>>) = self
            .take_once
            .key(&entry_key)
            .key(self.expiring_key(used_key))
            .arg(with_expiry(mark_expires, &mark))
            .arg(now.millis())
            .arg(ttl_ms(mark_expires, now))
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        if kind == "value" {
            self.replicated(&live, Some(&entry_key)).await?;
        }
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
            .get(self.layout.log_head(log.name()))
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
        let head_key = self.layout.log_head(log.name());
        let appended: i64 = self
            .append_log
            .key(&head_key)
            .key(self.layout.log(log.name()))
            .arg(head.seq)
            .arg(entry)
            .arg(super::encode(&head)?)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        if appended == 1 {
            self.replicated(&live, Some(&head_key)).await?;
        }
        Ok(appended == 1)
    }

    async fn read_log(
        &self,
        log: Log,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.numbered_range(&self.layout.log(log.name()), from_seq, limit)
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
        let marker_key = self.layout.claim_marker(marker, list);
        let claimed: i64 = self
            .claim_and_append
            .key(&marker_key)
            .key(self.layout.list(list))
            .arg(with_expiry(marker_expires, &[]))
            .arg(now.millis())
            .arg(ttl_ms(marker_expires, now))
            .arg(entry)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        if claimed == 1 {
            self.replicated(&live, Some(&marker_key)).await?;
        }
        Ok(claimed == 1)
    }

    async fn list_push(&self, list: &str, value: Vec<u8>) -> Result<u64, StoreError> {
        let live = self.live().await?;
        let mut c = live.conn.clone();
        c.rpush(self.layout.list(list), value)
            .await
            .map_err(|e| self.failed(&live, e))
    }

    async fn write_batch(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let live = self.live().await?;
        let mut c = live.conn.clone();
        if let Handle::Cluster(_) = c {
            return self.write_batch_across_slots(&live, batch).await;
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (table, key, value) in &batch.records {
            pipe.set(self.record_key(*table, key), value.as_slice())
                .ignore();
        }
        for (list, value) in batch.appends.iter() {
            pipe.rpush(self.layout.list(list), value).ignore();
        }
        pipe.query_async::<()>(&mut c)
            .await
            .map_err(|e| self.failed(&live, e))?;
        self.replicated(&live, None).await
    }

    async fn list_range(
        &self,
        list: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.numbered_range(&self.layout.list(list), from, limit)
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

#[cfg(test)]
mod tests {
    use super::attached_replicas;
    use redis::Value;

    #[test]
    fn a_primarys_role_tells_how_many_replicas_are_attached() {
        let replica = |port: &str| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::BulkString(port.as_bytes().to_vec()),
                Value::BulkString(b"1234".to_vec()),
            ])
        };
        let role = |kind: &[u8], replicas: Vec<Value>| {
            Value::Array(vec![
                Value::BulkString(kind.to_vec()),
                Value::Int(1234),
                Value::Array(replicas),
            ])
        };
        assert_eq!(attached_replicas(&role(b"master", vec![])), Some(0));
        assert_eq!(
            attached_replicas(&role(b"master", vec![replica("7001"), replica("7002")])),
            Some(2)
        );
        // A replica's answer, or anything else, is not a count: the write then fails closed.
        let replica_role = Value::Array(vec![
            Value::BulkString(b"slave".to_vec()),
            Value::BulkString(b"127.0.0.1".to_vec()),
            Value::Int(7000),
        ]);
        assert_eq!(attached_replicas(&replica_role), None);
        assert_eq!(attached_replicas(&Value::Nil), None);
    }
}
