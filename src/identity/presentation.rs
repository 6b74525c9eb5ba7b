//! Presentation tokens: what the citizen's app shows as a QR to a relying party. One minute,
//! one audience, the relying party's nonce, no personal data, single use.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::pairwise;
use super::session::Session;
use super::transactions::{self, AuthorizationDetail, Requirement};
use crate::accounts::Account;
use crate::challenges::random_token;
use crate::domain::{AuthLevel, AuthMethod, ClientId, Level};
use crate::services::Services;
use crate::store::StoreError;

pub const PRESENTATION_TYP: &str = "eid-presentation+jwt";
pub const PRESENTATION_TTL: Duration = Duration::from_secs(60);

/// The claims of a presentation token (SPEC §4): identity level, factors, pairwise subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresentationClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    /// Not set by this gateway; honoured if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
    pub jti: String,
    pub auth_time: i64,
    #[serde(with = "crate::domain::as_acr")]
    pub acr: Level,
    pub amr: Vec<AuthMethod>,
    pub auth_level: AuthLevel,
    pub nonce: String,
    /// The transaction the citizen approved with this presentation (RFC 9396), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Vec<AuthorizationDetail>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresentationRequest {
    /// The relying party that will verify the token (its `client_id`).
    pub client_id: String,
    /// The relying party's nonce (1–128 characters).
    pub nonce: String,
    /// The transaction the relying party asked the citizen to approve (RFC 9396), shown by the
    /// app before approval and signed into the token. Its step-up rules apply.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 5)]
    pub authorization_details: Option<Vec<AuthorizationDetail>>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PresentationIssued {
    pub token: String,
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PresentationError {
    #[error("{0}")]
    Invalid(String),
    #[error("unknown relying party")]
    UnknownRelyingParty,
    #[error("the account is locked")]
    AccountLocked,
    #[error("this relying party requires an identity level {required} account")]
    LevelTooLow { required: u8 },
    #[error("this request needs {}; step up with {}", .0.describe(), if .0.needs_face() { "a live face capture" } else { "the passcode" })]
    StepUpRequired(Requirement),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot sign: {0}")]
    Signing(String),
}

fn level_label(level: Level) -> &'static str {
    match level {
        Level::One => "1",
        Level::Two => "2",
    }
}

pub async fn issue(
    services: &Services,
    session: &Session,
    account: &Account,
    req: PresentationRequest,
) -> Result<PresentationIssued, PresentationError> {
    if req.nonce.is_empty() || req.nonce.len() > 128 {
        return Err(PresentationError::Invalid(
            "nonce must have 1 to 128 characters".into(),
        ));
    }
    let client_id =
        ClientId::parse(&req.client_id).map_err(|e| PresentationError::Invalid(e.to_string()))?;
    let rp = services
        .relying_parties
        .get(&client_id)
        .await?
        .ok_or(PresentationError::UnknownRelyingParty)?;
    if account.is_locked() {
        return Err(PresentationError::AccountLocked);
    }
    if account.level < rp.min_level {
        return Err(PresentationError::LevelTooLow {
            required: rp.min_level.into(),
        });
    }
    if let Some(details) = &req.authorization_details {
        transactions::validate(details).map_err(|e| PresentationError::Invalid(e.0))?;
    }
    let requirement = Requirement::of(&rp, req.authorization_details.as_deref().unwrap_or(&[]));
    if !requirement.met_by(&session.methods) {
        return Err(PresentationError::StepUpRequired(requirement));
    }
    let level = session.auth_level();
    let now = services.clock.now();
    let sub = pairwise::subject(&services.pairwise_secret, &rp.sector, &session.personal_id);
    services
        .subjects
        .remember(&rp.sector, &sub, &session.personal_id)
        .await?;
    let claims = PresentationClaims {
        iss: services.issuer().to_owned(),
        sub,
        aud: rp.client_id.to_string(),
        iat: now.secs(),
        nbf: None,
        exp: now.plus(PRESENTATION_TTL).secs(),
        jti: random_token()?,
        auth_time: session.auth_time.secs(),
        acr: account.level,
        amr: session.methods.iter().copied().collect(),
        auth_level: level,
        nonce: req.nonce,
        authorization_details: req.authorization_details,
    };
    let token = services
        .keyring
        .load()
        .sign(PRESENTATION_TYP, &claims)
        .map_err(|e| PresentationError::Signing(e.to_string()))?;
    services
        .metrics
        .presentations_issued
        .with_label_values(&[level_label(account.level)])
        .inc();
    Ok(PresentationIssued {
        token,
        expires_in: PRESENTATION_TTL.as_secs(),
    })
}
