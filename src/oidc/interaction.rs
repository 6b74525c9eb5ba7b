//! The pages between the authorization request and the code: login (ID number + password, then
//! the SMS OTP) and consent. The flow's state is an interaction record in the store, bound to
//! the browser that started it by a `__Host-` cookie (a login CSRF from another site cannot
//! carry it: `SameSite=Lax`) and to a per-interaction CSRF token in every form.

use std::collections::BTreeSet;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::authorize::{AuthorizationRequest, AuthorizeError, Prompt, RedirectError};
use super::claims::Scope;
use super::grants::{self, Grant};
use super::{INTERACTION_TTL, consent, secret_key, web_session};
use crate::accounts::Account;
use crate::audit::AuditKind;
use crate::challenges::random_token;
use crate::clock::Timestamp;
use crate::domain::{AuthMethod, Level, PersonalId, PhoneNumber};
use crate::identity::transactions::{AuthorizationDetail, Requirement};
use crate::relying_parties::RelyingParty;
use crate::services::Services;
use crate::store::{PutMode, StoreError, Table, decode, encode};

/// The cookie binding an interaction to the browser that started it.
/// The cookie's name; over https it carries the `__Host-` prefix (see `http::routes::oauth`).
pub const BROWSER_COOKIE: &str = "eid_flow";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoggedIn {
    personal_id: PersonalId,
    methods: BTreeSet<AuthMethod>,
    auth_time: Timestamp,
    level: Level,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interaction {
    pub id: String,
    pub request: AuthorizationRequest,
    browser: String,
    pub csrf: String,
    /// The password was right and an OTP went to this citizen's phone.
    pending: Option<PersonalId>,
    logged_in: Option<LoggedIn>,
    /// The code of the last failed step (`code.oauth.<code>` in the catalogue), shown once.
    pub error: Option<String>,
    /// The cross-device login code the page shows as a QR for the citizen's app.
    #[serde(default)]
    pub qr: String,
    /// When the QR login code stops working.
    #[serde(default)]
    pub qr_expires_at: Option<Timestamp>,
}

/// What the interaction page shows now.
pub enum Step {
    Login {
        hint: Option<String>,
    },
    Otp {
        /// The citizen's phone, for the page to mask (or, in the sandbox, show whole).
        phone: Option<PhoneNumber>,
    },
    Consent {
        scopes: Vec<Scope>,
        /// The transactions to approve (a one-off approval, not a standing consent).
        transactions: Vec<AuthorizationDetail>,
        /// Who is signed in, so the citizen sees whose data goes.
        account: SignedIn,
    },
}

/// The signed-in citizen as the consent page shows them: masked id and name.
pub struct SignedIn {
    pub masked_id: String,
    pub full_name: Option<String>,
}

/// Where the browser goes next.
#[derive(Debug)]
pub enum Next {
    /// The interaction page (`/oauth2/interaction/{id}`).
    Page(String),
    /// Back to the client: a code or an error, already a full URL.
    Client(String),
}

#[derive(Debug, thiserror::Error)]
pub enum InteractionError {
    /// Unknown, expired, finished, or started in another browser.
    #[error("this sign-in has expired or belongs to another browser; start again from the service")]
    Gone,
    #[error("the form is not valid (CSRF check failed); reload the page and try again")]
    Csrf,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] crate::accounts::hashing::HashError),
}

fn key(id: &str) -> String {
    format!("oidc-interaction:{id}")
}

/// The success redirect: `code`, `state` and `iss` (RFC 9207).
pub fn success_url(services: &Services, req: &AuthorizationRequest, code: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("code", code);
    if let Some(s) = &req.state {
        q.append_pair("state", s);
    }
    q.append_pair("iss", services.issuer());
    append_query(&req.redirect_uri, &q.finish())
}

/// An error redirect with `error`, `error_description`, `state` and `iss`.
pub fn error_url(services: &Services, e: &RedirectError) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("error", e.error);
    q.append_pair("error_description", &e.description);
    if let Some(s) = &e.state {
        q.append_pair("state", s);
    }
    q.append_pair("iss", services.issuer());
    append_query(&e.redirect_uri, &q.finish())
}

