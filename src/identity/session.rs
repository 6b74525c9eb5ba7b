//! Citizen login from the bound device, app sessions, and step-up inside a session.
//!
//! Login needs the password and a signature by the bound device key over a fresh server nonce.
//! Unknown account, wrong password, wrong device and locked account give the same answer after the
//! same work (a dummy hash is verified when there is no account). A session is a record in the
//! store (so every instance sees it, and a device change or lock ends it) referenced by a signed
//! token of its own `typ`, accepted only by the citizen API.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signature;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::accounts::Account;
use crate::audit::AuditKind;
use crate::biometrics::BiometricError;
use crate::biometrics::liveness::Capture;
use crate::challenges::{ChallengeError, random_token};
use crate::clock::Timestamp;
use crate::domain::{AuthLevel, AuthMethod, Level, PersonalId, auth_level};
use crate::services::Services;
use crate::store::{PutMode, StoreError, Table, decode, encode};
use crate::tokens::jwk::parse_ed25519_public_key;

pub const SESSION_TYP: &str = "eid-session+jwt";
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const LOGIN_CHALLENGE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{detail}")]
    Invalid { code: &'static str, detail: String },
    /// Unknown account, wrong password or device, locked or backing off: one answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("the session is not valid")]
    InvalidSession,
    #[error("wrong passcode")]
    WrongPasscode,
    #[error(transparent)]
    Biometric(#[from] BiometricError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] crate::accounts::hashing::HashError),
    #[error("cannot sign: {0}")]
    Signing(String),
}

impl SessionError {
    /// The code of a refusal the citizen caused (`None` for the gateway's own failures).
    pub fn refusal_code(&self) -> Option<&'static str> {
        match self {
            SessionError::Invalid { code, .. } => Some(code),
            SessionError::InvalidCredentials => Some("invalid_credentials"),
            SessionError::InvalidSession => Some("invalid_session"),
            SessionError::WrongPasscode => Some("wrong_passcode"),
            SessionError::Biometric(BiometricError::Store(_)) => None,
            SessionError::Biometric(e) => Some(e.code()),
            SessionError::Store(_) | SessionError::Hash(_) | SessionError::Signing(_) => None,
        }
    }
}

impl From<ChallengeError> for SessionError {
    fn from(e: ChallengeError) -> Self {
        match e {
            ChallengeError::Store(s) => SessionError::Store(s),
            _ => SessionError::InvalidCredentials,
        }
    }
}

/// A session as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub sid: String,
    pub personal_id: PersonalId,
    pub methods: BTreeSet<AuthMethod>,
    pub auth_time: Timestamp,
    pub epoch: u64,
    pub expires_at: Timestamp,
}

