//! The OpenID provider's HTTP surface: discovery, authorization (with PAR), the login and
//! consent pages, token, userinfo, introspection, revocation and logout. Thin: parse, call one
//! `crate::oidc` use case, answer with a 303, a page, or RFC 6749 JSON.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use secrecy::SecretString;
use serde_json::json;

use crate::http::extractors::{authenticate, credentials_from};
use crate::http::{ApiError, State};
use crate::oidc::authorize::{self, AuthorizeError};
use crate::oidc::claims::describe;
use crate::oidc::interaction::{self, InteractionError, Next, Step};
use crate::oidc::{
    OAuthError, PAR_TTL, Params, discovery, dpop, introspection, logout, token, userinfo,
    web_session,
};
use crate::relying_parties::{ClientCredentials, RelyingParty};

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
    .service(web::resource("/oauth2/interaction/{id}").route(web::get().to(interaction_page)))
    .service(web::resource("/oauth2/interaction/{id}/login").route(web::post().to(login)))
    .service(web::resource("/oauth2/interaction/{id}/otp").route(web::post().to(otp)))
    .service(web::resource("/oauth2/interaction/{id}/consent").route(web::post().to(consent)))
    .service(web::resource(TOKEN_PATH).route(web::post().to(token_endpoint)))
    .service(
        web::resource(USERINFO_PATH)
            .route(web::get().to(userinfo_endpoint))
            .route(web::post().to(userinfo_endpoint)),
    )
    .service(web::resource(INTROSPECTION_PATH).route(web::post().to(introspect)))
    .service(web::resource(REVOCATION_PATH).route(web::post().to(revoke)))
    .service(
        web::resource(LOGOUT_PATH)
            .route(web::get().to(logout_get))
            .route(web::post().to(logout_post)),
    )
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
                "Bearer error=\"invalid_token\", error_description=\"the access token is not valid\", DPoP algs=\"EdDSA ES256\"",
            ));
        }
        OAuthError::InvalidDpopProof(_) if resource => {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                "DPoP error=\"invalid_dpop_proof\", algs=\"EdDSA ES256\"",
            ));
        }
        _ => {}
    }
    res.json(json!({ "error": e.code(), "error_description": description }))
}

fn no_store(mut b: HttpResponseBuilder) -> HttpResponseBuilder {
    b.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    b
}

/// Headers for every page: no framing, no caching, no referrer, a tight CSP.
fn page_response(status: StatusCode) -> HttpResponseBuilder {
    let mut b = no_store(HttpResponse::build(status));
    b.content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    b
}

#[derive(Template)]
#[template(path = "oidc/message.html")]
struct MessagePage<'a> {
    heading: &'a str,
    code: Option<&'a str>,
    detail: &'a str,
}

fn message(status: StatusCode, heading: &str, code: Option<&str>, detail: &str) -> HttpResponse {
    let body = MessagePage {
        heading,
        code,
        detail,
    }
    .render()
    .unwrap_or_else(|_| detail.to_owned());
    page_response(status).body(body)
}

fn unavailable() -> HttpResponse {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        Some("temporarily_unavailable"),
        "The identity service cannot complete this right now. Please try again in a moment.",
    )
}

/// 303: after a form POST the browser must GET the next page (RFC 9700 §4.12).
fn see_other(location: &str) -> HttpResponseBuilder {
    let mut b = no_store(HttpResponse::SeeOther());
    b.insert_header((header::LOCATION, location.to_owned()));
    b
}

fn host_cookie(name: &str, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(name.to_owned(), value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

// ---------------------------------------------------------------------------------------------
// Parsing

fn form_params(body: &[u8]) -> Result<Params, OAuthError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
    Params::parse(text).map_err(OAuthError::InvalidRequest)
}

fn require_form(req: &HttpRequest) -> Result<(), OAuthError> {
    let ok = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ))
    }
}

