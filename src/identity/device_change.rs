//! Device change (SPEC §3): binding a new phone needs the password, an OTP to the registry's
//! phone and — for a level-2 account — a chip read with active authentication. The old device's
//! sessions end (the account's session epoch moves on).
//!
//! The start answer is the same whether or not the personal id has an account.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::IdentityError;
use crate::audit::AuditKind;
use crate::challenges::random_token;
use crate::chip::{ChipChallenge, ChipRead};
use crate::domain::{Level, PersonalId};
use crate::services::Services;
use crate::store::{PutMode, Table, decode, encode};
use crate::tokens::jwk::parse_ed25519_public_key;

const TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartDeviceChange {
    pub personal_id: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceChangeStarted {
    pub change_id: String,
    /// Where the OTP went, masked; the same answer for every personal id.
    pub otp_sent: bool,
    /// For level-2 accounts: the chip answers this in the completing request.
    pub chip_challenge: ChipChallenge,
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteDeviceChange {
    #[schema(value_type = String)]
    pub password: SecretString,
    #[schema(value_type = String)]
    pub otp: SecretString,
    /// The new device's key (Ed25519, base64url).
    pub device_public_key: String,
    /// Required for level-2 accounts.
    #[serde(default)]
    pub chip_read: Option<ChipRead>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceChanged {
    pub level: u8,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    personal_id: PersonalId,
}

fn key(change_id: &str) -> String {
    format!("device-change:{change_id}")
}

fn chip_requester(change_id: &str) -> String {
    format!("device-change:{change_id}")
}

pub async fn start(
    services: &Services,
    req: StartDeviceChange,
) -> Result<DeviceChangeStarted, IdentityError> {
    let id = PersonalId::parse(&req.personal_id)
        .map_err(|e| IdentityError::invalid("invalid_personal_id", e.to_string()))?;
    let change_id = random_token()?;
    let now = services.clock.now();
    services
        .store
        .put_expiring(
            &key(&change_id),
            encode(&Pending {
                personal_id: id.clone(),
            })?,
            now.plus(TTL),
            PutMode::Overwrite,
            now,
        )
        .await?;
    if let Some(account) = services.accounts.get(&id).await? {
        let code = services.otps.issue(&key(&change_id)).await?;
        services
            .sms
            .send(
                &account.phone,
                format!("VNeID: ma xac thuc doi thiet bi cua ban la {code}. Khong chia se ma nay."),
            )
            .await?;
    }
    Ok(DeviceChangeStarted {
        chip_challenge: services
            .chips
            .challenge(&chip_requester(&change_id))
            .await?,
        change_id,
        otp_sent: true,
        expires_in: TTL.as_secs(),
    })
}

pub async fn complete(
    services: &Services,
    change_id: &str,
    req: CompleteDeviceChange,
) -> Result<DeviceChanged, IdentityError> {
    let now = services.clock.now();
    let raw = services
        .store
        .get_expiring(&key(change_id), now)
        .await?
        .ok_or(IdentityError::NotFound(
            "no such device change, or it expired",
        ))?;
    let pending: Pending = decode(Table::Meta, &raw)?;
    parse_ed25519_public_key(&req.device_public_key)
        .map_err(|e| IdentityError::invalid("invalid_device_key", e))?;
    let account = services.accounts.get(&pending.personal_id).await?;
    // Always one argon2 verification, whatever the account's state.
    let password_ok = services
        .hasher
        .verify(
            &req.password,
            account.as_ref().map(|a| a.password_hash.as_str()),
        )
        .await?;
    let Some(mut account) = account else {
        return Err(IdentityError::InvalidCredentials);
    };
    if account.is_locked() || account.in_backoff(now) {
        return Err(IdentityError::InvalidCredentials);
    }
    let otp = services
        .otps
        .check(&key(change_id), req.otp.expose_secret().trim())
        .await;
    if !password_ok || otp.is_err() {
        account.record_failure(now, services.lockout);
        services.accounts.save(&account).await?;
        return Err(match otp {
            Err(e @ crate::sms::OtpError::TooManyAttempts) => e.into(),
            _ => IdentityError::InvalidCredentials,
        });
    }
    if account.level == Level::Two {
        let read = req.chip_read.as_ref().ok_or_else(|| {
            IdentityError::invalid(
                "chip_read_required",
                "a level-2 account changes device only with a chip read",
            )
        })?;
        let inspection = services
            .chips
            .inspect(read, &chip_requester(change_id))
            .await?;
        if let Some(f) = inspection.failure() {
            return Err(IdentityError::Chip(f.clone()));
        }
        if inspection.holder.as_ref() != Some(&account.personal_id) {
            return Err(IdentityError::ChipNotYours);
        }
    }
    account.device = crate::accounts::BoundDevice {
        public_key: req.device_public_key,
        bound_at: now,
    };
    account.session_epoch += 1;
    account.record_success();
    services.accounts.save(&account).await?;
    services.otps.consume(&key(change_id)).await?;
    services.store.take_expiring(&key(change_id), now).await?;
    services
        .audit
        .record(
            AuditKind::DeviceChanged,
            "citizen",
            json!({ "personal_id": account.personal_id.masked() }),
        )
        .await?;
    Ok(DeviceChanged {
        level: account.level.into(),
    })
}
