//! What a chip holds and what a reader sends: data groups, the security object (EF.SOD), the
//! chip image file the simulator keeps, and the chip read.
//!
//! Every data group travels as base64 of its exact bytes (JSON here). Hashes and signatures are
//! computed over those bytes as received; the JSON is parsed only to read fields.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::NaiveDate;
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};

use super::authority::Certificate;
use crate::domain::Sex;

/// DG1: the machine-readable zone, three TD1 lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dg1 {
    pub mrz: Vec<String>,
}

/// DG2: the face template captured when the card was issued (base64 of little-endian f32).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dg2 {
    pub face_template: String,
}

/// DG13: the Vietnamese personal data of the CCCD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dg13 {
    pub card_number: String,
    pub personal_id: String,
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub nationality: String,
    pub ethnicity: String,
    pub religion: String,
    pub hometown: String,
    pub residence: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
}

/// DG15: the chip's active-authentication public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dg15 {
    pub algorithm: String,
    /// Ed25519 public key, base64url.
    pub public_key: String,
}

/// The LDS security object inside EF.SOD: the hash of every data group, by data group name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityObject {
    pub version: u32,
    pub digest_algorithm: String,
    /// `"DG1"` → base64 SHA-256 of that data group's bytes.
    pub data_group_hashes: BTreeMap<String, String>,
}

/// EF.SOD: the security object's exact bytes, the Document Signer's signature over them, and
/// the Document Signer's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sod {
    /// base64 of the security object bytes that were signed.
    pub security_object: String,
    /// base64 Ed25519 signature by the Document Signer.
    pub signature: String,
    pub ds_certificate: Certificate,
}

/// The data groups every CCCD chip must present.
pub const REQUIRED_GROUPS: [&str; 4] = ["DG1", "DG2", "DG13", "DG15"];

/// The chip's answer to an active-authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveAuthenticationAnswer {
    /// The challenge as the gateway issued it (base64url of its random bytes, which the chip signs).
    pub challenge_id: String,
    /// base64url Ed25519 signature by the chip's private key over the challenge bytes.
    pub signature: String,
}

/// What an NFC reader sends: each data group and EF.SOD as base64 of their exact bytes, and the
/// active-authentication answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChipRead {
    pub dg1: String,
    pub dg2: String,
    pub dg13: String,
    /// Absent on a chip without active authentication (which then fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dg15: Option<String>,
    pub sod: String,
    pub active_authentication: ActiveAuthenticationAnswer,
}

pub const IMAGE_FORMAT: &str = "eid-gateway chip image v1";

/// A chip image file: the card's data groups and SOD, and the chip's private key, which only
/// the simulator reads (a real chip never lets it out).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChipImage {
    pub format: String,
    pub card_number: String,
    /// The defect this chip was issued with, for test cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defect: Option<String>,
    /// `"DG1"` → base64 of the data group's bytes.
    pub data_groups: BTreeMap<String, String>,
    /// base64 of EF.SOD's bytes.
    pub sod: String,
    /// The chip's Ed25519 private key (32-byte seed, base64url).
    pub chip_private_key: String,
}

impl std::fmt::Debug for ChipImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChipImage")
            .field("card_number", &self.card_number)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("chip image: {0}")]
pub struct ImageError(pub String);

impl ChipImage {
    fn chip_key(&self) -> Result<SigningKey, ImageError> {
        let seed = URL_SAFE_NO_PAD
            .decode(&self.chip_private_key)
            .map_err(|_| ImageError("the chip key is not base64url".into()))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| ImageError("the chip key is not 32 bytes".into()))?;
        Ok(SigningKey::from_bytes(&seed))
    }

    /// Reads a chip image file's JSON, refusing anything but this simulator's format.
    pub fn from_json(text: &str) -> Result<Self, ImageError> {
        let image: Self =
            serde_json::from_str(text).map_err(|e| ImageError(format!("not a chip image: {e}")))?;
        if image.format != IMAGE_FORMAT {
            return Err(ImageError(format!("unknown format {:?}", image.format)));
        }
        Ok(image)
    }

    /// The personal id printed in DG13, as the card states it (nothing here proves it).
    pub fn stated_personal_id(&self) -> Result<String, ImageError> {
        let bytes = self
            .data_groups
            .get("DG13")
            .and_then(|g| STANDARD.decode(g).ok())
            .ok_or_else(|| ImageError("the image has no readable DG13".into()))?;
        let dg13: Dg13 = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError(format!("DG13 is not valid: {e}")))?;
        Ok(dg13.personal_id)
    }

    /// Plays the chip in front of a reader: hands over the data groups and the SOD and signs
    /// the challenge with the chip key.
    pub fn answer(&self, challenge_id: &str) -> Result<ChipRead, ImageError> {
        let challenge = URL_SAFE_NO_PAD
            .decode(challenge_id)
            .map_err(|_| ImageError("the challenge is not base64url".into()))?;
        let signature = self.chip_key()?.sign(&challenge);
        let group = |name: &str| self.data_groups.get(name).cloned();
        let missing = || ImageError("the image lacks a data group".into());
        Ok(ChipRead {
            dg1: group("DG1").ok_or_else(missing)?,
            dg2: group("DG2").ok_or_else(missing)?,
            dg13: group("DG13").ok_or_else(missing)?,
            dg15: group("DG15"),
            sod: self.sod.clone(),
            active_authentication: ActiveAuthenticationAnswer {
                challenge_id: challenge_id.to_owned(),
                signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
            },
        })
    }
}

/// base64 of JSON bytes, the encoding every data group uses on the wire.
pub fn encode_group<T: Serialize>(value: &T) -> String {
    STANDARD.encode(serde_json::to_vec(value).unwrap_or_default())
}
