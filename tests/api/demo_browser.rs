//! `eidgw demo` end to end in headless Chromium (`tests/browser/demo.mjs`), on both stores: the
//! phone registers with a browser-made, non-extractable device key; its presentation QR boards
//! at the gate once and is refused the second time, and a gate in another browser reads it with
//! its camera; the browser's chip lifts the account to level 2; the hospital desk's kiosk
//! request (by ID number, then by the phone's login hint) is approved on the phone with the same
//! binding message, and its kiosk checks the card and the face; the portal signs in through the
//! gateway's QR login, read by the phone's camera; a second browser profile is a second phone.
//! The camera is Chromium's fake capture device, playing a frame of the QR code on screen. Screenshots in `target/screenshots/demo-<store>/` (and of the failure).

use serde_json::Value;

use crate::both_backends;
use crate::browser_pages::{browser_tests, chromium};
use crate::citizen::Citizen;
use crate::helpers::*;

async fn the_phone_and_the_desks_in_a_browser(backend: Backend) {
    // The browser follows the gateway's redirects itself: the portal's redirect URIs name the
    // port this demo really listens on (the shipped ones name 8090).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(repo().join("config/relying_parties.toml")).unwrap();
    let file = dir.path().join("relying_parties.toml");
    std::fs::write(
        &file,
        shipped.replace("127.0.0.1:8090", &format!("127.0.0.1:{port}")),
    )
    .unwrap();
    let mut settings = test_settings(backend, dir.path());
    settings.relying_parties.file = file;
    copy_dir(template_keys(), &settings.keys.dir);
    let app = spawn_with(settings, dir).await;
    let demo = crate::demo::demo_on(&app, listener, None).await;
    // The desks sign client assertions with the wall clock: the test gateway's clock keeps up
    // with it for the minute or two the browser takes.
    let clock = app.clock.clone();
    let ticking = tokio::spawn(async move {
        let mut last = std::time::Instant::now();
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            let now = std::time::Instant::now();
            clock.advance(now - last);
            last = now;
        }
    });
    let first = Citizen::nth(&app, 5);
    let second = Citizen::nth(&app, 6);
    let store = match backend {
        Backend::Embedded => "embedded",
        Backend::Redis => "redis",
        Backend::RedisCluster => "redis-cluster",
    };
    let shots = repo().join(format!("target/screenshots/demo-{store}"));
    // 10,000 subscribers: 7 in 10 right, 1 with a wrong phone, 1 unknown id, 1 unreadable id.
    let people = crate::citizen::people(&app);
    let known: std::collections::HashSet<&str> = people
        .iter()
        .map(|p| p.person.personal_id.as_str())
        .collect();
    // A personal id the registry does not know, next to a real one.
    let unknown = |id: &str| {
        (0..1000)
            .map(|n| format!("{}{n:03}", &id[..9]))
            .find(|c| !known.contains(c.as_str()))
            .unwrap()
    };
    let mut file = String::new();
    for i in 0..10_000 {
        let p = &people[i % people.len()].person;
        let id = p.personal_id.as_str();
        let line = match i % 10 {
            7 => {
                serde_json::json!({ "personal_id": id, "full_name": p.full_name, "phone": "0900000000", "purpose": "SIM subscriber check" })
            }
            8 => {
                serde_json::json!({ "personal_id": unknown(id), "phone": p.phone.as_str(), "purpose": "SIM subscriber check" })
            }
            9 => serde_json::json!({ "personal_id": "123", "purpose": "SIM subscriber check" }),
            _ => {
                serde_json::json!({ "personal_id": id, "full_name": p.full_name, "phone": p.phone.as_str(), "purpose": "SIM subscriber check" })
            }
        };
        file.push_str(&line.to_string());
        file.push('\n');
    }
    std::fs::create_dir_all(&shots).unwrap();
    let subscribers = shots.join("subscribers.ndjson");
    std::fs::write(&subscribers, file).unwrap();
    let mut cmd = std::process::Command::new("node");
    cmd.arg(browser_tests().join("demo.mjs"))
        .env("DEMO", &demo)
        .env("GATEWAY", &app.address)
        .env("PERSONAL_ID", first.id())
        .env("OTHER_ID", second.id())
        .env("PASSWORD", &first.password)
        .env("PASSCODE", &first.passcode)
        .env("SCREENSHOTS", &shots)
        .env("TELECOM_FILE", &subscribers)
        .env("CHROMIUM", chromium());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ticking.abort();
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert!(r["error"].is_null(), "{:#}", r);

    // Registration: the OTP came as an on-screen SMS; the device key cannot leave the browser.
    assert!(
        r["registration"]["sms"]
            .as_str()
            .unwrap()
            .contains(char::is_numeric)
    );
    assert_eq!(r["key_extractable"]["private"], false);
    assert_eq!(r["key_extractable"]["algorithm"], "Ed25519");
    // A stranger's face does not step the session up.
    assert_eq!(r["stranger_code"], "face_mismatch");
    // The gate: accepted once, then refused as already used, in words.
    assert!(r["picked_up_nonce"].as_str().unwrap().starts_with("gate-"));
    let left = r["countdown"].as_i64().unwrap();
    assert!((50..=60).contains(&left), "{left}");
    assert_eq!(r["gate_first"], "accepted", "{r:#}");
    assert_eq!(r["passenger"], first.truth.person.full_name.as_str());
    assert_eq!(r["gate_second"], "refused", "{r:#}");
    assert_eq!(r["gate_second_code"], "replayed", "{r:#}");
    assert!(!r["gate_second_text"].as_str().unwrap().contains("replayed"));
    // A gate in another browser reads the phone's QR with its camera (a presentation token of
    // several hundred characters) and accepts it.
    assert!(r["camera_token_length"].as_u64().unwrap() > 300, "{r:#}");
    assert_eq!(r["gate_camera"], "accepted", "{r:#}");
    assert_eq!(
        r["gate_camera_passenger"],
        first.truth.person.full_name.as_str()
    );
    // The chip key lives in WebCrypto; the seed the police desk handed over is not kept.
    assert_eq!(r["chip_extractable"]["key"], false);
    assert_eq!(r["chip_extractable"]["seed_kept"], false);
    // The hospital: the phone shows the desk's binding message; the desk gets the patient.
    assert_eq!(r["phone_binding"], r["desk_binding"]);
    assert_eq!(r["patient"], first.truth.person.full_name.as_str());
    assert_eq!(
        r["health_insurance"],
        first.truth.person.health_insurance_number.as_str()
    );
    // The next patient by the login hint the phone shows: the same CIBA, the same patient; the
    // hint scanned again is refused in words (it was for one request).
    assert!(!r["hint_desk_binding"].as_str().unwrap().is_empty());
    assert_ne!(r["hint_desk_binding"], r["desk_binding"], "a new request");
    assert_eq!(r["hint_patient"], first.truth.person.full_name.as_str());
    let again = r["hint_again"].as_str().unwrap_or_default();
    assert!(
        !again.is_empty() && !again.contains("unknown_user_id"),
        "{again:?}"
    );
    // The hospital's kiosk checks the card and the face through the chip API.
    assert_eq!(r["kiosk"], "checked");
    assert_eq!(r["kiosk_patient"], first.truth.person.full_name.as_str());
    assert_eq!(
        r["kiosk_checks"],
        serde_json::json!([["passive", "true"], ["active", "true"], ["face", "true"]])
    );
    // The bank: someone else at the counter's camera is refused; the holder opens the account
    // with every check passed.
    assert_eq!(r["bank_open_other"], "refused");
    assert_eq!(r["bank_open_other_code"], "face_mismatch");
    assert_eq!(r["bank_open"], "opened");
    assert_eq!(r["bank_customer"], first.truth.person.full_name.as_str());
    assert_eq!(
        r["bank_checks"],
        serde_json::json!([["passive", "true"], ["active", "true"], ["face", "true"]])
    );
    // 25.000.000 ₫: refused without a face, approved with one, exactly this transfer.
    assert_eq!(r["bank_amount"], "25.000.000 ₫ → Nguyễn Văn An");
    assert_eq!(r["phone_transfer_amount"], "25000000");
    assert_eq!(r["transfer_without_face"], "step_up_required");
    assert_eq!(r["bank_still_waiting"], true);
    assert_eq!(r["transfer_with_face"], "approved");
    assert_eq!(r["transfer_approved"], "25.000.000 ₫ → Nguyễn Văn An");
    assert!(
        r["transfer_amr"].as_str().unwrap().contains("face"),
        "{}",
        r["transfer_amr"]
    );
    // The portal through the QR login, its code read by the phone's camera.
    assert_eq!(r["phone_scanned"], r["portal_qr_text"]);
    assert!(
        r["qr_asks"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("portal")
            || r["qr_asks"].as_str().unwrap().contains("Cổng"),
        "{}",
        r["qr_asks"]
    );
    assert_eq!(r["portal_acr"], "urn:vn:eid:level:2");
    // The history names who asked.
    let history = r["history"].as_str().unwrap();
    for who in ["vietsky", "bệnh viện", "cổng dịch vụ công"] {
        assert!(history.to_lowercase().contains(who), "{who}: {history}");
    }
    // The signed history the phone downloaded: genuine to `eidgw history verify`, and an edited
    // copy refused.
    let export = std::path::PathBuf::from(r["export_file"].as_str().unwrap());
    assert!(
        r["export_name"]
            .as_str()
            .unwrap()
            .starts_with("vneid-history-")
    );
    let document = std::fs::read_to_string(&export).unwrap();
    let edited = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = document.split('.').collect();
        let payload = String::from_utf8(b64.decode(parts[1]).unwrap()).unwrap();
        let payload = payload.replace("Hà Nội", "Hải Phòng");
        format!("{}.{}.{}", parts[0], b64.encode(payload), parts[2])
    };
    assert_ne!(document, edited, "the edit changed the document");
    let tampered = shots.join("edited-history.jwt");
    std::fs::write(&tampered, edited).unwrap();
    for (file, code) in [(&export, 0), (&tampered, 3)] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .args(["history", "verify"])
            .arg(file)
            .args(["--gateway", &app.address])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The telecom file: every line answered, the summary as the file was made.
    assert_eq!(
        r["telecom"],
        serde_json::json!({ "lines": "10.000", "matched": "7.000", "mismatched": "1.000", "unknown": "1.000", "errors": "1.000" })
    );
    assert_eq!(
        r["telecom_fields"]["phone"],
        serde_json::json!(["7.000", "1.000"])
    );
    assert_eq!(
        r["telecom_fields"]["full_name"],
        serde_json::json!(["8.000", "0"])
    );
    assert_eq!(
        r["telecom_codes"],
        serde_json::json!(["invalid_personal_id"])
    );
    assert_eq!(r["telecom_progress"], serde_json::json!([10000, 10000]));
    let answers = std::fs::read_to_string(r["telecom_answers"].as_str().unwrap()).unwrap();
    assert_eq!(answers.lines().count(), 10_000);
    for (n, line) in answers.lines().enumerate() {
        let a: Value = serde_json::from_str(line).unwrap();
        assert_eq!(a["line"], n + 1, "answers in order");
    }
    // Two phones, two accounts.
    assert_eq!(r["second_phone_starts"], "welcome");
    assert_eq!(r["second_name"], second.truth.person.full_name.as_str());
    assert_eq!(r["first_name"], first.truth.person.full_name.as_str());
    for name in [
        "phone-home",
        "phone-present",
        "gate-accepted",
        "gate-refused",
        "gate-camera-accepted",
        "hospital-patient",
        "phone-login-hint",
        "hospital-kiosk",
        "bank-opened",
        "bank-transfer-approved",
        "portal-signed-in",
        "phone-history",
        "telecom-summary",
    ] {
        assert!(shots.join(format!("{name}.png")).is_file(), "{name}");
    }
}

both_backends!(the_phone_and_the_desks_in_a_browser);
