use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::contacts::{
    self, ContactChanges, ContactEmailView, ContactPhoneView, ContactView, EmailChanges,
    MethodInput, NewContact, NewEmail, NewPhone, PhoneChanges,
};
use crate::db::contact_methods::MethodKind;
use crate::db::contacts::ContactListQuery;
use crate::db::ids::{ContactId, ContactMethodId};
use crate::db::sms_opt_outs::OptOut;
use crate::error::{AppError, ErrorBody};
use crate::extract::{page_limit, ApiJson, ApiQuery};
use crate::messages;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update)
        .service(remove)
        .service(mark_read)
        .service(opt_outs)
        .service(add_phone)
        .service(update_phone)
        .service(remove_phone)
        .service(add_email)
        .service(update_email)
        .service(remove_email);
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    /// Matches the name, a phone number (any formatting) or an email address.
    search: Option<String>,
    /// 1 to 200; 50 unless given.
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ContactPage {
    contacts: Vec<ContactView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ReadMark {
    /// Everything up to this moment is read for the calling operator.
    read_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct OptOutList {
    opt_outs: Vec<OptOut>,
}

/// `GET /api/contacts?search=&limit=&cursor=`: most recently contacted first, with a
/// cursor for the next page (`null` on the last page).
#[utoipa::path(
    get,
    path = "/contacts",
    tag = "contacts",
    params(ListParams),
    responses((status = 200, description = "A page of contacts", body = ContactPage))
)]
#[get("/contacts")]
pub(super) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
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
    Ok(HttpResponse::Ok().json(ContactPage {
        contacts: views,
        next_cursor,
    }))
}

#[utoipa::path(
    post,
    path = "/contacts",
    tag = "contacts",
    request_body = NewContact,
    responses(
        (status = 201, description = "The new contact", body = ContactView),
        (status = 409, description = "Two entries repeat a number or address", body = ErrorBody),
    )
)]
#[post("/contacts")]
pub(super) async fn create(
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

#[utoipa::path(
    get,
    path = "/contacts/{contact_id}",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact")),
    responses((status = 200, description = "The contact", body = ContactView))
)]
#[get("/contacts/{contact_id}")]
pub(super) async fn show(
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

/// `{name?, lead_id?, partner_id?}`; `null` clears an id.
#[utoipa::path(
    patch,
    path = "/contacts/{contact_id}",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact")),
    request_body = ContactChanges,
    responses((status = 200, description = "The contact as changed", body = ContactView))
)]
#[patch("/contacts/{contact_id}")]
pub(super) async fn update(
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

#[utoipa::path(
    delete,
    path = "/contacts/{contact_id}",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact")),
    responses((status = 204, description = "Deleted, with the contact's messages"))
)]
#[delete("/contacts/{contact_id}")]
pub(super) async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
) -> Result<HttpResponse, AppError> {
    let (org, contact) = (caller.organization_id, path.into_inner());
    contacts::delete(&mut *state.pool.get().await?, &caller, contact).await?;
    state.caches.forget_recipient(org, contact);
    Ok(HttpResponse::NoContent().finish())
}

/// Adds a phone number to the contact.
#[utoipa::path(
    post,
    path = "/contacts/{contact_id}/phones",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact")),
    request_body = NewPhone,
    responses(
        (status = 201, description = "The new entry", body = ContactPhoneView),
        (status = 409, description = "The contact already has this number", body = ErrorBody),
    )
)]
#[post("/contacts/{contact_id}/phones")]
pub(super) async fn add_phone(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
    body: ApiJson<NewPhone>,
) -> Result<HttpResponse, AppError> {
    add_method(state, caller, path.into_inner(), body.0.into()).await
}

#[utoipa::path(
    patch,
    path = "/contacts/{contact_id}/phones/{entry_id}",
    tag = "contacts",
    params(
        ("contact_id" = ContactId, Path, description = "The contact"),
        ("entry_id" = ContactMethodId, Path, description = "The phone entry"),
    ),
    request_body = PhoneChanges,
    responses(
        (status = 200, description = "The entry as changed", body = ContactPhoneView),
        (status = 409, description = "The contact already has this number", body = ErrorBody),
    )
)]
#[patch("/contacts/{contact_id}/phones/{entry_id}")]
pub(super) async fn update_phone(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ContactId, ContactMethodId)>,
    body: ApiJson<PhoneChanges>,
) -> Result<HttpResponse, AppError> {
    update_method(state, caller, path.into_inner(), body.0.into()).await
}

