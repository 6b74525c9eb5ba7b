//! Safe handling of compact JWS before and around signature verification (RFC 8725).
//!
//! `jsonwebtoken` checks signatures and time claims but not every header rule this gateway
//! enforces: it ignores `crit`, and does not forbid keys named by the token itself. So every
//! token first goes through [`inspect`], which insists on `alg: EdDSA` and refuses `jku`, `jwk`,
//! `x5u`, `x5c` and `crit`; only then is the signature checked with a key the gateway chose.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;

/// Header parameters that let a token choose its own verification key or demand extensions.
pub const FORBIDDEN_HEADERS: [&str; 5] = ["jku", "jwk", "x5u", "x5c", "crit"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("header parameter `{0}` is not accepted")]
    ForbiddenHeader(&'static str),
    #[error("algorithm `{0}` is not accepted; only EdDSA")]
    Algorithm(String),
    #[error("no published key has this `kid`")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("claims do not have the expected form: {0}")]
    Claims(String),
}

/// The header fields the gateway reads, after the forbidden ones were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

fn b64_json(segment: &str) -> Result<serde_json::Value, JwsError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwsError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwsError::Malformed)
}

/// Checks the structure and header of a compact JWS and returns the header and the *unverified*
/// claims (only to find out who claims to have signed it).
pub fn inspect(token: &str) -> Result<(Header, serde_json::Value), JwsError> {
    inspect_allowing(token, &["EdDSA"])
}

/// [`inspect`] for a token a client signed with its own key: `alg` may be `EdDSA`, `Ed25519`
/// (its fully-specified name, RFC 9864, which current client libraries send) or `ES256` (for a
/// client that registered a P-256 key). Verify such a token with [`verify_client_signed`].
pub fn inspect_client_token(token: &str) -> Result<(Header, serde_json::Value), JwsError> {
    inspect_allowing(token, &crate::tokens::client_keys::ClientAlg::NAMES)
}

/// Verifies a client-signed token's signature with the client's registered key, over the exact
/// signing input, for the `alg` its header names (which must fit the key), and decodes the
/// claims. Time checks are the caller's.
pub fn verify_client_signed<T: DeserializeOwned>(
    token: &str,
    key: &crate::tokens::client_keys::ClientKey,
) -> Result<T, JwsError> {
    use crate::tokens::client_keys::ClientAlg;
    let (header, claims_segment) = split_and_check(token, &ClientAlg::NAMES)?;
    let alg = ClientAlg::parse(&header.alg).ok_or(JwsError::Algorithm(header.alg.clone()))?;
    if !key.fits(alg) {
        return Err(JwsError::Algorithm(header.alg));
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(JwsError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwsError::Malformed)?;
    if !key.verify(alg, signing_input.as_bytes(), &signature) {
        return Err(JwsError::BadSignature);
    }
    serde_json::from_value(b64_json(claims_segment)?).map_err(|e| JwsError::Claims(e.to_string()))
}

fn inspect_allowing(
    token: &str,
    algorithms: &[&str],
) -> Result<(Header, serde_json::Value), JwsError> {
    let (header, claims_segment) = split_and_check(token, algorithms)?;
    let claims = b64_json(claims_segment)?;
    if !claims.is_object() {
        return Err(JwsError::Malformed);
    }
    Ok((header, claims))
}

fn split_and_check<'t>(token: &'t str, algorithms: &[&str]) -> Result<(Header, &'t str), JwsError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    if h.is_empty() || c.is_empty() || s.is_empty() {
        return Err(JwsError::Malformed);
    }
    let header = b64_json(h)?;
    let obj = header.as_object().ok_or(JwsError::Malformed)?;
    if let Some(name) = FORBIDDEN_HEADERS.iter().find(|n| obj.contains_key(**n)) {
        return Err(JwsError::ForbiddenHeader(name));
    }
    let alg = match obj.get("alg").and_then(|a| a.as_str()) {
        Some(alg) if algorithms.contains(&alg) => alg.to_owned(),
        Some(other) => return Err(JwsError::Algorithm(other.to_owned())),
        None => return Err(JwsError::Malformed),
    };
    let text = |k: &str| -> Result<Option<String>, JwsError> {
        match obj.get(k) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(JwsError::Malformed),
        }
    };
    let parsed = Header {
        alg,
        kid: text("kid")?,
        typ: text("typ")?,
    };
    Ok((parsed, c))
}

