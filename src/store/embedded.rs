//! The embedded, on-disk backend (redb).
//!
//! Reads go straight to a read transaction (MVCC: they never wait for writers). Writes go to one
//! writer thread ([`writer`]) that gathers whatever requests are queued into a single transaction,
//! appends it to the write-ahead [`journal`] (one sequential write and an fsync), commits it to
//! redb without waiting for the disk, and only then answers any of them: group commit. So an
//! acknowledged write survives `kill -9` (opening the store applies the journal's records the file
//! lacks), and a burst of writes costs one fsync, not one each. A checkpoint (a durable redb
//! commit) writes the pages out every 50 ms by default (`store.checkpoint_interval_ms`) and
//! empties the journal. When the disk fails (full, say), [`handle`] closes the file, answers
//! 503, and opens it again once a write succeeds.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;

use async_trait::async_trait;
use redb::ReadableDatabase;
use tokio::sync::oneshot;

mod handle;
mod journal;
mod lists;
mod operations;
pub mod sandbox_reset;
pub use handle::journal_path;
mod writer;

use super::{Checkpoints, Log, LogHead, PutMode, Records, Store, StoreError, Table, WriteBatch};
use crate::clock::Timestamp;
use handle::DatabaseHandle;
use operations::{Op, Reply, expiry_of};
use writer::Request;

/// Table layout, public so that tests (and forensic tools) can open a database file directly.
pub mod layout {
    use redb::TableDefinition;

    pub fn records(name: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
        TableDefinition::new(name)
    }
    /// Expiring entries: 8-byte big-endian expiry (ms) followed by the value.
    pub const EXPIRING: TableDefinition<&str, &[u8]> = TableDefinition::new("expiring");
    /// (expiry ms, key) → (): lets the sweeper find expired entries without a full scan.
    pub const EXPIRING_BY_TIME: TableDefinition<(i64, &str), ()> =
        TableDefinition::new("expiring_by_time");
    pub fn log(name: &str) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(name)
    }
    pub const LOG_HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("log_heads");
    /// [`list_key`] (list name, first position) → segment of entries (see `lists`).
    pub const LISTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("list_segments");
    /// List name → length, as kept until 2026-12 (read from [`LISTS`] since); dropped at open.
    pub const LIST_LENGTHS: TableDefinition<&str, u64> = TableDefinition::new("list_lengths");
    /// [`JOURNAL_APPLIED_KEY`] → the sequence number of the last journal record this state holds.
    pub const JOURNAL_APPLIED: TableDefinition<&str, u64> = TableDefinition::new("journal_applied");
    pub const JOURNAL_APPLIED_KEY: &str = "applied";

    /// A list segment's key: the name's length (2 bytes, big-endian), the name, the position
    /// (8 bytes, big-endian). A list's entries sort together and in position order, and keys
    /// compare as plain bytes: a tuple key is decoded, and its text checked as UTF-8, at every
    /// comparison of every insert.
    pub fn list_key(list: &str, position: u64) -> Result<Vec<u8>, super::StoreError> {
        let length = u16::try_from(list.len()).map_err(|_| {
            super::StoreError::Storage(format!("a list name is at most {} bytes", u16::MAX))
        })?;
        let mut key = Vec::with_capacity(2 + list.len() + 8);
        key.extend_from_slice(&length.to_be_bytes());
        key.extend_from_slice(list.as_bytes());
        key.extend_from_slice(&position.to_be_bytes());
        Ok(key)
    }

    /// Lists as they were kept until 2026-11 (an entry per tuple key); moved to [`LISTS`] at
    /// open.
    pub const TUPLE_KEYED_LISTS: TableDefinition<(&str, u64), &[u8]> =
        TableDefinition::new("lists");
}

/// The live rate windows, and when ended ones were last dropped.
#[derive(Default)]
struct RateCounters {
    windows: std::collections::HashMap<String, (Timestamp, u64)>,
    swept_at: Timestamp,
}

/// How often ended rate windows are dropped: each key (a client, a client address) lives in
/// memory for at most its window and this long, however many addresses come and go.
const RATE_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

pub struct EmbeddedStore {
    db: Arc<DatabaseHandle>,
    /// Rate counters: (window end, count). Volatile by design (see `Store::count_request`).
    counters: std::sync::Mutex<RateCounters>,
    writer: mpsc::Sender<Request>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for EmbeddedStore {
    /// Waits for the writer to finish what was queued, so the file is closed (and can be opened
    /// again, e.g. by a restarted gateway in the same process) once the store is dropped.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.writer, closed));
        if let Some(t) = self.writer_thread.take() {
            let _ = t.join();
        }
    }
}

