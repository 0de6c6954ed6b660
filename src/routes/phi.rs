use actix_web::{post, web, HttpResponse};
use serde::Deserialize;

use crate::auth::Caller;
use crate::db::ids::ContactId;
use crate::error::AppError;
use crate::extract::ApiJson;
use crate::phi::vetting;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(check);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    body: String,
    contact_id: Option<ContactId>,
}

/// `POST /api/phi/check {body, contact_id?}`: the draft's findings, and whether the
/// policy would block sending it.
#[post("/phi/check")]
async fn check(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<CheckRequest>,
) -> Result<HttpResponse, AppError> {
    let ApiJson(CheckRequest { body, contact_id }) = body;
    let verdict = vetting::vet(&state, caller.organization_id, body, contact_id).await?;
    Ok(HttpResponse::Ok().json(verdict))
}
