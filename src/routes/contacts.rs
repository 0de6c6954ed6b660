use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::contacts::{
    self, ContactChanges, EmailChanges, MethodInput, NewContact, NewEmail, NewPhone, PhoneChanges,
};
use crate::db::contact_methods::MethodKind;
use crate::db::contacts::ContactListQuery;
use crate::db::ids::{ContactId, ContactMethodId};
use crate::error::AppError;
use crate::extract::{page_limit, ApiJson};
use crate::messages;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update)
        .service(remove)
        .service(mark_read)
        .service(opt_outs);
    contact_method_routes::<NewPhone, PhoneChanges>(cfg, "phones", MethodKind::Phone);
    contact_method_routes::<NewEmail, EmailChanges>(cfg, "emails", MethodKind::Email);
}

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
    let limit = page_limit(params.limit)?;
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
    let (org, contact) = (caller.organization_id, path.into_inner());
    contacts::delete(&mut *state.pool.get().await?, org, contact).await?;
    state.caches.forget_recipient(org, contact);
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /contacts/{id}/phones|emails`, `PATCH` and `DELETE .../{entry_id}`: the
/// same rules for both kinds, told apart by the body type and `kind`.
fn contact_method_routes<New, Changes>(
    cfg: &mut web::ServiceConfig,
    segment: &str,
    kind: MethodKind,
) where
    New: DeserializeOwned + Into<MethodInput> + 'static,
    Changes: DeserializeOwned + Into<MethodInput> + 'static,
{
    cfg.service(
        web::resource(format!("/contacts/{{contact_id}}/{segment}"))
            .route(web::post().to(add_method::<New>)),
    )
    .service(
        web::resource(format!("/contacts/{{contact_id}}/{segment}/{{entry_id}}"))
            .route(web::patch().to(update_method::<Changes>))
            .route(
                web::delete()
                    .to(move |state, caller, path| remove_method(state, caller, path, kind)),
            ),
    );
}

async fn add_method<New: Into<MethodInput>>(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
    body: ApiJson<New>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let (org, contact, region) = (
        caller.organization_id,
        path.into_inner(),
        state.default_region,
    );
    let entry = contacts::add_method(&mut conn, org, contact, region, body.0.into()).await?;
    state.caches.forget_recipient(org, contact);
    Ok(HttpResponse::Created().json(entry))
}

async fn update_method<Changes: Into<MethodInput>>(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ContactId, ContactMethodId)>,
    body: ApiJson<Changes>,
) -> Result<HttpResponse, AppError> {
    let (contact, id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let (org, region) = (caller.organization_id, state.default_region);
    let entry = contacts::update_method(&mut conn, org, contact, id, region, body.0.into()).await?;
    state.caches.forget_recipient(org, contact);
    Ok(HttpResponse::Ok().json(entry))
}

async fn remove_method(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ContactId, ContactMethodId)>,
    kind: MethodKind,
) -> Result<HttpResponse, AppError> {
    let (contact, id) = path.into_inner();
    let (org, mut conn) = (caller.organization_id, state.pool.get().await?);
    contacts::remove_method(&mut conn, org, contact, kind, id).await?;
    state.caches.forget_recipient(org, contact);
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

/// The contact's SMS opt-outs: which of their numbers opted out of which of ours.
#[get("/contacts/{contact_id}/opt-outs")]
async fn opt_outs(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let opt_outs = contacts::opt_outs(&mut conn, caller.organization_id, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({ "opt_outs": opt_outs })))
}
