//! `/api/scheduled-messages`: messages an operator schedules, the queue beside a
//! conversation, and changing or canceling them while they wait.

use actix_web::{get, patch, post, web, HttpResponse};
use serde::Serialize;

use crate::auth::Caller;
use crate::db::ids::ScheduledMessageId;
use crate::db::scheduled_messages::ScheduledMessage;
use crate::error::{AppError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::scheduled::{self, ListQuery, ScheduleEdit, ScheduleRequest};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(show)
        .service(edit)
        .service(cancel)
        .service(send_now);
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ScheduledList {
    /// `pending` (and `firing`) first, soonest first.
    scheduled_messages: Vec<ScheduledMessage>,
}

/// `201` with the new row, or `200` with the first one when `client_id` repeats.
#[utoipa::path(
    post,
    path = "/scheduled-messages",
    tag = "scheduled messages",
    request_body = ScheduleRequest,
    responses(
        (status = 201, description = "Scheduled", body = ScheduledMessage),
        (status = 200, description = "`client_id` repeats: the row first scheduled with it", body = ScheduledMessage),
        (status = 404, description = "The contact, a sender or an attachment is not the organisation's", body = ErrorBody),
        (status = 409, description = "The number opted out", body = ErrorBody),
    )
)]
#[post("/scheduled-messages")]
pub(super) async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<ScheduleRequest>,
) -> Result<HttpResponse, AppError> {
    let (view, created) = scheduled::create(&state, &caller, body.0).await?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(view))
}

/// Waiting rows first, soonest first.
#[utoipa::path(
    get,
    path = "/scheduled-messages",
    tag = "scheduled messages",
    params(ListQuery),
    responses(
        (status = 200, description = "The scheduled messages", body = ScheduledList),
        (status = 404, description = "The contact is not the organisation's", body = ErrorBody),
        (status = 422, description = "A filter that is not valid (a phone number, a status)", body = ErrorBody),
    )
)]
#[get("/scheduled-messages")]
pub(super) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let rows = scheduled::list(&state, &caller, query).await?;
    Ok(HttpResponse::Ok().json(ScheduledList {
        scheduled_messages: rows,
    }))
}

#[utoipa::path(
    get,
    path = "/scheduled-messages/{id}",
    tag = "scheduled messages",
    params(("id" = ScheduledMessageId, Path, description = "The scheduled message")),
    responses((status = 200, description = "The scheduled message", body = ScheduledMessage))
)]
#[get("/scheduled-messages/{id}")]
pub(super) async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ScheduledMessageId>,
) -> Result<HttpResponse, AppError> {
    let view = scheduled::get(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Changes a `pending` row.
#[utoipa::path(
    patch,
    path = "/scheduled-messages/{id}",
    tag = "scheduled messages",
    params(("id" = ScheduledMessageId, Path, description = "The scheduled message")),
    request_body = ScheduleEdit,
    responses(
        (status = 200, description = "The row as changed", body = ScheduledMessage),
        (status = 409, description = "The row is no longer `pending`", body = ErrorBody),
    )
)]
#[patch("/scheduled-messages/{id}")]
pub(super) async fn edit(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ScheduledMessageId>,
    body: ApiJson<ScheduleEdit>,
) -> Result<HttpResponse, AppError> {
    let view = scheduled::edit(&state, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(
    post,
    path = "/scheduled-messages/{id}/cancel",
    tag = "scheduled messages",
    params(("id" = ScheduledMessageId, Path, description = "The scheduled message")),
    responses(
        (status = 200, description = "The row, `canceled`", body = ScheduledMessage),
        (status = 409, description = "The row is no longer `pending`", body = ErrorBody),
    )
)]
#[post("/scheduled-messages/{id}/cancel")]
pub(super) async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ScheduledMessageId>,
) -> Result<HttpResponse, AppError> {
    let view = scheduled::cancel(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Fires the row now and answers with how it ended (`sent`, or `failed` and why).
#[utoipa::path(
    post,
    path = "/scheduled-messages/{id}/send-now",
    tag = "scheduled messages",
    params(("id" = ScheduledMessageId, Path, description = "The scheduled message")),
    responses(
        (status = 200, description = "The row, `sent` or `failed`", body = ScheduledMessage),
        (status = 409, description = "The row is no longer `pending`", body = ErrorBody),
    )
)]
#[post("/scheduled-messages/{id}/send-now")]
pub(super) async fn send_now(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ScheduledMessageId>,
) -> Result<HttpResponse, AppError> {
    let view = scheduled::send_now(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}
