//! Decoupled kiosk login (OpenID CIBA Core 1.0, poll mode).
//!
//! A relying party with the `ciba` permission — a hospital check-in desk, an airline gate —
//! names the citizen (`login_hint` = personal id, or a `login_hint_token` the citizen's app shows
//! as a QR), the scopes, the level and a `binding_message` it also displays. The citizen's app
//! lists the request, shows who asks for what (and any transaction), and approves with the
//! passcode or a live face, or denies. The relying party polls the token endpoint with its
//! `auth_req_id` and collects the tokens once.
//!
//! Each piece of state has its own key, so concurrent writers never overwrite each other: the
//! request itself (written once), the citizen's decision (first writer wins), the poll pacing,
//! and the collection marker (first collector wins).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::authorize::{ACR_VALUES, asked_level};
use super::claims::{Scope, grantable};
use super::grants::{self, Grant, TokenResponse};
use super::{OAuthError, Params, REFRESH_TOKEN_TTL, secret_key};
use crate::accounts::Account;
use crate::challenges::random_token;
use crate::clock::Timestamp;
use crate::domain::{AuthMethod, ClientId, Level, PersonalId};
use crate::identity::transactions::{self, AuthorizationDetail, Requirement};
use crate::relying_parties::RelyingParty;
use crate::services::Services;
use crate::store::{PutMode, StoreError, Table, decode, encode};

pub const GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";
/// How long a request waits for the citizen unless `requested_expiry` asks for less or more.
const DEFAULT_EXPIRY: Duration = Duration::from_secs(120);
const MAX_EXPIRY: Duration = Duration::from_secs(600);
/// The minimum seconds between two polls; each `slow_down` adds `INTERVAL` (CIBA §11).
pub const INTERVAL: u64 = 5;
/// Records stay this long after expiry, so a late poll hears `expired_token`, not "unknown".
const KEEP_AFTER_EXPIRY: Duration = Duration::from_secs(600);
/// A login hint token the app shows as a QR lives this long, and is used once.
pub const LOGIN_HINT_TOKEN_TTL: Duration = Duration::from_secs(120);
const MAX_BINDING_MESSAGE: usize = 64;

/// A backchannel authentication request, as stored. Written once, never changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CibaRequest {
    /// What the citizen's app calls the request (not the relying party's `auth_req_id`).
    id: String,
    client_id: ClientId,
    personal_id: PersonalId,
    scopes: BTreeSet<Scope>,
    binding_message: Option<String>,
    required_level: Level,
    requirement: Requirement,
    #[serde(default)]
    authorization_details: Vec<AuthorizationDetail>,
    expires_at: Timestamp,
}

/// The citizen's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
enum Decision {
    Approved {
        methods: BTreeSet<AuthMethod>,
        auth_time: Timestamp,
    },
    Denied,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pacing {
    last_poll: Timestamp,
    interval: u64,
}

#[derive(Serialize, Deserialize)]
struct Collected {
    family: String,
}

#[derive(Serialize, Deserialize)]
struct HintToken {
    personal_id: PersonalId,
    expires_at: Timestamp,
}

/// The answer of the backchannel authentication endpoint (CIBA §7.3).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackchannelStarted {
    pub auth_req_id: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// A pending request as the citizen's app shows it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingApproval {
    pub request_id: String,
    pub client_id: String,
    pub relying_party: String,
    /// The text the kiosk also displays: the citizen checks they match before approving.
    pub binding_message: Option<String>,
    pub scopes: Vec<String>,
    /// What approving releases, in words: exactly the claims the tokens will carry.
    pub releases: Vec<String>,
    /// The same, by claim name (as in the ID token).
    pub claims: Vec<super::claims::ReleasedClaim>,
    /// The transaction to approve, if any, with its words.
    pub authorization_details: Vec<AuthorizationDetail>,
    pub transactions: Vec<String>,
    /// What the approval needs: e.g. `auth_level` 3 with `face`.
    pub required: Requirement,
    pub expires_at: i64,
}

/// The citizen's answer from the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Approve,
    Deny,
}

/// Why the app's answer was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// Unknown, expired, or another citizen's request: indistinguishable on purpose.
    #[error("no such pending request")]
    NotFound,
    #[error("the request was already answered")]
    AlreadyAnswered,
    #[error("this request needs {}", .0.describe())]
    StepUpRequired(Requirement),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn request_key(id: &str) -> String {
    format!("ciba-request:{id}")
}
fn decision_key(id: &str) -> String {
    format!("ciba-decision:{id}")
}
fn pacing_key(id: &str) -> String {
    format!("ciba-pacing:{id}")
}
fn collected_key(id: &str) -> String {
    format!("ciba-collected:{id}")
}
fn inbox(personal_id: &PersonalId) -> String {
    format!("ciba-inbox:{}", personal_id.as_str())
}

