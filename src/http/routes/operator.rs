//! The operator (enrolment officer) API, authenticated by operator credentials from
//! configuration. Every action is audited with the operator's id.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::domain::PersonalId;
use crate::http::extractors::AuthenticatedOperator;
use crate::http::{ApiError, State};
use crate::identity::cards::{self, IssueCardRequest};
use crate::identity::level2::{self, EnrolmentOutcome, InPersonEnrolment};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/accounts/{personal_id}/lock").route(web::post().to(lock_account)))
        .service(web::resource("/cards").route(web::post().to(issue_card)))
        .service(web::resource("/cards/{card_number}/revoke").route(web::post().to(revoke_card)))
        .service(web::resource("/chip-challenge").route(web::post().to(chip_challenge)))
        .service(web::resource("/liveness-challenge").route(web::post().to(liveness_challenge)))
        .service(web::resource("/enrolments").route(web::post().to(enrol)))
        .service(web::resource("/audit").route(web::get().to(audit_check)))
        .configure(super::relying_parties::configure);
}

/// Recompute the audit log's hash chain and check it reaches the checkpoint this gateway keeps
/// outside it (`eidgw audit verify --gateway URL`: the check of a store a running gateway holds
/// open).
#[utoipa::path(get, path = "/v1/operator/audit", tag = "operator",
    security(("operator_basic" = [])),
    responses(
        (status = 200, body = crate::audit::ChainReport, description = "Intact, or where the chain stops holding"),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json"),
    ))]
pub async fn audit_check(
    state: State,
    AuthenticatedOperator(_operator): AuthenticatedOperator,
) -> Result<HttpResponse, ApiError> {
    let s = &state.services;
    let report = crate::audit::check(s.store.as_ref(), &s.settings.store.data_dir).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Lock a citizen's account (lost phone, fraud report): every token of theirs fails from now on.
#[utoipa::path(post, path = "/v1/operator/accounts/{personal_id}/lock", tag = "operator",
    security(("operator_basic" = [])),
    responses(
        (status = 200, description = "Locked"),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json"),
    ))]
pub async fn lock_account(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = PersonalId::parse(&path.into_inner())
        .map_err(|e| ApiError::bad_request("invalid_personal_id", e.to_string()))?;
    if crate::identity::lock::lock(&state.services, &id, &format!("operator:{operator}")).await? {
        Ok(HttpResponse::Ok().json(json!({ "status": "locked" })))
    } else {
        Err(ApiError::NotFound)
    }
}

/// Issue a chip ID card for a registry person (optionally with a test defect). The answer is the
/// chip image, including the chip's private key: this is the simulator's card printer.
#[utoipa::path(post, path = "/v1/operator/cards", tag = "operator", request_body = IssueCardRequest,
    security(("operator_basic" = [])),
    responses((status = 201, description = "The chip image"),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn issue_card(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    body: web::Json<IssueCardRequest>,
) -> Result<HttpResponse, ApiError> {
    let image = cards::issue(&state.services, &operator, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(image))
}

/// Revoke a card (reported lost): its chip fails with `card_revoked` from now on.
#[utoipa::path(post, path = "/v1/operator/cards/{card_number}/revoke", tag = "operator",
    security(("operator_basic" = [])),
    responses((status = 200, description = "Revoked"),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn revoke_card(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    cards::revoke(&state.services, &operator, &path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "revoked" })))
}

/// An active-authentication challenge for the desk's chip reader.
#[utoipa::path(post, path = "/v1/operator/chip-challenge", tag = "operator",
    security(("operator_basic" = [])), responses((status = 201, body = crate::chip::ChipChallenge)))]
pub async fn chip_challenge(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
) -> Result<HttpResponse, ApiError> {
    let c = state
        .services
        .chips
        .challenge(&level2::operator_requester(&operator))
        .await?;
    Ok(HttpResponse::Created().json(c))
}

/// A liveness challenge for the desk's kiosk camera.
#[utoipa::path(post, path = "/v1/operator/liveness-challenge", tag = "operator",
    security(("operator_basic" = [])),
    responses((status = 201, body = crate::biometrics::liveness::LivenessChallenge)))]
pub async fn liveness_challenge(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
) -> Result<HttpResponse, ApiError> {
    let c = state
        .services
        .liveness
        .challenge(&level2::operator_requester(&operator))
        .await
        .map_err(crate::identity::IdentityError::from)?;
    Ok(HttpResponse::Created().json(c))
}

/// Level 2 in person: chip read + kiosk face + both fingerprints. Upgrades the account, or
/// issues an activation code when the citizen has none.
#[utoipa::path(post, path = "/v1/operator/enrolments", tag = "operator", request_body = InPersonEnrolment,
    security(("operator_basic" = [])),
    responses((status = 200, body = EnrolmentOutcome),
        (status = 400, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn enrol(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    body: web::Json<InPersonEnrolment>,
) -> Result<HttpResponse, ApiError> {
    let outcome = level2::enrol_in_person(&state.services, &operator, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(outcome))
}
