use actix_web::{get, web, HttpResponse};
use serde_json::json;

use crate::db;
use crate::error::AppError;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

/// The process is up and serving HTTP.
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The server can do its work: the database answers.
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    db::ping(&state.pool).await.map_err(AppError::Unavailable)?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" })))
}
