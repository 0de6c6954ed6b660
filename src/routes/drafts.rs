//! `/api/contacts/{id}/draft`: the calling operator's reply in progress to the contact.

use actix_web::{delete, get, put, web, HttpResponse};

use crate::auth::Caller;
use crate::db::ids::ContactId;
use crate::drafts::{self, DraftRequest, DraftView};
use crate::error::AppError;
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(save).service(show).service(discard);
}

/// The calling operator's own draft to the contact.
#[utoipa::path(
    put,
    path = "/contacts/{contact_id}/draft",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact")),
    request_body = DraftRequest,
    responses((status = 200, description = "The draft as saved", body = DraftView))
)]
#[put("/contacts/{contact_id}/draft")]
pub(super) async fn save(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
    body: ApiJson<DraftRequest>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let draft = drafts::save(&mut conn, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(draft))
}

/// The draft, or `404` when there is none (or it was sent).
#[utoipa::path(
    get,
    path = "/contacts/{contact_id}/draft",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact")),
    responses((status = 200, description = "The draft", body = DraftView))
)]
#[get("/contacts/{contact_id}/draft")]
pub(super) async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let draft = drafts::get(&mut conn, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(draft))
}

#[utoipa::path(
    delete,
    path = "/contacts/{contact_id}/draft",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact")),
    responses((status = 204, description = "Discarded (or there was none)"))
)]
#[delete("/contacts/{contact_id}/draft")]
pub(super) async fn discard(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    drafts::discard(&mut conn, &caller, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
