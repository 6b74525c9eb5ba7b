//! The one middleware every request passes through: request id, tracing span, access log,
//! metrics, security headers, and the guarantee that every error body is problem+json (or RFC
//! 6749 JSON), except the OpenID provider's pages, which are HTML for a browser on purpose.
//!
//! It is also where a panic stops: a handler (or extractor) that panics answers an opaque `500`
//! problem instead of dropping the connection, and [`install_panic_hook`] makes the panic one
//! structured error line in the request's span rather than a message and backtrace on stderr.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_util::FutureExt;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use tracing::Instrument;

use super::problem::{ApiError, PROBLEM_JSON, Problem};
use super::{State, client_address};

/// The id of the current request, also sent back as `X-Request-Id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// The docs page runs the vendored Swagger UI from our own origin only.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Accepts a caller's request id only if it is short and plain; otherwise makes one.
fn request_id_of(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The login, consent and error pages of the OpenID provider, rendered on purpose for a browser.
fn is_page(res: &ServiceResponse<impl MessageBody>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"))
}

fn is_json(res: &ServiceResponse<impl MessageBody>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(PROBLEM_JSON) || ct.starts_with("application/json"))
}

pub async fn gateway_layer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = request_id_of(&req);
    // Every endpoint has a body limit, including those that never read a body.
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let state = req.app_data::<State>().cloned();
    let client = match &state {
        Some(s) => client_address::attach(&req, &s.services.settings.server.trusted_proxies),
        None => client_address::attach(&req, &[]),
    };
    let method = req.method().to_string();
    let is_docs = req.path().starts_with("/docs");
    // Paths may one day carry personal data, so the span records the route template, not the path.
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, client = %client);
    let finish = Finish {
        state: state.as_ref(),
        request_id: &request_id,
        method: &method,
        is_docs,
        started,
        span: &span,
    };

    let limit = state
        .as_ref()
        .map(|s| s.services.settings.server.body_limit_bytes);
    // The batch endpoint streams its body line by line in bounded memory: no size limit.
    let streamed = req.path() == "/v1/match/batch";
    let res = match (declared_length, limit) {
        (Some(len), Some(limit)) if len > limit && !streamed => {
            let (http_req, _) = req.into_parts();
            let err = ApiError::PayloadTooLarge { limit };
            ServiceResponse::new(http_req, actix_web::ResponseError::error_response(&err))
                .map_into_boxed_body()
        }
        _ => match AssertUnwindSafe(next.call(req).instrument(span.clone()))
            .catch_unwind()
            .await
        {
            Ok(res) => res?.map_into_boxed_body(),
            Err(_) => {
                // The hook logged the panic in this request's span. The request went down with
                // the handler, so the answer leaves as the service's error: the server sends it
                // on the same connection like any other response.
                let mut answer = actix_web::ResponseError::error_response(&ApiError::Internal(
                    "a handler panicked".into(),
                ));
                finish.headers(answer.headers_mut());
                finish.record(answer.status(), "panicked");
                return Err(actix_web::error::InternalError::from_response(
                    "a handler panicked",
                    answer,
                )
                .into());
            }
        },
    };

    let status = res.status();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let mut res = if (status.is_client_error() || status.is_server_error())
        && !is_json(&res)
        && !is_page(&res)
    {
        let allow = res.headers().get(header::ALLOW).cloned();
        let mut replaced = res.into_response(Problem::for_status(status).response());
        if let Some(allow) = allow {
            replaced.headers_mut().insert(header::ALLOW, allow);
        }
        replaced
    } else {
        res.map_into_boxed_body()
    };
    finish.headers(res.headers_mut());
    finish.record(status, &route);
    Ok(res)
}

/// What every answer gets on its way out, whether a handler produced it or panicked.
struct Finish<'a> {
    state: Option<&'a State>,
    request_id: &'a str,
    method: &'a str,
    is_docs: bool,
    started: Instant,
    span: &'a tracing::Span,
}

impl Finish<'_> {
    /// Request id and security headers.
    fn headers(&self, headers: &mut HeaderMap) {
        if let Ok(v) = HeaderValue::from_str(self.request_id) {
            headers.insert(REQUEST_ID, v);
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        // Pages set their own policy (they need their stylesheet, script and forms).
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(if self.is_docs { DOCS_CSP } else { API_CSP }),
            );
        }
        // Anything may carry a token or personal data unless a handler says it is cacheable.
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        let https = self.state.is_some_and(|s| {
            s.services
                .settings
                .server
                .public_url
                .starts_with("https://")
        });
        if https {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            );
        }
    }

    /// Metrics and the access-log line.
    fn record(&self, status: StatusCode, route: &str) {
        if let Some(state) = self.state {
            let code = status.as_u16().to_string();
            state
                .services
                .metrics
                .http_requests
                .with_label_values(&[self.method, route, code.as_str()])
                .inc();
            state
                .services
                .metrics
                .http_latency
                .with_label_values(&[self.method, route])
                .observe(self.started.elapsed().as_secs_f64());
        }
        tracing::info!(
            parent: self.span,
            status = status.as_u16(),
            route = %route,
            latency_us = self.started.elapsed().as_micros() as u64,
            "request completed"
        );
    }
}

/// Replaces the default panic message (text and, with `RUST_BACKTRACE`, a backtrace on stderr)
/// with one structured error line, for panics on the HTTP worker threads (`actix-*`), where every
/// handler runs. Other threads — a test harness's, say — keep the previous hook, so a failing
/// assertion still prints as usual. Installed once per process.
pub fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or_default();
            if !is_gateway_thread(name) {
                return previous(info);
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_owned());
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            tracing::error!(thread = name, %location, panic = %message, "panicked; the request answers 500");
        }));
    });
}

fn is_gateway_thread(name: &str) -> bool {
    name.starts_with("actix-")
}

/// Maps JSON body errors to problem details (413 for too large, 415 for a wrong content type).
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::Overflow { limit } => ApiError::PayloadTooLarge { limit: *limit },
        E::OverflowKnownLength { limit, .. } => ApiError::PayloadTooLarge { limit: *limit },
        E::ContentType => ApiError::UnsupportedMediaType,
        E::Deserialize(e) => ApiError::bad_request("malformed_body", e.to_string()),
        _ => ApiError::bad_request("malformed_body", "the body could not be read as JSON"),
    };
    api.into()
}

pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request("malformed_query", err.to_string()).into()
}
