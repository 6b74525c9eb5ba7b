//! The signed usage-history export: the gateway signs the citizen's history with its published
//! key; `eidgw history verify` calls it genuine against the JWKS (offline or from the gateway)
//! and refuses an edited copy, a token of another kind, another gateway's document and a
//! document whose key is not published.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::both_backends;
use crate::citizen::{Citizen, logged_in, verify};
use crate::helpers::*;
use eid_gateway::identity::history_export::{NotGenuine, verify as check};

both_backends!(the_history_export_is_signed_and_any_edit_is_found);

async fn export_of(app: &TestApp, session: &str) -> reqwest::Response {
    Citizen::get(app, "/v1/citizen/history/export", session).await
}

fn jwks(app: &TestApp) -> jsonwebtoken::jwk::JwkSet {
    serde_json::to_value(app.services.keyring.load().jwks())
        .and_then(serde_json::from_value)
        .unwrap()
}

/// `document` with its payload replaced by `edit(payload)`, the signature kept.
fn edited(document: &str, edit: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = document.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    edit(&mut payload);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

fn eidgw(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
        .args(args)
        .output()
        .unwrap()
}

async fn the_history_export_is_signed_and_any_edit_is_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut citizen = logged_in(&app, 0).await;
    citizen.make_level2(&app).await;
    citizen.login(&app).await;
    for (rp, nonce) in [("vietsky-air", "n-1"), ("hanoi-general-hospital", "n-2")] {
        let token = citizen.token_for(&app, rp, nonce).await;
        assert_eq!(verify(&app, rp, &token, Some(nonce)).await["valid"], true);
    }
    let session = citizen.session.clone().unwrap();

    // Without a session: nothing.
    let res = app
        .client
        .get(app.url("/v1/citizen/history/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let res = export_of(&app, &session).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jose");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"vneid-history-")
    );
    let document = res.text().await.unwrap();
    let header = jsonwebtoken::decode_header(&document).unwrap();
    assert_eq!(header.typ.as_deref(), Some("eid-history+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);

    let keys = jwks(&app);
    let issuer = app.services.issuer().to_owned();
    let export = check(&document, &keys, Some(&issuer)).unwrap();
    assert_eq!(export.sub, citizen.id());
    assert_eq!(export.name, citizen.truth.person.full_name);
    assert!(export.complete);
    let history = citizen.history(&app).await;
    assert_eq!(export.entries.len(), history.len());
    assert_eq!(
        serde_json::to_value(&export.entries).unwrap(),
        Value::from(history)
    );
    assert_eq!(export.entries.len(), 2);

    // Every kind of edit breaks it.
    let removed = edited(&document, |p| {
        p["entries"].as_array_mut().unwrap().remove(0);
    });
    let renamed = edited(&document, |p| {
        p["entries"][0]["relying_party"] = "Somebody Else".into();
    });
    let moved = edited(&document, |p| {
        p["entries"][1]["at"] = (p["entries"][1]["at"].as_i64().unwrap() - 86_400).into();
    });
    for tampered in [&removed, &renamed, &moved] {
        assert_eq!(
            check(tampered, &keys, Some(&issuer)),
            Err(NotGenuine::BadSignature)
        );
    }
    // A presentation token is not a history export, though the same key signed it.
    let presentation = citizen.token_for(&app, "vietsky-air", "n-3").await;
    assert!(matches!(
        check(&presentation, &keys, Some(&issuer)),
        Err(NotGenuine::WrongType(_))
    ));
    // Another gateway's keys: under another kid the key is unknown; under the same kid (a
    // gateway claiming to be this one) the signature fails.
    let kid = header.kid.clone().unwrap();
    let other = ed25519_dalek::SigningKey::from_bytes(&rand::random());
    let key_as = |kid: &str| -> jsonwebtoken::jwk::JwkSet {
        serde_json::from_value(serde_json::json!({ "keys": [{
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(other.verifying_key().as_bytes()),
        }] }))
        .unwrap()
    };
    assert!(matches!(
        check(&document, &key_as("another-gateway"), None),
        Err(NotGenuine::UnknownKey(_))
    ));
    assert_eq!(
        check(&document, &key_as(&kid), None),
        Err(NotGenuine::BadSignature)
    );
    assert!(matches!(
        check(&document, &keys, Some("https://another.example")),
        Err(NotGenuine::WrongIssuer { .. })
    ));
    assert!(matches!(
        check("not a document", &keys, None),
        Err(NotGenuine::Malformed(_))
    ));

    // The command: against the gateway, and offline against a saved JWKS.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("history.jwt");
    let bad = dir.path().join("edited.jwt");
    let saved = dir.path().join("jwks.json");
    std::fs::write(&file, &document).unwrap();
    std::fs::write(&bad, &renamed).unwrap();
    std::fs::write(&saved, serde_json::to_vec(&keys).unwrap()).unwrap();
    let (file, bad, saved) = (
        file.to_str().unwrap().to_owned(),
        bad.to_str().unwrap().to_owned(),
        saved.to_str().unwrap().to_owned(),
    );
    let address = app.address.clone();
    let outs = tokio::task::spawn_blocking(move || {
        [
            eidgw(&["history", "verify", &file, "--gateway", &address]),
            eidgw(&["history", "verify", &file, "--jwks", &saved, "--json"]),
            eidgw(&["history", "verify", &bad, "--gateway", &address]),
            eidgw(&["history", "verify", &bad, "--jwks", &saved, "--json"]),
        ]
    })
    .await
    .unwrap();
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(outs[0].status.code(), Some(0), "{}", text(&outs[0]));
    assert!(text(&outs[0]).starts_with("GENUINE"), "{}", text(&outs[0]));
    assert!(text(&outs[0]).contains("VietSky"), "{}", text(&outs[0]));
    let offline: Value = serde_json::from_str(&text(&outs[1])).unwrap();
    assert_eq!(offline["genuine"], true);
    assert_eq!(offline["entries"].as_array().unwrap().len(), 2);
    assert_eq!(outs[2].status.code(), Some(3));
    assert!(text(&outs[2]).contains("NOT GENUINE"), "{}", text(&outs[2]));
    assert!(text(&outs[2]).contains("edited"), "{}", text(&outs[2]));
    let refused: Value = serde_json::from_str(&text(&outs[3])).unwrap();
    assert_eq!(refused["genuine"], false);
    assert_eq!(outs[3].status.code(), Some(3));
}
