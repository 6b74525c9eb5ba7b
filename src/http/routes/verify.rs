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
    // A nonce the relying party expects is one a presentation can carry (1 to 128 characters).
    if let Some(nonce) = &client.body.nonce
        && !(1..=128).contains(&nonce.len())
    {
        return Err(ApiError::bad_request(
            "invalid_nonce",
            "nonce must have 1 to 128 characters",
        ));
    }
    // The transaction the relying party names must be one a citizen could have approved.
    if let Some(details) = &client.body.authorization_details {
        crate::identity::transactions::validate(details)
            .map_err(|e| ApiError::bad_request("invalid_authorization_details", e.0))?;
    }
    let answer = verification::verify(&state.services, &client.rp, &client.body).await?;
    Ok(HttpResponse::Ok().json(answer))
}
