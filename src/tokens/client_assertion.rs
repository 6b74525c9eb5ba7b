//! A client's own signed assertions with its Ed25519 key (RFC 7523 `private_key_jwt`): what a
//! relying party signs to authenticate itself — used by `eidgw rp` and the demo's bank desk.

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};

#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("not an Ed25519 PKCS#8 key: {0}")]
    Key(String),
    #[error("cannot sign the assertion: {0}")]
    Signing(String),
}

/// The Ed25519 key of a PKCS#8 PEM file's text.
pub fn signing_key(pem: &str) -> Result<ed25519_dalek::SigningKey, AssertionError> {
    ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(|e| AssertionError::Key(e.to_string()))
}

/// A fresh assertion of `client_id` for `audience` (the gateway's issuer): one minute, one use.
pub fn client_assertion(
    client_id: &str,
    audience: &str,
    pem: &str,
) -> Result<String, AssertionError> {
    let key = signing_key(pem)?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| AssertionError::Key(e.to_string()))?;
    let now = chrono::Utc::now().timestamp();
    let jti =
        crate::challenges::random_token().map_err(|e| AssertionError::Signing(e.to_string()))?;
    let claims = serde_json::json!({ "iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60, "jti": jti });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )
    .map_err(|e| AssertionError::Signing(e.to_string()))
}
