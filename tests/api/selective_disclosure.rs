//! Selective disclosure: `age_over_18` and `age_over_N` (for the N a relying party registered)
//! answer yes or no without the birth date, in the verification API and in OpenID Connect.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::citizen::{Citizen, logged_in};
use crate::helpers::*;
use crate::oidc::{
    Browser, CALLBACK, PORTAL, authorize_url, pkce, query_param, redeem, sign_in, verify_with_jwks,
};

both_backends!(
    the_verification_api_answers_age_over_n_without_the_birth_date,
    oidc_age_over_scopes_release_only_booleans_for_registered_ages,
);

const BAR: &str = "saigon-night-bar";
const BAR_SECRET: &str = "saigon-bar-test-secret-0c5e7a9b1d3f5a7c9e1b3d5f7a9c1e3b";

/// A venue that checks age at the door: it may learn whether a guest is over 21 or 65, and
/// nothing else about them, not even the birth date.
fn bar_toml() -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(BAR_SECRET.as_bytes()));
    format!(
        "[[relying_party]]\nclient_id = \"{BAR}\"\nname = \"Saigon Night Bar\"\n\
         sector = \"saigon-bar.example\"\nsandbox = true\nmin_level = 1\nmin_auth_level = 1\n\
         permissions = [\"verify\"]\nallowed_claims = []\nage_over = [21, 65]\n\
         rate_quota_per_minute = 600\n[relying_party.authentication]\n\
         method = \"client_secret_basic\"\nsecret_sha256 = \"{digest}\"\n"
    )
}

fn age(c: &Citizen) -> u32 {
    Utc::now()
        .date_naive()
        .years_since(c.truth.person.birth_date)
        .unwrap()
}

async fn the_verification_api_answers_age_over_n_without_the_birth_date(backend: Backend) {
    let app = spawn_with_relying_parties(backend, &bar_toml()).await;
    for n in [0, 3] {
        let c = logged_in(&app, n).await;
        let token = c.token_for(&app, BAR, "door").await;
        let res = app
            .client
            .post(app.url("/v1/verify"))
            .basic_auth(BAR, Some(BAR_SECRET))
            .json(&serde_json::json!({ "token": token, "nonce": "door" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["valid"], true, "{v}");
        let claims = v["claims"].as_object().unwrap();
        let keys: Vec<&String> = claims.keys().collect();
        assert_eq!(keys, ["age_over_21", "age_over_65"], "only the booleans");
        assert_eq!(claims["age_over_21"], age(&c) >= 21);
        assert_eq!(claims["age_over_65"], age(&c) >= 65);
    }
    // A registration with an absurd age is refused at load.
    let bad = bar_toml().replace("[21, 65]", "[0]");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relying_parties.toml");
    std::fs::write(&path, bad).unwrap();
    let err =
        eid_gateway::relying_parties::RegistryFile::load(&path, eid_gateway::config::Mode::Dev)
            .unwrap_err();
    assert!(err.contains("age_over 0"), "{err}");
}

async fn oidc_age_over_scopes_release_only_booleans_for_registered_ages(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let p = pkce();
    // The portal registered 16 and 60; 30 is not registered and is not granted.
    let url = authorize_url(
        PORTAL,
        CALLBACK,
        &p.challenge,
        &[(
            "scope",
            "openid age_over_18 age_over_16 age_over_60 age_over_30",
        )],
    )
    .replace("scope=openid+profile+birthdate+phone&", "");
    let mut b = Browser::new(&app);
    let back = sign_in(&mut b, &citizen, &url).await;
    let consent = b.consent_page.clone().unwrap();
    assert!(consent.contains("Bạn có từ 60 tuổi trở lên hay không (không tiết lộ ngày sinh)"));
    let code = query_param(&back, "code").unwrap();
    let t: Value = redeem(&app, &code, &p.verifier).await.json().await.unwrap();
    assert_eq!(t["scope"], "openid age_over_18 age_over_16 age_over_60");
    let (_, id) = verify_with_jwks(&app, t["id_token"].as_str().unwrap()).await;
    let years = age(&citizen);
    assert_eq!(id["age_over_16"], years >= 16, "{id}");
    assert_eq!(id["age_over_18"], years >= 18);
    assert_eq!(id["age_over_60"], years >= 60);
    assert!(id.get("age_over_30").is_none());
    assert!(id.get("birthdate").is_none());
    assert!(id.get("name").is_none());
}
