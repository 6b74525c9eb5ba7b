//! Authentication factors (RFC 8176 `amr` values) and the authentication level they give
//! (Decree 69/2024 Art. 20), computed in one place.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::AuthLevel;

/// One authentication factor as used in `amr`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Password (knowledge).
    Pwd,
    /// Passcode / PIN (knowledge).
    Pin,
    /// Software-secured key: the bound device key (possession).
    Swk,
    /// Hardware-secured key: the chip's active authentication (possession).
    Hwk,
    /// One-time password (possession).
    Otp,
    /// Confirmation by SMS (possession).
    Sms,
    /// Face biometric (inherence).
    Face,
    /// Fingerprint biometric (inherence).
    Fpt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Knowledge,
    Possession,
    Inherence,
}

impl AuthMethod {
    pub fn category(self) -> Category {
        match self {
            AuthMethod::Pwd | AuthMethod::Pin => Category::Knowledge,
            AuthMethod::Swk | AuthMethod::Hwk | AuthMethod::Otp | AuthMethod::Sms => {
                Category::Possession
            }
            AuthMethod::Face | AuthMethod::Fpt => Category::Inherence,
        }
    }
}

/// The authentication level of an event that used these factors:
/// 1 = one factor; 2 = two categories, no biometric; 3 = two or more factors including a
/// biometric; 4 = biometric + possession + knowledge. An empty set is level 1 at best, and is
/// never produced by a successful authentication.
pub fn auth_level(methods: &BTreeSet<AuthMethod>) -> AuthLevel {
    let has = |c: Category| methods.iter().any(|m| m.category() == c);
    let (k, p, i) = (
        has(Category::Knowledge),
        has(Category::Possession),
        has(Category::Inherence),
    );
    if i && p && k {
        AuthLevel::FOUR
    } else if i && methods.len() >= 2 {
        AuthLevel::THREE
    } else if [k, p, i].iter().filter(|x| **x).count() >= 2 {
        AuthLevel::TWO
    } else {
        AuthLevel::ONE
    }
}

#[cfg(test)]
mod tests {
    use super::AuthMethod::*;
    use super::*;

    fn level(ms: &[AuthMethod]) -> u8 {
        auth_level(&ms.iter().copied().collect()).get()
    }

    #[test]
    fn levels_follow_decree_69_article_20() {
        assert_eq!(
            level(&[Pwd]),
            1,
            "a level-2 account with a password alone is auth level 1"
        );
        assert_eq!(
            level(&[Pwd, Pin]),
            1,
            "two knowledge factors are still one category"
        );
        assert_eq!(level(&[Pwd, Swk]), 2);
        assert_eq!(level(&[Pin, Otp]), 2);
        assert_eq!(level(&[Swk, Face]), 3);
        assert_eq!(level(&[Face, Fpt]), 3);
        assert_eq!(level(&[Face]), 1);
        assert_eq!(level(&[Pwd, Swk, Face]), 4);
        assert_eq!(level(&[Pin, Hwk, Fpt]), 4);
    }
}
