//! The embedded store's write-ahead journal: what makes a write durable.
//!
//! A redb commit that is durable on its own rewrites the copy-on-write path of every B-tree it
//! touched and syncs the file: about fourteen scattered writes and an fsync, for a verification
//! that only adds a replay marker and a history entry. So the writer commits to redb with
//! `Durability::None` (the pages stay in memory, visible to readers) and makes the batch durable
//! here first, as one sequential append and one `fdatasync`. Every so often a *checkpoint* — a
//! durable redb commit — writes the pages out, and the journal starts empty again.
//!
//! Each record holds the operations of one committed batch and a sequence number; every batch
//! also writes its number into redb (`journal_applied`) in the same transaction. So whatever state
//! redb's file holds after a crash — the last checkpoint, or a later one redb persisted when it
//! was closed — says which records it already contains, and opening the store applies only the
//! ones after it, in order. A record cut short by a crash fails its checksum and is dropped
//! (its batch was never acknowledged: nothing is answered before the record is synced).
//!
//! Emptying the journal after a checkpoint does not shrink the file: the next records overwrite
//! the old ones from the start. An `fdatasync` after appending past the end of a file must also
//! write the file's new size (ext4 journals that: ~30 % more time and CPU per sync, measured);
//! one after overwriting blocks the file already has writes only the data. The old records left
//! behind are never read as new: emptying writes the last sequence number into the journal's
//! header, the first record must follow it and every later one its predecessor, and sequence
//! numbers only grow — so an old record is never in sequence, whatever database file the journal
//! is later opened beside (a lost one replaced by an empty file, say).
//!
//! File layout: an 8-byte magic naming the format, the sequence number the records follow (u64,
//! big-endian), then records of: payload length (u32, big-endian), CRC-32 of sequence and
//! payload (u32), sequence number (u64), payload — then, after the last record in sequence,
//! whatever older records the file still holds. The first format (`EIDJRN01`: no sequence number
//! in the header, a file emptied by truncation) is still read, and rewritten at the first
//! checkpoint.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// The format's name and version. A journal in another format is refused at open rather than
/// misread: change the magic with any change to the record or payload encoding.
const MAGIC: &[u8; 8] = b"EIDJRN02";
/// Magic and the sequence number the records follow.
const HEADER: usize = 16;
/// The first format: the magic alone, records after it starting at any number.
const MAGIC_V1: &[u8; 8] = b"EIDJRN01";
const RECORD_HEADER: usize = 16;

fn failed(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Storage(format!("journal {}: {what}: {e}", path.display()))
}

fn checksum(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_be_bytes());
    h.update(payload);
    h.finalize()
}

pub(super) struct Journal {
    path: PathBuf,
    file: File,
    /// Where the next record goes.
    len: u64,
    /// Where records start: [`HEADER`], or the first format's magic alone until the first
    /// checkpoint rewrites it.
    records_at: u64,
    /// The sequence number of the last record written or replayed (0: none yet).
    last_seq: u64,
}

/// A record read back at open.
pub(super) struct Record {
    pub(super) seq: u64,
    pub(super) payload: Vec<u8>,
}

