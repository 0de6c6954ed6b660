//! Who is calling: the `Caller` extractor, roles and permissions, and CSRF protection
//! for cookie-authenticated writes.

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;

use crate::db::api_tokens;
use crate::db::ids::{ApiTokenId, OrganizationId, UserId};
use crate::db::users::User;
use crate::error::AppError;
use crate::secrets;
use crate::startup::AppState;

/// The HttpOnly cookie that carries the dashboard's session token.
pub const SESSION_COOKIE: &str = "sb_session";
/// The script-readable cookie with the CSRF token the dashboard echoes back.
pub const CSRF_COOKIE: &str = "sb_csrf";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// Permissions an operator can hold besides their role. Admins hold all of them.
pub mod permissions {
    /// Work the SMS operator queue.
    pub const SMS_ADMIN: &str = "sms.admin";
    /// Send a draft that the PHI policy would block, giving a reason.
    pub const PHI_OVERRIDE: &str = "phi.override";
    pub const ALL: &[&str] = &[SMS_ADMIN, PHI_OVERRIDE];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    fn from_db(role: &str) -> Role {
        if role == "admin" {
            Role::Admin
        } else {
            Role::Agent
        }
    }
}

/// An authenticated operator making this request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub token_id: ApiTokenId,
    pub role: Role,
    pub permissions: Vec<String>,
    pub user: User,
}

impl Caller {
    pub fn has_permission(&self, permission: &str) -> bool {
        self.role == Role::Admin || self.permissions.iter().any(|held| held == permission)
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Agent => Err(AppError::Forbidden(
                "this action needs the admin role".into(),
            )),
        }
    }
}

/// Resolves a bearer or session token to its operator (see `cache` for how long a
/// resolved token is trusted without asking the database again).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller, AppError> {
    let token_hash = secrets::hash_token(token);
    let load = async || {
        let mut conn = state.pool.get().await?;
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
    state
        .caches
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

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let presented = presented_token(req);
        let csrf = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))?;
            let (token, from_cookie) =
                presented.ok_or(AppError::Unauthenticated("no credentials were sent"))?;
            // A browser attaches the cookie to any site's request; only our own pages can
            // read the CSRF cookie and echo it.
            if from_cookie
                && is_write
                && !csrf.is_some_and(|csrf| state.secrets.verify_csrf(&token, &csrf))
            {
                return Err(AppError::Forbidden(format!(
                    "cookie-authenticated writes must send the `{CSRF_HEADER}` header from the `{CSRF_COOKIE}` cookie"
                ))
                .into());
            }
            Ok(authenticate(&state, &token).await?)
        })
    }
}
