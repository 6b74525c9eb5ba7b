//! `POST /v1/verify`: the happy path, every reason code, and the JWT attacks of the level-1
//! issue, on both backends.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::both_backends;
use crate::citizen::*;
use crate::helpers::*;

const RP: &str = "public-services-portal";

fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let h = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    let c = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&h).unwrap(),
        serde_json::from_slice(&c).unwrap(),
    )
}

fn enc(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Re-signs `claims` with the gateway's own active key and `typ`.
fn mint(app: &TestApp, typ: &str, claims: &Value) -> String {
    app.services.keyring.load().sign(typ, claims).unwrap()
}

async fn reason(app: &TestApp, token: &str) -> String {
    let v = verify(app, RP, token, None).await;
    assert_eq!(v["valid"], false, "{v}");
    v["reason"].as_str().unwrap().to_owned()
}

both_backends!(
    a_presentation_verifies_once_with_filtered_claims_and_history,
    concurrent_verifications_of_one_token_let_exactly_one_through,
    nonce_audience_and_time_are_checked,
    a_locked_account_fails_every_token,
    levels_below_the_relying_partys_policy_are_refused,
    forged_and_confused_tokens_are_refused,
    presentations_enforce_the_relying_partys_policy_up_front,
);

async fn a_presentation_verifies_once_with_filtered_claims_and_history(b: Backend) {
    let app = spawn_app(b).await;
    let c = logged_in(&app, 0).await;
    let token = c.token_for(&app, RP, "n-123").await;
    let (header, claims) = parts(&token);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "eid-presentation+jwt");
    assert_eq!(header["kid"], app.services.keyring.load().active_kid());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
    let text = claims.to_string();
    assert!(
        !text.contains(c.id()) && !text.contains(&c.truth.person.full_name),
        "no personal data inside"
    );
    assert_eq!(claims["acr"], "urn:vn:eid:level:1");

    let v = verify(&app, RP, &token, Some("n-123")).await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["level"], 1);
    assert_eq!(v["auth_level"], 2);
    assert_eq!(v["amr"], json!(["pwd", "swk"]));
    assert_eq!(v["sub"], claims["sub"]);
    assert_eq!(v["claims"]["full_name"], c.truth.person.full_name.as_str());
    assert!(v["claims"]["age_over_18"].is_boolean());
    assert!(!v["verification_id"].as_str().unwrap().is_empty());

    assert_eq!(
        verify(&app, RP, &token, Some("n-123")).await["reason"],
        "replayed"
    );

    let history = c.history(&app).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["client_id"], RP);
    assert_eq!(history[0]["verification_id"], v["verification_id"]);
    assert!(
        history[0]["claims"]
            .as_array()
            .unwrap()
            .contains(&json!("full_name"))
    );
}

async fn concurrent_verifications_of_one_token_let_exactly_one_through(b: Backend) {
    let app = spawn_app(b).await;
    let c = logged_in(&app, 1).await;
    let token = c.token_for(&app, RP, "n").await;
    let (a, b2, c2, d) = tokio::join!(
        verify(&app, RP, &token, None),
        verify(&app, RP, &token, None),
        verify(&app, RP, &token, None),
        verify(&app, RP, &token, None)
    );
    let answers = [a, b2, c2, d];
    assert_eq!(answers.iter().filter(|v| v["valid"] == true).count(), 1);
    assert!(
        answers
            .iter()
            .filter(|v| v["valid"] == false)
            .all(|v| v["reason"] == "replayed")
    );
}

async fn nonce_audience_and_time_are_checked(b: Backend) {
    let app = spawn_app(b).await;
    let c = logged_in(&app, 2).await;
    let token = c.token_for(&app, RP, "right").await;
    assert_eq!(
        verify(&app, RP, &token, Some("wrong")).await["reason"],
        "nonce_mismatch"
    );
    // Another relying party cannot use a token made for this one.
    assert_eq!(
        verify(&app, "vietsky-air", &token, None).await["reason"],
        "wrong_audience"
    );
    // A nonce mismatch did not use the token up.
    assert_eq!(verify(&app, RP, &token, Some("right")).await["valid"], true);

    let token = c.token_for(&app, RP, "t").await;
    app.clock.advance(Duration::from_secs(60 + 30));
    assert_eq!(
        reason(&app, &token).await,
        "expired",
        "60 s life plus 30 s leeway"
    );
    let token = c.token_for(&app, RP, "t").await;
    app.clock.rewind(Duration::from_secs(31));
    assert_eq!(reason(&app, &token).await, "not_yet_valid");
}

