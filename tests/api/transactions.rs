//! Transaction step-up (RFC 9396 `authorization_details`): Lotus Bank needs authentication
//! level 3 with a face match for a transfer above 10,000,000 VND. Through a presentation, a
//! CIBA approval and an OIDC login, the token carries exactly the approved transaction and is
//! no good for another amount or creditor.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::ciba::{answer, level2_citizen, pending};
use crate::helpers::*;
use crate::oidc::{Browser, location, pkce, query_param, sign_in, verify_with_jwks};

both_backends!(
    a_transfer_of_nine_million_passes_with_the_passcode,
    twenty_five_million_needs_a_face_and_binds_amount_and_creditor,
    a_kiosk_transfer_is_approved_with_a_face_and_carried_by_the_tokens,
    an_oidc_login_carries_the_transaction_and_refuses_a_password_login_for_a_large_one,
);

const BANK: &str = "lotus-bank";

fn transfer(amount_vnd: u64, creditor: &str) -> Value {
    json!([{ "type": "bank_transfer", "amount_vnd": amount_vnd, "creditor": creditor }])
}

async fn present(app: &TestApp, c: &crate::citizen::Citizen, details: &Value) -> reqwest::Response {
    crate::citizen::Citizen::post(
        app,
        "/v1/presentations",
        &json!({ "client_id": BANK, "nonce": "tx-1", "authorization_details": details }),
        c.session.as_deref(),
    )
    .await
}

async fn bank_verifies(app: &TestApp, token: &str, details: Option<&Value>) -> Value {
    let mut body = json!({ "token": token, "nonce": "tx-1" });
    if let Some(d) = details {
        body["authorization_details"] = d.clone();
    }
    let res = bank_post(app, "/v1/verify", &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn a_transfer_of_nine_million_passes_with_the_passcode(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut c = level2_citizen(&app, 0).await;
    let nine = transfer(9_000_000, "Nguyễn Văn An");
    assert_eq!(
        c.step_up_passcode(&app, &c.passcode.clone()).await.status(),
        StatusCode::OK
    );
    let res = present(&app, &c, &nine).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = bank_verifies(&app, &token, Some(&nine)).await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["authorization_details"], nine);
    assert_eq!(v["amr"], json!(["pwd", "pin", "swk"]));
    let history = c.history(&app).await;
    assert_eq!(
        history[0]["purpose"],
        "Transfer 9,000,000 VND to Nguyễn Văn An"
    );
}

async fn twenty_five_million_needs_a_face_and_binds_amount_and_creditor(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut c = level2_citizen(&app, 0).await;
    let big = transfer(25_000_000, "Trần Thị Bình");
    assert_eq!(
        c.step_up_passcode(&app, &c.passcode.clone()).await.status(),
        StatusCode::OK
    );
    let res = present(&app, &c, &big).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "step_up_required");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("authentication level 3 with face"),
        "{problem}"
    );
    // Bad details are refused as such.
    let res = present(
        &app,
        &c,
        &json!([{ "type": "bank_transfer", "amount_vnd": 0, "creditor": "X" }]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let face = c.live_face();
    assert_eq!(c.step_up_face(&app, &face).await.status(), StatusCode::OK);
    let token = c.token_with(&app, BANK, "tx-1", Some(&big)).await;
    // Another amount, another creditor, or a transfer the token never approved: refused, and
    // the token is not used up by the refusal.
    for other in [
        transfer(25_000_001, "Trần Thị Bình"),
        transfer(2_500_000, "Trần Thị Bình"),
        transfer(25_000_000, "Kẻ Gian"),
    ] {
        let v = bank_verifies(&app, &token, Some(&other)).await;
        assert_eq!(v["reason"], "authorization_details_mismatch", "{other}");
    }
    let v = bank_verifies(&app, &token, Some(&big)).await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["auth_level"], 4);
    assert_eq!(v["authorization_details"], big);
    assert_eq!(
        bank_verifies(&app, &token, Some(&big)).await["reason"],
        "replayed"
    );

    // A token without a transaction is no good for one.
    let plain = c.token_with(&app, BANK, "tx-1", None).await;
    assert_eq!(
        bank_verifies(&app, &plain, Some(&big)).await["reason"],
        "authorization_details_mismatch"
    );
    // The signed amount cannot be edited: any change to the payload breaks the signature.
    let token = c.token_with(&app, BANK, "tx-1", Some(&big)).await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&engine.decode(&parts[1]).unwrap()).unwrap();
    claims["authorization_details"][0]["amount_vnd"] = json!(250_000_000);
    parts[1] = engine.encode(serde_json::to_vec(&claims).unwrap());
    let forged = parts.join(".");
    let changed = transfer(250_000_000, "Trần Thị Bình");
    assert_eq!(
        bank_verifies(&app, &forged, Some(&changed)).await["reason"],
        "bad_signature"
    );
}