fn append_query(uri: &str, query: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

/// The start of the browser part, after the request is valid: reuse the SSO session if the
/// request allows, else open an interaction. Returns where to go and, for a new interaction, the
/// browser-binding cookie value to set.
pub async fn begin(
    services: &Services,
    rp: &RelyingParty,
    request: AuthorizationRequest,
    sso_cookie: Option<&str>,
) -> Result<(Next, Option<String>), AuthorizeError> {
    let now = services.clock.now();
    let session = web_session::find(services, sso_cookie).await?;
    let fresh_enough = |s: &web_session::WebSession| {
        request
            .max_age
            .is_none_or(|m| s.auth_time.plus(std::time::Duration::from_secs(m)) >= now)
    };
    let usable =
        session.filter(|(s, _)| !request.prompt.contains(&Prompt::Login) && fresh_enough(s));
    let logged_in = match usable {
        Some((s, account)) => Some(LoggedIn {
            personal_id: s.personal_id.clone(),
            methods: s.methods.clone(),
            auth_time: s.auth_time,
            level: account.level,
        }),
        None if request.prompt.contains(&Prompt::None) => {
            return Err(AuthorizeError::Redirect(
                request.error("login_required", "the citizen is not signed in"),
            ));
        }
        None => None,
    };
    if let Some(l) = &logged_in {
        if let Some(next) = after_login(services, rp, &request, l).await? {
            return Ok((next, None));
        }
        if request.prompt.contains(&Prompt::None) {
            return Err(AuthorizeError::Redirect(
                request.error("consent_required", "the citizen has not consented yet"),
            ));
        }
    }
    let browser = random_token()?;
    let interaction = Interaction {
        id: random_token()?,
        request,
        browser: secret_key("browser", &browser),
        csrf: random_token()?,
        pending: None,
        logged_in,
        error: None,
        qr: random_token()?,
        qr_expires_at: Some(now.plus(INTERACTION_TTL)),
    };
    save(services, &interaction).await?;
    services
        .store
        .put_expiring(
            &qr_key(&interaction.qr),
            interaction.id.as_bytes().to_vec(),
            now.plus(INTERACTION_TTL),
            PutMode::IfAbsent,
            now,
        )
        .await?;
    Ok((Next::Page(interaction.id.clone()), Some(browser)))
}

/// After a login (fresh or from the SSO session): refuse a level the account lacks, or finish
/// straight away when consent was already given. `None`: the consent page is next.
async fn after_login(
    services: &Services,
    rp: &RelyingParty,
    request: &AuthorizationRequest,
    l: &LoggedIn,
) -> Result<Option<Next>, StoreError> {
    if request.required_level.is_some_and(|lv| l.level < lv) {
        let e = request.error(
            "unmet_authentication_requirements",
            "this service requires a level-2 (chip-verified) account",
        );
        return Ok(Some(Next::Client(error_url(services, &e))));
    }
    let requirement = Requirement::of(rp, &request.authorization_details);
    if !requirement.met_by(&l.methods) {
        let e = request.error(
            "unmet_authentication_requirements",
            format!(
                "this transaction needs {}: sign in with the app's QR code and approve with a face capture",
                requirement.describe()
            ),
        );
        return Ok(Some(Next::Client(error_url(services, &e))));
    }
    let consented =
        consent::covers(services, &l.personal_id, &rp.client_id, &request.scopes).await?;
    // A transaction is shown and approved every time; remembered consent covers only scopes.
    let transaction = !request.authorization_details.is_empty();
    if consented && !transaction && !request.prompt.contains(&Prompt::Consent) {
        let code = code_for(services, request, l).await?;
        return Ok(Some(Next::Client(success_url(services, request, &code))));
    }
    Ok(None)
}

async fn code_for(
    services: &Services,
    request: &AuthorizationRequest,
    l: &LoggedIn,
) -> Result<String, StoreError> {
    let grant = Grant {
        client_id: request.client_id.clone(),
        personal_id: l.personal_id.clone(),
        scopes: request.scopes.clone(),
        auth_time: l.auth_time,
        methods: l.methods.clone(),
        level: l.level,
        nonce: request.nonce.clone(),
        authorization_details: request.authorization_details.clone(),
    };
    grants::issue_code(
        services,
        grant,
        &request.redirect_uri,
        &request.code_challenge,
    )
    .await
}

async fn save(services: &Services, i: &Interaction) -> Result<(), StoreError> {
    let now = services.clock.now();
    services
        .store
        .put_expiring(
            &key(&i.id),
            encode(i)?,
            now.plus(INTERACTION_TTL),
            PutMode::Overwrite,
            now,
        )
        .await
        .map(|_| ())
}

async fn finish(services: &Services, i: &Interaction) -> Result<(), StoreError> {
    let now = services.clock.now();
    services
        .store
        .take_expiring(&key(&i.id), now)
        .await
        .map(|_| ())
}

/// The interaction `id`, if this browser started it.
pub async fn load(
    services: &Services,
    id: &str,
    browser_cookie: Option<&str>,
) -> Result<Interaction, InteractionError> {
    let now = services.clock.now();
    let raw = services
        .store
        .get_expiring(&key(id), now)
        .await?
        .ok_or(InteractionError::Gone)?;
    let i: Interaction = decode(Table::Meta, &raw)?;
    let same_browser = browser_cookie.is_some_and(|c| {
        bool::from(
            secret_key("browser", c)
                .as_bytes()
                .ct_eq(i.browser.as_bytes()),
        )
    });
    if !same_browser {
        return Err(InteractionError::Gone);
    }
    Ok(i)
}

/// Checks a form's CSRF token against the interaction's.
pub fn check_csrf(i: &Interaction, token: Option<&str>) -> Result<(), InteractionError> {
    match token {
        Some(t) if bool::from(t.as_bytes().ct_eq(i.csrf.as_bytes())) => Ok(()),
        _ => Err(InteractionError::Csrf),
    }
}

/// What the page should show, taking the one-time error message with it.
pub async fn step(
    services: &Services,
    mut i: Interaction,
) -> Result<(Interaction, Step, Option<String>), InteractionError> {
    let error = i.error.take();
    if error.is_some() {
        save(services, &i).await?;
    }
    let step = match (&i.logged_in, &i.pending) {
        (Some(logged_in), _) => Step::Consent {
            scopes: i.request.scopes.iter().copied().collect(),
            transactions: i.request.authorization_details.clone(),
            account: SignedIn {
                masked_id: logged_in.personal_id.masked(),
                full_name: services
                    .registry
                    .person(&logged_in.personal_id)
                    .await?
                    .map(|p| p.full_name),
            },
        },
        (None, Some(id)) => {
            let phone = services.accounts.get(id).await?.map(|a| a.phone);
            Step::Otp { phone }
        }
        (None, None) => Step::Login {
            hint: i.request.login_hint.clone(),
        },
    };
    Ok((i, step, error))
}

async fn fail(
    services: &Services,
    mut i: Interaction,
    message: &str,
) -> Result<Next, InteractionError> {
    i.error = Some(message.to_owned());
    save(services, &i).await?;
    Ok(Next::Page(i.id))
}

/// One code for every refused login, whatever the reason (no enumeration).
const WRONG_CREDENTIALS: &str = "invalid_credentials";

/// Step 1: ID number and password. Unknown account, wrong password and a locked account look
/// the same and cost the same (one argon2 verification each).
pub async fn login(
    services: &Services,
    i: Interaction,
    personal_id: &str,
    password: &SecretString,
) -> Result<Next, InteractionError> {
    if i.logged_in.is_some() {
        return Ok(Next::Page(i.id));
    }
    let id = crate::domain::PersonalId::parse(personal_id).ok();
    let account = match &id {
        Some(id) => services.accounts.get(id).await?,
        None => None,
    };
    let password_ok = services
        .hasher
        .verify(password, account.as_ref().map(|a| a.password_hash.as_str()))
        .await?;
    let now = services.clock.now();
    let Some(mut account) = account else {
        services.metrics.login_failure("web", "unknown_account");
        return fail(services, i, WRONG_CREDENTIALS).await;
    };
    if account.is_locked() || account.in_backoff(now) {
        let reason = if account.is_locked() {
            "locked"
        } else {
            "backoff"
        };
        services.metrics.login_failure("web", reason);
        return fail(services, i, WRONG_CREDENTIALS).await;
    }
    if !password_ok {
        services.metrics.login_failure("web", "wrong_password");
        account.record_failure(now, services.lockout);
        services.accounts.save(&account).await?;
        services
            .audit
            .record(
                AuditKind::LoginFailed,
                "citizen",
                serde_json::json!({ "personal_id": account.personal_id.masked(), "channel": "web" }),
            )
            .await?;
        return fail(services, i, WRONG_CREDENTIALS).await;
    }
    send_otp(services, &i, &account).await?;
    let mut i = i;
    i.pending = Some(account.personal_id.clone());
    save(services, &i).await?;
    Ok(Next::Page(i.id))
}

fn otp_purpose(interaction: &str) -> String {
    format!("web-login:{interaction}")
}

async fn send_otp(
    services: &Services,
    i: &Interaction,
    account: &Account,
) -> Result<(), StoreError> {
    let code = services.otps.issue(&otp_purpose(&i.id)).await?;
    services
        .sms
        .send(
            &account.phone,
            format!(
                "VNeID: ma dang nhap cua ban la {code}. Het han sau 5 phut. Khong chia se ma nay."
            ),
        )
        .await
}

/// Step 2: the OTP. On success the browser gets a new SSO session (returned: the cookie value).
pub async fn otp(
    services: &Services,
    rp: &RelyingParty,
    i: Interaction,
    code: &str,
) -> Result<(Next, Option<String>), InteractionError> {
    let Some(id) = i.pending.clone() else {
        return Ok((Next::Page(i.id), None));
    };
    let purpose = otp_purpose(&i.id);
    match services.otps.check(&purpose, code).await {
        Ok(()) => {}
        Err(crate::sms::OtpError::Store(e)) => return Err(e.into()),
        Err(crate::sms::OtpError::TooManyAttempts) => {
            let mut i = i;
            i.pending = None;
            return Ok((fail(services, i, "otp_attempts_exceeded").await?, None));
        }
        Err(crate::sms::OtpError::Invalid) => {
            return Ok((fail(services, i, "otp_invalid").await?, None));
        }
    }
    services.otps.consume(&purpose).await?;
    let Some(mut account) = services.accounts.get(&id).await? else {
        return Err(InteractionError::Gone);
    };
    if account.failures != Default::default() {
        account.record_success();
        services.accounts.save(&account).await?;
    }
    let methods: BTreeSet<AuthMethod> = [AuthMethod::Pwd, AuthMethod::Otp].into_iter().collect();
    let (next, sso) = signed_in(services, rp, i, &account, methods).await?;
    Ok((next, Some(sso)))
}

/// The citizen is authenticated (by the pages or by the app): a new browser session, then the
/// level check and consent. Returns where to go and the SSO cookie value.
async fn signed_in(
    services: &Services,
    rp: &RelyingParty,
    mut i: Interaction,
    account: &Account,
    methods: BTreeSet<AuthMethod>,
) -> Result<(Next, String), InteractionError> {
    let sso = web_session::start(services, account, methods.clone()).await?;
    let logged_in = LoggedIn {
        personal_id: account.personal_id.clone(),
        methods,
        auth_time: services.clock.now(),
        level: account.level,
    };
    i.pending = None;
    if let Some(next) = after_login(services, rp, &i.request, &logged_in).await? {
        finish(services, &i).await?;
        return Ok((next, sso));
    }
    i.logged_in = Some(logged_in);
    save(services, &i).await?;
    Ok((Next::Page(i.id), sso))
}

fn qr_key(qr: &str) -> String {
    secret_key("qr", qr)
}

fn qr_approval_key(interaction: &str) -> String {
    format!("oidc-qr-approved:{interaction}")
}

/// What the app shows before the citizen approves a cross-device login.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QrLogin {
    pub client_id: String,
    pub relying_party: String,
    pub scopes: Vec<String>,
    /// What the sign-in will release once the browser's consent is given: exactly the claims the
    /// tokens will carry.
    pub claims: Vec<super::claims::ReleasedClaim>,
}

