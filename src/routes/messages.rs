use actix_web::http::header::ContentType;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::ids::{ContactId, MessageId};
use crate::error::{AppError, ErrorBody};
use crate::extract::{page_limit, ApiJson, ApiQuery};
use crate::messages::{self, AddedMessage, EditRequest, MessageView, NoteRequest, SendRequest};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(send)
        .service(add_note)
        .service(list)
        .service(retry)
        .service(edit)
        .service(remove);
}

/// `201` with the new message, or `200` with the first one when `client_id` repeats.
#[utoipa::path(
    post,
    path = "/messages/send",
    tag = "messages",
    request_body = SendRequest,
    responses(
        (status = 201, description = "Accepted: the message, queued", body = MessageView),
        (status = 200, description = "`client_id` repeats: the message first sent with it", body = MessageView),
        (status = 403, description = "A PHI override without the `phi.override` permission", body = ErrorBody),
        (status = 404, description = "The contact, a sender or an attachment is not the organisation's", body = ErrorBody),
        (status = 409, description = "The number opted out, or `client_id` names another kind of message", body = ErrorBody),
    )
)]
#[post("/messages/send")]
pub(super) async fn send(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<SendRequest>,
) -> Result<HttpResponse, AppError> {
    let added = messages::send(&state, &caller, body.0).await?;
    Ok(added_response(added))
}

/// A private note in the conversation, shown to operators and never sent.
#[utoipa::path(
    post,
    path = "/messages/notes",
    tag = "messages",
    request_body = NoteRequest,
    responses(
        (status = 201, description = "The note", body = MessageView),
        (status = 200, description = "`client_id` repeats: the note first added with it", body = MessageView),
        (status = 404, description = "The contact is not the organisation's", body = ErrorBody),
        (status = 409, description = "`client_id` names another kind of message", body = ErrorBody),
    )
)]
#[post("/messages/notes")]
pub(super) async fn add_note(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NoteRequest>,
) -> Result<HttpResponse, AppError> {
    let added = messages::add_note(&state, &caller, body.0).await?;
    Ok(added_response(added))
}

/// `201` with a new message, `200` with the one first recorded under a repeated
/// `client_id`; the body is the message's view, serialised once (see
/// [`AddedMessage::json`]).
fn added_response(added: AddedMessage) -> HttpResponse {
    let mut response = if added.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    response
        .content_type(ContentType::json())
        .body(String::from(Box::<str>::from(added.json)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    contact_id: ContactId,
    /// The previous page's `next_before`.
    before: Option<MessageId>,
    /// 1 to 200; 50 unless given.
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct MessagePage {
    /// Oldest first.
    messages: Vec<MessageView>,
    /// Pass as `before` for the page before this one; `null` at the start.
    next_before: Option<MessageId>,
}

/// `GET /api/messages?contact_id=&before=&limit=`: oldest first; `next_before` pages back.
#[utoipa::path(
    get,
    path = "/messages",
    tag = "messages",
    params(ListParams),
    responses(
        (status = 200, description = "A page of the conversation", body = MessagePage),
        (status = 404, description = "The contact is not the organisation's", body = ErrorBody),
    )
)]
#[get("/messages")]
pub(super) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<HttpResponse, AppError> {
    let limit = page_limit(params.limit)?;
    let (page, next_before) =
        messages::history(&state, &caller, params.contact_id, params.before, limit).await?;
    Ok(HttpResponse::Ok().json(MessagePage {
        messages: page,
        next_before,
    }))
}

/// Puts a `failed` message back in the queue.
#[utoipa::path(
    post,
    path = "/messages/{id}/retry",
    tag = "messages",
    params(("id" = MessageId, Path, description = "The message")),
    responses(
        (status = 200, description = "The message, queued again", body = MessageView),
        (status = 409, description = "The message is not `failed`", body = ErrorBody),
    )
)]
#[post("/messages/{id}/retry")]
pub(super) async fn retry(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<MessageId>,
) -> Result<HttpResponse, AppError> {
    let message = messages::retry(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(message))
}

/// Changes a note, or a message not yet handed to the carrier.
#[utoipa::path(
    patch,
    path = "/messages/{id}",
    tag = "messages",
    params(("id" = MessageId, Path, description = "The message")),
    request_body = EditRequest,
    responses(
        (status = 200, description = "The message as changed", body = MessageView),
        (status = 409, description = "The carrier already has the message", body = ErrorBody),
    )
)]
#[patch("/messages/{id}")]
pub(super) async fn edit(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<MessageId>,
    body: ApiJson<EditRequest>,
) -> Result<HttpResponse, AppError> {
    let message = messages::edit(&state, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(message))
}

/// Hides the message (a queued one is canceled too; a sent one is not unsent).
#[utoipa::path(
    delete,
    path = "/messages/{id}",
    tag = "messages",
    params(("id" = MessageId, Path, description = "The message")),
    responses((status = 204, description = "Hidden"))
)]
#[delete("/messages/{id}")]
pub(super) async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<MessageId>,
) -> Result<HttpResponse, AppError> {
    messages::delete(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
