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

/// A proof with any header and a signature of `signature_len` zero bytes: what a probe sends.
fn forged_proof(header: Value, claims: Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode([0u8; 64])
    )
}

/// Keys in DPoP headers that no crypto library may be handed: each is an ordinary
/// `invalid_dpop_proof`, never a dropped connection — at userinfo (no credentials needed) and at
/// the token endpoint.
#[tokio::test]
async fn malformed_dpop_keys_are_refused_and_never_drop_the_connection() {
    let app = spawn_app(Backend::Embedded).await;
    let p256 = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
    let point = p256.verifying_key().to_encoded_point(false);
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    );
    let keys = [
        ("EdDSA", json!({"kty":"OKP","crv":"Ed25519","x":"c2hvcnQ"})),
        ("EdDSA", json!({"kty":"OKP","crv":"Ed25519","x":""})),
        (
            "EdDSA",
            json!({"kty":"OKP","crv":"Ed25519","x": URL_SAFE_NO_PAD.encode([1u8; 64])}),
        ),
        ("EdDSA", json!({"kty":"OKP","crv":"Ed25519"})),
        ("Ed25519", json!({"kty":"OKP","crv":"Ed25519","x":"AA"})),
        (
            "ES256",
            json!({"kty":"EC","crv":"P-256","x":"c2hvcnQ","y":"c2hvcnQ"}),
        ),
        (
            "ES256",
            json!({"kty":"EC","crv":"P-256","x": x, "y": URL_SAFE_NO_PAD.encode([3u8; 32])}),
        ),
        ("ES256", json!({"kty":"EC","crv":"P-256","x": x})),
        ("ES256", json!({"kty":"EC","crv":"P-384","x": x, "y": y})),
        ("ES256", json!({"kty":"RSA","n":"AQ","e":"AQAB"})),
        (
            "EdDSA",
            json!({"kty":"OKP","crv":"Ed25519","x":["not","text"]}),
        ),
        ("EdDSA", json!("not an object")),
    ];
    // One connection: a dropped one would fail every later request on it.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    for round in 0..20 {
        for (alg, jwk) in &keys {
            let header = json!({"typ":"dpop+jwt","alg": alg,"jwk": jwk});
            let proof = forged_proof(
                header.clone(),
                proof_claims(&app, "GET", "/oauth2/userinfo", Some("x")),
            );
            let res = client
                .get(app.url("/oauth2/userinfo"))
                .header("authorization", "DPoP x")
                .header("DPoP", proof)
                .send()
                .await
                .unwrap_or_else(|e| panic!("round {round}, {header}: no answer: {e}"));
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{header}");
            assert!(
                res.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .contains("invalid_dpop_proof"),
                "{header}"
            );
            if round == 0 {
                let proof = forged_proof(
                    header.clone(),
                    proof_claims(&app, "POST", "/oauth2/token", None),
                );
                let res = client
                    .post(app.url("/oauth2/token"))
                    .basic_auth(PORTAL, Some(sandbox_secret(PORTAL)))
                    .header("DPoP", proof)
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{header}: no answer at the token endpoint: {e}"));
                assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{header}");
                assert_eq!(
                    res.json::<Value>().await.unwrap()["error"],
                    "invalid_dpop_proof",
                    "{header}"
                );
            }
        }
    }
}

/// Ed25519 proofs may name the algorithm `EdDSA` or `Ed25519` (RFC 9864, what openid-client 6
/// sends); P-256 proofs `ES256`. Each binds the token to its key.
#[tokio::test]
async fn dpop_proofs_by_ed25519_under_both_names_and_by_p256_are_accepted() {
    use p256::ecdsa::signature::Signer;
    let app = spawn_app(Backend::Embedded).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let ed = ed25519_dalek::SigningKey::from_bytes(&rand::random());
    let ec = p256::ecdsa::SigningKey::from_slice(&rand::random::<[u8; 32]>()).unwrap();
    let point = ec.verifying_key().to_encoded_point(false);
    let ec_jwk = json!({"kty":"EC","crv":"P-256",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()), "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())});
    let es256 = |claims: Value| {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD
                .encode(json!({"typ":"dpop+jwt","alg":"ES256","jwk": ec_jwk}).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig: p256::ecdsa::Signature = ec.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    };
    type Prover<'a> = Box<dyn Fn(Value) -> String + 'a>;
    let proofs: [(&str, Prover); 3] = [
        ("EdDSA", Box::new(|c| dpop_proof(&ed, c, json!({})))),
        (
            "Ed25519",
            Box::new(|c| dpop_proof(&ed, c, json!({"alg":"Ed25519"}))),
        ),
        ("ES256", Box::new(es256)),
    ];
    for (name, prove) in proofs {
        let p = pkce();
        let mut b = Browser::new(&app);
        let back = sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
        let code = query_param(&back, "code").unwrap();
        let res = app
            .client
            .post(app.url("/oauth2/token"))
            .basic_auth(PORTAL, Some(sandbox_secret(PORTAL)))
            .header(
                "DPoP",
                prove(proof_claims(&app, "POST", "/oauth2/token", None)),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &p.verifier),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        let t: Value = res.json().await.unwrap();
        assert_eq!(t["token_type"], "DPoP", "{name}");
        let access = t["access_token"].as_str().unwrap();
        let res = app
            .client
            .get(app.url("/oauth2/userinfo"))
            .header("authorization", format!("DPoP {access}"))
            .header(
                "DPoP",
                prove(proof_claims(&app, "GET", "/oauth2/userinfo", Some(access))),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{name}");
    }
    let metadata: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["dpop_signing_alg_values_supported"],
        json!(["EdDSA", "Ed25519", "ES256"])
    );
}
