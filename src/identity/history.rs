//! The citizen's usage history: who verified or received what, when, for which purpose.
//!
//! Most events append one whole [`UsageEntry`] to the citizen's list. A match batch records
//! thousands of events at once, and what they share (time, relying party, action, the fields and
//! purposes asked) is stored once, in the batch's header ([`HistoryBatch`]); each citizen's list
//! gets a reference of a few dozen bytes. [`recent`] reads both back as whole entries, so the
//! citizen sees no difference.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::challenges::random_token;
use crate::domain::PersonalId;
use crate::store::{ListAppends, SharedStore, StoreError, Table, WriteBatch, decode, encode};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageEntry {
    pub at: i64,
    pub client_id: String,
    pub relying_party: String,
    /// What happened: `verify`, …
    pub action: String,
    /// Names of the claims the relying party received.
    pub claims: Vec<String>,
    pub verification_id: String,
    /// Why the relying party asked (attribute matches state their purpose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

const LIST_PREFIX: &str = "history:";

/// The store list holding a citizen's history.
pub fn list(id: &PersonalId) -> String {
    let mut name = String::with_capacity(LIST_PREFIX.len() + id.as_str().len());
    name.push_str(LIST_PREFIX);
    name.push_str(id.as_str());
    name
}

pub async fn record(
    store: &SharedStore,
    id: &PersonalId,
    entry: &UsageEntry,
) -> Result<(), StoreError> {
    store.list_push(&list(id), encode(entry)?).await.map(|_| ())
}

/// What the entries of one batch share, stored once under the batch id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchHeader {
    at: i64,
    client_id: String,
    relying_party: String,
    action: String,
    /// The distinct (claims, purpose) pairs of the batch; entries name one by index.
    kinds: Vec<EntryKind>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryKind {
    claims: Vec<String>,
    purpose: String,
}

/// A batch entry as a citizen's list holds it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRef {
    batch: String,
    line: u64,
    kind: usize,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StoredEntry {
    InBatch(BatchRef),
    Whole(UsageEntry),
}

/// One (claims, purpose) pair of a batch, as [`HistoryBatch::kind`] interned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindId(usize);

/// The usage-history entries of many citizens, written together with one header
/// ([`HistoryBatch::into_write`]). Entry ids are `{batch id}.{line}`: unique without drawing
/// randomness per entry.
pub struct HistoryBatch {
    id: String,
    header: BatchHeader,
    /// Purpose → (claims key, kind) pairs seen so far.
    kinds: HashMap<String, Vec<(u64, KindId)>>,
    last: Option<(u64, KindId)>,
    appends: ListAppends,
}

/// Characters of the batch id: 96 random bits in base64url.
const BATCH_ID_LEN: usize = 16;

impl HistoryBatch {
    /// An empty batch of `action`s by one relying party at time `at`, sized for `entries`.
    pub fn new(
        at: i64,
        client_id: &str,
        relying_party: &str,
        action: &str,
        entries: usize,
    ) -> Result<Self, StoreError> {
        let mut id = random_token()?;
        id.truncate(BATCH_ID_LEN);
        Ok(Self {
            id,
            header: BatchHeader {
                at,
                client_id: client_id.to_owned(),
                relying_party: relying_party.to_owned(),
                action: action.to_owned(),
                kinds: Vec::new(),
            },
            kinds: HashMap::new(),
            last: None,
            // A list name is about 20 bytes and a reference about 45.
            appends: ListAppends::with_capacity(entries, entries * 48),
        })
    }

    /// The kind of entry recording `claims` for `purpose`. `claims_key` identifies the claims
    /// (a bit set, say): `claims` is called only the first time a key is seen with a purpose.
    pub fn kind(
        &mut self,
        claims_key: u64,
        purpose: &str,
        claims: impl FnOnce() -> Vec<String>,
    ) -> KindId {
        // Lines of a batch mostly repeat the previous one's purpose and fields.
        if let Some((key, kind)) = self.last
            && key == claims_key
            && self.header.kinds[kind.0].purpose == purpose
        {
            return kind;
        }
        let seen = self
            .kinds
            .get(purpose)
            .and_then(|ks| ks.iter().find(|(k, _)| *k == claims_key));
        let kind = match seen {
            Some((_, kind)) => *kind,
            None => {
                let kind = KindId(self.header.kinds.len());
                self.header.kinds.push(EntryKind {
                    claims: claims(),
                    purpose: purpose.to_owned(),
                });
                self.kinds
                    .entry(purpose.to_owned())
                    .or_default()
                    .push((claims_key, kind));
                kind
            }
        };
        self.last = Some((claims_key, kind));
        kind
    }

    /// Records an entry of `kind` for `citizen`, for input line `line`, and returns its id.
    pub fn record(&mut self, citizen: &PersonalId, line: u64, kind: KindId) -> String {
        let mut digits = itoa::Buffer::new();
        let line = digits.format(line);
        let mut kind_digits = itoa::Buffer::new();
        let kind = kind_digits.format(kind.0);
        let id = &self.id;
        self.appends.push_with(
            |name| {
                name.push_str(LIST_PREFIX);
                name.push_str(citizen.as_str());
            },
            // The batch id is base64url and the numbers are digits: nothing to escape.
            |value| {
                value.extend_from_slice(br#"{"batch":""#);
                value.extend_from_slice(id.as_bytes());
                value.extend_from_slice(br#"","line":"#);
                value.extend_from_slice(line.as_bytes());
                value.extend_from_slice(br#","kind":"#);
                value.extend_from_slice(kind.as_bytes());
                value.push(b'}');
            },
        );
        entry_id(id, line)
    }

    /// The header and every entry, to be written in one atomic write; nothing when no entry
    /// was recorded.
    pub fn into_write(self) -> Result<WriteBatch, StoreError> {
        if self.appends.is_empty() {
            return Ok(WriteBatch::default());
        }
        Ok(WriteBatch {
            records: vec![(Table::HistoryBatches, self.id, encode(&self.header)?)],
            appends: self.appends,
        })
    }
}

fn entry_id(batch: &str, line: &str) -> String {
    let mut id = String::with_capacity(batch.len() + 1 + line.len());
    id.push_str(batch);
    id.push('.');
    id.push_str(line);
    id
}

/// The most recent entries, newest first.
pub async fn recent(
    store: &SharedStore,
    id: &PersonalId,
    limit: usize,
) -> Result<Vec<UsageEntry>, StoreError> {
    let stored: Vec<StoredEntry> = crate::store::newest(store.as_ref(), &list(id), limit).await?;
    let mut batches: Vec<&str> = stored
        .iter()
        .filter_map(|s| match s {
            StoredEntry::InBatch(r) => Some(r.batch.as_str()),
            StoredEntry::Whole(_) => None,
        })
        .collect();
    batches.sort_unstable();
    batches.dedup();
    let raw = store.get_many(Table::HistoryBatches, &batches).await?;
    let mut headers: HashMap<&str, BatchHeader> = HashMap::with_capacity(batches.len());
    for (batch, raw) in batches.iter().zip(raw.iter()) {
        let raw =
            raw.ok_or_else(|| StoreError::Corrupt(format!("history batch {batch} has no header")))?;
        headers.insert(batch, decode(Table::HistoryBatches, raw)?);
    }
    stored
        .iter()
        .map(|s| match s {
            StoredEntry::Whole(entry) => Ok(entry.clone()),
            StoredEntry::InBatch(r) => {
                let header = headers.get(r.batch.as_str()).ok_or_else(|| {
                    StoreError::Corrupt(format!("history batch {} has no header", r.batch))
                })?;
                let kind = header.kinds.get(r.kind).ok_or_else(|| {
                    StoreError::Corrupt(format!("history batch {} has no kind {}", r.batch, r.kind))
                })?;
                Ok(UsageEntry {
                    at: header.at,
                    client_id: header.client_id.clone(),
                    relying_party: header.relying_party.clone(),
                    action: header.action.clone(),
                    claims: kind.claims.clone(),
                    verification_id: entry_id(&r.batch, itoa::Buffer::new().format(r.line)),
                    purpose: Some(kind.purpose.clone()),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn citizen(n: u32) -> PersonalId {
        PersonalId::parse(&format!("0010900{n:05}")).unwrap()
    }

    #[test]
    fn a_batch_stores_one_header_and_a_short_reference_per_entry() {
        let mut batch =
            HistoryBatch::new(1_700_000_000, "mekong-telecom", "Mekong", "match", 4).unwrap();
        let mut built = 0;
        let mut claims = |names: &[&str]| {
            built += 1;
            names.iter().map(|n| n.to_string()).collect::<Vec<_>>()
        };
        let a = batch.kind(0b01, "sim check", || claims(&["full_name"]));
        let b = batch.kind(0b11, "sim check", || claims(&["full_name", "phone"]));
        let a_again = batch.kind(0b01, "sim check", || claims(&["never built"]));
        let c = batch.kind(0b01, "data cleaning", || claims(&["full_name"]));
        assert_eq!(a, a_again);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(built, 3);

        let first = batch.record(&citizen(1), 7, a);
        let second = batch.record(&citizen(2), 8, b);
        assert!(first.ends_with(".7") && second.ends_with(".8"));
        assert_eq!(first.len(), BATCH_ID_LEN + 2);
        let write = batch.into_write().unwrap();
        assert_eq!(write.records.len(), 1);
        let (table, key, header) = &write.records[0];
        assert_eq!(
            (*table, key.as_str()),
            (Table::HistoryBatches, &first[..BATCH_ID_LEN])
        );
        let header: BatchHeader = serde_json::from_slice(header).unwrap();
        assert_eq!(header.kinds.len(), 3);
        let entries: Vec<(&str, &[u8])> = write.appends.iter().collect();
        assert_eq!(entries[0].0, list(&citizen(1)));
        assert_eq!(entries[1].0, list(&citizen(2)));
        match serde_json::from_slice::<StoredEntry>(entries[1].1).unwrap() {
            StoredEntry::InBatch(r) => {
                assert_eq!((r.batch.as_str(), r.line, r.kind), (key.as_str(), 8, 1));
            }
            StoredEntry::Whole(e) => panic!("read as a whole entry: {e:?}"),
        }
        assert!(entries[1].1.len() < 50, "{}", entries[1].1.len());
    }

    #[test]
    fn an_empty_batch_writes_nothing() {
        let batch = HistoryBatch::new(1, "c", "C", "match", 0).unwrap();
        assert!(batch.into_write().unwrap().is_empty());
    }

    #[test]
    fn whole_entries_are_not_mistaken_for_references() {
        let whole = UsageEntry {
            at: 1,
            client_id: "c".into(),
            relying_party: "C".into(),
            action: "verify".into(),
            claims: vec![],
            verification_id: "v".into(),
            purpose: None,
        };
        let stored: StoredEntry = serde_json::from_slice(&encode(&whole).unwrap()).unwrap();
        assert!(matches!(stored, StoredEntry::Whole(e) if e == whole));
    }
}
