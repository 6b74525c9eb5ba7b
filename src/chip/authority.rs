//! The card authority: a Country Signing CA (CSCA) and the Document Signers (DS) it certifies.
//!
//! ICAO 9303 uses X.509; this simulation keeps the same fields (serial, issuer, subject,
//! validity, public key, issuer's signature) in a compact certificate whose signed part is the
//! exact JSON bytes of [`CertificateBody`], signed with Ed25519. The signature is always checked
//! over the bytes as received, never over a re-serialisation.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Months, NaiveDate};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::keys::{KeyError, read_private, write_private, write_public};
use crate::tokens::jwk::parse_ed25519_public_key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Csca,
    DocumentSigner,
}

/// The signed part of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateBody {
    pub serial: String,
    pub role: Role,
    pub subject: String,
    pub issuer: String,
    pub not_before: NaiveDate,
    pub not_after: NaiveDate,
    /// Ed25519 public key, base64url.
    pub public_key: String,
}

/// A certificate as stored and transmitted: the body's exact bytes and the issuer's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// Base64 of the exact body bytes that were signed.
    pub body: String,
    /// Base64 of the Ed25519 signature over those bytes.
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("certificate is malformed")]
    Malformed,
    #[error("certificate signature does not verify with the issuer's key")]
    Signature,
}

impl Certificate {
    pub fn issue(body: &CertificateBody, issuer: &SigningKey) -> Self {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let signature = issuer.sign(&bytes);
        Self {
            body: STANDARD.encode(&bytes),
            signature: STANDARD.encode(signature.to_bytes()),
        }
    }

    /// The body, parsed from the signed bytes, if `issuer` signed them.
    pub fn verify(&self, issuer: &VerifyingKey) -> Result<CertificateBody, CertificateError> {
        let bytes = STANDARD
            .decode(&self.body)
            .map_err(|_| CertificateError::Malformed)?;
        let sig = STANDARD
            .decode(&self.signature)
            .map_err(|_| CertificateError::Malformed)?;
        let sig = Signature::from_slice(&sig).map_err(|_| CertificateError::Malformed)?;
        issuer
            .verify_strict(&bytes, &sig)
            .map_err(|_| CertificateError::Signature)?;
        serde_json::from_slice(&bytes).map_err(|_| CertificateError::Malformed)
    }

    /// The body without checking the signature: only to learn which issuer to check it against.
    pub fn unverified_body(&self) -> Result<CertificateBody, CertificateError> {
        let bytes = STANDARD
            .decode(&self.body)
            .map_err(|_| CertificateError::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|_| CertificateError::Malformed)
    }
}

impl CertificateBody {
    pub fn public_key(&self) -> Result<VerifyingKey, CertificateError> {
        parse_ed25519_public_key(&self.public_key).map_err(|_| CertificateError::Malformed)
    }
}

/// The card authority's key files.
pub struct CardAuthority;

fn new_signing_key() -> Result<SigningKey, KeyError> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    crate::keys::files_random(&mut *seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

fn save_key(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| KeyError::Invalid(path.to_owned()))?;
    write_private(path, pem.as_bytes())
}

fn save_cert(path: &Path, cert: &Certificate) -> Result<(), KeyError> {
    let json = serde_json::to_vec_pretty(cert).map_err(|_| KeyError::Invalid(path.to_owned()))?;
    write_public(path, &json)
}

pub fn load_key(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = read_private(path)?;
    SigningKey::from_pkcs8_pem(pem.expose_secret()).map_err(|_| KeyError::Invalid(path.to_owned()))
}

pub fn load_certificate(path: &Path) -> Result<Certificate, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|_| KeyError::Missing(path.to_owned()))?;
    serde_json::from_str(&text).map_err(|_| KeyError::Invalid(path.to_owned()))
}

fn date_of(t: Timestamp) -> NaiveDate {
    t.to_datetime().date_naive()
}

impl CardAuthority {
    /// Creates a CSCA (valid 15 years), puts its certificate in the trust store, and creates the
    /// first Document Signer (valid 10 years, so cards it signed stay verifiable for their life).
    pub fn create(dir: &Path, trust_dir: &Path, now: Timestamp) -> Result<(), KeyError> {
        let today = date_of(now);
        let csca = new_signing_key()?;
        let csca_body = CertificateBody {
            serial: "CSCA-0001".into(),
            role: Role::Csca,
            subject: "CN=CSCA Viet Nam (simulated),C=VN".into(),
            issuer: "CN=CSCA Viet Nam (simulated),C=VN".into(),
            not_before: today,
            not_after: today
                .checked_add_months(Months::new(15 * 12))
                .unwrap_or(today),
            public_key: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(csca.verifying_key().as_bytes()),
        };
        let csca_cert = Certificate::issue(&csca_body, &csca);
        save_key(&dir.join("csca.pem"), &csca)?;
        save_cert(&dir.join("csca.cert.json"), &csca_cert)?;
        save_cert(&trust_dir.join("csca-0001.cert.json"), &csca_cert)?;
        Self::add_document_signer(dir, &csca, &csca_body, 1, today, Months::new(10 * 12))
    }

