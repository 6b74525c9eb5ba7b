//! The chip verification API for relying parties with an NFC reader (SPEC §5.2).

use actix_web::{HttpResponse, web};

use crate::http::guard::{Authorized, needs};
use crate::http::{ApiError, State};
use crate::identity::chip_check::{self, ChipVerifyRequest, ChipVerifyResponse};
use crate::relying_parties::RelyingParty;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/challenge").route(web::post().to(challenge)))
        .service(web::resource("/liveness-challenge").route(web::post().to(liveness_challenge)))
        .service(web::resource("/verify").route(web::post().to(verify)));
}

/// An active-authentication challenge (32 random bytes, single use, 60 s) bound to this client.
#[utoipa::path(post, path = "/v1/chip/challenge", tag = "relying parties",
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 201, body = crate::chip::ChipChallenge),
        (status = 403, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 429, description = "The client's quota for this minute is spent", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn challenge(
    state: State,
    client: Authorized<needs::ChipVerify>,
) -> Result<HttpResponse, ApiError> {
    let rp = client.rp;
    let c = state
        .services
        .chips
        .challenge(&chip_check::client_requester(&rp))
        .await?;
    Ok(HttpResponse::Created().json(c))
}

/// A liveness challenge for a face capture by this client's registered kiosk.
#[utoipa::path(post, path = "/v1/chip/liveness-challenge", tag = "relying parties",
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 201, body = crate::biometrics::liveness::LivenessChallenge),
        (status = 429, description = "The client's quota for this minute is spent", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn liveness_challenge(
    state: State,
    client: Authorized<needs::ChipVerify>,
) -> Result<HttpResponse, ApiError> {
    kiosk_liveness_challenge(&state, &client.rp).await
}

/// A liveness challenge bound to this client, for a capture its kiosk signs (chip API, match).
pub async fn kiosk_liveness_challenge(
    state: &State,
    rp: &RelyingParty,
) -> Result<HttpResponse, ApiError> {
    let c = state
        .services
        .liveness
        .challenge(&chip_check::client_requester(rp))
        .await
        .map_err(crate::identity::IdentityError::from)?;
    Ok(HttpResponse::Created().json(c))
}

/// Verify a chip read (passive + active authentication) and optionally a live face from the
/// kiosk. `200` with `authentic` true or false and reason codes; `400` for a malformed read.
#[utoipa::path(post, path = "/v1/chip/verify", tag = "relying parties", request_body = ChipVerifyRequest,
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses(
        (status = 200, body = ChipVerifyResponse),
        (status = 400, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 429, description = "The client's quota for this minute is spent", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn verify(
    state: State,
    client: Authorized<needs::ChipVerify, web::Json<ChipVerifyRequest>>,
) -> Result<HttpResponse, ApiError> {
    let answer = chip_check::verify(&state.services, &client.rp, client.body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(answer))
}
