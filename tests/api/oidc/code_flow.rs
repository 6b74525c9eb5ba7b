//! The flow as relying parties use it: discovery, the code flow end to end, prompt, acr and
//! single sign-on, consent, logout, the cross-device QR login, RS256 clients.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::both_backends;
use crate::citizen::Citizen;

both_backends!(
    discovery_names_the_issuer_and_only_what_is_built,
    the_code_flow_gives_signed_tokens_userinfo_refresh_introspection_and_revocation,
    prompt_acr_max_age_and_single_sign_on,
    consent_is_remembered_listed_and_withdrawable,
    logout_returns_only_to_registered_addresses,
    the_app_approves_a_cross_device_login_by_qr,
    an_rs256_client_gets_rs256_id_tokens_and_the_gateway_still_accepts_only_eddsa,
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
        json!([
            "authorization_code",
            "refresh_token",
            "urn:openid:params:grant-type:ciba"
        ])
    );
    assert_eq!(
        d["backchannel_token_delivery_modes_supported"],
        json!(["poll"])
    );
    assert_eq!(d["backchannel_user_code_parameter_supported"], false);
    assert_eq!(
        d["authorization_details_types_supported"],
        json!(["bank_transfer"])
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
        "backchannel_authentication_endpoint",
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
    // The cookies on this http (loopback) gateway: HttpOnly, SameSite=Lax, host-only, and not
    // Secure, so that scripted clients' cookie jars send them (over https: `__Host-` and Secure,
    // tested below).
    for line in &b.set_cookie_lines {
        assert!(line.starts_with("eid_"), "{line}");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(line.contains(attr), "{line}");
        }
        assert!(
            !line.contains("Domain") && !line.contains("Secure"),
            "{line}"
        );
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
    assert!(!b.cookies.contains_key("eid_sso"));
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
    let start = html.find("<code data-qr-text>").unwrap() + "<code data-qr-text>".len();
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
    assert!(b.cookies.contains_key("eid_sso"));
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

/// Behind an https issuer the browser cookies are `__Host-` cookies: Secure, host-only, path /.
#[tokio::test]
async fn over_https_the_browser_cookies_are_host_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(Backend::Embedded, dir.path());
    settings.server.public_url = "https://id.example.test".into();
    let app = crate::helpers::spawn_with(settings, dir).await;
    let p = pkce();
    let res = app.get(&at_portal(&p, &[])).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let lines: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(!lines.is_empty());
    for line in lines {
        assert!(line.starts_with("__Host-eid_flow="), "{line}");
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(line.contains(attr), "{line}");
        }
        assert!(!line.contains("Domain"), "{line}");
    }
}

/// The authorization endpoint by form POST (OpenID Connect Core §3.1.2.1) starts the same
/// sign-in as GET, and ends in a code the portal redeems.
#[tokio::test]
async fn authorization_by_form_post_signs_in_like_get() {
    let app = spawn_app(Backend::Embedded).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let p = pkce();
    let get_url = at_portal(&p, &[]);
    let query = get_url.split_once('?').unwrap().1.to_owned();
    let form: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut b = Browser::new(&app);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = b.post("/oauth2/authorize", &pairs).await;
    let page = location(&res);
    assert!(page.starts_with("/oauth2/interaction/"), "{page}");
    let back = sign_in(&mut b, &citizen, &format!("/oauth2/authorize?{query}")).await;
    let code = query_param(&back, "code").expect("a code");
    assert_eq!(
        redeem(&app, &code, &p.verifier).await.status(),
        StatusCode::OK
    );
}
