//! Errors as RFC 9457 problem details, mapped to HTTP in one place.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::relying_parties::ClientAuthError;
use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document with a stable `code`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:vn:eid:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code.
    pub code: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, title: &str, detail: Option<String>) -> Self {
        Self {
            type_: format!("urn:vn:eid:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
        }
    }

    pub fn response(&self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(serde_json::to_string(self).unwrap_or_default())
    }

    /// The generic problem for a status produced outside our handlers (routing, payload limits).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, title) = match status.as_u16() {
            400 => ("bad_request", "The request is malformed"),
            401 => ("unauthorized", "Authentication is required"),
            403 => ("forbidden", "Not allowed"),
            404 => ("not_found", "No such resource"),
            405 => ("method_not_allowed", "Method not allowed on this resource"),
            406 => ("not_acceptable", "Not acceptable"),
            408 => ("request_timeout", "The request took too long"),
            411 => ("length_required", "A Content-Length is required"),
            413 => ("payload_too_large", "The request body is too large"),
            414 => ("uri_too_long", "The URI is too long"),
            415 => ("unsupported_media_type", "Unsupported content type"),
            429 => ("rate_limited", "Too many requests"),
            431 => ("headers_too_large", "Request headers are too large"),
            503 => ("unavailable", "Temporarily unavailable"),
            s if s >= 500 => ("internal_error", "Internal error"),
            _ => ("bad_request", "The request was not accepted"),
        };
        Self::new(status, code, title, None)
    }
}

/// Every error the HTTP layer answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no such resource")]
    NotFound,
    #[error("bad request: {detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("request body too large")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("client authentication failed: {0}")]
    ClientAuthentication(ClientAuthError),
    #[error("client authentication required")]
    ClientAuthenticationMissing,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("store unavailable: {0}")]
    StoreUnavailable(StoreError),
    #[error("internal error: {0}")]
    Internal(String),
    /// A business outcome with its own status and stable code.
    #[error("{code}: {detail}")]
    Outcome {
        status: u16,
        code: &'static str,
        detail: String,
    },
}

impl From<StoreError> for ApiError {
    /// A store that cannot be reached or written (Redis down, a full disk) is a 503 the client
    /// may retry; only data that does not decode is the gateway's own fault, a 500.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::Storage(_) => ApiError::StoreUnavailable(e),
            StoreError::Corrupt(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<ClientAuthError> for ApiError {
    fn from(e: ClientAuthError) -> Self {
        match e {
            ClientAuthError::Store(s) => s.into(),
            other => ApiError::ClientAuthentication(other),
        }
    }
}

impl ApiError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn problem(&self) -> Problem {
        use StatusCode as S;
        match self {
            ApiError::NotFound => Problem::for_status(S::NOT_FOUND),
            ApiError::BadRequest { code, detail } => {
                Problem::new(S::BAD_REQUEST, code, "The request is malformed", Some(detail.clone()))
            }
            ApiError::PayloadTooLarge { limit } => Problem::new(
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large",
                Some(format!("at most {limit} bytes")),
            ),
            ApiError::UnsupportedMediaType => Problem::for_status(S::UNSUPPORTED_MEDIA_TYPE),
            ApiError::ClientAuthentication(e) => Problem::new(
                S::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed",
                Some(if e.is_disclosable() { e.to_string() } else { "unknown client or wrong credentials".into() }),
            ),
            ApiError::ClientAuthenticationMissing => Problem::new(
                S::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed",
                Some("send client_secret_basic (Authorization: Basic) or a private_key_jwt assertion (Authorization: private_key_jwt <jwt>)".into()),
            ),
            ApiError::Forbidden(what) => Problem::new(S::FORBIDDEN, "forbidden", "Not allowed", Some(what.clone())),
            ApiError::RateLimited { .. } => Problem::for_status(S::TOO_MANY_REQUESTS),
            ApiError::StoreUnavailable(_) => Problem::new(
                S::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "Temporarily unavailable",
                Some("the gateway cannot reach its store; retry later".into()),
            ),
            // Opaque on purpose: the cause goes to the log, never to the client.
            ApiError::Internal(_) => Problem::for_status(S::INTERNAL_SERVER_ERROR),
            ApiError::Outcome { status, code, detail } => {
                let s = S::from_u16(*status).unwrap_or(S::BAD_REQUEST);
                let title = Problem::for_status(s).title;
                Problem::new(s, code, &title, Some(detail.clone()))
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.problem().status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => tracing::error!(%cause, "internal error"),
            ApiError::StoreUnavailable(cause) => {
                tracing::warn!(%cause, "store unavailable; failing closed")
            }
            ApiError::ClientAuthentication(e) => {
                tracing::info!(reason = e.reason(), "client authentication failed")
            }
            _ => {}
        }
        let mut res = self.problem().response();
        match self {
            ApiError::ClientAuthentication(_) | ApiError::ClientAuthenticationMissing => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="eid-gateway", charset="UTF-8""#),
                );
            }
            ApiError::RateLimited { retry_after_secs } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::StoreUnavailable(_) => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status_and_a_stable_code() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::NotFound, 404, "not_found"),
            (
                ApiError::bad_request("malformed_body", "x"),
                400,
                "malformed_body",
            ),
            (
                ApiError::PayloadTooLarge { limit: 10 },
                413,
                "payload_too_large",
            ),
            (
                ApiError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (
                ApiError::ClientAuthentication(ClientAuthError::WrongSecret),
                401,
                "invalid_client",
            ),
            (ApiError::ClientAuthenticationMissing, 401, "invalid_client"),
            (ApiError::Forbidden("x".into()), 403, "forbidden"),
            (
                ApiError::RateLimited {
                    retry_after_secs: 3,
                },
                429,
                "rate_limited",
            ),
            (
                ApiError::StoreUnavailable(StoreError::Unavailable("x".into())),
                503,
                "store_unavailable",
            ),
            (
                ApiError::Internal("secret detail".into()),
                500,
                "internal_error",
            ),
        ];
        for (err, status, code) in cases {
            let p = err.problem();
            assert_eq!((p.status, p.code.as_str()), (status, code), "{err:?}");
            assert_eq!(p.type_, format!("urn:vn:eid:problem:{code}"));
            assert_eq!(err.status_code().as_u16(), status);
        }
    }

    #[test]
    fn internal_details_never_reach_the_body() {
        let p = ApiError::Internal("redis://:hunter2@db".into()).problem();
        assert!(!serde_json::to_string(&p).unwrap().contains("hunter2"));
        let p = ApiError::from(StoreError::Corrupt("row 7 of people".into())).problem();
        assert_eq!(p.status, 500);
        assert!(p.detail.is_none());
    }

    #[test]
    fn undisclosable_authentication_failures_look_the_same() {
        let a = ApiError::ClientAuthentication(ClientAuthError::UnknownClient).problem();
        let b = ApiError::ClientAuthentication(ClientAuthError::WrongSecret).problem();
        let c = ApiError::ClientAuthentication(ClientAuthError::BadSignature).problem();
        assert_eq!(a.detail, b.detail);
        assert_eq!(b.detail, c.detail);
    }
}
