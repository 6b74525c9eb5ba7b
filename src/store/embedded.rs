//! The embedded, on-disk backend (redb).
//!
//! Reads go straight to a read transaction (MVCC: they never wait for writers). Writes go to one
//! writer thread that gathers whatever requests are queued into a single transaction and commits
//! it with `Durability::Immediate` (fsync) before answering any of them: group commit. So an
//! acknowledged write survives `kill -9`, and a burst of writes costs one fsync, not one each.
//! Because one thread applies writes in order, read-modify-write operations (insert-if-absent,
//! take, increment, log append) are atomic without further locking.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};
use std::sync::mpsc;

use tokio::sync::oneshot;

mod lists;

use super::{Log, LogHead, PutMode, Records, Store, StoreError, Table, WriteBatch};
use crate::clock::Timestamp;

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
    /// [`list_key`] (list name, first position) → segment of entries (see `lists`), and list
    /// name → length.
    pub const LISTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("list_segments");
    pub const LIST_LENGTHS: TableDefinition<&str, u64> = TableDefinition::new("list_lengths");

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

/// How many queued writes one commit may gather.
const MAX_BATCH: usize = 1024;

/// How long the writer waits for more writes before committing a batch.
const LINGER: std::time::Duration = std::time::Duration::from_micros(300);

enum Op {
    Put {
        table: Table,
        key: String,
        value: Vec<u8>,
    },
    InsertNew {
        table: Table,
        key: String,
        value: Vec<u8>,
    },
    PutMany {
        table: Table,
        entries: Vec<(String, Vec<u8>)>,
    },
    Delete {
        table: Table,
        key: String,
    },
    PutExpiring {
        key: String,
        value: Vec<u8>,
        expires_at: Timestamp,
        mode: PutMode,
        now: Timestamp,
    },
    TakeExpiring {
        key: String,
        now: Timestamp,
    },
    TakeOnce {
        key: String,
        used_key: String,
        mark: Vec<u8>,
        mark_expires: Timestamp,
        now: Timestamp,
    },
    Increment {
        key: String,
        expires_at: Timestamp,
        now: Timestamp,
    },
    AppendLog {
        log: Log,
        entry: Vec<u8>,
        head: LogHead,
    },
    WriteBatch {
        batch: WriteBatch,
    },
    ListPush {
        list: String,
        value: Vec<u8>,
    },
    ClaimAndAppend {
        marker: String,
        marker_expires: Timestamp,
        list: String,
        entry: Vec<u8>,
        now: Timestamp,
    },
    Sweep {
        now: Timestamp,
    },
}

enum Reply {
    Done,
    Flag(bool),
    Value(Option<Vec<u8>>),
    Count(u64),
    Taken(super::Taken),
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<Reply, StoreError>>,
}

pub struct EmbeddedStore {
    db: Arc<Database>,
    /// Rate counters: (window end, count). Volatile by design (see `Store::count_request`).
    counters: std::sync::Mutex<std::collections::HashMap<String, (Timestamp, u64)>>,
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
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(storage)?;
        }
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(|e| StoreError::Storage(format!("{}: {e}", path.display())))?;
        // Create every table up front so that readers never meet a missing one.
        let txn = db.begin_write().map_err(storage)?;
        for table in Table::ALL {
            txn.open_table(layout::records(table.name()))
                .map_err(storage)?;
        }
        txn.open_table(layout::EXPIRING).map_err(storage)?;
        txn.open_table(layout::EXPIRING_BY_TIME).map_err(storage)?;
        txn.open_table(layout::LOG_HEADS).map_err(storage)?;
        txn.open_table(layout::LISTS).map_err(storage)?;
        txn.open_table(layout::LIST_LENGTHS).map_err(storage)?;
        lists::move_tuple_keyed(&txn)?;
        txn.open_table(layout::log(&log_table_name(Log::Audit)))
            .map_err(storage)?;
        txn.commit().map_err(storage)?;

        let db = Arc::new(db);
        // Unbounded: every queued write has a request waiting on it, so the HTTP layer's own
        // limits bound the queue; a bounded channel would block an async worker when full.
        let (tx, rx) = mpsc::channel();
        let writer_db = Arc::clone(&db);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(&writer_db, rx))
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
        let txn = self.db.begin_read().map_err(storage)?;
        let t = txn
            .open_table(layout::records(table.name()))
            .map_err(storage)?;
        Ok(t.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
    }
}

