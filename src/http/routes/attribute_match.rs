//! Attribute match for relying parties (SPEC §5.3): `POST /v1/match`.

use actix_web::{HttpResponse, web};

use crate::http::extractors::AuthenticatedRp;
use crate::http::{ApiError, State};
use crate::identity::attribute_match::{self, MatchRequest, MatchResult};
use crate::identity::chip_check;
use crate::relying_parties::{Permission, RelyingParty};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("").route(web::post().to(match_one)))
        .service(web::resource("/liveness-challenge").route(web::post().to(liveness_challenge)));
}

async fn permitted(state: &State, rp: &RelyingParty) -> Result<(), ApiError> {
    if !rp.may(Permission::Match) {
        return Err(ApiError::Forbidden(
            "this client lacks the `match` permission",
        ));
    }
    crate::http::rate_limit::per_client(state, rp).await
}

/// Does the registry agree with what the customer told you? `true`/`false` per field, never
/// the registry's values. Recorded in the citizen's usage history with your `purpose`.
#[utoipa::path(post, path = "/v1/match", tag = "relying parties", request_body = MatchRequest,
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses(
        (status = 200, body = MatchResult),
        (status = 400, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 429, body = crate::http::Problem, content_type = "application/problem+json"),
    ))]
pub async fn match_one(
    state: State,
    AuthenticatedRp(rp): AuthenticatedRp,
    body: web::Json<MatchRequest>,
) -> Result<HttpResponse, ApiError> {
    permitted(&state, &rp).await?;
    let result = attribute_match::match_one(&state.services, &rp, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// A liveness challenge for a face capture by this client's registered kiosk.
#[utoipa::path(post, path = "/v1/match/liveness-challenge", tag = "relying parties",
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 201, body = crate::biometrics::liveness::LivenessChallenge)))]
pub async fn liveness_challenge(
    state: State,
    AuthenticatedRp(rp): AuthenticatedRp,
) -> Result<HttpResponse, ApiError> {
    permitted(&state, &rp).await?;
    let c = state
        .services
        .liveness
        .challenge(&chip_check::client_requester(&rp))
        .await
        .map_err(crate::identity::IdentityError::from)?;
    Ok(HttpResponse::Created().json(c))
}
