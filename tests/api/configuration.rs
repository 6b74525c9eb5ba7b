//! Layered configuration through the real binary: environment variables override files; unknown
//! keys and bad values stop it with a message naming the key.

use std::process::Command;

use crate::helpers::repo;

fn config_check(envs: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eidgw"))
        .current_dir(repo())
        .args(args)
        .args(["config", "check"])
        .envs(envs.iter().copied())
        .env("EIDGW__KEYS__DIR", "/nonexistent-eidgw-test-keys")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn environment_variables_override_the_files() {
    let (ok, text) = config_check(&[("EIDGW__SERVER__PUBLIC_URL", "http://id.test:9000")], &[]);
    assert!(ok, "{text}");
    assert!(
        text.contains("issuer:          http://id.test:9000"),
        "{text}"
    );
}

#[test]
fn an_unknown_environment_key_is_refused_by_name() {
    let (ok, text) = config_check(&[("EIDGW__SERVER__PROT", "9000")], &[]);
    assert!(!ok);
    assert!(text.contains("prot"), "{text}");
}

#[test]
fn a_bad_value_is_refused_by_name() {
    let (ok, text) = config_check(&[("EIDGW__SERVER__PORT", "ninety")], &[]);
    assert!(!ok);
    assert!(text.contains("server.port"), "{text}");
    let (ok, text) = config_check(&[("EIDGW__STORE__BACKEND", "postgres")], &[]);
    assert!(!ok);
    assert!(text.contains("store.backend"), "{text}");
}

#[test]
fn production_refuses_the_sandbox_relying_parties() {
    // A production configuration complete but for its relying parties: the shipped sandbox ones.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("config/default.toml"),
        dir.path().join("default.toml"),
    )
    .unwrap();
    let production = format!(
        "{}\n[[operators]]\nid = \"officer-1\"\nsecret_sha256 = \"{}\"\n",
        std::fs::read_to_string(repo().join("config/production.toml")).unwrap(),
        "a".repeat(64)
    );
    std::fs::write(dir.path().join("production.toml"), production).unwrap();
    let config_dir = dir.path().display().to_string();
    let rp_file = repo()
        .join("config/relying_parties.toml")
        .display()
        .to_string();
    let (ok, text) = config_check(
        &[
            ("EIDGW__SERVER__PUBLIC_URL", "https://id.gateway.test"),
            ("EIDGW__RELYING_PARTIES__FILE", &rp_file),
        ],
        &["--env", "production", "--config-dir", &config_dir],
    );
    assert!(!ok);
    assert!(text.contains("sandbox"), "{text}");
}

/// `serve --port P` in dev: the issuer is the address bound, unless `--public-url` (or
/// `server.public_url`) says otherwise; and production stops at once without a real one.
#[tokio::test]
async fn the_issuer_follows_the_bound_port_unless_a_public_url_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let start = |port: u16, extra: &[&str], env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .current_dir(repo())
            .args(["serve", "--port", &port.to_string(), "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--keys-dir")
            .arg(dir.path().join("keys"))
            .args(extra)
            .envs(env.iter().copied())
            .env("EIDGW__REGISTRY__DEV_SEED_COUNT", "20")
            .env("EIDGW__LOG__LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let issuer_of = |port: u16| async move {
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(format!(
                "http://127.0.0.1:{port}/.well-known/openid-configuration"
            ))
            .await
            {
                let v: serde_json::Value = r.json().await.unwrap();
                return v["issuer"].as_str().unwrap().to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the gateway did not answer on port {port}");
    };
    let port = crate::redis_outage::free_port();
    let mut gw = start(port, &[], &[]);
    assert_eq!(issuer_of(port).await, format!("http://127.0.0.1:{port}"));
    gw.kill().unwrap();
    gw.wait().unwrap();
    let port = crate::redis_outage::free_port();
    let mut gw = start(port, &["--public-url", "http://gateway.test:9999"], &[]);
    assert_eq!(issuer_of(port).await, "http://gateway.test:9999");
    gw.kill().unwrap();
    gw.wait().unwrap();
    // Production without a public URL does not start, and says why.
    let out = start(
        crate::redis_outage::free_port(),
        &[],
        &[("EIDGW_ENV", "production")],
    )
    .wait_with_output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.public_url") && err.contains("must be set"),
        "{err}"
    );
}
