//! The citizen's usage history as a document the gateway signs: a JWS (compact, `alg: EdDSA`,
//! `typ: eid-history+jwt`) with the gateway's published key, which anyone holding the JWKS can
//! check offline (`eidgw history verify FILE`). An edit anywhere — an entry removed, a relying
//! party renamed, a date moved — breaks the signature.
//!
//! The document has no expiry: it states what the gateway recorded up to `iat`, and stays
//! checkable for as long as its key is published (keys retire from the JWKS after rotation; an
//! export signed by a retired key then reads "unknown key", never "genuine").

use serde::{Deserialize, Serialize};

use super::history::{self, UsageEntry};
use crate::domain::PersonalId;
use crate::services::Services;

pub const HISTORY_EXPORT_TYP: &str = "eid-history+jwt";
/// At most this many entries, newest first (as the app's history screen); `complete` says
/// whether older ones were left out.
pub const MAX_EXPORTED: usize = 5_000;

/// The signed document's claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryExport {
    pub iss: String,
    /// The citizen's personal id: the document is theirs, to show whom they choose.
    pub sub: String,
    pub name: String,
    /// When the gateway signed it (Unix seconds).
    pub iat: i64,
    /// Whether every recorded entry is here (false: only the newest [`MAX_EXPORTED`]).
    pub complete: bool,
    /// Newest first.
    pub entries: Vec<UsageEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot sign the export: {0}")]
    Signing(String),
}

/// The citizen's history, signed now.
pub async fn export(services: &Services, id: &PersonalId) -> Result<String, ExportError> {
    let name = services
        .registry
        .person(id)
        .await?
        .map(|p| p.full_name)
        .unwrap_or_default();
    let mut entries = history::recent(&services.store, id, MAX_EXPORTED + 1).await?;
    let complete = entries.len() <= MAX_EXPORTED;
    entries.truncate(MAX_EXPORTED);
    let claims = HistoryExport {
        iss: services.issuer().to_owned(),
        sub: id.as_str().to_owned(),
        name,
        iat: services.clock.now().secs(),
        complete,
        entries,
    };
    services
        .keyring
        .load()
        .sign(HISTORY_EXPORT_TYP, &claims)
        .map_err(|e| ExportError::Signing(e.to_string()))
}

/// Why an export is not genuine.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotGenuine {
    #[error("not a signed document (a compact JWS has three dot-separated parts): {0}")]
    Malformed(String),
    #[error("not a history export (typ {0:?}, expected \"eid-history+jwt\")")]
    WrongType(Option<String>),
    #[error("signed with alg {0}, and history exports are EdDSA only")]
    WrongAlgorithm(String),
    #[error(
        "signed with key {0:?}, which the JWKS does not publish (another gateway, or a retired key)"
    )]
    UnknownKey(Option<String>),
    #[error(
        "the signature does not match the content: the document was edited after the gateway signed it"
    )]
    BadSignature,
    #[error("issued by {found}, not by {expected}")]
    WrongIssuer { found: String, expected: String },
}

/// Checks `document` against `jwks` (and `issuer`, when given); the export's claims when genuine.
pub fn verify(
    document: &str,
    jwks: &jsonwebtoken::jwk::JwkSet,
    issuer: Option<&str>,
) -> Result<HistoryExport, NotGenuine> {
    let document = document.trim();
    let header =
        jsonwebtoken::decode_header(document).map_err(|e| NotGenuine::Malformed(e.to_string()))?;
    if header.typ.as_deref() != Some(HISTORY_EXPORT_TYP) {
        return Err(NotGenuine::WrongType(header.typ));
    }
    if header.alg != jsonwebtoken::Algorithm::EdDSA {
        return Err(NotGenuine::WrongAlgorithm(format!("{:?}", header.alg)));
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| jwks.find(kid))
        .and_then(|jwk| jsonwebtoken::DecodingKey::from_jwk(jwk).ok())
        .ok_or_else(|| NotGenuine::UnknownKey(header.kid.clone()))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<HistoryExport>(document, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => NotGenuine::BadSignature,
            // Content that no longer parses as the export was edited too, or never was one.
            jsonwebtoken::errors::ErrorKind::Json(_)
            | jsonwebtoken::errors::ErrorKind::Base64(_)
            | jsonwebtoken::errors::ErrorKind::Utf8(_) => NotGenuine::BadSignature,
            _ => NotGenuine::Malformed(e.to_string()),
        })?
        .claims;
    if let Some(expected) = issuer
        && claims.iss != expected
    {
        return Err(NotGenuine::WrongIssuer {
            found: claims.iss,
            expected: expected.to_owned(),
        });
    }
    Ok(claims)
}
