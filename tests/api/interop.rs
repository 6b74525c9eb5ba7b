//! Interoperability: independent OpenID client stacks — Node `openid-client` v6 with `jose`, and
//! Python `Authlib` with `joserfc` — run discovery, PAR/authorize with PKCE, the login pages,
//! the token request, ID token validation against the JWKS, userinfo, refresh, introspection and
//! revocation against a gateway started here. `scripts/test` installs them; without them these
//! tests fail rather than pass silently.

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use serde_json::Value;

use crate::both_backends;
use crate::citizen::Citizen;
use crate::helpers::*;
use crate::oidc::{CALLBACK, PORTAL};

fn node_client() -> PathBuf {
    let dir = repo().join("tests/interop/node");
    assert!(
        dir.join("node_modules/openid-client").is_dir(),
        "openid-client is not installed: run scripts/test (or `npm ci` in {})",
        dir.display()
    );
    dir
}

fn python() -> String {
    std::env::var("EIDGW_INTEROP_PYTHON").unwrap_or_else(|_| {
        panic!(
            "EIDGW_INTEROP_PYTHON is not set: run scripts/test, which installs Authlib and joserfc \
             in a virtual environment and points this variable at its python"
        )
    })
}

/// Runs a client script off the runtime thread (which also drives the app's Redis connection).
async fn run(mut cmd: std::process::Command) -> Value {
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("client printed {}", String::from_utf8_lossy(&out.stdout)))
}

fn flow_env(cmd: &mut std::process::Command, app: &TestApp, citizen: &Citizen, client: &str) {
    cmd.env("ISSUER", app.services.issuer())
        .env("CLIENT_ID", client)
        .env("REDIRECT_URI", CALLBACK)
        .env("PERSONAL_ID", citizen.id())
        .env("PASSWORD", &citizen.password)
        .env("PHONE", citizen.truth.person.phone.as_str());
}

/// What every client must have seen.
fn assert_full_flow(app: &TestApp, seen: &Value, client: &str) {
    let id = &seen["id_token_claims"];
    assert_eq!(id["iss"], app.services.issuer(), "{seen}");
    assert_eq!(id["aud"], client);
    assert_eq!(id["acr"], "urn:vn:eid:level:1");
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(seen["userinfo"]["sub"], id["sub"]);
    assert_eq!(seen["refreshed_rotates"], true);
    assert_eq!(seen["introspection"]["active"], true);
    assert_eq!(seen["introspection"]["client_id"], client);
    assert_eq!(seen["after_revocation"]["active"], false);
}

both_backends!(
    openid_client_with_client_secret_basic_and_par,
    openid_client_with_private_key_jwt_and_dpop,
    authlib_with_client_secret_basic,
    authlib_with_an_rs256_client,
    pyoidc_with_the_rs256_sandbox_client_through_the_pages,
    openid_client_registers_itself_then_logs_in,
);

async fn openid_client_with_client_secret_basic_and_par(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut cmd = std::process::Command::new("node");
    cmd.current_dir(node_client()).arg("flow.mjs");
    flow_env(&mut cmd, &app, &citizen, PORTAL);
    cmd.env("CLIENT_SECRET", sandbox_secret(PORTAL));
    let seen = run(cmd).await;
    assert_full_flow(&app, &seen, PORTAL);
    assert_eq!(seen["authorization_url_uses_par"], true);
    assert_eq!(seen["callback_has_iss"], app.services.issuer());
    assert_eq!(
        seen["id_token_claims"]["name"],
        citizen.truth.person.full_name
    );
}

/// A relying party registered with `private_key_jwt` (its own Ed25519 key) next to the shipped
/// ones.
async fn openid_client_with_private_key_jwt_and_dpop(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&rand::random());
    let pem_path = dir.path().join("rp.pem");
    // PKCS#8 v1 (no public key inside), which every PEM reader accepts.
    let v1 = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    std::fs::write(
        &pem_path,
        v1.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let public = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        key.verifying_key().as_bytes(),
    );
    let app = spawn_with_relying_parties(
        backend,
        &format!(
            "[[relying_party]]\nclient_id = \"interop-rp\"\nname = \"Interop RP\"\n\
             sector = \"interop.example\"\nsandbox = true\nmin_level = 1\nmin_auth_level = 1\n\
             allowed_claims = [\"full_name\", \"birth_date\"]\nredirect_uris = [\"{CALLBACK}\"]\n\
             rate_quota_per_minute = 600\n[relying_party.authentication]\n\
             method = \"private_key_jwt\"\npublic_key = \"{public}\"\n"
        ),
    )
    .await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut cmd = std::process::Command::new("node");
    cmd.current_dir(node_client()).arg("flow.mjs");
    flow_env(&mut cmd, &app, &citizen, "interop-rp");
    cmd.env("CLIENT_KEY_PEM", &pem_path);
    // Sender-constrained with DPoP, refresh included: an ES256 key, and an Ed25519 one whose
    // proofs openid-client signs with `alg: "Ed25519"`.
    for alg in ["ES256", "Ed25519"] {
        cmd.env("DPOP", alg);
        let seen = run(clone_command(&cmd)).await;
        assert_full_flow(&app, &seen, "interop-rp");
        assert_eq!(seen["token_type"], "dpop", "{alg}: {seen}");
        assert_eq!(seen["refreshed_token_type"], "dpop");
        assert!(seen["introspection"]["cnf"]["jkt"].is_string(), "{seen}");
    }
}

