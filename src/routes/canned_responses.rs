//! `/api/canned-responses`: saved replies (write: admin; read: any operator).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::canned::{self, CannedChanges, CannedView, NewCanned, RenderContext, RenderRequest};
use crate::db::ids::CannedResponseId;
use crate::error::{AppError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update)
        .service(remove)
        .service(render);
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    /// Short-code prefix matches first, then short-code substrings, then title or
    /// content matches.
    search: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CannedList {
    canned_responses: Vec<CannedView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Rendered {
    /// The content with its placeholders filled in.
    content: String,
}

/// `GET /api/canned-responses?search=`: by short code, or ranked by how `search` matches.
#[utoipa::path(
    get,
    path = "/canned-responses",
    tag = "canned responses",
    params(ListParams),
    responses((status = 200, description = "The organisation's canned responses", body = CannedList))
)]
#[get("/canned-responses")]
pub(super) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let found = canned::list(&mut conn, &caller, params.search.as_deref()).await?;
    Ok(HttpResponse::Ok().json(CannedList {
        canned_responses: found,
    }))
}

/// Admins.
#[utoipa::path(
    post,
    path = "/canned-responses",
    tag = "canned responses",
    request_body = NewCanned,
    responses(
        (status = 201, description = "The new canned response", body = CannedView),
        (status = 409, description = "The short code is taken", body = ErrorBody),
    )
)]
#[post("/canned-responses")]
pub(super) async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewCanned>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let created = canned::create(&mut conn, &caller, body.0).await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(
    get,
    path = "/canned-responses/{id}",
    tag = "canned responses",
    params(("id" = CannedResponseId, Path, description = "The canned response")),
    responses((status = 200, description = "The canned response", body = CannedView))
)]
#[get("/canned-responses/{id}")]
pub(super) async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CannedResponseId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let found = canned::get(&mut conn, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(CannedView::from(found)))
}

/// Admins.
#[utoipa::path(
    patch,
    path = "/canned-responses/{id}",
    tag = "canned responses",
    params(("id" = CannedResponseId, Path, description = "The canned response")),
    request_body = CannedChanges,
    responses(
        (status = 200, description = "The canned response as changed", body = CannedView),
        (status = 409, description = "The short code is taken", body = ErrorBody),
    )
)]
#[patch("/canned-responses/{id}")]
pub(super) async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CannedResponseId>,
    body: ApiJson<CannedChanges>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let updated = canned::update(&mut conn, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(updated))
}

/// Admins.
#[utoipa::path(
    delete,
    path = "/canned-responses/{id}",
    tag = "canned responses",
    params(("id" = CannedResponseId, Path, description = "The canned response")),
    responses((status = 204, description = "Removed"))
)]
#[delete("/canned-responses/{id}")]
pub(super) async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CannedResponseId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    canned::delete(&mut conn, &caller, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `{contact_id}` → `{"content"}` with the placeholders filled for that contact.
#[utoipa::path(
    post,
    path = "/canned-responses/{id}/render",
    tag = "canned responses",
    params(("id" = CannedResponseId, Path, description = "The canned response")),
    request_body = RenderRequest,
    responses((status = 200, description = "Filled in for the contact and the caller", body = Rendered))
)]
#[post("/canned-responses/{id}/render")]
pub(super) async fn render(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CannedResponseId>,
    body: ApiJson<RenderRequest>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let found = canned::get(&mut conn, &caller, path.into_inner()).await?;
    let context = RenderContext::load(&mut conn, &caller, body.0.contact_id).await?;
    Ok(HttpResponse::Ok().json(Rendered {
        content: canned::render(&found.content, &context),
    }))
}
