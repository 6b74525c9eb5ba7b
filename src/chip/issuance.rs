//! Card issuance: the Document Signer seals the data groups into EF.SOD, the chip gets a fresh
//! key pair, and — for relying-party testing — a card can be issued with a deliberate defect.
//!
//! New cards are signed by the newest Document Signer whose certificate is valid today, so after
//! `eidgw keys add-ds` new cards use the new DS while cards of the previous one stay valid as long
//! as its certificate is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{Days, Months, NaiveDate};
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::authority::{self, Certificate, CertificateBody, Role};
use super::image::{
    ChipImage, Dg1, Dg2, Dg13, Dg15, IMAGE_FORMAT, SecurityObject, Sod, encode_group,
};
use super::mrz::{self, MrzInput};
use crate::biometrics::Template;
use crate::domain::{CardRecord, CardStatus, Person};
use crate::keys::KeyError;

/// The deliberate defects a test card can carry (SPEC §2.2), and the reason code each causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Defect {
    /// Data copied from a genuine card onto a chip with another key: `aa_failed`.
    Cloned,
    /// DG13 edited after sealing: `dg_hash_mismatch`.
    TamperedDg13,
    /// DG2 (the face) swapped after sealing: `dg_hash_mismatch`.
    TamperedDg2,
    /// SOD signed by a Document Signer that does not chain to a trusted CSCA: `ds_untrusted`.
    ForgedDs,
    /// SOD signed by a Document Signer whose certificate has expired: `ds_expired`.
    ExpiredDs,
    /// No DG15, so no active authentication: `dg_missing`.
    NoDg15,
    /// A card reported lost: `card_revoked`.
    RevokedCard,
    /// A card past its expiry date: `card_expired`.
    ExpiredCard,
}

impl Defect {
    pub const ALL: [Defect; 8] = [
        Defect::Cloned,
        Defect::TamperedDg13,
        Defect::TamperedDg2,
        Defect::ForgedDs,
        Defect::ExpiredDs,
        Defect::NoDg15,
        Defect::RevokedCard,
        Defect::ExpiredCard,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Defect::Cloned => "cloned",
            Defect::TamperedDg13 => "tampered-dg13",
            Defect::TamperedDg2 => "tampered-dg2",
            Defect::ForgedDs => "forged-ds",
            Defect::ExpiredDs => "expired-ds",
            Defect::NoDg15 => "no-dg15",
            Defect::RevokedCard => "revoked-card",
            Defect::ExpiredCard => "expired-card",
        }
    }

    /// The reason code a verifier answers for a card with this defect.
    pub fn expected_reason(self) -> &'static str {
        match self {
            Defect::Cloned => "aa_failed",
            Defect::TamperedDg13 | Defect::TamperedDg2 => "dg_hash_mismatch",
            Defect::ForgedDs => "ds_untrusted",
            Defect::ExpiredDs => "ds_expired",
            Defect::NoDg15 => "dg_missing",
            Defect::RevokedCard => "card_revoked",
            Defect::ExpiredCard => "card_expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == s)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("no Document Signer certificate is valid today; run `eidgw keys add-ds`")]
    NoValidDocumentSigner,
    #[error("card issuance: {0}")]
    Other(String),
}

/// A newly issued card: the chip image for the citizen, and what the registry must record.
pub struct IssuedCard {
    pub image: ChipImage,
    /// `None` for a forgery, which the state never issued.
    pub record: Option<CardRecord>,
}

/// The card authority's key files, read at each issuance (issuance is rare; a `keys add-ds` is
/// then picked up without a restart).
#[derive(Clone)]
pub struct CardIssuer {
    dir: PathBuf,
}

struct DocumentSigner {
    key: SigningKey,
    certificate: Certificate,
}

fn random_key() -> Result<SigningKey, IssueError> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *seed).map_err(|e| IssueError::Other(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn random_card_number() -> Result<String, IssueError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| IssueError::Other(e.to_string()))?;
    Ok(format!("{:09}", u64::from_le_bytes(b) % 1_000_000_000))
}

