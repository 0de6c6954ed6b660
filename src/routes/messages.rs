use actix_web::http::header::ContentType;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::db::ids::{ContactId, MessageId};
use crate::error::AppError;
use crate::extract::{page_limit, ApiJson};
use crate::messages::{self, AddedMessage, EditRequest, NoteRequest, SendRequest};
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(send)
        .service(add_note)
        .service(list)
        .service(retry)
        .service(edit)
        .service(remove);
}

/// `201` with the new message, or `200` with the first one when `client_id` repeats.
#[post("/messages/send")]
async fn send(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<SendRequest>,
) -> Result<HttpResponse, AppError> {
    let added = messages::send(&state, &caller, body.0).await?;
    Ok(added_response(added))
}

#[post("/messages/notes")]
async fn add_note(
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

#[derive(Deserialize)]
struct ListParams {
    contact_id: ContactId,
    before: Option<MessageId>,
    limit: Option<i64>,
}

/// `GET /api/messages?contact_id=&before=&limit=`: oldest first; `next_before` pages back.
#[get("/messages")]
async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let limit = page_limit(params.limit)?;
    let (page, next_before) =
        messages::history(&state, &caller, params.contact_id, params.before, limit).await?;
    Ok(HttpResponse::Ok().json(json!({ "messages": page, "next_before": next_before })))
}

#[post("/messages/{id}/retry")]
async fn retry(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<MessageId>,
) -> Result<HttpResponse, AppError> {
    let message = messages::retry(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(message))
}

#[patch("/messages/{id}")]
async fn edit(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<MessageId>,
    body: ApiJson<EditRequest>,
) -> Result<HttpResponse, AppError> {
    let message = messages::edit(&state, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(message))
}

#[delete("/messages/{id}")]
async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<MessageId>,
) -> Result<HttpResponse, AppError> {
    messages::delete(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
