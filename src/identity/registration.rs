//! Level-1 registration from the app: start → OTP to the registry's phone → complete with OTP,
//! password, passcode and a live face capture matching the registry.
//!
//! The start answer is the same whether the id is unknown, a field is wrong, or an account
//! already exists: a decoy registration is recorded in every case, with the same store work and
//! an OTP that is never sent, and completing a decoy fails exactly like a wrong OTP. The SMS
//! leaves after the answer, so the time to answer does not tell the cases apart either.

use std::time::Duration;

use chrono::NaiveDate;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::IdentityError;
use crate::accounts::Account;
use crate::accounts::secrets_policy::{check_passcode, check_password};
use crate::audit::AuditKind;
use crate::biometrics::liveness::Capture;
use crate::challenges::random_token;
use crate::domain::{Level, PersonalId, PhoneNumber};
use crate::services::Services;
use crate::store::{PutMode, Table, decode, encode};
use crate::tokens::jwk::parse_ed25519_public_key;

pub const REGISTRATION_TTL: Duration = Duration::from_secs(300);

/// What the app sends to start.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRegistration {
    pub personal_id: String,
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub phone: String,
    /// The device's Ed25519 public key, base64url (32 bytes).
    pub device_public_key: String,
}

/// The same answer in every case.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistrationStarted {
    pub registration_id: String,
    pub expires_in: u64,
    pub message: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRegistration {
    #[schema(value_type = String)]
    pub otp: SecretString,
    #[schema(value_type = String)]
    pub password: SecretString,
    #[schema(value_type = String)]
    pub passcode: SecretString,
    pub face_capture: Capture,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Registered {
    pub level: u8,
    pub personal_id: String,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    personal_id: PersonalId,
    birth_date: NaiveDate,
    device_public_key: String,
    /// False for decoys: the data did not match the registry, or an account exists.
    genuine: bool,
}

fn key(id: &str) -> String {
    format!("registration:{id}")
}

fn otp_purpose(id: &str) -> String {
    format!("registration:{id}")
}

/// The liveness-challenge requester for a registration.
pub fn liveness_requester(registration_id: &str) -> String {
    format!("registration:{registration_id}")
}

fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    norm(a) == norm(b)
}

/// What the registry's phone receives when its owner, or someone who knows their details, tries
/// to register an account that exists already.
pub const ALREADY_REGISTERED_SMS: &str = "VNeID: ban da co tai khoan dinh danh dien tu, khong the dang ky lai. Neu khong phai ban yeu cau, hay bo qua tin nhan nay.";

pub async fn start(
    services: &Services,
    req: StartRegistration,
) -> Result<RegistrationStarted, IdentityError> {
    // Format errors are the caller's own and reveal nothing about the registry.
    let personal_id = PersonalId::parse(&req.personal_id)
        .map_err(|e| IdentityError::invalid("invalid_personal_id", e.to_string()))?;
    let phone = PhoneNumber::parse(&req.phone)
        .map_err(|e| IdentityError::invalid("invalid_phone", e.to_string()))?;
    parse_ed25519_public_key(&req.device_public_key)
        .map_err(|e| IdentityError::invalid("invalid_device_key", e))?;

    let person = services.registry.person(&personal_id).await?;
    let exists = services.accounts.get(&personal_id).await?.is_some();
    let matches = person.as_ref().is_some_and(|p| {
        same_name(&p.full_name, &req.full_name)
            && p.birth_date == req.birth_date
            && p.phone == phone
    });
    let genuine = matches && !exists;

    let registration_id = random_token()?;
    let now = services.clock.now();
    let pending = Pending {
        personal_id,
        birth_date: req.birth_date,
        device_public_key: req.device_public_key,
        genuine,
    };
    // The same store work in every case — the pending record and an OTP, written together —
    // and the answer leaves before the one thing that differs, the SMS, is sent: neither body
    // nor timing tells a match from a decoy. A decoy's code is never sent, so it cannot be used.
    let (pending_key, purpose) = (key(&registration_id), otp_purpose(&registration_id));
    let (written, code) = tokio::join!(
        services.store.put_expiring(
            &pending_key,
            encode(&pending)?,
            now.plus(REGISTRATION_TTL),
            PutMode::Overwrite,
            now,
        ),
        services.otps.issue(&purpose),
    );
    written?;
    let code = code?;
    if let Some(p) = person.filter(|_| matches) {
        // Only ever to the phone the registry holds, so only its owner learns an account
        // exists: the code for a new account, a warning (and no code) for an existing one.
        let text = if exists {
            ALREADY_REGISTERED_SMS.to_owned()
        } else {
            format!("VNeID: ma xac thuc dang ky cua ban la {code}. Het han sau 5 phut.")
        };
        services.sms.send_later(p.phone, text);
    }
    Ok(RegistrationStarted {
        registration_id,
        expires_in: REGISTRATION_TTL.as_secs(),
        message:
            "If the details match the population registry, a code was sent to the phone it holds."
                .into(),
    })
}

pub async fn complete(
    services: &Services,
    registration_id: &str,
    req: CompleteRegistration,
) -> Result<Registered, IdentityError> {
    let now = services.clock.now();
    let raw = services
        .store
        .get_expiring(&key(registration_id), now)
        .await?
        .ok_or(IdentityError::RegistrationUnknown)?;
    let pending: Pending = decode(Table::Meta, &raw)?;
    // Input rules first: a rejected password changes nothing, not even the OTP attempts.
    check_password(
        req.password.expose_secret(),
        &pending.personal_id,
        pending.birth_date,
    )?;
    check_passcode(req.passcode.expose_secret())?;
    let purpose = otp_purpose(registration_id);
    services
        .otps
        .check(&purpose, req.otp.expose_secret().trim())
        .await?;
    if !pending.genuine {
        // A decoy's code was never sent: reaching here means it was guessed.
        return Err(crate::sms::OtpError::Invalid.into());
    }
    let device = parse_ed25519_public_key(&pending.device_public_key)
        .map_err(|e| IdentityError::invalid("invalid_device_key", e))?;
    let template = services
        .liveness
        .verify(
            &req.face_capture,
            &liveness_requester(registration_id),
            &device,
        )
        .await?;
    let enrolled = services
        .registry
        .templates(&pending.personal_id)
        .await?
        .ok_or(IdentityError::RegistrationUnknown)?;
    services.matcher.face(&template, &enrolled.face)?;
    let person = services
        .registry
        .person(&pending.personal_id)
        .await?
        .ok_or(IdentityError::RegistrationUnknown)?;

    let hashes = (
        services.hasher.hash(&req.password).await?,
        services.hasher.hash(&req.passcode).await?,
    );
    let account = Account::open(
        pending.personal_id.clone(),
        Level::One,
        hashes,
        pending.device_public_key.clone(),
        person.phone.clone(),
        now,
    );
    if !services.accounts.create(&account).await? {
        return Err(IdentityError::AlreadyRegistered);
    }
    services.otps.consume(&purpose).await?;
    services
        .store
        .take_expiring(&key(registration_id), now)
        .await?;
    services
        .audit
        .record(
            AuditKind::AccountRegistered,
            "citizen",
            json!({ "personal_id": pending.personal_id.masked(), "level": 1 }),
        )
        .await?;
    Ok(Registered {
        level: 1,
        personal_id: pending.personal_id.as_str().to_owned(),
    })
}