impl Journal {
    /// Opens (or creates) the journal and reads its intact records, in order. What follows them
    /// — a record torn by a crash, records an earlier checkpoint already holds — is cut off the
    /// file.
    pub(super) fn open(path: &Path) -> Result<(Self, Vec<Record>), StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| failed(path, "cannot open", e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| failed(path, "cannot read", e))?;
        let mut journal = Self {
            path: path.to_owned(),
            file,
            len: 0,
            records_at: HEADER as u64,
            last_seq: 0,
        };
        let (records_at, follows) = match bytes.get(..HEADER) {
            Some(header) if header[..8] == *MAGIC => {
                let mut seq = [0u8; 8];
                seq.copy_from_slice(&header[8..]);
                (HEADER, Some(u64::from_be_bytes(seq)))
            }
            _ if bytes.get(..MAGIC_V1.len()) == Some(MAGIC_V1) => (MAGIC_V1.len(), None),
            // New, or cut before its header was synced: nothing was ever acknowledged from it.
            _ if bytes.len() < HEADER
                && (MAGIC.starts_with(&bytes) || bytes.starts_with(MAGIC)) =>
            {
                journal.start_after(0)?;
                return Ok((journal, Vec::new()));
            }
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "journal {} is not in a format this gateway reads; it was left untouched",
                    path.display()
                )));
            }
        };
        let (records, intact) = parse(&bytes[records_at..], follows);
        let intact = (records_at + intact) as u64;
        if intact < bytes.len() as u64 {
            // Either a record a crash cut short — never acknowledged, since nothing is answered
            // before its record is synced — or older records the file kept after a checkpoint.
            tracing::info!(
                journal = %path.display(),
                dropped_bytes = bytes.len() as u64 - intact,
                "the journal's bytes after its last record in sequence are cut off"
            );
            journal
                .file
                .set_len(intact)
                .and_then(|()| journal.file.sync_data())
                .map_err(|e| failed(path, "cannot cut the torn record", e))?;
        }
        journal.len = intact;
        journal.records_at = records_at as u64;
        journal.last_seq = records.last().map(|r| r.seq).or(follows).unwrap_or(0);
        Ok((journal, records))
    }

    /// The sequence number the next record will carry.
    pub(super) fn next_seq(&self) -> u64 {
        self.last_seq + 1
    }

    /// Numbers the records after `seq` (the state redb's file holds), once replay has brought
    /// redb that far.
    pub(super) fn continue_after(&mut self, seq: u64) {
        self.last_seq = self.last_seq.max(seq);
    }

    /// Appends one record and syncs it; when this returns, the batch survives a crash.
    pub(super) fn append(&mut self, seq: u64, payload: &[u8]) -> Result<(), StoreError> {
        let length = u32::try_from(payload.len())
            .map_err(|_| StoreError::Storage("a journal record is at most 4 GiB".into()))?;
        let mut record = Vec::with_capacity(RECORD_HEADER + payload.len());
        record.extend_from_slice(&length.to_be_bytes());
        record.extend_from_slice(&checksum(seq, payload).to_be_bytes());
        record.extend_from_slice(&seq.to_be_bytes());
        record.extend_from_slice(payload);
        let written = self
            .file
            .seek(SeekFrom::Start(self.len))
            .and_then(|_| self.file.write_all(&record))
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // What was written may be a torn record; the store closes on this error and the
            // next open cuts it off.
            return Err(failed(&self.path, "cannot append", e));
        }
        self.len += record.len() as u64;
        self.last_seq = seq;
        Ok(())
    }

    /// Empties the journal once a checkpoint holds everything in it: the header names the
    /// last record, and the next one goes right after the header, over the old ones (see the
    /// module's notes). Sequence numbers go on from where they were.
    pub(super) fn reset(&mut self) -> Result<(), StoreError> {
        self.start_after(self.last_seq)
    }

    /// Writes the header — records follow `seq` — and syncs it: no record before it is read
    /// again.
    pub(super) fn start_after(&mut self, seq: u64) -> Result<(), StoreError> {
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&seq.to_be_bytes());
        self.file
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.file.write_all(&header))
            .and_then(|()| self.file.sync_data())
            .map_err(|e| failed(&self.path, "cannot empty", e))?;
        self.records_at = HEADER as u64;
        self.len = HEADER as u64;
        self.last_seq = seq;
        Ok(())
    }

    /// Bytes of records waiting for a checkpoint.
    pub(super) fn pending_bytes(&self) -> u64 {
        self.len.saturating_sub(self.records_at)
    }
}

