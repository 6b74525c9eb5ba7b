//! What the population registry knows about a person.

use std::borrow::Cow;

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

/// A date as `YYYY-MM-DD`, strictly. Batch matching reads two per line (the customer's and the
/// registry's); chrono's format-string parser costs several times more.
pub fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

/// The four values an attribute match compares. The registry stores them apart from each
/// `Person` record (and they can be read from one too, the other fields ignored): batch matching
/// reads thousands of records a second and should neither read nor build each whole `Person`.
#[derive(PartialEq, Serialize, Deserialize)]
pub struct PersonFacts<'a> {
    #[serde(borrow)]
    pub full_name: Cow<'a, str>,
    #[serde(deserialize_with = "iso_date")]
    pub birth_date: NaiveDate,
    pub sex: Sex,
    /// National form, as `PhoneNumber` stores it.
    #[serde(borrow)]
    pub phone: Cow<'a, str>,
}

fn iso_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let s = <&str>::deserialize(d)?;
    parse_iso_date(s).ok_or_else(|| serde::de::Error::custom("a date is YYYY-MM-DD"))
}

impl<'a> From<&'a Person> for PersonFacts<'a> {
    fn from(p: &'a Person) -> Self {
        Self {
            full_name: Cow::Borrowed(&p.full_name),
            birth_date: p.birth_date,
            sex: p.sex,
            phone: Cow::Borrowed(p.phone.as_str()),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict_iso() {
        assert_eq!(
            parse_iso_date("1990-02-28"),
            NaiveDate::from_ymd_opt(1990, 2, 28)
        );
        assert_eq!(
            parse_iso_date("2000-02-29"),
            NaiveDate::from_ymd_opt(2000, 2, 29)
        );
        for bad in [
            "1990-02-30",
            "1990-2-28",
            "1990/02/28",
            "19900228",
            "1990-02-28 ",
            "+990-02-28",
            "1990-13-01",
            "1990-00-10",
            "",
            "1990-02-2x",
            "١٩٩٠-02-28",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }
}