/// A token of the gateway's own whose header passed the rules above and whose signature
/// verified with one of the gateway's keys; the claims are decoded once, into the type the
/// caller expects. Time, issuer and audience checks are the caller's, against the injected clock.
#[derive(Debug, Clone)]
pub struct Verified {
    pub header: Header,
    payload: Vec<u8>,
}

impl Verified {
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        serde_json::from_slice(&self.payload).map_err(|e| JwsError::Claims(e.to_string()))
    }
}

/// The one check of every token the gateway signed (presentation, session, access, ID tokens):
/// the header is read once (only `EdDSA`, none of [`FORBIDDEN_HEADERS`]), its `kid` picks the key
/// from `key_of` — keys already decoded, so no point is decompressed per call — and the Ed25519
/// signature is checked strictly over the exact signing input.
pub fn verify_own<'k>(
    token: &str,
    key_of: impl FnOnce(&str) -> Option<&'k ed25519_dalek::VerifyingKey>,
) -> Result<Verified, JwsError> {
    let (header, claims_segment) = split_and_check(token, &["EdDSA"])?;
    let key = header
        .kid
        .as_deref()
        .and_then(key_of)
        .ok_or(JwsError::UnknownKey)?;
    let (signing_input, signature) = token.rsplit_once('.').ok_or(JwsError::Malformed)?;
    let signature = ed25519_signature(signature)?;
    key.verify_strict(signing_input.as_bytes(), &signature)
        .map_err(|_| JwsError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(claims_segment)
        .map_err(|_| JwsError::Malformed)?;
    Ok(Verified { header, payload })
}

fn ed25519_signature(segment: &str) -> Result<ed25519_dalek::Signature, JwsError> {
    let bytes: [u8; 64] = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwsError::Malformed)?
        .try_into()
        .map_err(|_| JwsError::Malformed)?;
    Ok(ed25519_dalek::Signature::from_bytes(&bytes))
}

/// The header of an ID token sent back as a logout hint: EdDSA, or RS256 for relying parties
/// registered for RS256 ID tokens. (Nothing else may carry an RS256 token.)
pub fn inspect_id_token_hint(token: &str) -> Result<Header, JwsError> {
    split_and_check(token, &["EdDSA", "RS256"]).map(|(header, _)| header)
}

/// Verifies an RS256 signature with `key` and decodes the claims; for logout hints only.
pub fn verify_rs256_hint<T: DeserializeOwned>(
    token: &str,
    key: &DecodingKey,
) -> Result<T, JwsError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<T>(token, key, &validation)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => JwsError::BadSignature,
            _ => JwsError::Malformed,
        })
}