/// Client authentication on the OAuth endpoints: HTTP Basic, or an RFC 7523 assertion in the
/// form (`client_assertion_type` + `client_assertion`). Exactly one method.
async fn authenticated_client(
    state: &State,
    req: &HttpRequest,
    p: &Params,
) -> Result<RelyingParty, OAuthError> {
    let header = req.headers().contains_key(header::AUTHORIZATION);
    let assertion = p.get("client_assertion");
    let credentials = match (header, assertion) {
        (true, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        (true, None) => credentials_from(req).map_err(|_| OAuthError::InvalidClient)?,
        (false, Some(jwt)) => {
            if p.get("client_assertion_type")
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return Err(OAuthError::invalid_request(
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
            }
            ClientCredentials::Assertion {
                jwt: jwt.to_owned(),
            }
        }
        (false, None) => return Err(OAuthError::InvalidClient),
    };
    match authenticate(state, credentials).await {
        Ok(rp) => Ok(rp),
        Err(ApiError::StoreUnavailable(e)) => Err(OAuthError::Store(e)),
        Err(_) => Err(OAuthError::InvalidClient),
    }
}

/// A client call to a back-channel endpoint (PAR, token, introspection, revocation): a form
/// body, and the client authenticated by it or by the `Authorization` header.
async fn authenticated_form(
    state: &State,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(RelyingParty, Params), OAuthError> {
    require_form(req)?;
    let p = form_params(body)?;
    let rp = authenticated_client(state, req, &p).await?;
    Ok((rp, p))
}

fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name).map(|c| c.value().to_owned())
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

/// The authorization endpoint (code flow only; PKCE S256 required; PAR `request_uri` accepted).
#[utoipa::path(get, path = "/oauth2/authorize", tag = "openid connect",
    responses((status = 303, description = "To the login page, or back to the client with a code or an error"),
        (status = 400, description = "Unknown client or unregistered redirect URI: an error page, no redirect")))]
pub async fn authorize(state: State, req: HttpRequest) -> HttpResponse {
    match Params::parse(req.query_string()) {
        Ok(p) => authorize_with(&state, &req, p).await,
        Err(detail) => message(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            Some("invalid_request"),
            &detail,
        ),
    }
}

/// The authorization endpoint by form POST (OpenID Connect Core §3.1.2.1).
pub async fn authorize_post(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    match form_params(&body) {
        Ok(p) => authorize_with(&state, &req, p).await,
        Err(e) => message(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            Some("invalid_request"),
            &e.to_string(),
        ),
    }
}

async fn authorize_with(state: &State, req: &HttpRequest, p: Params) -> HttpResponse {
    let services = &state.services;
    let rp = match p.get("client_id").map(crate::domain::ClientId::parse) {
        Some(Ok(id)) => match services.relying_parties.get(&id).await {
            Ok(Some(rp)) => rp,
            Ok(None) => return unknown_client(),
            Err(_) => return unavailable(),
        },
        _ => return unknown_client(),
    };
    let result = match authorize::resolve(services, &rp, &p).await {
        Ok(request) => {
            let sso = cookie_value(req, web_session::COOKIE);
            interaction::begin(services, &rp, request, sso.as_deref()).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok((Next::Client(url), _)) => see_other(&url).finish(),
        Ok((Next::Page(id), browser)) => {
            let mut res = see_other(&format!("/oauth2/interaction/{id}"));
            if let Some(b) = browser {
                let ttl = crate::oidc::INTERACTION_TTL.as_secs() as i64;
                res.cookie(host_cookie(interaction::BROWSER_COOKIE, b, ttl));
            }
            res.finish()
        }
        Err(AuthorizeError::Redirect(e)) => {
            see_other(&interaction::error_url(services, &e)).finish()
        }
        Err(AuthorizeError::Page { error, detail }) => message(
            StatusCode::BAD_REQUEST,
            "Cannot sign in",
            Some(error),
            &detail,
        ),
        Err(AuthorizeError::Store(err)) => {
            tracing::error!(%err, "store failure at the authorization endpoint");
            unavailable()
        }
    }
}

fn unknown_client() -> HttpResponse {
    message(
        StatusCode::BAD_REQUEST,
        "Cannot sign in",
        Some("invalid_client"),
        "The service that sent you here is not registered with the identity gateway.",
    )
}

/// Pushed authorization requests (RFC 9126).
#[utoipa::path(post, path = "/oauth2/par", tag = "openid connect",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The authorization request parameters"),
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 201, description = "`{request_uri, expires_in}`"),
        (status = 400, description = "RFC 6749 error JSON"), (status = 401, description = "invalid_client")))]
