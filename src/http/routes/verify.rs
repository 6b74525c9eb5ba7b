//! `POST /v1/verify` (fixed path): relying parties validate presentation tokens.

use actix_web::{HttpResponse, web};

use crate::http::guard::{Authorized, needs};
use crate::http::{ApiError, State};
use crate::identity::verification::{self, VerifyRequest, VerifyResponse};

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
    client: Authorized<needs::Verify, web::Json<VerifyRequest>>,
) -> Result<HttpResponse, ApiError> {
    let answer = verification::verify(&state.services, &client.rp, &client.body).await?;
    Ok(HttpResponse::Ok().json(answer))
}
