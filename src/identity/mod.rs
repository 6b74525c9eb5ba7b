//! Use cases of the citizen's identity: registration, login and sessions, presentations,
//! verification by relying parties, locking, usage history.

pub mod history;
pub mod lock;
pub mod pairwise;
pub mod presentation;
pub mod registration;
pub mod session;
pub mod verification;

use crate::accounts::hashing::HashError;
use crate::accounts::secrets_policy::SecretRuleError;
use crate::biometrics::BiometricError;
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
}

impl IdentityError {
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        IdentityError::Invalid {
            code,
            detail: detail.into(),
        }
    }
}
