//! The OpenID provider: discovery, PAR and the authorization code flow with PKCE through the
//! login (password + SMS OTP) and consent pages, tokens, userinfo, refresh rotation,
//! introspection, revocation and logout; and the attacks of RFC 9700 and the OpenID conformance
//! suite's negative cases.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use crate::both_backends;
use crate::citizen::Citizen;
use crate::helpers::*;

pub const PORTAL: &str = "public-services-portal";
pub const CALLBACK: &str = "http://127.0.0.1:9000/callback";

/// A browser: keeps cookies, never follows redirects (tests look at each hop).
pub struct Browser<'a> {
    app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
    pub set_cookie_lines: Vec<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
            set_cookie_lines: Vec::new(),
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

async fn introspect(app: &TestApp, client: &str, token: &str) -> Value {
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

async fn userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

both_backends!(
    discovery_names_the_issuer_and_only_what_is_built,
    the_code_flow_gives_signed_tokens_userinfo_refresh_introspection_and_revocation,
    redirect_uris_must_match_exactly_and_errors_never_go_elsewhere,
    codes_are_single_use_bound_to_client_redirect_and_verifier,
    pkce_s256_is_required_and_other_response_types_and_grants_are_refused,
    pushed_requests_are_single_use_and_bound_to_their_client,
    a_refresh_token_reused_revokes_its_family,
    token_kinds_are_never_accepted_for_one_another,
    forms_need_the_browser_binding_and_the_csrf_token,
    prompt_acr_max_age_and_single_sign_on,
    consent_is_remembered_listed_and_withdrawable,
    logout_returns_only_to_registered_addresses,
    private_key_jwt_assertions_must_name_the_issuer_as_their_only_audience,
);

async fn discovery_names_the_issuer_and_only_what_is_built(backend: Backend) {
    let app = spawn_app(backend).await;
    let d: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], app.address);
    assert_eq!(d["authorization_endpoint"], app.url("/oauth2/authorize"));
    assert_eq!(d["response_types_supported"], json!(["code"]));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        d["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(d["subject_types_supported"], json!(["pairwise"]));
    // Every advertised endpoint answers (not 404).
    for key in ["jwks_uri", "userinfo_endpoint", "end_session_endpoint"] {
        let res = app
            .client
            .get(d[key].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), StatusCode::NOT_FOUND, "{key}");
    }
    for key in [
        "token_endpoint",
        "pushed_authorization_request_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ] {
        let res = app
            .client
            .post(d[key].as_str().unwrap())
            .form(&[("x", "y")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{key}");
    }
}

async fn the_code_flow_gives_signed_tokens_userinfo_refresh_introspection_and_revocation(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut b = Browser::new(&app);
    let p = pkce();
    let back = sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
    assert!(back.starts_with(&format!("{CALLBACK}?")), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.address.as_str())
    );
    // The cookies: __Host-, Secure, HttpOnly, SameSite=Lax.
    for line in &b.set_cookie_lines {
        assert!(line.starts_with("__Host-"), "{line}");
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(line.contains(attr), "{line}");
        }
        assert!(!line.contains("Domain"), "{line}");
    }
    let code = query_param(&back, "code").unwrap();
    let res = redeem(&app, &code, &p.verifier).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "openid profile birthdate phone");

    let (header, id) = verify_with_jwks(&app, t["id_token"].as_str().unwrap()).await;
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(id["iss"], app.address);
    assert_eq!(id["aud"], PORTAL);
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["acr"], "urn:vn:eid:level:1");
    assert_eq!(id["amr"], json!(["pwd", "otp"]));
    assert_eq!(id["auth_level"], 2);
    assert_eq!(id["name"], citizen.truth.person.full_name);
    assert!(
        id.get("personal_id").is_none(),
        "personal_id was not asked for"
    );
    assert!(id["sub"].as_str().unwrap() != citizen.id());
    let (header, at) = verify_with_jwks(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(at["client_id"], PORTAL);
    assert_eq!(at["sub"], id["sub"]);

    let info: Value = userinfo(&app, t["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["birthdate"], json!(citizen.truth.person.birth_date));
    assert!(info["phone_number"].as_str().unwrap().starts_with("+84"));
    assert!(info.get("address").is_none(), "address was not asked for");

    let refreshed = token_request(
        &app,
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let r: Value = refreshed.json().await.unwrap();
    assert_ne!(r["refresh_token"], t["refresh_token"], "rotated");
    let (_, id2) = verify_with_jwks(&app, r["id_token"].as_str().unwrap()).await;
    assert_eq!(id2["sub"], id["sub"]);
    assert_eq!(id2["auth_time"], id["auth_time"]);

    let active = introspect(&app, PORTAL, r["access_token"].as_str().unwrap()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], PORTAL);
    assert_eq!(active["acr"], "urn:vn:eid:level:1");
    assert_eq!(
        introspect(&app, PORTAL, r["refresh_token"].as_str().unwrap()).await["active"],
        true
    );
    // Another client learns nothing about this client's tokens.
    assert_eq!(
        introspect(&app, "vietsky-air", r["access_token"].as_str().unwrap()).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&app, PORTAL, "garbage").await,
        json!({"active": false})
    );

    let revoked = app
        .client
        .post(app.url("/oauth2/revoke"))
        .basic_auth(PORTAL, Some(sandbox_secret(PORTAL)))
        .form(&[("token", r["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        introspect(&app, PORTAL, r["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
    // Revoking the refresh token ends the access tokens of that login too.
    assert_eq!(
        introspect(&app, PORTAL, r["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(
        userinfo(&app, r["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // The login is in the citizen's usage history.
    let history = app_history(&app, citizen).await;
    assert!(
        history
            .iter()
            .any(|e| e["action"] == "oidc_tokens" && e["client_id"] == PORTAL)
    );
}

async fn redirect_uris_must_match_exactly_and_errors_never_go_elsewhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = pkce();
    for bad in [
        "http://127.0.0.1:9000/callback/extra",
        "http://127.0.0.1:9000/callback?x=1",
        "http://127.0.0.1:9000/callbackx",
        "https://evil.dichvucong.example/auth/callback",
        "https://DICHVUCONG.example/auth/callback",
        "https://dichvucong.example/auth/Callback",
        "http://127.0.0.1:9000/callback#frag",
    ] {
        // Even with another error in the request, nothing goes to the unregistered URI.
        let url = authorize_url(PORTAL, bad, &p.challenge, &[("response_type", "token")]);
        let res = app
            .client
            .get(app.url(&url.replace("response_type=code&", "")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(res.headers().get("location").is_none(), "{bad}");
        // A page for the person in front of the browser, not JSON.
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    let unknown = authorize_url("no-such-client", CALLBACK, &p.challenge, &[]);
    let res = app.get(&unknown).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
}

async fn codes_are_single_use_bound_to_client_redirect_and_verifier(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut b = Browser::new(&app);
    let p = pkce();
    let url = at_portal(&p, &[]);
    let code = query_param(&sign_in(&mut b, &citizen, &url).await, "code").unwrap();
    let first = redeem(&app, &code, &p.verifier).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let again = redeem(&app, &code, &p.verifier).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    // The second redemption revoked what the first issued.
    assert_eq!(
        introspect(&app, PORTAL, first["access_token"].as_str().unwrap()).await["active"],
        false
    );
    let refresh = token_request(
        &app,
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST);

    // Two concurrent redemptions: exactly one wins. (SSO: no pages this time.)
    let p = pkce();
    let url = at_portal(&p, &[]);
    let code = query_param(&sign_in(&mut b, &citizen, &url).await, "code").unwrap();
    let (x, y) = tokio::join!(
        redeem(&app, &code, &p.verifier),
        redeem(&app, &code, &p.verifier)
    );
    let ok = [x.status(), y.status()]
        .iter()
        .filter(|s| **s == StatusCode::OK)
        .count();
    assert_eq!(ok, 1);

    // Wrong verifier, no verifier, wrong redirect URI, another client, expired.
    for attempt in [
        "wrong_verifier",
        "no_verifier",
        "wrong_redirect",
        "other_client",
        "expired",
    ] {
        let p = pkce();
        let url = at_portal(&p, &[]);
        let code = query_param(&sign_in(&mut b, &citizen, &url).await, "code").unwrap();
        let other = pkce();
        let res = match attempt {
            "wrong_verifier" => redeem(&app, &code, &other.verifier).await,
            "no_verifier" => {
                token_request(
                    &app,
                    PORTAL,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", CALLBACK),
                    ],
                )
                .await
            }
            "wrong_redirect" => {
                token_request(
                    &app,
                    PORTAL,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", "http://localhost:9000/callback"),
                        ("code_verifier", &p.verifier),
                    ],
                )
                .await
            }
            "other_client" => {
                token_request(
                    &app,
                    "vietsky-air",
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", CALLBACK),
                        ("code_verifier", &p.verifier),
                    ],
                )
                .await
            }
            _ => {
                app.clock.advance(Duration::from_secs(61));
                redeem(&app, &code, &p.verifier).await
            }
        };
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{attempt}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_grant",
            "{attempt}"
        );
    }
}

/// The citizen's usage history, read from the app.
async fn app_history(app: &TestApp, mut citizen: Citizen) -> Vec<Value> {
    citizen.login(app).await;
    app.client
        .get(app.url("/v1/citizen/history"))
        .bearer_auth(citizen.session.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn pkce_s256_is_required_and_other_response_types_and_grants_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = pkce();
    let error_of = |res: &reqwest::Response| {
        let to = location(res);
        assert!(to.starts_with(CALLBACK), "{to}");
        assert_eq!(query_param(&to, "state").as_deref(), Some("st-1"));
        assert_eq!(
            query_param(&to, "iss").as_deref(),
            Some(app.address.as_str())
        );
        query_param(&to, "error").unwrap()
    };
    let base = at_portal(&p, &[]);
    let plain = base.replace("code_challenge_method=S256", "code_challenge_method=plain");
    assert_eq!(error_of(&app.get(&plain).await), "invalid_request");
    let missing_method = base.replace("&code_challenge_method=S256", "");
    assert_eq!(error_of(&app.get(&missing_method).await), "invalid_request");
    let missing = base.replace(&format!("&code_challenge={}", p.challenge), "");
    assert_eq!(error_of(&app.get(&missing).await), "invalid_request");
    let token = base.replace("response_type=code", "response_type=token");
    assert_eq!(
        error_of(&app.get(&token).await),
        "unsupported_response_type"
    );
    let hybrid = base.replace("response_type=code", "response_type=code+id_token");
    assert_eq!(
        error_of(&app.get(&hybrid).await),
        "unsupported_response_type"
    );
    let no_openid = base.replace("scope=openid+profile+birthdate+phone", "scope=profile");
    assert_eq!(error_of(&app.get(&no_openid).await), "invalid_scope");
    let repeated = format!("{base}&state=again");
    assert_eq!(app.get(&repeated).await.status(), StatusCode::BAD_REQUEST);

    for grant in ["password", "client_credentials", "implicit"] {
        let res = token_request(
            &app,
            PORTAL,
            &[("grant_type", grant), ("username", "x"), ("password", "y")],
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "unsupported_grant_type"
        );
    }
    // The token endpoint wants a form and a client.
    let res = app
        .client
        .post(app.url("/oauth2/token"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let res = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(PORTAL, Some("wrong"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("www-authenticate"));
}

async fn par(app: &TestApp, client: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/oauth2/par"))
        .basic_auth(client, Some(sandbox_secret(client)))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn pushed_requests_are_single_use_and_bound_to_their_client(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let p = pkce();
    let form = [
        ("client_id", PORTAL),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "openid age_over_18"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", p.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let res = par(&app, PORTAL, &form).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let pushed: Value = res.json().await.unwrap();
    assert_eq!(pushed["expires_in"], 60);
    let uri = pushed["request_uri"].as_str().unwrap();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let by_uri = |client: &str| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", client)
            .append_pair("request_uri", uri);
        format!("/oauth2/authorize?{}", q.finish())
    };
    // Another client cannot use it (and does not use it up).
    let res = app.get(&by_uri("vietsky-air")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let mut b = Browser::new(&app);
    let back = sign_in(&mut b, &citizen, &by_uri(PORTAL)).await;
    let code = query_param(&back, "code").unwrap();
    let t: Value = redeem(&app, &code, &p.verifier).await.json().await.unwrap();
    // age_over_18 releases the boolean only, never the birth date.
    let (_, id) = verify_with_jwks(&app, t["id_token"].as_str().unwrap()).await;
    assert!(id["age_over_18"].is_boolean(), "{id}");
    assert!(id.get("birthdate").is_none());
    // Used once.
    let res = b.get(&by_uri(PORTAL)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
    // Expired after 60 s.
    let pushed: Value = par(&app, PORTAL, &form).await.json().await.unwrap();
    app.clock.advance(Duration::from_secs(61));
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", PORTAL)
        .append_pair("request_uri", pushed["request_uri"].as_str().unwrap());
    assert_eq!(
        app.get(&format!("/oauth2/authorize?{}", q.finish()))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    // A bad pushed request is refused as JSON.
    let res = par(
        &app,
        PORTAL,
        &[
            ("client_id", PORTAL),
            ("redirect_uri", "https://evil.example/"),
            ("response_type", "code"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
}

async fn a_refresh_token_reused_revokes_its_family(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, t) = logged_in_at_portal(&app, 0).await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            token_request(
                app,
                PORTAL,
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
            )
            .await
        }
    };
    let first = t["refresh_token"].as_str().unwrap().to_owned();
    let r1: Value = refresh(first.clone()).await.json().await.unwrap();
    let second = r1["refresh_token"].as_str().unwrap().to_owned();
    // The stolen first token is replayed: refused, and the whole family dies.
    let replay = refresh(first).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(refresh(second).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        introspect(&app, PORTAL, r1["access_token"].as_str().unwrap()).await["active"],
        false
    );
    // Another client cannot use a refresh token.
    let (_, t2) = logged_in_at_portal(&app, 1).await;
    let res = token_request(
        &app,
        "vietsky-air",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t2["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // ... and that attempt did not use it up.
    assert_eq!(
        refresh(t2["refresh_token"].as_str().unwrap().to_owned())
            .await
            .status(),
        StatusCode::OK
    );
    // A refresh may narrow the scope, never widen it.
    let (_, t3) = logged_in_at_portal(&app, 2).await;
    let res = token_request(
        &app,
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t3["refresh_token"].as_str().unwrap()),
            ("scope", "openid address"),
        ],
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_scope");
}

async fn token_kinds_are_never_accepted_for_one_another(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, t) = logged_in_at_portal(&app, 0).await;
    let id_token = t["id_token"].as_str().unwrap();
    let access = t["access_token"].as_str().unwrap();
    // An ID token is not an access token.
    let res = userinfo(&app, id_token).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(introspect(&app, PORTAL, id_token).await["active"], false);
    // An access token is not a presentation token.
    let v = crate::citizen::verify(&app, PORTAL, access, None).await;
    assert_eq!(v["reason"], "wrong_type", "{v}");
    // An access token is not an app session.
    let res = app
        .client
        .get(app.url("/v1/citizen/history"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Nor a refresh token.
    let res = token_request(
        &app,
        PORTAL,
        &[("grant_type", "refresh_token"), ("refresh_token", access)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

async fn forms_need_the_browser_binding_and_the_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let p = pkce();
    let mut b = Browser::new(&app);
    let page = location(&b.get(&at_portal(&p, &[])).await);
    let res = b.get(&page).await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    // The page's own policy: its stylesheet, script and forms work; nothing else loads.
    for part in [
        "default-src 'none'",
        "style-src 'self'",
        "script-src 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("form-action 'none'"), "{csp}");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    for (name, value) in [
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        assert!(
            res.headers()[name].to_str().unwrap().contains(value),
            "{name}"
        );
    }
    let html = res.text().await.unwrap();
    let token = csrf(&html);
    let login = format!("{page}/login");
    let creds = [
        ("personal_id", citizen.id()),
        ("password", citizen.password.as_str()),
    ];
    // No CSRF token, a wrong one: refused, nothing happens.
    let res = b.post(&login, &creds).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = b
        .post(&login, &[("csrf_token", "forged"), creds[0], creds[1]])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        citizen.latest_sms(&app).await.unwrap().contains("dang ky"),
        "no login OTP was sent"
    );
    // Another browser (an attacker posting cross-site, without the cookie): refused.
    let mut other = Browser::new(&app);
    let res = other
        .post(&login, &[("csrf_token", &token), creds[0], creds[1]])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // The real browser with the token goes on to the OTP.
    let res = b
        .post(&login, &[("csrf_token", &token), creds[0], creds[1]])
        .await;
    assert_eq!(location(&res), page);
    let html = b.get(&page).await.text().await.unwrap();
    assert!(html.contains("name=\"otp\""));
    // A wrong password shows an error and sends nothing.
    let mut c = Browser::new(&app);
    let page = location(&c.get(&at_portal(&p, &[])).await);
    let html = c.get(&page).await.text().await.unwrap();
    let res = c
        .post(
            &format!("{page}/login"),
            &[
                ("csrf_token", &csrf(&html)),
                creds[0],
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(location(&res), page);
    let html = c.get(&page).await.text().await.unwrap();
    assert!(html.contains("Wrong ID number or password"));
    assert!(html.contains("name=\"password\""));
    // Each login gets a new SSO session id.
    let citizen1 = Citizen::nth(&app, 0);
    let mut d = Browser::new(&app);
    sign_in(&mut d, &citizen1, &at_portal(&p, &[])).await;
    let first = d.cookies["__Host-eid_sso"].clone();
    sign_in(&mut d, &citizen1, &at_portal(&p, &[("prompt", "login")])).await;
    assert_ne!(d.cookies["__Host-eid_sso"], first);
}

async fn prompt_acr_max_age_and_single_sign_on(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let p = pkce();
    let mut b = Browser::new(&app);
    // prompt=none without a session.
    assert_eq!(
        silent_error(&mut b, &p.challenge).await.as_deref(),
        Some("login_required")
    );
    // A level-1 account asked for level 2.
    let back = sign_in(
        &mut b,
        &citizen,
        &at_portal(&p, &[("acr_values", "urn:vn:eid:level:2")]),
    )
    .await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    assert!(query_param(&back, "code").is_none());
    // lotus-bank requires level 2 of every login.
    let back = location(
        &b.get(&authorize_url(
            "lotus-bank",
            "http://127.0.0.1:9100/callback",
            &p.challenge,
            &[],
        ))
        .await,
    );
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    // The session now exists: consent first, then single sign-on without any page.
    let back = sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
    assert!(query_param(&back, "code").is_some());
    let res = b.get(&at_portal(&p, &[("prompt", "none")])).await;
    assert!(query_param(&location(&res), "code").is_some());
    // prompt=login and an exceeded max_age ask for the password again.
    let res = b.get(&at_portal(&p, &[("prompt", "login")])).await;
    assert!(location(&res).starts_with("/oauth2/interaction/"));
    app.clock.advance(Duration::from_secs(120));
    let res = b.get(&at_portal(&p, &[("max_age", "60")])).await;
    assert!(location(&res).starts_with("/oauth2/interaction/"));
    let res = b.get(&at_portal(&p, &[("max_age", "600")])).await;
    assert!(query_param(&location(&res), "code").is_some());
    // prompt=consent shows the consent page even though consent was given.
    let res = b.get(&at_portal(&p, &[("prompt", "consent")])).await;
    let html = b.get(&location(&res)).await.text().await.unwrap();
    assert!(html.contains("decision"));
    // Locking the account ends the browser session.
    citizen.login(&app).await;
    app.client
        .post(app.url("/v1/citizen/lock"))
        .bearer_auth(citizen.session.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        silent_error(&mut b, &p.challenge).await.as_deref(),
        Some("login_required")
    );
}

async fn consent_is_remembered_listed_and_withdrawable(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let p = pkce();
    let mut b = Browser::new(&app);
    sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
    citizen.login(&app).await;
    let session = citizen.session.clone().unwrap();
    let list: Value = app
        .client
        .get(app.url("/v1/citizen/consents"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list[PORTAL]["scopes"],
        json!(["openid", "profile", "birthdate", "phone"])
    );
    // A wider scope asks again; prompt=none then says consent_required.
    let wider = at_portal(&p, &[("prompt", "none")])
        .replace("scope=openid+profile", "scope=openid+address+profile");
    assert_eq!(
        query_param(&location(&b.get(&wider).await), "error").as_deref(),
        Some("consent_required")
    );
    // Declining goes back with access_denied.
    let res = b.get(&at_portal(&p, &[("prompt", "consent")])).await;
    let page = location(&res);
    let html = b.get(&page).await.text().await.unwrap();
    // The consent form is CSRF-protected and bound to this browser, like the login form: a
    // forged "allow" changes nothing.
    let forged = b
        .post(&format!("{page}/consent"), &[("decision", "allow")])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let mut elsewhere = Browser::new(&app);
    let forged = elsewhere
        .post(
            &format!("{page}/consent"),
            &[("csrf_token", &csrf(&html)), ("decision", "allow")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let res = b
        .post(
            &format!("{page}/consent"),
            &[("csrf_token", &csrf(&html)), ("decision", "deny")],
        )
        .await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("access_denied")
    );
    // Withdrawn: the next login asks again.
    let res = app
        .client
        .delete(app.url(&format!("/v1/citizen/consents/{PORTAL}")))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .client
        .delete(app.url(&format!("/v1/citizen/consents/{PORTAL}")))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        silent_error(&mut b, &p.challenge).await.as_deref(),
        Some("consent_required")
    );
}

async fn logout_returns_only_to_registered_addresses(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let p = pkce();
    let mut b = Browser::new(&app);
    let back = sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
    let t: Value = redeem(&app, &query_param(&back, "code").unwrap(), &p.verifier)
        .await
        .json()
        .await
        .unwrap();
    let id_token = t["id_token"].as_str().unwrap();
    // An unregistered return address: signed out, but no redirect.
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "https://evil.example/");
    let res = b.get(&format!("/oauth2/logout?{}", q.finish())).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("location").is_none());
    assert!(!b.cookies.contains_key("__Host-eid_sso"));
    assert_eq!(
        silent_error(&mut b, &p.challenge).await.as_deref(),
        Some("login_required")
    );
    // A registered one, with state.
    sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9000/")
        .append_pair("state", "bye");
    let res = b.get(&format!("/oauth2/logout?{}", q.finish())).await;
    assert_eq!(location(&res), "http://127.0.0.1:9000/?state=bye");
    // Another client's registered address is not this client's.
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "https://lotusbank.example/");
    let res = b.get(&format!("/oauth2/logout?{}", q.finish())).await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn private_key_jwt_assertions_must_name_the_issuer_as_their_only_audience(backend: Backend) {
    let app = spawn_app(backend).await;
    let pem = lotus_bank_key_pem();
    let form_with = |assertion: String| {
        vec![
            ("token".to_owned(), "anything".to_owned()),
            (
                "client_assertion_type".to_owned(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion".to_owned(), assertion),
        ]
    };
    let post = |form: Vec<(String, String)>| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/oauth2/introspect"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let good = sign_assertion(eddsa_header(), &lotus_claims(&app), &pem);
    let res = post(form_with(good)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"active": false}));
    for aud in [
        json!([app.services.issuer()]),
        json!(app.url("/oauth2/token")),
        json!("https://other.example"),
    ] {
        let mut claims = lotus_claims(&app);
        claims["aud"] = aud.clone();
        let res = post(form_with(sign_assertion(eddsa_header(), &claims, &pem))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{aud}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_client"
        );
    }
    // Two methods at once, or the wrong assertion type.
    let mut form = form_with(sign_assertion(eddsa_header(), &lotus_claims(&app), &pem));
    form[1].1 = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer".into();
    let res = post(form).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(PORTAL, Some(sandbox_secret(PORTAL)))
        .form(&form_with(sign_assertion(
            eddsa_header(),
            &lotus_claims(&app),
            &pem,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// A DPoP proof (RFC 9449) by `key` for a request, with chosen claims.
fn dpop_proof(key: &ed25519_dalek::SigningKey, claims: Value, header_extra: Value) -> String {
    use ed25519_dalek::Signer;
    let mut header = json!({
        "typ": "dpop+jwt",
        "alg": "EdDSA",
        "jwk": { "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()) },
    });
    for (k, v) in header_extra.as_object().unwrap() {
        header[k] = v.clone();
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes())
    )
}

fn proof_claims(app: &TestApp, htm: &str, path: &str, access_token: Option<&str>) -> Value {
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).unwrap();
    let mut c = json!({
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "htm": htm,
        "htu": app.url(path),
        "iat": app.clock_now_secs(),
    });
    if let Some(t) = access_token {
        c["ath"] = json!(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(t.as_bytes())));
    }
    c
}

both_backends!(dpop_binds_tokens_to_the_clients_key);

async fn dpop_binds_tokens_to_the_clients_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random());
    let thief = ed25519_dalek::SigningKey::from_bytes(&rand::random());
    let p = pkce();
    let mut b = Browser::new(&app);
    let back = sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
    let code = query_param(&back, "code").unwrap();
    let token_with = |proof: String, form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/oauth2/token"))
                .basic_auth(PORTAL, Some(sandbox_secret(PORTAL)))
                .header("DPoP", proof)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let code_form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.clone()),
        ("redirect_uri", CALLBACK.to_owned()),
        ("code_verifier", p.verifier.clone()),
    ];
    // A proof for the wrong URL is refused at the token endpoint (and the code is not spent).
    let bad = dpop_proof(
        &key,
        proof_claims(&app, "POST", "/oauth2/userinfo", None),
        json!({}),
    );
    let res = token_with(bad, code_form.clone()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let good = dpop_proof(
        &key,
        proof_claims(&app, "POST", "/oauth2/token", None),
        json!({}),
    );
    let res = token_with(good, code_form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["token_type"], "DPoP");
    let access = t["access_token"].as_str().unwrap().to_owned();
    let (_, claims) = verify_with_jwks(&app, &access).await;
    assert!(claims["cnf"]["jkt"].is_string());
    assert_eq!(
        introspect(&app, PORTAL, &access).await["cnf"],
        claims["cnf"]
    );

    let call = |scheme: &'static str, proof: Option<String>| {
        let app = &app;
        let access = access.clone();
        async move {
            let mut req = app
                .client
                .get(app.url("/oauth2/userinfo"))
                .header("authorization", format!("{scheme} {access}"));
            if let Some(p) = proof {
                req = req.header("DPoP", p);
            }
            req.send().await.unwrap()
        }
    };
    let proof = |k: &ed25519_dalek::SigningKey, claims: Value| dpop_proof(k, claims, json!({}));
    let fresh = || proof_claims(&app, "GET", "/oauth2/userinfo", Some(&access));
    let ok = proof(&key, fresh());
    assert_eq!(
        call("DPoP", Some(ok.clone())).await.status(),
        StatusCode::OK
    );
    // Replayed proof.
    assert_eq!(
        call("DPoP", Some(ok)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The bound token as a plain bearer token, or without a proof.
    assert_eq!(
        call("Bearer", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call("DPoP", None).await.status(), StatusCode::UNAUTHORIZED);
    // Another key (the token was stolen).
    assert_eq!(
        call("DPoP", Some(proof(&thief, fresh()))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Wrong htm, wrong htu, stale iat, wrong ath, no ath.
    let mut c = fresh();
    c["htm"] = json!("POST");
    assert_eq!(
        call("DPoP", Some(proof(&key, c))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut c = fresh();
    c["htu"] = json!(app.url("/oauth2/token"));
    assert_eq!(
        call("DPoP", Some(proof(&key, c))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut c = fresh();
    c["iat"] = json!(app.clock_now_secs() - 300);
    let res = call("DPoP", Some(proof(&key, c))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP error=\"invalid_dpop_proof\"")
    );
    let mut c = fresh();
    c["ath"] = json!(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(b"another token")));
    assert_eq!(
        call("DPoP", Some(proof(&key, c))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut c = fresh();
    c.as_object_mut().unwrap().remove("ath");
    assert_eq!(
        call("DPoP", Some(proof(&key, c))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Header rules: typ, alg, a private key in the header.
    for extra in [
        json!({ "typ": "JWT" }),
        json!({ "alg": "none" }),
        json!({ "alg": "HS256" }),
        json!({ "jwk": { "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()), "d": URL_SAFE_NO_PAD.encode(key.to_bytes()) } }),
    ] {
        let res = call("DPoP", Some(dpop_proof(&key, fresh(), extra.clone()))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{extra}");
    }
    assert_eq!(
        call("DPoP", Some(proof(&key, fresh()))).await.status(),
        StatusCode::OK
    );

    // The refresh token is bound too: no proof or another key's proof is refused and spends
    // nothing; the right key refreshes.
    let refresh_form = || {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            (
                "refresh_token",
                t["refresh_token"].as_str().unwrap().to_owned(),
            ),
        ]
    };
    let res = token_request(
        &app,
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let stolen = dpop_proof(
        &thief,
        proof_claims(&app, "POST", "/oauth2/token", None),
        json!({}),
    );
    let res = token_with(stolen, refresh_form()).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let mine = dpop_proof(
        &key,
        proof_claims(&app, "POST", "/oauth2/token", None),
        json!({}),
    );
    let res = token_with(mine, refresh_form()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["token_type"], "DPoP");
}

both_backends!(the_app_approves_a_cross_device_login_by_qr);

async fn the_app_approves_a_cross_device_login_by_qr(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    citizen.login(&app).await;
    let session = citizen.session.clone().unwrap();
    let p = pkce();
    let mut b = Browser::new(&app);
    let page = location(&b.get(&at_portal(&p, &[])).await);
    let html = b.get(&page).await.text().await.unwrap();
    assert!(html.contains("<svg"), "the login page shows a QR code");
    let start = html.find("eid-login:").unwrap();
    let qr = html[start..start + html[start..].find('<').unwrap()].to_owned();
    assert_eq!(qr_status(&mut b, &page).await, false);
    let app_call = |method: reqwest::Method, body: Option<Value>| {
        let app = &app;
        let session = session.clone();
        let qr = qr.clone();
        async move {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("qr", &qr)
                .finish();
            let url = match body {
                Some(_) => app.url("/v1/citizen/qr-login"),
                None => app.url(&format!("/v1/citizen/qr-login?{query}")),
            };
            let mut req = app.client.request(method, url).bearer_auth(session);
            if let Some(b) = body {
                req = req.json(&b);
            }
            req.send().await.unwrap()
        }
    };
    let asking: Value = app_call(reqwest::Method::GET, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(asking["client_id"], PORTAL);
    assert_eq!(
        asking["scopes"],
        json!(["openid", "profile", "birthdate", "phone"])
    );
    // A wrong passcode approves nothing.
    let wrong = app_call(
        reqwest::Method::POST,
        Some(json!({ "qr": qr, "passcode": "000000" })),
    )
    .await;
    assert!(wrong.status().is_client_error());
    assert_eq!(qr_status(&mut b, &page).await, false);
    // Someone else's browser cannot watch or use this sign-in.
    let mut other = Browser::new(&app);
    assert_eq!(
        other.get(&format!("{page}/qr-status")).await.status(),
        StatusCode::NOT_FOUND
    );
    let ok = app_call(
        reqwest::Method::POST,
        Some(json!({ "qr": qr, "passcode": citizen.passcode })),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(qr_status(&mut b, &page).await, true);
    // The page continues by itself: signed in, on to consent.
    let res = b.get(&page).await;
    assert_eq!(location(&res), page);
    assert!(b.cookies.contains_key("__Host-eid_sso"));
    let html = b.get(&page).await.text().await.unwrap();
    let res = b
        .post(
            &format!("{page}/consent"),
            &[("csrf_token", &csrf(&html)), ("decision", "allow")],
        )
        .await;
    let code = query_param(&location(&res), "code").unwrap();
    let t: Value = redeem(&app, &code, &p.verifier).await.json().await.unwrap();
    let (_, id) = verify_with_jwks(&app, t["id_token"].as_str().unwrap()).await;
    assert_eq!(id["amr"], json!(["pin", "swk"]));
    assert_eq!(id["auth_level"], 2);
    // The code is used up with the sign-in.
    let again = app_call(
        reqwest::Method::POST,
        Some(json!({ "qr": qr, "passcode": citizen.passcode })),
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

async fn qr_status(b: &mut Browser<'_>, page: &str) -> Value {
    let res = b.get(&format!("{page}/qr-status")).await;
    res.json::<Value>().await.unwrap()["approved"].clone()
}

both_backends!(password_guessing_on_the_login_form_is_rate_limited_per_ip);

async fn password_guessing_on_the_login_form_is_rate_limited_per_ip(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(backend, dir.path());
    settings.security.ip_requests_per_minute = 3;
    let app = spawn_with(settings, dir).await;
    let citizen = Citizen::nth(&app, 0);
    let p = pkce();
    let mut b = Browser::new(&app);
    let page = location(&b.get(&at_portal(&p, &[])).await);
    let html = b.get(&page).await.text().await.unwrap();
    let token = csrf(&html);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let res = b
            .post(
                &format!("{page}/login"),
                &[
                    ("csrf_token", &token),
                    ("personal_id", citizen.id()),
                    ("password", "guess guess guess"),
                ],
            )
            .await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key("retry-after"));
        }
        statuses.push(res.status());
    }
    assert_eq!(&statuses[..3], &[StatusCode::SEE_OTHER; 3]);
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
}

/// The error a `prompt=none` request gets back at the client, if any.
async fn silent_error(b: &mut Browser<'_>, challenge: &str) -> Option<String> {
    let url = authorize_url(PORTAL, CALLBACK, challenge, &[("prompt", "none")]);
    query_param(&location(&b.get(&url).await), "error")
}

both_backends!(an_rs256_client_gets_rs256_id_tokens_and_the_gateway_still_accepts_only_eddsa);

async fn an_rs256_client_gets_rs256_id_tokens_and_the_gateway_still_accepts_only_eddsa(
    backend: Backend,
) {
    let app = spawn_with_relying_parties(backend, &rs256_client_toml()).await;
    let d: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        json!(["EdDSA", "RS256"])
    );
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let p = pkce();
    let mut b = Browser::new(&app);
    let url = authorize_url(RS256_CLIENT, CALLBACK, &p.challenge, &[]).replace(
        "scope=openid+profile+birthdate+phone",
        "scope=openid+profile",
    );
    let back = sign_in(&mut b, &citizen, &url).await;
    let code = query_param(&back, "code").unwrap();
    let t: Value = token_request(
        &app,
        RS256_CLIENT,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &p.verifier),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let id_token = t["id_token"].as_str().unwrap();
    // Verified with the RSA key of the JWKS, as an RS256-only relying party would.
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap())
            .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[RS256_CLIENT]);
    v.set_issuer(&[app.address.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &v)
        .unwrap()
        .claims;
    assert_eq!(claims["name"], citizen.truth.person.full_name);
    // Access tokens stay EdDSA.
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(access).unwrap().alg,
        jsonwebtoken::Algorithm::EdDSA
    );
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::OK);

    // The gateway's own RSA key never makes a token the gateway accepts: an access token and a
    // presentation token re-signed RS256 with that very key (and its kid) are refused.
    let rsa_pem = {
        let signing = app.services.keys.signing();
        let kid = header.kid.clone().unwrap();
        std::fs::read_to_string(signing.join(format!("{kid}.pem"))).unwrap()
    };
    let rsa_key = {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&rsa_pem).unwrap();
        jsonwebtoken::EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes())
    };
    let resign = |token: &str, typ: &str| {
        let claims: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = header.kid.clone();
        h.typ = Some(typ.into());
        jsonwebtoken::encode(&h, &claims, &rsa_key).unwrap()
    };
    let forged_access = resign(access, "at+jwt");
    assert_eq!(
        userinfo(&app, &forged_access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        introspect(&app, RS256_CLIENT, &forged_access).await["active"],
        false
    );
    let mut app_citizen = Citizen::nth(&app, 0);
    app_citizen.device = citizen.device.clone();
    app_citizen.login(&app).await;
    let presentation = app_citizen.token_for(&app, PORTAL, "n").await;
    let forged = resign(&presentation, "eid-presentation+jwt");
    let v = crate::citizen::verify(&app, PORTAL, &forged, Some("n")).await;
    assert_eq!(v["valid"], false, "{v}");
}

/// The portal's authorization URL for this PKCE pair, with extra parameters.
fn at_portal(p: &Pkce, extra: &[(&str, &str)]) -> String {
    authorize_url(PORTAL, CALLBACK, &p.challenge, extra)
}