async fn get<T: serde::de::DeserializeOwned>(
    services: &Services,
    key: &str,
) -> Result<Option<T>, StoreError> {
    let now = services.clock.now();
    match services.store.get_expiring(key, now).await? {
        Some(raw) => Ok(Some(decode(Table::Meta, &raw)?)),
        None => Ok(None),
    }
}

/// The app makes a one-time hint for a kiosk to scan, so the citizen need not say their id.
pub async fn issue_login_hint_token(
    services: &Services,
    personal_id: &PersonalId,
) -> Result<String, StoreError> {
    let token = random_token()?;
    let now = services.clock.now();
    let expires_at = now.plus(LOGIN_HINT_TOKEN_TTL);
    let record = HintToken {
        personal_id: personal_id.clone(),
        expires_at,
    };
    services
        .store
        .put_expiring(
            &secret_key("login-hint", &token),
            encode(&record)?,
            expires_at.plus(KEEP_AFTER_EXPIRY),
            PutMode::IfAbsent,
            now,
        )
        .await?;
    Ok(token)
}

/// Who the request names: exactly one of `login_hint` (a personal id) or `login_hint_token`.
async fn hinted_citizen(services: &Services, p: &Params) -> Result<Account, OAuthError> {
    if p.contains("id_token_hint") {
        return Err(OAuthError::invalid_request(
            "id_token_hint is not supported: send login_hint or login_hint_token",
        ));
    }
    let personal_id = match (p.get("login_hint"), p.get("login_hint_token")) {
        (Some(hint), None) => PersonalId::parse(hint).map_err(|_| {
            OAuthError::UnknownUserId("login_hint must be a 12-digit personal id".into())
        })?,
        (None, Some(token)) => {
            let now = services.clock.now();
            let key = secret_key("login-hint", token);
            let Some(raw) = services.store.take_expiring(&key, now).await? else {
                return Err(OAuthError::UnknownUserId(
                    "the login_hint_token is unknown or already used".into(),
                ));
            };
            let hint: HintToken = decode(Table::Meta, &raw)?;
            if hint.expires_at <= now {
                return Err(OAuthError::ExpiredLoginHintToken);
            }
            hint.personal_id
        }
        _ => {
            return Err(OAuthError::invalid_request(
                "send exactly one of login_hint or login_hint_token",
            ));
        }
    };
    services
        .accounts
        .get(&personal_id)
        .await?
        .ok_or_else(|| OAuthError::UnknownUserId("no account for this citizen".into()))
}

fn binding_message(p: &Params) -> Result<Option<String>, OAuthError> {
    let Some(m) = p.get("binding_message") else {
        return Ok(None);
    };
    let len = m.chars().count();
    if len > MAX_BINDING_MESSAGE || m.chars().any(char::is_control) || m.trim() != m {
        return Err(OAuthError::InvalidBindingMessage(format!(
            "binding_message must be at most {MAX_BINDING_MESSAGE} printable characters"
        )));
    }
    Ok(Some(m.to_owned()))
}

