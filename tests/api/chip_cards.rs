//! Chip ID cards: issuance with defects, passive and active authentication through the relying
//! parties' chip API and through level-2 enrolment (in person and from the app), device change,
//! revocation, Document Signer rotation.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use eid_gateway::biometrics::Template;
use eid_gateway::biometrics::fingerprint::{Finger, signed_message as finger_message};
use eid_gateway::chip::authority::{self, Certificate, CertificateBody, Role};
use eid_gateway::chip::image::{Dg1, Dg13, Dg15, SecurityObject, Sod, encode_group};
use eid_gateway::chip::{CardIssuer, ChipImage, Defect};
use eid_gateway::clock::Clock;
use rand::SeedableRng;
use serde_json::{Value, json};

use crate::both_backends;
use crate::citizen::{Citizen, new_device};
use crate::helpers::{Backend, DEV_OPERATOR, TestApp, repo, rp_post, spawn_app};

fn kiosk(name: &str) -> SigningKey {
    let pem =
        std::fs::read_to_string(repo().join(format!("config/sandbox/{name}-kiosk.ed25519.pem")))
            .unwrap();
    SigningKey::from_pkcs8_pem(&pem).unwrap()
}

async fn operator(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .basic_auth(DEV_OPERATOR.0, Some(DEV_OPERATOR.1))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn issue(app: &TestApp, id: &str, defect: Option<Defect>) -> ChipImage {
    let res = operator(
        app,
        "/v1/operator/cards",
        &json!({ "personal_id": id, "defect": defect }),
    )
    .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn rp_challenge(app: &TestApp, client: &str) -> String {
    let res = rp_post(app, client, "/v1/chip/challenge", &json!({})).await;
    assert_eq!(res.status(), 201);
    let c: Value = res.json().await.unwrap();
    c["challenge_id"].as_str().unwrap().to_owned()
}

async fn rp_verify(app: &TestApp, client: &str, read: &Value) -> Value {
    let res = rp_post(
        app,
        client,
        "/v1/chip/verify",
        &json!({ "chip_read": read }),
    )
    .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The hospital reader's verdict on `image`: the reason code it is refused with.
async fn reason_for(app: &TestApp, image: &ChipImage) -> String {
    let client = "hanoi-general-hospital";
    let answer = rp_verify(app, client, &read_for(app, client, image).await).await;
    answer["reason"].as_str().unwrap_or("none").to_owned()
}

/// The card read by `client`'s reader for a fresh challenge.
async fn read_for(app: &TestApp, client: &str, image: &ChipImage) -> Value {
    let c = rp_challenge(app, client).await;
    serde_json::to_value(image.answer(&c).unwrap()).unwrap()
}

fn face_capture(challenge: &Value, template: &Template, key: &SigningKey) -> Value {
    Citizen::capture_with(challenge, template, key, None)
}

fn noisy(t: &Template) -> Template {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(rand::random());
    t.with_noise(&mut rng, 0.06)
}

/// The card authority's genuine keys in the app's key directory.
fn document_signer(app: &TestApp) -> (SigningKey, Certificate) {
    let dir = app.services.keys.card_authority();
    (
        authority::load_key(&dir.join("ds-0001.pem")).unwrap(),
        authority::load_certificate(&dir.join("ds-0001.cert.json")).unwrap(),
    )
}

/// Re-seals `groups` with a genuine Document Signer, as if the state had signed them.
fn reseal(groups: &BTreeMap<String, String>, key: &SigningKey, cert: &Certificate) -> String {
    let hashes = groups
        .iter()
        .map(|(n, g)| {
            use sha2::Digest;
            (
                n.clone(),
                STANDARD.encode(sha2::Sha256::digest(STANDARD.decode(g).unwrap())),
            )
        })
        .collect();
    let object = serde_json::to_vec(&SecurityObject {
        version: 1,
        digest_algorithm: "SHA-256".into(),
        data_group_hashes: hashes,
    })
    .unwrap();
    encode_group(&Sod {
        signature: STANDARD.encode(key.sign(&object).to_bytes()),
        security_object: STANDARD.encode(&object),
        ds_certificate: cert.clone(),
    })
}

fn group<T: serde::de::DeserializeOwned>(image: &ChipImage, name: &str) -> T {
    serde_json::from_slice(&STANDARD.decode(&image.data_groups[name]).unwrap()).unwrap()
}

async fn every_defect_has_its_reason_code_through_the_chip_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut c = Citizen::nth(&app, 0);
    c.register(&app).await;
    c.login(&app).await;
    let genuine = issue(&app, c.id(), None).await;
    let answer = rp_verify(
        &app,
        "hanoi-general-hospital",
        &read_for(&app, "hanoi-general-hospital", &genuine).await,
    )
    .await;
    assert_eq!(answer["authentic"], true, "{answer}");
    assert_eq!(answer["card_status"], "valid");
    assert_eq!(answer["checks"]["passive"]["ok"], true);
    assert_eq!(answer["checks"]["active"]["ok"], true);
    assert_eq!(answer["claims"]["personal_id"], c.id());
    assert!(
        answer["claims"].get("phone").is_none(),
        "only the allowed claims"
    );
    // Recorded in the citizen's usage history.
    let history = c.history(&app).await;
    assert!(
        history
            .iter()
            .any(|e| e["action"] == "chip_verify" && e["client_id"] == "hanoi-general-hospital")
    );

    for defect in Defect::ALL {
        let image = issue(&app, c.id(), Some(defect)).await;
        let answer = rp_verify(
            &app,
            "hanoi-general-hospital",
            &read_for(&app, "hanoi-general-hospital", &image).await,
        )
        .await;
        assert_eq!(answer["authentic"], false, "{defect:?}: {answer}");
        assert_eq!(
            answer["reason"],
            defect.expected_reason(),
            "{defect:?}: {answer}"
        );
        assert_eq!(answer["claims"], json!({}), "{defect:?}");
        if defect == Defect::Cloned {
            assert_eq!(
                answer["checks"]["passive"]["ok"], true,
                "a clone passes passive"
            );
            assert_eq!(answer["checks"]["active"]["reason"], "aa_failed");
        }
        if defect == Defect::NoDg15 {
            assert_eq!(
                answer["checks"]["active"]["ok"], false,
                "active is not skipped"
            );
        }
    }
    // The genuine card issued first is still valid: issuing others did not revoke it.
    let answer = rp_verify(
        &app,
        "hanoi-general-hospital",
        &read_for(&app, "hanoi-general-hospital", &genuine).await,
    )
    .await;
    assert_eq!(answer["authentic"], true);
}

async fn active_authentication_answers_cannot_be_replayed_reused_or_moved(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = Citizen::nth(&app, 1);
    let image = issue(&app, c.id(), None).await;
    let read = read_for(&app, "hanoi-general-hospital", &image).await;
    assert_eq!(
        rp_verify(&app, "hanoi-general-hospital", &read).await["authentic"],
        true
    );
    let replay = rp_verify(&app, "hanoi-general-hospital", &read).await;
    assert_eq!(replay["reason"], "challenge_reused");
    assert_eq!(replay["checks"]["passive"]["ok"], true);

    // Another relying party's challenge.
    let theirs = read_for(&app, "vietsky-air", &image).await;
    assert_eq!(
        rp_verify(&app, "hanoi-general-hospital", &theirs).await["reason"],
        "challenge_unknown"
    );
    // Never issued.
    let made_up =
        serde_json::to_value(image.answer(&URL_SAFE_NO_PAD.encode([9u8; 32])).unwrap()).unwrap();
    assert_eq!(
        rp_verify(&app, "hanoi-general-hospital", &made_up).await["reason"],
        "challenge_unknown"
    );
    // Expired.
    let late = read_for(&app, "hanoi-general-hospital", &image).await;
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(
        rp_verify(&app, "hanoi-general-hospital", &late).await["reason"],
        "challenge_expired"
    );
}

async fn swapped_groups_forged_signers_and_bad_mrz_are_caught(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = issue(&app, Citizen::nth(&app, 2).id(), None).await;
    let b = issue(&app, Citizen::nth(&app, 3).id(), None).await;

    // DG13 from another card.
    let mut swapped = a.clone();
    swapped
        .data_groups
        .insert("DG13".into(), b.data_groups["DG13"].clone());
    assert_eq!(reason_for(&app, &swapped).await, "dg_hash_mismatch");
    // The SOD of another card.
    let mut other_sod = a.clone();
    other_sod.sod = b.sod.clone();
    assert_eq!(reason_for(&app, &other_sod).await, "dg_hash_mismatch");
    // An SOD whose security object was edited after signing.
    let mut sod: Sod = serde_json::from_slice(&STANDARD.decode(&a.sod).unwrap()).unwrap();
    let mut object: SecurityObject =
        serde_json::from_slice(&STANDARD.decode(&sod.security_object).unwrap()).unwrap();
    object
        .data_group_hashes
        .insert("DG1".into(), object.data_group_hashes["DG13"].clone());
    sod.security_object = STANDARD.encode(serde_json::to_vec(&object).unwrap());
    let mut edited = a.clone();
    edited.sod = encode_group(&sod);
    assert_eq!(reason_for(&app, &edited).await, "sod_signature_invalid");

    let (ds_key, ds_cert) = document_signer(&app);
    // An MRZ with a wrong check digit, sealed by the genuine DS.
    let mut dg1: Dg1 = group(&a, "DG1");
    let digit = dg1.mrz[1].as_bytes()[6];
    let wrong = if digit == b'9' {
        '0'
    } else {
        (digit + 1) as char
    };
    dg1.mrz[1].replace_range(6..7, &wrong.to_string());
    let mut bad_mrz = a.clone();
    bad_mrz.data_groups.insert("DG1".into(), encode_group(&dg1));
    bad_mrz.sod = reseal(&bad_mrz.data_groups, &ds_key, &ds_cert);
    assert_eq!(reason_for(&app, &bad_mrz).await, "mrz_check_digit");
    // DG13 that disagrees with the MRZ, sealed by the genuine DS.
    let mut dg13: Dg13 = group(&a, "DG13");
    dg13.full_name = format!("{} Thị", dg13.full_name);
    let mut mismatch = a.clone();
    mismatch
        .data_groups
        .insert("DG13".into(), encode_group(&dg13));
    mismatch.sod = reseal(&mismatch.data_groups, &ds_key, &ds_cert);
    assert_eq!(reason_for(&app, &mismatch).await, "mrz_dg13_mismatch");
    // A card number the registry never issued (DG1 and DG13 consistent).
    let mut unknown = a.clone();
    let mut dg13: Dg13 = group(&a, "DG13");
    dg13.card_number = "000000001".into();
    let dg1 = Dg1 {
        mrz: eid_gateway::chip::mrz::compose(&eid_gateway::chip::mrz::MrzInput {
            document_number: &dg13.card_number,
            personal_id: &dg13.personal_id,
            birth_date: dg13.birth_date,
            sex: dg13.sex,
            expiry_date: dg13.expires_on,
            full_name: &dg13.full_name,
        })
        .to_vec(),
    };
    unknown
        .data_groups
        .insert("DG13".into(), encode_group(&dg13));
    unknown.data_groups.insert("DG1".into(), encode_group(&dg1));
    unknown.sod = reseal(&unknown.data_groups, &ds_key, &ds_cert);
    assert_eq!(reason_for(&app, &unknown).await, "card_unknown");
    // A genuine DS seal over a chip key the registry does not know.
    let rogue = new_device();
    let mut rekeyed = a.clone();
    rekeyed.data_groups.insert(
        "DG15".into(),
        encode_group(&Dg15 {
            algorithm: "Ed25519".into(),
            public_key: URL_SAFE_NO_PAD.encode(rogue.verifying_key().as_bytes()),
        }),
    );
    rekeyed.sod = reseal(&rekeyed.data_groups, &ds_key, &ds_cert);
    rekeyed.chip_private_key = URL_SAFE_NO_PAD.encode(rogue.to_bytes());
    let answer = rp_verify(
        &app,
        "hanoi-general-hospital",
        &read_for(&app, "hanoi-general-hospital", &rekeyed).await,
    )
    .await;
    assert_eq!(answer["reason"], "registry_mismatch");
    assert_eq!(answer["checks"]["active"]["ok"], true);

    // A DS certificate signed by the trusted CSCA but not valid yet.
    let dir = app.services.keys.card_authority();
    let csca = authority::load_key(&dir.join("csca.pem")).unwrap();
    let csca_subject = authority::load_certificate(&dir.join("csca.cert.json"))
        .unwrap()
        .unverified_body()
        .unwrap()
        .subject;
    let future_ds = new_device();
    let today = app.services.chips.today();
    let future_cert = Certificate::issue(
        &CertificateBody {
            serial: "DS-FUTURE".into(),
            role: Role::DocumentSigner,
            subject: "CN=future".into(),
            issuer: csca_subject,
            not_before: today + chrono::Days::new(30),
            not_after: today + chrono::Days::new(3000),
            public_key: URL_SAFE_NO_PAD.encode(future_ds.verifying_key().as_bytes()),
        },
        &csca,
    );
    let mut early = a.clone();
    early.sod = reseal(&early.data_groups, &future_ds, &future_cert);
    assert_eq!(reason_for(&app, &early).await, "ds_not_yet_valid");
}

async fn malformed_reads_are_refused_and_consume_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let image = issue(&app, Citizen::nth(&app, 4).id(), None).await;
    let read = read_for(&app, "hanoi-general-hospital", &image).await;
    let mut not_base64 = read.clone();
    not_base64["dg13"] = json!("%%% not base64 %%%");
    let mut truncated = read.clone();
    let dg2 = STANDARD.decode(read["dg2"].as_str().unwrap()).unwrap();
    truncated["dg2"] = json!(STANDARD.encode(&dg2[..dg2.len() / 2]));
    let mut no_sod = read.clone();
    no_sod.as_object_mut().unwrap().remove("sod");
    for bad in [not_base64, truncated] {
        let res = rp_post(
            &app,
            "hanoi-general-hospital",
            "/v1/chip/verify",
            &json!({ "chip_read": bad }),
        )
        .await;
        assert_eq!(res.status(), 400);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["code"], "malformed_chip_read", "{p}");
    }
    let res = rp_post(
        &app,
        "hanoi-general-hospital",
        "/v1/chip/verify",
        &json!({ "chip_read": no_sod }),
    )
    .await;
    assert_eq!(res.status(), 400);
    // The challenge was not used up by the bad attempts.
    assert_eq!(
        rp_verify(&app, "hanoi-general-hospital", &read).await["authentic"],
        true
    );
}

