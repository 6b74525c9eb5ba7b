//! The README walkthroughs, through the real binary: `sim register` → `sim login` →
//! `sim present` → `rp verify`, then history and lock; and level 2: `sim card` → `sim level2` →
//! `sim present` for an airline, a bank's onboarding check with `rp chip-verify`.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

/// Runs the binary off the test's runtime thread, which also drives the app's Redis connection.
async fn eidgw_output(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .current_dir(repo())
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// Runs `eidgw ARGS --json --gateway <app>`: its exit code and its one JSON document.
async fn eidgw_answer(app: &TestApp, args: &[&str]) -> (i32, Value) {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["--json".into(), "--gateway".into(), app.address.clone()]);
    let out = eidgw_output(all).await;
    let answer = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{args:?} printed {} ({})",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), answer)
}

/// [`eidgw_answer`], expecting success.
async fn eidgw_json(app: &TestApp, args: &[&str]) -> Value {
    let (code, answer) = eidgw_answer(app, args).await;
    assert_eq!(code, 0, "{args:?}: {answer}");
    answer
}

/// A script tells a positive answer from a negative one by the exit code alone: 0 or 3.
async fn eidgw_verdict(app: &TestApp, args: &[&str], positive: &str) -> Value {
    let (code, answer) = eidgw_answer(app, args).await;
    let expected = if answer[positive] == true { 0 } else { 3 };
    assert_eq!(code, expected, "{args:?}: {answer}");
    answer
}

/// The citizen's app with its wallet in the test's directory.
struct Phone<'a> {
    app: &'a TestApp,
    wallet: String,
    people: String,
}

impl<'a> Phone<'a> {
    fn new(app: &'a TestApp) -> Self {
        let path = |p: std::path::PathBuf| p.to_str().unwrap().to_owned();
        Self {
            app,
            wallet: path(app.dir.path().join("wallet")),
            people: path(app.services.settings.store.data_dir.join("people.jsonl")),
        }
    }

    async fn sim(&self, args: &[&str]) -> Value {
        let mut all = vec!["sim", "--wallet", &self.wallet];
        all.extend_from_slice(args);
        eidgw_json(self.app, &all).await
    }

    async fn register(&self, personal_id: &str) -> Value {
        self.sim(&[
            "register",
            "--personal-id",
            personal_id,
            "--people",
            &self.people,
        ])
        .await
    }
}

async fn rp_verify(app: &TestApp, rp: &str, token: &str, nonce: &str) -> Value {
    let secret = sandbox_secret(rp);
    let args = [
        "rp", "verify", "--rp", rp, "--secret", secret, "--nonce", nonce, token,
    ];
    eidgw_verdict(app, &args, "valid").await
}

async fn personas(app: &TestApp) -> Vec<String> {
    let personas: Vec<Value> = app.get("/dev/personas").await.json().await.unwrap();
    personas
        .iter()
        .map(|p| p["personal_id"].as_str().unwrap().to_owned())
        .collect()
}

fn owner_only(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777 == 0o600
}

both_backends!(the_demo_app_registers_logs_in_presents_and_the_relying_party_verifies);

async fn the_demo_app_registers_logs_in_presents_and_the_relying_party_verifies(backend: Backend) {
    let app = spawn_app(backend).await;
    let phone = Phone::new(&app);
    let portal = "public-services-portal";
    let reg = phone.register(&personas(&app).await[0]).await;
    assert_eq!(reg["level"], 1);
    let login = phone.sim(&["login"]).await;
    assert_eq!(login["auth_level"], 2);
    let p = phone
        .sim(&["present", "--rp", portal, "--nonce", "desk-7"])
        .await;
    let token = p["token"].as_str().unwrap();
    let answer = rp_verify(&app, portal, token, "desk-7").await;
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(
        rp_verify(&app, portal, token, "desk-7").await["reason"],
        "replayed"
    );
    let history = phone.sim(&["history"]).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
    let up = phone.sim(&["step-up", "--face"]).await;
    assert_eq!(up["auth_level"], 4);
    let p = phone
        .sim(&["present", "--rp", portal, "--nonce", "n2"])
        .await;
    phone.sim(&["lock"]).await;
    let locked = rp_verify(&app, portal, p["token"].as_str().unwrap(), "n2").await;
    assert_eq!(locked["reason"], "account_locked");
    // The wallet keeps secrets: owner-only.
    assert!(owner_only(&format!("{}/wallet.json", phone.wallet)));
}