pub async fn par(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let result = async {
        let (rp, p) = authenticated_form(&state, &req, &body).await?;
        authorize::push(&state.services, &rp, &p).await
    }
    .await;
    match result {
        Ok(request_uri) => no_store(HttpResponse::Created())
            .json(json!({ "request_uri": request_uri, "expires_in": PAR_TTL.as_secs() })),
        Err(e) => oauth_error(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// Login and consent pages

#[derive(Template)]
#[template(path = "oidc/interaction.html")]
struct InteractionPage<'a> {
    rp_name: &'a str,
    qr_svg: String,
    qr_text: String,
    base: String,
    csrf: &'a str,
    step: &'a str,
    error: Option<String>,
    hint: String,
    phone: String,
    scopes: Vec<&'static str>,
}

fn interaction_error(e: InteractionError) -> HttpResponse {
    match e {
        InteractionError::Gone => message(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            Some("interaction_gone"),
            &e.to_string(),
        ),
        InteractionError::Csrf => message(
            StatusCode::FORBIDDEN,
            "Request refused",
            Some("csrf_invalid"),
            &e.to_string(),
        ),
        InteractionError::Store(err) => {
            tracing::error!(%err, "store failure on a login page");
            unavailable()
        }
        InteractionError::Hash(err) => {
            tracing::error!(%err, "password hashing failed");
            unavailable()
        }
    }
}

fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
        Err(_) => String::new(),
    }
}

/// Whether the app approved the sign-in shown as a QR code (the page's script polls this).
pub async fn qr_status(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let cookie = cookie_value(&req, interaction::BROWSER_COOKIE);
    let i = match interaction::load(&state.services, &path, cookie.as_deref()).await {
        Ok(i) => i,
        Err(InteractionError::Store(_)) => return unavailable(),
        Err(_) => return no_store(HttpResponse::NotFound()).json(json!({ "approved": false })),
    };
    match interaction::qr_approved(&state.services, &i).await {
        Ok(approved) => no_store(HttpResponse::Ok()).json(json!({ "approved": approved })),
        Err(_) => unavailable(),
    }
}

/// The current step of a sign-in: login, OTP or consent.
pub async fn interaction_page(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let cookie = cookie_value(&req, interaction::BROWSER_COOKIE);
    let services = &state.services;
    let loaded = match interaction::load(services, &path, cookie.as_deref()).await {
        Ok(i) => i,
        Err(e) => return interaction_error(e),
    };
    // Signed in from the app meanwhile (cross-device QR login)?
    let rp = match services
        .relying_parties
        .get(&loaded.request.client_id)
        .await
    {
        Ok(Some(rp)) => rp,
        Ok(None) => return unknown_client(),
        Err(_) => return unavailable(),
    };
    match interaction::poll_qr(services, &rp, &loaded).await {
        Ok(Some((next, sso))) => {
            let ttl = web_session::TTL.as_secs() as i64;
            return go(next)
                .cookie(host_cookie(web_session::COOKIE, sso, ttl))
                .finish();
        }
        Ok(None) => {}
        Err(e) => return interaction_error(e),
    }
    let (i, step, error) = match interaction::step(services, loaded).await {
        Ok(x) => x,
        Err(e) => return interaction_error(e),
    };
    let name = rp.name.clone();
    let qr_text = format!("{}{}", interaction::QR_PREFIX, i.qr);
    let (kind, hint, phone, scopes) = match step {
        Step::Login { hint } => ("login", hint.unwrap_or_default(), String::new(), vec![]),
        Step::Otp { phone } => ("otp", String::new(), phone, vec![]),
        Step::Consent { scopes } => (
            "consent",
            String::new(),
            String::new(),
            scopes.into_iter().map(describe).collect(),
        ),
    };
    let page = InteractionPage {
        rp_name: &name,
        qr_svg: qr_svg(&qr_text),
        qr_text: qr_text.clone(),
        base: format!("/oauth2/interaction/{}", i.id),
        csrf: &i.csrf,
        step: kind,
        error,
        hint,
        phone,
        scopes,
    };
    match page.render() {
        Ok(body) => page_response(StatusCode::OK).body(body),
        Err(err) => {
            tracing::error!(%err, "cannot render the sign-in page");
            unavailable()
        }
    }
}

/// The per-IP limit on the credential forms (password, OTP), as on the app's login.
async fn ip_limited(state: &State, req: &HttpRequest) -> Result<(), HttpResponse> {
    match crate::http::rate_limit::per_ip(state, req).await {
        Ok(()) => Ok(()),
        Err(ApiError::RateLimited { retry_after_secs }) => {
            let mut res = message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                Some("rate_limited"),
                "Too many sign-in attempts from this network. Wait a minute and try again.",
            );
            if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Err(res)
        }
        Err(_) => Err(unavailable()),
    }
}

