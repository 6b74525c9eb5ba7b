//! The README walkthrough, through the real binary: `sim register` → `sim login` →
//! `sim present` → `rp verify`, then history and lock.

use serde_json::Value;

use crate::helpers::*;

fn eidgw(app: &TestApp, wallet: &std::path::Path, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
        .current_dir(repo())
        .args(args)
        .args(["--json", "--gateway", &app.address, "--wallet"])
        .arg(wallet)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{args:?} printed {}", String::from_utf8_lossy(&out.stdout)))
}

fn rp_verify(app: &TestApp, token: &str, nonce: &str) -> Value {
    let rp = "public-services-portal";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
        .current_dir(repo())
        .args([
            "rp",
            "verify",
            "--json",
            "--gateway",
            &app.address,
            "--rp",
            rp,
            "--secret",
            sandbox_secret(rp),
            "--nonce",
            nonce,
            token,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn the_demo_app_registers_logs_in_presents_and_the_relying_party_verifies() {
    let app = spawn_app(Backend::Embedded).await;
    let personas: Vec<Value> = app.get("/dev/personas").await.json().await.unwrap();
    let id = personas[0]["personal_id"].as_str().unwrap().to_owned();
    let people = app.services.settings.store.data_dir.join("people.jsonl");
    let wallet = app.dir.path().join("wallet");
    let w = wallet.clone();
    let a = &app;
    let run = move |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        eidgw(a, &w, &args)
    };
    let reg = run(vec![
        "sim".into(),
        "register".into(),
        "--personal-id".into(),
        id.clone(),
        "--people".into(),
        people.display().to_string(),
    ]);
    assert_eq!(reg["level"], 1);
    let login = run(vec!["sim".into(), "login".into()]);
    assert_eq!(login["auth_level"], 2);
    let p = run(vec![
        "sim".into(),
        "present".into(),
        "--rp".into(),
        "public-services-portal".into(),
        "--nonce".into(),
        "desk-7".into(),
    ]);
    let token = p["token"].as_str().unwrap().to_owned();
    let answer = rp_verify(&app, &token, "desk-7");
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(rp_verify(&app, &token, "desk-7")["reason"], "replayed");
    let history = run(vec!["sim".into(), "history".into()]);
    assert_eq!(history.as_array().unwrap().len(), 1);
    let up = run(vec!["sim".into(), "step-up".into(), "--face".into()]);
    assert_eq!(up["auth_level"], 4);
    let p = run(vec![
        "sim".into(),
        "present".into(),
        "--rp".into(),
        "public-services-portal".into(),
        "--nonce".into(),
        "n2".into(),
    ]);
    run(vec!["sim".into(), "lock".into()]);
    assert_eq!(
        rp_verify(&app, p["token"].as_str().unwrap(), "n2")["reason"],
        "account_locked"
    );
    // The wallet keeps secrets: owner-only.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(wallet.join("wallet.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}
