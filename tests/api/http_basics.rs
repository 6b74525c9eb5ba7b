//! Health, readiness, docs, metrics, security headers and problem+json for every error.

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_with, test_settings};

both_backends!(health_and_readiness_answer_with_the_backend_name);

async fn health_and_readiness_answer_with_the_backend_name(b: Backend) {
    let app = spawn_app(b).await;
    let live = app.get("/healthz").await;
    assert_eq!(live.status(), 200);
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    let expected = if b == Backend::Embedded {
        "embedded"
    } else {
        "redis"
    };
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["store"], expected);
}

pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code);
    assert_eq!(body["type"], format!("urn:vn:eid:problem:{code}"));
    body
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_problem_details() {
    let app = spawn_app(Backend::Embedded).await;
    assert_problem(app.get("/no/such/thing").await, 404, "not_found").await;
    let res = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET");
    assert_problem(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_problem() {
    let app = spawn_app(Backend::Embedded).await;
    let limit = app.services.settings.server.body_limit_bytes;
    let big = "x".repeat(limit + 1);
    let res = app
        .client
        .get(app.url("/v1/clients/me"))
        .basic_auth(
            "vietsky-air",
            Some(crate::helpers::sandbox_secret("vietsky-air")),
        )
        .body(big)
        .send()
        .await
        .unwrap();
    // Refused before authentication or the handler run, even though this endpoint reads no body.
    let body = assert_problem(res, 413, "payload_too_large").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&limit.to_string())
    );
    assert!(
        audited_nothing(&app).await,
        "an oversized request changes nothing"
    );
}

async fn audited_nothing(app: &crate::helpers::TestApp) -> bool {
    let entries = app
        .store()
        .read_log(eid_gateway::store::Log::Audit, 1, 100)
        .await
        .unwrap();
    entries
        .iter()
        .all(|(_, e)| !String::from_utf8_lossy(e).contains("client_authentication_failed"))
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = spawn_app(Backend::Embedded).await;
    for path in ["/healthz", "/readyz", "/nope", "/dev/personas"] {
        let res = app.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(!h["x-request-id"].is_empty(), "{path}");
    }
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["x-request-id"],
        "abc-123",
        "a sane caller id is echoed"
    );
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(
        res.headers()["x-request-id"],
        "<script>",
        "an unsafe one is replaced"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint() {
    let app = spawn_app(Backend::Embedded).await;
    let doc: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/.well-known/jwks.json",
        "/v1/clients/me",
        "/dev/personas",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert!(doc["components"]["securitySchemes"]["client_secret_basic"].is_object());
}

#[tokio::test]
async fn the_docs_page_works_offline_from_the_gateway_itself() {
    let app = spawn_app(Backend::Embedded).await;
    let redirect = app.get("/docs").await;
    assert_eq!(redirect.status(), 303);
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("://cdn") && !html.contains("unpkg.com"),
        "no CDN"
    );
    for asset in [
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
        "/docs/swagger-initializer.js",
    ] {
        let res = app.get(asset).await;
        assert_eq!(res.status(), 200, "{asset} is served by the gateway");
        assert!(res.bytes().await.unwrap().len() > 100);
    }
    let init = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"));
}

#[tokio::test]
async fn metrics_are_exposed_for_prometheus() {
    let app = spawn_app(Backend::Embedded).await;
    app.get("/healthz").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("eidgw_http_requests_total"));
    assert!(text.contains("route=\"/healthz\""));
    assert!(text.contains("eidgw_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn dev_personas_are_served_in_dev_mode() {
    let app = spawn_app(Backend::Embedded).await;
    let personas: Vec<serde_json::Value> = app.get("/dev/personas").await.json().await.unwrap();
    assert!(personas.len() >= 3);
    for p in &personas {
        let id =
            eid_gateway::domain::PersonalId::parse(p["personal_id"].as_str().unwrap()).unwrap();
        let person = app
            .services
            .registry
            .person(&id)
            .await
            .unwrap()
            .expect("persona is in the registry");
        assert_eq!(person.full_name, p["full_name"].as_str().unwrap());
        assert!(!p["ready_for"].as_str().unwrap().is_empty());
    }
}

/// Production settings over a fresh operator key set and a non-sandbox relying party.
pub fn production_settings(dir: &std::path::Path) -> eid_gateway::config::Settings {
    let mut s = test_settings(Backend::Embedded, dir);
    s.mode = eid_gateway::config::Mode::Production;
    s.server.public_url = "https://id.gateway.test".into();
    let rp_file = dir.join("relying_parties.toml");
    let rp = std::fs::read_to_string(crate::helpers::repo().join("config/relying_parties.toml"))
        .unwrap()
        .replace("sandbox = true", "sandbox = false");
    std::fs::write(&rp_file, rp).unwrap();
    s.relying_parties.file = rp_file;
    eid_gateway::keys::KeyDir::new(&s.keys.dir)
        .init(
            eid_gateway::keys::Origin::Operator,
            eid_gateway::clock::Timestamp::from_secs(1_790_000_000),
        )
        .unwrap();
    s
}

#[tokio::test]
async fn production_mode_has_no_dev_endpoints_and_no_seeded_people() {
    let dir = tempfile::tempdir().unwrap();
    let settings = production_settings(dir.path());
    let app = spawn_with(settings, dir).await;
    assert_problem(app.get("/dev/personas").await, 404, "not_found").await;
    assert!(app.services.registry.population().await.unwrap().is_none());
    let res = app.get("/healthz").await;
    assert!(
        res.headers().contains_key("strict-transport-security"),
        "HSTS behind an https issuer"
    );
}

/// Routes only this test has: one panics with a message as a library would (a slice out of
/// range), one panics in an extractor-like step before the body is read.
fn panicking_routes(cfg: &mut actix_web::web::ServiceConfig) {
    use actix_web::{HttpResponse, web};
    cfg.route(
        "/test/panics",
        web::get().to(|| async {
            let key: &[u8] = b"short";
            let n = std::hint::black_box(32);
            HttpResponse::Ok().body(key[..n].to_vec())
        }),
    )
    .route(
        "/test/panics-with-body",
        web::post().to(|body: web::Bytes| async move {
            if !body.is_empty() {
                panic!("refusing {} bytes on purpose", body.len());
            }
            HttpResponse::Ok().finish()
        }),
    );
}

#[tokio::test]
async fn a_panicking_handler_answers_an_opaque_500_and_the_gateway_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(Backend::Embedded, dir.path());
    let app = crate::helpers::spawn_with_routes(settings, dir, panicking_routes).await;
    // One connection for everything: a panic must not drop it.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    for _ in 0..20 {
        let res = client.get(app.url("/test/panics")).send().await.unwrap();
        let body = assert_problem(res, 500, "internal_error").await;
        assert!(body.get("detail").is_none(), "{body}");
        assert!(!body.to_string().contains("range"), "{body}");
        let res = client
            .post(app.url("/test/panics-with-body"))
            .body("hello")
            .send()
            .await
            .unwrap();
        let body = assert_problem(res, 500, "internal_error").await;
        assert!(!body.to_string().contains("purpose"), "{body}");
    }
    // The gateway still serves everyone else.
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn production_does_not_start_with_no_relying_party_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let settings = production_settings(dir.path());
    std::fs::write(&settings.relying_parties.file, "").unwrap();
    let clock: eid_gateway::clock::SharedClock =
        std::sync::Arc::new(eid_gateway::clock::ManualClock::now_from_system());
    let err = eid_gateway::startup::Application::build_with_clock(settings, clock)
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("no relying party is registered"),
        "{err}"
    );
}
