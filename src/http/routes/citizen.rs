//! The citizen's app API: registration, login, step-up, presentations, history, lock.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::biometrics::liveness::LivenessChallenge;
use crate::http::extractors::CitizenSession;
use crate::http::{ApiError, State};
use crate::identity::device_change::{
    self, CompleteDeviceChange, DeviceChangeStarted, DeviceChanged, StartDeviceChange,
};
use crate::identity::history::{self, UsageEntry};
use crate::identity::level2::{self, Activation, AppLevel2Request, Level2Done};
use crate::identity::presentation::{self, PresentationIssued, PresentationRequest};
use crate::identity::registration::{
    self, CompleteRegistration, Registered, RegistrationStarted, StartRegistration,
};
use crate::identity::session::{self, LoginChallenge, LoginRequest, SessionIssued, StepUpRequest};
use crate::oidc::ciba;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/registrations").route(web::post().to(start_registration)))
        .service(
            web::resource("/registrations/{registration_id}/liveness-challenge")
                .route(web::post().to(registration_liveness)),
        )
        .service(
            web::resource("/registrations/{registration_id}/complete")
                .route(web::post().to(complete_registration)),
        )
        .service(web::resource("/login/challenge").route(web::post().to(login_challenge)))
        .service(web::resource("/login").route(web::post().to(login)))
        .service(
            web::resource("/session/liveness-challenge").route(web::post().to(session_liveness)),
        )
        .service(web::resource("/session/step-up").route(web::post().to(step_up)))
        .service(web::resource("/history").route(web::get().to(history)))
        .service(web::resource("/history/export").route(web::get().to(history_export)))
        .service(web::resource("/chip-challenge").route(web::post().to(chip_challenge)))
        .service(web::resource("/level2").route(web::post().to(level2_from_app)))
        .service(web::resource("/activations").route(web::post().to(activate)))
        .service(web::resource("/device-change").route(web::post().to(start_device_change)))
        .service(
            web::resource("/device-change/{change_id}/complete")
                .route(web::post().to(complete_device_change)),
        )
        .service(web::resource("/lock").route(web::post().to(lock)))
        .service(web::resource("/consents").route(web::get().to(consents)))
        .service(
            web::resource("/qr-login")
                .route(web::get().to(qr_login_describe))
                .route(web::post().to(qr_login_approve)),
        )
        .service(web::resource("/consents/{client_id}").route(web::delete().to(withdraw_consent)))
        .service(web::resource("/approvals").route(web::get().to(pending_approvals)))
        .service(web::resource("/approvals/{request_id}").route(web::post().to(answer_approval)))
        .service(web::resource("/login-hint").route(web::post().to(login_hint)));
}

/// Start a level-1 registration. The answer is the same whatever the registry holds.
#[utoipa::path(post, path = "/v1/citizen/registrations", tag = "citizen", request_body = StartRegistration,
    responses((status = 202, body = RegistrationStarted), (status = 400, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn start_registration(
    state: State,
    req: HttpRequest,
    body: web::Json<StartRegistration>,
) -> Result<HttpResponse, ApiError> {
    crate::http::rate_limit::per_ip(&state, &req).await?;
    let started = registration::start(&state.services, body.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(started))
}

/// A liveness challenge for the registration's face capture.
#[utoipa::path(post, path = "/v1/citizen/registrations/{registration_id}/liveness-challenge", tag = "citizen",
    responses((status = 201, body = LivenessChallenge)))]
pub async fn registration_liveness(
    state: State,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = state
        .services
        .liveness
        .challenge(&registration::liveness_requester(&path.into_inner()))
        .await
        .map_err(crate::identity::IdentityError::from)?;
    Ok(HttpResponse::Created().json(c))
}

/// Complete the registration: OTP, password, passcode, live face capture.
#[utoipa::path(post, path = "/v1/citizen/registrations/{registration_id}/complete", tag = "citizen", request_body = CompleteRegistration,
    responses((status = 201, body = Registered), (status = 400, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn complete_registration(
    state: State,
    path: web::Path<String>,
    body: web::Json<CompleteRegistration>,
) -> Result<HttpResponse, ApiError> {
    let done =
        registration::complete(&state.services, &path.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(done))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginChallengeRequest {
    pub personal_id: String,
}

/// A nonce for the bound device to sign.
#[utoipa::path(post, path = "/v1/citizen/login/challenge", tag = "citizen", request_body = LoginChallengeRequest,
    responses((status = 201, body = LoginChallenge)))]
pub async fn login_challenge(
    state: State,
    body: web::Json<LoginChallengeRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created()
        .json(session::login_challenge(&state.services, &body.personal_id).await?))
}

