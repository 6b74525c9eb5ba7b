//! Passive and active authentication of a chip read (ICAO 9303 Part 11, simplified), one stable
//! reason code per failure (SPEC §2.2).
//!
//! Passive authentication proves the data came from the state: the Document Signer chains to a
//! trusted CSCA and is within its validity, the SOD signature holds over the exact security
//! object bytes, every data group hashes to what the SOD says, the MRZ check digits hold and
//! agree with DG13, and the registry knows the card, as valid, with the same data and chip key.
//! Active authentication proves the chip is not a copy: it signed our fresh challenge with the
//! private key matching DG15. Passive alone never proves the chip.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::NaiveDate;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::authority::{self, Certificate, CertificateBody, Role};
use super::image::{ChipRead, Dg1, Dg2, Dg13, Dg15, REQUIRED_GROUPS, SecurityObject, Sod};
use super::mrz::{self, MrzInput};
use crate::biometrics::Template;
use crate::domain::{CardStatus, PersonalId};
use crate::registry::Registry;
use crate::store::StoreError;
use crate::tokens::jwk::parse_ed25519_public_key;

/// Why a chip failed; `code()` is what clients see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChipFailure {
    #[error("the Document Signer certificate does not chain to a trusted CSCA")]
    DsUntrusted,
    #[error("the Document Signer certificate has expired")]
    DsExpired,
    #[error("the Document Signer certificate is not yet valid")]
    DsNotYetValid,
    #[error("the SOD signature does not verify with the Document Signer key")]
    SodSignatureInvalid,
    #[error("{0} is missing")]
    DgMissing(&'static str),
    #[error("{0} does not hash to the value in the SOD")]
    DgHashMismatch(&'static str),
    #[error("an MRZ check digit is wrong")]
    MrzCheckDigit,
    #[error("the MRZ (DG1) and DG13 disagree")]
    MrzDg13Mismatch,
    #[error("the registry does not know this card")]
    CardUnknown,
    #[error("the card has been revoked")]
    CardRevoked,
    #[error("the card has expired")]
    CardExpired,
    #[error("the chip's data or key differ from the registry's record")]
    RegistryMismatch,
    #[error("the chip's answer to the challenge does not verify with its DG15 key")]
    AaFailed,
    #[error("{0}")]
    Challenge(&'static str),
}

impl ChipFailure {
    pub fn code(&self) -> &'static str {
        match self {
            ChipFailure::DsUntrusted => "ds_untrusted",
            ChipFailure::DsExpired => "ds_expired",
            ChipFailure::DsNotYetValid => "ds_not_yet_valid",
            ChipFailure::SodSignatureInvalid => "sod_signature_invalid",
            ChipFailure::DgMissing(_) => "dg_missing",
            ChipFailure::DgHashMismatch(_) => "dg_hash_mismatch",
            ChipFailure::MrzCheckDigit => "mrz_check_digit",
            ChipFailure::MrzDg13Mismatch => "mrz_dg13_mismatch",
            ChipFailure::CardUnknown => "card_unknown",
            ChipFailure::CardRevoked => "card_revoked",
            ChipFailure::CardExpired => "card_expired",
            ChipFailure::RegistryMismatch => "registry_mismatch",
            ChipFailure::AaFailed => "aa_failed",
            ChipFailure::Challenge(code) => code,
        }
    }
}

/// A chip read that is not even well-formed: answered 400, and nothing is consumed or stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed chip read: {0}")]
pub struct MalformedRead(pub String);

/// The decoded read: each data group's exact bytes and its parsed content.
pub struct ParsedRead {
    groups: BTreeMap<&'static str, Vec<u8>>,
    pub dg1: Dg1,
    pub dg13: Dg13,
    pub face: Template,
    pub chip_key: Option<VerifyingKey>,
    chip_key_text: Option<String>,
    sod: Sod,
    security_object_bytes: Vec<u8>,
    security_object: SecurityObject,
    sod_signature: Signature,
    pub challenge_id: String,
    challenge: Vec<u8>,
    aa_signature: Signature,
}

fn bytes_of(name: &str, b64: &str) -> Result<Vec<u8>, MalformedRead> {
    STANDARD
        .decode(b64)
        .map_err(|_| MalformedRead(format!("{name} is not base64")))
}

fn json_of<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, MalformedRead> {
    serde_json::from_slice(bytes)
        .map_err(|_| MalformedRead(format!("{name} is truncated or not a valid {name}")))
}

fn signature_of(name: &str, b64: &str, url: bool) -> Result<Signature, MalformedRead> {
    let raw = if url {
        URL_SAFE_NO_PAD.decode(b64.trim_end_matches('='))
    } else {
        STANDARD.decode(b64)
    }
    .map_err(|_| MalformedRead(format!("{name} is not base64")))?;
    Signature::from_slice(&raw).map_err(|_| MalformedRead(format!("{name} is not 64 bytes")))
}

/// Decodes and parses every part of the read; fails on anything malformed.
pub fn parse(read: &ChipRead) -> Result<ParsedRead, MalformedRead> {
    let mut groups = BTreeMap::new();
    let dg1_bytes = bytes_of("DG1", &read.dg1)?;
    let dg2_bytes = bytes_of("DG2", &read.dg2)?;
    let dg13_bytes = bytes_of("DG13", &read.dg13)?;
    let dg1: Dg1 = json_of("DG1", &dg1_bytes)?;
    let dg2: Dg2 = json_of("DG2", &dg2_bytes)?;
    let dg13: Dg13 = json_of("DG13", &dg13_bytes)?;
    let face = Template::from_base64(&dg2.face_template)
        .map_err(|_| MalformedRead("DG2 holds no valid face template".into()))?;
    let (chip_key, chip_key_text) = match &read.dg15 {
        Some(b64) => {
            let bytes = bytes_of("DG15", b64)?;
            let dg15: Dg15 = json_of("DG15", &bytes)?;
            groups.insert("DG15", bytes);
            if dg15.algorithm != "Ed25519" {
                return Err(MalformedRead("DG15 must hold an Ed25519 key".into()));
            }
            let key = parse_ed25519_public_key(&dg15.public_key)
                .map_err(|e| MalformedRead(format!("DG15 key: {e}")))?;
            (Some(key), Some(dg15.public_key))
        }
        None => (None, None),
    };
    groups.insert("DG1", dg1_bytes);
    groups.insert("DG2", dg2_bytes);
    groups.insert("DG13", dg13_bytes);
    let sod_bytes = bytes_of("SOD", &read.sod)?;
    let sod: Sod = json_of("SOD", &sod_bytes)?;
    let security_object_bytes = bytes_of("SOD security object", &sod.security_object)?;
    let security_object: SecurityObject = json_of("SOD security object", &security_object_bytes)?;
    if security_object.digest_algorithm != "SHA-256" {
        return Err(MalformedRead("the SOD must use SHA-256".into()));
    }
    let sod_signature = signature_of("SOD signature", &sod.signature, false)?;
    let aa = &read.active_authentication;
    let challenge = URL_SAFE_NO_PAD
        .decode(aa.challenge_id.trim_end_matches('='))
        .map_err(|_| MalformedRead("challenge_id is not base64url".into()))?;
    let aa_signature = signature_of("active authentication signature", &aa.signature, true)?;
    Ok(ParsedRead {
        groups,
        dg1,
        dg13,
        face,
        chip_key,
        chip_key_text,
        sod,
        security_object_bytes,
        security_object,
        sod_signature,
        challenge_id: aa.challenge_id.clone(),
        challenge,
        aa_signature,
    })
}

/// The trusted CSCAs (the `keys/trust` directory), with a cache of verified DS certificates.
pub struct TrustStore {
    cscas: Vec<(CertificateBody, VerifyingKey)>,
    verified: RwLock<HashMap<String, CertificateBody>>,
}

impl TrustStore {
    /// Loads every self-signed CSCA certificate in `dir`.
    pub fn load(dir: &Path) -> Result<Self, crate::keys::KeyError> {
        let mut cscas = Vec::new();
        let entries =
            std::fs::read_dir(dir).map_err(|_| crate::keys::KeyError::Missing(dir.to_owned()))?;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if !path.to_string_lossy().ends_with(".cert.json") {
                continue;
            }
            let cert = authority::load_certificate(&path)?;
            let invalid = || crate::keys::KeyError::Invalid(path.clone());
            let body = cert.unverified_body().map_err(|_| invalid())?;
            let key = body.public_key().map_err(|_| invalid())?;
            let body = cert.verify(&key).map_err(|_| invalid())?;
            if body.role != Role::Csca {
                return Err(invalid());
            }
            cscas.push((body, key));
        }
        Ok(Self {
            cscas,
            verified: RwLock::new(HashMap::new()),
        })
    }

    /// The Document Signer's certificate body, if a trusted CSCA signed it and it is valid on
    /// `today`.
    pub fn document_signer(
        &self,
        cert: &Certificate,
        today: NaiveDate,
    ) -> Result<CertificateBody, ChipFailure> {
        let cached = self
            .verified
            .read()
            .ok()
            .and_then(|m| m.get(&cert.signature).cloned());
        let body = match cached {
            Some(body) => body,
            None => {
                let body = self
                    .cscas
                    .iter()
                    .filter(|(csca, _)| today >= csca.not_before && today <= csca.not_after)
                    .find_map(|(_, key)| cert.verify(key).ok())
                    .filter(|b| b.role == Role::DocumentSigner)
                    .ok_or(ChipFailure::DsUntrusted)?;
                if let Ok(mut m) = self.verified.write() {
                    m.insert(cert.signature.clone(), body.clone());
                }
                body
            }
        };
        if today < body.not_before {
            return Err(ChipFailure::DsNotYetValid);
        }
        if today > body.not_after {
            return Err(ChipFailure::DsExpired);
        }
        Ok(body)
    }
}

