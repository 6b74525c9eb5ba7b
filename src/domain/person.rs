//! What the population registry knows about a person.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{PersonalId, PhoneNumber, Sex};

/// A person's registry record: the personal data the state holds. Biometric templates live
/// beside it (see [`crate::biometrics::EnrolledTemplates`]) so that lookups that only need the
/// data stay small.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub personal_id: PersonalId,
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub nationality: String,
    pub ethnicity: String,
    pub religion: String,
    pub hometown: String,
    pub permanent_address: String,
    pub phone: PhoneNumber,
    pub health_insurance_number: String,
    /// The citizen's current chip ID card, once one has been issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardRecord>,
}

impl std::fmt::Debug for Person {
    // Personal data stays out of logs even through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("personal_id", &self.personal_id)
            .finish_non_exhaustive()
    }
}

/// The registry's record of a chip ID card (CCCD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRecord {
    pub card_number: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub status: CardStatus,
    /// The chip's active-authentication public key (DG15), base64url.
    pub chip_public_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    Valid,
    Revoked,
}
