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
