//! Vietnamese mobile phone numbers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Vietnamese mobile number in national form: `0` then 9 digits, with a mobile prefix
/// (03, 05, 07, 08, 09).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a phone number is 10 digits starting 03, 05, 07, 08 or 09")]
pub struct PhoneNumberError;

impl PhoneNumber {
    pub fn parse(s: &str) -> Result<Self, PhoneNumberError> {
        let digits: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-'))
            .collect();
        let national = match digits.strip_prefix("+84") {
            Some(rest) => format!("0{rest}"),
            None => digits,
        };
        let ok = national.len() == 10
            && national.bytes().all(|b| b.is_ascii_digit())
            && matches!(&national[0..2], "03" | "05" | "07" | "08" | "09");
        if ok {
            Ok(Self(national))
        } else {
            Err(PhoneNumberError)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `09******78`: phone numbers are personal data too.
    pub fn masked(&self) -> String {
        format!("{}******{}", &self.0[0..2], &self.0[8..10])
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_international_form_and_rejects_landlines() {
        assert_eq!(
            PhoneNumber::parse("+84 912 345 678").unwrap().as_str(),
            "0912345678"
        );
        assert!(PhoneNumber::parse("0243825111").is_err());
        assert!(PhoneNumber::parse("091234567").is_err());
        assert_eq!(
            PhoneNumber::parse("0912345678").unwrap().masked(),
            "09******78"
        );
    }
}
