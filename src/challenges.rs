//! Single-use, short-lived challenges (liveness now; chip active authentication later), bound to
//! whoever asked for them and shared by every gateway instance through the store.
//!
//! A challenge is consumed exactly once. The answers distinguish the failure modes a client
//! developer needs to tell apart: `challenge_unknown` (never issued, or issued to someone else),
//! `challenge_expired`, `challenge_reused`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::{SharedClock, Timestamp};
use crate::store::{PutMode, SharedStore, StoreError, Table, decode, encode};

/// How long a used or expired challenge is still remembered, to answer `reused`/`expired`
/// rather than `unknown`.
const MEMORY: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error("challenge_unknown")]
    Unknown,
    #[error("challenge_expired")]
    Expired,
    #[error("challenge_reused")]
    Reused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ChallengeError {
    pub fn code(&self) -> &'static str {
        match self {
            ChallengeError::Unknown => "challenge_unknown",
            ChallengeError::Expired => "challenge_expired",
            ChallengeError::Reused => "challenge_reused",
            ChallengeError::Store(_) => "store_unavailable",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Record<T> {
    requester: String,
    expires_at: Timestamp,
    payload: T,
}

/// Random identifiers and nonces: 32 bytes from the OS, base64url.
pub fn random_token() -> Result<String, StoreError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| StoreError::Storage(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

#[derive(Clone)]
pub struct Challenges {
    store: SharedStore,
    clock: SharedClock,
}

impl Challenges {
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    fn key(kind: &str, id: &str) -> String {
        format!("challenge:{kind}:{id}")
    }

    fn used_key(kind: &str, id: &str) -> String {
        format!("challenge-used:{kind}:{id}")
    }

    /// Issues a challenge of `kind` for `requester`, valid for `ttl`; returns its id.
    pub async fn issue<T: Serialize>(
        &self,
        kind: &str,
        requester: &str,
        ttl: Duration,
        payload: &T,
    ) -> Result<(String, Timestamp), StoreError> {
        let id = random_token()?;
        let now = self.clock.now();
        let expires_at = now.plus(ttl);
        let record = Record {
            requester: requester.to_owned(),
            expires_at,
            payload,
        };
        self.store
            .put_expiring(
                &Self::key(kind, &id),
                encode(&record)?,
                expires_at.plus(MEMORY),
                PutMode::Overwrite,
                now,
            )
            .await?;
        Ok((id, expires_at))
    }

    /// Consumes the challenge: only its requester may, only once, only before it expires.
    pub async fn consume<T: DeserializeOwned>(
        &self,
        kind: &str,
        id: &str,
        requester: &str,
    ) -> Result<T, ChallengeError> {
        let now = self.clock.now();
        let key = Self::key(kind, id);
        let Some(raw) = self.store.get_expiring(&key, now).await? else {
            return Err(
                if self
                    .store
                    .get_expiring(&Self::used_key(kind, id), now)
                    .await?
                    .is_some()
                {
                    ChallengeError::Reused
                } else {
                    ChallengeError::Unknown
                },
            );
        };
        let record: Record<T> = decode(Table::Meta, &raw)?;
        if record.requester != requester {
            return Err(ChallengeError::Unknown);
        }
        if record.expires_at <= now {
            return Err(ChallengeError::Expired);
        }
        let first = self
            .store
            .put_expiring(
                &Self::used_key(kind, id),
                Vec::new(),
                now.plus(MEMORY),
                PutMode::IfAbsent,
                now,
            )
            .await?;
        if !first {
            return Err(ChallengeError::Reused);
        }
        self.store.take_expiring(&key, now).await?;
        Ok(record.payload)
    }
}
