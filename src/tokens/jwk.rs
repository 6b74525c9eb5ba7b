//! Public keys as JWKs — Ed25519 (every token) and RSA (ID tokens for relying parties that
//! registered RS256) — and their RFC 7638 thumbprints (used as `kid`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A public JWK as published in the JWKS: Ed25519 (RFC 8037: `crv`, `x`) or RSA (`n`, `e`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicJwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JwkSet {
    pub keys: Vec<PublicJwk>,
}

/// RFC 7638 thumbprint of an Ed25519 key: SHA-256 over the required members in lexicographic
/// order with no white space, base64url.
pub fn thumbprint(key: &VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

pub fn public_jwk(key: &VerifyingKey) -> PublicJwk {
    PublicJwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        x: Some(URL_SAFE_NO_PAD.encode(key.as_bytes())),
        n: None,
        e: None,
        kid: thumbprint(key),
        use_: "sig".into(),
        alg: "EdDSA".into(),
    }
}

/// The JWK of an RSA public key (`n`, `e` big-endian, base64url), `kid` its RFC 7638 thumbprint.
pub fn rsa_public_jwk(key: &rsa::RsaPublicKey) -> PublicJwk {
    use rsa::traits::PublicKeyParts;
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    PublicJwk {
        kty: "RSA".into(),
        crv: None,
        x: None,
        kid: URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())),
        n: Some(n),
        e: Some(e),
        use_: "sig".into(),
        alg: "RS256".into(),
    }
}

/// Parses an Ed25519 public key from outside (base64url of exactly 32 bytes), refusing short,
/// long or invalid keys.
pub fn parse_ed25519_public_key(b64: &str) -> Result<VerifyingKey, &'static str> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|_| "not base64url")?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "an Ed25519 public key is exactly 32 bytes")?;
    let key = VerifyingKey::from_bytes(&arr).map_err(|_| "not a valid Ed25519 point")?;
    if key.is_weak() {
        return Err("weak (small-order) Ed25519 key");
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_8037_appendix_a3() {
        // RFC 8037 A.3: the thumbprint of the A.2 public key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn short_long_and_weak_keys_are_refused() {
        assert!(parse_ed25519_public_key(&URL_SAFE_NO_PAD.encode([7u8; 31])).is_err());
        assert!(parse_ed25519_public_key(&URL_SAFE_NO_PAD.encode([7u8; 33])).is_err());
        assert!(parse_ed25519_public_key("not base64!").is_err());
        // The identity point is of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(parse_ed25519_public_key(&URL_SAFE_NO_PAD.encode(identity)).is_err());
    }
}
