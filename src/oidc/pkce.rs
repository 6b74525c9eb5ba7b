//! PKCE (RFC 7636), S256 only: `plain` and missing challenges are refused at the authorization
//! endpoint, so every code is bound to a verifier.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1); a challenge is 43 (a SHA-256).
fn well_formed(v: &str, min: usize) -> bool {
    (min..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

pub fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && well_formed(challenge, 43)
}

/// Whether `verifier` hashes to `challenge` (S256).
pub fn verifies(verifier: &str, challenge: &str) -> bool {
    if !well_formed(verifier, 43) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_appendix_b_example_verifies() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(valid_challenge(challenge));
        assert!(verifies(verifier, challenge));
        assert!(!verifies(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl",
            challenge
        ));
        assert!(!verifies("short", challenge));
        assert!(!valid_challenge("plain-challenge"));
    }
}
