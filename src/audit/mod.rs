//! The audit log: append-only, hash-chained security events.
//!
//! Each entry carries the hash of the one before it and its own hash over
//! `previous hash ‖ canonical JSON of the entry`; the log's head (last sequence number and hash)
//! is stored beside it. [`verify`] recomputes the chain and names the first entry that was edited,
//! removed, inserted or reordered, and notices a truncated tail through the head. Several
//! instances append to one chain safely: an append names the sequence number it expects and is
//! retried if another instance got there first.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{SharedClock, Timestamp};
use crate::store::{Log, LogHead, SharedStore, Store, StoreError, Table, decode, encode};

/// The hash "before" the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Kinds of security event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    KeysGenerated,
    SigningKeyRotated,
    GatewayStarted,
    PopulationImported,
    RelyingPartyRegistered,
    ClientAuthenticationFailed,
    AccountRegistered,
    AccountLocked,
    LoginFailed,
    CardIssued,
    CardRevoked,
    Level2Enrolled,
    ActivationCodeIssued,
    DeviceChanged,
}

/// The hashed part of an entry. Field order is the canonical order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditBody {
    pub seq: u64,
    pub at: Timestamp,
    pub kind: AuditKind,
    /// Who acted: `gateway`, `operator:<id>`, `client:<client_id>`, …
    pub actor: String,
    /// Event details; never secrets or full personal ids.
    pub details: serde_json::Value,
    pub prev_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    #[serde(flatten)]
    pub body: AuditBody,
    pub hash: String,
}

fn chain_hash(prev_hash: &str, body: &AuditBody) -> Result<String, StoreError> {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(encode(body)?);
    Ok(hex::encode(h.finalize()))
}

#[derive(Clone)]
pub struct AuditLog {
    store: SharedStore,
    clock: SharedClock,
}

impl AuditLog {
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Appends an event and returns its sequence number.
    pub async fn record(
        &self,
        kind: AuditKind,
        actor: &str,
        details: serde_json::Value,
    ) -> Result<u64, StoreError> {
        // Contention only comes from other instances appending at the same moment.
        for _ in 0..64 {
            let head = self.store.log_head(Log::Audit).await?;
            let (seq, prev_hash) = match head {
                Some(h) => (h.seq + 1, h.hash),
                None => (1, GENESIS.to_owned()),
            };
            let body = AuditBody {
                seq,
                at: self.clock.now(),
                kind,
                actor: actor.to_owned(),
                details: details.clone(),
                prev_hash,
            };
            let hash = chain_hash(&body.prev_hash, &body)?;
            let entry = AuditEntry {
                body,
                hash: hash.clone(),
            };
            if self
                .store
                .append_log(Log::Audit, encode(&entry)?, LogHead { seq, hash })
                .await?
            {
                return Ok(seq);
            }
        }
        Err(StoreError::Unavailable(
            "audit log append kept conflicting".into(),
        ))
    }

    /// Records an event once even if several instances try (e.g. each noticing a key rotation):
    /// the first to claim `idempotency_key` writes it.
    pub async fn record_once(
        &self,
        idempotency_key: &str,
        kind: AuditKind,
        actor: &str,
        details: serde_json::Value,
    ) -> Result<Option<u64>, StoreError> {
        let claimed = self
            .store
            .insert_new(
                Table::Meta,
                &format!("audit-once:{idempotency_key}"),
                Vec::new(),
            )
            .await?;
        if claimed {
            self.record(kind, actor, details).await.map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ChainStatus {
    /// Every entry links and hashes correctly and the head matches the last entry.
    Intact { entries: u64 },
    /// The first place where the chain does not hold.
    Broken { at_seq: u64, problem: String },
}

/// Recomputes the whole chain.
pub async fn verify(store: &dyn Store) -> Result<ChainStatus, StoreError> {
    const PAGE: usize = 1_000;
    let mut expected_seq = 1u64;
    let mut prev = GENESIS.to_owned();
    loop {
        let page = store.read_log(Log::Audit, expected_seq, PAGE).await?;
        let n = page.len();
        for (_, bytes) in page {
            let entry: AuditEntry = match decode(Table::Meta, &bytes) {
                Ok(e) => e,
                Err(_) => return Ok(broken(expected_seq, "entry does not decode")),
            };
            if entry.body.seq != expected_seq {
                return Ok(broken(
                    expected_seq,
                    &format!(
                        "found entry {} where {expected_seq} belongs: removed or reordered",
                        entry.body.seq
                    ),
                ));
            }
            if entry.body.prev_hash != prev {
                return Ok(broken(
                    expected_seq,
                    "does not link to the previous entry: an entry before it was changed or removed",
                ));
            }
            if chain_hash(&prev, &entry.body)? != entry.hash {
                return Ok(broken(
                    expected_seq,
                    "content does not match its hash: edited",
                ));
            }
            prev = entry.hash;
            expected_seq += 1;
        }
        if n < PAGE {
            break;
        }
    }
    let last = expected_seq - 1;
    match store.log_head(Log::Audit).await? {
        None if last == 0 => Ok(ChainStatus::Intact { entries: 0 }),
        None => Ok(broken(last, "entries exist but the head is missing")),
        Some(head) if head.seq == last && head.hash != prev => Ok(broken(
            last,
            "the last entry does not match the head: rewritten",
        )),
        Some(head) if head.seq != last => Ok(broken(
            last.min(head.seq) + 1,
            &format!(
                "head says {} entries, found {last}: entries removed from the end",
                head.seq
            ),
        )),
        Some(_) => Ok(ChainStatus::Intact { entries: last }),
    }
}

fn broken(at_seq: u64, problem: &str) -> ChainStatus {
    ChainStatus::Broken {
        at_seq,
        problem: problem.to_owned(),
    }
}
