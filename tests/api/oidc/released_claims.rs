//! What the citizen is shown is what is released: for every shipped relying party and every
//! scope, the consent page and the kiosk approval in the app list exactly the claims the ID
//! token then carries. Withdrawing a consent ends the tokens issued under it; a logout that no
//! ID token vouches for asks the citizen first.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eid_gateway::config::Mode;
use eid_gateway::relying_parties::{Permission, RegistryFile, RelyingParty};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::both_backends;
use crate::citizen::Citizen;
use crate::helpers::{bank_form, repo};

both_backends!(
    consent_pages_list_exactly_what_the_id_token_carries,
    kiosk_approvals_list_exactly_what_the_id_token_carries,
    withdrawing_consent_ends_the_tokens_issued_under_it,
    a_logout_no_id_token_vouches_for_asks_the_citizen_first,
);

/// Claims every ID token has, whatever was consented to.
const PROTOCOL: [&str; 13] = [
    "iss",
    "sub",
    "aud",
    "azp",
    "iat",
    "exp",
    "auth_time",
    "acr",
    "amr",
    "auth_level",
    "jti",
    "nonce",
    "phone_number_verified",
];

fn shipped() -> Vec<RelyingParty> {
    RegistryFile::load(&repo().join("config/relying_parties.toml"), Mode::Dev)
        .unwrap()
        .relying_parties
}

/// Every scope alone, then all of them: each set asks for something not consented before.
fn scope_sets(rp: &RelyingParty) -> Vec<String> {
    let mut all = vec![
        "profile",
        "birthdate",
        "address",
        "phone",
        "personal_id",
        "health_insurance",
        "age_over_18",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    all.extend(rp.age_over.iter().map(|n| format!("age_over_{n}")));
    let mut sets: Vec<String> = all.iter().map(|s| format!("openid {s}")).collect();
    sets.push(format!("openid {}", all.join(" ")));
    sets
}

fn id_token_claims(id_token: &str) -> BTreeSet<String> {
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !PROTOCOL.contains(&k.as_str()))
        .cloned()
        .collect()
}

