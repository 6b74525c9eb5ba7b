//! Simulated presentation-attack detection: a random sequence of actions the capture must
//! perform, bound to a single-use challenge and signed by the capturing device's key.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BiometricError, Template};
use crate::challenges::{ChallengeError, Challenges, random_token};

pub const CHALLENGE_KIND: &str = "liveness";
pub const TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Blink,
    Smile,
    TurnLeft,
    TurnRight,
    Nod,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Blink,
        Action::Smile,
        Action::TurnLeft,
        Action::TurnRight,
        Action::Nod,
    ];

    fn name(self) -> &'static str {
        match self {
            Action::Blink => "blink",
            Action::Smile => "smile",
            Action::TurnLeft => "turn_left",
            Action::TurnRight => "turn_right",
            Action::Nod => "nod",
        }
    }
}

/// What the capturing device is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LivenessChallenge {
    pub challenge_id: String,
    /// base64url of 32 random bytes.
    pub nonce: String,
    pub actions: Vec<Action>,
    pub expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    nonce: String,
    actions: Vec<Action>,
}

/// A live capture as the device sends it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub challenge_id: String,
    pub actions: Vec<Action>,
    /// The captured template, base64 of little-endian f32. The signature covers these exact
    /// characters; the template is parsed only after the signature checks out.
    pub template: String,
    /// base64url Ed25519 signature over [`signed_message`].
    pub signature: String,
}

/// The bytes a device signs: a domain label, the nonce, SHA-256 of the encoded template exactly
/// as sent, and the actions in order.
pub fn signed_message(nonce: &str, encoded_template: &str, actions: &[Action]) -> Vec<u8> {
    let mut m = b"eid-gateway liveness v1\n".to_vec();
    m.extend_from_slice(nonce.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(hex::encode(Sha256::digest(encoded_template.as_bytes())).as_bytes());
    m.push(b'\n');
    let names: Vec<&str> = actions.iter().map(|a| a.name()).collect();
    m.extend_from_slice(names.join(",").as_bytes());
    m
}

#[derive(Clone)]
pub struct Liveness {
    challenges: Challenges,
}

impl Liveness {
    pub fn new(challenges: Challenges) -> Self {
        Self { challenges }
    }

    /// A fresh challenge of three distinct random actions for `requester`.
    pub async fn challenge(&self, requester: &str) -> Result<LivenessChallenge, BiometricError> {
        let nonce = random_token()?;
        let mut rng = rand::rng();
        let actions: Vec<Action> = Action::ALL.choose_multiple(&mut rng, 3).copied().collect();
        let stored = Stored {
            nonce: nonce.clone(),
            actions: actions.clone(),
        };
        let (challenge_id, expires_at) = self
            .challenges
            .issue(CHALLENGE_KIND, requester, TTL, &stored)
            .await?;
        Ok(LivenessChallenge {
            challenge_id,
            nonce,
            actions,
            expires_at: expires_at.secs(),
        })
    }

    /// Checks a capture: the challenge (single use, requester, expiry), the performed actions and
    /// the device signature. Returns the template to be matched.
    pub async fn verify(
        &self,
        capture: &Capture,
        requester: &str,
        device: &VerifyingKey,
    ) -> Result<Template, BiometricError> {
        let stored: Stored = self
            .challenges
            .consume(CHALLENGE_KIND, &capture.challenge_id, requester)
            .await?;
        let sig = URL_SAFE_NO_PAD
            .decode(capture.signature.trim_end_matches('='))
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or(BiometricError::DeviceSignatureInvalid)?;
        let message = signed_message(&stored.nonce, &capture.template, &capture.actions);
        device
            .verify_strict(&message, &sig)
            .map_err(|_| BiometricError::DeviceSignatureInvalid)?;
        if capture.actions != stored.actions {
            return Err(BiometricError::LivenessFailed);
        }
        Ok(Template::from_base64(&capture.template)?)
    }
}

impl From<ChallengeError> for BiometricError {
    fn from(e: ChallengeError) -> Self {
        match e {
            ChallengeError::Store(s) => BiometricError::Store(s),
            other => BiometricError::Challenge(other.code()),
        }
    }
}
