//! The database file, and what happens when the disk fails under it.
//!
//! After an I/O error (a full disk, above all) redb refuses every later operation on that
//! `Database` ("Previous I/O error occurred"): only closing and opening the file again clears it.
//! So the handle closes the database when a write fails below the transaction, answers
//! [`StoreError::Unavailable`] (503) for reads and writes while it is closed, and tries to open
//! it again at the next write. Nothing answers a success in between: a batch whose commit failed
//! is answered with the error, whole.
//!
//! A full disk is also watched for before it bites: below a low-water mark of free space
//! (`store.min_free_mib`) writes are refused up front — redb reuses pages freed inside its file,
//! so small commits can still succeed on a full disk while larger ones fail part-way, and a store
//! that half works is worse than one that says it cannot write. The file is opened again only
//! once the disk is back above the mark.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use redb::Database;

use super::journal::Journal;
use super::{layout, lists, log_table_name, storage, writer};
use crate::store::{Checkpoints, Log, StoreError, Table};

/// The open database and its journal: they open, close and open again together, since the
/// journal holds writes the database file may not have yet.
pub(super) struct OpenStore {
    pub(super) db: Database,
    /// Only the writer thread appends; the lock is never contended.
    journal: std::sync::Mutex<Journal>,
}

pub(super) struct DatabaseHandle {
    path: PathBuf,
    cache_bytes: usize,
    /// Free space the disk must keep for writes to go ahead (0: not checked).
    min_free_bytes: u64,
    /// `None` while closed after an I/O failure. Readers hold the read lock only for the length
    /// of one synchronous read; closing takes the write lock, so no read is in flight when the
    /// file is closed and opened again.
    db: RwLock<Option<OpenStore>>,
    /// When opening again was last tried: at most every [`REOPEN_PAUSE`], however many writes
    /// arrive meanwhile (each is answered 503 at once).
    last_reopen: std::sync::Mutex<Option<std::time::Instant>>,
    checkpoints: std::sync::Mutex<Checkpoints>,
}

const REOPEN_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

fn closed() -> StoreError {
    StoreError::Unavailable("the embedded store cannot write to its disk; retrying".into())
}

/// Errors from below a transaction: the disk or the file, not the data.
fn failed_io(e: &StoreError) -> bool {
    matches!(e, StoreError::Storage(_))
}

/// The journal beside the database file.
pub fn journal_path(path: &Path) -> PathBuf {
    path.with_extension("journal")
}

/// Opens (or creates) the file, creating every table up front so that readers never meet a
/// missing one, moving lists kept in an older layout, and applying the journal's writes the file
/// does not hold yet (a crash, or a close after a failed write).
pub(super) fn open_file(path: &Path, cache_bytes: usize) -> Result<OpenStore, StoreError> {
    let db = redb::Builder::new()
        .set_cache_size(cache_bytes)
        .create(path)
        .map_err(|e| StoreError::Storage(format!("{}: {e}", path.display())))?;
    let txn = db.begin_write().map_err(storage)?;
    for table in Table::ALL {
        txn.open_table(layout::records(table.name()))
            .map_err(storage)?;
    }
    txn.open_table(layout::EXPIRING).map_err(storage)?;
    txn.open_table(layout::EXPIRING_BY_TIME).map_err(storage)?;
    txn.open_table(layout::LOG_HEADS).map_err(storage)?;
    txn.open_table(layout::LISTS).map_err(storage)?;
    txn.open_table(layout::JOURNAL_APPLIED).map_err(storage)?;
    lists::move_tuple_keyed(&txn)?;
    lists::drop_lengths(&txn)?;
    txn.open_table(layout::log(&log_table_name(Log::Audit)))
        .map_err(storage)?;
    txn.commit().map_err(storage)?;
    let (mut journal, records) = Journal::open(&journal_path(path))?;
    writer::replay(&db, &mut journal, records)?;
    Ok(OpenStore {
        db,
        journal: std::sync::Mutex::new(journal),
    })
}

