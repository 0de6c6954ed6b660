use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::accounts::{self, LoginSource, UserView};
use crate::auth::{presented_token, Caller, CSRF_COOKIE, SESSION_COOKIE};
use crate::db::ids::OrganizationId;
use crate::db::organizations;
use crate::error::{AppError, ErrorBody};
use crate::extract::ApiJson;
use crate::secrets;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login).service(logout).service(me);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct LoginAnswer {
    /// The bearer token for `Authorization: Bearer ...`.
    token: String,
    /// What the dashboards echo in `X-CSRF-Token` on writes made with the cookie.
    csrf_token: String,
    expires_at: DateTime<Utc>,
    user: UserView,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Me {
    user: UserView,
    organization: OrganizationSummary,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct OrganizationSummary {
    id: OrganizationId,
    name: String,
}

/// Opens a session: the token in the body (for API clients) and in an HttpOnly cookie
/// (for the dashboards), with the CSRF token the dashboards echo on writes.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the session cookies are set too", body = LoginAnswer),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many failed attempts: try again after `Retry-After` seconds", body = ErrorBody),
    )
)]
#[post("/auth/login")]
pub(super) async fn login(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let ApiJson(LoginRequest { email, password }) = body;
    // The socket's peer, never a forwarded-for header a client could write itself.
    let address = request
        .peer_addr()
        .map_or_else(|| "unknown".to_string(), |peer| peer.ip().to_string());
    let source = LoginSource {
        address: &address,
        user_agent: request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|agent| agent.to_str().ok()),
    };
    let session =
        accounts::login(&state.pool, &email, &password, state.session_ttl, &source).await?;
    let csrf_token = state.secrets.csrf_token(&session.token);
    let max_age = time::Duration::seconds(state.session_ttl.num_seconds());
    let session_cookie = Cookie::build(SESSION_COOKIE, session.token.clone())
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish();
    let csrf_cookie = Cookie::build(CSRF_COOKIE, csrf_token.clone())
        .path("/")
        .secure(state.secure_cookies)
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .finish();
    Ok(HttpResponse::Ok()
        .cookie(session_cookie)
        .cookie(csrf_cookie)
        .json(LoginAnswer {
            token: session.token,
            csrf_token,
            expires_at: session.expires_at,
            user: UserView::from(&session.user),
        }))
}

/// Revokes the token this request came with, and clears the dashboard's cookies.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    responses((status = 204, description = "The token is revoked"))
)]
#[post("/auth/logout")]
pub(super) async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
) -> Result<HttpResponse, AppError> {
    accounts::logout(&state.pool, &caller).await?;
    if let Some((token, _)) = presented_token(&request) {
        state.caches.forget_session(&secrets::hash_token(&token));
    }
    let mut response = HttpResponse::NoContent().finish();
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        let mut cookie = Cookie::new(name, "");
        cookie.set_path("/");
        response
            .add_removal_cookie(&cookie)
            .map_err(AppError::internal)?;
    }
    Ok(response)
}

/// The calling operator and their organisation.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    responses((status = 200, description = "Who is calling", body = Me))
)]
#[get("/me")]
pub(super) async fn me(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    let organization = organizations::get(&mut *state.pool.get().await?, caller.organization_id)
        .await
        .optional()?
        .ok_or(AppError::NotFound("organization"))?;
    Ok(HttpResponse::Ok().json(Me {
        user: UserView::from(&caller.user),
        organization: OrganizationSummary {
            id: organization.id,
            name: organization.name,
        },
    }))
}