/// Verifies an Ed25519 signature (`alg` `EdDSA` or `Ed25519`) over the token's exact signing
/// input with a raw public key, and decodes the claims. As with [`verify_own`], time checks
/// are the caller's.
pub fn verify_ed25519<T: DeserializeOwned>(
    token: &str,
    key: &ed25519_dalek::VerifyingKey,
) -> Result<T, JwsError> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(JwsError::Malformed)?;
    let claims_segment = signing_input
        .split_once('.')
        .map(|(_, c)| c)
        .ok_or(JwsError::Malformed)?;
    key.verify_strict(signing_input.as_bytes(), &ed25519_signature(signature)?)
        .map_err(|_| JwsError::BadSignature)?;
    serde_json::from_value(b64_json(claims_segment)?).map_err(|e| JwsError::Claims(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, claims: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn refuses_every_key_carrying_header_and_crit() {
        for name in FORBIDDEN_HEADERS {
            let t = token(&format!(r#"{{"alg":"EdDSA","{name}":"x"}}"#), "{}");
            assert_eq!(inspect(&t).unwrap_err(), JwsError::ForbiddenHeader(name));
        }
    }

    #[test]
    fn refuses_other_algorithms_and_none() {
        for alg in ["none", "HS256", "RS256", "ES256", "eddsa"] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            assert_eq!(inspect(&t).unwrap_err(), JwsError::Algorithm(alg.into()));
        }
    }

    #[test]
    fn client_tokens_may_name_ed25519_and_are_checked_over_the_exact_bytes() {
        use ed25519_dalek::Signer;
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"Ed25519"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"iss":"x"}"#)
        );
        let signed = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes())
        );
        // Only client tokens may use the fully-specified name; the gateway's own stay EdDSA.
        assert!(inspect_client_token(&signed).is_ok());
        assert_eq!(
            inspect(&signed).unwrap_err(),
            JwsError::Algorithm("Ed25519".into())
        );
        let claims: serde_json::Value = verify_ed25519(&signed, &key.verifying_key()).unwrap();
        assert_eq!(claims["iss"], "x");
        let other = ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]);
        assert_eq!(
            verify_ed25519::<serde_json::Value>(&signed, &other.verifying_key()).unwrap_err(),
            JwsError::BadSignature
        );
        let tampered = signed.replacen(
            &URL_SAFE_NO_PAD.encode(r#"{"iss":"x"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"iss":"y"}"#),
            1,
        );
        assert_eq!(
            verify_ed25519::<serde_json::Value>(&tampered, &key.verifying_key()).unwrap_err(),
            JwsError::BadSignature
        );
    }

    #[test]
    fn own_tokens_verify_only_with_the_key_their_kid_names() {
        use ed25519_dalek::Signer;
        let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let public = key.verifying_key();
        let sign = |header: &str, claims: &str| {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims)
            );
            let signature = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes());
            format!("{input}.{signature}")
        };
        let keys = |kid: &str| (kid == "k1").then_some(&public);
        let good = sign(
            r#"{"alg":"EdDSA","kid":"k1","typ":"x+jwt"}"#,
            r#"{"sub":"a"}"#,
        );
        let verified = verify_own(&good, keys).unwrap();
        assert_eq!(verified.header.typ.as_deref(), Some("x+jwt"));
        assert_eq!(verified.claims::<serde_json::Value>().unwrap()["sub"], "a");
        #[derive(Debug, serde::Deserialize)]
        struct Wanted {
            #[allow(dead_code)]
            exp: i64,
        }
        assert!(matches!(
            verified.claims::<Wanted>().unwrap_err(),
            JwsError::Claims(_)
        ));

        for header in [r#"{"alg":"EdDSA","kid":"k2"}"#, r#"{"alg":"EdDSA"}"#] {
            assert_eq!(
                verify_own(&sign(header, "{}"), keys).unwrap_err(),
                JwsError::UnknownKey
            );
        }
        // Signed by the right key, and still refused: the header may not carry or point to a key,
        // and the gateway's own tokens are EdDSA by name.
        for name in FORBIDDEN_HEADERS {
            let header = format!(r#"{{"alg":"EdDSA","kid":"k1","{name}":"x"}}"#);
            assert_eq!(
                verify_own(&sign(&header, "{}"), keys).unwrap_err(),
                JwsError::ForbiddenHeader(name)
            );
        }
        assert_eq!(
            verify_own(&sign(r#"{"alg":"Ed25519","kid":"k1"}"#, "{}"), keys).unwrap_err(),
            JwsError::Algorithm("Ed25519".into())
        );
        let tampered = good.replacen(
            &URL_SAFE_NO_PAD.encode(r#"{"sub":"a"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"sub":"b"}"#),
            1,
        );
        assert_eq!(
            verify_own(&tampered, keys).unwrap_err(),
            JwsError::BadSignature
        );
        let (input, _) = good.rsplit_once('.').unwrap();
        let short = format!("{input}.{}", URL_SAFE_NO_PAD.encode([0u8; 63]));
        assert_eq!(verify_own(&short, keys).unwrap_err(), JwsError::Malformed);
    }

    #[test]
    fn refuses_malformed_structures() {
        assert_eq!(inspect("a.b").unwrap_err(), JwsError::Malformed);
        assert_eq!(inspect("a.b.c.d").unwrap_err(), JwsError::Malformed);
        assert_eq!(
            inspect(&token(r#"{"alg":"EdDSA"}"#, "[1]")).unwrap_err(),
            JwsError::Malformed
        );
        assert_eq!(
            inspect(&token(r#"{"alg":"EdDSA","kid":7}"#, "{}")).unwrap_err(),
            JwsError::Malformed
        );
        let no_sig = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert_eq!(inspect(&no_sig).unwrap_err(), JwsError::Malformed);
    }
}
