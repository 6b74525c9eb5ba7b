//! The CLI as a script meets it: exit codes per kind of failure (3 a negative answer, 4 a
//! refused request, 5 an unreachable gateway), errors that name their cause and the next step,
//! and `sandbox reset` starting a dev data directory over.

use serde_json::Value;

use crate::citizen::Citizen;
use crate::helpers::*;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|_| panic!("not JSON: {} ({})", self.stdout, self.stderr))
    }
}

async fn eidgw(args: &[&str]) -> Run {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .current_dir(repo())
            .args(args)
            .env_remove("EIDGW_GATEWAY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn each_kind_of_failure_has_its_exit_code() {
    let app = spawn_app(Backend::Embedded).await;
    let portal = "public-services-portal";
    let secret = sandbox_secret(portal);
    let gw = app.address.as_str();
    // A token that is not valid: the gateway answers, negatively.
    let invalid = eidgw(&[
        "rp",
        "verify",
        "--gateway",
        gw,
        "--rp",
        portal,
        "--secret",
        secret,
        "--json",
        "eyJ.e30.x",
    ])
    .await;
    assert_eq!(invalid.code, 3, "{}", invalid.stderr);
    assert_eq!(invalid.json()["valid"], false);
    // Wrong credentials: the request is refused.
    let refused = eidgw(&[
        "rp",
        "verify",
        "--gateway",
        gw,
        "--rp",
        portal,
        "--secret",
        "wrong",
        "eyJ.e30.x",
    ])
    .await;
    assert_eq!(refused.code, 4, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("invalid_client"),
        "{}",
        refused.stderr
    );
    // Nobody listening.
    let port = crate::redis_outage::free_port();
    let down = format!("http://127.0.0.1:{port}");
    let unreachable = eidgw(&[
        "rp",
        "verify",
        "--gateway",
        &down,
        "--rp",
        portal,
        "--secret",
        secret,
        "eyJ.e30.x",
    ])
    .await;
    assert_eq!(unreachable.code, 5, "{}", unreachable.stderr);
    assert!(unreachable.stderr.contains("cannot reach the gateway"));
    // EIDGW_GATEWAY is read by every command, `card issue` included.
    let out = tokio::task::spawn_blocking({
        let gw = gw.to_owned();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
                .current_dir(repo())
                .args([
                    "card",
                    "issue",
                    "--personal-id",
                    "001099000001",
                    "--out",
                    "/nonexistent/x.json",
                    "--json",
                ])
                .env("EIDGW_GATEWAY", gw)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    // The gateway was reached (a registry answer, not a connection error).
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Usage errors stay clap's.
    assert_eq!(eidgw(&["rp", "verify"]).await.code, 2);
}

#[tokio::test]
async fn sim_errors_say_what_to_do() {
    let app = spawn_app(Backend::Embedded).await;
    let gw = app.address.as_str();
    let wallet = app.dir.path().join("wallet").display().to_string();
    let people = app
        .services
        .settings
        .store
        .data_dir
        .join("people.jsonl")
        .display()
        .to_string();
    let citizen = Citizen::nth(&app, 3);
    let register = |id: String| {
        let (wallet, people) = (wallet.clone(), people.clone());
        async move {
            eidgw(&[
                "sim",
                "--gateway",
                gw,
                "--wallet",
                &wallet,
                "register",
                "--personal-id",
                &id,
                "--people",
                &people,
            ])
            .await
        }
    };
    let short = register(citizen.id()[..11].to_owned()).await;
    assert_eq!(short.code, 1);
    assert!(short.stderr.contains("12 digits"), "{}", short.stderr);
    assert!(!short.stderr.contains(" is not in "), "{}", short.stderr);

    let first = register(citizen.id().to_owned()).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let again = register(citizen.id().to_owned()).await;
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("has an account already"),
        "{}",
        again.stderr
    );
    assert!(!again.stderr.contains("otp_invalid"), "{}", again.stderr);
    assert!(
        !again.stderr.contains(citizen.id()),
        "never the whole ID number"
    );

    // A persona's phone that has not logged in yet.
    let persona_wallet = app.dir.path().join("persona").display().to_string();
    let persona = eidgw(&[
        "sim",
        "--gateway",
        gw,
        "--wallet",
        &persona_wallet,
        "persona",
        "level-2",
        "--people",
        &people,
    ])
    .await;
    assert_eq!(persona.code, 0, "{}", persona.stderr);
    let present = eidgw(&[
        "sim",
        "--gateway",
        gw,
        "--wallet",
        &persona_wallet,
        "present",
        "--rp",
        "vietsky-air",
        "--nonce",
        "gate-1",
    ])
    .await;
    assert_ne!(present.code, 0);
    assert!(
        present.stderr.contains("eidgw sim login"),
        "{}",
        present.stderr
    );
}

/// A copy of a dev data directory (the running test gateway holds its own open), reset, then
/// served again: the registry, the relying parties and the audit log are there, the accounts
/// are not, and the personas are prepared again.
#[tokio::test]
async fn sandbox_reset_clears_accounts_and_keeps_keys_registry_and_audit() {
    let app = spawn_app(Backend::Embedded).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let before_people: Vec<Value> = app.get("/dev/personas").await.json().await.unwrap();
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();

    let copy = tempfile::tempdir().unwrap();
    for sub in ["data", "keys"] {
        copy_dir(&app.dir.path().join(sub), &copy.path().join(sub));
    }
    let data_dir = copy.path().join("data").display().to_string();
    let reset = eidgw(&["sandbox", "reset", "--data-dir", &data_dir, "--json"]).await;
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    let removed = reset.json();
    assert!(
        removed["removed"]["accounts"].as_u64().unwrap() >= 2,
        "{removed}"
    );
    let production = eidgw(&[
        "--env",
        "production",
        "sandbox",
        "reset",
        "--data-dir",
        &data_dir,
    ])
    .await;
    assert_ne!(production.code, 0);

    let mut settings = test_settings(Backend::Embedded, copy.path());
    settings.store.data_dir = copy.path().join("data");
    let again = spawn_with(settings, copy).await;
    assert!(
        again
            .services
            .accounts
            .get(&citizen.truth.person.personal_id)
            .await
            .unwrap()
            .is_none(),
        "the account is gone"
    );
    assert!(
        again
            .services
            .registry
            .person(&citizen.truth.person.personal_id)
            .await
            .unwrap()
            .is_some()
    );
    let after_people: Vec<Value> = again.get("/dev/personas").await.json().await.unwrap();
    assert_eq!(
        after_people, before_people,
        "the same personas, prepared again"
    );
    let jwks_after: Value = again
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_after, jwks, "the same keys");
    // The citizen can register afresh.
    citizen.register(&again).await;
    let status = eid_gateway::audit::verify(again.services.store.as_ref())
        .await
        .unwrap();
    assert!(
        matches!(status, eid_gateway::audit::ChainStatus::Intact { .. }),
        "{status:?}"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn the_local_commands_print_one_json_document() {
    let app = spawn_app(Backend::Embedded).await;
    let keys = app.services.settings.keys.dir.display().to_string();
    let with_keys = |args: &'static [&'static str]| {
        let keys = keys.clone();
        async move {
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
                    .current_dir(repo())
                    .args(args)
                    .env("EIDGW__KEYS__DIR", keys)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<Value>(&out.stdout)
                .unwrap_or_else(|_| panic!("{args:?}: {}", String::from_utf8_lossy(&out.stdout)))
        }
    };
    let shown = with_keys(&["keys", "show", "--json"]).await;
    assert_eq!(shown["origin"], "dev");
    let states: Vec<&str> = shown["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"active") && states.contains(&"next"),
        "{shown}"
    );
    assert!(
        !shown.to_string().contains("\"d\""),
        "public information only"
    );
    let checked = with_keys(&["config", "check", "--json"]).await;
    assert_eq!(checked["ok"], true);
    assert_eq!(checked["mode"], "dev");
    assert!(checked["relying_parties"].as_u64().unwrap() >= 5);

    let out_file = app.dir.path().join("ten.jsonl").display().to_string();
    let generated = eidgw(&[
        "population",
        "generate",
        "--count",
        "10",
        "--seed",
        "3",
        "--out",
        &out_file,
        "--json",
    ])
    .await;
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    assert_eq!(generated.json()["people"], 10);
    assert!(
        generated.stderr.is_empty(),
        "no progress off a terminal: {}",
        generated.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap().lines().count(),
        10
    );

    let messages = eidgw(&["messages", "--lang", "en", "--json"]).await;
    assert_eq!(messages.json()["lang"], "en");
    let served: Value = app.get("/v1/messages?lang=en").await.json().await.unwrap();
    assert_eq!(
        messages.json(),
        served,
        "the CLI prints what the gateway serves"
    );
}
