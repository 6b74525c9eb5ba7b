//! Public keys that arrive from outside — a DPoP proof's `jwk`, above all — checked for type,
//! curve and length before any cryptographic library sees them.
//!
//! `jsonwebtoken` builds a verifying key from whatever bytes a JWK holds and slices them as it
//! goes: a 5-byte Ed25519 `x` made it panic inside the request. So a key from outside is parsed
//! here into a [`ClientKey`], which can only hold a well-formed key (32 bytes and a valid,
//! non-small-order point for Ed25519; a point on the curve for P-256), and signatures are
//! checked by `ed25519-dalek` and `p256` over the token's exact signing input.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::jwk::parse_ed25519_public_key;

/// The signature algorithms a client may use for a JWS it signs with its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAlg {
    /// `EdDSA`, or `Ed25519` — its fully-specified name (RFC 9864).
    Ed25519,
    /// `ES256`: ECDSA with P-256 and SHA-256.
    Es256,
}

impl ClientAlg {
    /// The `alg` names accepted, in the order discovery lists them.
    pub const NAMES: [&'static str; 3] = ["EdDSA", "Ed25519", "ES256"];

    pub fn parse(alg: &str) -> Option<Self> {
        match alg {
            "EdDSA" | "Ed25519" => Some(ClientAlg::Ed25519),
            "ES256" => Some(ClientAlg::Es256),
            _ => None,
        }
    }
}

/// Why a key from outside is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key must be a JSON object")]
    NotAnObject,
    #[error("the key holds private material (`d`)")]
    Private,
    #[error("key type (`kty`) must be OKP or EC")]
    Type,
    #[error("curve (`crv`) must be Ed25519 (OKP) or P-256 (EC)")]
    Curve,
    #[error("`{0}` must be base64url of exactly {1} bytes")]
    Length(&'static str, usize),
    #[error("`{0}` is not a valid point of the curve")]
    Point(&'static str),
    #[error("the key does not fit the algorithm `alg` names")]
    WrongAlgorithm,
}

/// A well-formed public key of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

fn text<'a>(jwk: &'a Map<String, Value>, member: &'static str) -> Option<&'a str> {
    jwk.get(member).and_then(Value::as_str)
}

/// base64url (no padding) of exactly `len` bytes.
fn fixed_bytes<const N: usize>(
    jwk: &Map<String, Value>,
    member: &'static str,
) -> Result<[u8; N], KeyError> {
    let b64 = text(jwk, member).ok_or(KeyError::Length(member, N))?;
    // Exactly the canonical length first: decoding a megabyte to learn it is too long is waste.
    if b64.len() != (N * 4).div_ceil(3) {
        return Err(KeyError::Length(member, N));
    }
    URL_SAFE_NO_PAD
        .decode(b64)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(KeyError::Length(member, N))
}

impl ClientKey {
    /// Parses a public JWK: `{"kty":"OKP","crv":"Ed25519","x":…}` or
    /// `{"kty":"EC","crv":"P-256","x":…,"y":…}`. Anything else — another type or curve, a short
    /// or long coordinate, a point off the curve, a small-order Ed25519 point, private material —
    /// is refused.
    pub fn from_jwk(jwk: &Value) -> Result<Self, KeyError> {
        let jwk = jwk.as_object().ok_or(KeyError::NotAnObject)?;
        if jwk.contains_key("d") {
            return Err(KeyError::Private);
        }
        match (text(jwk, "kty"), text(jwk, "crv")) {
            (Some("OKP"), Some("Ed25519")) => {
                let x: [u8; 32] = fixed_bytes(jwk, "x")?;
                parse_ed25519_public_key(&URL_SAFE_NO_PAD.encode(x))
                    .map(ClientKey::Ed25519)
                    .map_err(|_| KeyError::Point("x"))
            }
            (Some("EC"), Some("P-256")) => {
                let x: [u8; 32] = fixed_bytes(jwk, "x")?;
                let y: [u8; 32] = fixed_bytes(jwk, "y")?;
                let point =
                    p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                    .map(ClientKey::P256)
                    .map_err(|_| KeyError::Point("x, y"))
            }
            (Some("OKP") | Some("EC"), _) => Err(KeyError::Curve),
            _ => Err(KeyError::Type),
        }
    }

    /// Whether signatures by this key use `alg`.
    pub fn fits(&self, alg: ClientAlg) -> bool {
        matches!(
            (self, alg),
            (ClientKey::Ed25519(_), ClientAlg::Ed25519) | (ClientKey::P256(_), ClientAlg::Es256)
        )
    }

    /// The RFC 7638 SHA-256 thumbprint: the required members in lexicographic order, no white
    /// space, hashed and base64url-encoded.
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            ClientKey::Ed25519(k) => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                URL_SAFE_NO_PAD.encode(k.as_bytes())
            ),
            ClientKey::P256(k) => {
                let point = k.to_encoded_point(false);
                let (x, y) = (
                    point.x().map(|c| URL_SAFE_NO_PAD.encode(c)),
                    point.y().map(|c| URL_SAFE_NO_PAD.encode(c)),
                );
                format!(
                    r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                    x.unwrap_or_default(),
                    y.unwrap_or_default()
                )
            }
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// Checks a JWS signature (the raw bytes of the compact form's third part) over
    /// `signing_input`: Ed25519 strictly (no malleable or small-order forms), ES256 as the 64-byte
    /// `r ‖ s` of RFC 7518 §3.4.
    pub fn verify(&self, alg: ClientAlg, signing_input: &[u8], signature: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        match self {
            ClientKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify_strict(signing_input, &s).is_ok()),
            ClientKey::P256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify(signing_input, &s).is_ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn ed_key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[9u8; 32])
    }

