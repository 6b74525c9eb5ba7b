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
    let (ok, text) = config_check(&[], &["--env", "production"]);
    assert!(!ok);
    assert!(text.contains("sandbox"), "{text}");
}
