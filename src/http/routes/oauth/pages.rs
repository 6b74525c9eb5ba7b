//! The browser side: the authorization endpoint, the login, OTP and consent pages (and the QR
//! login's status), RP-initiated logout, and the pages' static files.

use super::*;
use crate::http::html::PageContext;
use crate::i18n::{Texts, format};
use crate::identity::transactions::AuthorizationDetail;
use crate::oidc::interaction::SignedIn;

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
        Err(detail) => PageContext::of(&state, &req).error(
            StatusCode::BAD_REQUEST,
            "heading.invalid_request",
            "invalid_request",
            Some(&detail),
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
        Err(e) => PageContext::of(&state, &req).error(
            StatusCode::BAD_REQUEST,
            "heading.invalid_request",
            "invalid_request",
            Some(&e.to_string()),
        ),
    }
}

async fn authorize_with(state: &State, req: &HttpRequest, p: Params) -> HttpResponse {
    let services = &state.services;
    let page = PageContext::of(state, req);
    let rp = match p.get("client_id").map(crate::domain::ClientId::parse) {
        Some(Ok(id)) => match services.relying_parties.get(&id).await {
            Ok(Some(rp)) => rp,
            Ok(None) => return unknown_client(&page),
            Err(_) => return page.unavailable(),
        },
        _ => return unknown_client(&page),
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
        Err(AuthorizeError::Page { error, detail }) => page.error(
            StatusCode::BAD_REQUEST,
            "heading.cannot_sign_in",
            error,
            Some(&detail),
        ),
        Err(AuthorizeError::Store(err)) => {
            tracing::error!(%err, "store failure at the authorization endpoint");
            page.unavailable()
        }
    }
}

fn unknown_client(page: &PageContext) -> HttpResponse {
    page.error(
        StatusCode::BAD_REQUEST,
        "heading.cannot_sign_in",
        "invalid_client",
        Some("the client_id is not registered with this gateway"),
    )
}

// ---------------------------------------------------------------------------------------------
// Login and consent pages

#[derive(Template)]
#[template(path = "oidc/interaction.html")]
struct InteractionPage<'a> {
    t: Texts,
    /// Dev mode: the sandbox banner and helpers below.
    sandbox: bool,
    switch: Option<String>,
    title: String,
    cancel_label: String,
    qr_svg: String,
    qr_text: String,
    qr_expires: String,
    /// The same code as a link the citizen's phone opens in the VNeID app.
    app_link: String,
    base: String,
    csrf: &'a str,
    step: &'a str,
    error: Option<PageError>,
    hint: String,
    otp_intro: String,
    /// Who is signed in (the consent step).
    account: Option<SignedIn>,
    asks: String,
    /// Exactly what allowing releases (the same computation that fills the tokens): the
    /// claim's name and its words.
    claims: Vec<(String, String)>,
    /// The transactions to approve, in words with Vietnamese amounts.
    transactions: Vec<String>,
    /// Sandbox only: the ready-made personas to sign in as, and the picked one's password.
    personas: Vec<PersonaChoice>,
    persona_password: Option<&'static str>,
    /// Sandbox only: where the simulated SMS can be read.
    sms_outbox: Option<String>,
}

