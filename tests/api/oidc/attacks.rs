//! The attacks of RFC 9700 and the OpenID conformance suite's negative cases: redirect URIs,
//! codes, PKCE, PAR, refresh reuse, token kinds, CSRF, client assertions, password guessing.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::both_backends;
use crate::citizen::Citizen;

both_backends!(
    redirect_uris_must_match_exactly_and_errors_never_go_elsewhere,
    codes_are_single_use_bound_to_client_redirect_and_verifier,
    pkce_s256_is_required_and_other_response_types_and_grants_are_refused,
    pushed_requests_are_single_use_and_bound_to_their_client,
    a_refresh_token_reused_revokes_its_family,
    token_kinds_are_never_accepted_for_one_another,
    forms_need_the_browser_binding_and_the_csrf_token,
    private_key_jwt_assertions_must_name_the_issuer_as_their_only_audience,
    password_guessing_on_the_login_form_is_rate_limited_per_ip,
    concurrent_redemptions_of_one_code_leave_no_tokens_alive,
    concurrent_reuse_of_one_refresh_token_leaves_no_tokens_alive,
);

/// The races between two gateways, on a cluster too: the code and its used mark share a slot.
mod on_a_cluster {
    use crate::helpers::Backend;

    #[tokio::test]
    async fn concurrent_redemptions_of_one_code_leave_no_tokens_alive() {
        super::concurrent_redemptions_of_one_code_leave_no_tokens_alive(Backend::RedisCluster).await
    }

    #[tokio::test]
    async fn concurrent_reuse_of_one_refresh_token_leaves_no_tokens_alive() {
        super::concurrent_reuse_of_one_refresh_token_leaves_no_tokens_alive(Backend::RedisCluster)
            .await
    }
}

/// Two gateways on one store where the backend is shared (Redis), or one gateway twice (the
/// embedded store is one process's).
async fn racing_gateways(app: &TestApp, backend: Backend) -> Option<TestApp> {
    match backend {
        Backend::Redis | Backend::RedisCluster => Some(crate::helpers::spawn_second(app).await),
        Backend::Embedded => None,
    }
}

/// Both requests leave at one barrier; whatever the timing, a second redemption must kill what
/// the first issued (RFC 6749 §4.1.2, RFC 9700 §4.5).
async fn concurrent_redemptions_of_one_code_leave_no_tokens_alive(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = racing_gateways(&app, backend).await;
    let other = second.as_ref().unwrap_or(&app);
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut b = Browser::new(&app);
    for round in 0..25 {
        let p = pkce();
        let code = query_param(
            &sign_in(&mut b, &citizen, &at_portal(&p, &[])).await,
            "code",
        )
        .unwrap();
        let barrier = tokio::sync::Barrier::new(2);
        let race = |target: &TestApp| {
            let (code, verifier, barrier) = (&code, &p.verifier, &barrier);
            let request = target
                .client
                .post(target.url("/oauth2/token"))
                .basic_auth(PORTAL, Some(sandbox_secret(PORTAL)))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", CALLBACK),
                    ("code_verifier", verifier.as_str()),
                ]);
            async move {
                barrier.wait().await;
                request.send().await.unwrap()
            }
        };
        let (x, y) = tokio::join!(race(&app), race(other));
        let mut answers = Vec::new();
        for res in [x, y] {
            let status = res.status();
            answers.push((status, res.json::<Value>().await.unwrap()));
        }
        let winners: Vec<&Value> = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .map(|(_, body)| body)
            .collect();
        assert!(winners.len() <= 1, "round {round}: two winners");
        assert!(
            answers
                .iter()
                .any(|(s, body)| *s == StatusCode::BAD_REQUEST && body["error"] == "invalid_grant"),
            "round {round}: {answers:?}"
        );
        for tokens in winners {
            let access = tokens["access_token"].as_str().unwrap();
            for gateway in [&app, other] {
                assert_eq!(
                    introspect(gateway, PORTAL, access).await["active"],
                    false,
                    "round {round}: the winner's access token stayed active"
                );
            }
            let refresh = token_request(
                other,
                PORTAL,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ],
            )
            .await;
            assert_eq!(
                refresh.status(),
                StatusCode::BAD_REQUEST,
                "round {round}: the winner's refresh token stayed usable"
            );
        }
    }
}

/// The same race with a refresh token: one use at most, and then its family is dead.
async fn concurrent_reuse_of_one_refresh_token_leaves_no_tokens_alive(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = racing_gateways(&app, backend).await;
    let other = second.as_ref().unwrap_or(&app);
    for round in 0..10 {
        let (_, t) = logged_in_at_portal(&app, round).await;
        let refresh_token = t["refresh_token"].as_str().unwrap().to_owned();
        let barrier = tokio::sync::Barrier::new(2);
        let race = |target: &TestApp| {
            let request = target
                .client
                .post(target.url("/oauth2/token"))
                .basic_auth(PORTAL, Some(sandbox_secret(PORTAL)))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token.as_str()),
                ]);
            let barrier = &barrier;
            async move {
                barrier.wait().await;
                request.send().await.unwrap()
            }
        };
        let (x, y) = tokio::join!(race(&app), race(other));
        let mut winners = Vec::new();
        for res in [x, y] {
            if res.status() == StatusCode::OK {
                winners.push(res.json::<Value>().await.unwrap());
            }
        }
        assert!(winners.len() <= 1, "round {round}: two winners");
        for tokens in winners {
            assert_eq!(
                introspect(other, PORTAL, tokens["access_token"].as_str().unwrap()).await["active"],
                false,
                "round {round}"
            );
        }
        // The original access token of the family is dead too.
        assert_eq!(
            introspect(&app, PORTAL, t["access_token"].as_str().unwrap()).await["active"],
            false,
            "round {round}"
        );
    }
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
    // Vietnamese by default, the code only as a marker for support and tests.
    assert!(
        html.contains(r#"data-error="invalid_credentials""#),
        "{html}"
    );
    assert!(
        html.contains("Số định danh hoặc mật khẩu không đúng"),
        "{html}"
    );
    assert!(html.contains("name=\"password\""));
    // Each login gets a new SSO session id.
    let citizen1 = Citizen::nth(&app, 0);
    let mut d = Browser::new(&app);
    sign_in(&mut d, &citizen1, &at_portal(&p, &[])).await;
    let first = d.cookies["eid_sso"].clone();
    sign_in(&mut d, &citizen1, &at_portal(&p, &[("prompt", "login")])).await;
    assert_ne!(d.cookies["eid_sso"], first);
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
