//! The operator API for relying parties: register, read, list, change, disable, rotate the
//! secret, replace the public key — and initial access tokens for dynamic registration in
//! production. Kept in the store, so every instance sees a change; every change is audited.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::http::extractors::AuthenticatedOperator;
use crate::http::{ApiError, State};
use crate::relying_parties::management::{self, ManagementError, RegistrationRequest};
use crate::relying_parties::{
    ClaimName, ClientAuthentication, IdTokenAlg, Permission, RegisteredKey, RegistrationSource,
    RelyingParty, StepUpRule,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/relying-parties")
            .route(web::get().to(list))
            .route(web::post().to(register)),
    )
    .service(
        web::resource("/relying-parties/{client_id}")
            .route(web::get().to(show))
            .route(web::put().to(update)),
    )
    .service(web::resource("/relying-parties/{client_id}/disable").route(web::post().to(disable)))
    .service(web::resource("/relying-parties/{client_id}/enable").route(web::post().to(enable)))
    .service(
        web::resource("/relying-parties/{client_id}/rotate-secret")
            .route(web::post().to(rotate_secret)),
    )
    .service(
        web::resource("/relying-parties/{client_id}/public-key").route(web::put().to(replace_key)),
    )
    .service(web::resource("/initial-access-tokens").route(web::post().to(initial_access_token)));
}

impl From<ManagementError> for ApiError {
    fn from(e: ManagementError) -> Self {
        let outcome = |status, code, detail: String| ApiError::Outcome {
            status,
            code,
            detail,
        };
        match e {
            ManagementError::NotFound(_) => ApiError::NotFound,
            e @ ManagementError::Taken(_) => outcome(409, "client_id_taken", e.to_string()),
            e @ ManagementError::FromFile(_) => outcome(409, "registered_in_file", e.to_string()),
            e @ ManagementError::NoSecret(_) => outcome(409, "no_client_secret", e.to_string()),
            ManagementError::Invalid(detail) => {
                ApiError::bad_request("invalid_registration", detail)
            }
            ManagementError::Store(s) => s.into(),
        }
    }
}

/// A registration as the operator sees it: everything but credential digests.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistrationView {
    pub client_id: String,
    pub name: String,
    pub sector: String,
    /// `client_secret_basic` or `private_key_jwt`.
    pub authentication_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub public_key: Option<RegisteredKey>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    #[schema(value_type = Vec<String>)]
    pub permissions: BTreeSet<Permission>,
    pub min_level: u8,
    pub min_auth_level: u8,
    #[schema(value_type = Vec<String>)]
    pub allowed_claims: BTreeSet<ClaimName>,
    pub age_over: BTreeSet<u8>,
    #[schema(value_type = String)]
    pub id_token_signed_response_alg: IdTokenAlg,
    pub rate_quota_per_minute: u32,
    pub match_records_per_minute: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiosk_public_key: Option<String>,
    pub step_up: Vec<StepUpRule>,
    pub sandbox: bool,
    pub disabled: bool,
    pub source: RegistrationSource,
    pub client_id_issued_at: i64,
    /// Only when it was just generated: shown once, kept only as its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl RegistrationView {
    pub fn of(rp: RelyingParty) -> Self {
        let (authentication_method, public_key) = match rp.authentication {
            ClientAuthentication::ClientSecretBasic { .. } => ("client_secret_basic", None),
            ClientAuthentication::PrivateKeyJwt { public_key } => {
                ("private_key_jwt", Some(public_key))
            }
        };
        Self {
            client_id: rp.client_id.to_string(),
            name: rp.name,
            sector: rp.sector,
            authentication_method: authentication_method.into(),
            public_key,
            redirect_uris: rp.redirect_uris,
            post_logout_redirect_uris: rp.post_logout_redirect_uris,
            permissions: rp.permissions,
            min_level: rp.min_level.into(),
            min_auth_level: rp.min_auth_level.into(),
            allowed_claims: rp.allowed_claims,
            age_over: rp.age_over,
            id_token_signed_response_alg: rp.id_token_signed_response_alg,
            rate_quota_per_minute: rp.rate_quota_per_minute,
            match_records_per_minute: rp.match_records_per_minute,
            kiosk_public_key: rp.kiosk_public_key,
            step_up: rp.step_up,
            sandbox: rp.sandbox,
            disabled: rp.disabled,
            source: rp.source,
            client_id_issued_at: rp.client_id_issued_at,
            client_secret: None,
        }
    }
}

fn actor(operator: &str) -> String {
    format!("operator:{operator}")
}

