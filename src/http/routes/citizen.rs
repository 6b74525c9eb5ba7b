//! The citizen's app API: registration, login, step-up, presentations, history, lock.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::biometrics::liveness::LivenessChallenge;
use crate::http::extractors::CitizenSession;
use crate::http::{ApiError, State};
use crate::identity::history::{self, UsageEntry};
use crate::identity::presentation::{self, PresentationIssued, PresentationRequest};
use crate::identity::registration::{
    self, CompleteRegistration, Registered, RegistrationStarted, StartRegistration,
};
use crate::identity::session::{self, LoginChallenge, LoginRequest, SessionIssued, StepUpRequest};

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
        .service(web::resource("/lock").route(web::post().to(lock)));
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

/// Lock the account: from now on every token of this citizen fails verification.
#[utoipa::path(post, path = "/v1/citizen/lock", tag = "citizen", security(("session" = [])),
    responses((status = 200, description = "Locked")))]
pub async fn lock(state: State, s: CitizenSession) -> Result<HttpResponse, ApiError> {
    crate::identity::lock::lock(&state.services, &s.account.personal_id, "citizen").await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "locked" })))
}
