//! The OpenID provider: discovery, PAR and the authorization code flow with PKCE through the
//! login (password + SMS OTP) and consent pages, tokens, userinfo, refresh rotation,
//! introspection, revocation and logout; and the attacks of RFC 9700 and the OpenID conformance
//! suite's negative cases.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Digest;

use crate::citizen::Citizen;
use crate::helpers::*;

mod attacks;
mod code_flow;
mod dpop;
mod page_language;
mod released_claims;
mod sandbox_pages;

pub const PORTAL: &str = "public-services-portal";
pub const CALLBACK: &str = "http://127.0.0.1:9000/callback";

/// A browser: keeps cookies, never follows redirects (tests look at each hop).
pub struct Browser<'a> {
    app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
    pub set_cookie_lines: Vec<String>,
    /// The last consent page `sign_in` answered.
    pub consent_page: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
            set_cookie_lines: Vec::new(),
            consent_page: None,
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            self.app.url(url)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, res: &reqwest::Response) {
        for line in res.headers().get_all("set-cookie") {
            let line = line.to_str().unwrap().to_owned();
            let (pair, attrs) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || value.is_empty() {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().into(), value.trim().into());
            }
            self.set_cookie_lines.push(line);
        }
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let res = self
            .app
            .client
            .get(self.absolute(url))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.absorb(&res);
        res
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let res = self
            .app
            .client
            .post(self.absolute(url))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.absorb(&res);
        res
    }
}

pub fn location(res: &reqwest::Response) -> String {
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "expected a 303");
    res.headers()["location"].to_str().unwrap().to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub fn csrf(html: &str) -> String {
    let start = html.find("name=\"csrf_token\" value=\"").unwrap() + 25;
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    let verifier = URL_SAFE_NO_PAD.encode(b);
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

pub fn authorize_url(
    client: &str,
    redirect: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client)
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile birthdate phone")
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/oauth2/authorize?{}", q.finish())
}

/// Logs in through the pages from an authorization URL; returns the final redirect to the client.
pub async fn sign_in(b: &mut Browser<'_>, citizen: &Citizen, authorize: &str) -> String {
    let app = b.app;
    let mut next = location(&b.get(authorize).await);
    while next.starts_with("/oauth2/interaction/") {
        let page = b.get(&next).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let token = csrf(&html);
        let res = if html.contains("name=\"password\"") {
            b.post(
                &format!("{next}/login"),
                &[
                    ("csrf_token", &token),
                    ("personal_id", citizen.id()),
                    ("password", &citizen.password),
                ],
            )
            .await
        } else if html.contains("name=\"otp\"") {
            let otp = citizen.otp(app).await;
            b.post(
                &format!("{next}/otp"),
                &[("csrf_token", &token), ("otp", &otp)],
            )
            .await
        } else {
            b.consent_page = Some(html.clone());
            b.post(
                &format!("{next}/consent"),
                &[("csrf_token", &token), ("decision", "allow")],
            )
            .await
        };
        next = location(&res);
    }
    next
}

pub async fn token_request(
    app: &TestApp,
    client: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.client
        .post(app.url("/oauth2/token"))
        .basic_auth(client, Some(sandbox_secret(client)))
        .form(form)
        .send()
        .await
        .unwrap()
}

pub async fn redeem(app: &TestApp, code: &str, verifier: &str) -> reqwest::Response {
    token_request(
        app,
        PORTAL,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// A registered citizen signed in at the portal: the browser, the citizen and the token answer.
pub async fn logged_in_at_portal(app: &TestApp, n: usize) -> (Citizen, Value) {
    let citizen = Citizen::nth(app, n);
    citizen.register(app).await;
    let mut b = Browser::new(app);
    let p = pkce();
    let back = sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
    let code = query_param(&back, "code").unwrap();
    let res = redeem(app, &code, &p.verifier).await;
    assert_eq!(res.status(), StatusCode::OK);
    (citizen, res.json().await.unwrap())
}

/// Verifies a JWT with the published JWKS only (as a relying party would).
pub async fn verify_with_jwks(app: &TestApp, token: &str) -> (jsonwebtoken::Header, Value) {
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.validate_aud = false;
    let data = jsonwebtoken::decode::<Value>(token, &key, &v).unwrap();
    (header, data.claims)
}

pub async fn introspect(app: &TestApp, client: &str, token: &str) -> Value {
    app.client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(client, Some(sandbox_secret(client)))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The citizen's usage history, read from the app.
pub async fn app_history(app: &TestApp, mut citizen: Citizen) -> Vec<Value> {
    citizen.login(app).await;
    citizen.history(app).await
}

pub async fn par(app: &TestApp, client: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/oauth2/par"))
        .basic_auth(client, Some(sandbox_secret(client)))
        .form(form)
        .send()
        .await
        .unwrap()
}

pub async fn qr_status(b: &mut Browser<'_>, page: &str) -> Value {
    let res = b.get(&format!("{page}/qr-status")).await;
    res.json::<Value>().await.unwrap()["approved"].clone()
}

/// The error a `prompt=none` request gets back at the client, if any.
pub async fn silent_error(b: &mut Browser<'_>, challenge: &str) -> Option<String> {
    let url = authorize_url(PORTAL, CALLBACK, challenge, &[("prompt", "none")]);
    query_param(&location(&b.get(&url).await), "error")
}

/// The portal's authorization URL for this PKCE pair, with extra parameters.
pub fn at_portal(p: &Pkce, extra: &[(&str, &str)]) -> String {
    authorize_url(PORTAL, CALLBACK, &p.challenge, extra)
}
