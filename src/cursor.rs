//! Opaque page cursors: where a page ended, as text, base64url-encoded so that clients
//! pass it back without reading into it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

use crate::error::AppError;

pub fn encode(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// The text of a cursor this server handed out in the query parameter `field`.
pub fn decode(cursor: &str, field: &'static str) -> Result<String, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| invalid(field))
}

/// A time written into a cursor as microseconds since the epoch.
pub fn time(micros: &str, field: &'static str) -> Result<DateTime<Utc>, AppError> {
    micros
        .parse()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| invalid(field))
}

/// The answer to a cursor this server did not hand out.
pub fn invalid(field: &'static str) -> AppError {
    AppError::BadRequest {
        code: "invalid_query",
        message: format!("`{field}` is not a cursor this server handed out"),
        field: Some(field.into()),
    }
}
