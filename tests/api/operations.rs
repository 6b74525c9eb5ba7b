//! Several instances on one Redis behave as one gateway; operator locks; rate limits; keys from
//! outside that are too short.

use serde_json::{Value, json};

use crate::citizen::*;
use crate::helpers::*;

const RP: &str = "public-services-portal";

crate::shared_stores!(
    a_token_is_single_use_across_instances_sharing_redis,
    an_operator_lock_on_one_instance_fails_tokens_on_the_other,
);

async fn a_token_is_single_use_across_instances_sharing_redis(backend: Backend) {
    let a = spawn_app(backend).await;
    let b = spawn_second(&a).await;
    let c = logged_in(&a, 0).await;
    for _ in 0..3 {
        let token = c.token_for(&a, RP, "n").await;
        let (x, y) = tokio::join!(verify(&a, RP, &token, None), verify(&b, RP, &token, None));
        let valid = [&x, &y].iter().filter(|v| v["valid"] == true).count();
        assert_eq!(valid, 1, "{x} {y}");
    }
    // A session opened on one instance works on the other.
    let token = c.token_for(&b, RP, "m").await;
    assert_eq!(verify(&a, RP, &token, Some("m")).await["valid"], true);
}

async fn an_operator_lock_on_one_instance_fails_tokens_on_the_other(backend: Backend) {
    let a = spawn_app(backend).await;
    let b = spawn_second(&a).await;
    let c = logged_in(&a, 1).await;
    let token = c.token_for(&a, RP, "n").await;
    let res = b
        .client
        .post(b.url(&format!("/v1/operator/accounts/{}/lock", c.id())))
        .basic_auth(DEV_OPERATOR.0, Some(DEV_OPERATOR.1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        verify(&a, RP, &token, None).await["reason"],
        "account_locked"
    );
    let entries = a
        .store()
        .read_log(eid_gateway::store::Log::Audit, 1, 1000)
        .await
        .unwrap();
    assert!(
        entries.iter().any(|(_, e)| {
            let t = String::from_utf8_lossy(e);
            t.contains("account_locked")
                && t.contains("operator:dev-officer")
                && !t.contains(c.id())
        }),
        "the lock is audited with the operator's id and a masked personal id"
    );
}

#[tokio::test]
async fn operators_must_authenticate() {
    let app = spawn_app(Backend::Embedded).await;
    let c = logged_in(&app, 2).await;
    let url = app.url(&format!("/v1/operator/accounts/{}/lock", c.id()));
    let res = app
        .client
        .post(&url)
        .basic_auth(DEV_OPERATOR.0, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .post(&url)
        .basic_auth("vietsky-air", Some(sandbox_secret("vietsky-air")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a relying party is not an operator");
    let res = app.client.post(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let token = c.token_for(&app, RP, "n").await;
    assert_eq!(
        verify(&app, RP, &token, None).await["valid"],
        true,
        "nothing was locked"
    );
}

#[tokio::test]
async fn a_relying_party_over_its_quota_gets_429_with_retry_after() {
    let app = spawn_app(Backend::Embedded).await;
    let mut rp = app
        .services
        .relying_parties
        .get(&eid_gateway::domain::ClientId::parse(RP).unwrap())
        .await
        .unwrap()
        .unwrap();
    rp.rate_quota_per_minute = 3;
    app.services.relying_parties.register(&rp).await.unwrap();
    let send = || {
        app.client
            .post(app.url("/v1/verify"))
            .basic_auth(RP, Some(sandbox_secret(RP)))
            .json(&json!({ "token": "x.y.z" }))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(send().await.unwrap().status(), 200);
    }
    let res = send().await.unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    app.clock.advance(std::time::Duration::from_secs(61));
    assert_eq!(send().await.unwrap().status(), 200, "a new window");
}

#[tokio::test]
async fn one_ip_hammering_login_gets_429() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(Backend::Embedded, dir.path());
    settings.security.ip_requests_per_minute = 4;
    let app = spawn_with(settings, dir).await;
    let c = Citizen::nth(&app, 3);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            c.login_with(&app, "whatever password", &c.device)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(&statuses[..4], &[401, 401, 401, 401]);
    assert_eq!(statuses[4], 429);
}

#[tokio::test]
async fn relying_parties_without_the_verify_permission_are_refused() {
    let app = spawn_app(Backend::Embedded).await;
    let res = app
        .client
        .post(app.url("/v1/verify"))
        .basic_auth("mekong-telecom", Some(sandbox_secret("mekong-telecom")))
        .json(&json!({ "token": "x.y.z" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn a_malformed_verify_body_is_a_400_problem() {
    let app = spawn_app(Backend::Embedded).await;
    for body in [
        json!({}),
        json!({ "token": 7 }),
        json!({ "token": "a", "extra": true }),
    ] {
        let res = app
            .client
            .post(app.url("/v1/verify"))
            .basic_auth(RP, Some(sandbox_secret(RP)))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    let res = app
        .client
        .post(app.url("/v1/verify"))
        .basic_auth(RP, Some(sandbox_secret(RP)))
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn device_keys_shorter_than_32_bytes_are_refused() {
    use base64::Engine;
    let app = spawn_app(Backend::Embedded).await;
    let c = Citizen::nth(&app, 4);
    for key in [
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 31]),
        "".into(),
        "***".into(),
    ] {
        let mut body = c.start_body();
        body["device_public_key"] = json!(key);
        let res = Citizen::post(&app, "/v1/citizen/registrations", &body, None).await;
        assert_eq!(res.status(), 400);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["code"], "invalid_device_key");
    }
    assert!(c.latest_sms(&app).await.is_none(), "nothing was sent");
}

#[tokio::test]
async fn passcode_brute_force_backs_off() {
    let app = spawn_app(Backend::Embedded).await;
    let mut c = logged_in(&app, 5).await;
    for _ in 0..5 {
        assert_eq!(c.step_up_passcode(&app, "999999").await.status(), 401);
    }
    let right = c.passcode.clone();
    assert_eq!(
        c.step_up_passcode(&app, &right).await.status(),
        401,
        "backing off"
    );
    app.clock.advance(std::time::Duration::from_secs(61));
    assert_eq!(c.step_up_passcode(&app, &right).await.status(), 200);
}
