//! Sandbox endpoints, mounted only in dev mode.

use actix_web::HttpResponse;

use crate::http::{ApiError, State};
use crate::population::Persona;

/// Ready-made synthetic citizens for relying-party developers (dev mode only; absent in
/// production).
#[utoipa::path(get, path = "/dev/personas", tag = "sandbox", responses(
    (status = 200, body = Vec<Persona>),
    (status = 404, description = "Production mode", body = crate::http::Problem, content_type = "application/problem+json"),
))]
pub async fn personas(state: State) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.services.registry.personas().await?))
}

/// The chip image of a ready-made persona's card (sandbox only: it holds the simulated chip's
/// private key). `eidgw sim persona ROLE` puts it into the wallet.
#[utoipa::path(get, path = "/dev/personas/{role}/card", tag = "sandbox", responses(
    (status = 200, description = "The chip image"),
    (status = 404, description = "No such persona, a persona without a card, or production mode", body = crate::http::Problem, content_type = "application/problem+json"),
))]
pub async fn persona_card(
    state: State,
    role: actix_web::web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match crate::identity::sandbox::card(&state.services, &role).await? {
        Some(image) => Ok(HttpResponse::Ok().json(image)),
        None => Err(ApiError::NotFound),
    }
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct SmsQuery {
    /// The phone number whose messages to show.
    pub phone: String,
}

/// The simulated SMS outbox (dev mode only; absent in production).
#[utoipa::path(get, path = "/dev/sms", tag = "sandbox", params(SmsQuery), responses(
    (status = 200, body = Vec<crate::sms::SmsMessage>),
    (status = 404, description = "Production mode", body = crate::http::Problem, content_type = "application/problem+json"),
))]
pub async fn sms(
    state: State,
    q: actix_web::web::Query<SmsQuery>,
) -> Result<HttpResponse, ApiError> {
    let phone = crate::domain::PhoneNumber::parse(&q.phone)
        .map_err(|e| ApiError::bad_request("invalid_phone", e.to_string()))?;
    Ok(HttpResponse::Ok().json(state.services.sms.messages(&phone, 20).await?))
}