/// The claims a consent page lists (`data-claim` of each item).
fn listed(html: &str) -> BTreeSet<String> {
    html.split("data-claim=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

async fn redeem_as(app: &TestApp, rp: &RelyingParty, code: &str, verifier: &str) -> Value {
    let redirect = rp.redirect_uris[0].as_str();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ];
    let res = if rp.client_id.as_str() == "lotus-bank" {
        bank_form(app, "/oauth2/token", &form).await
    } else {
        app.client
            .post(app.url("/oauth2/token"))
            .basic_auth(
                rp.client_id.as_str(),
                Some(sandbox_secret(rp.client_id.as_str())),
            )
            .form(&form)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(res.status(), StatusCode::OK, "{}", rp.client_id);
    res.json().await.unwrap()
}

async fn consent_pages_list_exactly_what_the_id_token_carries(backend: Backend) {
    let app = spawn_app(backend).await;
    let oidc_clients: Vec<RelyingParty> = shipped()
        .into_iter()
        .filter(|rp| !rp.redirect_uris.is_empty())
        .collect();
    assert!(
        oidc_clients.len() >= 2,
        "the portal and the bank log citizens in"
    );
    for (n, rp) in oidc_clients.iter().enumerate() {
        let citizen = Citizen::nth(&app, n);
        citizen.register(&app).await;
        citizen.make_level2(&app).await;
        let mut b = Browser::new(&app);
        let mut shown_before = BTreeSet::new();
        for scope in scope_sets(rp) {
            let p = pkce();
            let url = format!(
                "/oauth2/authorize?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("client_id", rp.client_id.as_str())
                    .append_pair("redirect_uri", &rp.redirect_uris[0])
                    .append_pair("response_type", "code")
                    .append_pair("scope", &scope)
                    .append_pair("state", "s")
                    .append_pair("nonce", "n")
                    .append_pair("code_challenge", &p.challenge)
                    .append_pair("code_challenge_method", "S256")
                    .finish()
            );
            b.consent_page = None;
            let back = sign_in(&mut b, &citizen, &url).await;
            let Some(code) = query_param(&back, "code") else {
                // Nothing of this scope may reach this client: no grant beyond the subject.
                panic!("{} / {scope}: {back}", rp.client_id);
            };
            let tokens = redeem_as(&app, rp, &code, &p.verifier).await;
            let issued = id_token_claims(tokens["id_token"].as_str().unwrap());
            let Some(page) = b.consent_page.take() else {
                // No consent asked: the citizen agreed to all of it on an earlier page.
                assert!(
                    issued.is_subset(&shown_before),
                    "{} / {scope}: {issued:?} released, but only {shown_before:?} was ever shown",
                    rp.client_id
                );
                continue;
            };
            shown_before.extend(listed(&page));
            assert_eq!(
                listed(&page),
                issued,
                "{} / {scope}: the consent page and the ID token disagree",
                rp.client_id
            );
            // Nothing the registration does not allow is ever shown.
            for claim in listed(&page) {
                let allowed = rp
                    .allowed_claims
                    .iter()
                    .any(|c| eid_gateway::oidc::claims::oidc_name(*c) == claim)
                    || rp.age_over.iter().any(|a| format!("age_over_{a}") == claim);
                assert!(allowed, "{}: shows {claim}", rp.client_id);
            }
        }
    }
}

const CIBA: &str = "urn:openid:params:grant-type:ciba";

async fn desk_form(app: &TestApp, rp: &RelyingParty, path: &str, form: &[(&str, &str)]) -> Value {
    let res = if rp.client_id.as_str() == "lotus-bank" {
        bank_form(app, path, form).await
    } else {
        app.client
            .post(app.url(path))
            .basic_auth(
                rp.client_id.as_str(),
                Some(sandbox_secret(rp.client_id.as_str())),
            )
            .form(form)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(res.status(), StatusCode::OK, "{} {path}", rp.client_id);
    res.json().await.unwrap()
}

async fn kiosk_approvals_list_exactly_what_the_id_token_carries(backend: Backend) {
    let app = spawn_app(backend).await;
    let desks: Vec<RelyingParty> = shipped()
        .into_iter()
        .filter(|rp| rp.may(Permission::Ciba))
        .collect();
    assert!(desks.len() >= 2, "the hospital and the bank run kiosks");
    for (n, rp) in desks.iter().enumerate() {
        let citizen = crate::ciba::level2_citizen(&app, n).await;
        for scope in scope_sets(rp) {
            let started = desk_form(
                &app,
                rp,
                "/oauth2/bc-authorize",
                &[("scope", &scope), ("login_hint", citizen.id())],
            )
            .await;
            let auth_req_id = started["auth_req_id"].as_str().unwrap();
            let pending = crate::ciba::pending(&app, &citizen).await;
            let request = &pending[0];
            let shown: BTreeSet<String> = request["claims"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["claim"].as_str().unwrap().to_owned())
                .collect();
            // The words shown are those of the same list.
            let labels: Vec<&str> = request["claims"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["label"].as_str().unwrap())
                .collect();
            assert_eq!(
                request["releases"],
                json!(labels),
                "{} / {scope}",
                rp.client_id
            );
            let res = crate::ciba::answer(
                &app,
                &citizen,
                request["request_id"].as_str().unwrap(),
                json!({ "answer": "approve", "passcode": citizen.passcode }),
            )
            .await;
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
            let tokens = desk_form(
                &app,
                rp,
                "/oauth2/token",
                &[("grant_type", CIBA), ("auth_req_id", auth_req_id)],
            )
            .await;
            let issued = id_token_claims(tokens["id_token"].as_str().unwrap());
            assert_eq!(
                shown, issued,
                "{} / {scope}: the app and the ID token disagree",
                rp.client_id
            );
        }
    }
}

async fn withdrawing_consent_ends_the_tokens_issued_under_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut citizen, tokens) = logged_in_at_portal(&app, 0).await;
    // A second login of the same citizen at the portal: another family, ended too.
    let p = pkce();
    let mut b = Browser::new(&app);
    let back = sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
    let second: Value = redeem(&app, &query_param(&back, "code").unwrap(), &p.verifier)
        .await
        .json()
        .await
        .unwrap();
    for t in [&tokens, &second] {
        assert_eq!(
            introspect(&app, PORTAL, t["access_token"].as_str().unwrap()).await["active"],
            true
        );
    }
    citizen.login(&app).await;
    let res = app
        .client
        .delete(app.url(&format!("/v1/citizen/consents/{PORTAL}")))
        .bearer_auth(citizen.session.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for t in [&tokens, &second] {
        assert_eq!(
            introspect(&app, PORTAL, t["access_token"].as_str().unwrap()).await["active"],
            false,
            "an access token outlived the consent"
        );
        let res = token_request(
            &app,
            PORTAL,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    }
    // Withdrawn once, there is nothing left to withdraw.
    let res = app
        .client
        .delete(app.url(&format!("/v1/citizen/consents/{PORTAL}")))
        .bearer_auth(citizen.session.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // Another citizen's tokens at the portal are untouched.
    let (_, other) = logged_in_at_portal(&app, 1).await;
    assert_eq!(
        introspect(&app, PORTAL, other["access_token"].as_str().unwrap()).await["active"],
        true
    );
}

async fn a_logout_no_id_token_vouches_for_asks_the_citizen_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let p = pkce();
    let mut b = Browser::new(&app);
    sign_in(&mut b, &citizen, &at_portal(&p, &[])).await;
    // A cross-site link: no hint, a forged hint, a hint of another issuer's shape.
    for query in [
        format!(
            "post_logout_redirect_uri={}",
            "http%3A%2F%2F127.0.0.1%3A9000%2F"
        ),
        format!("client_id={PORTAL}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2F"),
        "id_token_hint=eyJhbGciOiJFZERTQSJ9.e30.c2ln".to_owned(),
    ] {
        let res = b.get(&format!("/oauth2/logout?{query}")).await;
        assert_eq!(res.status(), StatusCode::OK, "{query}");
        let html = res.text().await.unwrap();
        assert!(html.contains("/oauth2/logout/confirm"), "{query}: {html}");
        assert!(
            silent_error(&mut b, &p.challenge).await.is_none(),
            "{query}: the browser was signed out without asking"
        );
    }
    // The same by a cross-site form POST.
    let res = b
        .post(
            "/oauth2/logout",
            &[("post_logout_redirect_uri", "http://127.0.0.1:9000/")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(silent_error(&mut b, &p.challenge).await.is_none());
    // A confirmation the page did not issue changes nothing.
    let res = b
        .post(
            "/oauth2/logout/confirm",
            &[("csrf_token", "forged"), ("decision", "logout")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(silent_error(&mut b, &p.challenge).await.is_none());
    // The citizen confirms on the page: signed out, and back to the registered address.
    let q = format!(
        "client_id={PORTAL}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2F&state=bye"
    );
    let html = b
        .get(&format!("/oauth2/logout?{q}"))
        .await
        .text()
        .await
        .unwrap();
    let token = csrf(&html);
    let res = b
        .post(
            "/oauth2/logout/confirm",
            &[
                ("csrf_token", token.as_str()),
                ("client_id", PORTAL),
                ("post_logout_redirect_uri", "http://127.0.0.1:9000/"),
                ("state", "bye"),
                ("decision", "logout"),
            ],
        )
        .await;
    assert_eq!(location(&res), "http://127.0.0.1:9000/?state=bye");
    assert_eq!(
        silent_error(&mut b, &p.challenge).await.as_deref(),
        Some("login_required")
    );
}
