//! Level-1 registration, login, step-up and the attacks on them, on both backends.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::citizen::*;
use crate::helpers::*;

async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    res.json().await.unwrap()
}

both_backends!(
    a_citizen_registers_logs_in_and_steps_up,
    registration_start_answers_the_same_in_all_four_cases,
    otp_brute_force_is_stopped_after_five_attempts,
    a_rejected_password_changes_nothing,
    liveness_attacks_are_refused_with_their_reason,
    password_brute_force_locks_the_account_with_doubling_back_off,
    unknown_wrong_and_locked_logins_look_the_same,
    a_login_from_another_device_is_refused,
    a_session_token_checked_before_is_still_refused_when_altered_or_expired,
);

async fn a_citizen_registers_logs_in_and_steps_up(b: Backend) {
    let app = spawn_app(b).await;
    let mut c = Citizen::nth(&app, 0);
    c.register(&app).await;
    let session = c.login(&app).await;
    assert_eq!(session["level"], 1);
    assert_eq!(
        session["auth_level"], 2,
        "password + device key: two categories"
    );
    assert_eq!(session["amr"], json!(["pwd", "swk"]));
    let res = c.step_up_passcode(&app, &c.passcode.clone()).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["auth_level"], 2,
        "a second knowledge factor adds no category"
    );
    let face = c.live_face();
    let res = c.step_up_face(&app, &face).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["auth_level"], 4, "biometric + possession + knowledge");
    // The account exists now: registering again is refused at completion.
    let reg = c.start(&app).await;
    assert!(c.latest_sms(&app).await.is_some());
    let ch = Citizen::registration_challenge(&app, &reg).await;
    let capture = Citizen::capture_with(&ch, &c.live_face(), &c.device, None);
    let res = Citizen::complete(&app, &reg, &c.complete_body("000000", capture)).await;
    assert_eq!(problem(res, 400).await["code"], "otp_invalid");
}

async fn registration_start_answers_the_same_in_all_four_cases(b: Backend) {
    let app = spawn_app(b).await;
    let genuine = Citizen::nth(&app, 1);
    let existing = Citizen::nth(&app, 2);
    existing.register(&app).await;
    let sms_before = existing.latest_sms(&app).await;

    let mut unknown = genuine.start_body();
    unknown["personal_id"] = json!("001099999999");
    let mut wrong_field = genuine.start_body();
    wrong_field["full_name"] = json!("Nguyễn Văn Không Phải");
    let cases = [
        unknown,
        wrong_field,
        existing.start_body(),
        genuine.start_body(),
    ];
    let mut shapes = Vec::new();
    for body in &cases {
        let res = Citizen::post(&app, "/v1/citizen/registrations", body, None).await;
        assert_eq!(res.status(), 202);
        let mut v: Value = res.json().await.unwrap();
        assert_eq!(v["registration_id"].as_str().unwrap().len(), 43);
        v["registration_id"] = json!("…");
        shapes.push(v);
    }
    assert!(shapes.windows(2).all(|w| w[0] == w[1]), "{shapes:?}");
    // The holder of an existing account is told, on the registry's phone only, and gets no
    // code: the answer above is the same for everyone, the warning reaches only the owner.
    let warning = existing.latest_sms(&app).await;
    assert_ne!(warning, sms_before);
    assert_eq!(
        warning.as_deref(),
        Some(eid_gateway::identity::registration::ALREADY_REGISTERED_SMS),
        "a warning, no OTP, for an existing account"
    );
    assert!(!warning.unwrap().chars().any(|c| c.is_ascii_digit()));
    assert!(
        genuine.latest_sms(&app).await.is_some(),
        "the genuine case got its OTP, on the registry's phone"
    );
}

