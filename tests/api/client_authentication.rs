//! Relying-party authentication: client_secret_basic and private_key_jwt, with every attack the
//! foundation issue names as a negative test, on both backends.

use std::time::Duration;

use eid_gateway::audit::{AuditEntry, AuditKind};
use eid_gateway::store::Log;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

async fn me_with_basic(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.client
        .get(app.url("/v1/clients/me"))
        .basic_auth(id, Some(secret))
        .send()
        .await
        .unwrap()
}

async fn me_with_assertion(app: &TestApp, jwt: &str) -> reqwest::Response {
    app.client
        .get(app.url("/v1/clients/me"))
        .header("authorization", format!("private_key_jwt {jwt}"))
        .send()
        .await
        .unwrap()
}

async fn assert_invalid_client(res: reqwest::Response) -> serde_json::Value {
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(res.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_client");
    body
}

async fn audited_failures(app: &TestApp) -> Vec<serde_json::Value> {
    app.store()
        .read_log(Log::Audit, 1, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| serde_json::from_slice::<AuditEntry>(&e).unwrap())
        .filter(|e| e.body.kind == AuditKind::ClientAuthenticationFailed)
        .map(|e| e.body.details)
        .collect()
}

both_backends!(
    a_client_with_the_right_secret_sees_its_registration,
    unknown_client_and_wrong_secret_are_refused_alike_and_audited,
    missing_or_garbled_credentials_are_refused,
    a_valid_private_key_jwt_assertion_authenticates,
    an_assertion_signed_by_another_key_is_refused,
    alg_none_and_hs256_assertions_are_refused,
    an_expired_assertion_is_refused,
    an_assertion_living_longer_than_five_minutes_is_refused,
    a_replayed_jti_is_refused,
    a_wrong_audience_or_an_audience_array_is_refused,
    assertions_carrying_their_own_keys_are_refused,
    an_assertion_for_a_secret_client_is_refused,
);

async fn a_client_with_the_right_secret_sees_its_registration(b: Backend) {
    let app = spawn_app(b).await;
    let res = me_with_basic(&app, "vietsky-air", sandbox_secret("vietsky-air")).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["client_id"], "vietsky-air");
    assert_eq!(body["authentication_method"], "client_secret_basic");
    assert_eq!(body["min_level"], 2);
    assert!(
        body.get("secret_sha256").is_none() && !body.to_string().contains("3694e88c"),
        "no credential material"
    );
}

async fn unknown_client_and_wrong_secret_are_refused_alike_and_audited(b: Backend) {
    let app = spawn_app(b).await;
    let unknown =
        assert_invalid_client(me_with_basic(&app, "no-such-client", "whatever").await).await;
    let wrong = assert_invalid_client(
        me_with_basic(&app, "vietsky-air", sandbox_secret("mekong-telecom")).await,
    )
    .await;
    assert_eq!(
        unknown, wrong,
        "same body: nothing reveals whether the client exists"
    );
    let failures = audited_failures(&app).await;
    let reasons: Vec<&str> = failures
        .iter()
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, vec!["unknown_client", "wrong_secret"]);
    assert!(
        !failures
            .iter()
            .any(|d| d.to_string().contains(sandbox_secret("mekong-telecom"))),
        "no secret in the audit log"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("eidgw_client_authentication_failures_total{reason=\"wrong_secret\"} 1")
    );
}

async fn missing_or_garbled_credentials_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    assert_invalid_client(app.get("/v1/clients/me").await).await;
    for header in [
        "Basic",
        "Basic !!!notbase64",
        "Basic dmlldHNreS1haXI=",
        "Bearer abc",
        "private_key_jwt not.a.jwt",
    ] {
        let res = app
            .client
            .get(app.url("/v1/clients/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_invalid_client(res).await;
    }
}

async fn a_valid_private_key_jwt_assertion_authenticates(b: Backend) {
    let app = spawn_app(b).await;
    let jwt = sign_assertion(eddsa_header(), &lotus_claims(&app), &lotus_bank_key_pem());
    let res = me_with_assertion(&app, &jwt).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["client_id"], "lotus-bank");
    assert_eq!(body["authentication_method"], "private_key_jwt");
}

async fn an_assertion_signed_by_another_key_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    let jwt = sign_assertion(eddsa_header(), &lotus_claims(&app), &random_ed25519_pem());
    assert_invalid_client(me_with_assertion(&app, &jwt).await).await;
    assert_eq!(
        audited_failures(&app).await[0]["reason"],
        "assertion_signature"
    );
}

