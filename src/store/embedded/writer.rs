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

use redb::{Database, Durability, ReadableDatabase, WriteTransaction};
use tokio::sync::oneshot;

use super::handle::DatabaseHandle;
use super::journal::{Journal, Record};
use super::operations::{Op, Reply, apply};
use super::{layout, storage};
use crate::store::StoreError;

/// How many queued writes one commit may gather.
const MAX_BATCH: usize = 1024;

/// How long the writer gathers more writes for a batch at most, when writes are arriving
/// concurrently (the last batch held more than one) ...
const LINGER: Duration = Duration::from_micros(1000);
/// ... and the pause that ends the gathering early when it brings no further write.
const LINGER_STEP: Duration = Duration::from_micros(100);

/// How much journaled writes may wait for a checkpoint (how long is configured): bounds both the
/// journal a crash leaves to replay and the pages redb holds in memory meanwhile.
const CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;

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
    let batch = gather(rx, first, concurrent);
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

/// `first` and the writes queued behind it, up to [`MAX_BATCH`].
fn gather<T>(rx: &mpsc::Receiver<T>, first: T, concurrent: bool) -> Vec<T> {
    gather_pausing(rx, first, concurrent, std::thread::sleep)
}

/// [`gather`], pausing with `pause` (the tests' stand-in for the request handlers that run
/// meanwhile).
fn gather_pausing<T>(
    rx: &mpsc::Receiver<T>,
    first: T,
    concurrent: bool,
    mut pause: impl FnMut(Duration),
) -> Vec<T> {
    let mut batch = vec![first];
    // Under concurrent writes, linger so that they share the commit: a commit costs about the
    // same for one operation as for hundreds, and each one makes redb copy the pages it touches
    // until the next checkpoint writes them all out. The linger lasts while writes keep coming —
    // it ends at the first pause that brings none, or at LINGER — so a closed loop of clients
    // is gathered whole and a trickle waits one pause. A lone writer (the last batch held one)
    // commits at once. The writer sleeps through each pause instead of waiting on the queue: a
    // waiting receiver is woken by every send, which on a busy core costs two context switches
    // per request, while a sleeping one leaves the core to the request handlers and collects
    // what they queued in one go.
    let linger_until = Instant::now() + if concurrent { LINGER } else { Duration::ZERO };
    let mut before_pause = None;
    loop {
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let left = linger_until.saturating_duration_since(Instant::now());
        if batch.len() == MAX_BATCH || left.is_zero() || before_pause == Some(batch.len()) {
            break;
        }
        before_pause = Some(batch.len());
        pause(left.min(LINGER_STEP));
    }
    batch
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::embedded::EmbeddedStore;
    use crate::store::embedded::operations::tests::{claim, t};

    /// Leaves `ops` in the journal as record `seq`, as a crash after the journal's sync and
    /// before the checkpoint would.
    fn journal_as_if_crashed(db_path: &std::path::Path, seq: u64, ops: &[Op]) {
        let (mut journal, _) = Journal::open(&super::super::journal_path(db_path)).unwrap();
        let ops: Vec<&Op> = ops.iter().collect();
        journal
            .append(seq, &postcard::to_allocvec(&ops).unwrap())
            .unwrap();
    }

    #[test]
    fn a_batch_takes_every_queued_write_up_to_its_limit() {
        for concurrent in [false, true] {
            let (tx, rx) = mpsc::channel();
            for i in 1..=MAX_BATCH + 10 {
                tx.send(i).unwrap();
            }
            let batch = gather(&rx, 0, concurrent);
            assert_eq!(batch, (0..MAX_BATCH).collect::<Vec<_>>());
            // The rest waits for the next batch, in order.
            let next = rx.recv().unwrap();
            assert_eq!(
                gather(&rx, next, concurrent),
                (MAX_BATCH..=MAX_BATCH + 10).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_lingering_batch_gathers_while_writes_keep_coming_and_stops_at_the_first_idle_pause() {
        let (tx, rx) = mpsc::channel();
        let mut pauses = 0;
        // Each of the first three pauses lets the handlers queue two more writes.
        let batch = gather_pausing(&rx, 0, true, |step| {
            assert_eq!(step, LINGER_STEP);
            pauses += 1;
            if pauses <= 3 {
                for k in 0..2 {
                    tx.send(pauses * 10 + k).unwrap();
                }
            }
        });
        assert_eq!(batch, vec![0, 10, 11, 20, 21, 30, 31]);
        assert_eq!(pauses, 4, "the pause that brought nothing ends the batch");

        // A lone writer commits at once: no pause.
        tx.send(1).unwrap();
        let batch = gather_pausing(&rx, 0, false, |_| panic!("paused for a lone writer"));
        assert_eq!(batch, vec![0, 1]);
    }

    #[test]
    fn a_batch_lingers_no_longer_than_its_limit_however_writes_trickle_in() {
        let (tx, rx) = mpsc::channel();
        let started = Instant::now();
        let mut next = 1;
        // One more write in every pause, for ever: only the limit ends the batch.
        let batch = gather_pausing(&rx, 0, true, |step| {
            std::thread::sleep(step);
            tx.send(next).unwrap();
            next += 1;
        });
        assert!(started.elapsed() >= LINGER);
        assert!(batch.len() > 1 && batch.len() < MAX_BATCH);
        assert!(batch.windows(2).all(|w| w[1] == w[0] + 1), "in order");
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
}