/// Log in with the password and the device's signature; returns an app session.
#[utoipa::path(post, path = "/v1/citizen/login", tag = "citizen", request_body = LoginRequest,
    responses((status = 201, body = SessionIssued), (status = 401, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn login(
    state: State,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    crate::http::rate_limit::per_ip(&state, &req).await?;
    let (issued, _) = session::login(&state.services, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(issued))
}

/// A liveness challenge for a face step-up in this session.
#[utoipa::path(post, path = "/v1/citizen/session/liveness-challenge", tag = "citizen",
    security(("session" = [])), responses((status = 201, body = LivenessChallenge)))]
pub async fn session_liveness(state: State, s: CitizenSession) -> Result<HttpResponse, ApiError> {
    let c = state
        .services
        .liveness
        .challenge(&session::liveness_requester(&s.session.sid))
        .await
        .map_err(crate::identity::IdentityError::from)?;
    Ok(HttpResponse::Created().json(c))
}

/// Raise the session's authentication level with the passcode or a live face capture.
#[utoipa::path(post, path = "/v1/citizen/session/step-up", tag = "citizen", request_body = StepUpRequest,
    security(("session" = [])), responses((status = 200, body = SessionIssued)))]
pub async fn step_up(
    state: State,
    s: CitizenSession,
    body: web::Json<StepUpRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .json(session::step_up(&state.services, s.session, s.account, body.into_inner()).await?))
}

/// A one-minute, single-use presentation token for one relying party.
#[utoipa::path(post, path = "/v1/presentations", tag = "citizen", request_body = PresentationRequest,
    security(("session" = [])), responses(
        (status = 201, body = PresentationIssued),
        (status = 403, description = "level_too_low, step_up_required or account_locked", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown_relying_party: no relying party has this client_id", body = crate::http::Problem, content_type = "application/problem+json"),
    ))]
pub async fn present(
    state: State,
    s: CitizenSession,
    body: web::Json<PresentationRequest>,
) -> Result<HttpResponse, ApiError> {
    let issued =
        presentation::issue(&state.services, &s.session, &s.account, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(issued))
}

/// The citizen's usage history, newest first.
#[utoipa::path(get, path = "/v1/citizen/history", tag = "citizen", security(("session" = [])),
    responses((status = 200, body = Vec<UsageEntry>)))]
pub async fn history(state: State, s: CitizenSession) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .json(history::recent(&state.services.store, &s.session.personal_id, 500).await?))
}

/// The usage history as a document the gateway signs (compact JWS, `typ: eid-history+jwt`, the
/// published EdDSA key): `eidgw history verify FILE` checks it offline against the JWKS, and any
/// edit breaks it. Claims: `iss`, `sub` (the personal id), `name`, `iat`, `complete`, `entries`.
#[utoipa::path(get, path = "/v1/citizen/history/export", tag = "citizen", security(("session" = [])),
    responses((status = 200, description = "The signed export, as a file to keep", content_type = "application/jose", body = String)))]