async fn alg_none_and_hs256_assertions_are_refused(b: Backend) {
    use base64::Engine;
    let app = spawn_app(b).await;
    let claims = lotus_claims(&app);
    let enc = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        enc(&json!({"alg": "none", "typ": "JWT"})),
        enc(&claims)
    );
    assert_invalid_client(me_with_assertion(&app, &none).await).await;
    let none_sig = format!("{}.{}.c2ln", enc(&json!({"alg": "none"})), enc(&claims));
    let body = assert_invalid_client(me_with_assertion(&app, &none_sig).await).await;
    assert!(body["detail"].as_str().unwrap().contains("only EdDSA"));
    // HS256 keyed with the client's public key bytes: the classic algorithm-confusion attack.
    let public = eid_gateway::tokens::jwk::parse_ed25519_public_key(
        "WvwlTxJSXQqOXKzaDDHjGbZWitaGB5Fo_vaTVC0GYwM",
    )
    .unwrap();
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    assert_invalid_client(me_with_assertion(&app, &hs).await).await;
    let reasons: Vec<String> = audited_failures(&app)
        .await
        .iter()
        .map(|d| d["reason"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r == "assertion_algorithm" || r == "assertion_malformed"),
        "{reasons:?}"
    );
}

async fn an_expired_assertion_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    let jwt = sign_assertion(eddsa_header(), &lotus_claims(&app), &lotus_bank_key_pem());
    // exp is now+120; the leeway is 30 s.
    app.clock.advance(Duration::from_secs(151));
    let body = assert_invalid_client(me_with_assertion(&app, &jwt).await).await;
    assert!(body["detail"].as_str().unwrap().contains("expired"));
}

async fn an_assertion_living_longer_than_five_minutes_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    let mut claims = lotus_claims(&app);
    claims["exp"] = json!(app.clock_now_secs() + 3_600);
    let jwt = sign_assertion(eddsa_header(), &claims, &lotus_bank_key_pem());
    let body = assert_invalid_client(me_with_assertion(&app, &jwt).await).await;
    assert!(body["detail"].as_str().unwrap().contains("longer"));
}

async fn a_replayed_jti_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    let jwt = sign_assertion(eddsa_header(), &lotus_claims(&app), &lotus_bank_key_pem());
    assert_eq!(me_with_assertion(&app, &jwt).await.status(), 200);
    let body = assert_invalid_client(me_with_assertion(&app, &jwt).await).await;
    assert!(body["detail"].as_str().unwrap().contains("already used"));
    // And without a jti there is nothing to make it single use: refused.
    let mut claims = lotus_claims(&app);
    claims.as_object_mut().unwrap().remove("jti");
    let jwt = sign_assertion(eddsa_header(), &claims, &lotus_bank_key_pem());
    assert_invalid_client(me_with_assertion(&app, &jwt).await).await;
}

async fn a_wrong_audience_or_an_audience_array_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    let issuer = app.services.issuer().to_owned();
    for aud in [
        json!("https://evil.example"),
        json!(format!("{issuer}/token")),
        json!([issuer.clone()]),
        json!([issuer, "other"]),
    ] {
        let mut claims = lotus_claims(&app);
        claims["aud"] = aud.clone();
        let jwt = sign_assertion(eddsa_header(), &claims, &lotus_bank_key_pem());
        let body = assert_invalid_client(me_with_assertion(&app, &jwt).await).await;
        assert!(body["detail"].as_str().unwrap().contains("aud"), "{aud}");
    }
}

async fn assertions_carrying_their_own_keys_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    let mut header = eddsa_header();
    header.jku = Some("https://evil.example/jwks.json".into());
    let jwt = sign_assertion(header, &lotus_claims(&app), &lotus_bank_key_pem());
    let body = assert_invalid_client(me_with_assertion(&app, &jwt).await).await;
    assert!(body["detail"].as_str().unwrap().contains("jku"));
    let mut header = eddsa_header();
    header.crit = Some(vec!["exp".into()]);
    let jwt = sign_assertion(header, &lotus_claims(&app), &lotus_bank_key_pem());
    assert_invalid_client(me_with_assertion(&app, &jwt).await).await;
}

async fn an_assertion_for_a_secret_client_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    let mut claims = lotus_claims(&app);
    claims["iss"] = json!("vietsky-air");
    claims["sub"] = json!("vietsky-air");
    let jwt = sign_assertion(eddsa_header(), &claims, &lotus_bank_key_pem());
    assert_invalid_client(me_with_assertion(&app, &jwt).await).await;
    // And iss/sub that disagree are refused even with the right key.
    let mut claims = lotus_claims(&app);
    claims["sub"] = json!("vietsky-air");
    let jwt = sign_assertion(eddsa_header(), &claims, &lotus_bank_key_pem());
    assert_invalid_client(me_with_assertion(&app, &jwt).await).await;
}
