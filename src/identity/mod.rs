//! Use cases of the citizen's identity: registration, login and sessions, presentations,
//! verification by relying parties, locking, usage history.

pub mod attribute_match;
pub mod cards;
pub mod chip_check;
pub mod device_change;
pub mod history;
pub mod history_export;
pub mod level2;
pub mod lock;
pub mod pairwise;
pub mod presentation;
pub mod registration;
pub mod sandbox;
pub mod session;
pub mod transactions;
pub mod verification;

use crate::accounts::hashing::HashError;
use crate::accounts::secrets_policy::SecretRuleError;
use crate::biometrics::BiometricError;
use crate::chip::issuance::IssueError;
use crate::chip::{ChipError, ChipFailure, MalformedRead};
use crate::sms::OtpError;
use crate::store::StoreError;

/// Outcomes of identity use cases that are not successes. Each maps to one HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{detail}")]
    Invalid { code: &'static str, detail: String },
    #[error("no such registration")]
    RegistrationUnknown,
    #[error(transparent)]
    Otp(#[from] OtpError),
    #[error(transparent)]
    Biometric(#[from] BiometricError),
    #[error(transparent)]
    SecretRule(#[from] SecretRuleError),
    #[error("an account already exists")]
    AlreadyRegistered,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    MalformedChip(#[from] MalformedRead),
    #[error(transparent)]
    Chip(ChipFailure),
    #[error("the chip belongs to another citizen")]
    ChipNotYours,
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{0}")]
    NotFound(&'static str),
    #[error("the personal id, password, code or device is not right")]
    InvalidCredentials,
    #[error(transparent)]
    Issue(#[from] IssueError),
}

impl From<ChipError> for IdentityError {
    fn from(e: ChipError) -> Self {
        match e {
            ChipError::Malformed(m) => IdentityError::MalformedChip(m),
            ChipError::Store(s) => IdentityError::Store(s),
        }
    }
}

impl IdentityError {
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        IdentityError::Invalid {
            code,
            detail: detail.into(),
        }
    }
}
