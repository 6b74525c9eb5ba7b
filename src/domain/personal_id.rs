//! The 12-digit personal identification number (số định danh cá nhân).
//!
//! Layout: 3-digit province code, 1 century/sex digit (0/1 = male/female born 1900–1999,
//! 2/3 = male/female born 2000–2099), 2-digit birth year, 6-digit serial. A [`PersonalId`] can only
//! be obtained by parsing, so holding one means the layout is right. Its `Debug` and `Display`
//! print the masked form (`001******123`): a full id must be asked for with [`PersonalId::as_str`],
//! which keeps ids out of log lines by default.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::Sex;
use super::province::{Province, province_by_code};

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonalId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalIdError {
    #[error("a personal id has exactly 12 digits")]
    Format,
    #[error("the first three digits are not a province code")]
    UnknownProvince,
    #[error("the fourth digit must be 0-3 (century and sex)")]
    CenturySexDigit,
    #[error("the century/sex digit and birth year do not agree with the birth date and sex")]
    DisagreesWithRecord,
}

impl PersonalId {
    pub fn parse(s: &str) -> Result<Self, PersonalIdError> {
        if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PersonalIdError::Format);
        }
        if province_by_code(&s[0..3]).is_none() {
            return Err(PersonalIdError::UnknownProvince);
        }
        if !matches!(s.as_bytes()[3], b'0'..=b'3') {
            return Err(PersonalIdError::CenturySexDigit);
        }
        Ok(Self(s.to_owned()))
    }

    /// Builds the id of someone with this birth date and sex, born in this province.
    pub fn compose(
        province: &Province,
        birth_date: NaiveDate,
        sex: Sex,
        serial: u32,
    ) -> Result<Self, PersonalIdError> {
        let year = birth_date.year();
        let century = match year {
            1900..=1999 => 0,
            2000..=2099 => 2,
            _ => return Err(PersonalIdError::DisagreesWithRecord),
        };
        let digit = century + if sex == Sex::Female { 1 } else { 0 };
        if serial > 999_999 {
            return Err(PersonalIdError::Format);
        }
        Self::parse(&format!(
            "{}{}{:02}{:06}",
            province.code,
            digit,
            year % 100,
            serial
        ))
    }

    /// The full 12 digits. Never put this in a log line.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `001******123`: enough for an operator to tell records apart, too little to identify.
    pub fn masked(&self) -> String {
        format!("{}******{}", &self.0[0..3], &self.0[9..12])
    }

    pub fn province(&self) -> &'static Province {
        // Parsing guarantees the code exists; fall back to the first entry rather than panic.
        province_by_code(&self.0[0..3]).unwrap_or(&super::province::PROVINCES[0])
    }

    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[3] - b'0').is_multiple_of(2) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The birth year the id encodes.
    pub fn birth_year(&self) -> i32 {
        let century = if self.0.as_bytes()[3] < b'2' {
            1900
        } else {
            2000
        };
        century + i32::from((self.0.as_bytes()[4] - b'0') * 10 + (self.0.as_bytes()[5] - b'0'))
    }

    /// Checks the rule that the century/sex digit and the year agree with the record.
    pub fn check_agrees_with(
        &self,
        birth_date: NaiveDate,
        sex: Sex,
    ) -> Result<(), PersonalIdError> {
        if self.birth_year() == birth_date.year() && self.sex() == sex {
            Ok(())
        } else {
            Err(PersonalIdError::DisagreesWithRecord)
        }
    }
}

impl TryFrom<String> for PersonalId {
    type Error = PersonalIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PersonalId> for String {
    fn from(id: PersonalId) -> Self {
        id.0
    }
}

impl fmt::Display for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonalId({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::province::PROVINCES;
    use proptest::prelude::*;

    #[test]
    fn parses_a_valid_id_and_reads_its_parts() {
        let id = PersonalId::parse("079301012345").unwrap();
        assert_eq!(id.province().name, "Hồ Chí Minh");
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.birth_year(), 2001);
        assert_eq!(id.masked(), "079******345");
    }

    #[test]
    fn rejects_malformed_ids() {
        assert_eq!(
            PersonalId::parse("07930101234"),
            Err(PersonalIdError::Format)
        );
        assert_eq!(
            PersonalId::parse("0793010123456"),
            Err(PersonalIdError::Format)
        );
        assert_eq!(
            PersonalId::parse("07930101234a"),
            Err(PersonalIdError::Format)
        );
        assert_eq!(
            PersonalId::parse("０79301012345"),
            Err(PersonalIdError::Format)
        );
        assert_eq!(
            PersonalId::parse("003301012345"),
            Err(PersonalIdError::UnknownProvince)
        );
        assert_eq!(
            PersonalId::parse("079401012345"),
            Err(PersonalIdError::CenturySexDigit)
        );
    }

    #[test]
    fn display_and_debug_never_show_the_full_id() {
        let id = PersonalId::parse("001085000123").unwrap();
        assert_eq!(format!("{id}"), "001******123");
        assert!(!format!("{id:?}").contains("001085000123"));
    }

    #[test]
    fn serde_round_trips_and_rejects_bad_input() {
        let id: PersonalId = serde_json::from_str("\"001085000123\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"001085000123\"");
        assert!(serde_json::from_str::<PersonalId>("\"001485000123\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_accepts_exactly_well_formed_ids(s in "[0-9]{0,14}") {
            let ok = s.len() == 12
                && province_by_code(&s[0..3]).is_some()
                && matches!(s.as_bytes()[3], b'0'..=b'3');
            prop_assert_eq!(PersonalId::parse(&s).is_ok(), ok);
        }

        #[test]
        fn composed_ids_agree_with_their_record(
            p in 0usize..63,
            year in 1900i32..2100,
            day in 1u32..366,
            female in any::<bool>(),
            serial in 0u32..1_000_000,
        ) {
            let date = NaiveDate::from_yo_opt(year, day.min(365)).unwrap();
            let sex = if female { Sex::Female } else { Sex::Male };
            let id = PersonalId::compose(&PROVINCES[p], date, sex, serial).unwrap();
            prop_assert!(id.check_agrees_with(date, sex).is_ok());
            prop_assert_eq!(id.province().code, PROVINCES[p].code);
            let other_sex = if female { Sex::Male } else { Sex::Female };
            prop_assert!(id.check_agrees_with(date, other_sex).is_err());
            prop_assert_eq!(PersonalId::parse(id.as_str()).unwrap(), id);
        }

        #[test]
        fn masking_keeps_only_six_digits(s in "0010[0-9]{8}") {
            let id = PersonalId::parse(&s).unwrap();
            let masked = id.masked();
            prop_assert_eq!(masked.chars().filter(|c| c.is_ascii_digit()).count(), 6);
            prop_assert_eq!(&masked[..3], &s[..3]);
            prop_assert_eq!(&masked[9..], &s[9..]);
        }
    }
}
