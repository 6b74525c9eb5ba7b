//! The OpenAPI document is exact: schemathesis (the OpenAPI fuzzer) runs its example, coverage
//! and fuzzing phases against `/openapi.json` of a live gateway, a bounded number of examples
//! per operation, with every check on, as a relying party (client_secret_basic), an operator,
//! a signed-in citizen's app (session) and an OpenID client (access token). Any finding —
//! an undocumented status or content type, a response outside its schema, a schema-valid
//! request refused or an invalid one accepted, a server error — fails the test.
//! `tests/schemathesis/schemathesis.toml` says which refusals no schema can express, and why.

use std::path::PathBuf;

use crate::helpers::*;
use crate::oidc::logged_in_at_portal;

fn schemathesis() -> PathBuf {
    let python = std::env::var("EIDGW_INTEROP_PYTHON").unwrap_or_else(|_| {
        panic!("EIDGW_INTEROP_PYTHON is not set: run scripts/test, which installs schemathesis")
    });
    PathBuf::from(python).with_file_name("schemathesis")
}

#[tokio::test]
async fn schemathesis_finds_nothing_in_the_openapi_document() {
    let app = spawn_app(Backend::Embedded).await;
    let session = crate::citizen::logged_in(&app, 0)
        .await
        .session
        .expect("a session");
    let (_, tokens) = logged_in_at_portal(&app, 1).await;
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let dir = repo().join("tests/schemathesis");
    // A fixed seed makes a finding reproducible; EIDGW_FUZZ_SEED explores others.
    let seed = std::env::var("EIDGW_FUZZ_SEED").unwrap_or_else(|_| "20261202".into());
    let mut cmd = std::process::Command::new(schemathesis());
    cmd.current_dir(&dir)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("EIDGW_FUZZ_SESSION", session)
        .env("EIDGW_FUZZ_ACCESS_TOKEN", access_token)
        .env("PYTHONPATH", &dir)
        .args(["--config-file", "schemathesis.toml", "run"])
        .arg(app.url("/openapi.json"))
        .args([
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "10",
            "--continue-on-failure",
            "--max-redirects",
            "0",
            "--request-timeout",
            "10",
            "--suppress-health-check",
            "all",
            "--workers",
            "2",
            "--seed",
            &seed,
            "--no-color",
        ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("No issues found") || report.contains("passed"),
        "{report}"
    );
}