async fn only_clients_with_chip_verify_may_use_the_chip_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = rp_post(&app, "mekong-telecom", "/v1/chip/challenge", &json!({})).await;
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(app.url("/v1/chip/challenge"))
        .basic_auth("hanoi-general-hospital", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn a_kiosk_face_must_match_both_the_chip_and_the_registry(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = Citizen::nth(&app, 5);
    let other = Citizen::nth(&app, 6);
    // A card sealed by the state whose DG2 is someone else's face (a registry error, say).
    let person = app
        .services
        .registry
        .person(&me.truth.person.personal_id)
        .await
        .unwrap()
        .unwrap();
    let issuer = CardIssuer::new(app.services.keys.card_authority());
    let card = issuer
        .issue(&person, &other.truth.face, app.services.chips.today(), None)
        .unwrap();
    let mut p = person.clone();
    app.services
        .registry
        .register_card(&mut p, card.record.unwrap())
        .await
        .unwrap();
    let kiosk_key = kiosk("vietsky-air");
    for (face, chip_match, registry_match) in [
        (&other.truth.face, true, false),
        (&me.truth.face, false, true),
    ] {
        let liveness: Value = rp_post(
            &app,
            "vietsky-air",
            "/v1/chip/liveness-challenge",
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
        let read = read_for(&app, "vietsky-air", &card.image).await;
        let body = json!({ "chip_read": read, "face_capture": face_capture(&liveness, &noisy(face), &kiosk_key) });
        let answer: Value = rp_post(&app, "vietsky-air", "/v1/chip/verify", &body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["authentic"], false, "{answer}");
        assert_eq!(answer["reason"], "face_mismatch");
        let threshold = f64::from(app.services.matcher.face_threshold);
        assert_eq!(
            answer["checks"]["face"]["chip_score"].as_f64().unwrap() >= threshold,
            chip_match
        );
        assert_eq!(
            answer["checks"]["face"]["registry_score"].as_f64().unwrap() >= threshold,
            registry_match
        );
    }
    // A genuine card and the holder's face: authentic. A capture signed by another key: refused.
    let genuine = issue(&app, me.id(), None).await;
    let liveness: Value = rp_post(
        &app,
        "vietsky-air",
        "/v1/chip/liveness-challenge",
        &json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let body = json!({ "chip_read": read_for(&app, "vietsky-air", &genuine).await, "face_capture": face_capture(&liveness, &me.live_face(), &kiosk_key) });
    let answer: Value = rp_post(&app, "vietsky-air", "/v1/chip/verify", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["authentic"], true, "{answer}");
    assert_eq!(answer["checks"]["face"]["matched"], true);
    let liveness: Value = rp_post(
        &app,
        "vietsky-air",
        "/v1/chip/liveness-challenge",
        &json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let body = json!({ "chip_read": read_for(&app, "vietsky-air", &genuine).await, "face_capture": face_capture(&liveness, &me.live_face(), &new_device()) });
    let answer: Value = rp_post(&app, "vietsky-air", "/v1/chip/verify", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["reason"], "device_signature_invalid");
}

/// An in-person enrolment request for `image`'s holder with the given face and fingers.
async fn desk_request(
    app: &TestApp,
    image: &ChipImage,
    face: &Template,
    fingers: &[Template; 2],
) -> Value {
    let kiosk_key = kiosk("dev-officer");
    let chip: Value = operator(app, "/v1/operator/chip-challenge", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let liveness: Value = operator(app, "/v1/operator/liveness-challenge", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let challenge_id = liveness["challenge_id"].as_str().unwrap();
    let prints: Vec<Value> = [Finger::RightIndex, Finger::LeftIndex]
        .into_iter()
        .zip(fingers)
        .map(|(finger, t)| {
            let encoded = noisy(t).to_base64();
            let sig = kiosk_key.sign(&finger_message(challenge_id, finger, &encoded));
            json!({ "finger": finger, "template": encoded, "signature": URL_SAFE_NO_PAD.encode(sig.to_bytes()) })
        })
        .collect();
    json!({
        "chip_read": image.answer(chip["challenge_id"].as_str().unwrap()).unwrap(),
        "face_capture": face_capture(&liveness, &noisy(face), &kiosk_key),
        "fingerprints": prints,
    })
}

async fn in_person_level2_checks_chip_face_and_fingerprints(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut c = Citizen::nth(&app, 7);
    c.register(&app).await;
    let other = Citizen::nth(&app, 8);
    let fingers = c.truth.fingerprints.clone();
    // Every defect is refused with its own reason code, and the account stays level 1.
    for defect in Defect::ALL {
        let image = issue(&app, c.id(), Some(defect)).await;
        let body = desk_request(&app, &image, &c.truth.face, &fingers).await;
        let res = operator(&app, "/v1/operator/enrolments", &body).await;
        assert_eq!(res.status(), 400, "{defect:?}");
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["code"], defect.expected_reason(), "{defect:?}");
    }
    let image = issue(&app, c.id(), None).await;
    // Another person's fingerprints, or face.
    let body = desk_request(&app, &image, &c.truth.face, &other.truth.fingerprints).await;
    let p: Value = operator(&app, "/v1/operator/enrolments", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["code"], "fingerprint_mismatch");
    let body = desk_request(&app, &image, &other.truth.face, &fingers).await;
    let p: Value = operator(&app, "/v1/operator/enrolments", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["code"], "face_mismatch");
    let account = app
        .services
        .accounts
        .get(&c.truth.person.personal_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u8::from(account.level), 1);
    // The genuine visit.
    let body = desk_request(&app, &image, &c.truth.face, &fingers).await;
    let res = operator(&app, "/v1/operator/enrolments", &body).await;
    assert_eq!(res.status(), 200);
    let outcome: Value = res.json().await.unwrap();
    assert_eq!(outcome, json!({ "outcome": "upgraded", "level": 2 }));
    // The audit log names the operator.
    let entries: Vec<eid_gateway::audit::AuditEntry> = app
        .store()
        .read_log(eid_gateway::store::Log::Audit, 1, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| serde_json::from_slice(&e).unwrap())
        .collect();
    assert!(entries.iter().any(
        |e| e.body.kind == eid_gateway::audit::AuditKind::Level2Enrolled
            && e.body.actor == "operator:dev-officer"
    ));
    assert!(
        entries
            .iter()
            .any(|e| e.body.kind == eid_gateway::audit::AuditKind::CardIssued
                && e.body.actor == "operator:dev-officer")
    );
    // Level-2 tokens: acr level 2, and auth_level 4 after face + passcode step-up.
    c.login(&app).await;
    let token = c.token_for(&app, "vietsky-air", "n1").await;
    let v = crate::citizen::verify(&app, "vietsky-air", &token, Some("n1")).await;
    assert_eq!(
        (v["level"].clone(), v["auth_level"].clone()),
        (json!(2), json!(2)),
        "{v}"
    );
    let passcode = c.passcode.clone();
    assert_eq!(c.step_up_passcode(&app, &passcode).await.status(), 200);
    let token = c.token_for(&app, "vietsky-air", "n2").await;
    let v = crate::citizen::verify(&app, "vietsky-air", &token, Some("n2")).await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["level"], 2);
    let face = c.live_face();
    assert_eq!(c.step_up_face(&app, &face).await.status(), 200);
    let token = c.token_for(&app, "vietsky-air", "n3").await;
    let v = crate::citizen::verify(&app, "vietsky-air", &token, Some("n3")).await;
    assert_eq!(v["auth_level"], 4, "{v}");
}

async fn a_citizen_without_an_account_activates_level2_with_the_desk_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut c = Citizen::nth(&app, 9);
    let image = issue(&app, c.id(), None).await;
    let body = desk_request(&app, &image, &c.truth.face, &c.truth.fingerprints.clone()).await;
    let outcome: Value = operator(&app, "/v1/operator/enrolments", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outcome["outcome"], "activation_code_issued", "{outcome}");
    let code = outcome["activation_code"].as_str().unwrap().to_owned();
    let activation = |code: &str| json!({ "personal_id": c.id(), "activation_code": code, "password": c.password, "passcode": c.passcode, "device_public_key": c.device_key() });
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let res = Citizen::post(&app, "/v1/citizen/activations", &activation(wrong), None).await;
    assert_eq!(res.status(), 400);
    let res = Citizen::post(&app, "/v1/citizen/activations", &activation(&code), None).await;
    assert_eq!(res.status(), 201);
    let res = Citizen::post(&app, "/v1/citizen/activations", &activation(&code), None).await;
    assert_ne!(res.status(), 201, "the code is single use");
    let session = c.login(&app).await;
    assert_eq!(session["level"], 2);
}

async fn level2_from_the_app_needs_the_citizens_own_chip(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut c = Citizen::nth(&app, 10);
    c.register(&app).await;
    c.login(&app).await;
    let someone_else = issue(&app, Citizen::nth(&app, 11).id(), None).await;
    let mine = issue(&app, c.id(), None).await;
    let session = c.session.clone().unwrap();
    let attempt = |image: ChipImage, face: Template| {
        let (app, session, device) = (&app, session.clone(), c.device.clone());
        async move {
            let chip: Value = Citizen::post(
                app,
                "/v1/citizen/chip-challenge",
                &json!({}),
                Some(&session),
            )
            .await
            .json()
            .await
            .unwrap();
            let liveness: Value = Citizen::post(
                app,
                "/v1/citizen/session/liveness-challenge",
                &json!({}),
                Some(&session),
            )
            .await
            .json()
            .await
            .unwrap();
            let body = json!({
                "chip_read": image.answer(chip["challenge_id"].as_str().unwrap()).unwrap(),
                "face_capture": face_capture(&liveness, &face, &device),
            });
            Citizen::post(app, "/v1/citizen/level2", &body, Some(&session)).await
        }
    };
    let res = attempt(someone_else, c.live_face()).await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "chip_not_yours");
    let cloned = issue(&app, c.id(), Some(Defect::Cloned)).await;
    let res = attempt(cloned, c.live_face()).await;
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "aa_failed");
    let res = attempt(mine.clone(), Citizen::nth(&app, 12).live_face()).await;
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "face_mismatch");
    // `mine` was superseded by the clone issuance above but stays a valid card.
    let res = attempt(mine, c.live_face()).await;
    assert_eq!(res.status(), 200);
    let token = c.token_for(&app, "public-services-portal", "x").await;
    let v = crate::citizen::verify(&app, "public-services-portal", &token, Some("x")).await;
    assert_eq!(v["level"], 2);
}