fn b64url(key: &SigningKey) -> String {
    URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes())
}

impl CardIssuer {
    pub fn new(card_authority_dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: card_authority_dir.into(),
        }
    }

    fn csca(&self) -> Result<(SigningKey, CertificateBody), IssueError> {
        let key = authority::load_key(&self.dir.join("csca.pem"))?;
        let cert = authority::load_certificate(&self.dir.join("csca.cert.json"))?;
        let body = cert
            .unverified_body()
            .map_err(|e| IssueError::Other(e.to_string()))?;
        Ok((key, body))
    }

    /// The newest Document Signer whose certificate covers `today`.
    fn current_signer(&self, today: NaiveDate) -> Result<DocumentSigner, IssueError> {
        let mut numbered: Vec<(u32, PathBuf)> = document_signer_numbers(&self.dir)?;
        numbered.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        for (_, pem) in numbered {
            let certificate = authority::load_certificate(&pem.with_extension("cert.json"))?;
            let Ok(body) = certificate.unverified_body() else {
                continue;
            };
            if body.not_before <= today && today <= body.not_after {
                let key = authority::load_key(&pem)?;
                return Ok(DocumentSigner { key, certificate });
            }
        }
        Err(IssueError::NoValidDocumentSigner)
    }

    /// A Document Signer made for one defect: expired (chained to the real CSCA) or forged
    /// (chained to a CSCA nobody trusts).
    fn defective_signer(
        &self,
        defect: Defect,
        today: NaiveDate,
    ) -> Result<DocumentSigner, IssueError> {
        let ds = random_key()?;
        let (issuer_key, issuer_subject) = match defect {
            Defect::ForgedDs => (
                random_key()?,
                "CN=CSCA Viet Nam (simulated),C=VN".to_owned(),
            ),
            _ => {
                let (key, body) = self.csca()?;
                (key, body.subject)
            }
        };
        let (not_before, not_after) = match defect {
            Defect::ExpiredDs => (
                today.checked_sub_months(Months::new(120)).unwrap_or(today),
                today.checked_sub_days(Days::new(1)).unwrap_or(today),
            ),
            _ => (
                today,
                today.checked_add_months(Months::new(120)).unwrap_or(today),
            ),
        };
        let body = CertificateBody {
            serial: format!("DS-{}", defect.name().to_uppercase()),
            role: Role::DocumentSigner,
            subject: format!("CN=Document Signer {} (simulated),C=VN", defect.name()),
            issuer: issuer_subject,
            not_before,
            not_after,
            public_key: b64url(&ds),
        };
        Ok(DocumentSigner {
            certificate: Certificate::issue(&body, &issuer_key),
            key: ds,
        })
    }

    /// Issues a card for `person` with `face` (the registry's enrolled face template) as DG2.
    pub fn issue(
        &self,
        person: &Person,
        face: &Template,
        today: NaiveDate,
        defect: Option<Defect>,
    ) -> Result<IssuedCard, IssueError> {
        let signer = match defect {
            Some(d @ (Defect::ForgedDs | Defect::ExpiredDs)) => self.defective_signer(d, today)?,
            _ => self.current_signer(today)?,
        };
        let card_number = random_card_number()?;
        let (issued_on, expires_on) = match defect {
            Some(Defect::ExpiredCard) => (
                today.checked_sub_months(Months::new(121)).unwrap_or(today),
                today.checked_sub_days(Days::new(1)).unwrap_or(today),
            ),
            _ => (
                today,
                today.checked_add_months(Months::new(120)).unwrap_or(today),
            ),
        };
        let chip = random_key()?;
        let dg1 = Dg1 {
            mrz: mrz::compose(&MrzInput {
                document_number: &card_number,
                personal_id: person.personal_id.as_str(),
                birth_date: person.birth_date,
                sex: person.sex,
                expiry_date: expires_on,
                full_name: &person.full_name,
            })
            .to_vec(),
        };
        let dg2 = Dg2 {
            face_template: face.to_base64(),
        };
        let dg13 = Dg13 {
            card_number: card_number.clone(),
            personal_id: person.personal_id.as_str().to_owned(),
            full_name: person.full_name.clone(),
            birth_date: person.birth_date,
            sex: person.sex,
            nationality: person.nationality.clone(),
            ethnicity: person.ethnicity.clone(),
            religion: person.religion.clone(),
            hometown: person.hometown.clone(),
            residence: person.permanent_address.clone(),
            issued_on,
            expires_on,
        };
        let dg15 = Dg15 {
            algorithm: "Ed25519".into(),
            public_key: b64url(&chip),
        };
        let mut groups = BTreeMap::from([
            ("DG1".to_owned(), encode_group(&dg1)),
            ("DG2".to_owned(), encode_group(&dg2)),
            ("DG13".to_owned(), encode_group(&dg13)),
        ]);
        if defect != Some(Defect::NoDg15) {
            groups.insert("DG15".to_owned(), encode_group(&dg15));
        }
        let sod = seal(&groups, &signer)?;
        // Defects applied after sealing: the SOD no longer vouches for what the chip holds.
        match defect {
            Some(Defect::TamperedDg13) => {
                let edited = Dg13 {
                    full_name: format!("{} Văn", person.full_name),
                    ..dg13
                };
                groups.insert("DG13".to_owned(), encode_group(&edited));
            }
            Some(Defect::TamperedDg2) => {
                let other = Template::random(&mut rand::rng(), face.dimensions());
                groups.insert(
                    "DG2".to_owned(),
                    encode_group(&Dg2 {
                        face_template: other.to_base64(),
                    }),
                );
            }
            _ => {}
        }
        let chip_private_key = match defect {
            Some(Defect::Cloned) => URL_SAFE_NO_PAD.encode(random_key()?.to_bytes()),
            _ => URL_SAFE_NO_PAD.encode(chip.to_bytes()),
        };
        let record = (defect != Some(Defect::ForgedDs)).then(|| CardRecord {
            card_number: card_number.clone(),
            issued_on,
            expires_on,
            status: if defect == Some(Defect::RevokedCard) {
                CardStatus::Revoked
            } else {
                CardStatus::Valid
            },
            chip_public_key: dg15.public_key.clone(),
        });
        Ok(IssuedCard {
            image: ChipImage {
                format: IMAGE_FORMAT.into(),
                card_number,
                defect: defect.map(|d| d.name().to_owned()),
                data_groups: groups,
                sod,
                chip_private_key,
            },
            record,
        })
    }
}

