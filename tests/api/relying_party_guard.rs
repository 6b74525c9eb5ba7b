//! The one guard of relying-party routes: every route a client calls with its credentials —
//! the `/v1` API and the OAuth back channel alike — authenticates it, checks the permission the
//! route declares and counts its quota, answering in the route's own error format.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::Digest;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_with_relying_parties};

const QUOTA: u32 = 3;
const LIMITED: &str = "limited-rp";
const LIMITED_SECRET: &str = "limited-rp-secret-0f6b2a1c9d8e7f60";
const POWERLESS: &str = "powerless-rp";

/// Two test clients: one with every permission and a quota of three requests a minute, one with
/// no permission at all.
fn clients() -> String {
    let digest = hex::encode(sha2::Sha256::digest(LIMITED_SECRET.as_bytes()));
    let client = |id: &str, permissions: &str| {
        format!(
            "[[relying_party]]\nclient_id = \"{id}\"\nname = \"{id}\"\nsector = \"{id}.example\"\n\
             sandbox = true\nmin_level = 1\nmin_auth_level = 1\npermissions = [{permissions}]\n\
             allowed_claims = [\"full_name\"]\nredirect_uris = [\"http://127.0.0.1:9000/callback\"]\n\
             rate_quota_per_minute = {QUOTA}\n\
             [relying_party.authentication]\nmethod = \"client_secret_basic\"\n\
             secret_sha256 = \"{digest}\"\n"
        )
    };
    client(
        LIMITED,
        "\"verify\", \"chip_verify\", \"match\", \"match_batch\", \"ciba\"",
    ) + &client(POWERLESS, "")
}

/// How a route answers: problem+json or RFC 6749 JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Problem,
    OAuth,
}

struct Route {
    method: &'static str,
    path: &'static str,
    /// The permission the route declares, if any.
    permission: Option<&'static str>,
    format: Format,
}

const fn route(
    method: &'static str,
    path: &'static str,
    permission: Option<&'static str>,
    format: Format,
) -> Route {
    Route {
        method,
        path,
        permission,
        format,
    }
}

/// Every route a relying party authenticates to. `the_openapi_document_has_no_other` keeps the
/// list whole.
const ROUTES: [Route; 13] = [
    route("get", "/v1/clients/me", None, Format::Problem),
    route("post", "/v1/verify", Some("verify"), Format::Problem),
    route(
        "post",
        "/v1/chip/challenge",
        Some("chip_verify"),
        Format::Problem,
    ),
    route(
        "post",
        "/v1/chip/liveness-challenge",
        Some("chip_verify"),
        Format::Problem,
    ),
    route(
        "post",
        "/v1/chip/verify",
        Some("chip_verify"),
        Format::Problem,
    ),
    route("post", "/v1/match", Some("match"), Format::Problem),
    route(
        "post",
        "/v1/match/liveness-challenge",
        Some("match"),
        Format::Problem,
    ),
    route(
        "post",
        "/v1/match/batch",
        Some("match_batch"),
        Format::Problem,
    ),
    route("post", "/oauth2/par", None, Format::OAuth),
    route("post", "/oauth2/bc-authorize", Some("ciba"), Format::OAuth),
    route("post", "/oauth2/token", None, Format::OAuth),
    route("post", "/oauth2/introspect", None, Format::OAuth),
    route("post", "/oauth2/revoke", None, Format::OAuth),
];

async fn call(app: &TestApp, r: &Route, client: &str, secret: &str) -> reqwest::Response {
    let url = app.url(r.path);
    let req = match (r.method, r.format) {
        ("get", _) => app.client.get(url),
        (_, Format::OAuth) => app.client.post(url).form(&[
            ("token", "x"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("scope", "openid"),
            ("login_hint", "001099000001"),
            ("response_type", "code"),
            ("redirect_uri", "http://127.0.0.1:9000/callback"),
        ]),
        _ if r.path.ends_with("/batch") => app
            .client
            .post(url)
            .header("content-type", "application/x-ndjson")
            .body("{}\n"),
        _ => app.client.post(url).json(&json!({"token": "x"})),
    };
    req.basic_auth(client, Some(secret)).send().await.unwrap()
}

async fn assert_rate_limited(res: reqwest::Response, r: &Route) {
    assert_eq!(res.status(), 429, "{}", r.path);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{}: Retry-After {retry}", r.path);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    match r.format {
        Format::Problem => {
            assert_eq!(content_type, "application/problem+json", "{}", r.path);
            assert_eq!(body["code"], "rate_limited", "{}", r.path);
        }
        Format::OAuth => {
            assert!(content_type.starts_with("application/json"), "{}", r.path);
            assert_eq!(body["error"], "temporarily_unavailable", "{}", r.path);
            assert!(body["error_description"].is_string(), "{}", r.path);
        }
    }
}

