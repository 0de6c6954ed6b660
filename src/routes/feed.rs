//! `GET /api/contacts/{id}/feed`: the contact's messages and calls in one timeline.

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use crate::auth::Caller;
use crate::db::ids::ContactId;
use crate::error::AppError;
use crate::extract::{page_limit, ApiQuery};
use crate::feed::{self, FeedFilter, FeedPage};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show);
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct FeedParams {
    /// `all` unless given.
    #[serde(default)]
    #[param(inline)]
    filter: FeedFilter,
    /// The previous page's `next_before`.
    before: Option<String>,
    /// 1 to 200; 50 unless given.
    limit: Option<i64>,
}

/// `?filter=all|calls|messages|emails&before=&limit=`: newest first.
#[utoipa::path(
    get,
    path = "/contacts/{contact_id}/feed",
    tag = "contacts",
    params(("contact_id" = ContactId, Path, description = "The contact"), FeedParams),
    responses((status = 200, description = "A page of the contact's messages and calls", body = FeedPage))
)]
#[get("/contacts/{contact_id}/feed")]
pub(super) async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ContactId>,
    ApiQuery(params): ApiQuery<FeedParams>,
) -> Result<HttpResponse, AppError> {
    let limit = page_limit(params.limit)?;
    let page = feed::page(
        &state,
        &caller,
        path.into_inner(),
        params.filter,
        params.before.as_deref(),
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}
