//! Relying parties registered without touching the gateway's files: through the operator API
//! (what `eidgw rp register` calls), and by dynamic client registration (RFC 7591, managed with
//! RFC 7592) — open in the sandbox, behind an operator's initial access token in production.
//! A registration made on one instance logs a citizen in through another at once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::citizen::Citizen;
use crate::helpers::*;
use crate::oidc::{Browser, pkce, query_param, sign_in};

const CALLBACK: &str = "http://127.0.0.1:9300/callback";

async fn operator(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.url(&format!("/v1/operator{path}")))
        .basic_auth(DEV_OPERATOR.0, Some(DEV_OPERATOR.1));
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn me(app: &TestApp, client: &str, secret: &str) -> StatusCode {
    app.client
        .get(app.url("/v1/clients/me"))
        .basic_auth(client, Some(secret))
        .send()
        .await
        .unwrap()
        .status()
}

fn authorize_url(client: &str, challenge: &str) -> String {
    format!(
        "/oauth2/authorize?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client)
            .append_pair("redirect_uri", CALLBACK)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile")
            .append_pair("state", "s")
            .append_pair("nonce", "n")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .finish()
    )
}

/// A citizen signs in at `client` through `app`'s pages and the client redeems the code.
async fn logs_in(app: &TestApp, client: &str, secret: &str, citizen: &Citizen) -> Value {
    let p = pkce();
    let mut b = Browser::new(app);
    let back = sign_in(&mut b, citizen, &authorize_url(client, &p.challenge)).await;
    assert!(back.starts_with(CALLBACK), "{back}");
    let code = query_param(&back, "code").unwrap();
    let res = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(client, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &p.verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

both_backends!(
    an_operator_registration_on_one_instance_logs_in_through_another_at_once,
    an_operator_manages_a_client_and_every_change_is_audited,
    a_client_registers_itself_and_manages_its_registration,
    dynamic_registration_refuses_metadata_it_does_not_accept,
);

#[tokio::test]
async fn on_a_cluster_an_operator_registration_on_one_instance_logs_in_through_another_at_once() {
    an_operator_registration_on_one_instance_logs_in_through_another_at_once(Backend::RedisCluster)
        .await
}

async fn an_operator_registration_on_one_instance_logs_in_through_another_at_once(b: Backend) {
    let a = spawn_app(b).await;
    let second = match b {
        Backend::Redis | Backend::RedisCluster => Some(spawn_second(&a).await),
        Backend::Embedded => None,
    };
    let other = second.as_ref().unwrap_or(&a);
    let res = operator(
        &a,
        reqwest::Method::POST,
        "/relying-parties",
        Some(json!({
            "name": "Clinic Saigon", "redirect_uris": [CALLBACK], "sandbox": true,
            "allowed_claims": ["full_name", "sex"], "permissions": ["verify"]
        })),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let created: Value = res.json().await.unwrap();
    let client = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(client.starts_with("rp-"));
    assert_eq!(created["sector"], "127.0.0.1");
    assert_eq!(created["authentication_method"], "client_secret_basic");
    assert!(secret.len() >= 43, "256 bits");
    // Only the secret's digest is kept.
    let stored = a
        .services
        .relying_parties
        .get(&eid_gateway::domain::ClientId::parse(&client).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!serde_json::to_string(&stored).unwrap().contains(&secret));
    // At once, through the other instance.
    assert_eq!(me(other, &client, &secret).await, StatusCode::OK);
    let citizen = Citizen::nth(&a, 0);
    citizen.register(&a).await;
    let tokens = logs_in(other, &client, &secret, &citizen).await;
    assert!(tokens["id_token"].is_string());
    // A secret shown once is not shown again.
    let shown: Value = operator(
        other,
        reqwest::Method::GET,
        &format!("/relying-parties/{client}"),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(shown.get("client_secret").is_none(), "{shown}");
    assert_eq!(shown["source"], "operator");
}

async fn an_operator_manages_a_client_and_every_change_is_audited(b: Backend) {
    let a = spawn_app(b).await;
    let second = match b {
        Backend::Redis | Backend::RedisCluster => Some(spawn_second(&a).await),
        Backend::Embedded => None,
    };
    let other = second.as_ref().unwrap_or(&a);
    let created: Value = operator(
        &a,
        reqwest::Method::POST,
        "/relying-parties",
        Some(
            json!({ "client_id": "metro-pharmacy", "name": "Metro Pharmacy", "sandbox": true,
            "permissions": ["verify"], "redirect_uris": [CALLBACK] }),
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = "metro-pharmacy";
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(me(other, id, &secret).await, StatusCode::OK);

    // Taken ids, the file's clients and bad input are refused, and change nothing.
    let res = operator(
        &a,
        reqwest::Method::POST,
        "/relying-parties",
        Some(json!({ "client_id": id, "name": "Again", "sandbox": true })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "client_id_taken"
    );
    for path in [
        "/relying-parties/vietsky-air/disable",
        "/relying-parties/vietsky-air/rotate-secret",
    ] {
        let res = operator(&a, reqwest::Method::POST, path, None).await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{path}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["code"],
            "registered_in_file"
        );
    }
    for bad in [
        json!({ "name": "x", "redirect_uris": ["http://evil.example/cb"], "sandbox": true }),
        json!({ "name": "x", "redirect_uris": ["https://rp.example/cb#frag"] }),
        json!({ "name": "x", "redirect_uris": ["/relative"] }),
        json!({ "name": "x", "redirect_uris": ["http://127.0.0.1/cb"] }),
        json!({ "name": " ", "sandbox": true }),
        json!({ "name": "x", "public_key": { "kty": "OKP", "crv": "Ed25519", "x": "c2hvcnQ" } }),
        json!({ "name": "x", "min_level": 3 }),
        json!({ "name": "x", "unknown_field": 1 }),
        // A threshold above the largest amount a transaction may carry could never apply.
        json!({ "name": "x", "sandbox": true, "step_up": [{ "transaction": "bank_transfer", "above_amount_vnd": 1_000_000_000_001_u64, "min_auth_level": 3 }] }),
        json!({ "name": "x", "sandbox": true, "step_up": [{ "transaction": "bank_transfer", "above_amount_vnd": u64::MAX, "min_auth_level": 3 }] }),
    ] {
        let res = operator(
            &a,
            reqwest::Method::POST,
            "/relying-parties",
            Some(bad.clone()),
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let listed: Vec<Value> = operator(&a, reqwest::Method::GET, "/relying-parties", None)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed
        .iter()
        .map(|r| r["client_id"].as_str().unwrap())
        .collect();
    for expected in ["vietsky-air", "lotus-bank", "public-services-portal", id] {
        assert!(ids.contains(&expected), "{ids:?}");
    }
    assert_eq!(ids.len(), listed.len());

    // A change reaches the other instance.
    let res = operator(&a, reqwest::Method::PUT, &format!("/relying-parties/{id}"),
        Some(json!({ "name": "Metro Pharmacy 24h", "sandbox": true, "permissions": ["verify"], "redirect_uris": [CALLBACK] }))).await;
    assert_eq!(res.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen: Value = other
        .client
        .get(other.url("/v1/clients/me"))
        .basic_auth(id, Some(&secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["name"], "Metro Pharmacy 24h");

    // A rotated secret replaces the old one everywhere.
    let rotated: Value = operator(
        &a,
        reqwest::Method::POST,
        &format!("/relying-parties/{id}/rotate-secret"),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(me(&a, id, &secret).await, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(me(other, id, &secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(other, id, &new_secret).await, StatusCode::OK);

    // Disabled: no authentication anywhere; enabled again: back.
    let res = operator(
        &a,
        reqwest::Method::POST,
        &format!("/relying-parties/{id}/disable"),
        None,
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["disabled"], true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(me(other, id, &new_secret).await, StatusCode::UNAUTHORIZED);
    operator(
        &a,
        reqwest::Method::POST,
        &format!("/relying-parties/{id}/enable"),
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(me(other, id, &new_secret).await, StatusCode::OK);

    // A public key makes it a private_key_jwt client.
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random());
    let x = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        key.verifying_key().as_bytes(),
    );
    let res = operator(
        &a,
        reqwest::Method::PUT,
        &format!("/relying-parties/{id}/public-key"),
        Some(json!({ "public_key": x })),
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["authentication_method"],
        "private_key_jwt"
    );
    assert_eq!(me(&a, id, &new_secret).await, StatusCode::UNAUTHORIZED);

    // Every change is in the audit log, never with a secret.
    let entries = a
        .store()
        .read_log(eid_gateway::store::Log::Audit, 1, 10_000)
        .await
        .unwrap();
    let text: Vec<String> = entries
        .iter()
        .map(|(_, e)| String::from_utf8_lossy(e).into_owned())
        .collect();
    for kind in [
        "relying_party_registered",
        "relying_party_changed",
        "client_secret_rotated",
        "relying_party_disabled",
        "relying_party_enabled",
        "client_key_replaced",
    ] {
        assert!(
            text.iter().any(|t| t.contains(kind) && t.contains(id)),
            "{kind} is audited"
        );
    }
    assert!(
        !text
            .iter()
            .any(|t| t.contains(&secret) || t.contains(&new_secret))
    );
    // Without operator credentials nothing is listed.
    let res = a
        .client
        .get(a.url("/v1/operator/relying-parties"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn register_dynamically(
    app: &TestApp,
    metadata: Value,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = app.client.post(app.url("/oauth2/register")).json(&metadata);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn a_client_registers_itself_and_manages_its_registration(b: Backend) {
    let app = spawn_app(b).await;
    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["registration_endpoint"],
        format!("{}/oauth2/register", app.services.issuer())
    );
    let res = register_dynamically(
        &app,
        json!({ "client_name": "My dev app", "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic", "scope": "openid profile",
            "logo_uri": "https://ignored.example/logo.png" }),
        None,
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let info: Value = res.json().await.unwrap();
    let client = info["client_id"].as_str().unwrap().to_owned();
    let secret = info["client_secret"].as_str().unwrap().to_owned();
    let token = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(info["client_secret_expires_at"], 0);
    assert_eq!(info["client_name"], "My dev app");
    assert_eq!(info["subject_type"], "pairwise");
    assert_eq!(
        info["registration_client_uri"],
        format!("{}/oauth2/register/{client}", app.services.issuer())
    );
    // A sandbox client, with sandbox permissions only.
    let rp = app
        .services
        .relying_parties
        .get(&eid_gateway::domain::ClientId::parse(&client).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(rp.sandbox);
    assert!(!rp.may(eid_gateway::relying_parties::Permission::MatchBatch));
    // It logs a citizen in.
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    logs_in(&app, &client, &secret, &citizen).await;

    // RFC 7592: read, update, delete with the registration access token only.
    let uri = format!("/oauth2/register/{client}");
    let res = app
        .client
        .get(app.url(&uri))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let read: Value = res.json().await.unwrap();
    assert!(read.get("client_secret").is_none());
    for wrong in [None, Some("not-the-token"), Some(secret.as_str())] {
        let mut req = app.client.get(app.url(&uri));
        if let Some(w) = wrong {
            req = req.bearer_auth(w);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_token");
    }
    // Another client's token manages nothing here.
    let other: Value = register_dynamically(&app, json!({ "redirect_uris": [CALLBACK] }), None)
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .client
        .get(app.url(&uri))
        .bearer_auth(other["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .put(app.url(&uri))
        .bearer_auth(&token)
        .json(
            &json!({ "client_id": client, "client_name": "Renamed", "redirect_uris": [CALLBACK] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(me(&app, &client, &secret).await, StatusCode::OK);
    let res = app
        .client
        .put(app.url(&uri))
        .bearer_auth(&token)
        .json(&json!({ "client_id": "someone-else", "redirect_uris": [CALLBACK] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .client
        .delete(app.url(&uri))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &client, &secret).await, StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .get(app.url(&uri))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn dynamic_registration_refuses_metadata_it_does_not_accept(b: Backend) {
    let app = spawn_app(b).await;
    let rsa = json!({ "kty": "RSA", "n": "AQAB", "e": "AQAB" });
    let cases = [
        (
            json!({ "redirect_uris": ["https://rp.example/cb#x"] }),
            "invalid_redirect_uri",
        ),
        (
            json!({ "redirect_uris": ["http://rp.example/cb"] }),
            "invalid_redirect_uri",
        ),
        (json!({ "redirect_uris": ["cb"] }), "invalid_redirect_uri"),
        (json!({}), "invalid_redirect_uri"),
        (
            json!({ "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "client_secret_post" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt", "jwks": { "keys": [rsa] } }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt", "jwks": { "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": "c2hvcnQ" }] } }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [CALLBACK], "jwks_uri": "https://rp.example/jwks" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [CALLBACK], "grant_types": ["implicit"] }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [CALLBACK], "response_types": ["token"] }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [CALLBACK], "subject_type": "public" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [CALLBACK], "id_token_signed_response_alg": "none" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": "not-a-list" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "redirect_uris": [CALLBACK], "client_id": "mine" }),
            "invalid_client_metadata",
        ),
    ];
    for (metadata, error) in cases {
        let res = register_dynamically(&app, metadata.clone(), None).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{metadata}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], error, "{metadata}: {body}");
        assert!(body["error_description"].is_string());
    }
    let res = app
        .client
        .post(app.url("/oauth2/register"))
        .header("content-type", "text/plain")
        .body("redirect_uris=x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
    // Nothing was registered by any of them.
    let all = app.services.relying_parties.list().await.unwrap();
    assert!(
        all.iter()
            .all(|rp| rp.source != eid_gateway::relying_parties::RegistrationSource::Dynamic)
    );
    // A P-256 key is fine, and so is an Ed25519 one.
    let p256 = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
    let point = p256.verifying_key().to_encoded_point(false);
    let b64 =
        |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    let res = register_dynamically(&app, json!({ "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": { "keys": [{ "kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()), "kid": "k1", "use": "sig" }] } }), None).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let info: Value = res.json().await.unwrap();
    assert!(info.get("client_secret").is_none());
    assert_eq!(info["token_endpoint_auth_method"], "private_key_jwt");
}

/// In production nobody registers without an operator's initial access token, which works once.
#[tokio::test]
async fn production_registration_needs_an_initial_access_token_used_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::http_basics::production_settings(dir.path());
    let dev = eid_gateway::config::Settings::load(
        &repo().join("config"),
        eid_gateway::config::Environment::Dev,
    )
    .unwrap();
    settings.operators = dev.operators;
    let app = spawn_with(settings, dir).await;
    let metadata =
        json!({ "client_name": "Bank app", "redirect_uris": ["https://bank.example/cb"] });
    let res = register_dynamically(&app, metadata.clone(), None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_token");
    let res = register_dynamically(&app, metadata.clone(), Some("made-up")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let issued: Value = operator(
        &app,
        reqwest::Method::POST,
        "/initial-access-tokens",
        Some(json!({ "expires_in": 3600 })),
    )
    .await
    .json()
    .await
    .unwrap();
    let token = issued["initial_access_token"].as_str().unwrap();
    // Loopback http is for the sandbox only.
    let res = register_dynamically(&app, json!({ "redirect_uris": [CALLBACK] }), Some(token)).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_redirect_uri"
    );
    let issued: Value = operator(&app, reqwest::Method::POST, "/initial-access-tokens", None)
        .await
        .json()
        .await
        .unwrap();
    let token = issued["initial_access_token"].as_str().unwrap();
    let res = register_dynamically(&app, metadata.clone(), Some(token)).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let info: Value = res.json().await.unwrap();
    let rp = app
        .services
        .relying_parties
        .get(&eid_gateway::domain::ClientId::parse(info["client_id"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!rp.sandbox, "a production client is not a sandbox one");
    let res = register_dynamically(&app, metadata, Some(token)).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the token was single use"
    );
    // And the operator API refuses sandbox clients in production.
    let res = operator(
        &app,
        reqwest::Method::POST,
        "/relying-parties",
        Some(json!({ "name": "Sandbox", "sandbox": true })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// `eidgw rp register` and friends, run as a developer would, against a running gateway.
#[tokio::test]
async fn the_rp_commands_register_and_manage_a_client_through_the_operator_api() {
    let app = spawn_app(Backend::Embedded).await;
    let run = |args: Vec<String>| {
        let address = app.address.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
                    .current_dir(repo())
                    .arg("rp")
                    .args(args)
                    .env("EIDGW_GATEWAY", address)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let out = run(args(&[
        "register",
        "--name",
        "Clinic Hue",
        "--redirect-uri",
        CALLBACK,
        "--redirect-uri",
        "http://127.0.0.1:9300/other",
        "--permissions",
        "verify,ciba",
        "--allowed-claims",
        "full_name,birth_date",
        "--min-level",
        "2",
        "--sandbox",
    ]))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("client_secret") && text.contains("shown this once"),
        "{text}"
    );
    let client = text
        .lines()
        .find_map(|l| l.strip_prefix("client_id"))
        .unwrap()
        .trim()
        .to_owned();
    let secret = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("client_secret"))
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(me(&app, &client, &secret).await, StatusCode::OK);
    let shown: Value =
        serde_json::from_slice(&run(args(&["show", &client, "--json"])).await.stdout).unwrap();
    assert_eq!(shown["min_level"], 2);
    assert_eq!(shown["redirect_uris"].as_array().unwrap().len(), 2);
    assert!(shown.get("client_secret").is_none());
    let listed = String::from_utf8_lossy(&run(args(&["list"])).await.stdout).into_owned();
    assert!(
        listed.contains(&client) && listed.contains("vietsky-air"),
        "{listed}"
    );
    let rotated: Value = serde_json::from_slice(
        &run(args(&["rotate-secret", &client, "--json"]))
            .await
            .stdout,
    )
    .unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_eq!(me(&app, &client, &secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &client, new_secret).await, StatusCode::OK);
    assert!(run(args(&["disable", &client])).await.status.success());
    assert_eq!(
        me(&app, &client, new_secret).await,
        StatusCode::UNAUTHORIZED
    );
    // A private_key_jwt client from a PEM file; a file's client cannot be changed.
    let pem_dir = tempfile::tempdir().unwrap();
    let pem = pem_dir.path().join("rp.pem");
    std::fs::write(&pem, random_ed25519_pem()).unwrap();
    let out = run(vec![
        "register".into(),
        "--name".into(),
        "Kiosk app".into(),
        "--sandbox".into(),
        "--public-key".into(),
        pem.display().to_string(),
        "--json".into(),
    ])
    .await;
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["authentication_method"], "private_key_jwt");
    assert!(r.get("client_secret").is_none());
    let out = run(args(&["disable", "lotus-bank"])).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("registered_in_file"));
}
