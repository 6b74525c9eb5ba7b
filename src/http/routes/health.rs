//! Liveness, readiness and metrics.

use actix_web::HttpResponse;
use serde::Serialize;

use crate::http::{ApiError, State};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (live) or `ready`.
    pub status: &'static str,
    /// The store backend, on `/readyz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<&'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        store: None,
    })
}

/// The gateway can reach its store and write to it; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Health),
    (status = 503, description = "The store is unreachable or cannot write", body = crate::http::Problem, content_type = "application/problem+json"),
))]
pub async fn ready(state: State) -> Result<HttpResponse, ApiError> {
    let store = &state.services.store;
    let now = state.services.clock.now();
    // The write first: on a store closed by a disk failure it is also what opens it again.
    let probe = async {
        store.check_writable(now).await?;
        store.ping().await
    };
    probe.await.map_err(|e| {
        ApiError::StoreUnavailable(crate::store::StoreError::Unavailable(e.to_string()))
    })?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ready",
        store: Some(store.backend()),
    }))
}

/// Prometheus metrics, text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.services.render_metrics())
}
