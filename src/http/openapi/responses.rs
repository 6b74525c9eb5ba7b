//! Completes every operation's responses with what the shared layers can answer, so that the
//! document lists every status the gateway returns: the body extractors (400 unreadable, 413
//! too large, 415 wrong content type), the guards (401 no or wrong credentials, 403 a
//! permission the client lacks, 429 a spent quota or per-address limit, with `Retry-After`),
//! path lookups (404) and the store (503). Each error response gets its body's media type and
//! schema: RFC 6749 JSON on the OAuth back channel, RFC 9457 problem+json everywhere else, an
//! HTML page on the browser endpoints.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};

/// How an endpoint answers errors.
#[derive(Clone, Copy, PartialEq)]
enum ErrorBody {
    Problem,
    OAuth,
    Page,
}

fn error_body(path: &str) -> ErrorBody {
    match path {
        "/oauth2/authorize" | "/oauth2/logout" => ErrorBody::Page,
        p if p.starts_with("/oauth2/") => ErrorBody::OAuth,
        _ => ErrorBody::Problem,
    }
}

/// Endpoints that read nothing from the store.
fn static_endpoint(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/metrics" | "/.well-known/jwks.json" | "/.well-known/openid-configuration"
    )
}

fn reason(status: &str) -> &'static str {
    match status {
        "400" => "The request is malformed or a parameter is invalid",
        "401" => "No credentials, or credentials that are not valid",
        "403" => "Authenticated, but not allowed to do this",
        "404" => "No such resource",
        "409" => "Conflicts with the resource's current state",
        "413" => "The body is larger than the endpoint accepts",
        "415" => "The body's media type is not the one the endpoint reads",
        "429" => "Too many requests: wait the seconds `Retry-After` says",
        "503" => "The store is unavailable: retry later",
        _ => "See the error code",
    }
}

fn error_response(body: ErrorBody, status: &str, description: String) -> Response {
    let builder = ResponseBuilder::new().description(description);
    match body {
        ErrorBody::Problem => builder
            .content(
                crate::http::problem::PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
        ErrorBody::OAuth => builder
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("OAuthErrorBody")))
                    .build(),
            )
            .build(),
        ErrorBody::Page if status.starts_with('4') || status.starts_with('5') => builder
            .content("text/html; charset=utf-8", ContentBuilder::new().build())
            .build(),
        ErrorBody::Page => builder.build(),
    }
}

fn complete(path: &str, op: &mut Operation) {
    let body = error_body(path);
    let security = op.security.as_deref().unwrap_or_default();
    let secured = !security.is_empty();
    let relying_party = security.iter().any(|s| {
        let v = serde_json::to_value(s).unwrap_or_default();
        v.get("client_secret_basic").is_some() || v.get("private_key_jwt").is_some()
    });
    let mut statuses: Vec<&str> = Vec::new();
    if op.request_body.is_some() {
        statuses.extend(["400", "413", "415"]);
    }
    if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        statuses.push("400");
    }
    if path.contains('{') {
        statuses.push("404");
    }
    if secured {
        statuses.push("401");
    }
    if relying_party {
        statuses.extend(["403", "429"]);
    }
    if op.request_body.is_some() && !secured {
        // Anonymous writes are limited per client address.
        statuses.push("429");
    }
    if !static_endpoint(path) {
        statuses.push("503");
    }
    for status in statuses {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(error_response(body, status, reason(status).into())));
    }
    // Every error response names its body, and every response says what it is.
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(r) = response else { continue };
        if r.description.trim().is_empty() {
            r.description = reason(status).into();
        }
        if (status.starts_with('4') || status.starts_with('5')) && r.content.is_empty() {
            let filled = error_response(body, status, r.description.clone());
            r.content = filled.content;
        }
    }
}

pub fn complete_all(item: &mut PathItem, path: &str) {
    for op in [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
    {
        complete(path, op);
    }
}