/// Loads the interaction for a form POST: this browser's, with a valid CSRF token.
async fn posted(
    state: &State,
    req: &HttpRequest,
    id: &str,
    body: &[u8],
) -> Result<(interaction::Interaction, Params), HttpResponse> {
    let p = form_params(body).map_err(|e| {
        message(
            StatusCode::BAD_REQUEST,
            "Invalid form",
            Some("invalid_request"),
            &e.to_string(),
        )
    })?;
    let cookie = cookie_value(req, interaction::BROWSER_COOKIE);
    let i = interaction::load(&state.services, id, cookie.as_deref())
        .await
        .map_err(interaction_error)?;
    interaction::check_csrf(&i, p.get("csrf_token")).map_err(interaction_error)?;
    Ok((i, p))
}

fn go(next: Next) -> HttpResponseBuilder {
    match next {
        Next::Page(id) => see_other(&format!("/oauth2/interaction/{id}")),
        Next::Client(url) => see_other(&url),
    }
}

pub async fn login(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = ip_limited(&state, &req).await {
        return res;
    }
    let (i, p) = match posted(&state, &req, &path, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let password = SecretString::from(p.get("password").unwrap_or_default().to_owned());
    let id = p.get("personal_id").unwrap_or_default();
    match interaction::login(&state.services, i, id, &password).await {
        Ok(next) => go(next).finish(),
        Err(e) => interaction_error(e),
    }
}

pub async fn otp(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = ip_limited(&state, &req).await {
        return res;
    }
    let (i, p) = match posted(&state, &req, &path, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let rp = match state
        .services
        .relying_parties
        .get(&i.request.client_id)
        .await
    {
        Ok(Some(rp)) => rp,
        Ok(None) => return unknown_client(),
        Err(_) => return unavailable(),
    };
    let code = p.get("otp").unwrap_or_default();
    match interaction::otp(&state.services, &rp, i, code).await {
        Ok((next, sso)) => {
            let mut res = go(next);
            if let Some(sso) = sso {
                let ttl = web_session::TTL.as_secs() as i64;
                res.cookie(host_cookie(web_session::COOKIE, sso, ttl));
            }
            res.finish()
        }
        Err(e) => interaction_error(e),
    }
}

pub async fn consent(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (i, p) = match posted(&state, &req, &path, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let allow = match p.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "Invalid form",
                Some("invalid_request"),
                "decision must be allow or deny",
            );
        }
    };
    match interaction::decide(&state.services, i, allow).await {
        Ok(next) => go(next).finish(),
        Err(e) => interaction_error(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Token, userinfo, introspection, revocation

/// The token endpoint: `authorization_code` (with `code_verifier`) and `refresh_token`.
#[utoipa::path(post, path = "/oauth2/token", tag = "openid connect",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "grant_type=authorization_code (code, redirect_uri, code_verifier) or refresh_token"),
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 200, body = crate::oidc::grants::TokenResponse),
        (status = 400, description = "RFC 6749 error JSON"), (status = 401, description = "invalid_client")))]
pub async fn token_endpoint(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let result = async {
        let (rp, p) = authenticated_form(&state, &req, &body).await?;
        let dpop_jkt = dpop_proof(&state, &req, discovery::TOKEN_PATH, None).await?;
        token::exchange(&state.services, &rp, &p, dpop_jkt).await
    }
    .await;
    match result {
        Ok(tokens) => no_store(HttpResponse::Ok()).json(tokens),
        Err(e) => oauth_error(&e),
    }
}

/// Checks the request's `DPoP` proof, if it has one (exactly one), and returns its key's
/// thumbprint.
async fn dpop_proof(
    state: &State,
    req: &HttpRequest,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let mut proofs = req.headers().get_all("dpop");
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(OAuthError::InvalidDpopProof("send one DPoP proof".into()));
    }
    let proof = proof
        .to_str()
        .map_err(|_| OAuthError::InvalidDpopProof("the DPoP header is not text".into()))?;
    let url = format!("{}{path}", state.services.issuer());
    let ctx = dpop::ProofContext {
        method: req.method().as_str(),
        url: &url,
        access_token,
    };
    Ok(Some(dpop::verify(&state.services, proof, &ctx).await?))
}