async fn a_locked_account_fails_every_token(b: Backend) {
    let app = spawn_app(b).await;
    let c = logged_in(&app, 3).await;
    let first = c.token_for(&app, RP, "a").await;
    let second = c.token_for(&app, RP, "b").await;
    let res = Citizen::post(&app, "/v1/citizen/lock", &json!({}), c.session.as_deref()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(reason(&app, &first).await, "account_locked");
    assert_eq!(reason(&app, &second).await, "account_locked");
    let res = c.present(&app, RP, "c").await;
    assert_eq!(res.status(), 403);
}

async fn levels_below_the_relying_partys_policy_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    let c = logged_in(&app, 4).await;
    let token = c.token_for(&app, RP, "x").await;
    let (_, mut claims) = parts(&token);
    // Re-signed by the gateway itself but addressed to the airline, which needs level 2, with the
    // airline's pairwise subject.
    let airline_sub = eid_gateway::identity::pairwise::subject(
        &app.services.pairwise_secret,
        "vietsky.vn",
        &c.truth.person.personal_id,
    );
    eid_gateway::identity::pairwise::remember(
        &app.services.store,
        "vietsky.vn",
        &airline_sub,
        &c.truth.person.personal_id,
    )
    .await
    .unwrap();
    claims["sub"] = json!(airline_sub);
    claims["aud"] = json!("vietsky-air");
    claims["jti"] = json!("level-test");
    let airline = mint(&app, "eid-presentation+jwt", &claims);
    assert_eq!(
        verify(&app, "vietsky-air", &airline, None).await["reason"],
        "level_too_low"
    );
    // A level-2 acr with auth level 1 (a password alone) to the airline (needs 2).
    claims["acr"] = json!("urn:vn:eid:level:2");
    claims["auth_level"] = json!(1);
    claims["amr"] = json!(["pwd"]);
    claims["jti"] = json!("auth-level-test");
    let weak_airline = mint(&app, "eid-presentation+jwt", &claims);
    assert_eq!(
        verify(&app, "vietsky-air", &weak_airline, None).await["reason"],
        "auth_level_too_low"
    );
}

