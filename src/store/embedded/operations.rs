//! What a write is and what it does: the operations the embedded store's writer queues and
//! journals ([`Op`]), and how each applies to a redb transaction ([`apply`]) — the same code
//! when a request is first written and when the journal is replayed at open, so a replayed
//! journal gives the same state again.

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{layout, lists, log_table_name, storage};
use crate::clock::Timestamp;
use crate::store::{Log, LogHead, PutMode, StoreError, Table, Taken, WriteBatch, decode, encode};

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

pub(super) fn apply(txn: &WriteTransaction, op: &Op) -> Result<Reply, StoreError> {
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
pub(super) mod tests {
    use super::*;

    pub(in crate::store::embedded) fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(1_800_000_000_000 + ms)
    }

    /// A verification's write: claim `marker`, append `entry` to one citizen's history.
    pub(in crate::store::embedded) fn claim(marker: &str, entry: &[u8]) -> Op {
        Op::ClaimAndAppend {
            marker: marker.into(),
            marker_expires: t(90_000),
            list: "history:001090000001".into(),
            entry: entry.to_vec(),
            now: t(0),
        }
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
