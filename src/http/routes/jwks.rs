//! The JWK Set (fixed path `/.well-known/jwks.json`).

use actix_web::HttpResponse;
use actix_web::http::header;

use crate::http::State;
use crate::tokens::jwk::JwkSet;

/// The public keys tokens are signed with: the active key, the next key (published before it
/// signs) and retired keys still needed to verify unexpired tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "tokens", responses((status = 200, body = JwkSet, content_type = "application/jwk-set+json", description = "The signing keys: active, next and retired")))]
pub async fn jwks(state: State) -> HttpResponse {
    let keyring = state.services.keyring.load();
    let max_age = state.services.settings.keys.jwks_max_age_secs;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={max_age}")))
        .content_type("application/jwk-set+json")
        .json(keyring.jwks())
}
