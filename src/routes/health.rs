//! What operations tooling reads: liveness, readiness and Prometheus metrics.

use actix_web::{get, web, HttpRequest, HttpResponse};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::db;
use crate::error::AppError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

/// What `/metrics` renders, and the token it asks for (`None`: metrics are off).
pub struct MetricsPage {
    pub handle: PrometheusHandle,
    pub token: Option<String>,
}

/// The process is up and serving HTTP.
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The server can do its work: the database answers. With a shared broker, a Redis
/// that does not answer leaves the node `degraded` (with the reason): it still serves,
/// its own clients still get its events, other nodes' clients resync when Redis is back.
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    db::ping(&state.pool).await.map_err(AppError::Unavailable)?;
    let Some(broker) = state.realtime.broker() else {
        return Ok(HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" })));
    };
    let body = match broker.problem() {
        None => json!({ "status": "ready", "database": "ok", "redis": "ok" }),
        Some(problem) => json!({ "status": "degraded", "database": "ok", "redis": problem }),
    };
    Ok(HttpResponse::Ok().json(body))
}

/// Prometheus's scrape, for a caller with `Authorization: Bearer $SWITCHBOARD_METRICS_TOKEN`.
#[get("/metrics")]
async fn metrics(
    req: HttpRequest,
    page: web::Data<MetricsPage>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(token) = &page.token else {
        return Err(AppError::NotFoundNamed(
            "metrics are off: set SWITCHBOARD_METRICS_TOKEN to turn them on".into(),
        ));
    };
    let offered = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(offered.as_bytes().ct_eq(token.as_bytes())) {
        return Err(AppError::Unauthenticated(
            "metrics need the bearer token set in SWITCHBOARD_METRICS_TOKEN",
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render(&page.handle, &state.pool)))
}
