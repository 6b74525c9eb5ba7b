//! The OpenID provider's HTTP surface: discovery, authorization (with PAR), the login and
//! consent pages, token, userinfo, introspection, revocation and logout. Thin: parse, call one
//! `crate::oidc` use case, answer with a 303, a page, or RFC 6749 JSON.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use secrecy::SecretString;
use serde_json::json;

use crate::http::guard::{OAuthClient, OAuthRejection, form_params, needs};
use crate::http::{ApiError, AppState, State};
use crate::oidc::authorize::{self, AuthorizeError};
use crate::oidc::claims::release;
use crate::oidc::interaction::{self, InteractionError, Next, Step};
use crate::oidc::{
    OAuthError, PAR_TTL, Params, discovery, dpop, introspection, logout, token, userinfo,
    web_session,
};

mod backchannel;
mod pages;
mod registration;

pub use backchannel::*;
pub use pages::*;
pub use registration::*;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use discovery::*;
    cfg.service(
        web::resource("/.well-known/openid-configuration").route(web::get().to(configuration)),
    )
    .service(
        web::resource(AUTHORIZE_PATH)
            .route(web::get().to(authorize))
            .route(web::post().to(authorize_post)),
    )
    .service(web::resource(PAR_PATH).route(web::post().to(par)))
    .service(
        web::resource(crate::oidc::registration::REGISTRATION_PATH)
            .route(web::post().to(register_client)),
    )
    .service(
        web::resource("/oauth2/register/{client_id}")
            .route(web::get().to(read_client))
            .route(web::put().to(update_client))
            .route(web::delete().to(delete_client)),
    )
    .service(
        web::resource(BACKCHANNEL_AUTHENTICATION_PATH).route(web::post().to(backchannel_authorize)),
    )
    .service(web::resource("/oauth2/interaction/{id}").route(web::get().to(interaction_page)))
    .service(web::resource("/oauth2/interaction/{id}/login").route(web::post().to(login)))
    .service(web::resource("/oauth2/interaction/{id}/otp").route(web::post().to(otp)))
    .service(web::resource("/oauth2/interaction/{id}/consent").route(web::post().to(consent)))
    .service(web::resource("/oauth2/interaction/{id}/cancel").route(web::post().to(cancel)))
    .service(web::resource(TOKEN_PATH).route(web::post().to(token_endpoint)))
    .service(
        web::resource(USERINFO_PATH)
            .route(web::get().to(userinfo_get))
            .route(web::post().to(userinfo_post)),
    )
    .service(web::resource(INTROSPECTION_PATH).route(web::post().to(introspect)))
    .service(web::resource(REVOCATION_PATH).route(web::post().to(revoke)))
    .service(
        web::resource(LOGOUT_PATH)
            .route(web::get().to(logout_get))
            .route(web::post().to(logout_post)),
    )
    .service(web::resource("/oauth2/logout/confirm").route(web::post().to(logout_confirm)))
    .service(web::resource("/oauth2/interaction/{id}/qr-status").route(web::get().to(qr_status)))
    .service(web::resource("/static/eid.css").route(web::get().to(stylesheet)))
    .service(web::resource("/static/qr-login.js").route(web::get().to(qr_script)));
}

// ---------------------------------------------------------------------------------------------
// Answers

/// RFC 6749 §5.2 JSON (RFC 6750 §3 for the bearer-protected userinfo endpoint).
fn oauth_error(e: &OAuthError) -> HttpResponse {
    oauth_error_at(e, false)
}

/// `resource`: the error is for a protected resource (userinfo), which answers 401 with a
/// `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9449 §7.1).
fn oauth_error_at(e: &OAuthError, resource: bool) -> HttpResponse {
    let status = match e {
        OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        OAuthError::InvalidToken => StatusCode::UNAUTHORIZED,
        OAuthError::InvalidDpopProof(_) if resource => StatusCode::UNAUTHORIZED,
        OAuthError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        OAuthError::Signing(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let description = match e {
        OAuthError::Store(err) => {
            tracing::error!(%err, "store failure on an OAuth endpoint");
            "the gateway cannot reach its store; retry later".to_owned()
        }
        OAuthError::Signing(err) => {
            tracing::error!(%err, "cannot sign a token");
            "internal error".to_owned()
        }
        other => other.to_string(),
    };
    let mut res = no_store(HttpResponse::build(status));
    match e {
        OAuthError::InvalidClient => {
            res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"eid-gateway\""));
        }
        OAuthError::InvalidToken => {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                "Bearer error=\"invalid_token\", error_description=\"the access token is not valid\", DPoP algs=\"EdDSA Ed25519 ES256\"",
            ));
        }
        OAuthError::InvalidDpopProof(_) if resource => {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                "DPoP error=\"invalid_dpop_proof\", algs=\"EdDSA Ed25519 ES256\"",
            ));
        }
        OAuthError::RateLimited { retry_after_secs } => {
            res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        OAuthError::Store(_) => {
            res.insert_header((header::RETRY_AFTER, "5"));
        }
        _ => {}
    }
    res.json(json!({ "error": e.code(), "error_description": description }))
}

impl actix_web::ResponseError for OAuthRejection {
    fn status_code(&self) -> StatusCode {
        oauth_error(&self.0).status()
    }

    fn error_response(&self) -> HttpResponse {
        oauth_error(&self.0)
    }
}

fn no_store(mut b: HttpResponseBuilder) -> HttpResponseBuilder {
    b.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    b
}

/// 303: after a form POST the browser must GET the next page (RFC 9700 §4.12).
fn see_other(location: &str) -> HttpResponseBuilder {
    let mut b = no_store(HttpResponse::SeeOther());
    b.insert_header((header::LOCATION, location.to_owned()));
    b
}

/// The browser cookies (sign-in flow, single sign-on). Over https they are `__Host-` cookies —
/// `Secure`, host-only, path `/` — which no other site or subdomain can set. A dev gateway on
/// plain http (loopback) cannot use those: browsers allow `Secure` cookies on loopback, but
/// scripted clients' cookie jars (Python's `requests`, `httpx`) never send them over http, so
/// a scripted login would lose its flow on the second page. There the cookies go without the
/// prefix and without `Secure`; production refuses an http issuer anyway.
fn cookie_name(state: &AppState, base: &str) -> String {
    if secure_cookies(state) {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

fn secure_cookies(state: &AppState) -> bool {
    state.services.issuer().starts_with("https://")
}

fn host_cookie(state: &AppState, base: &str, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(cookie_name(state, base), value)
        .path("/")
        .secure(secure_cookies(state))
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

// ---------------------------------------------------------------------------------------------
// Parsing

fn cookie_value(state: &AppState, req: &HttpRequest, base: &str) -> Option<String> {
    req.cookie(&cookie_name(state, base))
        .map(|c| c.value().to_owned())
}

// ---------------------------------------------------------------------------------------------
// Discovery and authorization

/// OpenID Provider metadata.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "openid connect",
    responses((status = 200, description = "OpenID Provider metadata")))]
pub async fn configuration(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(discovery::metadata(state.services.issuer()))
}
