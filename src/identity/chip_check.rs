//! The chip verification API for relying parties with their own NFC reader (SPEC §5.2): bank
//! onboarding, hospital kiosks. Passive + active authentication, optionally a live face from the
//! relying party's registered kiosk, recorded in the citizen's usage history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::IdentityError;
use super::history::{self, UsageEntry};
use super::verification::release_claims;
use crate::biometrics::BiometricError;
use crate::biometrics::liveness::Capture;
use crate::challenges::random_token;
use crate::chip::{CardStanding, ChipFailure, ChipRead, FaceCheck, face_check};
use crate::relying_parties::RelyingParty;
use crate::services::Services;
use crate::tokens::jwk::parse_ed25519_public_key;

/// Who asks for challenges through the relying-party API.
/// The relying party's registered kiosk key, which must sign every face capture it sends.
pub fn kiosk_key(rp: &RelyingParty) -> Result<ed25519_dalek::VerifyingKey, IdentityError> {
    let key = rp
        .kiosk_public_key
        .as_deref()
        .ok_or_else(|| IdentityError::Forbidden {
            code: "no_kiosk_key",
            detail: "register a kiosk key to send face captures".into(),
        })?;
    parse_ed25519_public_key(key).map_err(|e| IdentityError::invalid("invalid_kiosk_key", e))
}

pub fn client_requester(rp: &RelyingParty) -> String {
    format!("client:{}", rp.client_id)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChipVerifyRequest {
    pub chip_read: ChipRead,
    /// A live face capture signed by the relying party's registered kiosk key.
    #[serde(default)]
    pub face_capture: Option<Capture>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckResult {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CheckResult {
    fn of(r: &Result<(), ChipFailure>) -> Self {
        Self {
            ok: r.is_ok(),
            reason: r.as_ref().err().map(|f| f.code().to_owned()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaceResult {
    pub score: f32,
    pub matched: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chip_score: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_score: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<FaceCheck> for FaceResult {
    fn from(c: FaceCheck) -> Self {
        Self {
            score: c.score,
            matched: c.matched,
            chip_score: Some(c.chip_score),
            registry_score: Some(c.registry_score),
            reason: (!c.matched).then(|| "face_mismatch".to_owned()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Checks {
    pub passive: CheckResult,
    pub active: CheckResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<FaceResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChipVerifyResponse {
    pub authentic: bool,
    pub checks: Checks,
    #[schema(value_type = String)]
    pub card_status: CardStanding,
    /// The first failure's reason code, when not authentic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Only what the relying party may receive, and only for an authentic chip.
    pub claims: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_id: Option<String>,
}

pub async fn verify(
    services: &Services,
    rp: &RelyingParty,
    req: ChipVerifyRequest,
) -> Result<ChipVerifyResponse, IdentityError> {
    let requester = client_requester(rp);
    let kiosk = match &req.face_capture {
        Some(_) => Some(kiosk_key(rp)?),
        None => None,
    };
    let inspection = services.chips.inspect(&req.chip_read, &requester).await?;
    let face = match (&req.face_capture, kiosk) {
        (Some(capture), Some(kiosk)) => {
            Some(
                match services.liveness.verify(capture, &requester, &kiosk).await {
                    Ok(template) => match &inspection.holder {
                        Some(holder) => match services.registry.templates(holder).await? {
                            Some(enrolled) => face_check(
                                &services.matcher,
                                &template,
                                &inspection.chip_face,
                                &enrolled.face,
                            )?
                            .into(),
                            None => failed_face("face_mismatch"),
                        },
                        // Without a genuine chip there is no trustworthy face to compare with.
                        None => failed_face("face_not_checked"),
                    },
                    Err(BiometricError::Store(s)) => return Err(s.into()),
                    Err(BiometricError::Template(t)) => {
                        return Err(IdentityError::invalid("template_invalid", t.to_string()));
                    }
                    Err(e) => failed_face(e.code()),
                },
            )
        }
        _ => None,
    };
    let face_ok = face.as_ref().is_none_or(|f| f.matched);
    let authentic = inspection.authentic() && face_ok;
    let reason = inspection
        .failure()
        .map(|f| f.code().to_owned())
        .or_else(|| face.as_ref().and_then(|f| f.reason.clone()));
    let now = services.clock.now();
    let mut claims = BTreeMap::new();
    let mut verification_id = None;
    if let Some(holder) = &inspection.holder {
        if authentic && let Some(person) = services.registry.person(holder).await? {
            claims = release_claims(rp, &person, services.chips.today());
        }
        let id = random_token()?;
        history::record(
            &services.store,
            holder,
            &UsageEntry {
                at: now.secs(),
                client_id: rp.client_id.to_string(),
                relying_party: rp.name.clone(),
                action: if authentic {
                    "chip_verify".into()
                } else {
                    "chip_verify_failed".into()
                },
                claims: claims.keys().cloned().collect(),
                verification_id: id.clone(),
                purpose: None,
            },
        )
        .await?;
        verification_id = Some(id);
    }
    Ok(ChipVerifyResponse {
        authentic,
        checks: Checks {
            passive: CheckResult::of(&inspection.passive),
            active: CheckResult::of(&inspection.active),
            face,
        },
        card_status: inspection.card,
        reason,
        claims,
        verification_id,
    })
}

fn failed_face(code: &str) -> FaceResult {
    FaceResult {
        score: 0.0,
        matched: false,
        chip_score: None,
        registry_score: None,
        reason: Some(code.to_owned()),
    }
}
