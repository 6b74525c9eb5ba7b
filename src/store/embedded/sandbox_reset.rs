//! Starting a sandbox over: everything citizens did goes, what the sandbox was built from stays.

use std::path::Path;

use redb::ReadableTableMetadata;

use super::handle::open_file;
use super::layout;
use super::storage;
use crate::store::{StoreError, Table};

/// What [`reset`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SandboxReset {
    pub accounts: u64,
    /// Everything else: sessions, OIDC state, consents, history, outbox, rate counters, cards.
    pub other_records: u64,
}

/// Tables holding only what citizens and relying parties did.
const CLEARED: [Table; 4] = [
    Table::Accounts,
    Table::Subjects,
    Table::Cards,
    Table::HistoryBatches,
];

/// Empties the embedded store at `path` of accounts, sessions, OIDC state, consents, cards,
/// usage history, the SMS outbox and rate counters, in one transaction; keeps the registry
/// (people, templates, facts), the relying parties, the audit log and the `meta` records named
/// in `keep_meta`. The gateway must not be running (the file is opened exclusively).
pub fn reset(path: &Path, keep_meta: &[&str]) -> Result<SandboxReset, StoreError> {
    // Opening applies the journal and checkpoints it, so the reset below, a durable commit,
    // leaves nothing in the journal to be applied again on top of it.
    let db = open_file(path, 16 << 20)?.db;
    let txn = db.begin_write().map_err(storage)?;
    let mut report = SandboxReset::default();
    for table in CLEARED {
        let mut t = txn
            .open_table(layout::records(table.name()))
            .map_err(storage)?;
        let n = t.len().map_err(storage)?;
        t.retain(|_, _| false).map_err(storage)?;
        if table == Table::Accounts {
            report.accounts = n;
        } else {
            report.other_records += n;
        }
    }
    {
        let mut meta = txn
            .open_table(layout::records(Table::Meta.name()))
            .map_err(storage)?;
        let before = meta.len().map_err(storage)?;
        meta.retain(|k, _| keep_meta.contains(&k))
            .map_err(storage)?;
        report.other_records += before - meta.len().map_err(storage)?;
    }
    {
        let mut t = txn.open_table(layout::EXPIRING).map_err(storage)?;
        report.other_records += t.len().map_err(storage)?;
        t.retain(|_, _| false).map_err(storage)?;
        txn.open_table(layout::EXPIRING_BY_TIME)
            .map_err(storage)?
            .retain(|_, _| false)
            .map_err(storage)?;
    }
    {
        let mut segments = txn.open_table(layout::LISTS).map_err(storage)?;
        report.other_records += segments.len().map_err(storage)?;
        segments.retain(|_, _| false).map_err(storage)?;
    }
    txn.commit().map_err(storage)?;
    Ok(report)
}
