use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;

use crate::auth::Caller;
use crate::db::ids::ContactId;
use crate::db::phi_policies;
use crate::error::AppError;
use crate::extract::ApiJson;
use crate::phi::policy::PolicyChanges;
use crate::phi::vetting;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(check)
        .service(show_policy)
        .service(update_policy);
}

/// `GET /api/phi/policy` (admins): every kind's action, extra patterns, allowed terms.
#[get("/phi/policy")]
async fn show_policy(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    Ok(HttpResponse::Ok().json(vetting::policy(&state, caller.organization_id).await?))
}

/// `PATCH /api/phi/policy` (admins): `{actions?: {kind: block|warn|off}, extra_patterns?:
/// [{name, pattern, action}], allowed_terms?: [...]}`; patterns are checked before saving.
#[patch("/phi/policy")]
async fn update_policy(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<PolicyChanges>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let org = caller.organization_id;
    let policy = vetting::policy(&state, org).await?.apply(body.0)?;
    phi_policies::save(&mut *state.pool.get().await?, org, &policy.to_stored()).await?;
    state.caches.forget_org(org);
    Ok(HttpResponse::Ok().json(policy))
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