pub async fn history_export(state: State, s: CitizenSession) -> Result<HttpResponse, ApiError> {
    let document =
        crate::identity::history_export::export(&state.services, &s.session.personal_id).await?;
    let day = chrono::DateTime::from_timestamp(state.services.clock.now().secs(), 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    Ok(HttpResponse::Ok()
        .content_type("application/jose")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"vneid-history-{day}.jws\""),
        ))
        .body(document))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct QrQuery {
    /// The code the login page shows (`eid-login:…`).
    pub qr: String,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QrApproval {
    pub qr: String,
    /// The passcode, a live face capture (answering the session's liveness challenge), or both.
    #[schema(value_type = Option<String>)]
    pub passcode: Option<secrecy::SecretString>,
    pub face_capture: Option<crate::biometrics::liveness::Capture>,
}

fn qr_unknown() -> ApiError {
    ApiError::Outcome {
        status: 404,
        code: "qr_unknown",
        detail: "no sign-in is waiting for this code (expired, finished, or never shown)".into(),
    }
}

/// Cross-device login, step 1: who is asking, before the citizen approves.
#[utoipa::path(get, path = "/v1/citizen/qr-login", tag = "citizen", params(QrQuery), security(("session" = [])),
    responses((status = 200, body = crate::oidc::interaction::QrLogin),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn qr_login_describe(
    state: State,
    _s: CitizenSession,
    q: web::Query<QrQuery>,
) -> Result<HttpResponse, ApiError> {
    match crate::oidc::interaction::qr_describe(&state.services, &q.qr).await? {
        Some(found) => Ok(HttpResponse::Ok().json(found)),
        None => Err(qr_unknown()),
    }
}

/// Cross-device login, step 2: the app approves with its passcode or a live face capture (the
/// session proves the bound device); the browser showing the QR continues by itself, signed in
/// with `swk` plus `pin` and/or `face`.
#[utoipa::path(post, path = "/v1/citizen/qr-login", tag = "citizen", request_body = QrApproval, security(("session" = [])),
    responses((status = 200, description = "Approved"),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn qr_login_approve(
    state: State,
    s: CitizenSession,
    body: web::Json<QrApproval>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut account = s.account;
    let factors = session::ApprovalFactors {
        passcode: body.passcode,
        face_capture: body.face_capture,
    };
    let methods =
        session::approval_methods(&state.services, &s.session, &mut account, &factors).await?;
    if crate::oidc::interaction::qr_approve(&state.services, &body.qr, &account, methods).await? {
        Ok(HttpResponse::Ok().json(json!({ "status": "approved" })))
    } else {
        Err(qr_unknown())
    }
}

/// The consents given to relying parties at OpenID Connect logins, by client id.
#[utoipa::path(get, path = "/v1/citizen/consents", tag = "citizen", security(("session" = [])),
    responses((status = 200, body = std::collections::BTreeMap<String, crate::oidc::consent::Consent>)))]
pub async fn consents(state: State, s: CitizenSession) -> Result<HttpResponse, ApiError> {
    let all = crate::oidc::consent::list(&state.services, &s.account.personal_id).await?;
    Ok(HttpResponse::Ok().json(all))
}

/// Withdraw the consent given to a relying party: its next login asks again.
#[utoipa::path(delete, path = "/v1/citizen/consents/{client_id}", tag = "citizen", security(("session" = [])),
    responses((status = 204, description = "Withdrawn"), (status = 404, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn withdraw_consent(
    state: State,
    s: CitizenSession,
    client_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let removed =
        crate::oidc::consent::withdraw(&state.services, &s.account.personal_id, &client_id).await?;
    if removed {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Lock the account: from now on every token of this citizen fails verification.
#[utoipa::path(post, path = "/v1/citizen/lock", tag = "citizen", security(("session" = [])),
    responses((status = 200, description = "Locked")))]
pub async fn lock(state: State, s: CitizenSession) -> Result<HttpResponse, ApiError> {
    crate::identity::lock::lock(&state.services, &s.account.personal_id, "citizen").await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "locked" })))
}

/// An active-authentication challenge for the citizen's own chip (level 2 from the app).
#[utoipa::path(post, path = "/v1/citizen/chip-challenge", tag = "citizen", security(("session" = [])),
    responses((status = 201, body = crate::chip::ChipChallenge)))]
pub async fn chip_challenge(state: State, s: CitizenSession) -> Result<HttpResponse, ApiError> {
    let c = state
        .services
        .chips
        .challenge(&level2::session_chip_requester(&s.session.sid))
        .await?;
    Ok(HttpResponse::Created().json(c))
}

/// Raise the account to level 2 from the app: own chip (passive + active) + live face.
#[utoipa::path(post, path = "/v1/citizen/level2", tag = "citizen", request_body = AppLevel2Request,
    security(("session" = [])), responses(
        (status = 200, body = Level2Done),
        (status = 400, description = "A chip or face check failed (its reason code)", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 403, description = "chip_not_yours or level2_in_person_only", body = crate::http::Problem, content_type = "application/problem+json"),
    ))]
pub async fn level2_from_app(
    state: State,
    s: CitizenSession,
    body: web::Json<AppLevel2Request>,
) -> Result<HttpResponse, ApiError> {
    let done =
        level2::enrol_from_app(&state.services, &s.session, &s.account, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(done))
}