/// The backchannel authentication endpoint (CIBA §7): checks the request and files it in the
/// citizen's inbox.
pub async fn start(
    services: &Services,
    rp: &RelyingParty,
    p: &Params,
) -> Result<BackchannelStarted, OAuthError> {
    // The route's guard admits only clients with the `ciba` permission.
    super::same_client(p, rp)?;
    for unsupported in ["user_code", "request", "client_notification_token"] {
        if p.contains(unsupported) {
            return Err(OAuthError::invalid_request(format!(
                "{unsupported} is not supported (poll mode only, no user codes or request objects)"
            )));
        }
    }
    let scopes = grantable(p.get("scope").unwrap_or(""), rp);
    if !scopes.contains(&Scope::Openid) {
        return Err(OAuthError::InvalidScope("scope must include openid".into()));
    }
    // Unlike the browser flow, a kiosk that names only unknown values is told so.
    let asked_level = match (p.get("acr_values"), asked_level(p.get("acr_values"))) {
        (_, Some(level)) => level,
        (None, None) => Level::One,
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(format!(
                "acr_values must name one of {}",
                ACR_VALUES.join(", ")
            )));
        }
    };
    let expiry = match p.get("requested_expiry") {
        None => DEFAULT_EXPIRY,
        Some(v) => match v.parse::<u64>() {
            Ok(s) if s >= 1 && s <= MAX_EXPIRY.as_secs() => Duration::from_secs(s),
            _ => {
                return Err(OAuthError::invalid_request(format!(
                    "requested_expiry must be 1 to {} seconds",
                    MAX_EXPIRY.as_secs()
                )));
            }
        },
    };
    let binding_message = binding_message(p)?;
    let authorization_details = match p.get("authorization_details") {
        Some(json) => {
            transactions::parse(json).map_err(|e| OAuthError::InvalidAuthorizationDetails(e.0))?
        }
        None => Vec::new(),
    };
    // Who, last: every check of the request itself comes first, and a hint token is only spent
    // by a request that is otherwise good.
    let account = hinted_citizen(services, p).await?;
    if account.is_locked() {
        return Err(OAuthError::AccessDenied(
            "the citizen's account is locked".into(),
        ));
    }
    let required_level = asked_level.max(rp.min_level);
    if account.level < required_level {
        return Err(OAuthError::UnmetAuthenticationRequirements(
            "this request needs a level-2 (chip-verified) account".into(),
        ));
    }
    let now = services.clock.now();
    let request = CibaRequest {
        id: random_token()?,
        client_id: rp.client_id.clone(),
        personal_id: account.personal_id.clone(),
        scopes,
        binding_message,
        required_level,
        requirement: Requirement::of(rp, &authorization_details),
        authorization_details,
        expires_at: now.plus(expiry),
    };
    let auth_req_id = random_token()?;
    let keep = request.expires_at.plus(KEEP_AFTER_EXPIRY);
    let store = &services.store;
    store
        .put_expiring(
            &request_key(&request.id),
            encode(&request)?,
            keep,
            PutMode::IfAbsent,
            now,
        )
        .await?;
    store
        .put_expiring(
            &secret_key("ciba", &auth_req_id),
            request.id.as_bytes().to_vec(),
            keep,
            PutMode::IfAbsent,
            now,
        )
        .await?;
    store
        .list_push(&inbox(&request.personal_id), encode(&request.id)?)
        .await?;
    tracing::info!(client = %rp.client_id, request = %request.id, "backchannel authentication requested");
    Ok(BackchannelStarted {
        auth_req_id,
        expires_in: expiry.as_secs(),
        interval: INTERVAL,
    })
}

/// The token endpoint's CIBA grant: pending, slow down, expired, denied, or the tokens — once.
pub async fn collect(
    services: &Services,
    rp: &RelyingParty,
    auth_req_id: &str,
    dpop_jkt: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let unknown = || OAuthError::invalid_grant("auth_req_id is unknown");
    let now = services.clock.now();
    let id = services
        .store
        .get_expiring(&secret_key("ciba", auth_req_id), now)
        .await?
        .ok_or_else(unknown)?;
    let id = String::from_utf8(id).map_err(|_| unknown())?;
    let request: CibaRequest = get(services, &request_key(&id))
        .await?
        .ok_or_else(unknown)?;
    if request.client_id != rp.client_id {
        return Err(unknown());
    }
    let decision: Option<Decision> = get(services, &decision_key(&id)).await?;
    match decision {
        Some(Decision::Denied) => Err(OAuthError::AccessDenied(
            "the citizen denied the request".into(),
        )),
        Some(Decision::Approved { methods, auth_time }) => {
            if services.issued_before_fence(auth_time) {
                // Whether its tokens were collected before may be among what the store forgot.
                return Err(OAuthError::invalid_grant(
                    "approved before the gateway's store was restored: start a new request",
                ));
            }
            let family = random_token()?;
            let first = services
                .store
                .put_expiring(
                    &collected_key(&id),
                    encode(&Collected {
                        family: family.clone(),
                    })?,
                    now.plus(REFRESH_TOKEN_TTL),
                    PutMode::IfAbsent,
                    now,
                )
                .await?;
            if !first {
                // Collected before: the auth_req_id leaked or the client is confused. Either way
                // the tokens of the first collection are revoked, as for a replayed code.
                if let Some(c) = get::<Collected>(services, &collected_key(&id)).await? {
                    grants::revoke_family(services, &c.family).await?;
                }
                return Err(OAuthError::invalid_grant(
                    "the tokens of this auth_req_id were already collected",
                ));
            }
            let account = services.accounts.get(&request.personal_id).await?;
            let level = account.map(|a| a.level).unwrap_or(Level::One);
            let grant = Grant {
                client_id: request.client_id,
                personal_id: request.personal_id,
                scopes: request.scopes,
                auth_time,
                methods,
                level,
                nonce: None,
                authorization_details: request.authorization_details,
            };
            grants::issue_tokens(services, rp, grant, grants::Family::New(family), dpop_jkt).await
        }
        None if request.expires_at <= now => Err(OAuthError::ExpiredToken),
        None => pace(services, &id, request.expires_at).await,
    }
}

