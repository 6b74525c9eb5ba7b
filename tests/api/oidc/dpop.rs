//! DPoP (RFC 9449): sender-constrained access and refresh tokens, and every proof fault.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use super::*;
use crate::both_backends;
use crate::citizen::Citizen;

both_backends!(dpop_binds_tokens_to_the_clients_key);

/// A DPoP proof (RFC 9449) by `key` for a request, with chosen claims.
fn dpop_proof(key: &ed25519_dalek::SigningKey, claims: Value, header_extra: Value) -> String {
    use ed25519_dalek::Signer;
    let mut header = json!({
        "typ": "dpop+jwt",
        "alg": "EdDSA",
        "jwk": { "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()) },
    });
    for (k, v) in header_extra.as_object().unwrap() {
        header[k] = v.clone();
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes())
    )
}

fn proof_claims(app: &TestApp, htm: &str, path: &str, access_token: Option<&str>) -> Value {
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).unwrap();
    let mut c = json!({
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "htm": htm,
        "htu": app.url(path),
        "iat": app.clock_now_secs(),
    });
    if let Some(t) = access_token {
        c["ath"] = json!(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(t.as_bytes())));
    }
    c
}

async fn dpop_binds_tokens_to_the_clients_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random());
    let thief = ed25519_dalek::SigningKey::from_bytes(&rand::random());
    let p = pkce();
    let mut b = Browser::new(&app);
    let back = sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
    let code = query_param(&back, "code").unwrap();
    let token_with = |proof: String, form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/oauth2/token"))
                .basic_auth(PORTAL, Some(sandbox_secret(PORTAL)))
                .header("DPoP", proof)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let code_form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.clone()),
        ("redirect_uri", CALLBACK.to_owned()),
        ("code_verifier", p.verifier.clone()),
    ];
    // A proof for the wrong URL is refused at the token endpoint (and the code is not spent).
    let bad = dpop_proof(
        &key,
        proof_claims(&app, "POST", "/oauth2/userinfo", None),
        json!({}),
    );
    let res = token_with(bad, code_form.clone()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let good = dpop_proof(
        &key,
        proof_claims(&app, "POST", "/oauth2/token", None),
        json!({}),
    );
    let res = token_with(good, code_form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["token_type"], "DPoP");
    let access = t["access_token"].as_str().unwrap().to_owned();
    let (_, claims) = verify_with_jwks(&app, &access).await;
    assert!(claims["cnf"]["jkt"].is_string());
    assert_eq!(
        introspect(&app, PORTAL, &access).await["cnf"],
        claims["cnf"]
    );

    let call = |scheme: &'static str, proof: Option<String>| {
        let app = &app;
        let access = access.clone();
        async move {
            let mut req = app
                .client
                .get(app.url("/oauth2/userinfo"))
                .header("authorization", format!("{scheme} {access}"));
            if let Some(p) = proof {
                req = req.header("DPoP", p);
            }
            req.send().await.unwrap()
        }
    };
    let proof = |k: &ed25519_dalek::SigningKey, claims: Value| dpop_proof(k, claims, json!({}));
    let fresh = || proof_claims(&app, "GET", "/oauth2/userinfo", Some(&access));
    let ok = proof(&key, fresh());
    assert_eq!(
        call("DPoP", Some(ok.clone())).await.status(),
        StatusCode::OK
    );
    // Replayed proof.
    assert_eq!(
        call("DPoP", Some(ok)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The bound token as a plain bearer token, or without a proof.
    assert_eq!(
        call("Bearer", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call("DPoP", None).await.status(), StatusCode::UNAUTHORIZED);
    // Another key (the token was stolen).
    assert_eq!(
        call("DPoP", Some(proof(&thief, fresh()))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Wrong htm, wrong htu, stale iat, wrong ath, no ath.
    let mut c = fresh();
    c["htm"] = json!("POST");
    assert_eq!(
        call("DPoP", Some(proof(&key, c))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut c = fresh();
    c["htu"] = json!(app.url("/oauth2/token"));
    assert_eq!(
        call("DPoP", Some(proof(&key, c))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut c = fresh();
    c["iat"] = json!(app.clock_now_secs() - 300);
    let res = call("DPoP", Some(proof(&key, c))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP error=\"invalid_dpop_proof\"")
    );
    let mut c = fresh();
    c["ath"] = json!(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(b"another token")));
    assert_eq!(
        call("DPoP", Some(proof(&key, c))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut c = fresh();
    c.as_object_mut().unwrap().remove("ath");
    assert_eq!(
        call("DPoP", Some(proof(&key, c))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Header rules: typ, alg, a private key in the header.
    for extra in [
        json!({ "typ": "JWT" }),
        json!({ "alg": "none" }),
        json!({ "alg": "HS256" }),
        json!({ "jwk": { "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()), "d": URL_SAFE_NO_PAD.encode(key.to_bytes()) } }),
    ] {
        let res = call("DPoP", Some(dpop_proof(&key, fresh(), extra.clone()))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{extra}");
    }
    assert_eq!(
        call("DPoP", Some(proof(&key, fresh()))).await.status(),
        StatusCode::OK
    );

    // The refresh token is bound too: no proof or another key's proof is refused and spends
    // nothing; the right key refreshes.
    let refresh_form = || {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            (
                "refresh_token",
                t["refresh_token"].as_str().unwrap().to_owned(),
            ),
        ]
    };
    let res = token_request(
        &app,
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let stolen = dpop_proof(
        &thief,
        proof_claims(&app, "POST", "/oauth2/token", None),
        json!({}),
    );
    let res = token_with(stolen, refresh_form()).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let mine = dpop_proof(
        &key,
        proof_claims(&app, "POST", "/oauth2/token", None),
        json!({}),
    );
    let res = token_with(mine, refresh_form()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["token_type"], "DPoP");
}
