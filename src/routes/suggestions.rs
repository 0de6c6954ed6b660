//! `GET /api/messages/{id}/suggestions`: ranked replies to an inbound message.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;

use crate::auth::Caller;
use crate::db::ids::MessageId;
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;
use crate::suggestions::{self, Suggestion};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SuggestionList {
    /// At most five, best first, filled in and ready to send.
    suggestions: Vec<Suggestion>,
}

#[utoipa::path(
    get,
    path = "/messages/{id}/suggestions",
    tag = "messages",
    params(("id" = MessageId, Path, description = "An inbound message")),
    responses(
        (status = 200, description = "Suggested replies", body = SuggestionList),
        (status = 422, description = "The message is not inbound", body = ErrorBody),
    )
)]
#[get("/messages/{id}/suggestions")]
pub(super) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<MessageId>,
) -> Result<HttpResponse, AppError> {
    let found =
        suggestions::for_message(&state.pool, &*state.suggestions, &caller, path.into_inner())
            .await?;
    Ok(HttpResponse::Ok().json(SuggestionList { suggestions: found }))
}
