//! The OpenAPI document (`/openapi.json`) and the offline docs page (`/docs`, vendored Swagger UI).

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::routes;

mod constraints;
mod examples;
mod responses;

/// An RFC 6749 §5.2 error answer (the OAuth endpoints' error body; RFC 7591 §3.2.2 on
/// registration).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema only: the endpoints build this JSON directly
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `temporarily_unavailable`, …
    error: String,
    error_description: Option<String>,
}

/// See [`responses`].
struct CompleteResponses;

impl Modify for CompleteResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            responses::complete_all(item, path);
        }
    }
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "client_secret_basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).description(Some(
                "Relying-party client_id and secret, each form-urlencoded (RFC 6749 §2.3.1)",
            )).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").description(Some(
                "The citizen app's session token (typ eid-session+jwt) from POST /v1/citizen/login",
            )).build()),
        );
        components.add_security_scheme(
            "access_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").description(Some(
                "An OpenID Connect access token (typ at+jwt, RFC 9068) from POST /oauth2/token",
            )).build()),
        );
        components.add_security_scheme(
            "operator_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "Operator id and secret from the gateway's configuration",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "private_key_jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An RFC 7523 client assertion signed with the client's Ed25519 key, sent as \
                         `Authorization: private_key_jwt <jwt>`: iss = sub = client_id, aud = the issuer \
                         (one string), exp at most 5 minutes ahead, a single-use jti, alg EdDSA",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eid-gateway",
        description = "Electronic-identity authentication gateway (VNeID simulation): level-1/level-2 \
                       accounts, EdDSA identity tokens, relying-party verification. Errors are RFC 9457 \
                       problem details with a stable `code`."
    ),
    paths(
        routes::health::live,
        routes::health::ready,
        routes::health::metrics,
        routes::jwks::jwks,
        routes::home::messages,
        routes::clients::me,
        routes::dev::personas,
        routes::dev::persona_card,
        routes::dev::sms,
        routes::verify::verify,
        routes::citizen::start_registration,
        routes::citizen::registration_liveness,
        routes::citizen::complete_registration,
        routes::citizen::login_challenge,
        routes::citizen::login,
        routes::citizen::session_liveness,
        routes::citizen::step_up,
        routes::citizen::present,
        routes::citizen::history,
        routes::citizen::history_export,
        routes::citizen::lock,
        routes::operator::audit_check,
        routes::operator::lock_account,
        routes::operator::issue_card,
        routes::operator::revoke_card,
        routes::operator::chip_challenge,
        routes::operator::liveness_challenge,
        routes::operator::enrol,
        routes::relying_parties::register,
        routes::relying_parties::list,
        routes::relying_parties::show,
        routes::relying_parties::update,
        routes::relying_parties::disable,
        routes::relying_parties::enable,
        routes::relying_parties::rotate_secret,
        routes::relying_parties::replace_key,
        routes::relying_parties::initial_access_token,
        routes::citizen::chip_challenge,
        routes::citizen::level2_from_app,
        routes::citizen::activate,
        routes::citizen::start_device_change,
        routes::citizen::complete_device_change,
        routes::chip::challenge,
        routes::chip::liveness_challenge,
        routes::chip::verify,
        routes::attribute_match::match_one,
        routes::attribute_match::liveness_challenge,
        routes::attribute_match::match_batch,
        routes::citizen::consents,
        routes::citizen::withdraw_consent,
        routes::citizen::qr_login_describe,
        routes::citizen::qr_login_approve,
        routes::citizen::pending_approvals,
        routes::citizen::answer_approval,
        routes::citizen::login_hint,
        routes::oauth::configuration,
        routes::oauth::authorize,
        routes::oauth::authorize_post,
        routes::oauth::par,
        routes::oauth::backchannel_authorize,
        routes::oauth::token_endpoint,
        routes::oauth::userinfo_get,
        routes::oauth::userinfo_post,
        routes::oauth::introspect,
        routes::oauth::revoke,
        routes::oauth::logout_get,
        routes::oauth::logout_post,
        routes::oauth::register_client,
        routes::oauth::read_client,
        routes::oauth::update_client,
        routes::oauth::delete_client,
    ),
    components(schemas(super::Problem, OAuthErrorBody)),
    modifiers(&SecuritySchemes, &CompleteResponses),
)]
pub struct ApiDoc;

/// The document as served: the annotations, completed with the shared responses (a
/// modifier) and the validated types' formats (written into the JSON).
pub fn document() -> serde_json::Value {
    let mut json = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    constraints::apply(&mut json);
    examples::apply(&mut json);
    append_message_table(&mut json);
    json
}

/// The catalogue's table under `GET /v1/messages`, so the docs page lists every code's message.
fn append_message_table(doc: &mut serde_json::Value) {
    if let Some(serde_json::Value::String(description)) =
        doc.pointer_mut("/paths/~1v1~1messages/get/description")
    {
        description.push_str("\n\n");
        description.push_str(&crate::i18n::catalogue::markdown());
    }
}

/// Swagger UI at `/docs/`, serving the document at `/openapi.json`; assets are compiled in.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/openapi.json", document())
}

pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_served_document_carries_the_validated_formats() {
        let served = super::document();
        let pattern = served
            .pointer("/components/schemas/LoginChallengeRequest/properties/personal_id/pattern")
            .and_then(|p| p.as_str())
            .unwrap_or_default()
            .to_owned();
        assert!(pattern.starts_with("^(?:001|"), "{pattern}");
    }

    /// `scripts/openapi-examples` records them; a new operation needs a test that calls it
    /// and a new recording.
    #[test]
    fn every_operation_has_a_recorded_request_and_answer() {
        let doc = super::document();
        let mut missing = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let name = format!("{} {path}", method.to_uppercase());
                if let Some(body) = op.get("requestBody") {
                    let has = body["content"]
                        .as_object()
                        .is_some_and(|c| c.values().any(|m| m.get("example").is_some()));
                    if !has {
                        missing.push(format!("{name}: request"));
                    }
                }
                let responses = op["responses"].as_object().unwrap();
                let answers_with_a_body = responses.iter().any(|(status, r)| {
                    status.starts_with('2')
                        && r.get("content")
                            .is_some_and(|c| c != &serde_json::json!({}))
                });
                let has_example = responses.iter().any(|(status, r)| {
                    (status.starts_with('2') || status.starts_with('3'))
                        && r["content"]
                            .as_object()
                            .is_some_and(|c| c.values().any(|m| m.get("example").is_some()))
                });
                if answers_with_a_body && !has_example {
                    missing.push(format!("{name}: answer"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "run scripts/openapi-examples: {missing:#?}"
        );
    }
}
