//! The organisation's sending email addresses: readable by every operator, managed by
//! admins.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::Utc;
use diesel::OptionalExtension;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::db::email_addresses::{self, EmailAddressInsertForm, EmailAddressUpdateForm};
use crate::db::ids::EmailAddressId;
use crate::error::AppError;
use crate::extract::ApiJson;
use crate::startup::AppState;
use crate::validate;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update)
        .service(remove);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEmailAddress {
    address: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailAddressChanges {
    address: Option<String>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    display_name: Option<Option<String>>,
}

#[get("/email-addresses")]
async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    let addresses =
        email_addresses::list(&mut *state.pool.get().await?, caller.organization_id).await?;
    Ok(HttpResponse::Ok().json(json!({ "email_addresses": addresses })))
}

#[post("/email-addresses")]
async fn create(
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

#[get("/email-addresses/{id}")]
async fn show(
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

#[patch("/email-addresses/{id}")]
async fn update(
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

#[delete("/email-addresses/{id}")]
async fn remove(
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
