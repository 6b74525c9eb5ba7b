//! Citizen accounts: level, secrets (argon2id), the bound device, status, failure counters.

pub mod hashing;
pub mod secrets_policy;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{Level, PersonalId, PhoneNumber};
use crate::store::{SharedStore, StoreError, Table, get_json, put_json};

/// The device key the account is bound to (one active device at a time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundDevice {
    /// Ed25519 public key, base64url.
    pub public_key: String,
    pub bound_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum AccountStatus {
    Active,
    /// Locked by the citizen or an operator: every token of the citizen fails verification.
    Locked {
        at: Timestamp,
    },
}

/// Consecutive failures and the brute-force back-off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failures {
    pub consecutive: u32,
    /// How many back-offs so far: each one doubles the next.
    pub lockouts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<Timestamp>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub personal_id: PersonalId,
    pub level: Level,
    pub password_hash: String,
    pub passcode_hash: String,
    pub device: BoundDevice,
    pub phone: PhoneNumber,
    pub status: AccountStatus,
    #[serde(default)]
    pub failures: Failures,
    /// Sessions carry the epoch they were opened in; raising it ends them all (device change).
    pub session_epoch: u64,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("personal_id", &self.personal_id)
            .field("level", &self.level)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Brute-force policy: after `threshold` consecutive failures, back off for `base`, doubling
/// with each further back-off.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub base: Duration,
}

impl Account {
    /// A new active account bound to `device_public_key`, with no failures and a first
    /// session epoch.
    pub fn open(
        personal_id: PersonalId,
        level: Level,
        hashes: (String, String),
        device_public_key: String,
        phone: PhoneNumber,
        now: Timestamp,
    ) -> Self {
        let (password_hash, passcode_hash) = hashes;
        Self {
            personal_id,
            level,
            password_hash,
            passcode_hash,
            device: BoundDevice {
                public_key: device_public_key,
                bound_at: now,
            },
            phone,
            status: AccountStatus::Active,
            failures: Failures::default(),
            session_epoch: 0,
            created_at: now,
        }
    }

    pub fn is_locked(&self) -> bool {
        matches!(self.status, AccountStatus::Locked { .. })
    }

    /// Whether secrets may be tried now (not inside a back-off period).
    pub fn in_backoff(&self, now: Timestamp) -> bool {
        self.failures.locked_until.is_some_and(|t| t > now)
    }

    /// Records a wrong secret; starts a back-off when the threshold is reached.
    pub fn record_failure(&mut self, now: Timestamp, policy: LockoutPolicy) {
        self.failures.consecutive += 1;
        if self.failures.consecutive >= policy.threshold {
            let factor = 1u32
                .checked_shl(self.failures.lockouts.min(16))
                .unwrap_or(u32::MAX);
            self.failures.locked_until = Some(now.plus(policy.base.saturating_mul(factor)));
            self.failures.lockouts += 1;
            self.failures.consecutive = 0;
        }
    }

    pub fn record_success(&mut self) {
        self.failures.consecutive = 0;
        self.failures.locked_until = None;
    }
}

#[derive(Clone)]
pub struct Accounts {
    store: SharedStore,
}

impl Accounts {
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    pub async fn get(&self, id: &PersonalId) -> Result<Option<Account>, StoreError> {
        get_json(self.store.as_ref(), Table::Accounts, id.as_str()).await
    }

    /// Creates the account; `false` if one already exists.
    pub async fn create(&self, account: &Account) -> Result<bool, StoreError> {
        self.store
            .insert_new(
                Table::Accounts,
                account.personal_id.as_str(),
                crate::store::encode(account)?,
            )
            .await
    }

    pub async fn save(&self, account: &Account) -> Result<(), StoreError> {
        put_json(
            self.store.as_ref(),
            Table::Accounts,
            account.personal_id.as_str(),
            account,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_start_a_back_off_that_doubles() {
        let policy = LockoutPolicy {
            threshold: 5,
            base: Duration::from_secs(60),
        };
        let mut a = Failures::default();
        let mut acc = Account {
            personal_id: PersonalId::parse("001085000123").unwrap(),
            level: Level::One,
            password_hash: String::new(),
            passcode_hash: String::new(),
            device: BoundDevice {
                public_key: String::new(),
                bound_at: Timestamp::from_secs(0),
            },
            phone: PhoneNumber::parse("0912345678").unwrap(),
            status: AccountStatus::Active,
            failures: std::mem::take(&mut a),
            session_epoch: 0,
            created_at: Timestamp::from_secs(0),
        };
        let t0 = Timestamp::from_secs(1_000);
        for _ in 0..4 {
            acc.record_failure(t0, policy);
        }
        assert!(!acc.in_backoff(t0));
        acc.record_failure(t0, policy);
        assert!(acc.in_backoff(t0.plus(Duration::from_secs(59))));
        assert!(!acc.in_backoff(t0.plus(Duration::from_secs(60))));
        let t1 = t0.plus(Duration::from_secs(61));
        for _ in 0..5 {
            acc.record_failure(t1, policy);
        }
        assert!(
            acc.in_backoff(t1.plus(Duration::from_secs(119))),
            "second back-off is twice as long"
        );
        assert!(!acc.in_backoff(t1.plus(Duration::from_secs(120))));
        acc.record_success();
        assert_eq!(acc.failures.consecutive, 0);
    }
}
