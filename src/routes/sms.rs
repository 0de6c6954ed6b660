//! `/api/sms/...`: the SMS operator queue's own reads (`sms.admin` only).

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{AppError, ErrorBody};
use crate::extract::{page_limit, ApiQuery};
use crate::sms_thread::{self, ScheduleSettings, ThreadPage, ThreadTarget};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(thread).service(settings);
}

/// Exactly one of `phone`, `contact_id`, `lead_id` and `partner_id`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ThreadParams {
    /// The number, E.164 or as people write it.
    phone: Option<String>,
    /// A contact's id: the thread of their preferred number.
    contact_id: Option<String>,
    lead_id: Option<String>,
    partner_id: Option<String>,
    /// The previous page's `next_before`.
    before: Option<String>,
    /// 1 to 200; 50 unless given.
    limit: Option<i64>,
}

/// `?phone=|contact_id=|lead_id=|partner_id=` (one of them) `&before=&limit=`
#[utoipa::path(
    get,
    path = "/sms/thread",
    tag = "sms",
    params(ThreadParams),
    responses(
        (status = 200, description = "A page of the number's SMS thread", body = ThreadPage),
        (status = 403, description = "Needs the `sms.admin` permission", body = ErrorBody),
        (status = 404, description = "No contact has that id, lead or partner", body = ErrorBody),
        (status = 422, description = "The number is not a phone number", body = ErrorBody),
    )
)]
#[get("/sms/thread")]
pub(super) async fn thread(
    state: web::Data<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ThreadParams>,
) -> Result<HttpResponse, AppError> {
    sms_thread::require_queue_access(&caller)?;
    let limit = page_limit(params.limit)?;
    let target = ThreadTarget::from_query(
        params.phone,
        params.contact_id,
        params.lead_id,
        params.partner_id,
    )?;
    let page = sms_thread::page(&state, &caller, target, params.before.as_deref(), limit).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The organisation's time zone and quiet hours, for the queue's schedule picker.
#[utoipa::path(
    get,
    path = "/sms/settings",
    tag = "sms",
    responses(
        (status = 200, description = "The queue's schedule settings", body = ScheduleSettings),
        (status = 403, description = "Needs the `sms.admin` permission", body = ErrorBody),
    )
)]
#[get("/sms/settings")]
pub(super) async fn settings(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    sms_thread::require_queue_access(&caller)?;
    Ok(HttpResponse::Ok().json(sms_thread::schedule_settings(&state, &caller).await?))
}
