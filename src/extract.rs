//! Body extractors whose errors are JSON: a JSON body whose errors name the offending
//! field, and the raw body (webhooks) with the same size limit.
//!
//! actix's own `web::Json` reports serde errors without the path to the bad value; here
//! `serde_path_to_error` supplies it, so `{"phones":[{"label":5}]}` answers with
//! `field: "phones[0].label"`.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use crate::startup::AppState;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::AppError;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req.mime_type().ok().flatten().is_some_and(|mime| {
            mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json")
        });
        let body = RawBody::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(AppError::UnsupportedMediaType(
                    "send the body as JSON with `Content-Type: application/json`".into(),
                )
                .into());
            }
            let RawBody(body) = body.await?;
            parse_json(&body).map(ApiJson).map_err(Into::into)
        })
    }
}

/// The body as bytes, up to the configured size (`SWITCHBOARD_MAX_JSON_BYTES`); a larger
/// or unreadable one is refused with a JSON error rather than actix's plain-text one.
pub struct RawBody(pub web::Bytes);

impl FromRequest for RawBody {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(0, |state| state.max_json_bytes);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|error| match error.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => AppError::PayloadTooLarge(format!(
                        "the request body is larger than {limit} bytes"
                    )),
                    _ => AppError::bad_request(
                        "invalid_body",
                        format!("could not read the body: {error}"),
                    ),
                })?;
            Ok(RawBody(body))
        })
    }
}

/// Deserialises a JSON document, mapping syntax errors to `malformed_json` and shape
/// errors (wrong type, unknown or missing field) to `invalid_field` with the field's path.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_data() {
            AppError::BadRequest {
                code: "invalid_field",
                message: inner.to_string(),
                field: (path != ".").then_some(path),
            }
        } else {
            AppError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {inner}"),
            )
        }
    })
}

/// A list's `limit` query parameter: 50 unless given, at most 200.
pub fn page_limit(limit: Option<i64>) -> Result<i64, AppError> {
    const DEFAULT: i64 = 50;
    const MAX: i64 = 200;
    let limit = limit.unwrap_or(DEFAULT);
    if !(1..=MAX).contains(&limit) {
        return Err(AppError::BadRequest {
            code: "invalid_query",
            message: format!("`limit` must be between 1 and {MAX}"),
            field: Some("limit".into()),
        });
    }
    Ok(limit)
}
