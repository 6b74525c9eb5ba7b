//! Fingerprint captures from an enrolment kiosk. Each capture is signed by the kiosk's key and
//! bound to the face capture's liveness challenge of the same visit, so captures cannot be
//! replayed into another enrolment.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BiometricError, Template};

/// The two enrolled fingers, in the registry's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Finger {
    RightIndex,
    LeftIndex,
}

impl Finger {
    pub fn index(self) -> usize {
        match self {
            Finger::RightIndex => 0,
            Finger::LeftIndex => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Finger::RightIndex => "right_index",
            Finger::LeftIndex => "left_index",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FingerprintCapture {
    pub finger: Finger,
    /// base64 of little-endian f32, as for faces.
    pub template: String,
    /// base64url Ed25519 signature by the kiosk over [`signed_message`].
    pub signature: String,
}

/// What the kiosk signs: a domain label, the visit's liveness challenge id, the finger, and
/// SHA-256 of the encoded template exactly as sent.
pub fn signed_message(challenge_id: &str, finger: Finger, encoded_template: &str) -> Vec<u8> {
    format!(
        "eid-gateway fingerprint v1\n{challenge_id}\n{}\n{}",
        finger.name(),
        hex::encode(Sha256::digest(encoded_template.as_bytes()))
    )
    .into_bytes()
}

/// The capture's template, if the kiosk signed it for this visit.
pub fn verify(
    capture: &FingerprintCapture,
    challenge_id: &str,
    kiosk: &VerifyingKey,
) -> Result<Template, BiometricError> {
    let sig = URL_SAFE_NO_PAD
        .decode(capture.signature.trim_end_matches('='))
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or(BiometricError::DeviceSignatureInvalid)?;
    kiosk
        .verify_strict(
            &signed_message(challenge_id, capture.finger, &capture.template),
            &sig,
        )
        .map_err(|_| BiometricError::DeviceSignatureInvalid)?;
    Ok(Template::from_base64(&capture.template)?)
}
