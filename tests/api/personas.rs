//! Sandbox personas: one ready-made citizen per state, each giving the exact code its listing
//! promises, through the real flows.

use eid_gateway::chip::ChipImage;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::citizen::{Citizen, people};
use crate::helpers::*;

both_backends!(every_persona_gives_the_code_its_listing_promises);

const HOSPITAL: &str = "hanoi-general-hospital";

/// The persona's phone, as `eidgw sim persona` builds it from the listing.
/// A presentation token of a ready-made persona for `rp` with `nonce`, from its published phone.
pub async fn present_as_persona(app: &TestApp, persona: &Value, rp: &str, nonce: &str) -> String {
    let mut c = phone_of(app, persona);
    c.login(app).await;
    let res = c.present(app, rp, nonce).await;
    assert!(
        res.status().is_success(),
        "a presentation: {}",
        res.status()
    );
    let body: Value = res.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

fn phone_of(app: &TestApp, persona: &Value) -> Citizen {
    let id = persona["personal_id"].as_str().unwrap();
    let truth = people(app)
        .into_iter()
        .find(|p| p.person.personal_id.as_str() == id)
        .unwrap();
    let creds = &persona["credentials"];
    use base64::Engine;
    let seed: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(creds["device_seed"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    Citizen {
        truth,
        device: ed25519_dalek::SigningKey::from_bytes(&seed),
        password: creds["password"].as_str().unwrap().to_owned(),
        passcode: creds["passcode"].as_str().unwrap().to_owned(),
        session: None,
    }
}

/// The hospital reader's verdict on the persona's card: `authentic` or the reason code.
async fn chip_verdict(app: &TestApp, role: &str) -> String {
    let res = app.get(&format!("/dev/personas/{role}/card")).await;
    assert_eq!(res.status(), StatusCode::OK, "{role} has a card");
    let image: ChipImage = res.json().await.unwrap();
    let c: Value = rp_post(app, HOSPITAL, "/v1/chip/challenge", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let read = image.answer(c["challenge_id"].as_str().unwrap()).unwrap();
    let answer: Value = rp_post(
        app,
        HOSPITAL,
        "/v1/chip/verify",
        &json!({ "chip_read": read }),
    )
    .await
    .json()
    .await
    .unwrap();
    if answer["authentic"] == true {
        "authentic".into()
    } else {
        answer["reason"].as_str().unwrap_or("none").to_owned()
    }
}

async fn ciba_error(app: &TestApp, id: &str) -> String {
    let res = app
        .client
        .post(app.url("/oauth2/bc-authorize"))
        .basic_auth(HOSPITAL, Some(sandbox_secret(HOSPITAL)))
        .form(&[("scope", "openid"), ("login_hint", id)])
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["error"].as_str().unwrap_or("none").to_owned()
}

async fn code_of(res: reqwest::Response) -> String {
    let body: Value = res.json().await.unwrap();
    body["code"].as_str().unwrap_or("none").to_owned()
}

async fn every_persona_gives_the_code_its_listing_promises(backend: Backend) {
    let app = spawn_app(backend).await;
    let list: Vec<Value> = app.get("/dev/personas").await.json().await.unwrap();
    let by_role = |role: &str| {
        list.iter()
            .find(|p| p["role"] == role)
            .unwrap_or_else(|| panic!("persona {role}"))
            .clone()
    };
    let promises = |p: &Value, code: &str| {
        assert!(
            p["expect"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["code"] == code),
            "{} lists {code}",
            p["role"]
        );
    };
    for role in [
        "level-1",
        "level-2",
        "locked",
        "card-revoked",
        "cloned-chip",
        "tampered-chip",
        "expired-card",
        "face-mismatch",
        "device-changed",
    ] {
        let p = by_role(role);
        assert_eq!(p["state"], role);
        assert!(p["credentials"]["password"].is_string(), "{role}");
    }

    let p = by_role("level-1");
    let mut c = phone_of(&app, &p);
    assert_eq!(c.login(&app).await["level"], 1);
    let res = c.present(&app, "vietsky-air", "n").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    promises(&p, &code_of(res).await);
    let e = ciba_error(&app, c.id()).await;
    assert_eq!(e, "unmet_authentication_requirements");
    promises(&p, &e);

    let p = by_role("level-2");
    let mut c = phone_of(&app, &p);
    assert_eq!(c.login(&app).await["level"], 2);
    assert_eq!(chip_verdict(&app, "level-2").await, "authentic");
    promises(&p, "authentic");

    let p = by_role("locked");
    let c = phone_of(&app, &p);
    let res = c
        .login_with(&app, &c.password.clone(), &c.device.clone())
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    promises(&p, &code_of(res).await);
    let e = ciba_error(&app, c.id()).await;
    assert_eq!(e, "access_denied");
    promises(&p, &e);

    for (role, code) in [
        ("card-revoked", "card_revoked"),
        ("cloned-chip", "aa_failed"),
        ("tampered-chip", "dg_hash_mismatch"),
        ("expired-card", "card_expired"),
    ] {
        let verdict = chip_verdict(&app, role).await;
        assert_eq!(verdict, code, "{role}");
        promises(&by_role(role), &verdict);
    }

    let p = by_role("face-mismatch");
    let mut c = phone_of(&app, &p);
    c.login(&app).await;
    let face = c.live_face();
    let res = c.step_up_face(&app, &face).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let code = code_of(res).await;
    assert_eq!(code, "face_mismatch");
    promises(&p, &code);

    let p = by_role("device-changed");
    let c = phone_of(&app, &p);
    let res = c
        .login_with(&app, &c.password.clone(), &c.device.clone())
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    promises(&p, &code_of(res).await);

    // No card for a persona without one, nor for a registry-only persona.
    assert_eq!(
        app.get("/dev/personas/level-1/card").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/dev/personas/adult/card").await.status(),
        StatusCode::NOT_FOUND
    );
}
