//! The operator (enrolment officer) API, authenticated by operator credentials from
//! configuration. Every action is audited with the operator's id.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::domain::PersonalId;
use crate::http::extractors::AuthenticatedOperator;
use crate::http::{ApiError, State};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/accounts/{personal_id}/lock").route(web::post().to(lock_account)));
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