impl Session {
    pub fn auth_level(&self) -> AuthLevel {
        auth_level(&self.methods)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct SessionClaims {
    iss: String,
    aud: String,
    sid: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoginChallenge {
    pub challenge_id: String,
    pub nonce: String,
    pub expires_at: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub personal_id: String,
    #[schema(value_type = String)]
    pub password: SecretString,
    pub challenge_id: String,
    /// base64url Ed25519 signature by the bound device over [`login_message`].
    pub device_signature: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionIssued {
    pub session_token: String,
    pub expires_in: u64,
    pub level: Level,
    pub auth_level: AuthLevel,
    pub amr: Vec<AuthMethod>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    #[schema(value_type = Option<String>)]
    pub passcode: Option<SecretString>,
    pub face_capture: Option<Capture>,
}

/// What the device signs to log in.
pub fn login_message(nonce: &str) -> Vec<u8> {
    format!("eid-gateway login v1\n{nonce}").into_bytes()
}

fn session_key(sid: &str) -> String {
    format!("session:{sid}")
}

/// The liveness-challenge requester for step-up inside a session.
pub fn liveness_requester(sid: &str) -> String {
    format!("session:{sid}")
}

pub async fn login_challenge(
    services: &Services,
    personal_id: &str,
) -> Result<LoginChallenge, SessionError> {
    let id = PersonalId::parse(personal_id).map_err(|e| SessionError::Invalid {
        code: "invalid_personal_id",
        detail: e.to_string(),
    })?;
    let nonce = random_token()?;
    let (challenge_id, expires_at) = services
        .challenges
        .issue(
            "login",
            &format!("login:{}", id.as_str()),
            LOGIN_CHALLENGE_TTL,
            &nonce,
        )
        .await?;
    Ok(LoginChallenge {
        challenge_id,
        nonce,
        expires_at: expires_at.secs(),
    })
}

fn device_signature_ok(account: &Account, nonce: &str, signature: &str) -> bool {
    let Ok(key) = parse_ed25519_public_key(&account.device.public_key) else {
        return false;
    };
    let Some(sig) = URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
    else {
        return false;
    };
    key.verify_strict(&login_message(nonce), &sig).is_ok()
}

pub async fn login(
    services: &Services,
    req: LoginRequest,
) -> Result<(SessionIssued, Session), SessionError> {
    let id = PersonalId::parse(&req.personal_id).map_err(|e| SessionError::Invalid {
        code: "invalid_personal_id",
        detail: e.to_string(),
    })?;
    let now = services.clock.now();
    let account = services.accounts.get(&id).await?;
    // Always one argon2 verification, whatever the account's state.
    let password_ok = services
        .hasher
        .verify(
            &req.password,
            account.as_ref().map(|a| a.password_hash.as_str()),
        )
        .await?;
    let nonce: Option<String> = match services
        .challenges
        .consume(
            "login",
            &req.challenge_id,
            &format!("login:{}", id.as_str()),
        )
        .await
    {
        Ok(n) => Some(n),
        Err(ChallengeError::Store(e)) => return Err(e.into()),
        Err(_) => None,
    };
    let Some(mut account) = account else {
        refuse(services, Refusal::Unknown, &id, "unknown_account").await?;
        return Err(SessionError::InvalidCredentials);
    };
    if account.is_locked() || account.in_backoff(now) {
        // Refused without counting: attempts during a back-off must not lengthen the victim's.
        let reason = if account.is_locked() {
            "locked"
        } else {
            "backoff"
        };
        refuse(services, Refusal::Untouched, &id, reason).await?;
        return Err(SessionError::InvalidCredentials);
    }
    let device_ok = nonce.is_some_and(|n| device_signature_ok(&account, &n, &req.device_signature));
    if !password_ok || !device_ok {
        account.record_failure(now, services.lockout);
        let reason = if password_ok {
            "wrong_device"
        } else {
            "wrong_password"
        };
        refuse(services, Refusal::Counted(&account), &id, reason).await?;
        return Err(SessionError::InvalidCredentials);
    }
    if account.failures != Default::default() {
        account.record_success();
        services.accounts.save(&account).await?;
    }
    let session = Session {
        sid: random_token()?,
        personal_id: id,
        methods: [AuthMethod::Pwd, AuthMethod::Swk].into_iter().collect(),
        auth_time: now,
        epoch: account.session_epoch,
        expires_at: now.plus(SESSION_TTL),
    };
    save(services, &session).await?;
    let token = sign(services, &session)?;
    Ok((issued(&session, &account, token), session))
}

/// What a refused login writes.
enum Refusal<'a> {
    /// No account: a record of the last such refusal (one key for all unknown ids).
    Unknown,
    /// A locked account, or one backing off: a record of the refusal beside the account, which
    /// is left as it is (writing back the copy read earlier could undo a concurrent change).
    Untouched,
    /// A wrong secret: the account with its failure counted.
    Counted(&'a Account),
}

/// Every refused login does the same store work — one record written, one audit entry — so that
/// an unknown account, a wrong secret and a locked account take the same time as well as giving
/// the same answer.
async fn refuse(
    services: &Services,
    refusal: Refusal<'_>,
    id: &PersonalId,
    reason: &'static str,
) -> Result<(), SessionError> {
    services.metrics.login_failure("app", reason);
    let at = services.clock.now();
    let store = services.store.as_ref();
    let record = json!({ "at": at, "reason": reason });
    match refusal {
        Refusal::Counted(account) => services.accounts.save(account).await?,
        Refusal::Unknown => {
            crate::store::put_json(store, Table::Meta, "login-refused:unknown", &record).await?
        }
        Refusal::Untouched => {
            let key = format!("login-refused:{}", id.as_str());
            crate::store::put_json(store, Table::Meta, &key, &record).await?
        }
    }
    services
        .audit
        .record(
            AuditKind::LoginFailed,
            "citizen",
            json!({ "personal_id": id.masked(), "reason": reason }),
        )
        .await?;
    Ok(())
}

fn issued(session: &Session, account: &Account, token: String) -> SessionIssued {
    SessionIssued {
        session_token: token,
        expires_in: SESSION_TTL.as_secs(),
        level: account.level,
        auth_level: session.auth_level(),
        amr: session.methods.iter().copied().collect(),
    }
}

async fn save(services: &Services, session: &Session) -> Result<(), StoreError> {
    let now = services.clock.now();
    services
        .store
        .put_expiring(
            &session_key(&session.sid),
            encode(session)?,
            session.expires_at,
            PutMode::Overwrite,
            now,
        )
        .await
        .map(|_| ())
}

fn sign(services: &Services, session: &Session) -> Result<String, SessionError> {
    let claims = SessionClaims {
        iss: services.issuer().to_owned(),
        aud: services.issuer().to_owned(),
        sid: session.sid.clone(),
        iat: session.auth_time.secs(),
        exp: session.expires_at.secs(),
    };
    services
        .keyring
        .load()
        .sign(SESSION_TYP, &claims)
        .map_err(|e| SessionError::Signing(e.to_string()))
}

/// Resolves a session token: signature by a known key, `typ`, issuer, the stored session, and
/// the account's session epoch (a device change ends older sessions).
pub async fn authenticate(
    services: &Services,
    token: &str,
) -> Result<(Session, Account), SessionError> {
    let verified = services
        .keyring
        .load()
        .verify_reusable(token)
        .map_err(|_| SessionError::InvalidSession)?;
    if verified.header.typ.as_deref() != Some(SESSION_TYP) {
        return Err(SessionError::InvalidSession);
    }
    let claims: SessionClaims = verified
        .claims()
        .map_err(|_| SessionError::InvalidSession)?;
    let now = services.clock.now();
    if claims.iss != services.issuer()
        || claims.aud != services.issuer()
        || claims.exp <= now.secs()
    {
        return Err(SessionError::InvalidSession);
    }
    let raw = services
        .store
        .get_expiring(&session_key(&claims.sid), now)
        .await?
        .ok_or(SessionError::InvalidSession)?;
    let session: Session = decode(Table::Meta, &raw)?;
    let account = services
        .accounts
        .get(&session.personal_id)
        .await?
        .ok_or(SessionError::InvalidSession)?;
    if account.session_epoch != session.epoch {
        return Err(SessionError::InvalidSession);
    }
    Ok((session, account))
}

/// Checks the app passcode, counting a wrong one towards the lockout like a wrong password.
pub async fn check_passcode(
    services: &Services,
    account: &mut Account,
    passcode: &SecretString,
) -> Result<(), SessionError> {
    let now = services.clock.now();
    if account.in_backoff(now) || account.is_locked() {
        return Err(SessionError::WrongPasscode);
    }
    if !services
        .hasher
        .verify(passcode, Some(&account.passcode_hash))
        .await?
    {
        account.record_failure(now, services.lockout);
        services.accounts.save(account).await?;
        return Err(SessionError::WrongPasscode);
    }
    Ok(())
}

/// Checks a live face capture taken by the session's device (answering the session's liveness
/// challenge) against the citizen's enrolled face.
pub async fn check_face(
    services: &Services,
    session: &Session,
    account: &Account,
    capture: &Capture,
) -> Result<(), SessionError> {
    let device = parse_ed25519_public_key(&account.device.public_key)
        .map_err(|_| SessionError::InvalidSession)?;
    let template = services
        .liveness
        .verify(capture, &liveness_requester(&session.sid), &device)
        .await?;
    let enrolled = services
        .registry
        .templates(&session.personal_id)
        .await?
        .ok_or(SessionError::InvalidSession)?;
    services.matcher.face(&template, &enrolled.face)?;
    Ok(())
}

/// The factors of an approval given in the app (a cross-device login, a kiosk's CIBA request):
/// the passcode, a live face capture, or both.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalFactors {
    #[schema(value_type = Option<String>)]
    pub passcode: Option<SecretString>,
    pub face_capture: Option<Capture>,
}

/// Checks the factors of an approval and returns its `amr`: the bound device (the session was
/// opened with its key) plus each factor given. At least one factor is needed.
pub async fn approval_methods(
    services: &Services,
    session: &Session,
    account: &mut Account,
    factors: &ApprovalFactors,
) -> Result<BTreeSet<AuthMethod>, SessionError> {
    if factors.passcode.is_none() && factors.face_capture.is_none() {
        return Err(SessionError::Invalid {
            code: "approval_factor_required",
            detail: "approve with the passcode, a live face capture, or both".into(),
        });
    }
    let mut methods: BTreeSet<AuthMethod> = [AuthMethod::Swk].into_iter().collect();
    if let Some(passcode) = &factors.passcode {
        check_passcode(services, account, passcode).await?;
        methods.insert(AuthMethod::Pin);
    }
    if let Some(capture) = &factors.face_capture {
        check_face(services, session, account, capture).await?;
        methods.insert(AuthMethod::Face);
    }
    if account.failures != Default::default() {
        account.record_success();
        services.accounts.save(account).await?;
    }
    Ok(methods)
}

/// Adds a factor inside the session: the passcode (`pin`) or a live face capture (`face`).
pub async fn step_up(
    services: &Services,
    session: Session,
    account: Account,
    req: StepUpRequest,
) -> Result<SessionIssued, SessionError> {
    let result = add_factor(services, session, account, req).await;
    if let Err(e) = &result
        && let Some(reason) = e.refusal_code()
    {
        services.metrics.step_up_failure(reason);
    }
    result
}

async fn add_factor(
    services: &Services,
    mut session: Session,
    mut account: Account,
    req: StepUpRequest,
) -> Result<SessionIssued, SessionError> {
    let now = services.clock.now();
    match (req.passcode, req.face_capture) {
        (Some(passcode), None) => {
            check_passcode(services, &mut account, &passcode).await?;
            session.methods.insert(AuthMethod::Pin);
        }
        (None, Some(capture)) => {
            check_face(services, &session, &account, &capture).await?;
            session.methods.insert(AuthMethod::Face);
        }
        _ => {
            return Err(SessionError::Invalid {
                code: "invalid_step_up",
                detail: "send exactly one of passcode or face_capture".into(),
            });
        }
    }
    if account.failures != Default::default() {
        account.record_success();
        services.accounts.save(&account).await?;
    }
    session.auth_time = now;
    save(services, &session).await?;
    let token = sign(services, &session)?;
    Ok(issued(&session, &account, token))
}
