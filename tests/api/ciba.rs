//! Decoupled kiosk login (OpenID CIBA Core, poll mode): a hospital desk names the citizen, the
//! citizen's app shows the desk's binding message and approves, the desk polls and collects the
//! tokens once. And every way it is refused: unknown hint, expired request, polling too fast,
//! denial, another citizen's app, a second collection.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::citizen::{Citizen, logged_in};
use crate::helpers::*;
use crate::oidc::verify_with_jwks;

both_backends!(
    a_desk_login_is_approved_in_the_app_and_its_tokens_collected_once,
    polling_too_fast_slows_the_desk_down,
    a_denied_or_expired_request_gives_no_tokens,
    only_the_named_citizens_app_can_answer,
    the_request_is_checked_before_anything_is_filed,
    a_login_hint_token_from_the_app_is_single_use_and_short_lived,
);

pub const HOSPITAL: &str = "hanoi-general-hospital";
const CIBA: &str = "urn:openid:params:grant-type:ciba";

/// A form POST by the hospital with its sandbox secret.
async fn hospital(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .basic_auth(HOSPITAL, Some(sandbox_secret(HOSPITAL)))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The hospital desk asks for `citizen`; returns the answer's JSON (asserting 200).
async fn desk_asks(app: &TestApp, citizen: &Citizen, extra: &[(&str, &str)]) -> Value {
    let mut form = vec![
        ("scope", "openid profile health_insurance"),
        ("login_hint", citizen.id()),
        ("binding_message", "Quầy 3 · 4821"),
        ("acr_values", "urn:vn:eid:level:2"),
    ];
    form.extend_from_slice(extra);
    let res = hospital(app, "/oauth2/bc-authorize", &form).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

pub async fn oauth_error(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn poll(app: &TestApp, auth_req_id: &str) -> reqwest::Response {
    hospital(
        app,
        "/oauth2/token",
        &[("grant_type", CIBA), ("auth_req_id", auth_req_id)],
    )
    .await
}

/// The citizen's app: pending requests.
pub async fn pending(app: &TestApp, citizen: &Citizen) -> Vec<Value> {
    let res = app
        .client
        .get(app.url("/v1/citizen/approvals"))
        .bearer_auth(citizen.session.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

pub async fn answer(
    app: &TestApp,
    citizen: &Citizen,
    request_id: &str,
    body: Value,
) -> reqwest::Response {
    Citizen::post(
        app,
        &format!("/v1/citizen/approvals/{request_id}"),
        &body,
        citizen.session.as_deref(),
    )
    .await
}

/// A registered, logged-in level-2 citizen.
pub async fn level2_citizen(app: &TestApp, n: usize) -> Citizen {
    let mut c = Citizen::nth(app, n);
    c.register(app).await;
    c.make_level2(app).await;
    c.login(app).await;
    c
}

async fn a_desk_login_is_approved_in_the_app_and_its_tokens_collected_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = level2_citizen(&app, 0).await;
    let started = desk_asks(&app, &citizen, &[]).await;
    assert_eq!(started["interval"], 5);
    assert_eq!(started["expires_in"], 120);
    let auth_req_id = started["auth_req_id"].as_str().unwrap();
    assert_eq!(
        oauth_error(poll(&app, auth_req_id).await).await.1,
        "authorization_pending"
    );

    // The app shows who asks, the desk's binding message, and what approving releases.
    let list = pending(&app, &citizen).await;
    assert_eq!(list.len(), 1);
    let request = &list[0];
    assert_eq!(request["client_id"], HOSPITAL);
    assert_eq!(request["relying_party"], "Bệnh viện Đa khoa Hà Nội");
    assert_eq!(request["binding_message"], "Quầy 3 · 4821");
    assert_eq!(
        request["scopes"],
        json!(["openid", "profile", "health_insurance"])
    );
    assert_ne!(
        request["request_id"], started["auth_req_id"],
        "the app never sees the desk's auth_req_id"
    );
    let request_id = request["request_id"].as_str().unwrap();

    // An approval needs a factor; a wrong passcode approves nothing.
    let res = answer(&app, &citizen, request_id, json!({ "answer": "approve" })).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = answer(
        &app,
        &citizen,
        request_id,
        json!({ "answer": "approve", "passcode": "000000" }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.clock.advance(Duration::from_secs(5));
    assert_eq!(
        oauth_error(poll(&app, auth_req_id).await).await.1,
        "authorization_pending"
    );

    let res = answer(
        &app,
        &citizen,
        request_id,
        json!({ "answer": "approve", "passcode": citizen.passcode }),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert!(
        pending(&app, &citizen).await.is_empty(),
        "answered requests leave the list"
    );
    let res = answer(&app, &citizen, request_id, json!({ "answer": "deny" })).await;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "the first answer stands"
    );

    app.clock.advance(Duration::from_secs(5));
    let res = poll(&app, auth_req_id).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    let (_, id) = verify_with_jwks(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id["aud"], HOSPITAL);
    assert_eq!(id["acr"], "urn:vn:eid:level:2");
    assert_eq!(id["amr"], json!(["pin", "swk"]));
    assert_eq!(id["auth_level"], 2);
    assert!(id["name"].is_string());
    assert!(id["health_insurance_number"].is_string());
    assert!(id.get("nonce").is_none());

    // Collected twice: refused, and the first collection's tokens are revoked.
    let (status, error) = oauth_error(poll(&app, auth_req_id).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let refreshed = hospital(
        &app,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(oauth_error(refreshed).await.1, "invalid_grant");
    let introspected: Value = hospital(
        &app,
        "/oauth2/introspect",
        &[("token", tokens["access_token"].as_str().unwrap())],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(introspected["active"], false);

    // Another client cannot collect with a stolen auth_req_id.
    let other = desk_asks(&app, &citizen, &[]).await;
    let stolen = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(
            "public-services-portal",
            Some(sandbox_secret("public-services-portal")),
        )
        .form(&[
            ("grant_type", CIBA),
            ("auth_req_id", other["auth_req_id"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(stolen).await.1, "invalid_grant");

    let history = citizen.history(&app).await;
    assert!(
        history
            .iter()
            .any(|e| e["client_id"] == HOSPITAL && e["action"] == "oidc_tokens")
    );
}

async fn polling_too_fast_slows_the_desk_down(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = level2_citizen(&app, 0).await;
    let started = desk_asks(&app, &citizen, &[]).await;
    let id = started["auth_req_id"].as_str().unwrap();
    assert_eq!(
        oauth_error(poll(&app, id).await).await.1,
        "authorization_pending"
    );
    let (status, error) = oauth_error(poll(&app, id).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "slow_down")
    );
    // The interval grew by 5 s: 5 s later is still too fast, 10 s is fine.
    app.clock.advance(Duration::from_secs(5));
    assert_eq!(oauth_error(poll(&app, id).await).await.1, "slow_down");
    app.clock.advance(Duration::from_secs(15));
    assert_eq!(
        oauth_error(poll(&app, id).await).await.1,
        "authorization_pending"
    );
}

async fn a_denied_or_expired_request_gives_no_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = level2_citizen(&app, 0).await;
    let denied = desk_asks(&app, &citizen, &[]).await;
    let request_id = pending(&app, &citizen).await[0]["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = answer(&app, &citizen, &request_id, json!({ "answer": "deny" })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let id = denied["auth_req_id"].as_str().unwrap();
    assert_eq!(oauth_error(poll(&app, id).await).await.1, "access_denied");
    app.clock.advance(Duration::from_secs(10));
    assert_eq!(oauth_error(poll(&app, id).await).await.1, "access_denied");

    let short = desk_asks(&app, &citizen, &[("requested_expiry", "30")]).await;
    assert_eq!(short["expires_in"], 30);
    let request_id = pending(&app, &citizen).await[0]["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(Duration::from_secs(31));
    assert!(
        pending(&app, &citizen).await.is_empty(),
        "an expired request is not shown"
    );
    let res = answer(
        &app,
        &citizen,
        &request_id,
        json!({ "answer": "approve", "passcode": citizen.passcode }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = short["auth_req_id"].as_str().unwrap();
    assert_eq!(oauth_error(poll(&app, id).await).await.1, "expired_token");
    assert_eq!(
        oauth_error(poll(&app, "no-such-request").await).await.1,
        "invalid_grant"
    );
}

async fn only_the_named_citizens_app_can_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = level2_citizen(&app, 0).await;
    let stranger = level2_citizen(&app, 1).await;
    let started = desk_asks(&app, &citizen, &[]).await;
    assert!(pending(&app, &stranger).await.is_empty());
    let request_id = pending(&app, &citizen).await[0]["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for body in [
        json!({ "answer": "approve", "passcode": stranger.passcode }),
        json!({ "answer": "deny" }),
    ] {
        let res = answer(&app, &stranger, &request_id, body).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    // Still pending for the right citizen.
    let id = started["auth_req_id"].as_str().unwrap();
    assert_eq!(
        oauth_error(poll(&app, id).await).await.1,
        "authorization_pending"
    );
    assert_eq!(pending(&app, &citizen).await.len(), 1);
    // Without a session, nothing.
    let res = app
        .client
        .post(app.url(&format!("/v1/citizen/approvals/{request_id}")))
        .json(&json!({ "answer": "deny" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn the_request_is_checked_before_anything_is_filed(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = level2_citizen(&app, 0).await;
    let level1 = logged_in(&app, 1).await;
    let no_account = Citizen::nth(&app, 2);
    let id = citizen.id();
    let long = "x".repeat(65);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("scope", "openid"), ("login_hint", no_account.id())],
            "unknown_user_id",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "12345")],
            "unknown_user_id",
        ),
        (vec![("scope", "openid")], "invalid_request"),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", id),
                ("login_hint_token", "abc"),
            ],
            "invalid_request",
        ),
        (
            vec![("scope", "openid"), ("id_token_hint", "abc")],
            "invalid_request",
        ),
        (
            vec![("scope", "profile"), ("login_hint", id)],
            "invalid_scope",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", id),
                ("binding_message", &long),
            ],
            "invalid_binding_message",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", id),
                ("binding_message", "a\nb"),
            ],
            "invalid_binding_message",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", id),
                ("requested_expiry", "0"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", id),
                ("requested_expiry", "601"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", id),
                ("user_code", "1234"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", id),
                ("acr_values", "urn:other"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", id),
                ("authorization_details", "[{\"type\":\"bank_transfer\"}]"),
            ],
            "invalid_authorization_details",
        ),
        // The hospital needs level 2 (its registration, and acr_values).
        (
            vec![("scope", "openid"), ("login_hint", level1.id())],
            "unmet_authentication_requirements",
        ),
    ];
    for (form, expected) in cases {
        let (status, error) =
            oauth_error(hospital(&app, "/oauth2/bc-authorize", &form).await).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::BAD_REQUEST, expected),
            "{form:?}"
        );
    }
    // A client without the ciba permission.
    let res = app
        .client
        .post(app.url("/oauth2/bc-authorize"))
        .basic_auth("vietsky-air", Some(sandbox_secret("vietsky-air")))
        .form(&[("scope", "openid"), ("login_hint", id)])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(res).await.1, "unauthorized_client");
    // Wrong client credentials.
    let res = app
        .client
        .post(app.url("/oauth2/bc-authorize"))
        .basic_auth(HOSPITAL, Some("wrong"))
        .form(&[("scope", "openid"), ("login_hint", id)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        oauth_error(res).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".to_owned())
    );
    assert!(
        pending(&app, &citizen).await.is_empty(),
        "nothing was filed"
    );
    // A locked account is refused outright.
    let res = Citizen::post(
        &app,
        "/v1/citizen/lock",
        &json!({}),
        citizen.session.as_deref(),
    )
    .await;
    assert!(res.status().is_success());
    let res = hospital(
        &app,
        "/oauth2/bc-authorize",
        &[("scope", "openid"), ("login_hint", id)],
    )
    .await;
    assert_eq!(
        oauth_error(res).await,
        (StatusCode::FORBIDDEN, "access_denied".to_owned())
    );
}

async fn a_login_hint_token_from_the_app_is_single_use_and_short_lived(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = level2_citizen(&app, 0).await;
    let hint = || async {
        let res = Citizen::post(
            &app,
            "/v1/citizen/login-hint",
            &json!({}),
            citizen.session.as_deref(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["expires_in"], 120);
        body["login_hint_token"].as_str().unwrap().to_owned()
    };
    let ask = |token: String| {
        let app = &app;
        async move {
            hospital(
                app,
                "/oauth2/bc-authorize",
                &[
                    ("scope", "openid"),
                    ("login_hint_token", &token),
                    ("binding_message", "Cổng 12"),
                ],
            )
            .await
        }
    };
    let token = hint().await;
    let res = ask(token.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let list = pending(&app, &citizen).await;
    assert_eq!(list[0]["binding_message"], "Cổng 12");
    assert_eq!(
        oauth_error(ask(token).await).await.1,
        "unknown_user_id",
        "used once"
    );
    let stale = hint().await;
    app.clock.advance(Duration::from_secs(121));
    assert_eq!(
        oauth_error(ask(stale).await).await.1,
        "expired_login_hint_token"
    );
    assert_eq!(
        oauth_error(ask("made-up".into()).await).await.1,
        "unknown_user_id"
    );
}
