//! The HTTP layer: routing, extractors, middleware and the mapping of errors to responses.
//! Handlers parse input, call one service, and map the result; no business rule lives here.

pub mod client_address;
pub mod extractors;
pub mod guard;
pub mod html;
pub mod language;
pub mod middleware;
pub mod openapi;
pub mod outcomes;
pub mod problem;
pub mod rate_limit;
pub mod routes;

use std::sync::Arc;

use actix_web::web;

use crate::services::Services;
pub use problem::{ApiError, Problem};

/// What every handler can reach.
pub struct AppState {
    pub services: Arc<Services>,
}

pub type State = web::Data<AppState>;

/// The management listener: `/metrics` only.
pub fn configure_management(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(routes::health::metrics)));
}

/// Registers every route. Dev-only routes exist only in dev mode: in production they are not
/// hidden but absent (404).
pub fn configure(cfg: &mut web::ServiceConfig, dev_mode: bool, body_limit: usize, metrics: bool) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(body_limit)
            .error_handler(middleware::json_error),
    )
    .app_data(web::FormConfig::default().limit(body_limit))
    .app_data(web::PayloadConfig::new(body_limit))
    .app_data(web::QueryConfig::default().error_handler(middleware::query_error))
    .service(web::resource("/").route(web::get().to(routes::home::home)))
    .service(web::resource("/v1/messages").route(web::get().to(routes::home::messages)))
    .service(web::resource("/healthz").route(web::get().to(routes::health::live)))
    .service(web::resource("/readyz").route(web::get().to(routes::health::ready)))
    .service(web::resource("/.well-known/jwks.json").route(web::get().to(routes::jwks::jwks)))
    .service(web::resource("/v1/clients/me").route(web::get().to(routes::clients::me)))
    .service(web::resource("/v1/verify").route(web::post().to(routes::verify::verify)))
    .service(web::resource("/v1/presentations").route(web::post().to(routes::citizen::present)))
    .service(web::scope("/v1/citizen").configure(routes::citizen::configure))
    .service(web::scope("/v1/operator").configure(routes::operator::configure))
    .service(web::scope("/v1/chip").configure(routes::chip::configure))
    .service(web::scope("/v1/match").configure(routes::attribute_match::configure))
    .configure(routes::oauth::configure)
    .service(web::resource("/docs").route(web::get().to(openapi::docs_redirect)))
    .service(openapi::swagger_ui());
    if metrics {
        cfg.service(web::resource("/metrics").route(web::get().to(routes::health::metrics)));
    }
    if dev_mode {
        cfg.service(web::resource("/dev/personas").route(web::get().to(routes::dev::personas)))
            .service(
                web::resource("/dev/personas/{role}/card")
                    .route(web::get().to(routes::dev::persona_card)),
            )
            .service(web::resource("/dev/sms").route(web::get().to(routes::dev::sms)));
    }
}
