//! Dynamic client registration (RFC 7591) at `/oauth2/register`, and each client's management
//! of its registration (RFC 7592) at `/oauth2/register/{client_id}` with its registration
//! access token. Errors are RFC 7591 JSON (`invalid_redirect_uri`, `invalid_client_metadata`),
//! or `401 invalid_token` for a missing or wrong token.

use super::*;
use crate::oidc::registration::{self, ClientInformation, ClientMetadata};

/// The bearer token of a request, if any.
fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
}

fn metadata(req: &HttpRequest, body: &[u8]) -> Result<ClientMetadata, OAuthError> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(OAuthError::InvalidClientMetadata(
            "client metadata is a JSON object (application/json)".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| OAuthError::InvalidClientMetadata(e.to_string()))
}

fn answered(status: StatusCode, info: &ClientInformation) -> HttpResponse {
    no_store(HttpResponse::build(status)).json(info)
}

/// Register a client (RFC 7591). Open in the sandbox (dev); in production only with an initial
/// access token an operator issued (`Authorization: Bearer …`).
#[utoipa::path(post, path = "/oauth2/register", tag = "openid connect",
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses((status = 201, body = ClientInformation),
        (status = 400, description = "RFC 7591 error JSON: invalid_redirect_uri, invalid_client_metadata"),
        (status = 401, description = "invalid_token: no or a wrong initial access token"),
        (status = 429, description = "Too many registrations from this address")))]
pub async fn register_client(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    // Open registration is counted per address, like citizen logins.
    match crate::http::rate_limit::per_ip(&state, &req).await {
        Ok(()) => {}
        Err(ApiError::RateLimited { retry_after_secs }) => {
            return oauth_error(&OAuthError::RateLimited { retry_after_secs });
        }
        Err(_) => {
            return oauth_error(&OAuthError::Store(crate::store::StoreError::Unavailable(
                "rate counter".into(),
            )));
        }
    }
    let result = async {
        let m = metadata(&req, &body)?;
        registration::register(&state.services, bearer(&req).as_deref(), m).await
    }
    .await;
    match result {
        Ok(info) => answered(StatusCode::CREATED, &info),
        Err(e) => oauth_error_at(&e, matches!(e, OAuthError::InvalidToken)),
    }
}

/// Read a client's registration (RFC 7592), with its registration access token.
#[utoipa::path(get, path = "/oauth2/register/{client_id}", tag = "openid connect",
    responses((status = 200, body = ClientInformation),
        (status = 401, description = "invalid_token")))]
pub async fn read_client(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some(token) = bearer(&req) else {
        return oauth_error_at(&OAuthError::InvalidToken, true);
    };
    match registration::read(&state.services, &path, &token).await {
        Ok(info) => answered(StatusCode::OK, &info),
        Err(e) => oauth_error_at(&e, true),
    }
}

/// Replace a client's metadata (RFC 7592); its id and credentials stay.
#[utoipa::path(put, path = "/oauth2/register/{client_id}", tag = "openid connect",
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses((status = 200, body = ClientInformation),
        (status = 400, description = "RFC 7591 error JSON"),
        (status = 401, description = "invalid_token")))]
pub async fn update_client(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(token) = bearer(&req) else {
        return oauth_error_at(&OAuthError::InvalidToken, true);
    };
    let result = async {
        let m = metadata(&req, &body)?;
        registration::update(&state.services, &path, &token, m).await
    }
    .await;
    match result {
        Ok(info) => answered(StatusCode::OK, &info),
        Err(e) => oauth_error_at(&e, matches!(e, OAuthError::InvalidToken)),
    }
}

/// Deregister a client (RFC 7592): it cannot authenticate from now on.
#[utoipa::path(delete, path = "/oauth2/register/{client_id}", tag = "openid connect",
    responses((status = 204, description = "Deregistered"),
        (status = 401, description = "invalid_token")))]
pub async fn delete_client(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let Some(token) = bearer(&req) else {
        return oauth_error_at(&OAuthError::InvalidToken, true);
    };
    match registration::delete(&state.services, &path, &token).await {
        Ok(()) => no_store(HttpResponse::NoContent()).finish(),
        Err(e) => oauth_error_at(&e, true),
    }
}