impl DatabaseHandle {
    pub(super) fn open(
        path: &Path,
        cache_bytes: usize,
        min_free_bytes: u64,
    ) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(storage)?;
        }
        let db = open_file(path, cache_bytes)?;
        Ok(Self {
            path: path.to_owned(),
            cache_bytes,
            min_free_bytes,
            db: RwLock::new(Some(db)),
            last_reopen: std::sync::Mutex::new(None),
            checkpoints: std::sync::Mutex::new(Checkpoints::default()),
        })
    }

    /// Runs a read against the open database; `Unavailable` while it is closed.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_open(|open| f(&open.db))
    }

    /// Runs `f` on the open store (an error while it is closed).
    fn with_open<T>(
        &self,
        f: impl FnOnce(&OpenStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let guard = self
            .db
            .read()
            .map_err(|_| StoreError::Storage("the database lock is poisoned".into()))?;
        f(guard.as_ref().ok_or_else(closed)?)
    }

    /// Runs the writer's work against the database, opening it again first if an earlier write
    /// closed it. If the work fails below the transaction, the database is closed, to be opened
    /// again by the next write.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&Database, &mut Journal) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.check_free_space()?;
        self.reopen_if_closed()?;
        let outcome = self.with_journal(f);
        match outcome {
            Err(e) if failed_io(&e) => {
                tracing::error!(error = %e, file = %self.path.display(), "embedded store write failed; closing the file until writes succeed again");
                self.close();
                Err(closed())
            }
            other => other,
        }
    }

    fn with_journal<T>(
        &self,
        f: impl FnOnce(&Database, &mut Journal) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_open(|open| {
            let mut journal = open
                .journal
                .lock()
                .map_err(|_| StoreError::Storage("the journal lock is poisoned".into()))?;
            f(&open.db, &mut journal)
        })
    }

    pub(super) fn record_checkpoint(&self, took: std::time::Duration) {
        self.checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(took);
    }

    pub(super) fn checkpoints(&self) -> Checkpoints {
        *self.checkpoints.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes of journaled writes waiting for a checkpoint (0 while closed: opening again
    /// checkpoints them).
    pub(super) fn journal_pending_bytes(&self) -> u64 {
        self.db
            .read()
            .ok()
            .and_then(|g| {
                g.as_ref()
                    .and_then(|open| open.journal.lock().ok().map(|j| j.pending_bytes()))
            })
            .unwrap_or(0)
    }

    /// `Unavailable` while the disk holding the file is below the low-water mark.
    fn check_free_space(&self) -> Result<(), StoreError> {
        if self.min_free_bytes == 0 {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        match rustix::fs::statvfs(dir) {
            Ok(s) if s.f_bavail.saturating_mul(s.f_frsize) < self.min_free_bytes => {
                Err(StoreError::Unavailable(format!(
                    "the disk holding the embedded store has less than {} MiB free",
                    self.min_free_bytes / (1024 * 1024)
                )))
            }
            // A disk that cannot say how full it is is left to fail on the write itself.
            _ => Ok(()),
        }
    }

    fn close(&self) {
        let mut guard = self.db.write().unwrap_or_else(|p| p.into_inner());
        // Dropping the database releases the file (and its lock).
        guard.take();
    }

    fn reopen_if_closed(&self) -> Result<(), StoreError> {
        if self.is_open() {
            return Ok(());
        }
        {
            let mut last = self.last_reopen.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < REOPEN_PAUSE) {
                return Err(closed());
            }
            *last = Some(std::time::Instant::now());
        }
        let mut guard = self.db.write().unwrap_or_else(|p| p.into_inner());
        if guard.is_some() {
            return Ok(());
        }
        match open_file(&self.path, self.cache_bytes) {
            Ok(db) => {
                tracing::info!(file = %self.path.display(), "embedded store open again");
                *guard = Some(db);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "embedded store still cannot be opened");
                Err(closed())
            }
        }
    }

    pub(super) fn is_open(&self) -> bool {
        self.db.read().map(|g| g.is_some()).unwrap_or(false)
    }
}