/// The checks of passive authentication that need only the read and the trust store.
pub fn passive_offline(
    read: &ParsedRead,
    trust: &TrustStore,
    today: NaiveDate,
) -> Result<(), ChipFailure> {
    for name in REQUIRED_GROUPS {
        if !read.groups.contains_key(name)
            || !read.security_object.data_group_hashes.contains_key(name)
        {
            return Err(ChipFailure::DgMissing(name));
        }
    }
    let ds = trust.document_signer(&read.sod.ds_certificate, today)?;
    let ds_key = ds.public_key().map_err(|_| ChipFailure::DsUntrusted)?;
    ds_key
        .verify_strict(&read.security_object_bytes, &read.sod_signature)
        .map_err(|_| ChipFailure::SodSignatureInvalid)?;
    for (name, bytes) in &read.groups {
        let expected = read
            .security_object
            .data_group_hashes
            .get(*name)
            .and_then(|h| STANDARD.decode(h).ok());
        let actual: [u8; 32] = Sha256::digest(bytes).into();
        if expected.as_deref() != Some(&actual[..]) {
            return Err(ChipFailure::DgHashMismatch(name));
        }
    }
    let td1 = mrz::parse(&read.dg1.mrz).map_err(|_| ChipFailure::MrzCheckDigit)?;
    let dg13 = &read.dg13;
    let agrees = td1.agrees_with(&MrzInput {
        document_number: &dg13.card_number,
        personal_id: &dg13.personal_id,
        birth_date: dg13.birth_date,
        sex: dg13.sex,
        expiry_date: dg13.expires_on,
        full_name: &dg13.full_name,
    });
    if !agrees {
        return Err(ChipFailure::MrzDg13Mismatch);
    }
    Ok(())
}