/// A poll of a pending request: `slow_down` (and a longer interval from now on) when it comes
/// before the interval has passed, else `authorization_pending`.
async fn pace(
    services: &Services,
    id: &str,
    expires_at: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let now = services.clock.now();
    let previous: Option<Pacing> = get(services, &pacing_key(id)).await?;
    let (pacing, too_fast) = match previous {
        Some(p) if now < p.last_poll.plus(Duration::from_secs(p.interval)) => (
            Pacing {
                last_poll: now,
                interval: p.interval + INTERVAL,
            },
            true,
        ),
        Some(p) => (
            Pacing {
                last_poll: now,
                interval: p.interval,
            },
            false,
        ),
        None => (
            Pacing {
                last_poll: now,
                interval: INTERVAL,
            },
            false,
        ),
    };
    services
        .store
        .put_expiring(
            &pacing_key(id),
            encode(&pacing)?,
            expires_at.plus(KEEP_AFTER_EXPIRY),
            PutMode::Overwrite,
            now,
        )
        .await?;
    if too_fast {
        Err(OAuthError::SlowDown(pacing.interval))
    } else {
        Err(OAuthError::AuthorizationPending)
    }
}

/// The citizen's pending requests, newest first.
pub async fn pending(
    services: &Services,
    personal_id: &PersonalId,
) -> Result<Vec<PendingApproval>, StoreError> {
    let ids: Vec<String> =
        crate::store::newest(services.store.as_ref(), &inbox(personal_id), 20).await?;
    let now = services.clock.now();
    let mut out = Vec::new();
    for id in ids {
        let Some(request) = get::<CibaRequest>(services, &request_key(&id)).await? else {
            continue;
        };
        if request.expires_at <= now
            || get::<Decision>(services, &decision_key(&id))
                .await?
                .is_some()
        {
            continue;
        }
        out.push(describe(services, request).await?);
    }
    Ok(out)
}

async fn describe(services: &Services, r: CibaRequest) -> Result<PendingApproval, StoreError> {
    let rp = services.relying_parties.get(&r.client_id).await?;
    let shown = rp
        .as_ref()
        .map(|rp| super::claims::release(rp, &r.scopes).shown())
        .unwrap_or_default();
    let name = rp.map(|rp| rp.name).unwrap_or_default();
    Ok(PendingApproval {
        request_id: r.id,
        client_id: r.client_id.to_string(),
        relying_party: name,
        binding_message: r.binding_message,
        scopes: r.scopes.iter().map(|s| s.name().into_owned()).collect(),
        releases: shown.iter().map(|c| c.label.clone()).collect(),
        claims: shown,
        transactions: r
            .authorization_details
            .iter()
            .map(AuthorizationDetail::describe)
            .collect(),
        authorization_details: r.authorization_details,
        required: r.requirement,
        expires_at: r.expires_at.secs(),
    })
}

/// The citizen answers from the app. Only the citizen the request names can answer it; an
/// approval must meet the request's requirement (`methods` are the factors the app just proved).
pub async fn answer(
    services: &Services,
    personal_id: &PersonalId,
    request_id: &str,
    answer: Answer,
    methods: Option<BTreeSet<AuthMethod>>,
) -> Result<(), ApprovalError> {
    let now = services.clock.now();
    let request: CibaRequest = get(services, &request_key(request_id))
        .await?
        .ok_or(ApprovalError::NotFound)?;
    if &request.personal_id != personal_id || request.expires_at <= now {
        return Err(ApprovalError::NotFound);
    }
    let decision = match (answer, methods) {
        (Answer::Deny, _) => Decision::Denied,
        (Answer::Approve, Some(methods)) if request.requirement.met_by(&methods) => {
            Decision::Approved {
                methods,
                auth_time: now,
            }
        }
        (Answer::Approve, _) => return Err(ApprovalError::StepUpRequired(request.requirement)),
    };
    let first = services
        .store
        .put_expiring(
            &decision_key(request_id),
            encode(&decision)?,
            request.expires_at.plus(KEEP_AFTER_EXPIRY),
            PutMode::IfAbsent,
            now,
        )
        .await?;
    if !first {
        return Err(ApprovalError::AlreadyAnswered);
    }
    Ok(())
}
