//! The organisation's sending email addresses: readable by every operator, managed by
//! admins.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::Utc;
use diesel::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::email_addresses::{
    self, EmailAddress, EmailAddressInsertForm, EmailAddressUpdateForm,
};
use crate::db::ids::EmailAddressId;
use crate::error::{AppError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::validate;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update)
        .service(remove);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewEmailAddress {
    address: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct EmailAddressList {
    email_addresses: Vec<EmailAddress>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EmailAddressChanges {
    address: Option<String>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    display_name: Option<Option<String>>,
}

#[utoipa::path(
    get,
    path = "/email-addresses",
    tag = "email addresses",
    responses((status = 200, description = "The organisation's sending addresses", body = EmailAddressList))
)]
#[get("/email-addresses")]
pub(super) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    let addresses =
        email_addresses::list(&mut *state.pool.get().await?, caller.organization_id).await?;
    Ok(HttpResponse::Ok().json(EmailAddressList {
        email_addresses: addresses,
    }))
}

/// Admins.
#[utoipa::path(
    post,
    path = "/email-addresses",
    tag = "email addresses",
    request_body = NewEmailAddress,
    responses(
        (status = 201, description = "The new address", body = EmailAddress),
        (status = 409, description = "The address is already registered", body = ErrorBody),
    )
)]
#[post("/email-addresses")]
pub(super) async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewEmailAddress>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let form = EmailAddressInsertForm {
        id: EmailAddressId::generate(),
        organization_id: caller.organization_id,
        address: validate::email(&body.0.address, "address")?,
        display_name: validate::optional_text(body.0.display_name.as_deref(), "display_name")?,
    };
    let address = email_addresses::insert(&mut *state.pool.get().await?, &form).await?;
    state.caches.forget_org(caller.organization_id);
    Ok(HttpResponse::Created().json(address))
}

#[utoipa::path(
    get,
    path = "/email-addresses/{id}",
    tag = "email addresses",
    params(("id" = EmailAddressId, Path, description = "The address")),
    responses((status = 200, description = "The address", body = EmailAddress))
)]
#[get("/email-addresses/{id}")]
pub(super) async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<EmailAddressId>,
) -> Result<HttpResponse, AppError> {
    let address = email_addresses::get(
        &mut *state.pool.get().await?,
        caller.organization_id,
        path.into_inner(),
    )
    .await
    .optional()?
    .ok_or(AppError::NotFound("email address"))?;
    state.caches.forget_org(caller.organization_id);
    Ok(HttpResponse::Ok().json(address))
}

/// Admins.
#[utoipa::path(
    patch,
    path = "/email-addresses/{id}",
    tag = "email addresses",
    params(("id" = EmailAddressId, Path, description = "The address")),
    request_body = EmailAddressChanges,
    responses(
        (status = 200, description = "The address as changed", body = EmailAddress),
        (status = 409, description = "The address is already registered", body = ErrorBody),
    )
)]
#[patch("/email-addresses/{id}")]
pub(super) async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<EmailAddressId>,
    body: ApiJson<EmailAddressChanges>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let changes = body.0;
    let form = EmailAddressUpdateForm {
        address: changes
            .address
            .map(|raw| validate::email(&raw, "address"))
            .transpose()?,
        display_name: changes
            .display_name
            .map(|name| validate::optional_text(name.as_deref(), "display_name"))
            .transpose()?,
        updated_at: Utc::now(),
    };
    let address = email_addresses::update(
        &mut *state.pool.get().await?,
        caller.organization_id,
        path.into_inner(),
        &form,
    )
    .await
    .optional()?
    .ok_or(AppError::NotFound("email address"))?;
    state.caches.forget_org(caller.organization_id);
    Ok(HttpResponse::Ok().json(address))
}

/// Admins.
#[utoipa::path(
    delete,
    path = "/email-addresses/{id}",
    tag = "email addresses",
    params(("id" = EmailAddressId, Path, description = "The address")),
    responses((status = 204, description = "Removed"))
)]
#[delete("/email-addresses/{id}")]
pub(super) async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<EmailAddressId>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let deleted = email_addresses::delete(
        &mut *state.pool.get().await?,
        caller.organization_id,
        path.into_inner(),
    )
    .await?;
    state.caches.forget_org(caller.organization_id);
    match deleted {
        0 => Err(AppError::NotFound("email address")),
        _ => Ok(HttpResponse::NoContent().finish()),
    }
}
