//! Level 2 (SPEC §3): proven with the chip (passive + active authentication) and the face, in
//! person at an enrolment desk (plus fingerprints) or, where configuration allows, from the app.
//! A citizen without an account who enrols in person gets an activation code for the app.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::IdentityError;
use super::session::{self, Session};
use crate::accounts::Account;
use crate::accounts::secrets_policy::{check_passcode, check_password};
use crate::audit::AuditKind;
use crate::biometrics::fingerprint::{self, FingerprintCapture};
use crate::biometrics::liveness::Capture;
use crate::biometrics::{BiometricError, EnrolledTemplates, Template};
use crate::chip::{ChipInspection, ChipRead, FaceCheck, face_check};
use crate::domain::{Level, PersonalId};
use crate::services::Services;
use crate::sms::ACTIVATION_TTL;
use crate::tokens::jwk::parse_ed25519_public_key;

/// Who asks for challenges at an enrolment desk.
pub fn operator_requester(operator: &str) -> String {
    format!("operator:{operator}")
}

/// Who asks for chip challenges in an app session.
pub fn session_chip_requester(sid: &str) -> String {
    format!("session-chip:{sid}")
}

fn activation_purpose(id: &PersonalId) -> String {
    format!("activation:{}", id.as_str())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InPersonEnrolment {
    pub chip_read: ChipRead,
    /// Signed by the operator's kiosk key.
    pub face_capture: Capture,
    /// Both index fingers, signed by the kiosk for this visit's face challenge.
    pub fingerprints: Vec<FingerprintCapture>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum EnrolmentOutcome {
    /// The citizen's account is now level 2.
    Upgraded { level: u8 },
    /// No account yet: the citizen activates one from the app with this code (72 h, 5 tries).
    ActivationCodeIssued {
        activation_code: String,
        expires_in: u64,
    },
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppLevel2Request {
    pub chip_read: ChipRead,
    /// Signed by the bound device, for a session liveness challenge.
    pub face_capture: Capture,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Level2Done {
    pub level: u8,
    pub face: FaceCheck,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    pub personal_id: String,
    #[schema(value_type = String)]
    pub activation_code: SecretString,
    #[schema(value_type = String)]
    pub password: SecretString,
    #[schema(value_type = String)]
    pub passcode: SecretString,
    /// The app's device key (Ed25519, base64url).
    pub device_public_key: String,
}

/// The chip must be authentic; its holder is who the registry says.
fn authentic_holder(inspection: &ChipInspection) -> Result<PersonalId, IdentityError> {
    if let Some(f) = inspection.failure() {
        return Err(IdentityError::Chip(f.clone()));
    }
    inspection
        .holder
        .clone()
        .ok_or(IdentityError::Chip(crate::chip::ChipFailure::CardUnknown))
}

async fn enrolled(
    services: &Services,
    id: &PersonalId,
) -> Result<EnrolledTemplates, IdentityError> {
    services
        .registry
        .templates(id)
        .await?
        .ok_or(IdentityError::Chip(
            crate::chip::ChipFailure::RegistryMismatch,
        ))
}

/// The live face must match both DG2 and the registry.
fn matching_face(
    services: &Services,
    capture: &Template,
    inspection: &ChipInspection,
    templates: &EnrolledTemplates,
) -> Result<FaceCheck, IdentityError> {
    let check = face_check(
        &services.matcher,
        capture,
        &inspection.chip_face,
        &templates.face,
    )?;
    if check.matched {
        Ok(check)
    } else {
        Err(BiometricError::FaceMismatch.into())
    }
}

fn kiosk_key(
    services: &Services,
    operator: &str,
) -> Result<ed25519_dalek::VerifyingKey, IdentityError> {
    let key = services
        .settings
        .operators
        .iter()
        .find(|o| o.id == operator)
        .and_then(|o| o.kiosk_public_key.as_deref())
        .ok_or_else(|| IdentityError::Forbidden {
            code: "no_kiosk_key",
            detail: "this operator has no registered enrolment kiosk".into(),
        })?;
    parse_ed25519_public_key(key).map_err(|e| IdentityError::invalid("invalid_kiosk_key", e))
}

/// Level 2 at an enrolment desk: chip + kiosk face (DG2 and registry) + both fingerprints.
pub async fn enrol_in_person(
    services: &Services,
    operator: &str,
    req: InPersonEnrolment,
) -> Result<EnrolmentOutcome, IdentityError> {
    let kiosk = kiosk_key(services, operator)?;
    let requester = operator_requester(operator);
    let mut fingers: Vec<_> = req.fingerprints.iter().map(|f| f.finger.index()).collect();
    fingers.sort_unstable();
    if fingers != [0, 1] {
        return Err(IdentityError::invalid(
            "fingerprints_required",
            "both index fingers (right_index, left_index) are required",
        ));
    }
    let inspection = services.chips.inspect(&req.chip_read, &requester).await?;
    let holder = authentic_holder(&inspection)?;
    let face = services
        .liveness
        .verify(&req.face_capture, &requester, &kiosk)
        .await?;
    let templates = enrolled(services, &holder).await?;
    matching_face(services, &face, &inspection, &templates)?;
    for capture in &req.fingerprints {
        let template = fingerprint::verify(capture, &req.face_capture.challenge_id, &kiosk)?;
        services
            .matcher
            .fingerprint(&template, &templates.fingerprints[capture.finger.index()])?;
    }
    let actor = operator_requester(operator);
    match services.accounts.get(&holder).await? {
        Some(mut account) => {
            account.level = Level::Two;
            services.accounts.save(&account).await?;
            services
                .audit
                .record(
                    AuditKind::Level2Enrolled,
                    &actor,
                    json!({ "personal_id": holder.masked(), "channel": "in_person" }),
                )
                .await?;
            Ok(EnrolmentOutcome::Upgraded { level: 2 })
        }
        None => {
            let code = services
                .otps
                .issue_for(&activation_purpose(&holder), ACTIVATION_TTL)
                .await?;
            services
                .audit
                .record(
                    AuditKind::ActivationCodeIssued,
                    &actor,
                    json!({ "personal_id": holder.masked() }),
                )
                .await?;
            Ok(EnrolmentOutcome::ActivationCodeIssued {
                activation_code: code,
                expires_in: ACTIVATION_TTL.as_secs(),
            })
        }
    }
}

/// Activates a level-2 account in the app with the code from the enrolment desk.
pub async fn activate(services: &Services, req: Activation) -> Result<(), IdentityError> {
    let id = PersonalId::parse(&req.personal_id)
        .map_err(|e| IdentityError::invalid("invalid_personal_id", e.to_string()))?;
    let person = services
        .registry
        .person(&id)
        .await?
        .ok_or(IdentityError::InvalidCredentials)?;
    check_password(req.password.expose_secret(), &id, person.birth_date)?;
    check_passcode(req.passcode.expose_secret())?;
    parse_ed25519_public_key(&req.device_public_key)
        .map_err(|e| IdentityError::invalid("invalid_device_key", e))?;
    let purpose = activation_purpose(&id);
    services
        .otps
        .check(&purpose, req.activation_code.expose_secret().trim())
        .await?;
    let now = services.clock.now();
    let hashes = (
        services.hasher.hash(&req.password).await?,
        services.hasher.hash(&req.passcode).await?,
    );
    let account = Account::open(
        id.clone(),
        Level::Two,
        hashes,
        req.device_public_key,
        person.phone.clone(),
        now,
    );
    if !services.accounts.create(&account).await? {
        return Err(IdentityError::AlreadyRegistered);
    }
    services.otps.consume(&purpose).await?;
    services
        .audit
        .record(
            AuditKind::AccountRegistered,
            "citizen",
            json!({ "personal_id": id.masked(), "level": 2, "channel": "activation_code" }),
        )
        .await?;
    Ok(())
}

/// Level 2 from the app: the logged-in citizen's own chip + a live face from the bound device.
pub async fn enrol_from_app(
    services: &Services,
    session: &Session,
    account: &Account,
    req: AppLevel2Request,
) -> Result<Level2Done, IdentityError> {
    if !services.settings.security.level2_from_app {
        return Err(IdentityError::Forbidden {
            code: "level2_in_person_only",
            detail: "this deployment raises accounts to level 2 only at an enrolment desk".into(),
        });
    }
    let inspection = services
        .chips
        .inspect(&req.chip_read, &session_chip_requester(&session.sid))
        .await?;
    let holder = authentic_holder(&inspection)?;
    if holder != account.personal_id {
        return Err(IdentityError::ChipNotYours);
    }
    let device = parse_ed25519_public_key(&account.device.public_key)
        .map_err(|e| IdentityError::invalid("invalid_device_key", e))?;
    let face = services
        .liveness
        .verify(
            &req.face_capture,
            &session::liveness_requester(&session.sid),
            &device,
        )
        .await?;
    let templates = enrolled(services, &holder).await?;
    let check = matching_face(services, &face, &inspection, &templates)?;
    let mut upgraded = account.clone();
    upgraded.level = Level::Two;
    services.accounts.save(&upgraded).await?;
    services
        .audit
        .record(
            AuditKind::Level2Enrolled,
            "citizen",
            json!({ "personal_id": holder.masked(), "channel": "app" }),
        )
        .await?;
    Ok(Level2Done {
        level: 2,
        face: check,
    })
}