/// The page cache when none is configured (`store.cache_mib`).
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// How long journaled writes wait for a checkpoint when a configuration does not say
/// (`store.checkpoint_interval_ms`). Short, because redb keeps every page a batch replaces until
/// the next durable commit: the longer the interval, the more each checkpoint writes.
pub const DEFAULT_CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// How the embedded store holds its file (`[store]` in the configuration).
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedOptions {
    /// Bounds redb's page cache, which otherwise grows with the data the gateway touches.
    pub cache_bytes: usize,
    /// Writes are refused (503) while the disk holding the file has less than this free (0: no
    /// check).
    pub min_free_bytes: u64,
    /// How long journaled writes may wait for a checkpoint (`store.checkpoint_interval_ms`).
    pub checkpoint_every: std::time::Duration,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            cache_bytes: DEFAULT_CACHE_BYTES,
            min_free_bytes: 0,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
        }
    }
}

fn storage<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Storage(e.to_string())
}

fn log_table_name(log: Log) -> String {
    format!("log:{}", log.name())
}

impl EmbeddedStore {
    /// Opens (or creates) the database file with the default page cache.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the database file and starts its writer thread. `cache_bytes` bounds
    /// redb's page cache, which otherwise grows with the data the gateway touches.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        Self::open_with(
            path,
            EmbeddedOptions {
                cache_bytes,
                ..EmbeddedOptions::default()
            },
        )
    }

    /// Opens (or creates) the database file with the given options.
    pub fn open_with(path: &Path, options: EmbeddedOptions) -> Result<Self, StoreError> {
        let db = Arc::new(DatabaseHandle::open(
            path,
            options.cache_bytes,
            options.min_free_bytes,
        )?);
        let checkpoint_every = options.checkpoint_every;
        // Unbounded: every queued write has a request waiting on it, so the HTTP layer's own
        // limits bound the queue; a bounded channel would block an async worker when full.
        let (tx, rx) = mpsc::channel();
        let writer_db = Arc::clone(&db);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer::writer_loop(&writer_db, rx, checkpoint_every))
            .map_err(storage)?;
        Ok(Self {
            db,
            counters: Default::default(),
            writer: tx,
            writer_thread: Some(thread),
        })
    }

    async fn write(&self, op: Op) -> Result<Reply, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Request { op, reply })
            .map_err(|_| StoreError::Storage("writer thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Storage("writer thread dropped a request".into()))?
    }

    fn read_record(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.read(|db| {
            let txn = db.begin_read().map_err(storage)?;
            let t = txn
                .open_table(layout::records(table.name()))
                .map_err(storage)?;
            Ok(t.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
        })
    }
}

fn unexpected() -> StoreError {
    StoreError::Storage("writer answered with the wrong kind of reply".into())
}

#[async_trait]
impl Store for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.read(|db| {
            let txn = db.begin_read().map_err(storage)?;
            txn.open_table(layout::records(Table::Meta.name()))
                .map_err(storage)
                .map(|_| ())
        })?;
        if self.writer_thread.as_ref().is_none_or(|t| t.is_finished()) {
            return Err(StoreError::Storage("writer thread has stopped".into()));
        }
        Ok(())
    }

    async fn check_writable(&self, now: Timestamp) -> Result<(), StoreError> {
        self.write(Op::Probe { now }).await.map(|_| ())
    }

    async fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_record(table, key)
    }

    async fn get_many(&self, table: Table, keys: &[&str]) -> Result<Records, StoreError> {
        self.db.read(|db| {
            let txn = db.begin_read().map_err(storage)?;
            let t = txn
                .open_table(layout::records(table.name()))
                .map_err(storage)?;
            let mut found = Records::with_capacity(keys.len(), keys.len() * 128);
            for key in keys {
                found.push(t.get(*key).map_err(storage)?.as_ref().map(|v| v.value()));
            }
            Ok(found)
        })
    }

    async fn put(&self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.write(Op::Put {
            table,
            key: key.to_owned(),
            value,
        })
        .await
        .map(|_| ())
    }

    async fn insert_new(
        &self,
        table: Table,
        key: &str,
        value: Vec<u8>,
    ) -> Result<bool, StoreError> {
        match self
            .write(Op::InsertNew {
                table,
                key: key.to_owned(),
                value,
            })
            .await?
        {
            Reply::Flag(b) => Ok(b),
            _ => Err(unexpected()),
        }
    }

    async fn put_many(
        &self,
        table: Table,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        self.write(Op::PutMany { table, entries }).await.map(|_| ())
    }

    async fn delete(&self, table: Table, key: &str) -> Result<bool, StoreError> {
        match self
            .write(Op::Delete {
                table,
                key: key.to_owned(),
            })
            .await?
        {
            Reply::Flag(b) => Ok(b),
            _ => Err(unexpected()),
        }
    }

    async fn put_expiring(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Timestamp,
        mode: PutMode,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        match self
            .write(Op::PutExpiring {
                key: key.to_owned(),
                value,
                expires_at,
                mode,
                now,
            })
            .await?
        {
            Reply::Flag(b) => Ok(b),
            _ => Err(unexpected()),
        }
    }

    async fn get_expiring(&self, key: &str, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.read(|db| {
            let txn = db.begin_read().map_err(storage)?;
            let t = txn.open_table(layout::EXPIRING).map_err(storage)?;
            let found = t.get(key).map_err(storage)?;
            Ok(found.and_then(|raw| match expiry_of(raw.value()) {
                Some((exp, v)) if exp > now => Some(v.to_vec()),
                _ => None,
            }))
        })
    }

    async fn take_expiring(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .write(Op::TakeExpiring {
                key: key.to_owned(),
                now,
            })
            .await?
        {
            Reply::Value(v) => Ok(v),
            _ => Err(unexpected()),
        }
    }

    async fn take_once(
        &self,
        key: &str,
        used_key: &str,
        mark: Vec<u8>,
        mark_expires: Timestamp,
        now: Timestamp,
    ) -> Result<super::Taken, StoreError> {
        let op = Op::TakeOnce {
            key: key.to_owned(),
            used_key: used_key.to_owned(),
            mark,
            mark_expires,
            now,
        };
        match self.write(op).await? {
            Reply::Taken(t) => Ok(t),
            _ => Err(unexpected()),
        }
    }

    async fn increment(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        match self
            .write(Op::Increment {
                key: key.to_owned(),
                expires_at,
                now,
            })
            .await?
        {
            Reply::Count(n) => Ok(n),
            _ => Err(unexpected()),
        }
    }

    async fn log_head(&self, log: Log) -> Result<Option<LogHead>, StoreError> {
        self.db.read(|db| {
            let txn = db.begin_read().map_err(storage)?;
            let t = txn.open_table(layout::LOG_HEADS).map_err(storage)?;
            let found = t.get(log.name()).map_err(storage)?;
            found
                .map(|v| super::decode(Table::Meta, v.value()))
                .transpose()
        })
    }

    async fn append_log(
        &self,
        log: Log,
        entry: Vec<u8>,
        head: LogHead,
    ) -> Result<bool, StoreError> {
        match self.write(Op::AppendLog { log, entry, head }).await? {
            Reply::Flag(b) => Ok(b),
            _ => Err(unexpected()),
        }
    }

    async fn read_log(
        &self,
        log: Log,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.db.read(|db| {
            let txn = db.begin_read().map_err(storage)?;
            let name = log_table_name(log);
            let t = txn.open_table(layout::log(&name)).map_err(storage)?;
            let mut out = Vec::new();
            for item in t.range(from_seq..).map_err(storage)?.take(limit) {
                let (k, v) = item.map_err(storage)?;
                out.push((k.value(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    async fn count_request(
        &self,
        key: &str,
        amount: u64,
        window_end: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut counters = self
            .counters
            .lock()
            .map_err(|_| StoreError::Storage("rate counters poisoned".into()))?;
        if counters.swept_at.plus(RATE_SWEEP) <= now {
            counters.windows.retain(|_, (end, _)| *end > now);
            counters.swept_at = now;
        }
        let slot = counters
            .windows
            .entry(key.to_owned())
            .or_insert((window_end, 0));
        if slot.0 <= now {
            *slot = (window_end, 0);
        }
        slot.1 += amount;
        Ok(slot.1)
    }

    async fn claim_and_append(
        &self,
        marker: &str,
        marker_expires: Timestamp,
        list: &str,
        entry: Vec<u8>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let op = Op::ClaimAndAppend {
            marker: marker.to_owned(),
            marker_expires,
            list: list.to_owned(),
            entry,
            now,
        };
        match self.write(op).await? {
            Reply::Flag(b) => Ok(b),
            _ => Err(unexpected()),
        }
    }

    async fn list_push(&self, list: &str, value: Vec<u8>) -> Result<u64, StoreError> {
        match self
            .write(Op::ListPush {
                list: list.to_owned(),
                value,
            })
            .await?
        {
            Reply::Count(n) => Ok(n),
            _ => Err(unexpected()),
        }
    }

    async fn write_batch(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write(Op::WriteBatch { batch }).await.map(|_| ())
    }

    async fn list_range(
        &self,
        list: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.db.read(|db| {
            let txn = db.begin_read().map_err(storage)?;
            let t = txn.open_table(layout::LISTS).map_err(storage)?;
            lists::range(&t, list, from, limit)
        })
    }

    fn checkpoints(&self) -> Checkpoints {
        self.db.checkpoints()
    }

    async fn sweep_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        match self.write(Op::Sweep { now }).await? {
            Reply::Count(n) => Ok(n),
            _ => Err(unexpected()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rate_windows_of_addresses_gone_quiet_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("db.redb")).unwrap();
        let t0 = Timestamp::from_secs(1_800_000_000);
        let end = t0.plus(std::time::Duration::from_secs(60));
        for i in 0..1_000 {
            let key = format!("rate:ip:10.0.{}.{}:1", i / 256, i % 256);
            assert_eq!(store.count_request(&key, 1, end, t0).await.unwrap(), 1);
        }
        assert_eq!(store.counters.lock().unwrap().windows.len(), 1_000);
        let later = t0.plus(std::time::Duration::from_secs(121));
        let next_end = later.plus(std::time::Duration::from_secs(60));
        store
            .count_request("rate:ip:10.9.9.9:3", 1, next_end, later)
            .await
            .unwrap();
        assert_eq!(store.counters.lock().unwrap().windows.len(), 1);
    }
}
