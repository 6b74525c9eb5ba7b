//! Storage behind one trait, with one implementation per backend.
//!
//! [`Store`] offers the few primitives every feature is built from, each atomic on its own:
//! - **records** in named [`Table`]s (registry, accounts, relying parties, …): durable;
//! - **expiring entries** (challenges, codes, OTPs, replay markers, rate counters): durable too
//!   (a replay marker that vanished in a crash would re-open a replay), with an expiry decided by
//!   the injected clock rather than by the backend, so both backends behave the same and tests can
//!   move time;
//! - **lists** (usage history): append and read a range, per named list;
//! - **append-only logs** (the audit chain) with an optimistic "append at sequence N" so several
//!   gateway instances can share one chain.
//!
//! Typed repositories ([`crate::registry`], [`crate::relying_parties`], [`crate::audit`]) are
//! written once on top of these primitives; only this module knows embedded (redb) from Redis.
//! The same contract tests run against both (`tests/api/store_contract.rs`).

pub mod embedded;
pub mod metered;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// Durable record tables. The names are part of the on-disk and in-Redis layout: never rename.
/// (The embedded store's journal writes a table by its name too, so reordering is harmless.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Table {
    /// Registry personal data, by personal id.
    People,
    /// Registry enrolled biometric templates, by personal id.
    Templates,
    /// Citizen accounts, by personal id.
    Accounts,
    /// Relying-party registrations, by client id.
    RelyingParties,
    /// Small singletons: population metadata, dev personas, idempotency markers.
    Meta,
    /// Pairwise subject → personal id, by sector.
    Subjects,
    /// Chip ID card records, by card (document) number: revoked cards stay known.
    Cards,
    /// What the usage-history entries written together in one batch share, by batch id.
    HistoryBatches,
    /// The values an attribute match compares, by personal id: a narrow copy of each `People`
    /// record that the registry writes with it.
    PersonFacts,
}

impl Table {
    pub const ALL: [Table; 9] = [
        Table::People,
        Table::Templates,
        Table::Accounts,
        Table::RelyingParties,
        Table::Meta,
        Table::Subjects,
        Table::Cards,
        Table::HistoryBatches,
        Table::PersonFacts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::People => "people",
            Table::Templates => "templates",
            Table::Accounts => "accounts",
            Table::RelyingParties => "relying_parties",
            Table::Meta => "meta",
            Table::Subjects => "subjects",
            Table::Cards => "cards",
            Table::HistoryBatches => "history_batches",
            Table::PersonFacts => "person_facts",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl From<Table> for &'static str {
    fn from(table: Table) -> Self {
        table.name()
    }
}

impl TryFrom<String> for Table {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        Table::from_name(&name).ok_or_else(|| format!("no table is named {name}"))
    }
}

/// Append-only logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Log {
    Audit,
}

impl Log {
    pub fn name(self) -> &'static str {
        match self {
            Log::Audit => "audit",
        }
    }
}

impl From<Log> for &'static str {
    fn from(log: Log) -> Self {
        log.name()
    }
}

impl TryFrom<String> for Log {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        match name.as_str() {
            "audit" => Ok(Log::Audit),
            _ => Err(format!("no log is named {name}")),
        }
    }
}

/// What an expiring write does when a live entry already holds the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PutMode {
    Overwrite,
    /// Write only if no live entry exists: the single-use primitive (replay markers, `jti`).
    IfAbsent,
}

/// What [`Store::take_once`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// The live entry's value: it is gone now, and the mark stands in its place.
    Value(Vec<u8>),
    /// The entry was taken before: the mark its taker left.
    Used(Vec<u8>),
    /// Neither an entry nor a mark: never written, or expired.
    Absent,
}

/// The last entry of a log: its sequence number (1-based) and the entry's chain hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogHead {
    pub seq: u64,
    pub hash: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or did not answer in time. Callers fail closed (503).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored bytes do not decode: a bug or tampering, never the caller's fault.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The embedded database file could not be opened, written or committed.
    #[error("storage failure: {0}")]
    Storage(String),
}

