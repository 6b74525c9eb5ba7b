//! `POST /v1/verify` (fixed path): relying parties validate presentation tokens.

use actix_web::{HttpResponse, web};

use crate::http::extractors::AuthenticatedRp;
use crate::http::{ApiError, State};
use crate::identity::verification::{self, VerifyRequest, VerifyResponse};
use crate::relying_parties::Permission;

/// Verify a presentation token. Always `200` with `valid` true or false and a reason code;
/// `401` if the relying party's own authentication fails; `400` for a malformed body.
#[utoipa::path(post, path = "/v1/verify", tag = "relying parties", request_body = VerifyRequest,
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses(
        (status = 200, body = VerifyResponse),
        (status = 400, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the verify permission", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 429, body = crate::http::Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify(
    state: State,
    AuthenticatedRp(rp): AuthenticatedRp,
    body: web::Json<VerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    if !rp.may(Permission::Verify) {
        return Err(ApiError::Forbidden(
            "this client lacks the `verify` permission",
        ));
    }
    crate::http::rate_limit::per_client(&state, &rp).await?;
    let answer = verification::verify(&state.services, &rp, &body).await?;
    Ok(HttpResponse::Ok().json(answer))
}