    fn p256_key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap()
    }

    fn p256_jwk(key: &p256::ecdsa::SigningKey) -> Value {
        let point = key.verifying_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())})
    }

    #[test]
    fn the_probe_that_dropped_connections_is_an_ordinary_refusal() {
        let short = json!({"kty":"OKP","crv":"Ed25519","x":"c2hvcnQ"});
        assert_eq!(ClientKey::from_jwk(&short), Err(KeyError::Length("x", 32)));
    }

    #[test]
    fn every_malformed_key_is_refused_before_any_crypto() {
        let good_x = b64(ed_key().verifying_key().as_bytes());
        let p = p256_jwk(&p256_key());
        let mut small_order = [0u8; 32];
        small_order[0] = 1;
        let cases: Vec<(Value, KeyError)> = vec![
            (json!("a string"), KeyError::NotAnObject),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":good_x,"d":good_x}),
                KeyError::Private,
            ),
            (json!({"kty":"RSA","n":"AQAB","e":"AQAB"}), KeyError::Type),
            (json!({"crv":"Ed25519","x":good_x}), KeyError::Type),
            (
                json!({"kty":"OKP","crv":"X25519","x":good_x}),
                KeyError::Curve,
            ),
            (
                json!({"kty":"EC","crv":"P-384","x":p["x"],"y":p["y"]}),
                KeyError::Curve,
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519"}),
                KeyError::Length("x", 32),
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":7}),
                KeyError::Length("x", 32),
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":b64(&[1u8; 31])}),
                KeyError::Length("x", 32),
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":b64(&[1u8; 33])}),
                KeyError::Length("x", 32),
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":format!("{good_x}=")}),
                KeyError::Length("x", 32),
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":"A".repeat(1_000_000)}),
                KeyError::Length("x", 32),
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":b64(&small_order)}),
                KeyError::Point("x"),
            ),
            (
                json!({"kty":"EC","crv":"P-256","x":p["x"]}),
                KeyError::Length("y", 32),
            ),
            (
                json!({"kty":"EC","crv":"P-256","x":b64(&[1u8; 5]),"y":p["y"]}),
                KeyError::Length("x", 32),
            ),
            (
                json!({"kty":"EC","crv":"P-256","x":p["x"],"y":b64(&[3u8; 32])}),
                KeyError::Point("x, y"),
            ),
        ];
        for (jwk, expected) in cases {
            assert_eq!(ClientKey::from_jwk(&jwk), Err(expected), "{jwk}");
        }
    }

    #[test]
    fn ed25519_and_p256_keys_verify_their_own_signatures_only() {
        use ed25519_dalek::Signer as _;
        let input = b"header.claims";
        let ed = ClientKey::from_jwk(
            &json!({"kty":"OKP","crv":"Ed25519","x":b64(ed_key().verifying_key().as_bytes())}),
        )
        .unwrap();
        let ed_sig = ed_key().sign(input).to_bytes();
        assert!(ed.verify(ClientAlg::Ed25519, input, &ed_sig));
        assert!(!ed.verify(ClientAlg::Ed25519, b"header.claimz", &ed_sig));
        assert!(!ed.verify(ClientAlg::Es256, input, &ed_sig));
        assert!(!ed.verify(ClientAlg::Ed25519, input, &ed_sig[..63]));

        let ec = ClientKey::from_jwk(&p256_jwk(&p256_key())).unwrap();
        let ec_sig: p256::ecdsa::Signature = p256_key().sign(input);
        assert!(ec.verify(ClientAlg::Es256, input, &ec_sig.to_bytes()));
        assert!(!ec.verify(ClientAlg::Es256, b"other", &ec_sig.to_bytes()));
        assert!(!ec.verify(ClientAlg::Ed25519, input, &ec_sig.to_bytes()));
        assert!(!ec.verify(ClientAlg::Es256, input, &[0u8; 64]));
        assert!(!ec.verify(ClientAlg::Es256, input, &[]));
    }

    #[test]
    fn thumbprints_follow_rfc_7638() {
        // RFC 8037 A.3: the thumbprint of the A.2 public key.
        let ed = ClientKey::from_jwk(
            &json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
        )
        .unwrap();
        assert_eq!(
            ed.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        // The same as jsonwebtoken computes for a well-formed P-256 key.
        let jwk = p256_jwk(&p256_key());
        let theirs: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
        assert_eq!(
            ClientKey::from_jwk(&jwk).unwrap().thumbprint(),
            theirs
                .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap()
        );
    }
}