/// A failed step's message: the words, and the code for support and tests.
struct PageError {
    code: String,
    text: String,
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

fn interaction_error(page: &PageContext, e: InteractionError) -> HttpResponse {
    match e {
        InteractionError::Gone => page.error(
            StatusCode::BAD_REQUEST,
            "heading.expired",
            "interaction_gone",
            None,
        ),
        InteractionError::Csrf => page.error(
            StatusCode::FORBIDDEN,
            "heading.refused",
            "csrf_invalid",
            None,
        ),
        InteractionError::Store(err) => {
            tracing::error!(%err, "store failure on a login page");
            page.unavailable()
        }
        InteractionError::Hash(err) => {
            tracing::error!(%err, "password hashing failed");
            page.unavailable()
        }
    }
}

/// A claim in the citizen's words.
fn claim_words(t: &Texts, claim: &str) -> String {
    match claim.strip_prefix("age_over_") {
        Some(n) => t.lang.text_with("claim.age_over", &[("n", n)]),
        None => t.get(&format!("claim.{claim}")).into_owned(),
    }
}

/// A transaction in the citizen's words, the amount written the Vietnamese way.
fn transaction_words(t: &Texts, d: &AuthorizationDetail) -> String {
    let amount = format::amount_vnd(d.amount_vnd, t.lang);
    match &d.creditor_account {
        Some(account) => t.lang.text_with(
            "transaction.bank_transfer_account",
            &[
                ("amount", &amount),
                ("creditor", &d.creditor),
                ("account", account),
            ],
        ),
        None => t.lang.text_with(
            "transaction.bank_transfer",
            &[("amount", &amount), ("creditor", &d.creditor)],
        ),
    }
}

/// Whether the app approved the sign-in shown as a QR code (the page's script polls this).
pub async fn qr_status(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let cookie = cookie_value(&state, &req, interaction::BROWSER_COOKIE);
    let i = match interaction::load(&state.services, &path, cookie.as_deref()).await {
        Ok(i) => i,
        Err(InteractionError::Store(_)) => return PageContext::of(&state, &req).unavailable(),
        Err(_) => return no_store(HttpResponse::NotFound()).json(json!({ "approved": false })),
    };
    match interaction::qr_approved(&state.services, &i).await {
        Ok(approved) => no_store(HttpResponse::Ok()).json(json!({ "approved": approved })),
        Err(_) => PageContext::of(&state, &req).unavailable(),
    }
}

/// The current step of a sign-in: login, OTP or consent.
pub async fn interaction_page(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let page = PageContext::of(&state, &req);
    let t = page.t;
    let sandbox = page.sandbox;
    let cookie = cookie_value(&state, &req, interaction::BROWSER_COOKIE);
    let services = &state.services;
    let loaded = match interaction::load(services, &path, cookie.as_deref()).await {
        Ok(i) => i,
        Err(e) => return interaction_error(&page, e),
    };
    // Signed in from the app meanwhile (cross-device QR login)?
    let rp = match services
        .relying_parties
        .get(&loaded.request.client_id)
        .await
    {
        Ok(Some(rp)) => rp,
        Ok(None) => return unknown_client(&page),
        Err(_) => return page.unavailable(),
    };
    match interaction::poll_qr(services, &rp, &loaded).await {
        Ok(Some((next, sso))) => {
            let ttl = web_session::TTL.as_secs() as i64;
            return go(next)
                .cookie(host_cookie(&state, web_session::COOKIE, sso, ttl))
                .finish();
        }
        Ok(None) => {}
        Err(e) => return interaction_error(&page, e),
    }
    let (i, step, error) = match interaction::step(services, loaded).await {
        Ok(x) => x,
        Err(e) => return interaction_error(&page, e),
    };
    let rp_name = rp.name.as_str();
    let qr_text = format!("{}{}", interaction::QR_PREFIX, i.qr);
    let mut personas = Vec::new();
    let mut persona_password = None;
    let mut sms_outbox = None;
    let mut hint = String::new();
    let mut otp_intro = String::new();
    let mut account = None;
    let mut claims = Vec::new();
    let mut transactions = Vec::new();
    let (kind, title) = match step {
        Step::Login { hint: asked } => {
            hint = asked.unwrap_or_default();
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
                        return page.unavailable();
                    }
                }
            }
            ("login", t.lang.text_with("login.title", &[("rp", rp_name)]))
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
            otp_intro = t.lang.text_with("otp.intro", &[("phone", &shown)]);
            ("otp", t.lang.text_with("login.title", &[("rp", rp_name)]))
        }
        Step::Consent {
            scopes,
            transactions: details,
            account: signed_in,
        } => {
            claims = release(&rp, &scopes.into_iter().collect())
                .shown()
                .into_iter()
                .map(|c| {
                    let words = claim_words(&t, &c.claim);
                    (c.claim, words)
                })
                .collect();
            transactions = details.iter().map(|d| transaction_words(&t, d)).collect();
            account = Some(signed_in);
            (
                "consent",
                t.lang.text_with("consent.title", &[("rp", rp_name)]),
            )
        }
    };
    let qr_expires = i
        .qr_expires_at
        .map(|at| {
            t.lang.text_with(
                "login.qr_expires",
                &[("time", &format::time(at.to_datetime()))],
            )
        })
        .unwrap_or_default();
    let body = InteractionPage {
        t,
        sandbox,
        switch: page.switch(),
        title,
        cancel_label: t.lang.text_with("login.cancel", &[("rp", rp_name)]),
        qr_svg: crate::http::html::qr_svg(&qr_text),
        app_link: qr_text.clone(),
        qr_text,
        qr_expires,
        base: format!("/oauth2/interaction/{}", i.id),
        csrf: &i.csrf,
        step: kind,
        error: error.map(|code| PageError {
            text: t.code("oauth", &code).into_owned(),
            code,
        }),
        hint,
        otp_intro,
        account,
        asks: t.lang.text_with("consent.asks", &[("rp", rp_name)]),
        claims,
        transactions,
        personas,
        persona_password,
        sms_outbox,
    };
    match body.render() {
        Ok(body) => page.respond(StatusCode::OK).body(body),
        Err(err) => {
            tracing::error!(%err, "cannot render the sign-in page");
            page.unavailable()
        }
    }
}

