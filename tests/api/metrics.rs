//! `/metrics` answers an operator's questions (SPEC §8): each counter moves with the event it
//! names — verification outcomes by reason, login, OTP and step-up failures by kind, issuance —
//! and the store, key and process figures are there; `/metrics` moves to a management listener
//! when one is configured.

use reqwest::StatusCode;

use crate::both_backends;
use crate::citizen::{self, Citizen};
use crate::helpers::*;
use crate::oidc::{Browser, at_portal, csrf, location, pkce, query_param, redeem};

/// The value of the series `name{labels}` (labels as Prometheus prints them), 0 when absent.
pub(crate) fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

async fn every_counter_moves_with_its_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let portal = "public-services-portal";

    // Verification outcomes, by reason.
    let mut c = citizen::logged_in(&app, 0).await;
    let token = c.token_for(&app, portal, "n-1").await;
    assert_eq!(
        citizen::verify(&app, portal, &token, Some("n-1")).await["valid"],
        true
    );
    assert_eq!(
        citizen::verify(&app, portal, &token, Some("n-1")).await["reason"],
        "replayed"
    );
    assert_eq!(
        citizen::verify(&app, portal, "not.a.jwt", None).await["reason"],
        "malformed"
    );
    let m = scrape(&app).await;
    assert_eq!(
        value(&m, r#"eidgw_verifications_total{outcome="valid"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"eidgw_verifications_total{outcome="replayed"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"eidgw_verifications_total{outcome="malformed"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"eidgw_presentations_issued_total{level="1"}"#),
        1.0
    );

    // App login failures, by reason; step-up failures.
    let wrong = c
        .login_with(&app, "not the password", &c.device.clone())
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let stranger = c
        .login_with(&app, &c.password.clone(), &citizen::new_device())
        .await;
    assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);
    let res = c.step_up_passcode(&app, "000000").await;
    assert!(res.status().is_client_error());
    let m = scrape(&app).await;
    assert_eq!(
        value(
            &m,
            r#"eidgw_login_failures_total{channel="app",reason="wrong_password"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"eidgw_login_failures_total{channel="app",reason="wrong_device"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"eidgw_step_up_failures_total{reason="wrong_passcode"}"#
        ),
        1.0
    );

    // The pages: a wrong password, a wrong OTP, then a whole login and its token.
    let web = Citizen::nth(&app, 1);
    web.register(&app).await;
    let mut b = Browser::new(&app);
    let p = pkce();
    let page = location(&b.get(&at_portal(&p, &[])).await);
    let html = b.get(&page).await.text().await.unwrap();
    b.post(
        &format!("{page}/login"),
        &[
            ("csrf_token", &csrf(&html)),
            ("personal_id", web.id()),
            ("password", "wrong password"),
        ],
    )
    .await;
    let html = b.get(&page).await.text().await.unwrap();
    b.post(
        &format!("{page}/login"),
        &[
            ("csrf_token", &csrf(&html)),
            ("personal_id", web.id()),
            ("password", &web.password),
        ],
    )
    .await;
    let html = b.get(&page).await.text().await.unwrap();
    assert!(html.contains("name=\"otp\""));
    // A code that is surely wrong: not the one sent.
    let otp = web.otp(&app).await;
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    b.post(
        &format!("{page}/otp"),
        &[("csrf_token", &csrf(&html)), ("otp", wrong)],
    )
    .await;
    let html = b.get(&page).await.text().await.unwrap();
    b.post(
        &format!("{page}/otp"),
        &[("csrf_token", &csrf(&html)), ("otp", &otp)],
    )
    .await;
    let html = b.get(&page).await.text().await.unwrap();
    let back = location(
        &b.post(
            &format!("{page}/consent"),
            &[("csrf_token", &csrf(&html)), ("decision", "allow")],
        )
        .await,
    );
    let code = query_param(&back, "code").expect("a code");
    assert_eq!(
        redeem(&app, &code, &p.verifier).await.status(),
        StatusCode::OK
    );
    let m = scrape(&app).await;
    assert_eq!(
        value(
            &m,
            r#"eidgw_login_failures_total{channel="web",reason="wrong_password"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"eidgw_otp_failures_total{flow="web-login",reason="invalid"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"eidgw_tokens_issued_total{grant_type="authorization_code"}"#
        ),
        1.0
    );

    // The store, the key and the process.
    let backend_name = app.services.store.backend();
    let claims = format!(
        r#"eidgw_store_operation_duration_seconds_count{{backend="{backend_name}",operation="claim_and_append"}}"#
    );
    assert!(value(&m, &claims) >= 2.0, "{claims}");
    let kid = app.services.keyring.load().active_kid().to_owned();
    assert!(
        m.contains(&format!(r#"eidgw_signing_key_age_seconds{{kid="{kid}"}}"#)),
        "key age"
    );
    assert!(value(&m, "process_resident_memory_bytes") > 0.0);
    assert!(m.contains("eidgw_redis_reconnects_total"));
    // Label values never carry input: no personal id anywhere.
    assert!(!m.contains(c.id()) && !m.contains(web.id()));
}

both_backends!(every_counter_moves_with_its_event);

/// The embedded store's checkpoints — the pauses every write waits behind — are counted and
/// timed; a store without checkpoints reports none.
async fn checkpoints_are_counted_and_timed(backend: Backend) {
    let app = spawn_app(backend).await;
    let portal = "public-services-portal";
    let before = value(&scrape(&app).await, "eidgw_store_checkpoints_total");
    // A write: the journal holds it until the next checkpoint, within a second or so.
    let c = citizen::logged_in(&app, 0).await;
    let token = c.token_for(&app, portal, "n-1").await;
    assert_eq!(
        citizen::verify(&app, portal, &token, Some("n-1")).await["valid"],
        true
    );
    let mut m = scrape(&app).await;
    if backend == Backend::Embedded {
        for _ in 0..50 {
            if value(&m, "eidgw_store_checkpoints_total") > before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            m = scrape(&app).await;
        }
        assert!(value(&m, "eidgw_store_checkpoints_total") > before, "{m}");
        let last = value(&m, "eidgw_store_checkpoint_last_seconds");
        assert!(last > 0.0, "{m}");
        assert!(
            value(&m, "eidgw_store_checkpoint_seconds_total") >= last,
            "{m}"
        );
    } else {
        assert!(m.contains("eidgw_store_checkpoints_total 0"), "{m}");
        assert_eq!(value(&m, "eidgw_store_checkpoint_seconds_total"), 0.0);
    }
}

both_backends!(checkpoints_are_counted_and_timed);

#[tokio::test]
async fn a_store_failure_is_counted_by_operation() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(Backend::Redis, dir.path());
    // Nothing listens there: every store operation fails fast.
    settings.store.redis.url = "redis://127.0.0.1:1/".into();
    let app = spawn_with(settings, dir).await;
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let m = scrape(&app).await;
    assert!(
        value(
            &m,
            r#"eidgw_store_errors_total{backend="redis",operation="check_writable"}"#
        ) >= 1.0,
        "{m}"
    );
}

#[tokio::test]
async fn a_management_listener_takes_metrics_off_the_public_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(Backend::Embedded, dir.path());
    settings.server.metrics_listen = "127.0.0.1:0".into();
    let app = spawn_with(settings, dir).await;
    crate::http_basics::assert_problem(app.get("/metrics").await, 404, "not_found").await;
    let port = app.metrics_port.expect("a management listener");
    let res = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(text.contains("eidgw_signing_key_age_seconds"));
    // It serves nothing else.
    let other = app
        .client
        .get(format!("http://127.0.0.1:{port}/v1/clients/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}