    /// Document Signer rotation: creates the next Document Signer (valid 10 years from today);
    /// new cards are signed by it, cards of earlier ones stay valid while their certificates
    /// are. Returns its number.
    pub fn add_next_document_signer(dir: &Path, now: Timestamp) -> Result<u32, KeyError> {
        let csca = load_key(&dir.join("csca.pem"))?;
        let csca_body = load_certificate(&dir.join("csca.cert.json"))?
            .unverified_body()
            .map_err(|_| KeyError::Invalid(dir.join("csca.cert.json")))?;
        let next = crate::chip::issuance::document_signer_numbers(dir)?
            .into_iter()
            .map(|(n, _)| n)
            .max()
            .unwrap_or(0)
            + 1;
        Self::add_document_signer(
            dir,
            &csca,
            &csca_body,
            next,
            date_of(now),
            Months::new(10 * 12),
        )?;
        Ok(next)
    }

    /// Issues Document Signer number `n`, signed by the CSCA.
    pub fn add_document_signer(
        dir: &Path,
        csca: &SigningKey,
        csca_body: &CertificateBody,
        n: u32,
        not_before: NaiveDate,
        validity: Months,
    ) -> Result<(), KeyError> {
        let ds = new_signing_key()?;
        let body = CertificateBody {
            serial: format!("DS-{n:04}"),
            role: Role::DocumentSigner,
            subject: format!(
                "CN=Document Signer {n:04} (simulated),O=Cuc Canh sat QLHC ve TTXH,C=VN"
            ),
            issuer: csca_body.subject.clone(),
            not_before,
            not_after: not_before
                .checked_add_months(validity)
                .unwrap_or(not_before),
            public_key: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(ds.verifying_key().as_bytes()),
        };
        save_key(&dir.join(format!("ds-{n:04}.pem")), &ds)?;
        save_cert(
            &dir.join(format!("ds-{n:04}.cert.json")),
            &Certificate::issue(&body, csca),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_signer_chains_to_the_trusted_csca() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca");
        let trust = dir.path().join("trust");
        CardAuthority::create(&ca, &trust, Timestamp::from_secs(1_750_000_000)).unwrap();
        let csca = load_certificate(&trust.join("csca-0001.cert.json")).unwrap();
        let csca_body = csca.unverified_body().unwrap();
        let csca_key = csca_body.public_key().unwrap();
        assert_eq!(csca.verify(&csca_key).unwrap().role, Role::Csca);
        let ds = load_certificate(&ca.join("ds-0001.cert.json")).unwrap();
        let ds_body = ds.verify(&csca_key).unwrap();
        assert_eq!(ds_body.role, Role::DocumentSigner);
        assert!(ds_body.not_after > ds_body.not_before);
        let ds_key = load_key(&ca.join("ds-0001.pem")).unwrap();
        assert_eq!(ds_key.verifying_key(), ds_body.public_key().unwrap());
    }

    #[test]
    fn a_certificate_signed_by_another_key_or_edited_is_refused() {
        let issuer = new_signing_key().unwrap();
        let other = new_signing_key().unwrap();
        let body = CertificateBody {
            serial: "DS-9".into(),
            role: Role::DocumentSigner,
            subject: "CN=x".into(),
            issuer: "CN=y".into(),
            not_before: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            not_after: NaiveDate::from_ymd_opt(2035, 1, 1).unwrap(),
            public_key: "AAAA".into(),
        };
        let cert = Certificate::issue(&body, &issuer);
        assert_eq!(
            cert.verify(&other.verifying_key()),
            Err(CertificateError::Signature)
        );
        let mut edited = cert.clone();
        let tampered = String::from_utf8(STANDARD.decode(&cert.body).unwrap())
            .unwrap()
            .replace("DS-9", "DS-8");
        edited.body = STANDARD.encode(tampered);
        assert_eq!(
            edited.verify(&issuer.verifying_key()),
            Err(CertificateError::Signature)
        );
    }
}