/// The per-IP limit on the credential forms (password, OTP), as on the app's login.
async fn ip_limited(state: &State, req: &HttpRequest) -> Result<(), HttpResponse> {
    match crate::http::rate_limit::per_ip(state, req).await {
        Ok(()) => Ok(()),
        Err(ApiError::RateLimited { retry_after_secs }) => {
            let mut res = PageContext::of(state, req).error(
                StatusCode::TOO_MANY_REQUESTS,
                "heading.too_many",
                "rate_limited",
                None,
            );
            if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Err(res)
        }
        Err(_) => Err(PageContext::of(state, req).unavailable()),
    }
}

/// Loads the interaction for a form POST: this browser's, with a valid CSRF token.
async fn posted(
    state: &State,
    req: &HttpRequest,
    id: &str,
    body: &[u8],
) -> Result<(interaction::Interaction, Params), HttpResponse> {
    let page = PageContext::of(state, req);
    let p = form_params(body).map_err(|e| {
        page.error(
            StatusCode::BAD_REQUEST,
            "heading.invalid_request",
            "invalid_request",
            Some(&e.to_string()),
        )
    })?;
    let cookie = cookie_value(state, req, interaction::BROWSER_COOKIE);
    let i = interaction::load(&state.services, id, cookie.as_deref())
        .await
        .map_err(|e| interaction_error(&page, e))?;
    interaction::check_csrf(&i, p.get("csrf_token")).map_err(|e| interaction_error(&page, e))?;
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
        Err(e) => interaction_error(&PageContext::of(&state, &req), e),
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
    let page = PageContext::of(&state, &req);
    let rp = match state
        .services
        .relying_parties
        .get(&i.request.client_id)
        .await
    {
        Ok(Some(rp)) => rp,
        Ok(None) => return unknown_client(&page),
        Err(_) => return page.unavailable(),
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
        Err(e) => interaction_error(&page, e),
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
    let page = PageContext::of(&state, &req);
    let allow = match p.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return page.error(
                StatusCode::BAD_REQUEST,
                "heading.invalid_request",
                "invalid_request",
                Some("decision must be allow or deny"),
            );
        }
    };
    match interaction::decide(&state.services, i, allow).await {
        Ok(next) => go(next).finish(),
        Err(e) => interaction_error(&page, e),
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
        Err(e) => interaction_error(&PageContext::of(&state, &req), e),
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
    t: Texts,
    sandbox: bool,
    switch: Option<String>,
    /// "<relying party> asks to sign you out", when the request named a known one.
    rp_asks: Option<String>,
    csrf: String,
    carried: Vec<(&'a str, &'a str)>,
}

async fn logout_with(state: &State, req: &HttpRequest, p: Params) -> HttpResponse {
    let page = PageContext::of(state, req);
    let hinted = p
        .get("id_token_hint")
        .is_some_and(|t| logout::hinted_client(&state.services, t).is_some());
    match cookie_value(state, req, web_session::COOKIE) {
        // A session, and nothing proves the relying party asked: the citizen decides.
        Some(sso) if !hinted => {
            let rp_name = match p.get("client_id").map(crate::domain::ClientId::parse) {
                Some(Ok(id)) => match state.services.relying_parties.get(&id).await {
                    Ok(rp) => rp.map(|rp| rp.name),
                    Err(_) => return page.unavailable(),
                },
                _ => None,
            };
            let carried = logout::CARRIED
                .iter()
                .filter_map(|k| p.get(k).map(|v| (*k, v)))
                .collect();
            let body = LogoutPage {
                t: page.t,
                sandbox: page.sandbox,
                // A GET can be shown again in the other language; a POST cannot.
                switch: (req.method() == actix_web::http::Method::GET)
                    .then(|| page.switch())
                    .flatten(),
                rp_asks: rp_name
                    .map(|name| page.t.lang.text_with("logout.rp_asks", &[("rp", &name)])),
                csrf: logout::confirmation_token(&sso),
                carried,
            };
            match body.render() {
                Ok(body) => page.respond(StatusCode::OK).body(body),
                Err(err) => {
                    tracing::error!(%err, "cannot render the logout page");
                    page.unavailable()
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
        return PageContext::of(&state, &req).error(
            StatusCode::BAD_REQUEST,
            "heading.not_confirmed",
            "logout_unconfirmed",
            None,
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
        return PageContext::of(state, req).unavailable();
    }
    let expired = host_cookie(state, web_session::COOKIE, String::new(), 0);
    match logout::return_to(&state.services, p).await {
        Some(url) => see_other(&url).cookie(expired).finish(),
        None => {
            let mut res = PageContext::of(state, req).notice(
                StatusCode::OK,
                "heading.signed_out",
                "signed_out.detail",
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