/// The storage primitives. Implementations: [`embedded::EmbeddedStore`], [`redis::RedisStore`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `embedded` or `redis`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Succeeds when the backend answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Succeeds when the backend takes a durable write (readiness: a store that answers reads but
    /// cannot write is not ready).
    async fn check_writable(&self, now: Timestamp) -> Result<(), StoreError>;

    async fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// The records under `keys`, in order, packed in one buffer.
    async fn get_many(&self, table: Table, keys: &[&str]) -> Result<Records, StoreError>;
    async fn put(&self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError>;
    /// Writes only if the key is absent; `false` when it was already there.
    async fn insert_new(&self, table: Table, key: &str, value: Vec<u8>)
    -> Result<bool, StoreError>;
    /// Bulk write for imports: not atomic as a whole, each record is.
    async fn put_many(
        &self,
        table: Table,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), StoreError>;
    /// `true` when something was deleted.
    async fn delete(&self, table: Table, key: &str) -> Result<bool, StoreError>;

    /// Writes an entry that lives until `expires_at`. With [`PutMode::IfAbsent`], returns `false`
    /// and changes nothing if a live entry holds the key.
    async fn put_expiring(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Timestamp,
        mode: PutMode,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    async fn get_expiring(&self, key: &str, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError>;
    /// Reads and deletes in one step: of two concurrent takers, exactly one gets the value.
    async fn take_expiring(&self, key: &str, now: Timestamp)
    -> Result<Option<Vec<u8>>, StoreError>;
    /// Takes a single-use entry and marks it used, in one atomic step: if `used_key` holds a live
    /// mark, answers [`Taken::Used`] with it and changes nothing; otherwise, if `key` holds a live
    /// entry, deletes it, writes `mark` under `used_key` (until `mark_expires`) and answers
    /// [`Taken::Value`]; otherwise [`Taken::Absent`]. Of two concurrent takers exactly one gets
    /// the value, and the other — whatever the timing — sees the winner's mark (an authorization
    /// code's second redemption learns which tokens to revoke).
    ///
    /// Both keys name the same thing under two kinds — `kind:id` and `other-kind:id` — which
    /// keeps them in one slot of a Redis Cluster ([`redis::layout`]).
    async fn take_once(
        &self,
        key: &str,
        used_key: &str,
        mark: Vec<u8>,
        mark_expires: Timestamp,
        now: Timestamp,
    ) -> Result<Taken, StoreError>;
    /// Adds one to a counter that lives until `expires_at` (set when the counter is created) and
    /// returns the new count.
    async fn increment(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Counts `amount` requests (or records) in a rate window ending at `window_end`. Shared by every instance on
    /// Redis; the embedded store keeps these counters in memory (a restart only forgives a
    /// minute of traffic), which spares a disk write per request.
    async fn count_request(
        &self,
        key: &str,
        amount: u64,
        window_end: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// The single-use claim with its record, in one atomic write: if no live entry holds
    /// `marker`, writes it (until `marker_expires`) and appends `entry` to `list`, returning
    /// `true`; otherwise changes nothing and returns `false`. (A verified token is marked used and
    /// written to the citizen's history together, or neither.) A marker is only ever claimed
    /// this way, never read as an expiring entry: on a Redis Cluster it lives in `list`'s slot.
    async fn claim_and_append(
        &self,
        marker: &str,
        marker_expires: Timestamp,
        list: &str,
        entry: Vec<u8>,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    async fn log_head(&self, log: Log) -> Result<Option<LogHead>, StoreError>;
    /// Appends `entry` as number `head.seq` if the log currently ends at `head.seq - 1`;
    /// `false` (and nothing written) if another writer got there first.
    async fn append_log(&self, log: Log, entry: Vec<u8>, head: LogHead)
    -> Result<bool, StoreError>;
    /// Entries from `from_seq` (1-based, inclusive), at most `limit`, in order, with their
    /// sequence numbers as stored.
    async fn read_log(
        &self,
        log: Log,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;

    /// Appends to the named list (a citizen's usage history, …) and returns the entry's 1-based
    /// position.
    async fn list_push(&self, list: &str, value: Vec<u8>) -> Result<u64, StoreError>;
    /// Writes records and appends list entries in one atomic, durable write (one commit on the
    /// embedded store, one MULTI/EXEC on Redis): batched usage history.
    async fn write_batch(&self, batch: WriteBatch) -> Result<(), StoreError>;
    /// Entries of a list from position `from` (1-based, inclusive), at most `limit`, in order.
    async fn list_range(
        &self,
        list: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;

    /// The moment before which this store may have forgotten writes (a Redis restart, failover
    /// or restore noticed on reconnecting): single-use credentials issued before it — presentation
    /// tokens, codes, refresh tokens — are refused, since their used-markers may be gone. `None`
    /// for a store that forgets nothing it acknowledged (the embedded one).
    fn restore_fence(&self) -> Option<Timestamp> {
        None
    }

    /// The checkpoints the backend has made so far (none for a backend that has none): each is
    /// a pause every write waits behind, so the figures explain a write latency's tail.
    fn checkpoints(&self) -> Checkpoints {
        Checkpoints::default()
    }

    /// How many times the backend had to connect again after a broken connection (0 for a
    /// backend without connections).
    fn reconnects(&self) -> u64 {
        0
    }

    /// Deletes expired entries and returns how many; a no-op where the backend expires keys
    /// itself.
    async fn sweep_expired(&self, now: Timestamp) -> Result<u64, StoreError>;
}

pub type SharedStore = Arc<dyn Store>;

/// The embedded store's checkpoints since it opened: the durable commits that write out the
/// pages the journaled writes left in memory. Writes queue behind each one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checkpoints {
    pub count: u64,
    /// Their time together.
    pub total: std::time::Duration,
    /// The most recent one's.
    pub last: std::time::Duration,
}

impl Checkpoints {
    pub fn record(&mut self, took: std::time::Duration) {
        self.count += 1;
        self.total += took;
        self.last = took;
    }
}

/// Typed helpers over the byte-level primitives: every record is JSON.
pub async fn get_json<T: DeserializeOwned>(
    store: &dyn Store,
    table: Table,
    key: &str,
) -> Result<Option<T>, StoreError> {
    match store.get(table, key).await? {
        Some(bytes) => decode(table, &bytes).map(Some),
        None => Ok(None),
    }
}

pub async fn put_json<T: Serialize>(
    store: &dyn Store,
    table: Table,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    store.put(table, key, encode(value)?).await
}

/// The newest `limit` entries of a list, newest first, decoded.
pub async fn newest<T: DeserializeOwned>(
    store: &dyn Store,
    list: &str,
    limit: usize,
) -> Result<Vec<T>, StoreError> {
    const PAGE: usize = 1_000;
    let mut all = Vec::new();
    let mut from = 1;
    loop {
        let page = store.list_range(list, from, PAGE).await?;
        let n = page.len();
        for (_, raw) in page {
            all.push(decode::<T>(Table::Meta, &raw)?);
        }
        if n < PAGE {
            break;
        }
        from += PAGE as u64;
    }
    all.reverse();
    all.truncate(limit);
    Ok(all)
}

/// Entries for many lists packed into two buffers: a match batch's history (thousands of
/// entries a chunk) crosses to the store's writer thread as a handful of allocations instead of
/// two per entry, which the other thread would then have to free one by one.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ListAppends {
    names: String,
    #[serde(with = "serde_bytes")]
    values: Vec<u8>,
    /// Where each entry's list name and value end in `names` and `values`.
    ends: Vec<(usize, usize)>,
}

impl ListAppends {
    pub fn with_capacity(entries: usize, value_bytes: usize) -> Self {
        Self {
            names: String::with_capacity(entries * 24),
            values: Vec::with_capacity(value_bytes),
            ends: Vec::with_capacity(entries),
        }
    }

    pub fn push(&mut self, list: &str, value: &[u8]) {
        self.names.push_str(list);
        self.values.extend_from_slice(value);
        self.ends.push((self.names.len(), self.values.len()));
    }

    /// Appends an entry whose list name and value the caller writes straight into the buffers
    /// (no allocation per entry). Each writer must only append.
    pub fn push_with(&mut self, list: impl FnOnce(&mut String), value: impl FnOnce(&mut Vec<u8>)) {
        list(&mut self.names);
        value(&mut self.values);
        self.ends.push((self.names.len(), self.values.len()));
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The entry at `i`: (list name, value).
    pub fn get(&self, i: usize) -> Option<(&str, &[u8])> {
        let (name_end, value_end) = *self.ends.get(i)?;
        let (name_start, value_start) = match i.checked_sub(1) {
            Some(prev) => self.ends[prev],
            None => (0, 0),
        };
        Some((
            self.names.get(name_start..name_end)?,
            self.values.get(value_start..value_end)?,
        ))
    }

    /// Every entry in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// Records read together, in the order asked, packed in one buffer: a match batch reads
/// thousands at a time, and one allocation per record showed in its profile.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Records {
    bytes: Vec<u8>,
    /// Where each record lies in `bytes`; `None` for a key without one.
    spans: Vec<Option<(usize, usize)>>,
}

impl Records {
    pub fn with_capacity(records: usize, bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            spans: Vec::with_capacity(records),
        }
    }

    pub fn push(&mut self, record: Option<&[u8]>) {
        let span = record.map(|r| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(r);
            (start, self.bytes.len())
        });
        self.spans.push(span);
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `i`th record, if its key had one.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let (start, end) = (*self.spans.get(i)?)?;
        self.bytes.get(start..end)
    }

    pub fn iter(&self) -> impl Iterator<Item = Option<&[u8]>> {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl<'a> FromIterator<Option<&'a [u8]>> for Records {
    fn from_iter<I: IntoIterator<Item = Option<&'a [u8]>>>(records: I) -> Self {
        let mut all = Self::default();
        for r in records {
            all.push(r);
        }
        all
    }
}

/// Records and list entries that land together or not at all.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WriteBatch {
    pub records: Vec<(Table, String, Vec<u8>)>,
    pub appends: ListAppends,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.appends.is_empty()
    }
}

impl<S: AsRef<str>, V: AsRef<[u8]>> FromIterator<(S, V)> for ListAppends {
    fn from_iter<I: IntoIterator<Item = (S, V)>>(entries: I) -> Self {
        let mut appends = Self::default();
        for (list, value) in entries {
            appends.push(list.as_ref(), value.as_ref());
        }
        appends
    }
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(format!("cannot encode record: {e}")))
}

pub fn decode<'a, T: Deserialize<'a>>(table: Table, bytes: &'a [u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        StoreError::Corrupt(format!("record in {} does not decode: {e}", table.name()))
    })
}