async fn forged_and_confused_tokens_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    let c = logged_in(&app, 5).await;
    let token = c.token_for(&app, RP, "x").await;
    let (header, claims) = parts(&token);
    let sig = token.rsplit('.').next().unwrap().to_owned();

    // alg none, with and without a signature.
    assert_eq!(
        reason(
            &app,
            &format!(
                "{}.{}.",
                enc(&json!({"alg":"none","typ":"eid-presentation+jwt"})),
                enc(&claims)
            )
        )
        .await,
        "malformed"
    );
    assert_eq!(
        reason(
            &app,
            &format!(
                "{}.{}.{sig}",
                enc(&json!({"alg":"none","kid":header["kid"]})),
                enc(&claims)
            )
        )
        .await,
        "bad_signature"
    );
    // HS256 keyed with the public key bytes (algorithm confusion).
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = header["kid"].as_str().map(str::to_owned);
    hs.typ = Some("eid-presentation+jwt".into());
    let confused =
        jsonwebtoken::encode(&hs, &claims, &jsonwebtoken::EncodingKey::from_secret(&x)).unwrap();
    assert_eq!(reason(&app, &confused).await, "bad_signature");
    // Unknown kid, and kids with path or SQL characters.
    for kid in ["no-such-key", "../../keys/signing/x", "' OR 1=1 --"] {
        let mut h = header.clone();
        h["kid"] = json!(kid);
        assert_eq!(
            reason(&app, &format!("{}.{}.{sig}", enc(&h), enc(&claims))).await,
            "unknown_key",
            "{kid}"
        );
    }
    // Headers that bring their own key, or demand extensions.
    for (name, value) in [
        ("jku", json!("https://evil.example/jwks")),
        ("jwk", json!({"kty":"OKP"})),
        ("x5u", json!("https://evil.example/c")),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
    ] {
        let mut h = header.clone();
        h[name] = value;
        assert_eq!(
            reason(&app, &format!("{}.{}.{sig}", enc(&h), enc(&claims))).await,
            "malformed",
            "{name}"
        );
    }
    // A valid signature by a key the gateway does not have, claiming the gateway's kid.
    let mut foreign = eddsa_header();
    foreign.kid = header["kid"].as_str().map(str::to_owned);
    foreign.typ = Some("eid-presentation+jwt".into());
    assert_eq!(
        reason(
            &app,
            &sign_assertion(foreign, &claims, &random_ed25519_pem())
        )
        .await,
        "bad_signature"
    );
    // Payload changed after signing.
    let mut changed = claims.clone();
    changed["auth_level"] = json!(4);
    assert_eq!(
        reason(&app, &format!("{}.{}.{sig}", enc(&header), enc(&changed))).await,
        "bad_signature"
    );
    // A session token presented as a presentation token.
    assert_eq!(
        reason(&app, c.session.as_deref().unwrap()).await,
        "wrong_type"
    );
    // Genuine signature, wrong typ.
    assert_eq!(
        reason(&app, &mint(&app, "JWT", &claims)).await,
        "wrong_type"
    );
    // Missing, array-valued or wrongly typed claims.
    for (name, value) in [
        ("iss", None),
        ("iss", Some(json!([claims["iss"]]))),
        ("aud", Some(json!([RP]))),
        ("aud", None),
        ("exp", None),
        ("exp", Some(json!("tomorrow"))),
        ("iat", Some(json!(true))),
        ("nbf", Some(json!("soon"))),
        ("nbf", Some(json!([1]))),
    ] {
        let mut bad = claims.clone();
        match value {
            Some(v) => bad[name] = v,
            None => {
                bad.as_object_mut().unwrap().remove(name);
            }
        }
        assert_eq!(
            reason(&app, &mint(&app, "eid-presentation+jwt", &bad)).await,
            "malformed",
            "{name}"
        );
    }
    let mut later = claims.clone();
    later["nbf"] = json!(app.clock_now_secs() + 120);
    assert_eq!(
        reason(&app, &mint(&app, "eid-presentation+jwt", &later)).await,
        "not_yet_valid"
    );
    let mut other_issuer = claims.clone();
    other_issuer["iss"] = json!("https://evil.example");
    assert_eq!(
        reason(&app, &mint(&app, "eid-presentation+jwt", &other_issuer)).await,
        "wrong_issuer"
    );
    // Garbage.
    assert_eq!(reason(&app, "not a token").await, "malformed");
    // And the untouched token still verifies: none of the above used it up.
    assert_eq!(verify(&app, RP, &token, None).await["valid"], true);
}

async fn presentations_enforce_the_relying_partys_policy_up_front(b: Backend) {
    let app = spawn_app(b).await;
    let c = logged_in(&app, 6).await;
    let res = c.present(&app, "vietsky-air", "n").await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "level_too_low");
    let res = c.present(&app, "no-such-rp", "n").await;
    assert_eq!(res.status(), 404);
    // A relying party that needs a biometric: the answer names the step-up.
    let mut rp = app
        .services
        .relying_parties
        .get(&eid_gateway::domain::ClientId::parse(RP).unwrap())
        .await
        .unwrap()
        .unwrap();
    rp.client_id = eid_gateway::domain::ClientId::parse("strict-clinic").unwrap();
    rp.sector = "strict-clinic.vn".into();
    rp.min_auth_level = eid_gateway::domain::AuthLevel::THREE;
    app.services.relying_parties.register(&rp).await.unwrap();
    let res = c.present(&app, "strict-clinic", "n").await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "step_up_required");
    assert!(body["detail"].as_str().unwrap().contains("face"));
    let mut c = c;
    let face = c.live_face();
    assert_eq!(c.step_up_face(&app, &face).await.status(), 200);
    let token = c.token_for(&app, "strict-clinic", "n").await;
    // Pairwise: the clinic sees a different subject than the portal.
    let portal = c.token_for(&app, RP, "n").await;
    assert_ne!(parts(&token).1["sub"], parts(&portal).1["sub"]);
}
