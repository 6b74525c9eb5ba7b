//! The browser side: the authorization endpoint, the login, OTP and consent pages (and the QR
//! login's status), RP-initiated logout, and the pages' static files.

use super::*;

/// The authorization endpoint (code flow only; PKCE S256 required; PAR `request_uri` accepted).
#[utoipa::path(get, path = "/oauth2/authorize", tag = "openid connect",
    params(
        ("client_id" = String, Query, description = "The registered client"),
        ("redirect_uri" = Option<String>, Query, description = "Exactly one of the client's registered redirect URIs"),
        ("response_type" = Option<String>, Query, description = "`code`"),
        ("scope" = Option<String>, Query, description = "`openid` and the scopes of the claims asked for"),
        ("state" = Option<String>, Query), ("nonce" = Option<String>, Query),
        ("code_challenge" = Option<String>, Query, description = "PKCE S256 challenge (required)"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256`"),
        ("request_uri" = Option<String>, Query, description = "From POST /oauth2/par, instead of the other parameters"),
        ("prompt" = Option<String>, Query, description = "`none`, `login` or `consent`"),
        ("max_age" = Option<u32>, Query), ("login_hint" = Option<String>, Query, description = "Pre-fills the personal ID number"),
        ("acr_values" = Option<String>, Query, description = "`urn:vn:eid:level:1` or `urn:vn:eid:level:2`"),
        ("authorization_details" = Option<String>, Query, description = "RFC 9396 JSON array: a transaction to approve"),
    ),
    responses((status = 303, description = "To the login page, or back to the client with a code or an error"),
        (status = 400, description = "Unknown client or unregistered redirect URI: an error page, no redirect")))]
pub async fn authorize(state: State, req: HttpRequest) -> HttpResponse {
    match Params::parse(req.query_string()) {
        Ok(p) => authorize_with(&state, &req, p).await,
        Err(detail) => message(
            &state,
            StatusCode::BAD_REQUEST,
            "Invalid request",
            Some("invalid_request"),
            &detail,
        ),
    }
}

/// The authorization endpoint by form POST (OpenID Connect Core §3.1.2.1).
#[utoipa::path(post, path = "/oauth2/authorize", tag = "openid connect",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The parameters of GET /oauth2/authorize, as a form"),
    responses((status = 303, description = "To the login page, or back to the client with a code or an error"),
        (status = 400, description = "Unknown client, unregistered redirect URI or an unreadable form: an error page, no redirect")))]
pub async fn authorize_post(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    match form_params(&body) {
        Ok(p) => authorize_with(&state, &req, p).await,
        Err(e) => message(
            &state,
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
            Ok(None) => return unknown_client(state),
            Err(_) => return unavailable(state),
        },
        _ => return unknown_client(state),
    };
    let result = match authorize::resolve(services, &rp, &p).await {
        Ok(request) => {
            let sso = cookie_value(state, req, web_session::COOKIE);
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
                res.cookie(host_cookie(state, interaction::BROWSER_COOKIE, b, ttl));
            }
            res.finish()
        }
        Err(AuthorizeError::Redirect(e)) => {
            see_other(&interaction::error_url(services, &e)).finish()
        }
        Err(AuthorizeError::Page { error, detail }) => message(
            state,
            StatusCode::BAD_REQUEST,
            "Cannot sign in",
            Some(error),
            &detail,
        ),
        Err(AuthorizeError::Store(err)) => {
            tracing::error!(%err, "store failure at the authorization endpoint");
            unavailable(state)
        }
    }
}

fn unknown_client(state: &AppState) -> HttpResponse {
    message(
        state,
        StatusCode::BAD_REQUEST,
        "Cannot sign in",
        Some("invalid_client"),
        "The service that sent you here is not registered with the identity gateway.",
    )
}

// ---------------------------------------------------------------------------------------------
// Login and consent pages

#[derive(Template)]
#[template(path = "oidc/interaction.html")]
struct InteractionPage<'a> {
    /// Dev mode: the sandbox banner and helpers below.
    sandbox: bool,
    rp_name: &'a str,
    qr_svg: String,
    qr_text: String,
    base: String,
    csrf: &'a str,
    step: &'a str,
    error: Option<String>,
    hint: String,
    phone: String,
    /// Exactly what allowing releases (the same computation that fills the tokens).
    claims: Vec<ReleasedClaim>,
    transactions: Vec<String>,
    /// Sandbox only: the ready-made personas to sign in as, and the picked one's password.
    personas: Vec<PersonaChoice>,
    persona_password: Option<&'static str>,
    /// Sandbox only: where the simulated SMS can be read.
    sms_outbox: Option<String>,
}

/// A ready-made sandbox account on the persona picker.
struct PersonaChoice {
    role: String,
    name: String,
    ready_for: String,
    picked: bool,
}

/// The persona picker (dev mode only, as Singpass's mock login and MockPass offer): every
/// ready-made account, and the personal id of the one picked with `?persona=ROLE`.
async fn persona_choices(
    state: &AppState,
    picked: Option<&str>,
) -> Result<(Vec<PersonaChoice>, Option<String>), crate::store::StoreError> {
    let mut hint = None;
    let choices = state
        .services
        .registry
        .personas()
        .await?
        .into_iter()
        .filter(|p| p.credentials.is_some())
        .map(|p| {
            let is_picked = picked == Some(p.role.as_str());
            if is_picked {
                hint = Some(p.personal_id.clone());
            }
            PersonaChoice {
                role: p.role,
                name: p.full_name,
                ready_for: p.ready_for,
                picked: is_picked,
            }
        })
        .collect();
    Ok((choices, hint))
}

fn interaction_error(state: &AppState, e: InteractionError) -> HttpResponse {
    match e {
        InteractionError::Gone => message(
            state,
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            Some("interaction_gone"),
            &e.to_string(),
        ),
        InteractionError::Csrf => message(
            state,
            StatusCode::FORBIDDEN,
            "Request refused",
            Some("csrf_invalid"),
            &e.to_string(),
        ),
        InteractionError::Store(err) => {
            tracing::error!(%err, "store failure on a login page");
            unavailable(state)
        }
        InteractionError::Hash(err) => {
            tracing::error!(%err, "password hashing failed");
            unavailable(state)
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
    let cookie = cookie_value(&state, &req, interaction::BROWSER_COOKIE);
    let i = match interaction::load(&state.services, &path, cookie.as_deref()).await {
        Ok(i) => i,
        Err(InteractionError::Store(_)) => return unavailable(&state),
        Err(_) => return no_store(HttpResponse::NotFound()).json(json!({ "approved": false })),
    };
    match interaction::qr_approved(&state.services, &i).await {
        Ok(approved) => no_store(HttpResponse::Ok()).json(json!({ "approved": approved })),
        Err(_) => unavailable(&state),
    }
}

/// The current step of a sign-in: login, OTP or consent.
pub async fn interaction_page(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let sandbox = state.services.settings.is_dev();
    let cookie = cookie_value(&state, &req, interaction::BROWSER_COOKIE);
    let services = &state.services;
    let loaded = match interaction::load(services, &path, cookie.as_deref()).await {
        Ok(i) => i,
        Err(e) => return interaction_error(&state, e),
    };
    // Signed in from the app meanwhile (cross-device QR login)?
    let rp = match services
        .relying_parties
        .get(&loaded.request.client_id)
        .await
    {
        Ok(Some(rp)) => rp,
        Ok(None) => return unknown_client(&state),
        Err(_) => return unavailable(&state),
    };
    match interaction::poll_qr(services, &rp, &loaded).await {
        Ok(Some((next, sso))) => {
            let ttl = web_session::TTL.as_secs() as i64;
            return go(next)
                .cookie(host_cookie(&state, web_session::COOKIE, sso, ttl))
                .finish();
        }
        Ok(None) => {}
        Err(e) => return interaction_error(&state, e),
    }
    let (i, step, error) = match interaction::step(services, loaded).await {
        Ok(x) => x,
        Err(e) => return interaction_error(&state, e),
    };
    let name = rp.name.clone();
    let qr_text = format!("{}{}", interaction::QR_PREFIX, i.qr);
    let mut personas = Vec::new();
    let mut persona_password = None;
    let mut sms_outbox = None;
    let (kind, hint, phone, scopes, transactions) = match step {
        Step::Login { hint } => {
            let mut hint = hint.unwrap_or_default();
            if sandbox {
                let picked = Params::parse(req.query_string()).unwrap_or_default();
                match persona_choices(&state, picked.get("persona")).await {
                    Ok((choices, Some(id))) => {
                        personas = choices;
                        hint = id;
                        persona_password = Some(crate::identity::sandbox::PASSWORD);
                    }
                    Ok((choices, None)) => personas = choices,
                    Err(err) => {
                        tracing::error!(%err, "cannot read the sandbox personas");
                        return unavailable(&state);
                    }
                }
            }
            ("login", hint, String::new(), vec![], vec![])
        }
        Step::Otp { phone } => {
            // Sandbox people are synthetic: their whole number, and where their SMS lands.
            let shown = match &phone {
                Some(p) if sandbox => {
                    sms_outbox = Some(format!("/dev/sms?phone={}", p.as_str()));
                    p.as_str().to_owned()
                }
                Some(p) => p.masked(),
                None => String::new(),
            };
            ("otp", String::new(), shown, vec![], vec![])
        }
        Step::Consent {
            scopes,
            transactions,
        } => (
            "consent",
            String::new(),
            String::new(),
            release(&rp, &scopes.into_iter().collect()).shown(),
            transactions,
        ),
    };
    let page = InteractionPage {
        sandbox,
        rp_name: &name,
        qr_svg: qr_svg(&qr_text),
        qr_text: qr_text.clone(),
        base: format!("/oauth2/interaction/{}", i.id),
        csrf: &i.csrf,
        step: kind,
        error,
        hint,
        phone,
        claims: scopes,
        transactions,
        personas,
        persona_password,
        sms_outbox,
    };
    match page.render() {
        Ok(body) => page_response(StatusCode::OK).body(body),
        Err(err) => {
            tracing::error!(%err, "cannot render the sign-in page");
            unavailable(&state)
        }
    }
}

/// The per-IP limit on the credential forms (password, OTP), as on the app's login.
async fn ip_limited(state: &State, req: &HttpRequest) -> Result<(), HttpResponse> {
    match crate::http::rate_limit::per_ip(state, req).await {
        Ok(()) => Ok(()),
        Err(ApiError::RateLimited { retry_after_secs }) => {
            let mut res = message(
                state,
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
        Err(_) => Err(unavailable(state)),
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
            state,
            StatusCode::BAD_REQUEST,
            "Invalid form",
            Some("invalid_request"),
            &e.to_string(),
        )
    })?;
    let cookie = cookie_value(state, req, interaction::BROWSER_COOKIE);
    let i = interaction::load(&state.services, id, cookie.as_deref())
        .await
        .map_err(|e| interaction_error(state, e))?;
    interaction::check_csrf(&i, p.get("csrf_token")).map_err(|e| interaction_error(state, e))?;
    Ok((i, p))
}

/// A credential form (password, OTP): rate-limited per IP, then loaded like any other form.
async fn posted_credentials(
    state: &State,
    req: &HttpRequest,
    id: &str,
    body: &[u8],
) -> Result<(interaction::Interaction, Params), HttpResponse> {
    ip_limited(state, req).await?;
    posted(state, req, id, body).await
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
    let (i, p) = match posted_credentials(&state, &req, &path, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let password = SecretString::from(p.get("password").unwrap_or_default().to_owned());
    let id = p.get("personal_id").unwrap_or_default();
    match interaction::login(&state.services, i, id, &password).await {
        Ok(next) => go(next).finish(),
        Err(e) => interaction_error(&state, e),
    }
}

pub async fn otp(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (i, p) = match posted_credentials(&state, &req, &path, &body).await {
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
        Ok(None) => return unknown_client(&state),
        Err(_) => return unavailable(&state),
    };
    let code = p.get("otp").unwrap_or_default();
    match interaction::otp(&state.services, &rp, i, code).await {
        Ok((next, sso)) => {
            let mut res = go(next);
            if let Some(sso) = sso {
                let ttl = web_session::TTL.as_secs() as i64;
                res.cookie(host_cookie(&state, web_session::COOKIE, sso, ttl));
            }
            res.finish()
        }
        Err(e) => interaction_error(&state, e),
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
                &state,
                StatusCode::BAD_REQUEST,
                "Invalid form",
                Some("invalid_request"),
                "decision must be allow or deny",
            );
        }
    };
    match interaction::decide(&state.services, i, allow).await {
        Ok(next) => go(next).finish(),
        Err(e) => interaction_error(&state, e),
    }
}

/// "Cancel" on any step: back to the relying party with `access_denied`.
pub async fn cancel(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (i, _) = match posted(&state, &req, &path, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match interaction::cancel(&state.services, i).await {
        Ok(next) => go(next).finish(),
        Err(e) => interaction_error(&state, e),
    }
}

// ---------------------------------------------------------------------------------------------
// Logout

/// RP-initiated logout: with a valid `id_token_hint`, ends the browser session and returns only
/// to a registered URI; without one, asks the citizen to confirm first.
#[utoipa::path(get, path = "/oauth2/logout", tag = "openid connect",
    params(
        ("id_token_hint" = Option<String>, Query, description = "An ID token this gateway issued to the client (EdDSA or RS256)"),
        ("post_logout_redirect_uri" = Option<String>, Query, description = "One of the client's registered post_logout_redirect_uris"),
        ("client_id" = Option<String>, Query), ("state" = Option<String>, Query),
    ),
    responses((status = 303, description = "To the registered post_logout_redirect_uri"),
        (status = 200, description = "Signed out (no registered return address), or — without a valid id_token_hint — a page asking the citizen to confirm")))]
pub async fn logout_get(state: State, req: HttpRequest) -> HttpResponse {
    let p = Params::parse(req.query_string()).unwrap_or_default();
    logout_with(&state, &req, p).await
}

#[utoipa::path(post, path = "/oauth2/logout", tag = "openid connect",
    request_body(content = Option<String>, content_type = "application/x-www-form-urlencoded", description = "The parameters of GET /oauth2/logout, as a form (all optional)"),
    responses((status = 303, description = "To the registered post_logout_redirect_uri"),
        (status = 200, description = "Signed out, or a page asking the citizen to confirm")))]
pub async fn logout_post(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let p = form_params(&body).unwrap_or_default();
    logout_with(&state, &req, p).await
}

#[derive(Template)]
#[template(path = "oidc/logout.html")]
struct LogoutPage<'a> {
    sandbox: bool,
    rp_name: Option<String>,
    csrf: String,
    carried: Vec<(&'a str, &'a str)>,
}

async fn logout_with(state: &State, req: &HttpRequest, p: Params) -> HttpResponse {
    let hinted = p
        .get("id_token_hint")
        .is_some_and(|t| logout::hinted_client(&state.services, t).is_some());
    match cookie_value(state, req, web_session::COOKIE) {
        // A session, and nothing proves the relying party asked: the citizen decides.
        Some(sso) if !hinted => {
            let rp_name = match p.get("client_id").map(crate::domain::ClientId::parse) {
                Some(Ok(id)) => match state.services.relying_parties.get(&id).await {
                    Ok(rp) => rp.map(|rp| rp.name),
                    Err(_) => return unavailable(state),
                },
                _ => None,
            };
            let carried = logout::CARRIED
                .iter()
                .filter_map(|k| p.get(k).map(|v| (*k, v)))
                .collect();
            let page = LogoutPage {
                sandbox: state.services.settings.is_dev(),
                rp_name,
                csrf: logout::confirmation_token(&sso),
                carried,
            };
            match page.render() {
                Ok(body) => page_response(StatusCode::OK).body(body),
                Err(err) => {
                    tracing::error!(%err, "cannot render the logout page");
                    unavailable(state)
                }
            }
        }
        _ => signed_out(state, req, &p).await,
    }
}

/// The citizen confirmed the logout on our page (its token is bound to this browser's session).
pub async fn logout_confirm(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let p = form_params(&body).unwrap_or_default();
    let confirmed = match (
        cookie_value(&state, &req, web_session::COOKIE),
        p.get("csrf_token"),
    ) {
        (Some(sso), Some(token)) => logout::confirmed(&sso, token),
        // No session left to end: nothing to protect.
        (None, _) => true,
        (Some(_), None) => false,
    };
    if !confirmed {
        return message(
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-out not confirmed",
            Some("invalid_request"),
            "This sign-out form is not from this browser. You are still signed in.",
        );
    }
    signed_out(&state, &req, &p).await
}

/// Ends the browser session and says so, or returns to the client's registered address.
async fn signed_out(state: &State, req: &HttpRequest, p: &Params) -> HttpResponse {
    if let Some(sso) = cookie_value(state, req, web_session::COOKIE)
        && let Err(err) = web_session::end(&state.services, &sso).await
    {
        tracing::error!(%err, "cannot end a browser session");
        return unavailable(state);
    }
    let expired = host_cookie(state, web_session::COOKIE, String::new(), 0);
    match logout::return_to(&state.services, p).await {
        Some(url) => see_other(&url).cookie(expired).finish(),
        None => {
            let mut res = message(
                state,
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
        .body(include_str!("../../../../static/qr-login.js"))
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../../../static/eid.css"))
}