#[derive(Serialize, Deserialize)]
struct QrApproval {
    personal_id: PersonalId,
    epoch: u64,
    methods: BTreeSet<AuthMethod>,
}

/// The sign-in waiting behind a QR code (`eid-login:<code>` or the bare code), if any.
async fn by_qr(services: &Services, qr: &str) -> Result<Option<Interaction>, StoreError> {
    let code = qr.strip_prefix(QR_PREFIX).unwrap_or(qr);
    let now = services.clock.now();
    let Some(id) = services.store.get_expiring(&qr_key(code), now).await? else {
        return Ok(None);
    };
    let id = String::from_utf8_lossy(&id).into_owned();
    let Some(raw) = services.store.get_expiring(&key(&id), now).await? else {
        return Ok(None);
    };
    let i: Interaction = decode(Table::Meta, &raw)?;
    Ok((i.logged_in.is_none()).then_some(i))
}

pub const QR_PREFIX: &str = "eid-login:";

/// For the app: who is asking, before the citizen approves.
pub async fn qr_describe(services: &Services, qr: &str) -> Result<Option<QrLogin>, StoreError> {
    let Some(i) = by_qr(services, qr).await? else {
        return Ok(None);
    };
    let rp = services.relying_parties.get(&i.request.client_id).await?;
    let claims = rp
        .as_ref()
        .map(|rp| super::claims::release(rp, &i.request.scopes).shown())
        .unwrap_or_default();
    let name = rp.map(|rp| rp.name).unwrap_or_default();
    Ok(Some(QrLogin {
        client_id: i.request.client_id.to_string(),
        relying_party: name,
        claims,
        scopes: i
            .request
            .scopes
            .iter()
            .map(|s| s.name().into_owned())
            .collect(),
    }))
}

