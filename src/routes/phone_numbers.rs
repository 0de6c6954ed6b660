//! The organisation's sending numbers: readable by every operator, managed by admins.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::Utc;
use diesel::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::ids::PhoneNumberId;
use crate::db::phone_numbers::{self, PhoneNumber, PhoneNumberInsertForm, PhoneNumberUpdateForm};
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
pub(super) struct NewPhoneNumber {
    phone_number: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    twilio_sid: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PhoneNumberList {
    phone_numbers: Vec<PhoneNumber>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PhoneNumberChanges {
    phone_number: Option<String>,
    label: Option<String>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    twilio_sid: Option<Option<String>>,
}

/// Twilio phone number SIDs are `PN` and 32 hex digits.
fn twilio_sid(raw: Option<&str>) -> Result<Option<String>, AppError> {
    let sid = validate::optional_text(raw, "twilio_sid")?;
    match &sid {
        Some(sid) if !validate::is_twilio_sid(sid, "PN") => Err(AppError::invalid(
            "twilio_sid",
            "a Twilio phone number SID is `PN` followed by 32 hex digits",
        )),
        _ => Ok(sid),
    }
}

#[utoipa::path(
    get,
    path = "/phone-numbers",
    tag = "phone numbers",
    responses((status = 200, description = "The organisation's sending numbers", body = PhoneNumberList))
)]
#[get("/phone-numbers")]
pub(super) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    let numbers =
        phone_numbers::list(&mut *state.pool.get().await?, caller.organization_id).await?;
    Ok(HttpResponse::Ok().json(PhoneNumberList {
        phone_numbers: numbers,
    }))
}

/// Admins: `label` is `Main` unless given.
#[utoipa::path(
    post,
    path = "/phone-numbers",
    tag = "phone numbers",
    request_body = NewPhoneNumber,
    responses(
        (status = 201, description = "The new number", body = PhoneNumber),
        (status = 409, description = "The number is already registered", body = ErrorBody),
    )
)]
#[post("/phone-numbers")]
pub(super) async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<NewPhoneNumber>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let form = PhoneNumberInsertForm {
        id: PhoneNumberId::generate(),
        organization_id: caller.organization_id,
        phone_number: validate::phone_number(
            &body.0.phone_number,
            state.default_region,
            "phone_number",
        )?,
        label: validate::optional_text(body.0.label.as_deref(), "label")?
            .unwrap_or_else(|| "Main".into()),
        twilio_sid: twilio_sid(body.0.twilio_sid.as_deref())?,
    };
    let number = phone_numbers::insert(&mut *state.pool.get().await?, &form).await?;
    state.caches.forget_org(caller.organization_id);
    Ok(HttpResponse::Created().json(number))
}

#[utoipa::path(
    get,
    path = "/phone-numbers/{id}",
    tag = "phone numbers",
    params(("id" = PhoneNumberId, Path, description = "The number")),
    responses((status = 200, description = "The number", body = PhoneNumber))
)]
#[get("/phone-numbers/{id}")]
pub(super) async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<PhoneNumberId>,
) -> Result<HttpResponse, AppError> {
    let number = phone_numbers::get(
        &mut *state.pool.get().await?,
        caller.organization_id,
        path.into_inner(),
    )
    .await
    .optional()?
    .ok_or(AppError::NotFound("phone number"))?;
    state.caches.forget_org(caller.organization_id);
    Ok(HttpResponse::Ok().json(number))
}

/// Admins.
#[utoipa::path(
    patch,
    path = "/phone-numbers/{id}",
    tag = "phone numbers",
    params(("id" = PhoneNumberId, Path, description = "The number")),
    request_body = PhoneNumberChanges,
    responses(
        (status = 200, description = "The number as changed", body = PhoneNumber),
        (status = 409, description = "The number is already registered", body = ErrorBody),
    )
)]
#[patch("/phone-numbers/{id}")]
pub(super) async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<PhoneNumberId>,
    body: ApiJson<PhoneNumberChanges>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let changes = body.0;
    let form = PhoneNumberUpdateForm {
        phone_number: changes
            .phone_number
            .map(|raw| validate::phone_number(&raw, state.default_region, "phone_number"))
            .transpose()?,
        label: changes
            .label
            .map(|raw| validate::required_text(&raw, "label"))
            .transpose()?,
        twilio_sid: changes
            .twilio_sid
            .map(|sid| twilio_sid(sid.as_deref()))
            .transpose()?,
        updated_at: Utc::now(),
    };
    let number = phone_numbers::update(
        &mut *state.pool.get().await?,
        caller.organization_id,
        path.into_inner(),
        &form,
    )
    .await
    .optional()?
    .ok_or(AppError::NotFound("phone number"))?;
    state.caches.forget_org(caller.organization_id);
    Ok(HttpResponse::Ok().json(number))
}

/// Admins.
#[utoipa::path(
    delete,
    path = "/phone-numbers/{id}",
    tag = "phone numbers",
    params(("id" = PhoneNumberId, Path, description = "The number")),
    responses((status = 204, description = "Removed"))
)]
#[delete("/phone-numbers/{id}")]
pub(super) async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<PhoneNumberId>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let deleted = phone_numbers::delete(
        &mut *state.pool.get().await?,
        caller.organization_id,
        path.into_inner(),
    )
    .await?;
    state.caches.forget_org(caller.organization_id);
    match deleted {
        0 => Err(AppError::NotFound("phone number")),
        _ => Ok(HttpResponse::NoContent().finish()),
    }
}
