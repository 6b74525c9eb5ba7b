//! Key generation, the JWKS, rotation, and production's refusal of dev keys.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use eid_gateway::audit::{AuditEntry, AuditKind};
use eid_gateway::store::Log;
use eid_gateway::tokens::KeyringManifest;
use eid_gateway::tokens::jwk::thumbprint;

use crate::helpers::{Backend, spawn_app, test_settings};

#[tokio::test]
async fn dev_start_creates_a_complete_key_set_with_private_files_0600() {
    // Not spawn_app (which copies a prepared key set): this gateway generates its own.
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(Backend::Embedded, dir.path());
    let app = crate::helpers::spawn_with(settings, dir).await;
    let keys = app.dir.path().join("keys");
    for f in [
        "origin",
        "pairwise.secret",
        "signing/keyring.json",
        "card-authority/csca.pem",
        "card-authority/ds-0001.pem",
        "card-authority/ds-0001.cert.json",
        "trust/csca-0001.cert.json",
    ] {
        assert!(keys.join(f).exists(), "{f}");
    }
    let mut private = vec![
        keys.join("pairwise.secret"),
        keys.join("card-authority/csca.pem"),
        keys.join("card-authority/ds-0001.pem"),
    ];
    for entry in std::fs::read_dir(keys.join("signing")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "pem") {
            private.push(p);
        }
    }
    assert!(
        private.len() >= 7,
        "two Ed25519 and two RSA signing keys among them"
    );
    for p in private {
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            p.display()
        );
    }
    assert_eq!(std::fs::read_to_string(keys.join("origin")).unwrap(), "dev");
}

#[tokio::test]
async fn the_jwks_publishes_active_and_next_keys_with_thumbprint_kids_and_a_cache_lifetime() {
    let app = spawn_app(Backend::Embedded).await;
    let res = app.get("/.well-known/jwks.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    let jwks: serde_json::Value = res.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4, "active and next, Ed25519 and RSA");
    for k in keys.iter().filter(|k| k["kty"] == "RSA") {
        // RSA: only for the ID tokens of relying parties registered for RS256.
        assert_eq!(k["alg"], "RS256");
        assert!(k["n"].is_string() && k["e"].is_string());
        assert!(
            k.get("d").is_none() && k.get("p").is_none(),
            "never private material"
        );
    }
    let keys: Vec<&serde_json::Value> = keys.iter().filter(|k| k["kty"] == "OKP").collect();
    assert_eq!(keys.len(), 2);
    for k in &keys {
        assert_eq!(k["kty"], "OKP");
        assert_eq!(k["crv"], "Ed25519");
        assert_eq!(k["alg"], "EdDSA");
        assert!(k.get("d").is_none(), "never private material");
        let key =
            eid_gateway::tokens::jwk::parse_ed25519_public_key(k["x"].as_str().unwrap()).unwrap();
        assert_eq!(k["kid"], thumbprint(&key));
    }
    assert_eq!(
        keys[0]["kid"],
        app.services.keyring.load().active_kid(),
        "active key first"
    );
}

#[tokio::test]
async fn a_rotation_is_picked_up_by_the_running_gateway_and_audited_once() {
    let app = spawn_app(Backend::Embedded).await;
    let before = app.services.keyring.load().active_kid().to_owned();
    let signing = app.services.keys.signing();
    use eid_gateway::clock::Clock;
    let later = app.clock.now().plus(Duration::from_secs(600));
    let r = KeyringManifest::rotate(
        &signing,
        later,
        Duration::from_secs(300),
        Duration::from_secs(86_400),
        false,
    )
    .unwrap();
    eid_gateway::startup::reload_keyring(&app.services).await;
    eid_gateway::startup::reload_keyring(&app.services).await;
    let jwks: serde_json::Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids[0], r.activated, "the former next key now signs");
    assert!(
        kids.contains(&before.as_str()),
        "the retired key stays published"
    );
    assert_eq!(
        kids.len(),
        6,
        "active, next, retired, for Ed25519 and for RSA"
    );
    let entries = app.store().read_log(Log::Audit, 1, 100).await.unwrap();
    let rotations = entries
        .iter()
        .filter(|(_, e)| {
            serde_json::from_slice::<AuditEntry>(e).unwrap().body.kind
                == AuditKind::SigningKeyRotated
        })
        .count();
    assert_eq!(rotations, 1);
}

#[tokio::test]
async fn production_refuses_dev_keys_and_missing_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(Backend::Embedded, dir.path());
    settings.mode = eid_gateway::config::Mode::Production;
    let clock: eid_gateway::clock::SharedClock =
        std::sync::Arc::new(eid_gateway::clock::SystemClock);
    let missing = eid_gateway::startup::prepare_keys(&settings, &clock)
        .unwrap_err()
        .to_string();
    assert!(missing.contains("keys init"), "{missing}");
    eid_gateway::keys::KeyDir::new(&settings.keys.dir)
        .init(eid_gateway::keys::Origin::Dev, clock.now())
        .unwrap();
    let dev = eid_gateway::startup::prepare_keys(&settings, &clock)
        .unwrap_err()
        .to_string();
    assert!(dev.contains("dev mode"), "{dev}");
}

#[test]
fn keys_init_refuses_to_overwrite_an_existing_set() {
    let dir = tempfile::tempdir().unwrap();
    let keys = eid_gateway::keys::KeyDir::new(dir.path());
    keys.init(
        eid_gateway::keys::Origin::Operator,
        eid_gateway::clock::Timestamp::from_secs(0),
    )
    .unwrap();
    assert!(
        keys.init(
            eid_gateway::keys::Origin::Operator,
            eid_gateway::clock::Timestamp::from_secs(1)
        )
        .is_err()
    );
}