async fn otp_brute_force_is_stopped_after_five_attempts(b: Backend) {
    let app = spawn_app(b).await;
    let c = Citizen::nth(&app, 3);
    let reg = c.start(&app).await;
    let otp = c.otp(&app).await;
    let wrong = if otp == "111111" { "222222" } else { "111111" };
    for _ in 0..5 {
        let ch = Citizen::registration_challenge(&app, &reg).await;
        let capture = Citizen::capture_with(&ch, &c.live_face(), &c.device, None);
        let res = Citizen::complete(&app, &reg, &c.complete_body(wrong, capture)).await;
        assert_eq!(problem(res, 400).await["code"], "otp_invalid");
    }
    let ch = Citizen::registration_challenge(&app, &reg).await;
    let capture = Citizen::capture_with(&ch, &c.live_face(), &c.device, None);
    let res = Citizen::complete(&app, &reg, &c.complete_body(&otp, capture)).await;
    assert_eq!(
        problem(res, 429).await["code"],
        "otp_attempts_exceeded",
        "even the right code fails now"
    );
    assert!(
        app.services
            .accounts
            .get(&c.truth.person.personal_id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_rejected_password_changes_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let mut c = Citizen::nth(&app, 4);
    let reg = c.start(&app).await;
    let otp = c.otp(&app).await;
    for bad in ["short", "matkhau123", &format!("x{}x", c.id())] {
        c.password = bad.to_owned();
        let ch = Citizen::registration_challenge(&app, &reg).await;
        let capture = Citizen::capture_with(&ch, &c.live_face(), &c.device, None);
        let res = Citizen::complete(&app, &reg, &c.complete_body(&otp, capture)).await;
        assert_eq!(problem(res, 400).await["code"], "secret_rejected", "{bad}");
    }
    c.password = "một mật khẩu đủ dài".into();
    let ch = Citizen::registration_challenge(&app, &reg).await;
    let capture = Citizen::capture_with(&ch, &c.live_face(), &c.device, None);
    let res = Citizen::complete(&app, &reg, &c.complete_body(&otp, capture)).await;
    assert_eq!(
        res.status(),
        201,
        "rejected passwords used no OTP attempt: {}",
        res.text().await.unwrap()
    );
}

async fn liveness_attacks_are_refused_with_their_reason(b: Backend) {
    let app = spawn_app(b).await;
    let c = Citizen::nth(&app, 5);
    // Every completion counts as an OTP attempt (at most 5), so the attacks use two registrations.
    let mut reg = c.start(&app).await;
    let mut otp = c.otp(&app).await;
    async fn attempt(app: &TestApp, c: &Citizen, reg: &str, otp: &str, capture: Value) -> String {
        let body = c.complete_body(otp, capture);
        problem(Citizen::complete(app, reg, &body).await, 400).await["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }
    macro_rules! attempt {
        ($capture:expr) => {
            attempt(&app, &c, &reg, &otp, $capture)
        };
    }
    // Wrong actions.
    let ch = Citizen::registration_challenge(&app, &reg).await;
    let mut actions: Vec<eid_gateway::biometrics::liveness::Action> =
        serde_json::from_value(ch["actions"].clone()).unwrap();
    actions.reverse();
    assert_eq!(
        attempt!(Citizen::capture_with(
            &ch,
            &c.live_face(),
            &c.device,
            Some(actions)
        ))
        .await,
        "liveness_failed"
    );
    // An impostor's face.
    let other = Citizen::nth(&app, 6);
    let ch = Citizen::registration_challenge(&app, &reg).await;
    assert_eq!(
        attempt!(Citizen::capture_with(
            &ch,
            &other.live_face(),
            &c.device,
            None
        ))
        .await,
        "face_mismatch"
    );
    // Signed by another device.
    let ch = Citizen::registration_challenge(&app, &reg).await;
    assert_eq!(
        attempt!(Citizen::capture_with(
            &ch,
            &c.live_face(),
            &new_device(),
            None
        ))
        .await,
        "device_signature_invalid"
    );
    // A capture replayed.
    reg = c.start(&app).await;
    otp = c.otp(&app).await;
    let ch = Citizen::registration_challenge(&app, &reg).await;
    let mut wrong_actions: Vec<eid_gateway::biometrics::liveness::Action> =
        serde_json::from_value(ch["actions"].clone()).unwrap();
    wrong_actions.rotate_left(1);
    let used = Citizen::capture_with(&ch, &c.live_face(), &c.device, Some(wrong_actions));
    assert_eq!(attempt!(used.clone()).await, "liveness_failed");
    assert_eq!(attempt!(used).await, "challenge_reused");
    // A challenge that expired, and one that never existed.
    let ch = Citizen::registration_challenge(&app, &reg).await;
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(
        attempt!(Citizen::capture_with(&ch, &c.live_face(), &c.device, None)).await,
        "challenge_expired"
    );
    let mut fake = ch.clone();
    fake["challenge_id"] = json!("bm90LWlzc3VlZA");
    assert_eq!(
        attempt!(Citizen::capture_with(
            &fake,
            &c.live_face(),
            &c.device,
            None
        ))
        .await,
        "challenge_unknown"
    );
    assert!(
        app.services
            .accounts
            .get(&c.truth.person.personal_id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn password_brute_force_locks_the_account_with_doubling_back_off(b: Backend) {
    let app = spawn_app(b).await;
    let mut c = logged_in(&app, 7).await;
    let device = c.device.clone();
    for _ in 0..5 {
        assert_eq!(
            c.login_with(&app, "wrong password!", &device)
                .await
                .status(),
            401
        );
    }
    let res = c.login_with(&app, &c.password.clone(), &device).await;
    assert_eq!(
        problem(res, 401).await["code"],
        "invalid_credentials",
        "backing off: even the right password fails"
    );
    app.clock.advance(Duration::from_secs(61));
    c.login(&app).await;
    for _ in 0..5 {
        assert_eq!(
            c.login_with(&app, "wrong password!", &device)
                .await
                .status(),
            401
        );
    }
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(
        c.login_with(&app, &c.password.clone(), &device)
            .await
            .status(),
        401,
        "second back-off is 120 s"
    );
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(
        c.login_with(&app, &c.password.clone(), &device)
            .await
            .status(),
        201
    );
}

async fn unknown_wrong_and_locked_logins_look_the_same(b: Backend) {
    let app = spawn_app(b).await;
    let mut c = logged_in(&app, 8).await;
    let device = c.device.clone();
    let wrong = problem(c.login_with(&app, "not the password", &device).await, 401).await;
    let stranger = Citizen::nth(&app, 9);
    let unknown = problem(
        stranger
            .login_with(&app, "whatever password", &device)
            .await,
        401,
    )
    .await;
    let res = Citizen::post(&app, "/v1/citizen/lock", &json!({}), c.session.as_deref()).await;
    assert_eq!(res.status(), 200);
    let locked = problem(c.login_with(&app, &c.password.clone(), &device).await, 401).await;
    assert_eq!(wrong, unknown);
    assert_eq!(unknown, locked);
    c.session = None;
}

async fn a_login_from_another_device_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    let c = logged_in(&app, 10).await;
    let res = c.login_with(&app, &c.password.clone(), &new_device()).await;
    assert_eq!(problem(res, 401).await["code"], "invalid_credentials");
}

#[tokio::test]
async fn the_sms_outbox_is_absent_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::http_basics::production_settings(dir.path());
    let app = spawn_with(settings, dir).await;
    assert_eq!(app.get("/dev/sms?phone=0912345678").await.status(), 404);
}

/// The gateway remembers that a session token verified (the app sends it on every call); none of
/// that may let an altered copy through, or the same token once its twelve hours are over.
async fn a_session_token_checked_before_is_still_refused_when_altered_or_expired(b: Backend) {
    let app = spawn_app(b).await;
    let c = logged_in(&app, 3).await;
    let token = c.session.clone().unwrap();
    let history = |token: String| {
        let app = &app;
        async move { Citizen::get(app, "/v1/citizen/history", &token).await }
    };
    assert_eq!(history(token.clone()).await.status(), 200);
    assert_eq!(history(token.clone()).await.status(), 200);
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let flip = |s: &str| {
        let mut chars: Vec<char> = s.chars().collect();
        let i = chars.len() / 2;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    for altered in [
        format!("{header}.{}.{signature}", flip(payload)),
        format!("{header}.{payload}.{}", flip(signature)),
        format!("{}.{payload}.{signature}", flip(header)),
        format!("{token}A"),
    ] {
        let res = history(altered).await;
        assert_eq!(problem(res, 401).await["code"], "invalid_session");
    }
    assert_eq!(history(token.clone()).await.status(), 200);
    app.clock
        .advance(eid_gateway::identity::session::SESSION_TTL + Duration::from_secs(1));
    let res = history(token).await;
    assert_eq!(problem(res, 401).await["code"], "invalid_session");
}