/// Register a relying party. Without a `public_key` it gets a generated secret
/// (`client_secret_basic`), shown in this answer only.
#[utoipa::path(post, path = "/v1/operator/relying-parties", tag = "operator",
    request_body = RegistrationRequest, security(("operator_basic" = [])),
    responses((status = 201, body = RegistrationView),
        (status = 400, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "client_id_taken", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn register(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    body: web::Json<RegistrationRequest>,
) -> Result<HttpResponse, ApiError> {
    let issued = management::create(
        &state.services,
        &actor(&operator),
        RegistrationSource::Operator,
        body.into_inner(),
    )
    .await?;
    let mut view = RegistrationView::of(issued.registration);
    view.client_secret = issued
        .client_secret
        .as_ref()
        .map(|s| management::reveal(s).to_owned());
    Ok(HttpResponse::Created().json(view))
}

/// Every registration: the file's, the operator's and dynamic ones.
#[utoipa::path(get, path = "/v1/operator/relying-parties", tag = "operator",
    security(("operator_basic" = [])),
    responses((status = 200, body = Vec<RegistrationView>),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn list(
    state: State,
    _operator: AuthenticatedOperator,
) -> Result<HttpResponse, ApiError> {
    let all: Vec<RegistrationView> = state
        .services
        .relying_parties
        .list()
        .await?
        .into_iter()
        .map(RegistrationView::of)
        .collect();
    Ok(HttpResponse::Ok().json(all))
}

/// One registration.
#[utoipa::path(get, path = "/v1/operator/relying-parties/{client_id}", tag = "operator",
    security(("operator_basic" = [])),
    responses((status = 200, body = RegistrationView),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn show(
    state: State,
    _operator: AuthenticatedOperator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rp = management::show(&state.services, &path).await?;
    Ok(HttpResponse::Ok().json(RegistrationView::of(rp)))
}

/// Replace what a registration says (its credentials stay). Registrations of the file are
/// changed in the file.
#[utoipa::path(put, path = "/v1/operator/relying-parties/{client_id}", tag = "operator",
    request_body = RegistrationRequest, security(("operator_basic" = [])),
    responses((status = 200, body = RegistrationView),
        (status = 400, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "registered_in_file", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn update(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    path: web::Path<String>,
    body: web::Json<RegistrationRequest>,
) -> Result<HttpResponse, ApiError> {
    let rp =
        management::update(&state.services, &actor(&operator), &path, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(RegistrationView::of(rp)))
}

/// Disable a client: it cannot authenticate on any instance from now on.
#[utoipa::path(post, path = "/v1/operator/relying-parties/{client_id}/disable", tag = "operator",
    security(("operator_basic" = [])),
    responses((status = 200, body = RegistrationView),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn disable(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rp = management::set_disabled(&state.services, &actor(&operator), &path, true).await?;
    Ok(HttpResponse::Ok().json(RegistrationView::of(rp)))
}

/// Enable a disabled client again.
#[utoipa::path(post, path = "/v1/operator/relying-parties/{client_id}/enable", tag = "operator",
    security(("operator_basic" = [])),
    responses((status = 200, body = RegistrationView),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "registered_in_file", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn enable(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rp = management::set_disabled(&state.services, &actor(&operator), &path, false).await?;
    Ok(HttpResponse::Ok().json(RegistrationView::of(rp)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewSecret {
    pub client_id: String,
    /// Shown once; the previous secret no longer works.
    pub client_secret: String,
}

/// A new client secret; the old one stops working at once.
#[utoipa::path(post, path = "/v1/operator/relying-parties/{client_id}/rotate-secret", tag = "operator",
    security(("operator_basic" = [])),
    responses((status = 200, body = NewSecret),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "no_client_secret or registered_in_file", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn rotate_secret(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let secret = management::rotate_secret(&state.services, &actor(&operator), &path).await?;
    Ok(HttpResponse::Ok().json(NewSecret {
        client_id: path.into_inner(),
        client_secret: management::reveal(&secret).to_owned(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyRequest {
    /// An Ed25519 public key (base64url) or a public JWK (Ed25519 or P-256).
    #[schema(value_type = Object)]
    pub public_key: RegisteredKey,
}

/// Replace the client's public key (it authenticates with `private_key_jwt` from now on).
#[utoipa::path(put, path = "/v1/operator/relying-parties/{client_id}/public-key", tag = "operator",
    request_body = PublicKeyRequest, security(("operator_basic" = [])),
    responses((status = 200, body = RegistrationView),
        (status = 400, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "registered_in_file", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn replace_key(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    path: web::Path<String>,
    body: web::Json<PublicKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let rp = management::replace_key(
        &state.services,
        &actor(&operator),
        &path,
        body.into_inner().public_key,
    )
    .await?;
    Ok(HttpResponse::Ok().json(RegistrationView::of(rp)))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitialAccessTokenRequest {
    /// Seconds (default a day, at most 30 days).
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 60, maximum = 2_592_000)]
    pub expires_in: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InitialAccessToken {
    pub initial_access_token: String,
    pub expires_in: u64,
}

/// An initial access token (RFC 7591 §3): lets one client register itself at
/// `/oauth2/register` (required in production). Single use, shown once.
#[utoipa::path(post, path = "/v1/operator/initial-access-tokens", tag = "operator",
    request_body(content = Option<InitialAccessTokenRequest>, description = "Optional: without a body the token lasts a day"), security(("operator_basic" = [])),
    responses((status = 201, body = InitialAccessToken),
        (status = 400, body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn initial_access_token(
    state: State,
    AuthenticatedOperator(operator): AuthenticatedOperator,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // No body means the defaults; a body must be the request (a malformed one is refused, not
    // taken for none).
    let asked: InitialAccessTokenRequest = if body.is_empty() {
        InitialAccessTokenRequest::default()
    } else {
        serde_json::from_slice::<Option<InitialAccessTokenRequest>>(&body)
            .map_err(|e| ApiError::bad_request("malformed_body", e.to_string()))?
            .unwrap_or_default()
    };
    let secs = asked
        .expires_in
        .unwrap_or(management::INITIAL_ACCESS_TOKEN_TTL.as_secs());
    if !(60..=30 * 86_400).contains(&secs) {
        return Err(ApiError::bad_request(
            "invalid_expires_in",
            "expires_in is between 60 seconds and 30 days",
        ));
    }
    let token = management::issue_initial_access_token(
        &state.services,
        &actor(&operator),
        std::time::Duration::from_secs(secs),
    )
    .await?;
    Ok(HttpResponse::Created().json(InitialAccessToken {
        initial_access_token: management::reveal(&token).to_owned(),
        expires_in: secs,
    }))
}
