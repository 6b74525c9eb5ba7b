//! The embedded store's one writer: a thread that applies queued writes in order, gathering
//! whatever is queued into a single transaction and committing it with fsync before answering
//! any of them (group commit). Because one thread applies writes in order, read-modify-write
//! operations (insert-if-absent, take, increment, log append) are atomic without further locking.

use std::sync::mpsc;

use redb::{Database, ReadableTable, WriteTransaction};
use tokio::sync::oneshot;

use super::handle::DatabaseHandle;
use super::{layout, lists, log_table_name, storage};
use crate::clock::Timestamp;
use crate::store::{Log, LogHead, PutMode, StoreError, Table, Taken, WriteBatch, decode, encode};

/// How many queued writes one commit may gather.
const MAX_BATCH: usize = 1024;

/// How long the writer waits for more writes before committing a batch, when writes are
/// arriving concurrently (the last batch held more than one).
const LINGER: std::time::Duration = std::time::Duration::from_micros(300);

pub(super) enum Op {
    /// A write that only proves the store can commit (readiness).
    Probe {
        now: Timestamp,
    },
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

pub(super) enum Reply {
    Done,
    Flag(bool),
    Value(Option<Vec<u8>>),
    Count(u64),
    Taken(Taken),
}

pub(super) struct Request {
    pub(super) op: Op,
    pub(super) reply: oneshot::Sender<Result<Reply, StoreError>>,
}

/// Applies queued writes until the store is dropped: gathers what is queued into one
/// transaction and commits it (group commit), answering each request once the commit is durable.
pub(super) fn writer_loop(db: &DatabaseHandle, rx: mpsc::Receiver<Request>) {
    let mut concurrent = false;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        // Under concurrent writes, linger a moment so that they share the commit: one commit
        // costs about the same for one operation as for hundreds. A lone writer (the last batch
        // held one) commits at once: lingering would only add to its latency.
        let linger = if concurrent {
            LINGER
        } else {
            std::time::Duration::ZERO
        };
        let linger_until = std::time::Instant::now() + linger;
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
        concurrent = batch.len() > 1;
        let outcome = db.write(|db| apply_batch(db, &batch));
        match outcome {
            Ok(replies) => {
                for (req, reply) in batch.into_iter().zip(replies) {
                    let _ = req.reply.send(reply);
                }
            }
            // Nothing of the batch was committed: no request may think its write landed.
            Err(e) => {
                for req in batch {
                    let _ = req.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Applies every queued operation in one transaction and commits it; per-operation outcomes
/// come back in order. An operation that fails is left out whole — the transaction is abandoned
/// and the batch applied again without it — so a failed operation never leaves half its writes
/// behind. An error from the commit itself fails the whole batch.
fn apply_batch(
    db: &Database,
    batch: &[Request],
) -> Result<Vec<Result<Reply, StoreError>>, StoreError> {
    let mut failed: Vec<Option<StoreError>> = vec![None; batch.len()];
    'attempt: loop {
        let txn = db.begin_write().map_err(storage)?;
        let mut replies = Vec::with_capacity(batch.len());
        for (i, req) in batch.iter().enumerate() {
            if let Some(e) = &failed[i] {
                replies.push(Err(e.clone()));
                continue;
            }
            match apply(&txn, &req.op) {
                Ok(reply) => replies.push(Ok(reply)),
                Err(e) => {
                    failed[i] = Some(e);
                    // Dropping the transaction abandons it.
                    drop(txn);
                    continue 'attempt;
                }
            }
        }
        txn.commit().map_err(storage)?;
        return Ok(replies);
    }
}

pub(super) fn expiry_of(raw: &[u8]) -> Option<(Timestamp, &[u8])> {
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

fn apply(txn: &WriteTransaction, op: &Op) -> Result<Reply, StoreError> {
    match op {
        Op::Probe { now } => {
            let mut t = txn
                .open_table(layout::records(Table::Meta.name()))
                .map_err(storage)?;
            t.insert("readiness-probe", now.millis().to_be_bytes().as_slice())
                .map_err(storage)?;
            Ok(Reply::Done)
        }
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
            for (k, v) in entries {
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
            if *mode == PutMode::IfAbsent && live_expiring(txn, key, *now)?.is_some() {
                return Ok(Reply::Flag(false));
            }
            write_expiring(txn, key, *expires_at, value)?;
            Ok(Reply::Flag(true))
        }
        Op::TakeExpiring { key, now } => {
            let live = live_expiring(txn, key, *now)?;
            remove_expiring(txn, key)?;
            Ok(Reply::Value(live.map(|(_, v)| v)))
        }
        Op::TakeOnce {
            key,
            used_key,
            mark,
            mark_expires,
            now,
        } => {
            if let Some((_, first_mark)) = live_expiring(txn, used_key, *now)? {
                return Ok(Reply::Taken(Taken::Used(first_mark)));
            }
            let Some((_, value)) = live_expiring(txn, key, *now)? else {
                return Ok(Reply::Taken(Taken::Absent));
            };
            remove_expiring(txn, key)?;
            write_expiring(txn, used_key, *mark_expires, mark)?;
            Ok(Reply::Taken(Taken::Value(value)))
        }
        Op::Increment {
            key,
            expires_at,
            now,
        } => {
            let (exp, count) = match live_expiring(txn, key, *now)? {
                Some((exp, v)) => {
                    let bytes: [u8; 8] = v.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt(format!("counter {key} is not a number"))
                    })?;
                    (exp, u64::from_be_bytes(bytes).saturating_add(1))
                }
                None => (*expires_at, 1),
            };
            write_expiring(txn, key, exp, &count.to_be_bytes())?;
            Ok(Reply::Count(count))
        }
        Op::AppendLog { log, entry, head } => {
            let mut heads = txn.open_table(layout::LOG_HEADS).map_err(storage)?;
            let current = match heads.get(log.name()).map_err(storage)? {
                Some(v) => decode::<LogHead>(Table::Meta, v.value())?.seq,
                None => 0,
            };
            if head.seq != current + 1 {
                return Ok(Reply::Flag(false));
            }
            heads
                .insert(log.name(), encode(head)?.as_slice())
                .map_err(storage)?;
            drop(heads);
            let name = log_table_name(*log);
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
            if live_expiring(txn, marker, *now)?.is_some() {
                return Ok(Reply::Flag(false));
            }
            write_expiring(txn, marker, *marker_expires, &[])?;
            lists::Writer::open(txn)?.append(list, &[entry.as_slice()])?;
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
            lists::Writer::open(txn)?.append(list, &[value.as_slice()])?,
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
