//! The embedded store's one writer: a thread that applies queued writes in order, gathering
//! whatever is queued into a single transaction, making it durable in the [`journal`] and only
//! then committing it and answering any of them (group commit). Because one thread applies writes
//! in order, read-modify-write operations (insert-if-absent, take, increment, log append) are
//! atomic without further locking — and replaying the journal's operations in the same order, on
//! the state they were first applied to, gives the same state again.
//!
//! [`journal`]: super::journal

use std::sync::mpsc;
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::handle::DatabaseHandle;
use super::journal::{Journal, Record};
use super::{layout, lists, log_table_name, storage};
use crate::clock::Timestamp;
use crate::store::{Log, LogHead, PutMode, StoreError, Table, Taken, WriteBatch, decode, encode};

/// How many queued writes one commit may gather.
const MAX_BATCH: usize = 1024;

/// How long the writer waits for more writes before committing a batch, when writes are
/// arriving concurrently (the last batch held more than one).
const LINGER: Duration = Duration::from_micros(300);

/// How much journaled writes may wait for a checkpoint (how long is configured): bounds both the
/// journal a crash leaves to replay and the pages redb holds in memory meanwhile.
const CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;

/// A write, as queued and as journaled. Tables and logs are journaled by name; the variants by
/// position, so a change to this enum changes the journal's format (`journal::MAGIC`), which a
/// unit test below pins.
#[derive(Serialize, Deserialize)]
pub(super) enum Op {
    /// A write that only proves the store can commit (readiness).
    Probe {
        now: Timestamp,
    },
    Put {
        table: Table,
        key: String,
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
    InsertNew {
        table: Table,
        key: String,
        #[serde(with = "serde_bytes")]
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
        #[serde(with = "serde_bytes")]
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
        #[serde(with = "serde_bytes")]
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
        #[serde(with = "serde_bytes")]
        entry: Vec<u8>,
        head: LogHead,
    },
    WriteBatch {
        batch: WriteBatch,
    },
    ListPush {
        list: String,
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
    ClaimAndAppend {
        marker: String,
        marker_expires: Timestamp,
        list: String,
        #[serde(with = "serde_bytes")]
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
/// transaction and commits it (group commit), answering each request once its batch is durable.
pub(super) fn writer_loop(
    db: &DatabaseHandle,
    rx: mpsc::Receiver<Request>,
    checkpoint_every: Duration,
) {
    let mut concurrent = false;
    let mut checkpointed_at = Instant::now();
    loop {
        // With journaled writes waiting for a checkpoint, wait for work only until one is due:
        // a store gone quiet still writes its pages out.
        let first = if db.journal_pending_bytes() > 0 {
            let due = checkpointed_at + checkpoint_every;
            match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(r) => Some(r),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(r) => Some(r),
                Err(_) => break,
            }
        };
        if let Some(first) = first {
            concurrent = write_gathered(db, &rx, first, concurrent);
        }
        let pending = db.journal_pending_bytes();
        if pending >= CHECKPOINT_BYTES
            || (pending > 0 && checkpointed_at.elapsed() >= checkpoint_every)
        {
            checkpoint(db);
            checkpointed_at = Instant::now();
        }
    }
    // The store is being dropped: leave the file whole and the journal empty.
    if db.journal_pending_bytes() > 0 {
        checkpoint(db);
    }
}

/// Gathers `first` and whatever else is queued into one batch, applies it and answers each
/// request; `true` if the batch held more than one request.
fn write_gathered(
    db: &DatabaseHandle,
    rx: &mpsc::Receiver<Request>,
    first: Request,
    concurrent: bool,
) -> bool {
    let mut batch = vec![first];
    // Under concurrent writes, linger a moment so that they share the commit: one commit
    // costs about the same for one operation as for hundreds. A lone writer (the last batch
    // held one) commits at once: lingering would only add to its latency.
    let linger = if concurrent { LINGER } else { Duration::ZERO };
    let linger_until = Instant::now() + linger;
    while batch.len() < MAX_BATCH {
        let left = linger_until.saturating_duration_since(Instant::now());
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
    let gathered = batch.len() > 1;
    let outcome = db.write(|db, journal| apply_batch(db, journal, &batch));
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
    gathered
}

/// A durable redb commit, then an empty journal. A failure leaves the journal as it was (the
/// handle closes the file; opening it again replays what the file lacks).
fn checkpoint(db: &DatabaseHandle) {
    let started = Instant::now();
    let done = db.write(|db, journal| {
        let txn = db.begin_write().map_err(storage)?;
        mark_applied(&txn, journal.next_seq() - 1)?;
        txn.commit().map_err(storage)?;
        journal.reset()
    });
    match done {
        Ok(()) => db.record_checkpoint(started.elapsed()),
        Err(e) => {
            tracing::warn!(error = %e, "embedded store checkpoint failed; the journal keeps the writes");
        }
    }
}

fn mark_applied(txn: &WriteTransaction, seq: u64) -> Result<(), StoreError> {
    txn.open_table(layout::JOURNAL_APPLIED)
        .map_err(storage)?
        .insert(layout::JOURNAL_APPLIED_KEY, seq)
        .map_err(storage)?;
    Ok(())
}

fn applied_seq(db: &Database) -> Result<u64, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let table = match txn.open_table(layout::JOURNAL_APPLIED) {
        Ok(table) => table,
        // A file that never took a journaled write.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(storage(e)),
    };
    Ok(table
        .get(layout::JOURNAL_APPLIED_KEY)
        .map_err(storage)?
        .map_or(0, |v| v.value()))
}

/// Applies the journal's records that the database file does not hold yet, in order, commits
/// them durably and empties the journal. Called when the store opens (or opens again).
pub(super) fn replay(
    db: &Database,
    journal: &mut Journal,
    records: Vec<Record>,
) -> Result<(), StoreError> {
    let applied = applied_seq(db)?;
    let pending: Vec<Record> = records.into_iter().filter(|r| r.seq > applied).collect();
    if let Some(first) = pending.first()
        && first.seq != applied + 1
    {
        return Err(StoreError::Corrupt(format!(
            "the journal resumes at record {} but the database holds records up to {applied}: \
             writes in between are missing",
            first.seq
        )));
    }
    journal.continue_after(applied);
    let Some(last) = pending.last().map(|r| r.seq) else {
        return journal.reset();
    };
    let txn = db.begin_write().map_err(storage)?;
    for record in &pending {
        let ops: Vec<Op> = postcard::from_bytes(&record.payload).map_err(|e| {
            StoreError::Corrupt(format!(
                "journal record {} does not decode: {e}",
                record.seq
            ))
        })?;
        for op in &ops {
            apply(&txn, op).map_err(|e| {
                StoreError::Corrupt(format!(
                    "journal record {} does not apply again: {e}",
                    record.seq
                ))
            })?;
        }
    }
    mark_applied(&txn, last)?;
    txn.commit().map_err(storage)?;
    journal.continue_after(last);
    journal.reset()?;
    tracing::info!(
        records = pending.len(),
        "embedded store: applied the journal's writes the database file lacked"
    );
    Ok(())
}

/// Applies every queued operation in one transaction, journals the ones that succeeded and
/// commits; per-operation outcomes come back in order. An operation that fails is left out whole
/// — the transaction is abandoned and the batch applied again without it — so a failed operation
/// never leaves half its writes behind. An error from the journal or the commit fails the whole
/// batch.
fn apply_batch(
    db: &Database,
    journal: &mut Journal,
    batch: &[Request],
) -> Result<Vec<Result<Reply, StoreError>>, StoreError> {
    let mut failed: Vec<Option<StoreError>> = vec![None; batch.len()];
    'attempt: loop {
        let mut txn = db.begin_write().map_err(storage)?;
        // The journal makes the batch durable; the pages reach the file at the next checkpoint.
        txn.set_durability(Durability::None).map_err(storage)?;
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
        let applied: Vec<&Op> = batch
            .iter()
            .zip(&failed)
            .filter(|(_, f)| f.is_none())
            .map(|(req, _)| &req.op)
            .collect();
        if applied.is_empty() {
            return Ok(replies);
        }
        let seq = journal.next_seq();
        mark_applied(&txn, seq)?;
        let payload = postcard::to_allocvec(&applied)
            .map_err(|e| StoreError::Storage(format!("cannot journal a batch: {e}")))?;
        journal.append(seq, &payload)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::embedded::EmbeddedStore;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(1_800_000_000_000 + ms)
    }

    /// Leaves `ops` in the journal as record `seq`, as a crash after the journal's sync and
    /// before the checkpoint would.
    fn journal_as_if_crashed(db_path: &std::path::Path, seq: u64, ops: &[Op]) {
        let (mut journal, _) = Journal::open(&super::super::journal_path(db_path)).unwrap();
        let ops: Vec<&Op> = ops.iter().collect();
        journal
            .append(seq, &postcard::to_allocvec(&ops).unwrap())
            .unwrap();
    }

    fn claim(marker: &str, entry: &[u8]) -> Op {
        Op::ClaimAndAppend {
            marker: marker.into(),
            marker_expires: t(90_000),
            list: "history:001090000001".into(),
            entry: entry.to_vec(),
            now: t(0),
        }
    }

    #[tokio::test]
    async fn writes_only_the_journal_holds_are_applied_when_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        drop(EmbeddedStore::open(&path).unwrap());
        journal_as_if_crashed(
            &path,
            1,
            &[claim("jti:a", b"first"), claim("jti:b", b"second")],
        );
        let store = EmbeddedStore::open(&path).unwrap();
        let history = store
            .list_range("history:001090000001", 1, 10)
            .await
            .unwrap();
        assert_eq!(
            history,
            vec![(1, b"first".to_vec()), (2, b"second".to_vec())]
        );
        // The replayed marker holds: the token is used.
        assert!(
            !store
                .claim_and_append("jti:a", t(90_000), "history:x", b"again".to_vec(), t(1))
                .await
                .unwrap()
        );
        drop(store);
        // Applied once: a second open finds an empty journal.
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(
            store
                .list_range("history:001090000001", 1, 10)
                .await
                .unwrap()
                .len(),
            2
        );
        drop(store);
        let (_, records) = Journal::open(&super::super::journal_path(&path)).unwrap();
        assert!(records.is_empty(), "the journal reads as empty");
    }

    #[tokio::test]
    async fn old_records_are_not_applied_to_a_database_file_that_replaced_a_lost_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = EmbeddedStore::open(&path).unwrap();
        for (i, marker) in ["jti:a", "jti:b"].into_iter().enumerate() {
            assert!(
                store
                    .claim_and_append(marker, t(90_000), "history:x", vec![i as u8], t(0))
                    .await
                    .unwrap()
            );
        }
        // Closing checkpoints; the journal file keeps its size, the records still in it.
        drop(store);
        std::fs::remove_file(&path).unwrap();
        let store = EmbeddedStore::open(&path).unwrap();
        assert!(
            store
                .list_range("history:x", 1, 10)
                .await
                .unwrap()
                .is_empty(),
            "the lost database's writes came back from old journal records"
        );
        assert!(
            store
                .claim_and_append("jti:a", t(90_000), "history:x", vec![9], t(1))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_record_the_file_already_holds_is_not_applied_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = EmbeddedStore::open(&path).unwrap();
        assert!(
            store
                .claim_and_append(
                    "jti:a",
                    t(90_000),
                    "history:001090000001",
                    b"first".to_vec(),
                    t(0)
                )
                .await
                .unwrap()
        );
        drop(store);
        // The store's first batch was record 1, and its checkpoint holds it: a journal that
        // still has it (the header written after the checkpoint did not reach the disk) must not
        // apply it again.
        let (mut journal, _) = Journal::open(&super::super::journal_path(&path)).unwrap();
        journal.start_after(0).unwrap();
        drop(journal);
        journal_as_if_crashed(&path, 1, &[claim("jti:a", b"first")]);
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(
            store
                .list_range("history:001090000001", 1, 10)
                .await
                .unwrap(),
            vec![(1, b"first".to_vec())]
        );
    }

    #[tokio::test]
    async fn a_journal_that_skips_records_the_file_lacks_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        drop(EmbeddedStore::open(&path).unwrap());
        journal_as_if_crashed(&path, 5, &[claim("jti:a", b"first")]);
        assert!(matches!(
            EmbeddedStore::open(&path),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn journaled_writes_wait_for_the_configured_checkpoint_interval() {
        use crate::store::embedded::EmbeddedOptions;
        let dir = tempfile::tempdir().unwrap();
        let open = |every_ms: u64, name: &str| {
            EmbeddedStore::open_with(
                &dir.path().join(name),
                EmbeddedOptions {
                    checkpoint_every: Duration::from_millis(every_ms),
                    ..EmbeddedOptions::default()
                },
            )
            .unwrap()
        };
        async fn claim_one(store: &EmbeddedStore) {
            assert!(
                store
                    .claim_and_append("jti:a", t(90_000), "history:x", vec![1], t(0))
                    .await
                    .unwrap()
            );
        }
        let rare = open(60_000, "rare.redb");
        claim_one(&rare).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            rare.checkpoints().count,
            0,
            "checkpointed before its interval"
        );
        let often = open(20, "often.redb");
        claim_one(&often).await;
        let mut waited = 0;
        while often.checkpoints().count == 0 && waited < 100 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += 1;
        }
        assert_eq!(often.checkpoints().count, 1, "one write, one checkpoint");
        assert!(often.checkpoints().last > Duration::ZERO);
    }

    #[test]
    fn the_journal_encoding_of_an_operation_is_pinned() {
        // If this fails, the journal's format changed: change `journal::MAGIC` with it, so that
        // a journal left by the older gateway is refused rather than misread.
        let ops = vec![
            Op::Put {
                table: Table::Accounts,
                key: "k".into(),
                value: b"v".to_vec(),
            },
            claim("m", b"e"),
        ];
        let bytes = postcard::to_allocvec(&ops).unwrap();
        assert_eq!(
            hex::encode(&bytes),
            "0201086163636f756e7473016b01760c016da0beed85e36814686973746f72793a303031303930303030303031016580c0e285e368"
        );
        let back: Vec<Op> = postcard::from_bytes(&bytes).unwrap();
        assert!(
            matches!(&back[0], Op::Put { table: Table::Accounts, key, value } if key == "k" && value == b"v")
        );
    }
}
