//! Identity assurance levels and authentication levels.

use serde::{Deserialize, Serialize};

/// The identity level of an account: how well the person behind it was proven.
///
/// Ordered, so policy reads `if account.level >= Level::Two`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Level {
    /// Registry data checked plus a selfie match.
    One,
    /// Additionally proven with the ID card's chip and a face match, or enrolled in person.
    Two,
}

impl Level {
    /// The `acr` value tokens carry for this level.
    pub const fn acr(self) -> &'static str {
        match self {
            Level::One => "urn:vn:eid:level:1",
            Level::Two => "urn:vn:eid:level:2",
        }
    }

    /// The level an `acr` value names, if it is one of this gateway's.
    pub fn from_acr(acr: &str) -> Option<Level> {
        [Level::One, Level::Two]
            .into_iter()
            .find(|l| l.acr() == acr)
    }
}

/// A [`Level`] carried as its `acr` value, as tokens carry it:
/// `#[serde(with = "crate::domain::as_acr")]`.
pub mod as_acr {
    use super::Level;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(level: &Level, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(level.acr())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        let acr = std::borrow::Cow::<str>::deserialize(d)?;
        Level::from_acr(&acr).ok_or_else(|| D::Error::custom(format!("unknown acr `{acr}`")))
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// Both travel as integers in JSON (serde goes through `u8`), so their OpenAPI schema says so
/// once here, for every field that holds one.
fn integer_schema(
    min: u8,
    max: u8,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(min))
        .maximum(Some(max))
        .description(Some(description))
        .into()
}

impl utoipa::PartialSchema for Level {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        integer_schema(1, 2, "identity level of the account")
    }
}
impl utoipa::ToSchema for Level {}

impl utoipa::PartialSchema for AuthLevel {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        integer_schema(1, 4, "authentication level (Decree 69/2024 Art. 20)")
    }
}
impl utoipa::ToSchema for AuthLevel {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_travel_as_their_acr_and_nothing_else_parses() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Carried {
            #[serde(with = "as_acr")]
            acr: Level,
        }
        for level in [Level::One, Level::Two] {
            let json = serde_json::to_value(Carried { acr: level }).unwrap();
            assert_eq!(json["acr"], level.acr());
            assert_eq!(
                serde_json::from_value::<Carried>(json).unwrap(),
                Carried { acr: level }
            );
        }
        for bad in [
            r#"{"acr":"urn:vn:eid:level:3"}"#,
            r#"{"acr":2}"#,
            r#"{"acr":""}"#,
        ] {
            assert!(serde_json::from_str::<Carried>(bad).is_err(), "{bad}");
        }
    }

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
