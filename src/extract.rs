//! Extractors whose errors are JSON: a JSON body and a query string whose errors name
//! the offending field, and the raw body (webhooks) with the same size limit. Every text
//! a client sends (JSON, form fields, query strings) passes [`refuse_nul`]'s rule here:
//! PostgreSQL cannot store a NUL character, so one is refused where input is parsed,
//! naming the field, instead of failing deep in a query.
//!
//! actix's own `web::Json` reports serde errors without the path to the bad value; here
//! `serde_path_to_error` supplies it, so `{"phones":[{"label":5}]}` answers with
//! `field: "phones[0].label"`.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

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

/// A query string deserialised into `T`. actix's own `web::Query` reports serde's error
/// without saying which parameter it is about; here `serde_path_to_error` supplies it, so
/// `?limit=many` answers `400 invalid_query` with `field: "limit"`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            parse_query(req.query_string())
                .map(ApiQuery)
                .map_err(Into::into),
        )
    }
}

/// Deserialises a query string; an error is `invalid_query` naming the parameter.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        // A parameter left out fails on the whole query (the path is its root); serde
        // names it only in the message, `missing field `name``.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'));
        let field = match path.as_str() {
            "." => missing.map(str::to_string),
            _ => Some(path),
        };
        AppError::BadRequest {
            code: "invalid_query",
            message: format!("invalid query string: {message}"),
            field,
        }
    })
}

/// The largest body accepted, in bytes (`SWITCHBOARD_MAX_JSON_BYTES`), as app data: the
/// same figure actix's `PayloadConfig` enforces, which does not tell it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The body as bytes, up to the configured size (`SWITCHBOARD_MAX_JSON_BYTES`); a larger
/// or unreadable one is refused with a JSON error rather than actix's plain-text one.
pub struct RawBody(pub web::Bytes);

impl FromRequest for RawBody {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().map_or(0, |limit| limit.0);
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
    // JSON can only spell a NUL as this escape; the document is walked to name the
    // field only when it appears at all (an escaped backslash before `u0000` is text).
    if memchr::memmem::find(body, br"\u0000").is_some() {
        if let Ok(document) = serde_json::from_slice::<serde_json::Value>(body) {
            if let Some(path) = nul_in_json(&document, String::new()) {
                return Err(nul_refused("invalid_field", path));
            }
        }
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(json_error)
}

/// Deserialises an already parsed document (a route that also reads its keys), with the
/// same errors as [`parse_json`].
pub fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(json_error)
}

fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> AppError {
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
}

/// The path (as `serde_path_to_error` writes it) of the first string or key in
/// `value` that holds a NUL character.
fn nul_in_json(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let child = |parent: &str, key: &str| match parent {
        "" => key.to_string(),
        _ => format!("{parent}.{key}"),
    };
    match value {
        Value::String(text) => text.contains('\0').then(|| path_or_root(path)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_in_json(item, format!("{path}[{index}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(path_or_root(path.clone()));
            }
            nul_in_json(item, child(&path, key))
        }),
        _ => None,
    }
}

fn path_or_root(path: String) -> String {
    if path.is_empty() {
        ".".into()
    } else {
        path
    }
}

fn nul_refused(code: &'static str, field: String) -> AppError {
    AppError::BadRequest {
        code,
        message: format!("`{field}` holds a NUL character (U+0000), which text cannot contain"),
        field: Some(field),
    }
}

/// Refuses form fields or query parameters (`code` says which) of which a name or a
/// value holds a NUL character, naming the first.
pub fn refuse_nul(code: &'static str, pairs: &[(String, String)]) -> Result<(), AppError> {
    match pairs
        .iter()
        .find(|(key, value)| key.contains('\0') || value.contains('\0'))
    {
        Some((key, _)) => Err(nul_refused(code, key.replace('\0', "\\0"))),
        None => Ok(()),
    }
}

/// A form-encoded body's fields, refused when one holds a NUL character.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    refuse_nul("invalid_field", &fields)?;
    Ok(fields)
}

/// Middleware: a query string (or path) that decodes to a NUL character is refused
/// before any handler sees it; the test is a scan for `%00`, so other requests pay
/// almost nothing.
pub async fn refuse_nul_in_url(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let uri = req.uri();
    if memchr::memmem::find(uri.path().as_bytes(), b"%00").is_some() {
        return Err(
            AppError::bad_request("invalid_path", "the path holds a NUL character (%00)").into(),
        );
    }
    if let Some(query) = uri.query() {
        if memchr::memmem::find(query.as_bytes(), b"%00").is_some() {
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            refuse_nul("invalid_query", &pairs)?;
        }
    }
    next.call(req).await
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