fn writer_loop(db: &Database, rx: mpsc::Receiver<Request>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        // Linger a moment so that concurrent writers share the commit: one commit costs about
        // the same for one operation as for hundreds.
        let linger_until = std::time::Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            let left = linger_until.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let outcome = apply_batch(db, &mut batch);
        match outcome {
            Ok(replies) => {
                for (req, reply) in batch.into_iter().zip(replies) {
                    let _ = req.reply.send(reply);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for req in batch {
                    let _ = req.reply.send(Err(StoreError::Storage(msg.clone())));
                }
            }
        }
    }
}

/// Applies every queued operation in one transaction and commits it. Per-operation outcomes
/// come back in order; an error from redb aborts the whole batch.
fn apply_batch(
    db: &Database,
    batch: &mut [Request],
) -> Result<Vec<Result<Reply, StoreError>>, StoreError> {
    let txn = db.begin_write().map_err(storage)?;
    let mut replies = Vec::with_capacity(batch.len());
    for req in batch.iter_mut() {
        let op = std::mem::replace(
            &mut req.op,
            Op::Sweep {
                now: Timestamp::from_millis(i64::MIN),
            },
        );
        replies.push(apply(&txn, op));
    }
    txn.commit().map_err(storage)?;
    Ok(replies)
}

fn expiry_of(raw: &[u8]) -> Option<(Timestamp, &[u8])> {
    let (head, rest) = raw.split_at_checked(8)?;
    let mut b = [0u8; 8];
    b.copy_from_slice(head);
    Some((Timestamp::from_millis(i64::from_be_bytes(b)), rest))
}