both_backends!(
    level2_walkthrough_card_app_enrolment_airline_and_bank_onboarding,
    a_kiosk_login_and_a_large_transfer_from_a_sandbox_persona_phone,
);

async fn level2_walkthrough_card_app_enrolment_airline_and_bank_onboarding(backend: Backend) {
    let app = spawn_app(backend).await;
    let phone = Phone::new(&app);
    let ids = personas(&app).await;
    let (id, other) = (&ids[0], &ids[1]);
    phone.register(id).await;
    phone.sim(&["login"]).await;
    // Level 1 is not enough to board.
    let refused = eidgw_output(
        ["sim", "--wallet", &phone.wallet, "--gateway", &app.address]
            .into_iter()
            .chain(["present", "--rp", "vietsky-air", "--nonce", "gate-1"])
            .map(str::to_owned)
            .collect(),
    )
    .await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("level_too_low"), "{stderr}");

    let card = phone.sim(&["card"]).await;
    assert!(!card["card_number"].as_str().unwrap().is_empty(), "{card}");
    let card_file = format!("{}/card.json", phone.wallet);
    assert!(owner_only(&card_file));
    let up = phone.sim(&["level2"]).await;
    assert_eq!(up["level"], 2, "{up}");
    assert_eq!(up["face"]["matched"], true, "{up}");

    // Boarding: the airline verifies a level-2 presentation.
    let p = phone
        .sim(&["present", "--rp", "vietsky-air", "--nonce", "gate-1"])
        .await;
    let boarding = rp_verify(&app, "vietsky-air", p["token"].as_str().unwrap(), "gate-1").await;
    assert_eq!(boarding["valid"], true, "{boarding}");
    assert_eq!(boarding["level"], 2, "{boarding}");

    // Cross-device login at the public-services portal: the page's QR, scanned by the app.
    let pk = crate::oidc::pkce();
    let mut browser = crate::oidc::Browser::new(&app);
    let start = crate::oidc::authorize_url(
        crate::oidc::PORTAL,
        crate::oidc::CALLBACK,
        &pk.challenge,
        &[],
    );
    let page = crate::oidc::location(&browser.get(&start).await);
    let html = browser.get(&page).await.text().await.unwrap();
    let at = html.find("<code data-qr-text>").unwrap() + "<code data-qr-text>".len();
    let qr = &html[at..at + html[at..].find('<').unwrap()];
    let scanned = phone.sim(&["scan", qr]).await;
    assert_eq!(scanned["status"], "approved", "{scanned}");
    assert_eq!(scanned["client_id"], crate::oidc::PORTAL);
    assert_eq!(crate::oidc::location(&browser.get(&page).await), page);
    assert!(browser.cookies.contains_key("eid_sso"));

    // Bank onboarding: the card on the bank's reader and the customer's face at its kiosk.
    let issuer = app.services.issuer();
    let bank = |extra: &[&str], file: &str| {
        let mut args = vec![
            "rp",
            "chip-verify",
            "--rp",
            "lotus-bank",
            "--issuer",
            issuer,
        ];
        args.extend([
            "--key",
            "config/sandbox/lotus-bank.ed25519.pem",
            "--people",
            &phone.people,
        ]);
        args.extend_from_slice(extra);
        args.push(file);
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let app = &app;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            eidgw_verdict(app, &args, "authentic").await
        }
    };
    let onboarding = bank(&["--face"], &card_file).await;
    assert_eq!(onboarding["authentic"], true, "{onboarding}");
    assert_eq!(onboarding["checks"]["passive"]["ok"], true);
    assert_eq!(onboarding["checks"]["active"]["ok"], true);
    assert_eq!(onboarding["checks"]["face"]["matched"], true);
    assert_eq!(onboarding["card_status"], "valid");
    // Someone else holding this card at the kiosk.
    let impostor = bank(&["--face-of", other], &card_file).await;
    assert_eq!(impostor["authentic"], false, "{impostor}");
    assert_eq!(impostor["reason"], "face_mismatch", "{impostor}");
    // A cloned card from `eidgw card issue`.
    let cloned = format!("{}/cloned.json", phone.wallet);
    let out = eidgw_output(
        [
            "card",
            "issue",
            "--personal-id",
            other,
            "--defect",
            "cloned",
            "--out",
            &cloned,
        ]
        .into_iter()
        .chain(["--gateway", &app.address])
        .map(str::to_owned)
        .collect(),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clone_check = bank(&[], &cloned).await;
    assert_eq!(clone_check["authentic"], false, "{clone_check}");
    assert_eq!(clone_check["reason"], "aa_failed", "{clone_check}");

    // `sim chip-read` answers the challenge of a relying party that runs its own reader.
    let hospital = "hanoi-general-hospital";
    let rp_post = |path: &str, body: Value| {
        app.client
            .post(format!("{}{path}", app.address))
            .basic_auth(hospital, Some(sandbox_secret(hospital)))
            .json(&body)
            .send()
    };
    let challenge: Value = rp_post("/v1/chip/challenge", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let challenge_id = challenge["challenge_id"].as_str().unwrap();
    let read = phone.sim(&["chip-read", "--challenge", challenge_id]).await;
    let answer: Value = rp_post("/v1/chip/verify", json!({ "chip_read": read }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["authentic"], true, "{answer}");
    // The citizen sees both chip checks of their card in the usage history.
    let history = phone.sim(&["history"]).await;
    let chip_checks = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "chip_verify")
        .count();
    assert_eq!(chip_checks, 2, "{history}");
}

/// The README's kiosk and transfer walkthrough with the `sim` commands: a ready-made persona's
/// phone answers a hospital desk (CIBA) and approves a 25,000,000 VND transfer with a face.
async fn a_kiosk_login_and_a_large_transfer_from_a_sandbox_persona_phone(backend: Backend) {
    let app = spawn_app(backend).await;
    let phone = Phone::new(&app);
    let listed = eidgw_json(&app, &["personas"]).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["role"] == "device-changed")
    );
    let made = phone
        .sim(&["persona", "level-2", "--people", &phone.people])
        .await;
    assert_eq!(made["card"], true);
    let id = made["personal_id"].as_str().unwrap().to_owned();
    phone.sim(&["login"]).await;
    let desk = app
        .client
        .post(app.url("/oauth2/bc-authorize"))
        .basic_auth(
            "hanoi-general-hospital",
            Some(sandbox_secret("hanoi-general-hospital")),
        )
        .form(&[
            ("scope", "openid profile"),
            ("login_hint", id.as_str()),
            ("binding_message", "Quầy 3 · 4821"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(desk.status(), 200);
    let requests = phone.sim(&["requests"]).await;
    assert_eq!(requests[0]["binding_message"], "Quầy 3 · 4821");
    let request_id = requests[0]["request_id"].as_str().unwrap().to_owned();
    let approved = phone.sim(&["approve", &request_id]).await;
    assert_eq!(approved["status"], "approved");
    assert!(
        phone
            .sim(&["requests"])
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A large transfer: the passcode step-up is not enough, a face is.
    phone.sim(&["step-up", "--passcode"]).await;
    let args = [
        "present",
        "--rp",
        "lotus-bank",
        "--nonce",
        "t1",
        "--transfer-vnd",
        "25000000",
        "--creditor",
        "Trần Thị Bình",
    ];
    let mut all: Vec<String> = ["sim", "--wallet", phone.wallet.as_str()]
        .iter()
        .map(|a| a.to_string())
        .collect();
    all.extend(args.iter().map(|a| a.to_string()));
    all.extend(["--json".into(), "--gateway".into(), app.address.clone()]);
    let refused = eidgw_output(all).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("step_up_required"));
    phone.sim(&["step-up", "--face"]).await;
    let presented = phone.sim(&args).await;
    assert!(presented["token"].is_string());
}
