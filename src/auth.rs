//! Who is calling: a token resolved to its operator ([`Caller`], with roles and
//! permissions), the token a request presents, and the cookies the pages use. The
//! `Caller` extractor and its CSRF check are the routes' (`routes::caller`).

pub mod caller;

use actix_web::HttpRequest;

use crate::cache::Caches;
use crate::db::{api_tokens, DbPool};
use crate::error::AppError;
use crate::secrets;

pub use caller::{permissions, Caller, Role};

/// The HttpOnly cookie that carries the dashboard's session token.
pub const SESSION_COOKIE: &str = "sb_session";
/// The script-readable cookie with the CSRF token the dashboard echoes back.
pub const CSRF_COOKIE: &str = "sb_csrf";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// Resolves a bearer or session token to its operator (see `cache` for how long a
/// resolved token is trusted without asking the database again).
pub async fn authenticate(caches: &Caches, pool: &DbPool, token: &str) -> Result<Caller, AppError> {
    let token_hash = secrets::hash_token(token);
    let load = async || {
        let mut conn = pool.get().await?;
        let found = api_tokens::find_active(&mut conn, &token_hash).await?;
        Ok(found.map(|(token, user)| {
            let caller = Caller {
                user_id: user.id,
                organization_id: user.organization_id,
                token_id: token.id,
                role: Role::from_db(&user.role),
                permissions: user.permissions.clone(),
                user,
            };
            (caller, token.expires_at)
        }))
    };
    caches
        .session(&token_hash, load)
        .await?
        .ok_or(AppError::Unauthenticated(
            "the token is invalid, expired or revoked",
        ))
}

/// The token a request presents, and whether it came in the session cookie.
pub fn presented_token(req: &HttpRequest) -> Option<(String, bool)> {
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| (token.trim().to_string(), false));
    bearer.or_else(|| {
        req.cookie(SESSION_COOKIE)
            .map(|cookie| (cookie.value().to_string(), true))
    })
}
