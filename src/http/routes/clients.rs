//! A relying party's view of its own registration: lets RP developers check their credentials.

use std::collections::BTreeSet;

use actix_web::HttpResponse;
use serde::Serialize;

use crate::http::guard::{Authorized, needs};
use crate::relying_parties::{ClaimName, Permission, StepUpRule};

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientRegistration {
    pub client_id: String,
    pub name: String,
    pub sector: String,
    /// `client_secret_basic` or `private_key_jwt`.
    pub authentication_method: &'static str,
    pub redirect_uris: Vec<String>,
    pub allowed_claims: BTreeSet<ClaimName>,
    pub min_level: u8,
    pub min_auth_level: u8,
    pub step_up: Vec<StepUpRule>,
    pub permissions: BTreeSet<Permission>,
    pub rate_quota_per_minute: u32,
}

/// The authenticated relying party's registration (never its credentials).
#[utoipa::path(get, path = "/v1/clients/me", tag = "relying parties",
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses(
        (status = 200, body = ClientRegistration),
        (status = 401, description = "Client authentication failed", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 429, description = "The client's quota for this minute is spent", body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unreachable", body = crate::http::Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(client: Authorized<needs::AnyClient>) -> HttpResponse {
    let rp = client.rp;
    use crate::relying_parties::ClientAuthentication as A;
    HttpResponse::Ok().json(ClientRegistration {
        authentication_method: match rp.authentication {
            A::ClientSecretBasic { .. } => "client_secret_basic",
            A::PrivateKeyJwt { .. } => "private_key_jwt",
        },
        client_id: rp.client_id.to_string(),
        name: rp.name,
        sector: rp.sector,
        redirect_uris: rp.redirect_uris,
        allowed_claims: rp.allowed_claims,
        min_level: rp.min_level.into(),
        min_auth_level: rp.min_auth_level.into(),
        step_up: rp.step_up,
        permissions: rp.permissions,
        rate_quota_per_minute: rp.rate_quota_per_minute,
    })
}