/// The app approves the sign-in behind a QR code for its citizen (its session proved the bound
/// device; the caller checked the passcode or face, which `methods` name). `false` when there is
/// no such sign-in.
pub async fn qr_approve(
    services: &Services,
    qr: &str,
    account: &Account,
    methods: BTreeSet<AuthMethod>,
) -> Result<bool, StoreError> {
    let Some(i) = by_qr(services, qr).await? else {
        return Ok(false);
    };
    let now = services.clock.now();
    let approval = QrApproval {
        personal_id: account.personal_id.clone(),
        epoch: account.session_epoch,
        methods,
    };
    services
        .store
        .put_expiring(
            &qr_approval_key(&i.id),
            encode(&approval)?,
            now.plus(INTERACTION_TTL),
            PutMode::IfAbsent,
            now,
        )
        .await
}

/// Whether the app approved this sign-in (the page's script asks, then reloads).
pub async fn qr_approved(services: &Services, i: &Interaction) -> Result<bool, StoreError> {
    let now = services.clock.now();
    Ok(services
        .store
        .get_expiring(&qr_approval_key(&i.id), now)
        .await?
        .is_some())
}

/// The page polls: once the app approved, the browser is signed in (device key + passcode).
pub async fn poll_qr(
    services: &Services,
    rp: &RelyingParty,
    i: &Interaction,
) -> Result<Option<(Next, String)>, InteractionError> {
    if i.logged_in.is_some() {
        return Ok(None);
    }
    let now = services.clock.now();
    let Some(raw) = services
        .store
        .take_expiring(&qr_approval_key(&i.id), now)
        .await?
    else {
        return Ok(None);
    };
    let approval: QrApproval = decode(Table::Meta, &raw)?;
    let Some(account) = services.accounts.get(&approval.personal_id).await? else {
        return Err(InteractionError::Gone);
    };
    if account.is_locked() || account.session_epoch != approval.epoch {
        return Err(InteractionError::Gone);
    }
    services.store.take_expiring(&qr_key(&i.qr), now).await?;
    Ok(Some(
        signed_in(services, rp, i.clone(), &account, approval.methods).await?,
    ))
}

/// The citizen gave up at any step: the relying party hears `access_denied` (RFC 6749
/// §4.1.2.1), the same answer as declining consent, so it cannot tell where they stopped.
pub async fn cancel(services: &Services, i: Interaction) -> Result<Next, InteractionError> {
    finish(services, &i).await?;
    let e = i
        .request
        .error("access_denied", "the citizen cancelled the sign-in");
    Ok(Next::Client(error_url(services, &e)))
}

/// Step 3: the citizen's decision on the consent page.
pub async fn decide(
    services: &Services,
    i: Interaction,
    allow: bool,
) -> Result<Next, InteractionError> {
    let Some(l) = i.logged_in.clone() else {
        return Ok(Next::Page(i.id));
    };
    finish(services, &i).await?;
    if !allow {
        let e = i.request.error("access_denied", "the citizen declined");
        return Ok(Next::Client(error_url(services, &e)));
    }
    consent::grant(
        services,
        &l.personal_id,
        &i.request.client_id,
        &i.request.scopes,
    )
    .await?;
    let code = code_for(services, &i.request, &l).await?;
    Ok(Next::Client(success_url(services, &i.request, &code)))
}