async fn a_kiosk_transfer_is_approved_with_a_face_and_carried_by_the_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = level2_citizen(&app, 0).await;
    let big = transfer(25_000_000, "Trần Thị Bình");
    let details = big.to_string();
    let res = bank_form(
        &app,
        "/oauth2/bc-authorize",
        &[
            ("scope", "openid"),
            ("login_hint", c.id()),
            ("binding_message", "CK 25tr · 7731"),
            ("authorization_details", &details),
        ],
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let started: Value = res.json().await.unwrap();
    let list = pending(&app, &c).await;
    let request = &list[0];
    assert_eq!(
        request["transactions"],
        json!(["Transfer 25,000,000 VND to Trần Thị Bình"])
    );
    assert_eq!(
        request["required"],
        json!({ "auth_level": 3, "amr": ["face"] })
    );
    let request_id = request["request_id"].as_str().unwrap();
    let res = answer(
        &app,
        &c,
        request_id,
        json!({ "answer": "approve", "passcode": c.passcode }),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "the passcode alone is not enough"
    );
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "step_up_required"
    );
    let capture = c.session_capture(&app, &c.live_face()).await;
    let res = answer(
        &app,
        &c,
        request_id,
        json!({ "answer": "approve", "face_capture": capture }),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );

    let auth_req_id = started["auth_req_id"].as_str().unwrap();
    let res = bank_form(
        &app,
        "/oauth2/token",
        &[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", auth_req_id),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["authorization_details"], big);
    let (_, access) = verify_with_jwks(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(access["authorization_details"], big);
    assert_eq!(access["amr"], json!(["swk", "face"]));
    assert_eq!(access["auth_level"], 3);
    let introspected: Value = bank_form(
        &app,
        "/oauth2/introspect",
        &[("token", tokens["access_token"].as_str().unwrap())],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["authorization_details"], big);
}

async fn an_oidc_login_carries_the_transaction_and_refuses_a_password_login_for_a_large_one(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let c = level2_citizen(&app, 0).await;
    let callback = "http://127.0.0.1:9100/callback";
    let authorize = |details: &Value, challenge: &str| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", BANK)
            .append_pair("redirect_uri", callback)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair("state", "s")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("authorization_details", &details.to_string());
        format!("/oauth2/authorize?{}", q.finish())
    };
    // Password + OTP is level 2 with no face: enough for 9,000,000, not for 25,000,000.
    let p = pkce();
    let mut b = Browser::new(&app);
    let done = sign_in(
        &mut b,
        &c,
        &authorize(&transfer(25_000_000, "B"), &p.challenge),
    )
    .await;
    assert_eq!(
        query_param(&done, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );

    let nine = transfer(9_000_000, "Nguyễn Văn An");
    let p = pkce();
    let mut b = Browser::new(&app);
    let done = sign_in(&mut b, &c, &authorize(&nine, &p.challenge)).await;
    let consent = b.consent_page.clone().expect("a consent page");
    assert!(
        consent.contains("Chuyển 9.000.000 ₫ cho Nguyễn Văn An"),
        "the citizen sees the transaction, in Vietnamese by default: {consent}"
    );
    assert!(
        !consent.contains("data-withdraw-note"),
        "a one-off approval is not a standing consent: {consent}"
    );
    let code = query_param(&done, "code").expect("a code");
    let assertion_form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", callback),
        ("code_verifier", p.verifier.as_str()),
    ];
    let res = bank_form(&app, "/oauth2/token", &assertion_form).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["authorization_details"], nine);

    // Malformed details go back to the client as invalid_authorization_details.
    let p = pkce();
    let res = b
        .get(&authorize(
            &json!([{ "type": "bank_transfer" }]),
            &p.challenge,
        ))
        .await;
    let back = location(&res);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_authorization_details")
    );
}
