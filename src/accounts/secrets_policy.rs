//! Rules for passwords (NIST SP 800-63B §5.1.1.2) and 6-digit passcodes.

use chrono::{Datelike, NaiveDate};

use crate::domain::PersonalId;

pub const MIN_PASSWORD_CHARS: usize = 8;
/// NIST asks for at least 64; longer is allowed, within reason.
pub const MAX_PASSWORD_CHARS: usize = 128;

const COMMON: &str = include_str!("common-passwords.txt");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretRuleError {
    #[error("the password must have 8 to 128 characters")]
    PasswordLength,
    #[error("the password is too common")]
    PasswordCommon,
    #[error("the password must not contain the personal id or the birth date")]
    PasswordPersonal,
    #[error("the passcode must be exactly 6 digits, not a repeated digit or a simple sequence")]
    Passcode,
}

fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l.trim() == lower)
}

/// Birth-date spellings someone might put in a password.
fn date_forms(d: NaiveDate) -> Vec<String> {
    let (y, m, day) = (d.year(), d.month(), d.day());
    vec![
        format!("{day:02}{m:02}{y}"),
        format!("{y}{m:02}{day:02}"),
        format!("{day:02}{m:02}{:02}", y % 100),
        format!("{day:02}/{m:02}/{y}"),
        format!("{y}-{m:02}-{day:02}"),
        format!("{day:02}-{m:02}-{y}"),
    ]
}

pub fn check_password(
    password: &str,
    id: &PersonalId,
    birth_date: NaiveDate,
) -> Result<(), SecretRuleError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(SecretRuleError::PasswordLength);
    }
    if is_common(password) {
        return Err(SecretRuleError::PasswordCommon);
    }
    if password.contains(id.as_str())
        || date_forms(birth_date)
            .iter()
            .any(|f| password.contains(f.as_str()))
    {
        return Err(SecretRuleError::PasswordPersonal);
    }
    Ok(())
}

pub fn check_passcode(passcode: &str) -> Result<(), SecretRuleError> {
    let digits: Vec<u8> = passcode.bytes().collect();
    if digits.len() != 6 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(SecretRuleError::Passcode);
    }
    let all_same = digits.iter().all(|d| *d == digits[0]);
    let ascending = digits.windows(2).all(|w| w[1] == w[0] + 1);
    let descending = digits.windows(2).all(|w| w[0] == w[1] + 1);
    if all_same || ascending || descending {
        return Err(SecretRuleError::Passcode);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> PersonalId {
        PersonalId::parse("001085000123").unwrap()
    }
    fn born() -> NaiveDate {
        NaiveDate::from_ymd_opt(1985, 3, 7).unwrap()
    }

    #[test]
    fn passwords_follow_nist_rules() {
        assert_eq!(
            check_password("short", &id(), born()),
            Err(SecretRuleError::PasswordLength)
        );
        assert_eq!(
            check_password(&"x".repeat(129), &id(), born()),
            Err(SecretRuleError::PasswordLength)
        );
        assert_eq!(
            check_password("Password1", &id(), born()),
            Err(SecretRuleError::PasswordCommon)
        );
        assert_eq!(
            check_password("matkhau123", &id(), born()),
            Err(SecretRuleError::PasswordCommon)
        );
        assert_eq!(
            check_password("me001085000123!", &id(), born()),
            Err(SecretRuleError::PasswordPersonal)
        );
        assert_eq!(
            check_password("hoa07031985!", &id(), born()),
            Err(SecretRuleError::PasswordPersonal)
        );
        assert!(
            check_password("sông Hồng chảy mãi", &id(), born()).is_ok(),
            "any characters, spaces included"
        );
        assert!(
            check_password(&"ab".repeat(32), &id(), born()).is_ok(),
            "64 characters are allowed"
        );
    }

    #[test]
    fn passcodes_are_six_digits_and_not_trivial() {
        assert!(check_passcode("274819").is_ok());
        for bad in [
            "12345",
            "1234567",
            "12a456",
            "000000",
            "123456",
            "987654",
            "１２３４５６",
        ] {
            assert_eq!(check_passcode(bad), Err(SecretRuleError::Passcode), "{bad}");
        }
    }
}