/// Builds the configured backend, on the system clock.
pub async fn open(settings: &crate::config::StoreSettings) -> anyhow::Result<SharedStore> {
    open_with_clock(settings, Arc::new(crate::clock::SystemClock)).await
}

/// Builds the configured backend; `clock` dates Redis's restore fence.
pub async fn open_with_clock(
    settings: &crate::config::StoreSettings,
    clock: crate::clock::SharedClock,
) -> anyhow::Result<SharedStore> {
    use crate::config::StoreBackend;
    Ok(match settings.backend {
        StoreBackend::Embedded => {
            let path = settings.data_dir.join("eid-gateway.redb");
            let options = embedded::EmbeddedOptions {
                cache_bytes: settings.cache_mib.saturating_mul(1024 * 1024),
                min_free_bytes: settings.min_free_mib.saturating_mul(1024 * 1024),
                checkpoint_every: std::time::Duration::from_millis(settings.checkpoint_interval_ms),
            };
            Arc::new(embedded::EmbeddedStore::open_with(&path, options)?) as SharedStore
        }
        StoreBackend::Redis => {
            Arc::new(redis::RedisStore::connect(&settings.redis, clock)?) as SharedStore
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_records_keep_each_record_and_each_gap_in_place() {
        let r: Records = [Some(&b"one"[..]), None, Some(b""), Some(b"four")]
            .into_iter()
            .collect();
        assert_eq!(r.len(), 4);
        assert_eq!(
            r.iter().collect::<Vec<_>>(),
            vec![Some(&b"one"[..]), None, Some(b""), Some(b"four")]
        );
        assert_eq!(r.get(4), None);
        assert!(Records::default().is_empty());
    }

    #[test]
    fn list_appends_keep_each_entry_whole_and_in_order() {
        let mut a = ListAppends::with_capacity(2, 16);
        assert!(a.is_empty() && a.get(0).is_none());
        a.push("history:Đà", b"one");
        a.push("", b"");
        a.push_with(
            |name| name.push_str("history:b"),
            |value| value.extend_from_slice(br#"{"n":2}"#),
        );
        a.push("history:d", b"four");
        let all: Vec<(&str, &[u8])> = a.iter().collect();
        assert_eq!(
            all,
            vec![
                ("history:Đà", &b"one"[..]),
                ("", &b""[..]),
                ("history:b", &br#"{"n":2}"#[..]),
                ("history:d", &b"four"[..]),
            ]
        );
        assert_eq!(a.len(), 4);
        assert!(a.get(4).is_none());
    }
}