fn with_expiry(expires_at: Timestamp, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + value.len());
    v.extend_from_slice(&expires_at.millis().to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// The live value under `key`, if any.
fn live_expiring(
    txn: &WriteTransaction,
    key: &str,
    now: Timestamp,
) -> Result<Option<(Timestamp, Vec<u8>)>, StoreError> {
    let t = txn.open_table(layout::EXPIRING).map_err(storage)?;
    let found = t.get(key).map_err(storage)?;
    Ok(match found {
        Some(raw) => match expiry_of(raw.value()) {
            Some((exp, v)) if exp > now => Some((exp, v.to_vec())),
            Some(_) => None,
            None => {
                return Err(StoreError::Corrupt(format!(
                    "expiring entry {key} has no expiry"
                )));
            }
        },
        None => None,
    })
}

fn write_expiring(
    txn: &WriteTransaction,
    key: &str,
    expires_at: Timestamp,
    value: &[u8],
) -> Result<(), StoreError> {
    let mut t = txn.open_table(layout::EXPIRING).map_err(storage)?;
    let previous = t
        .insert(key, with_expiry(expires_at, value).as_slice())
        .map_err(storage)?
        .and_then(|old| expiry_of(old.value()).map(|(e, _)| e));
    drop(t);
    let mut idx = txn.open_table(layout::EXPIRING_BY_TIME).map_err(storage)?;
    if let Some(old) = previous {
        idx.remove((old.millis(), key)).map_err(storage)?;
    }
    idx.insert((expires_at.millis(), key), ())
        .map_err(storage)?;
    Ok(())
}

fn remove_expiring(txn: &WriteTransaction, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let mut t = txn.open_table(layout::EXPIRING).map_err(storage)?;
    let old = t.remove(key).map_err(storage)?.map(|v| v.value().to_vec());
    drop(t);
    if let Some((exp, _)) = old.as_deref().and_then(expiry_of) {
        let mut idx = txn.open_table(layout::EXPIRING_BY_TIME).map_err(storage)?;
        idx.remove((exp.millis(), key)).map_err(storage)?;
    }
    Ok(old)
}

fn apply(txn: &WriteTransaction, op: Op) -> Result<Reply, StoreError> {
    match op {
        Op::Put { table, key, value } => {
            let mut t = txn
                .open_table(layout::records(table.name()))
                .map_err(storage)?;
            t.insert(key.as_str(), value.as_slice()).map_err(storage)?;
            Ok(Reply::Done)
        }
        Op::InsertNew { table, key, value } => {
            let mut t = txn
                .open_table(layout::records(table.name()))
                .map_err(storage)?;
            if t.get(key.as_str()).map_err(storage)?.is_some() {
                return Ok(Reply::Flag(false));
            }
            t.insert(key.as_str(), value.as_slice()).map_err(storage)?;
            Ok(Reply::Flag(true))
        }
        Op::PutMany { table, entries } => {
            let mut t = txn
                .open_table(layout::records(table.name()))
                .map_err(storage)?;
            for (k, v) in &entries {
                t.insert(k.as_str(), v.as_slice()).map_err(storage)?;
            }
            Ok(Reply::Done)
        }
        Op::Delete { table, key } => {
            let mut t = txn
                .open_table(layout::records(table.name()))
                .map_err(storage)?;
            Ok(Reply::Flag(
                t.remove(key.as_str()).map_err(storage)?.is_some(),
            ))
        }
        Op::PutExpiring {
            key,
            value,
            expires_at,
            mode,
            now,
        } => {
            if mode == PutMode::IfAbsent && live_expiring(txn, &key, now)?.is_some() {
                return Ok(Reply::Flag(false));
            }
            write_expiring(txn, &key, expires_at, &value)?;
            Ok(Reply::Flag(true))
        }
        Op::TakeExpiring { key, now } => {
            let live = live_expiring(txn, &key, now)?;
            remove_expiring(txn, &key)?;
            Ok(Reply::Value(live.map(|(_, v)| v)))
        }
        Op::TakeOnce {
            key,
            used_key,
            mark,
            mark_expires,
            now,
        } => {
            if let Some((_, first_mark)) = live_expiring(txn, &used_key, now)? {
                return Ok(Reply::Taken(super::Taken::Used(first_mark)));
            }
            let Some((_, value)) = live_expiring(txn, &key, now)? else {
                return Ok(Reply::Taken(super::Taken::Absent));
            };
            remove_expiring(txn, &key)?;
            write_expiring(txn, &used_key, mark_expires, &mark)?;
            Ok(Reply::Taken(super::Taken::Value(value)))
        }
        Op::Increment {
            key,
            expires_at,
            now,
        } => {
            let (exp, count) = match live_expiring(txn, &key, now)? {
                Some((exp, v)) => {
                    let bytes: [u8; 8] = v.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt(format!("counter {key} is not a number"))
                    })?;
                    (exp, u64::from_be_bytes(bytes).saturating_add(1))
                }
                None => (expires_at, 1),
            };
            write_expiring(txn, &key, exp, &count.to_be_bytes())?;
            Ok(Reply::Count(count))
        }
        Op::AppendLog { log, entry, head } => {
            let mut heads = txn.open_table(layout::LOG_HEADS).map_err(storage)?;
            let current = match heads.get(log.name()).map_err(storage)? {
                Some(v) => super::decode::<LogHead>(Table::Meta, v.value())?.seq,
                None => 0,
            };
            if head.seq != current + 1 {
                return Ok(Reply::Flag(false));
            }
            heads
                .insert(log.name(), super::encode(&head)?.as_slice())
                .map_err(storage)?;
            drop(heads);
            let name = log_table_name(log);
            let mut t = txn.open_table(layout::log(&name)).map_err(storage)?;
            t.insert(head.seq, entry.as_slice()).map_err(storage)?;
            Ok(Reply::Flag(true))
        }
        Op::ClaimAndAppend {
            marker,
            marker_expires,
            list,
            entry,
            now,
        } => {
            if live_expiring(txn, &marker, now)?.is_some() {
                return Ok(Reply::Flag(false));
            }
            write_expiring(txn, &marker, marker_expires, &[])?;
            apply(txn, Op::ListPush { list, value: entry })?;
            Ok(Reply::Flag(true))
        }
        Op::WriteBatch { batch } => {
            for (table, key, value) in &batch.records {
                let mut t = txn
                    .open_table(layout::records(table.name()))
                    .map_err(storage)?;
                t.insert(key.as_str(), value.as_slice()).map_err(storage)?;
            }
            lists::Writer::open(txn)?.append_all(&batch.appends)?;
            Ok(Reply::Done)
        }
        Op::ListPush { list, value } => Ok(Reply::Count(
            lists::Writer::open(txn)?.append(&list, &[value.as_slice()])?,
        )),
        Op::Sweep { now } => {
            let mut idx = txn.open_table(layout::EXPIRING_BY_TIME).map_err(storage)?;
            let expired: Vec<(i64, String)> = idx
                .range::<(i64, &str)>(..(now.millis(), ""))
                .map_err(storage)?
                .filter_map(|r| r.ok().map(|(k, _)| (k.value().0, k.value().1.to_owned())))
                .collect();
            for (at, key) in &expired {
                idx.remove((*at, key.as_str())).map_err(storage)?;
            }
            drop(idx);
            let mut t = txn.open_table(layout::EXPIRING).map_err(storage)?;
            let mut removed = 0;
            for (at, key) in &expired {
                // Only remove if the entry was not rewritten with a later expiry.
                let still_expired = t
                    .get(key.as_str())
                    .map_err(storage)?
                    .and_then(|v| expiry_of(v.value()).map(|(e, _)| e.millis() == *at))
                    .unwrap_or(false);
                if still_expired {
                    t.remove(key.as_str()).map_err(storage)?;
                    removed += 1;
                }
            }
            Ok(Reply::Count(removed))
        }
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
        let txn = self.db.begin_read().map_err(storage)?;
        txn.open_table(layout::records(Table::Meta.name()))
            .map_err(storage)?;
        if self.writer_thread.as_ref().is_none_or(|t| t.is_finished()) {
            return Err(StoreError::Storage("writer thread has stopped".into()));
        }
        Ok(())
    }

    async fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_record(table, key)
    }

    async fn get_many(&self, table: Table, keys: &[&str]) -> Result<Records, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let t = txn
            .open_table(layout::records(table.name()))
            .map_err(storage)?;
        let mut found = Records::with_capacity(keys.len(), keys.len() * 128);
        for key in keys {
            found.push(t.get(*key).map_err(storage)?.as_ref().map(|v| v.value()));
        }
        Ok(found)
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
        let txn = self.db.begin_read().map_err(storage)?;
        let t = txn.open_table(layout::EXPIRING).map_err(storage)?;
        let found = t.get(key).map_err(storage)?;
        Ok(found.and_then(|raw| match expiry_of(raw.value()) {
            Some((exp, v)) if exp > now => Some(v.to_vec()),
            _ => None,
        }))
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
        let txn = self.db.begin_read().map_err(storage)?;
        let t = txn.open_table(layout::LOG_HEADS).map_err(storage)?;
        let found = t.get(log.name()).map_err(storage)?;
        found
            .map(|v| super::decode(Table::Meta, v.value()))
            .transpose()
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
        let txn = self.db.begin_read().map_err(storage)?;
        let name = log_table_name(log);
        let t = txn.open_table(layout::log(&name)).map_err(storage)?;
        let mut out = Vec::new();
        for item in t.range(from_seq..).map_err(storage)?.take(limit) {
            let (k, v) = item.map_err(storage)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
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
        if counters.len() > 100_000 {
            counters.retain(|_, (end, _)| *end > now);
        }
        let slot = counters.entry(key.to_owned()).or_insert((window_end, 0));
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
        let txn = self.db.begin_read().map_err(storage)?;
        let t = txn.open_table(layout::LISTS).map_err(storage)?;
        lists::range(&t, list, from, limit)
    }

    async fn sweep_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        match self.write(Op::Sweep { now }).await? {
            Reply::Count(n) => Ok(n),
            _ => Err(unexpected()),
        }
    }
}
