use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::contacts::{
    self, ContactChanges, EmailChanges, NewContact, NewEmail, NewPhone, PhoneChanges,
};
use crate::db::contact_methods::MethodKind;
use crate::db::contacts::ContactListQuery;
use crate::db::ids::{ContactId, ContactMethodId};
use crate::error::AppError;
use crate::extract::ApiJson;
use crate::messages;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update)
        .service(remove)
        .service(add_phone)
        .service(update_phone)
        .service(remove_phone)
        .service(add_email)
        .service(update_email)
        .service(remove_email)
        .service(mark_read);
}

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 200;

#[derive(Deserialize)]
struct ListParams {
    search: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /api/contacts?search=&limit=&cursor=`: most recently contacted first, with a
/// cursor for the next page (`null` on the last page).
#[get("/contacts")]
async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::BadRequest {
            code: "invalid_query",
            message: format!("`limit` must be between 1 and {MAX_PAGE}"),
            field: Some("limit".into()),
        });
    }
    let after = params
        .cursor
        .as_deref()
        .map(contacts::decode_cursor)
        .transpose()?;
    let search = params
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let mut conn = state.pool.get().await?;
    let org = caller.organization_id;
    // One extra row tells whether another page follows.
    let mut page = crate::db::contacts::list(
        &mut conn,
        org,
        &ContactListQuery {
            search,
            after,
            limit: limit + 1,
        },
    )
    .await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    let next_cursor = has_more
        .then(|| page.last().map(contacts::encode_cursor))
        .flatten();
    let views = contacts::views(&mut conn, org, caller.user_id, page).await?;
    Ok(HttpResponse::Ok().json(json!({ "contacts": views, "next_cursor": next_cursor })))
}

#[post("/contacts")]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewContact>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let view = contacts::create(
        &mut conn,
        caller.organization_id,
        caller.user_id,
        state.default_region,
        body.0,
    )
    .await?;
    Ok(HttpResponse::Created().json(view))
}

#[get("/contacts/{contact_id}")]
async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let view = contacts::view(
        &mut conn,
        caller.organization_id,
        caller.user_id,
        path.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[patch("/contacts/{contact_id}")]
async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
    body: ApiJson<ContactChanges>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let view = contacts::update(
        &mut conn,
        caller.organization_id,
        caller.user_id,
        path.into_inner(),
        body.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[delete("/contacts/{contact_id}")]
async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
) -> Result<HttpResponse, AppError> {
    contacts::delete(
        &mut *state.pool.get().await?,
        caller.organization_id,
        path.into_inner(),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/contacts/{contact_id}/phones")]
async fn add_phone(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
    body: ApiJson<NewPhone>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let org = caller.organization_id;
    let phone = contacts::add_method(
        &mut conn,
        org,
        path.into_inner(),
        state.default_region,
        body.0.into(),
    )
    .await?;
    Ok(HttpResponse::Created().json(phone))
}

#[patch("/contacts/{contact_id}/phones/{phone_id}")]
async fn update_phone(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ContactId, ContactMethodId)>,
    body: ApiJson<PhoneChanges>,
) -> Result<HttpResponse, AppError> {
    let (contact, id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let org = caller.organization_id;
    let phone = contacts::update_method(
        &mut conn,
        org,
        contact,
        id,
        state.default_region,
        body.0.into(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(phone))
}

#[delete("/contacts/{contact_id}/phones/{phone_id}")]
async fn remove_phone(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ContactId, ContactMethodId)>,
) -> Result<HttpResponse, AppError> {
    let (contact, id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    contacts::remove_method(
        &mut conn,
        caller.organization_id,
        contact,
        MethodKind::Phone,
        id,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/contacts/{contact_id}/emails")]
async fn add_email(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
    body: ApiJson<NewEmail>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let org = caller.organization_id;
    let email = contacts::add_method(
        &mut conn,
        org,
        path.into_inner(),
        state.default_region,
        body.0.into(),
    )
    .await?;
    Ok(HttpResponse::Created().json(email))
}

#[patch("/contacts/{contact_id}/emails/{email_id}")]
async fn update_email(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ContactId, ContactMethodId)>,
    body: ApiJson<EmailChanges>,
) -> Result<HttpResponse, AppError> {
    let (contact, id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let org = caller.organization_id;
    let email = contacts::update_method(
        &mut conn,
        org,
        contact,
        id,
        state.default_region,
        body.0.into(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(email))
}

#[delete("/contacts/{contact_id}/emails/{email_id}")]
async fn remove_email(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ContactId, ContactMethodId)>,
) -> Result<HttpResponse, AppError> {
    let (contact, id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    contacts::remove_method(
        &mut conn,
        caller.organization_id,
        contact,
        MethodKind::Email,
        id,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Marks the contact's conversation read (up to now) for the calling operator.
#[post("/contacts/{contact_id}/read")]
async fn mark_read(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
) -> Result<HttpResponse, AppError> {
    let read_at = messages::mark_read(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({ "read_at": read_at })))
}
