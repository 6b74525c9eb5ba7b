//! The public-services portal: "Đăng nhập bằng VNeID" through the gateway's OpenID Connect
//! login — authorization code with PKCE (S256), `state` bound to this browser by a cookie, the
//! `iss` of the answer checked (RFC 9207), the ID token validated against the published JWKS —
//! then the claims, and logout back here.

use std::time::Instant;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::Value;
use sha2::Digest;

use super::State;
use super::pages::Page;
use crate::i18n::Texts;

pub const CLIENT_ID: &str = "public-services-portal";
const STATE_COOKIE: &str = "demo_portal_state";

/// A login on its way through the gateway.
pub struct PendingLogin {
    nonce: String,
    verifier: String,
    pub started: Instant,
}

fn redirect_uri(state: &State) -> String {
    format!("{}/portal/callback", state.public_url)
}

#[derive(Template)]
#[template(path = "demo/portal.html")]
struct PortalPage<'a> {
    t: Texts,
    switch: &'a str,
    error: Option<String>,
    signed_in: Option<SignedIn>,
}

/// What the portal learnt from the ID token.
struct SignedIn {
    sub: String,
    acr: String,
    amr: String,
    auth_level: String,
    claims: Vec<(String, String)>,
    logout: String,
}

pub async fn home(req: HttpRequest) -> HttpResponse {
    let page = Page::of(&req);
    page.render(
        StatusCode::OK,
        &PortalPage {
            t: page.t,
            switch: &page.switch,
            error: None,
            signed_in: None,
        },
    )
}

fn failed(page: &Page, status: StatusCode, why: String) -> HttpResponse {
    page.render(
        status,
        &PortalPage {
            t: page.t,
            switch: &page.switch,
            error: Some(why),
            signed_in: None,
        },
    )
}

/// Sends the browser to the gateway's authorization endpoint.
pub async fn login(state: State, req: HttpRequest) -> HttpResponse {
    let page = Page::of(&req);
    let (Ok(st), Ok(nonce), Ok(verifier)) = (super::random(), super::random(), super::random())
    else {
        return failed(
            &page,
            StatusCode::SERVICE_UNAVAILABLE,
            page.t.get("demo.error").into(),
        );
    };
    use base64::Engine;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri(&state))
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile birthdate")
        .append_pair("state", &st)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("ui_locales", page.t.lang.code());
    let location = format!(
        "{}?{}",
        state.gateway.discovery.authorization_endpoint,
        q.finish()
    );
    state.remember(
        st.clone(),
        PendingLogin {
            nonce,
            verifier,
            started: Instant::now(),
        },
    );
    let cookie = Cookie::build(STATE_COOKIE, st)
        .path("/portal/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish()
}

#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// The gateway sends the browser back here with a code (or an error).
pub async fn callback(
    state: State,
    req: HttpRequest,
    q: web::Query<CallbackQuery>,
) -> HttpResponse {
    let page = Page::of(&req);
    let t = page.t;
    if let Some(error) = &q.error {
        let why = state
            .gateway
            .message(t.lang, "oauth", error)
            .await
            .unwrap_or_else(|| t.get("demo.portal.failed").into_owned());
        return failed(&page, StatusCode::OK, why);
    }
    // The state must be this browser's own login: the cookie and the query agree, and the
    // demo remembers it.
    let ours = req.cookie(STATE_COOKIE).map(|c| c.value().to_owned());
    let pending = match (&q.state, ours) {
        (Some(s), Some(c)) if *s == c => state.take(s),
        _ => None,
    };
    let (Some(pending), Some(code)) = (pending, &q.code) else {
        return failed(
            &page,
            StatusCode::BAD_REQUEST,
            t.get("demo.portal.not_ours").into(),
        );
    };
    if q.iss.as_deref() != Some(state.gateway.discovery.issuer.as_str()) {
        return failed(
            &page,
            StatusCode::BAD_REQUEST,
            t.get("demo.portal.not_ours").into(),
        );
    }
    let redirect = redirect_uri(&state);
    let tokens = match state
        .gateway
        .token(
            CLIENT_ID,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect),
                ("code_verifier", &pending.verifier),
            ],
        )
        .await
    {
        Ok(t) => t,
        Err(err) => {
            tracing::warn!(%err, "the portal's code redemption failed");
            return failed(
                &page,
                StatusCode::BAD_GATEWAY,
                t.get("demo.portal.failed").into(),
            );
        }
    };
    let id_token = tokens["id_token"].as_str().unwrap_or_default();
    let claims = match state
        .gateway
        .validate_id_token(id_token, CLIENT_ID, Some(&pending.nonce))
        .await
    {
        Ok(c) => c,
        Err(err) => {
            tracing::warn!(%err, "the portal refused an ID token");
            return failed(
                &page,
                StatusCode::BAD_GATEWAY,
                t.get("demo.portal.failed").into(),
            );
        }
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let shown: Vec<(String, String)> = claims
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "iss"
                            | "aud"
                            | "exp"
                            | "iat"
                            | "nonce"
                            | "sid"
                            | "jti"
                            | "azp"
                            | "at_hash"
                            | "sub"
                            | "acr"
                            | "amr"
                            | "auth_level"
                    )
                })
                .map(|(k, v)| (k.clone(), text(v)))
                .collect()
        })
        .unwrap_or_default();
    let mut logout = form_urlencoded::Serializer::new(String::new());
    logout
        .append_pair("id_token_hint", id_token)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/portal/", state.public_url),
        )
        .append_pair("client_id", CLIENT_ID);
    let signed_in = SignedIn {
        sub: text(&claims["sub"]),
        acr: text(&claims["acr"]),
        amr: text(&claims["amr"]),
        auth_level: text(&claims["auth_level"]),
        claims: shown,
        logout: format!(
            "{}?{}",
            state.gateway.discovery.end_session_endpoint,
            logout.finish()
        ),
    };
    let mut res = page.render(
        StatusCode::OK,
        &PortalPage {
            t,
            switch: &page.switch,
            error: None,
            signed_in: Some(signed_in),
        },
    );
    let mut gone = Cookie::build(STATE_COOKIE, "").path("/portal/").finish();
    gone.make_removal();
    let _ = res.add_cookie(&gone);
    res
}