/// The intact records at the start of `bytes`, and how many bytes they take: the first must
/// come after `follows` (when the header names it), every later one right after its
/// predecessor. Parsing stops
/// at the first record that is short, fails its checksum, or breaks the sequence.
fn parse(bytes: &[u8], follows: Option<u64>) -> (Vec<Record>, usize) {
    let mut records: Vec<Record> = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + RECORD_HEADER) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let mut seq_bytes = [0u8; 8];
        seq_bytes.copy_from_slice(&header[8..16]);
        let seq = u64::from_be_bytes(seq_bytes);
        let Some(payload) = bytes.get(at + RECORD_HEADER..at + RECORD_HEADER + length) else {
            break;
        };
        // A first record numbered past the header's is left for replay to refuse (records
        // between are missing); one at or below it is an old record.
        let in_sequence = match records.last() {
            Some(r) => r.seq + 1 == seq,
            None => follows.is_none_or(|f| seq > f),
        };
        if seq == 0 || !in_sequence || checksum(seq, payload) != crc {
            break;
        }
        records.push(Record {
            seq,
            payload: payload.to_vec(),
        });
        at += RECORD_HEADER + length;
    }
    (records, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reopen(path: &Path) -> (Journal, Vec<(u64, Vec<u8>)>) {
        let (j, records) = Journal::open(path).unwrap();
        (j, records.into_iter().map(|r| (r.seq, r.payload)).collect())
    }

    #[test]
    fn records_come_back_in_order_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut j, none) = reopen(&path);
        assert!(none.is_empty());
        assert_eq!(j.next_seq(), 1);
        j.append(1, b"first").unwrap();
        j.append(2, b"").unwrap();
        j.append(3, b"third").unwrap();
        drop(j);
        let (j, back) = reopen(&path);
        assert_eq!(
            back,
            vec![(1, b"first".to_vec()), (2, vec![]), (3, b"third".to_vec())]
        );
        assert_eq!(j.next_seq(), 4);
    }

    #[test]
    fn a_torn_last_record_is_dropped_and_cut_off_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut j, _) = reopen(&path);
        j.append(1, b"kept").unwrap();
        j.append(2, b"torn by the crash").unwrap();
        let full = std::fs::metadata(&path).unwrap().len();
        drop(j);
        for cut in [1, 5, 17, 20] {
            let copy = dir.path().join(format!("cut{cut}"));
            std::fs::copy(&path, &copy).unwrap();
            let f = OpenOptions::new().write(true).open(&copy).unwrap();
            f.set_len(full - cut).unwrap();
            drop(f);
            let (mut j, back) = reopen(&copy);
            assert_eq!(back, vec![(1, b"kept".to_vec())], "cut {cut}");
            // The next record follows the intact one, not the torn bytes.
            j.append(2, b"after").unwrap();
            drop(j);
            assert_eq!(reopen(&copy).1.len(), 2, "cut {cut}");
        }
    }

    #[test]
    fn a_flipped_bit_or_a_break_in_the_sequence_ends_the_journal_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut j, _) = reopen(&path);
        j.append(1, b"one").unwrap();
        j.append(2, b"two").unwrap();
        j.append(4, b"four: three is missing").unwrap();
        drop(j);
        assert_eq!(reopen(&path).1.len(), 2);
        let mut bytes = std::fs::read(&path).unwrap();
        let second_payload = HEADER + RECORD_HEADER + 3 + RECORD_HEADER;
        bytes[second_payload] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(reopen(&path).1, vec![(1, b"one".to_vec())]);
    }

    #[test]
    fn an_emptied_journal_is_overwritten_in_place_and_old_records_never_follow_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut j, _) = reopen(&path);
        j.append(1, &[b'a'; 300]).unwrap();
        j.append(2, b"bbbb").unwrap();
        j.append(3, b"cccc").unwrap();
        let high_water = std::fs::metadata(&path).unwrap().len();
        // A checkpoint holds 1-3. The file keeps its size, so the syncs that follow write data
        // only.
        j.reset().unwrap();
        assert_eq!(j.pending_bytes(), 0);
        j.append(4, b"short").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), high_water);
        drop(j);
        // Record 4 ends inside old record 1: what follows is not a record.
        let (mut j, back) = reopen(&path);
        assert_eq!(back, vec![(4, b"short".to_vec())]);
        // Record 5 ends exactly where an old record begins: that one is out of sequence.
        j.reset().unwrap();
        j.append(5, &[b'e'; 300]).unwrap();
        j.append(6, b"ffff").unwrap();
        drop(j);
        let (mut j, _) = reopen(&path);
        j.reset().unwrap();
        j.append(7, &[b'g'; 300]).unwrap();
        drop(j);
        assert_eq!(reopen(&path).1, vec![(7, vec![b'g'; 300])]);
    }

    #[test]
    fn a_journal_in_the_first_format_is_read_and_rewritten_at_the_first_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut v1 = MAGIC_V1.to_vec();
        for (seq, payload) in [(7u64, &b"seven"[..]), (8, b"eight")] {
            v1.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            v1.extend_from_slice(&checksum(seq, payload).to_be_bytes());
            v1.extend_from_slice(&seq.to_be_bytes());
            v1.extend_from_slice(payload);
        }
        std::fs::write(&path, &v1).unwrap();
        let (mut j, back) = reopen(&path);
        assert_eq!(back, vec![(7, b"seven".to_vec()), (8, b"eight".to_vec())]);
        assert_eq!(j.next_seq(), 9);
        j.reset().unwrap();
        drop(j);
        assert_eq!(&std::fs::read(&path).unwrap()[..8], MAGIC);
        let (mut j, back) = reopen(&path);
        assert!(back.is_empty(), "{back:?}");
        j.append(9, b"nine").unwrap();
        drop(j);
        assert_eq!(reopen(&path).1, vec![(9, b"nine".to_vec())]);
    }

    #[test]
    fn an_emptied_journal_goes_on_numbering_and_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut j, _) = reopen(&path);
        j.append(1, b"one").unwrap();
        j.reset().unwrap();
        assert_eq!(j.pending_bytes(), 0);
        assert_eq!(j.next_seq(), 2);
        j.continue_after(9);
        assert_eq!(j.next_seq(), 10);
        drop(j);
        assert!(reopen(&path).1.is_empty());
        std::fs::write(&path, b"something else entirely").unwrap();
        assert!(matches!(Journal::open(&path), Err(StoreError::Corrupt(_))));
        assert_eq!(std::fs::read(&path).unwrap(), b"something else entirely");
    }
}