#[utoipa::path(
    delete,
    path = "/contacts/{contact_id}/phones/{entry_id}",
    tag = "contacts",
    params(
        ("contact_id" = ContactId, Path, description = "The contact"),
        ("entry_id" = ContactMethodId, Path, description = "The phone entry"),
    ),
    responses((status = 204, description = "Removed"))
)]
#[delete("/contacts/{contact_id}/phones/{entry_id}")]
pub(super) async fn remove_phone(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ContactId, ContactMethodId)>,
) -> Result<HttpResponse, AppError> {
    remove_method(state, caller, path.into_inner(), MethodKind::Phone).await
}

/// Adds an email address to the contact.
#[utoipa::path(
    post,
    path = "/contacts/{contact_id}/emails",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact")),
    request_body = NewEmail,
    responses(
        (status = 201, description = "The new entry", body = ContactEmailView),
        (status = 409, description = "The contact already has this address", body = ErrorBody),
    )
)]
#[post("/contacts/{contact_id}/emails")]
pub(super) async fn add_email(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
    body: ApiJson<NewEmail>,
) -> Result<HttpResponse, AppError> {
    add_method(state, caller, path.into_inner(), body.0.into()).await
}

#[utoipa::path(
    patch,
    path = "/contacts/{contact_id}/emails/{entry_id}",
    tag = "contacts",
    params(
        ("contact_id" = ContactId, Path, description = "The contact"),
        ("entry_id" = ContactMethodId, Path, description = "The email entry"),
    ),
    request_body = EmailChanges,
    responses(
        (status = 200, description = "The entry as changed", body = ContactEmailView),
        (status = 409, description = "The contact already has this address", body = ErrorBody),
    )
)]
#[patch("/contacts/{contact_id}/emails/{entry_id}")]
pub(super) async fn update_email(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ContactId, ContactMethodId)>,
    body: ApiJson<EmailChanges>,
) -> Result<HttpResponse, AppError> {
    update_method(state, caller, path.into_inner(), body.0.into()).await
}

#[utoipa::path(
    delete,
    path = "/contacts/{contact_id}/emails/{entry_id}",
    tag = "contacts",
    params(
        ("contact_id" = ContactId, Path, description = "The contact"),
        ("entry_id" = ContactMethodId, Path, description = "The email entry"),
    ),
    responses((status = 204, description = "Removed"))
)]
#[delete("/contacts/{contact_id}/emails/{entry_id}")]
pub(super) async fn remove_email(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(ContactId, ContactMethodId)>,
) -> Result<HttpResponse, AppError> {
    remove_method(state, caller, path.into_inner(), MethodKind::Email).await
}

/// Phones and emails follow the same rules, told apart by `MethodInput::kind`.
async fn add_method(
    state: web::Data<AppState>,
    caller: Caller,
    contact: ContactId,
    input: MethodInput,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let (org, region) = (caller.organization_id, state.default_region);
    let entry = contacts::add_method(&mut conn, org, contact, region, input).await?;
    state.caches.forget_recipient(org, contact);
    Ok(HttpResponse::Created().json(entry))
}

async fn update_method(
    state: web::Data<AppState>,
    caller: Caller,
    (contact, id): (ContactId, ContactMethodId),
    input: MethodInput,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let (org, region) = (caller.organization_id, state.default_region);
    let entry = contacts::update_method(&mut conn, org, contact, id, region, input).await?;
    state.caches.forget_recipient(org, contact);
    Ok(HttpResponse::Ok().json(entry))
}

async fn remove_method(
    state: web::Data<AppState>,
    caller: Caller,
    (contact, id): (ContactId, ContactMethodId),
    kind: MethodKind,
) -> Result<HttpResponse, AppError> {
    let (org, mut conn) = (caller.organization_id, state.pool.get().await?);
    contacts::remove_method(&mut conn, org, contact, kind, id).await?;
    state.caches.forget_recipient(org, contact);
    Ok(HttpResponse::NoContent().finish())
}

/// Marks the contact's conversation read (up to now) for the calling operator.
#[utoipa::path(
    post,
    path = "/contacts/{contact_id}/read",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact")),
    responses((status = 200, description = "Read up to now", body = ReadMark))
)]
#[post("/contacts/{contact_id}/read")]
pub(super) async fn mark_read(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
) -> Result<HttpResponse, AppError> {
    let read_at = messages::mark_read(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(ReadMark { read_at }))
}

/// The contact's SMS opt-outs: which of their numbers opted out of which of ours.
#[utoipa::path(
    get,
    path = "/contacts/{contact_id}/opt-outs",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact")),
    responses((status = 200, description = "The contact's opt-outs", body = OptOutList))
)]
#[get("/contacts/{contact_id}/opt-outs")]
pub(super) async fn opt_outs(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let opt_outs = contacts::opt_outs(&mut conn, caller.organization_id, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(OptOutList { opt_outs }))
}
