//! The `Caller` extractor: the operator a request's bearer token or session cookie
//! names, with CSRF protection for cookie-authenticated writes.

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::auth::{authenticate, presented_token, Caller, CSRF_COOKIE, CSRF_HEADER};
use crate::error::AppError;
use crate::state::AppState;

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
            Ok(authenticate(&state.caches, &state.pool, &token).await?)
        })
    }
}
