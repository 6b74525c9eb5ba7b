//! Identity assurance levels and authentication levels.

use serde::{Deserialize, Serialize};

/// The identity level of an account: how well the person behind it was proven.
///
/// Ordered, so policy reads `if account.level >= Level::Two`.
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
#[serde(try_from = "u8", into = "u8")]
pub enum Level {
    /// Registry data checked plus a selfie match.
    One,
    /// Additionally proven with the ID card's chip and a face match, or enrolled in person.
    Two,
}

impl Level {
    /// The `acr` value tokens carry for this level.
    pub fn acr(self) -> &'static str {
        match self {
            Level::One => "urn:vn:eid:level:1",
            Level::Two => "urn:vn:eid:level:2",
        }
    }
}

impl TryFrom<u8> for Level {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        match n {
            1 => Ok(Level::One),
            2 => Ok(Level::Two),
            other => Err(format!("identity level must be 1 or 2, not {other}")),
        }
    }
}

impl From<Level> for u8 {
    fn from(l: Level) -> u8 {
        match l {
            Level::One => 1,
            Level::Two => 2,
        }
    }
}

/// The strength of one authentication event (Decree 69/2024 Art. 20), 1 to 4.
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
#[serde(try_from = "u8", into = "u8")]
pub struct AuthLevel(u8);

impl AuthLevel {
    pub const ONE: AuthLevel = AuthLevel(1);
    pub const TWO: AuthLevel = AuthLevel(2);
    pub const THREE: AuthLevel = AuthLevel(3);
    pub const FOUR: AuthLevel = AuthLevel(4);

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for AuthLevel {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        if (1..=4).contains(&n) {
            Ok(AuthLevel(n))
        } else {
            Err(format!("authentication level must be 1 to 4, not {n}"))
        }
    }
}

impl From<AuthLevel> for u8 {
    fn from(l: AuthLevel) -> u8 {
        l.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_parse_only_valid_numbers() {
        assert!(Level::Two > Level::One);
        assert_eq!(serde_json::from_str::<Level>("2").unwrap(), Level::Two);
        assert!(serde_json::from_str::<Level>("3").is_err());
        assert!(AuthLevel::FOUR > AuthLevel::THREE);
        assert!(AuthLevel::try_from(0).is_err());
        assert!(AuthLevel::try_from(5).is_err());
        assert_eq!(Level::Two.acr(), "urn:vn:eid:level:2");
    }
}