/// The access token of a request: `Authorization: Bearer …` or `DPoP …` (`true` for DPoP), or
/// an `access_token` form field.
fn access_token(req: &HttpRequest, body: Option<&Params>) -> Option<(String, bool)> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '));
    match header {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => {
            Some((t.trim().to_owned(), false))
        }
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("dpop") => {
            Some((t.trim().to_owned(), true))
        }
        Some(_) => None,
        None => body
            .and_then(|p| p.get("access_token"))
            .map(|t| (t.to_owned(), false)),
    }
}

/// Userinfo (OpenID Connect Core §5.3) for a valid access token.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "openid connect", request_body(content = Option<String>, content_type = "application/x-www-form-urlencoded", description = "optional: access_token=… instead of the header"), security(("access_token" = [])),
    responses((status = 200, description = "The claims of the granted scopes"),
        (status = 401, description = "invalid_token")))]
pub async fn userinfo_endpoint(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = if body.is_empty() {
        None
    } else {
        form_params(&body).ok()
    };
    let Some((token, dpop_scheme)) = access_token(&req, form.as_ref()) else {
        return oauth_error_at(&OAuthError::InvalidToken, true);
    };
    let jkt = match dpop_proof(&state, &req, discovery::USERINFO_PATH, Some(&token)).await {
        Ok(jkt) => jkt,
        Err(e) => return oauth_error_at(&e, true),
    };
    // The DPoP scheme needs a proof, and a proof needs the DPoP scheme.
    if dpop_scheme != jkt.is_some() {
        return oauth_error_at(&OAuthError::InvalidToken, true);
    }
    match userinfo::userinfo(&state.services, &token, jkt.as_deref()).await {
        Ok(claims) => no_store(HttpResponse::Ok()).json(claims),
        Err(e) => oauth_error_at(&e, true),
    }
}

/// Token introspection (RFC 7662) for the authenticated client's own tokens.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "openid connect",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "token=…"),
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 200, description = "`{active: true, …}` or `{active: false}`"),
        (status = 401, description = "invalid_client")))]
pub async fn introspect(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let result = async {
        let (rp, p) = authenticated_form(&state, &req, &body).await?;
        let token = p.require("token").map_err(OAuthError::InvalidRequest)?;
        Ok::<_, OAuthError>(introspection::introspect(&state.services, &rp, token).await?)
    }
    .await;
    match result {
        Ok(answer) => no_store(HttpResponse::Ok()).json(answer),
        Err(e) => oauth_error(&e),
    }
}

/// Token revocation (RFC 7009). Always `200` for a well-formed request.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "openid connect",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "token=…"),
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 200, description = "Revoked, or nothing to revoke"),
        (status = 401, description = "invalid_client")))]
pub async fn revoke(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let result = async {
        let (rp, p) = authenticated_form(&state, &req, &body).await?;
        let token = p.require("token").map_err(OAuthError::InvalidRequest)?;
        Ok::<_, OAuthError>(introspection::revoke(&state.services, &rp, token).await?)
    }
    .await;
    match result {
        Ok(()) => no_store(HttpResponse::Ok()).finish(),
        Err(e) => oauth_error(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// Logout

/// RP-initiated logout: ends the browser session; returns only to a registered URI.
#[utoipa::path(get, path = "/oauth2/logout", tag = "openid connect",
    responses((status = 303, description = "To the registered post_logout_redirect_uri"),
        (status = 200, description = "Signed out (no registered return address)")))]
pub async fn logout_get(state: State, req: HttpRequest) -> HttpResponse {
    let p = Params::parse(req.query_string()).unwrap_or_default();
    logout_with(&state, &req, p).await
}

pub async fn logout_post(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let p = form_params(&body).unwrap_or_default();
    logout_with(&state, &req, p).await
}

async fn logout_with(state: &State, req: &HttpRequest, p: Params) -> HttpResponse {
    if let Some(sso) = cookie_value(req, web_session::COOKIE)
        && let Err(err) = web_session::end(&state.services, &sso).await
    {
        tracing::error!(%err, "cannot end a browser session");
        return unavailable();
    }
    let expired = host_cookie(web_session::COOKIE, String::new(), 0);
    match logout::return_to(&state.services, &p).await {
        Some(url) => see_other(&url).cookie(expired).finish(),
        None => {
            let mut res = message(
                StatusCode::OK,
                "Signed out",
                None,
                "You are signed out of the identity gateway. You can close this window.",
            );
            if let Err(err) = res.add_cookie(&expired) {
                tracing::warn!(%err, "cannot clear the session cookie");
            }
            res
        }
    }
}

pub async fn qr_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../../static/qr-login.js"))
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../../static/eid.css"))
}
