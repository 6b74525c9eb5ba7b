//! DPoP (RFC 9449): proof-of-possession for access and refresh tokens. A client that sends a
//! `DPoP` proof to the token endpoint gets tokens bound to its key (`cnf.jkt`); from then on
//! every use of them needs a fresh proof by the same key, for that request, used once.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::services::Services;
use crate::store::{PutMode, StoreError};
use crate::tokens::client_keys::{ClientAlg, ClientKey, KeyError};

/// How far a proof's `iat` may be from the gateway's clock.
pub const IAT_WINDOW: Duration = Duration::from_secs(60);
/// The proof algorithms accepted (and advertised in discovery).
pub const ALGORITHMS: [&str; 3] = ClientAlg::NAMES;

/// The `cnf` claim of a sender-constrained token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 7638 SHA-256 thumbprint of the client's DPoP public key.
    pub jkt: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    #[error("the DPoP proof signature does not verify")]
    Signature,
    #[error("the DPoP proof is for another method or URL")]
    WrongRequest,
    #[error("the DPoP proof is too old or from the future")]
    Stale,
    #[error("the DPoP proof was already used")]
    Replayed,
    #[error("the DPoP proof does not match the access token (ath)")]
    WrongAccessToken,
    #[error("the DPoP proof is signed by another key than the token is bound to")]
    WrongKey,
    #[error("this token is bound to a DPoP key: send a DPoP proof")]
    Missing,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Deserialize)]
pub(crate) struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
}

/// The request a proof must be for.
pub struct ProofContext<'a> {
    pub method: &'a str,
    /// The URL without query and fragment, as the client addressed it.
    pub url: &'a str,
    /// The access token the request carries (for `ath`), if any.
    pub access_token: Option<&'a str>,
}

/// Checks a DPoP proof for a request and returns the thumbprint of its key.
pub async fn verify(
    services: &Services,
    proof: &str,
    ctx: &ProofContext<'_>,
) -> Result<String, DpopError> {
    let (jkt, claims) = check_signature(proof)?;
    if !claims.htm.eq_ignore_ascii_case(ctx.method) {
        return Err(DpopError::WrongRequest);
    }
    let htu = claims
        .htu
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    if htu != ctx.url.trim_end_matches('/') {
        return Err(DpopError::WrongRequest);
    }
    let now = services.clock.now();
    let window = IAT_WINDOW.as_secs() as i64;
    if (claims.iat - now.secs()).abs() > window {
        return Err(DpopError::Stale);
    }
    match (ctx.access_token, &claims.ath) {
        (Some(token), Some(ath)) => {
            let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
            if *ath != expected {
                return Err(DpopError::WrongAccessToken);
            }
        }
        (Some(_), None) => return Err(DpopError::WrongAccessToken),
        (None, _) => {}
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(DpopError::Malformed("jti"));
    }
    // Single use: remembered for as long as the proof's iat could be accepted.
    let marker = format!(
        "dpop-jti:{jkt}:{}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(claims.jti.as_bytes()))
    );
    let fresh = services
        .store
        .put_expiring(
            &marker,
            b"1".to_vec(),
            now.plus(IAT_WINDOW * 2),
            PutMode::IfAbsent,
            now,
        )
        .await?;
    if !fresh {
        return Err(DpopError::Replayed);
    }
    Ok(jkt)
}

/// The header rules of RFC 9449 §4.2 and the signature by the key in the header. The key is
/// parsed strictly ([`ClientKey::from_jwk`]) before anything verifies with it.
pub(crate) fn check_signature(proof: &str) -> Result<(String, ProofClaims), DpopError> {
    let mut parts = proof.split('.');
    let (Some(header_segment), Some(claims_segment), Some(signature_segment), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DpopError::Malformed("not a compact JWS"));
    };
    let header: serde_json::Map<String, serde_json::Value> = URL_SAFE_NO_PAD
        .decode(header_segment)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(DpopError::Malformed("header"))?;
    if header.get("typ").and_then(|t| t.as_str()) != Some("dpop+jwt") {
        return Err(DpopError::Malformed("typ must be dpop+jwt"));
    }
    if header.contains_key("crit") {
        return Err(DpopError::Malformed("crit is not supported"));
    }
    let alg = header
        .get("alg")
        .and_then(|a| a.as_str())
        .and_then(ClientAlg::parse)
        .ok_or(DpopError::Malformed("alg must be EdDSA, Ed25519 or ES256"))?;
    let key = match header.get("jwk") {
        Some(jwk) => ClientKey::from_jwk(jwk).map_err(|e| match e {
            KeyError::Private => DpopError::Malformed("jwk must be a public key"),
            _ => DpopError::Malformed("jwk is not a well-formed Ed25519 or P-256 public key"),
        })?,
        None => return Err(DpopError::Malformed("jwk")),
    };
    if !key.fits(alg) {
        return Err(DpopError::Malformed("jwk does not fit alg"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_segment)
        .map_err(|_| DpopError::Malformed("signature"))?;
    let signing_input = &proof[..header_segment.len() + 1 + claims_segment.len()];
    if !key.verify(alg, signing_input.as_bytes(), &signature) {
        return Err(DpopError::Signature);
    }
    let claims: ProofClaims = URL_SAFE_NO_PAD
        .decode(claims_segment)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(DpopError::Malformed(
            "claims: jti, htm, htu and iat are required",
        ))?;
    Ok((key.thumbprint(), claims))
}
