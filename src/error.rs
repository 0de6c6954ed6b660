//! The one error type of the HTTP surface, and the one place it becomes a response.
//!
//! Every failure a client can cause maps to a 4xx with a JSON body
//! `{"error": {"code", "message", "field"?}}`; only genuine server faults are 5xx, and
//! those never echo internals to the client (they are logged instead).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed: bad JSON, a wrong type, an unknown field.
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// The request is well-formed but breaks a rule (bad phone number, empty name, ...).
    #[error("{message}")]
    Invalid {
        message: String,
        field: Option<String>,
    },
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(String),
    /// Unknown ids and other organisations' ids alike: never reveal which.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Like `NotFound`, naming the id (for lists of ids, where the client needs to know
    /// which one).
    #[error("{0}")]
    NotFoundNamed(String),
    #[error("no API route {0}")]
    UnknownRoute(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("unsupported content type: {0}")]
    UnsupportedMediaType(String),
    /// The draft holds PHI the organisation's policy blocks; the findings say where.
    #[error("the draft contains protected health information that policy blocks")]
    PhiBlocked(serde_json::Value),
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(error.into())
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. } => code,
            AppError::Invalid { .. } => "invalid",
            AppError::Unauthenticated(_) => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) | AppError::NotFoundNamed(_) => "not_found",
            AppError::UnknownRoute(_) => "unknown_route",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::PhiBlocked(_) => "phi_blocked",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            AppError::BadRequest { field, .. } | AppError::Invalid { field, .. } => {
                field.as_deref()
            }
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    findings: Option<&'a serde_json::Value>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Invalid { .. } | AppError::PhiBlocked(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) | AppError::NotFoundNamed(_) | AppError::UnknownRoute(_) => {
                StatusCode::NOT_FOUND
            }
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            AppError::Unavailable(source) | AppError::Internal(source) => {
                tracing::error!(error = ?source, "request failed");
                self.to_string()
            }
            _ => self.to_string(),
        };
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
                field: self.field(),
                findings: match self {
                    AppError::PhiBlocked(findings) => Some(findings),
                    _ => None,
                },
            },
        })
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            // Constraint names are chosen in the migrations to read well here.
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                AppError::Conflict(conflict_message(info.constraint_name()).into())
            }
            // A message recorded while its contact was being deleted (see the migration
            // `contacts_checked_per_statement`).
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, ref info)
                if info.constraint_name() == Some("messages_contact_exists") =>
            {
                AppError::NotFound("contact")
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                AppError::Unavailable(error.into())
            }
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        AppError::Unavailable(error.into())
    }
}

/// What a unique constraint means to the client; the names come from the migrations.
fn conflict_message(constraint: Option<&str>) -> &'static str {
    match constraint {
        Some("users_email_key") => "an operator with this email already exists",
        Some("contact_methods_value_key") => "the contact already has this phone number or email",
        Some("phone_numbers_organization_id_phone_number_key") => {
            "this phone number is already registered"
        }
        Some("email_addresses_address_key") => "this email address is already registered",
        Some("messages_client_id_key") => "a message with this client_id already exists",
        _ => "a record with these values already exists",
    }
}

/// Turns actix's own extractor failures (path, query, payload) into our JSON errors.
pub fn path_error(
    error: actix_web::error::PathError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    AppError::bad_request("invalid_path", format!("invalid path parameter: {error}")).into()
}

pub fn query_error(
    error: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    let message = match &error {
        actix_web::error::QueryPayloadError::Deserialize(inner) => inner.to_string(),
        other => other.to_string(),
    };
    AppError::bad_request("invalid_query", format!("invalid query string: {message}")).into()
}