/// How the registry sees the card.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CardStanding {
    Valid,
    Revoked,
    Expired,
    Unknown,
}

/// The registry's part of passive authentication: the card is known, valid, unexpired, and the
/// chip's data and key are the registry's. Returns the card holder's personal id.
pub async fn passive_registry(
    read: &ParsedRead,
    registry: &Registry,
    today: NaiveDate,
) -> Result<(Result<PersonalId, ChipFailure>, CardStanding), StoreError> {
    let Some(entry) = registry.card(&read.dg13.card_number).await? else {
        return Ok((Err(ChipFailure::CardUnknown), CardStanding::Unknown));
    };
    let standing = if entry.card.status == CardStatus::Revoked {
        CardStanding::Revoked
    } else if entry.card.expires_on < today {
        CardStanding::Expired
    } else {
        CardStanding::Valid
    };
    match standing {
        CardStanding::Revoked => return Ok((Err(ChipFailure::CardRevoked), standing)),
        CardStanding::Expired => return Ok((Err(ChipFailure::CardExpired), standing)),
        _ => {}
    }
    let person = registry.person(&entry.personal_id).await?;
    let dg13 = &read.dg13;
    let same = person.is_some_and(|p| {
        p.personal_id.as_str() == dg13.personal_id
            && p.full_name == dg13.full_name
            && p.birth_date == dg13.birth_date
            && p.sex == dg13.sex
    }) && entry.personal_id.as_str() == dg13.personal_id
        && read.chip_key_text.as_deref() == Some(entry.card.chip_public_key.as_str())
        && entry.card.expires_on == dg13.expires_on;
    if same {
        Ok((Ok(entry.personal_id), standing))
    } else {
        Ok((Err(ChipFailure::RegistryMismatch), standing))
    }
}

/// Active authentication's signature check (the challenge itself is consumed by the caller).
pub fn active_signature(read: &ParsedRead) -> Result<(), ChipFailure> {
    let key = read.chip_key.ok_or(ChipFailure::DgMissing("DG15"))?;
    key.verify_strict(&read.challenge, &read.aa_signature)
        .map_err(|_| ChipFailure::AaFailed)
}
