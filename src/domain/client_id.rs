//! Relying-party client identifiers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A relying party's `client_id`: 1–64 characters of lowercase letters, digits, `-`, `_`, `.`.
///
/// The narrow alphabet keeps ids safe inside storage keys, log lines and URLs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a client_id is 1-64 characters of a-z, 0-9, '-', '_' or '.'")]
pub struct ClientIdError;

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, ClientIdError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ClientIdError)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = ClientIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ClientId> for String {
    fn from(c: ClientId) -> String {
        c.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_shipped_ids_and_rejects_unsafe_ones() {
        assert!(ClientId::parse("vietsky-air").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("Bank").is_err());
        assert!(ClientId::parse("a:b").is_err());
        assert!(ClientId::parse("../etc").is_err());
        assert!(ClientId::parse(&"a".repeat(65)).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_accepts_key_separators(s in ".{0,80}") {
            if let Ok(id) = ClientId::parse(&s) {
                prop_assert!(!id.as_str().contains(':') && !id.as_str().contains('/'));
                prop_assert!(id.as_str().len() <= 64);
            }
        }
    }
}
