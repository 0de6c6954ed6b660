use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use diesel::OptionalExtension;
use serde::Deserialize;
use serde_json::json;

use crate::accounts::{self, UserView};
use crate::auth::{presented_token, Caller, CSRF_COOKIE, SESSION_COOKIE};
use crate::db::{api_tokens, organizations};
use crate::error::AppError;
use crate::extract::ApiJson;
use crate::secrets;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login).service(logout).service(me);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
}

/// Opens a session: the token in the body (for API clients) and in an HttpOnly cookie
/// (for the dashboards), with the CSRF token the dashboards echo on writes.
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let ApiJson(LoginRequest { email, password }) = body;
    let session = accounts::login(&state.pool, &email, &password, state.session_ttl).await?;
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
        .json(json!({
            "token": session.token,
            "csrf_token": csrf_token,
            "expires_at": session.expires_at,
            "user": UserView::from(&session.user),
        })))
}

/// Revokes the token this request came with, and clears the dashboard's cookies.
#[post("/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
) -> Result<HttpResponse, AppError> {
    api_tokens::revoke(
        &mut *state.pool.get().await?,
        caller.organization_id,
        caller.token_id,
    )
    .await?;
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

#[get("/me")]
async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    let organization = organizations::get(&mut *state.pool.get().await?, caller.organization_id)
        .await
        .optional()?
        .ok_or(AppError::NotFound("organization"))?;
    Ok(HttpResponse::Ok().json(json!({
        "user": UserView::from(&caller.user),
        "organization": { "id": organization.id, "name": organization.name },
    })))
}
