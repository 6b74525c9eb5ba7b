//! Lists on the embedded store, kept in segments.
//!
//! A list is a sequence of entries numbered from 1. Each write appends one *segment*: all the
//! entries it adds to that list, under the key of the first one's position ([`layout::list_key`]).
//! A match batch adds thousands of entries to the same lists at once, and one B-tree insert per
//! list instead of one per entry is most of the writer's work saved; a single append is a
//! segment of one. A list's length is its last segment's first position and entry count, read
//! from the leaf the append then writes to: a table of lengths was a second B-tree to read and
//! rewrite at every append — scattered over a million citizens' lists in a match batch, a third
//! of the writer's work.

use redb::{ReadableTable, Table, WriteTransaction};

use super::layout;
use super::{StoreError, storage};
use crate::store::ListAppends;

/// Entries as a segment stores them: each as its length (4 bytes, big-endian) and its bytes.
fn encode<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
    size: usize,
) -> Result<Vec<u8>, StoreError> {
    let mut segment = Vec::with_capacity(size);
    for entry in entries {
        let length = u32::try_from(entry.len())
            .map_err(|_| StoreError::Storage("a list entry is at most 4 GiB".into()))?;
        segment.extend_from_slice(&length.to_be_bytes());
        segment.extend_from_slice(entry);
    }
    Ok(segment)
}

/// The entries of a segment, in order.
fn decode(segment: &[u8]) -> impl Iterator<Item = Result<&[u8], StoreError>> {
    let mut rest = segment;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let entry = rest
            .split_first_chunk::<4>()
            .and_then(|(length, after)| {
                let length = usize::try_from(u32::from_be_bytes(*length)).ok()?;
                after.split_at_checked(length)
            })
            .map(|(entry, after)| {
                rest = after;
                entry
            })
            .ok_or_else(|| StoreError::Corrupt("a list segment is cut short".into()));
        if entry.is_err() {
            rest = &[];
        }
        Some(entry)
    })
}

/// The position a segment's key names.
fn first_position(list: &str, key: &[u8]) -> Result<u64, StoreError> {
    key.last_chunk::<8>()
        .map(|b| u64::from_be_bytes(*b))
        .ok_or_else(|| StoreError::Corrupt(format!("list {list} has a short key")))
}

/// The number of entries in `list`: the position of its last segment's last entry.
fn length(
    segments: &impl ReadableTable<&'static [u8], &'static [u8]>,
    list: &str,
) -> Result<u64, StoreError> {
    let (start, end) = (
        layout::list_key(list, 0)?,
        layout::list_key(list, u64::MAX)?,
    );
    let Some(last) = segments
        .range(start.as_slice()..=end.as_slice())
        .map_err(storage)?
        .next_back()
    else {
        return Ok(0);
    };
    let (key, segment) = last.map_err(storage)?;
    let first = first_position(list, key.value())?;
    let mut count = 0u64;
    for entry in decode(segment.value()) {
        entry?;
        count += 1;
    }
    if count == 0 {
        return Err(StoreError::Corrupt(format!(
            "list {list} has an empty segment at {first}"
        )));
    }
    Ok(first + count - 1)
}

/// The open table an append writes to.
pub(super) struct Writer<'txn> {
    segments: Table<'txn, &'static [u8], &'static [u8]>,
}

impl<'txn> Writer<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            segments: txn.open_table(layout::LISTS).map_err(storage)?,
        })
    }

    /// Appends `entries` (at least one) to `list` as one segment; returns the last position.
    pub(super) fn append(&mut self, list: &str, entries: &[&[u8]]) -> Result<u64, StoreError> {
        let length = length(&self.segments, list)?;
        if entries.is_empty() {
            return Ok(length);
        }
        let first = length + 1;
        let size = entries.iter().map(|e| 4 + e.len()).sum();
        let segment = encode(entries.iter().copied(), size)?;
        self.segments
            .insert(
                layout::list_key(list, first)?.as_slice(),
                segment.as_slice(),
            )
            .map_err(storage)?;
        Ok(first + entries.len() as u64 - 1)
    }

    /// Appends every entry of `appends`, each list's in the order given: one segment per list.
    pub(super) fn append_all(&mut self, appends: &ListAppends) -> Result<(), StoreError> {
        // Grouped by list (stable, so each list keeps the callers' order); the inserts then walk
        // the key order instead of hopping about the tree.
        let mut sorted: Vec<(&str, &[u8])> = appends.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut values: Vec<&[u8]> = Vec::new();
        for group in sorted.chunk_by(|a, b| a.0 == b.0) {
            values.clear();
            values.extend(group.iter().map(|(_, v)| *v));
            self.append(group[0].0, &values)?;
        }
        Ok(())
    }
}