/// Builds EF.SOD over the exact bytes of each data group and returns it base64-encoded.
fn seal(groups: &BTreeMap<String, String>, signer: &DocumentSigner) -> Result<String, IssueError> {
    let mut hashes = BTreeMap::new();
    for (name, encoded) in groups {
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|e| IssueError::Other(e.to_string()))?;
        hashes.insert(name.clone(), STANDARD.encode(Sha256::digest(&bytes)));
    }
    let object = serde_json::to_vec(&SecurityObject {
        version: 1,
        digest_algorithm: "SHA-256".into(),
        data_group_hashes: hashes,
    })
    .map_err(|e| IssueError::Other(e.to_string()))?;
    let sod = Sod {
        signature: STANDARD.encode(signer.key.sign(&object).to_bytes()),
        security_object: STANDARD.encode(&object),
        ds_certificate: signer.certificate.clone(),
    };
    Ok(encode_group(&sod))
}

/// `ds-0001.pem` → 1, for every Document Signer key in the directory.
pub fn document_signer_numbers(dir: &Path) -> Result<Vec<(u32, PathBuf)>, KeyError> {
    let entries = std::fs::read_dir(dir).map_err(|_| KeyError::Missing(dir.to_owned()))?;
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name
                .strip_prefix("ds-")?
                .strip_suffix(".pem")?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .collect())
}