both_backends!(every_relying_party_route_counts_the_clients_quota);

async fn every_relying_party_route_counts_the_clients_quota(backend: Backend) {
    let app = spawn_with_relying_parties(backend, &clients()).await;
    for r in &ROUTES {
        // A fresh minute for each route: the quota is the client's, shared by every route.
        app.clock.advance(Duration::from_secs(60));
        for n in 1..=QUOTA {
            let res = call(&app, r, LIMITED, LIMITED_SECRET).await;
            assert_ne!(res.status(), 429, "{} call {n} is within the quota", r.path);
            assert_ne!(res.status(), 401, "{}", r.path);
            assert_ne!(res.status(), 403, "{}", r.path);
        }
        assert_rate_limited(call(&app, r, LIMITED, LIMITED_SECRET).await, r).await;
    }
    // One quota across routes: three calls anywhere spend it everywhere.
    app.clock.advance(Duration::from_secs(60));
    for r in &ROUTES[..QUOTA as usize] {
        let res = call(&app, r, LIMITED, LIMITED_SECRET).await;
        assert_ne!(res.status(), 429, "{}", r.path);
    }
    for r in &ROUTES {
        assert_rate_limited(call(&app, r, LIMITED, LIMITED_SECRET).await, r).await;
    }
}

both_backends!(a_route_refuses_a_client_without_its_permission_before_counting);

async fn a_route_refuses_a_client_without_its_permission_before_counting(backend: Backend) {
    let app = spawn_with_relying_parties(backend, &clients()).await;
    for r in ROUTES.iter().filter(|r| r.permission.is_some()) {
        app.clock.advance(Duration::from_secs(60));
        // More refusals than the quota: none of them spends it.
        for _ in 0..=QUOTA {
            let res = call(&app, r, POWERLESS, LIMITED_SECRET).await;
            let permission = r.permission.unwrap();
            match r.format {
                Format::Problem => {
                    assert_eq!(res.status(), 403, "{}", r.path);
                    let body: Value = res.json().await.unwrap();
                    assert_eq!(body["code"], "forbidden");
                    assert!(
                        body["detail"].as_str().unwrap().contains(permission),
                        "{body}"
                    );
                }
                Format::OAuth => {
                    assert_eq!(res.status(), 400, "{}", r.path);
                    let body: Value = res.json().await.unwrap();
                    assert_eq!(body["error"], "unauthorized_client", "{}", r.path);
                }
            }
        }
        // The routes it may use still answer within its quota.
        let res = call(&app, &ROUTES[0], POWERLESS, LIMITED_SECRET).await;
        assert_eq!(res.status(), 200, "after {}", r.path);
    }
    // Unauthenticated callers are turned away everywhere, in each route's format.
    for r in &ROUTES {
        let res = call(&app, r, LIMITED, "wrong secret").await;
        assert_eq!(res.status(), 401, "{}", r.path);
        let body: Value = res.json().await.unwrap();
        match r.format {
            Format::Problem => assert_eq!(body["code"], "invalid_client"),
            Format::OAuth => assert_eq!(body["error"], "invalid_client"),
        }
    }
}

/// Every operation the OpenAPI document marks as client-authenticated is in [`ROUTES`], so a
/// new relying-party route cannot be added without this suite checking its guard.
#[tokio::test]
async fn the_openapi_document_has_no_other_client_authenticated_route() {
    let app = crate::helpers::spawn_app(Backend::Embedded).await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let client_authenticated = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|req| req.get("client_secret_basic").is_some()));
            if client_authenticated {
                documented.push(format!("{method} {path}"));
            }
        }
    }
    let mut listed: Vec<String> = ROUTES
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    documented.sort();
    listed.sort();
    assert_eq!(documented, listed);
}