/// Entries of `list` from position `from` (1-based, inclusive), at most `limit`, in order.
pub(super) fn range(
    segments: &impl ReadableTable<&'static [u8], &'static [u8]>,
    list: &str,
    from: u64,
    limit: usize,
) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let from = from.max(1);
    let (start, end) = (
        layout::list_key(list, 0)?,
        layout::list_key(list, u64::MAX)?,
    );
    let wanted = layout::list_key(list, from)?;
    // The segment holding `from` is the last one starting at or before it.
    let first_key = match segments
        .range(start.as_slice()..=wanted.as_slice())
        .map_err(storage)?
        .next_back()
    {
        Some(found) => found.map_err(storage)?.0.value().to_vec(),
        None => wanted,
    };
    let mut out = Vec::new();
    for item in segments
        .range(first_key.as_slice()..=end.as_slice())
        .map_err(storage)?
    {
        let (key, segment) = item.map_err(storage)?;
        let first = first_position(list, key.value())?;
        for (position, entry) in (first..).zip(decode(segment.value())) {
            if out.len() == limit {
                return Ok(out);
            }
            let entry = entry?;
            if position >= from {
                out.push((position, entry.to_vec()));
            }
        }
    }
    Ok(out)
}

/// Moves the entries of a store written before lists were kept in segments (one tuple-keyed
/// entry each), in the transaction that opens the store: all of them or none.
pub(super) fn move_tuple_keyed(txn: &WriteTransaction) -> Result<(), StoreError> {
    use redb::TableHandle;
    let old_name = layout::TUPLE_KEYED_LISTS.name();
    let present = txn
        .list_tables()
        .map_err(storage)?
        .any(|t| t.name() == old_name);
    if !present {
        return Ok(());
    }
    {
        let old = txn.open_table(layout::TUPLE_KEYED_LISTS).map_err(storage)?;
        let mut segments = txn.open_table(layout::LISTS).map_err(storage)?;
        for item in old.iter().map_err(storage)? {
            let (k, v) = item.map_err(storage)?;
            let (list, position) = k.value();
            let entry = v.value();
            segments
                .insert(
                    layout::list_key(list, position)?.as_slice(),
                    encode([entry], 4 + entry.len())?.as_slice(),
                )
                .map_err(storage)?;
        }
    }
    txn.delete_table(layout::TUPLE_KEYED_LISTS)
        .map_err(storage)?;
    Ok(())
}

/// Drops the table of list lengths that stores written before 2026-12 kept: lengths are read
/// from the lists themselves now.
pub(super) fn drop_lengths(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.delete_table(layout::LIST_LENGTHS).map_err(storage)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_gives_back_its_entries_whole_and_in_order() {
        let entries: [&[u8]; 4] = [b"one", b"", b"three", &[0, 0, 0, 9]];
        let segment = encode(entries, 0).unwrap();
        let back: Vec<&[u8]> = decode(&segment).map(Result::unwrap).collect();
        assert_eq!(back, entries);
        assert_eq!(decode(&[]).count(), 0);
    }

    #[test]
    fn positions_follow_on_from_the_last_segment_of_each_list_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("db.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut w = Writer::open(&txn).unwrap();
            assert_eq!(w.append("history:a", &[b"1"]).unwrap(), 1);
            assert_eq!(w.append("history:a", &[b"2", b"3", b"4"]).unwrap(), 4);
            // A name that extends another is another list.
            assert_eq!(w.append("history:ab", &[b"x"]).unwrap(), 1);
            assert_eq!(w.append("history:", &[b"y", b"z"]).unwrap(), 2);
            assert_eq!(w.append("history:a", &[b"5"]).unwrap(), 5);
            assert_eq!(w.append("history:a", &[]).unwrap(), 5);
            assert_eq!(length(&w.segments, "history:b").unwrap(), 0);
            let all = range(&w.segments, "history:a", 1, 10).unwrap();
            let positions: Vec<u64> = all.iter().map(|(p, _)| *p).collect();
            assert_eq!(positions, [1, 2, 3, 4, 5]);
            assert_eq!(all[4].1, b"5");
        }
        txn.commit().unwrap();
    }

    #[test]
    fn a_cut_segment_is_corrupt_not_shorter() {
        let segment = encode([&b"entry"[..], b"next"], 0).unwrap();
        for cut in [1, 6, 10, 12] {
            let read: Vec<_> = decode(&segment[..cut]).collect();
            assert!(read.last().unwrap().is_err(), "cut at {cut}: {read:?}");
        }
    }
}