/// The same program and environment, to run again.
fn clone_command(cmd: &std::process::Command) -> std::process::Command {
    let mut copy = std::process::Command::new(cmd.get_program());
    copy.args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        copy.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            copy.env(k, v);
        }
    }
    copy
}

/// openid-client registers itself (RFC 7591 `dynamicClientRegistration`) and then logs a
/// citizen in with what it got, the whole flow.
async fn openid_client_registers_itself_then_logs_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut cmd = std::process::Command::new("node");
    cmd.current_dir(node_client()).arg("flow.mjs");
    flow_env(&mut cmd, &app, &citizen, "unused");
    cmd.env("REGISTER", "1");
    let seen = run(cmd).await;
    let client = seen["client_id"].as_str().unwrap().to_owned();
    assert!(client.starts_with("rp-"), "{seen}");
    assert_full_flow(&app, &seen, &client);
}

async fn authlib_with_client_secret_basic(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut cmd = std::process::Command::new(python());
    cmd.arg(repo().join("tests/interop/python/flow.py"));
    flow_env(&mut cmd, &app, &citizen, PORTAL);
    cmd.env("CLIENT_SECRET", sandbox_secret(PORTAL));
    let seen = run(cmd).await;
    assert_full_flow(&app, &seen, PORTAL);
    assert_eq!(seen["revocation_status"], 200);
    assert!(seen["id_token_claims"]["age_over_18"].is_boolean());
    assert!(
        seen["userinfo"].get("birthdate").is_none(),
        "age_over_18 alone"
    );
}

async fn authlib_with_an_rs256_client(backend: Backend) {
    let app = spawn_with_relying_parties(backend, &rs256_client_toml()).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut cmd = std::process::Command::new(python());
    cmd.arg(repo().join("tests/interop/python/flow.py"));
    flow_env(&mut cmd, &app, &citizen, RS256_CLIENT);
    cmd.env("CLIENT_SECRET", RS256_CLIENT_SECRET)
        .env("ID_TOKEN_ALG", "RS256")
        .env("SCOPE", "openid profile birthdate");
    let seen = run(cmd).await;
    assert_full_flow(&app, &seen, RS256_CLIENT);
    assert_eq!(seen["id_token_alg"], "RS256");
}

/// pyoidc (the OpenID Foundation's Python library; it has no EdDSA) with the shipped RS256
/// sandbox client: discovery, the pages through a plain `requests.Session` cookie jar, the code
/// flow with PKCE, RS256 ID token validation, userinfo, and logout with an RS256 hint and no
/// client_id.
async fn pyoidc_with_the_rs256_sandbox_client_through_the_pages(backend: Backend) {
    const CLIENT: &str = "portal-rs256";
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut cmd = std::process::Command::new(python());
    cmd.arg(repo().join("tests/interop/python/pyoidc_flow.py"));
    flow_env(&mut cmd, &app, &citizen, CLIENT);
    cmd.env("CLIENT_SECRET", sandbox_secret(CLIENT))
        .env("POST_LOGOUT_REDIRECT_URI", "http://127.0.0.1:9000/");
    let seen = run(cmd).await;
    let id = &seen["id_token_claims"];
    assert_eq!(id["iss"], app.services.issuer(), "{seen}");
    assert!(
        id["aud"] == CLIENT || id["aud"] == serde_json::json!([CLIENT]),
        "{seen}"
    );
    assert_eq!(id["name"], citizen.truth.person.full_name);
    assert_eq!(seen["userinfo"]["sub"], id["sub"]);
    // The RS256 hint is recognised: back to the registered address, signed out.
    assert_eq!(seen["logout_status"], 303, "{seen}");
    assert_eq!(seen["logout_location"], "http://127.0.0.1:9000/?state=bye");
    assert_eq!(
        seen["after_logout"]["error"],
        serde_json::json!(["login_required"])
    );
}
