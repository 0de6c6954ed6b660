use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;

use diesel_async::AsyncConnection;

use crate::audit;
use crate::auth::Caller;
use crate::db::ids::{AttachmentId, ContactId};
use crate::db::{audit_log, message_attachments, phi_policies};
use crate::error::{AppError, ErrorBody};
use crate::extract::ApiJson;
use crate::phi::policy::{Policy, PolicyChanges};
use crate::phi::vetting::{self, Verdict};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(check)
        .service(show_policy)
        .service(update_policy);
}

/// `GET /api/phi/policy` (admins): every kind's action, extra patterns, allowed terms.
#[utoipa::path(
    get,
    path = "/phi/policy",
    tag = "phi",
    responses(
        (status = 200, description = "The organisation's PHI policy", body = Policy),
        (status = 403, description = "Admins only", body = ErrorBody),
    )
)]
#[get("/phi/policy")]
pub(super) async fn show_policy(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    Ok(HttpResponse::Ok().json(vetting::policy(&state.pool, caller.organization_id).await?))
}

/// `PATCH /api/phi/policy` (admins): `{actions?: {kind: block|warn|off}, extra_patterns?:
/// [{name, pattern, action}], allowed_terms?: [...]}`; patterns are checked before saving.
#[utoipa::path(
    patch,
    path = "/phi/policy",
    tag = "phi",
    request_body = PolicyChanges,
    responses((status = 200, description = "The policy as changed", body = Policy))
)]
#[patch("/phi/policy")]
pub(super) async fn update_policy(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<PolicyChanges>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let org = caller.organization_id;
    let policy = vetting::policy(&state.pool, org).await?.apply(body.0)?;
    let entry = audit::by(
        &caller,
        "phi.policy_changed",
        "organization",
        org.0,
        serde_json::json!({}),
    );
    state
        .pool
        .get()
        .await?
        .transaction::<_, AppError, _>(async |conn| {
            phi_policies::save(conn, org, &policy.to_stored()).await?;
            audit_log::record(conn, &entry).await?;
            Ok(())
        })
        .await?;
    state.caches.forget_org(org);
    Ok(HttpResponse::Ok().json(policy))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckRequest {
    body: String,
    contact_id: Option<ContactId>,
    /// Uploads the draft will carry: images among them are flagged for review.
    #[serde(default)]
    attachment_ids: Vec<AttachmentId>,
}

/// `POST /api/phi/check {body, contact_id?, attachment_ids?}`: the draft's findings, and
/// whether the policy would block sending it.
#[utoipa::path(
    post,
    path = "/phi/check",
    tag = "phi",
    request_body = CheckRequest,
    responses(
        (status = 200, description = "The findings, and whether the policy blocks the draft", body = Verdict),
        (status = 404, description = "The contact or an attachment is not the organisation's", body = ErrorBody),
    )
)]
#[post("/phi/check")]
pub(super) async fn check(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<CheckRequest>,
) -> Result<HttpResponse, AppError> {
    let ApiJson(CheckRequest {
        body,
        contact_id,
        attachment_ids,
    }) = body;
    let org = caller.organization_id;
    let config = state.caches.org(org).await?;
    let recipient = match contact_id {
        Some(contact) => Some(state.recipient(org, contact).await?),
        None => None,
    };
    let attachments = if attachment_ids.is_empty() {
        Vec::new()
    } else {
        let mut conn = state.pool.get().await?;
        let found = message_attachments::list_many(&mut conn, org, &attachment_ids).await?;
        if found.len() < attachment_ids.len() {
            return Err(AppError::NotFound("attachment"));
        }
        found
    };
    let verdict = vetting::vet(
        &state.phi,
        &config,
        recipient.as_deref(),
        body,
        &attachments,
    )
    .await?;
    Ok(HttpResponse::Ok().json(verdict))
}
