//! `GET /api/audit-log` (admins): who did what, newest first.

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::audit_log::{self, Entry, Filter};
use crate::db::ids::{AuditLogId, UserId};
use crate::error::{AppError, ErrorBody};
use crate::extract::{page_limit, ApiQuery};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// An operator's id.
    actor: Option<UserId>,
    /// An action's name (`auth.login`, `settings.changed`, ...).
    action: Option<String>,
    /// RFC 3339: entries at or after this time.
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// The previous page's `next_before`.
    before: Option<AuditLogId>,
    /// 1 to 200; 50 unless given.
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct AuditPage {
    /// Newest first.
    entries: Vec<Entry>,
    /// Pass as `before` for the next page; `null` on the last page.
    next_before: Option<AuditLogId>,
}

/// `GET /api/audit-log?actor=&action=&since=&before=&limit=` →
/// `{"entries": [...], "next_before": ID|null}`.
#[utoipa::path(
    get,
    path = "/audit-log",
    tag = "audit log",
    params(ListParams),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditPage),
        (status = 403, description = "Admins only", body = ErrorBody),
    )
)]
#[get("/audit-log")]
pub(super) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let limit = page_limit(params.limit)?;
    let filter = Filter {
        actor: params.actor,
        action: params.action.as_deref(),
        since: params.since,
        before: params.before,
    };
    let entries = audit_log::list(
        &mut *state.pool.get().await?,
        caller.organization_id,
        &filter,
        limit + 1,
    )
    .await?;
    let more = entries.len() as i64 > limit;
    let entries: Vec<_> = entries.into_iter().take(limit as usize).collect();
    let next_before = more.then(|| entries.last().map(|entry| entry.id)).flatten();
    Ok(HttpResponse::Ok().json(AuditPage {
        entries,
        next_before,
    }))
}
