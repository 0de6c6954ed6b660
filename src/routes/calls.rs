//! `/api/calls`: call records for a telephony integration (any operator).

use actix_web::{get, patch, post, web, HttpResponse};

use crate::auth::Caller;
use crate::calls::{self, CallChanges, NewCall};
use crate::db::calls::Call;
use crate::db::ids::CallId;
use crate::error::{AppError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(show).service(update);
}

#[utoipa::path(
    post,
    path = "/calls",
    tag = "calls",
    request_body = NewCall,
    responses(
        (status = 201, description = "The call", body = Call),
        (status = 404, description = "The contact or number is not the organisation's", body = ErrorBody),
        (status = 409, description = "A call with this `external_id` exists", body = ErrorBody),
    )
)]
#[post("/calls")]
pub(super) async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewCall>,
) -> Result<HttpResponse, AppError> {
    let call = calls::create(&state, &caller, body.0).await?;
    Ok(HttpResponse::Created().json(call))
}

#[utoipa::path(
    get,
    path = "/calls/{id}",
    tag = "calls",
    params(("id" = CallId, Path, description = "The call")),
    responses((status = 200, description = "The call", body = Call))
)]
#[get("/calls/{id}")]
pub(super) async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CallId>,
) -> Result<HttpResponse, AppError> {
    let call = calls::get(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(call))
}

/// `null` clears a field; a status never moves back.
#[utoipa::path(
    patch,
    path = "/calls/{id}",
    tag = "calls",
    params(("id" = CallId, Path, description = "The call")),
    request_body = CallChanges,
    responses(
        (status = 200, description = "The call as changed", body = Call),
        (status = 409, description = "The status would move back", body = ErrorBody),
    )
)]
#[patch("/calls/{id}")]
pub(super) async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<CallId>,
    body: ApiJson<CallChanges>,
) -> Result<HttpResponse, AppError> {
    let call = calls::update(&state, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(call))
}
