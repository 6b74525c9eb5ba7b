//! The audit log: append-only, hash-chained security events.
//!
//! Each entry carries the hash of the one before it and its own hash over
//! `previous hash ‖ canonical JSON of the entry`; the log's head (last sequence number and hash)
//! is stored beside it. [`verify`] recomputes the chain and names the first entry that was edited,
//! removed, inserted or reordered, and notices a truncated tail through the head. Several
//! instances append to one chain safely: an append names the sequence number it expects and is
//! retried if another instance got there first.
//!
//! A chain checked only against itself cannot tell that it was lost or cut from the front and
//! started again (an empty Redis verifies "intact"). So each gateway keeps a **checkpoint**
//! outside the chain — a file beside its data, [`CHECKPOINT_FILE`] — holding the last head it
//! saw, and [`verify_against`] insists the chain still reaches it with the same hash. The
//! checkpoint only moves forward: a chain found shorter than it is reported, never adopted.

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
    RelyingPartyChanged,
    RelyingPartyDisabled,
    RelyingPartyEnabled,
    ClientSecretRotated,
    ClientKeyReplaced,
    InitialAccessTokenIssued,
    ClientAuthenticationFailed,
    AccountRegistered,
    AccountLocked,
    LoginFailed,
    CardIssued,
    CardRevoked,
    Level2Enrolled,
    ActivationCodeIssued,
    DeviceChanged,
    /// A dev data directory started over (`eidgw sandbox reset`).
    SandboxReset,
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

/// The checkpoint's file name, in the gateway's data directory.
pub const CHECKPOINT_FILE: &str = "audit-checkpoint.json";

/// The chain's head as a gateway last saw it, kept outside the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: String,
    pub at: Timestamp,
}

impl Checkpoint {
    pub fn path(data_dir: &std::path::Path) -> std::path::PathBuf {
        data_dir.join(CHECKPOINT_FILE)
    }

    /// The checkpoint in `path`, if there is one.
    pub fn read(path: &std::path::Path) -> std::io::Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the checkpoint whole or not at all (a file beside it, synced, then renamed).
    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

/// The outcome of a chain check, as `eidgw audit verify --json` and the operator API print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainReport {
    pub intact: bool,
    /// Entries in the chain (when intact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// The entry the checkpoint outside the chain names, if there is a checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_seq: Option<u64>,
    /// Where the chain stops holding (when broken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl ChainReport {
    pub fn of(status: &ChainStatus, checkpoint: Option<&Checkpoint>) -> Self {
        let checkpoint_seq = checkpoint.map(|c| c.seq);
        match status {
            ChainStatus::Intact { entries } => Self {
                intact: true,
                entries: Some(*entries),
                checkpoint_seq,
                broken_at: None,
                problem: None,
            },
            ChainStatus::Broken { at_seq, problem } => Self {
                intact: false,
                entries: None,
                checkpoint_seq,
                broken_at: Some(*at_seq),
                problem: Some(problem.clone()),
            },
        }
    }
}

/// Checks the chain of `store` against the checkpoint a gateway keeps in `data_dir`.
pub async fn check(
    store: &dyn Store,
    data_dir: &std::path::Path,
) -> Result<ChainReport, StoreError> {
    let checkpoint = Checkpoint::read(&Checkpoint::path(data_dir))
        .map_err(|e| StoreError::Storage(format!("audit checkpoint: {e}")))?;
    let status = verify_against(store, checkpoint.as_ref()).await?;
    Ok(ChainReport::of(&status, checkpoint.as_ref()))
}

/// [`verify`], and then that the chain still reaches `checkpoint` with the hash it had: a chain
/// lost, cut from the front and restarted, or rolled back to an older copy is broken even if
/// every entry it still has links.
pub async fn verify_against(
    store: &dyn Store,
    checkpoint: Option<&Checkpoint>,
) -> Result<ChainStatus, StoreError> {
    let status = verify(store).await?;
    let (ChainStatus::Intact { entries }, Some(cp)) = (&status, checkpoint) else {
        return Ok(status);
    };
    if *entries < cp.seq {
        return Ok(broken(
            entries + 1,
            &format!(
                "the chain holds {entries} entries but a checkpoint outside it saw {}: entries were lost, or the log was rolled back or started again",
                cp.seq
            ),
        ));
    }
    let at_checkpoint = store.read_log(Log::Audit, cp.seq, 1).await?;
    let hash = at_checkpoint
        .first()
        .and_then(|(_, bytes)| decode::<AuditEntry>(Table::Meta, bytes).ok())
        .map(|e| e.hash);
    if hash.as_deref() != Some(cp.hash.as_str()) {
        return Ok(broken(
            cp.seq,
            "differs from the checkpoint kept outside the chain: the log was rewritten from here",
        ));
    }
    Ok(status)
}

/// Moves the checkpoint in `path` up to the chain's current head. A chain that no longer
/// reaches the checkpoint leaves it as it is (that is the evidence) and is reported.
pub async fn advance_checkpoint(
    store: &dyn Store,
    path: &std::path::Path,
    now: Timestamp,
) -> Result<(), CheckpointError> {
    let Some(head) = store.log_head(Log::Audit).await? else {
        return match Checkpoint::read(path)? {
            Some(cp) => Err(CheckpointError::Behind {
                chain: 0,
                checkpoint: cp.seq,
            }),
            None => Ok(()),
        };
    };
    let current = Checkpoint::read(path)?;
    if let Some(cp) = &current {
        if head.seq < cp.seq {
            return Err(CheckpointError::Behind {
                chain: head.seq,
                checkpoint: cp.seq,
            });
        }
        if head.seq == cp.seq {
            return if head.hash == cp.hash {
                Ok(())
            } else {
                Err(CheckpointError::Rewritten { seq: cp.seq })
            };
        }
    }
    Checkpoint {
        seq: head.seq,
        hash: head.hash,
        at: now,
    }
    .write(path)?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(
        "the audit chain ends at entry {chain}, before its checkpoint at {checkpoint}: entries were lost or the log was rolled back"
    )]
    Behind { chain: u64, checkpoint: u64 },
    #[error("the audit chain's entry {seq} differs from its checkpoint: the log was rewritten")]
    Rewritten { seq: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the checkpoint file: {0}")]
    File(#[from] std::io::Error),
}

fn broken(at_seq: u64, problem: &str) -> ChainStatus {
    ChainStatus::Broken {
        at_seq,
        problem: problem.to_owned(),
    }
}