async fn a_device_change_needs_password_otp_and_for_level2_the_chip(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut c = Citizen::nth(&app, 13);
    c.register(&app).await;
    let image = issue(&app, c.id(), None).await;
    let body = desk_request(&app, &image, &c.truth.face, &c.truth.fingerprints.clone()).await;
    assert_eq!(
        operator(&app, "/v1/operator/enrolments", &body)
            .await
            .status(),
        200
    );
    c.login(&app).await;
    let old_session = c.session.clone().unwrap();

    let start = |id: String| {
        let app = &app;
        async move {
            let res = Citizen::post(
                app,
                "/v1/citizen/device-change",
                &json!({ "personal_id": id }),
                None,
            )
            .await;
            assert_eq!(res.status(), 202);
            res.json::<Value>().await.unwrap()
        }
    };
    // Same answer shape for an id without an account.
    let nobody = start(Citizen::nth(&app, 14).id().to_owned()).await;
    let started = start(c.id().to_owned()).await;
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&nobody), keys(&started));
    let change = started["change_id"].as_str().unwrap();
    let otp = c.otp(&app).await;
    let phone = new_device();
    let complete = |body: Value| {
        let app = &app;
        async move {
            Citizen::post(
                app,
                &format!("/v1/citizen/device-change/{change}/complete"),
                &body,
                None,
            )
            .await
        }
    };
    let base = json!({ "password": c.password, "otp": otp, "device_public_key": URL_SAFE_NO_PAD.encode(phone.verifying_key().as_bytes()) });
    // Wrong password.
    let mut wrong = base.clone();
    wrong["password"] = json!("not the password at all");
    assert_eq!(complete(wrong).await.status(), 401);
    // Level 2 without the chip.
    let res = complete(base.clone()).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "chip_read_required"
    );
    // With the chip of the device-change challenge.
    let mut with_chip = base.clone();
    with_chip["chip_read"] = serde_json::to_value(
        image
            .answer(started["chip_challenge"]["challenge_id"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let res = complete(with_chip).await;
    assert_eq!(res.status(), 200);
    // The old device's session has ended; the new device logs in.
    let res = app
        .client
        .get(app.url("/v1/citizen/history"))
        .bearer_auth(&old_session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    c.device = phone;
    let session = c.login(&app).await;
    assert_eq!(session["level"], 2);
}

async fn revoked_cards_fail_and_a_reissued_card_works(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = Citizen::nth(&app, 15);
    let lost = issue(&app, c.id(), None).await;
    let res = operator(
        &app,
        &format!("/v1/operator/cards/{}/revoke", lost.card_number),
        &json!({}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let answer = rp_verify(
        &app,
        "hanoi-general-hospital",
        &read_for(&app, "hanoi-general-hospital", &lost).await,
    )
    .await;
    assert_eq!(answer["reason"], "card_revoked");
    assert_eq!(answer["card_status"], "revoked");
    let res = operator(&app, "/v1/operator/cards/999999999/revoke", &json!({})).await;
    assert_eq!(res.status(), 404);
    let new = issue(&app, c.id(), None).await;
    assert_eq!(
        rp_verify(
            &app,
            "hanoi-general-hospital",
            &read_for(&app, "hanoi-general-hospital", &new).await
        )
        .await["authentic"],
        true
    );
    // Operator endpoints need operator credentials.
    let res = app
        .client
        .post(app.url("/v1/operator/cards"))
        .json(&json!({ "personal_id": c.id() }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn new_cards_use_the_new_document_signer_and_old_cards_stay_valid(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = Citizen::nth(&app, 16);
    let before = issue(&app, c.id(), None).await;
    let n = eid_gateway::chip::authority::CardAuthority::add_next_document_signer(
        &app.services.keys.card_authority(),
        app.clock.now(),
    )
    .unwrap();
    assert_eq!(n, 2);
    let after = issue(&app, c.id(), None).await;
    let signer = |image: &ChipImage| {
        let sod: Sod = serde_json::from_slice(&STANDARD.decode(&image.sod).unwrap()).unwrap();
        sod.ds_certificate.unverified_body().unwrap().serial
    };
    assert_eq!(signer(&before), "DS-0001");
    assert_eq!(signer(&after), "DS-0002");
    for image in [&before, &after] {
        assert_eq!(
            rp_verify(
                &app,
                "hanoi-general-hospital",
                &read_for(&app, "hanoi-general-hospital", image).await
            )
            .await["authentic"],
            true
        );
    }
}

both_backends!(
    every_defect_has_its_reason_code_through_the_chip_api,
    active_authentication_answers_cannot_be_replayed_reused_or_moved,
    swapped_groups_forged_signers_and_bad_mrz_are_caught,
    malformed_reads_are_refused_and_consume_nothing,
    only_clients_with_chip_verify_may_use_the_chip_api,
    a_kiosk_face_must_match_both_the_chip_and_the_registry,
    in_person_level2_checks_chip_face_and_fingerprints,
    a_citizen_without_an_account_activates_level2_with_the_desk_code,
    level2_from_the_app_needs_the_citizens_own_chip,
    a_device_change_needs_password_otp_and_for_level2_the_chip,
    revoked_cards_fail_and_a_reissued_card_works,
    new_cards_use_the_new_document_signer_and_old_cards_stay_valid,
);