/// Create a level-2 account with the activation code from an enrolment desk.
#[utoipa::path(post, path = "/v1/citizen/activations", tag = "citizen", request_body = Activation,
    responses((status = 201, description = "Activated"),
        (status = 400, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn activate(
    state: State,
    req: HttpRequest,
    body: web::Json<Activation>,
) -> Result<HttpResponse, ApiError> {
    crate::http::rate_limit::per_ip(&state, &req).await?;
    level2::activate(&state.services, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(json!({ "level": 2 })))
}

/// Start binding a new device: an OTP to the registry's phone and a chip challenge.
#[utoipa::path(post, path = "/v1/citizen/device-change", tag = "citizen", request_body = StartDeviceChange,
    responses((status = 202, body = DeviceChangeStarted)))]
pub async fn start_device_change(
    state: State,
    req: HttpRequest,
    body: web::Json<StartDeviceChange>,
) -> Result<HttpResponse, ApiError> {
    crate::http::rate_limit::per_ip(&state, &req).await?;
    let started = device_change::start(&state.services, body.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(started))
}

/// Complete the device change: password + OTP (+ chip read for level 2). Old sessions end.
#[utoipa::path(post, path = "/v1/citizen/device-change/{change_id}/complete", tag = "citizen",
    request_body = CompleteDeviceChange, responses(
        (status = 200, body = DeviceChanged),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json"),
    ))]
pub async fn complete_device_change(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<CompleteDeviceChange>,
) -> Result<HttpResponse, ApiError> {
    crate::http::rate_limit::per_ip(&state, &req).await?;
    let done =
        device_change::complete(&state.services, &path.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(done))
}

/// Requests from relying parties' kiosks (CIBA) waiting for this citizen, newest first: who asks,
/// the text the kiosk shows (`binding_message`), what approving releases, any transaction, and
/// what the approval needs.
#[utoipa::path(get, path = "/v1/citizen/approvals", tag = "citizen", security(("session" = [])),
    responses((status = 200, body = Vec<ciba::PendingApproval>)))]
pub async fn pending_approvals(state: State, s: CitizenSession) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ciba::pending(&state.services, &s.session.personal_id).await?))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalAnswer {
    pub answer: ciba::Answer,
    /// For `approve`: the passcode, a live face capture (answering the session's liveness
    /// challenge), or both, as the request requires.
    #[schema(value_type = Option<String>)]
    pub passcode: Option<secrecy::SecretString>,
    pub face_capture: Option<crate::biometrics::liveness::Capture>,
}

/// Approve or deny a kiosk's request. Approving checks the factors first; a request of another
/// citizen is not found.
#[utoipa::path(post, path = "/v1/citizen/approvals/{request_id}", tag = "citizen", request_body = ApprovalAnswer, security(("session" = [])),
    responses((status = 200, description = "Answered"),
        (status = 401, description = "passcode_invalid", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 403, description = "step_up_required", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_answered", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn answer_approval(
    state: State,
    s: CitizenSession,
    path: web::Path<String>,
    body: web::Json<ApprovalAnswer>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut account = s.account;
    let methods = match body.answer {
        ciba::Answer::Deny => None,
        ciba::Answer::Approve => {
            let factors = session::ApprovalFactors {
                passcode: body.passcode,
                face_capture: body.face_capture,
            };
            Some(
                session::approval_methods(&state.services, &s.session, &mut account, &factors)
                    .await?,
            )
        }
    };
    ciba::answer(
        &state.services,
        &account.personal_id,
        &path.into_inner(),
        body.answer,
        methods,
    )
    .await?;
    let status = match body.answer {
        ciba::Answer::Approve => "approved",
        ciba::Answer::Deny => "denied",
    };
    Ok(HttpResponse::Ok().json(json!({ "status": status })))
}

/// A one-time login hint for a kiosk to scan (`login_hint_token` of a CIBA request), so the
/// citizen need not tell the desk their personal id. Lives two minutes.
#[utoipa::path(post, path = "/v1/citizen/login-hint", tag = "citizen", security(("session" = [])),
    responses((status = 201, description = "`{login_hint_token, expires_in}`")))]
pub async fn login_hint(state: State, s: CitizenSession) -> Result<HttpResponse, ApiError> {
    let token = ciba::issue_login_hint_token(&state.services, &s.session.personal_id).await?;
    Ok(HttpResponse::Created().json(json!({
        "login_hint_token": token,
        "expires_in": ciba::LOGIN_HINT_TOKEN_TTL.as_secs(),
    })))
}
