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
    /// Like `Invalid`, for a rule with a code of its own (`send_at_in_past`).
    #[error("{message}")]
    Rule {
        code: &'static str,
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
    /// An SMS to a number that opted out of the sending number: a `conflict` to the
    /// API, told apart for the scheduler, which records it as the reason it failed.
    #[error("{0}")]
    OptedOut(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Too many attempts (failed logins): try again after `retry_after`.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after: std::time::Duration,
    },
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

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. } | AppError::Rule { code, .. } => code,
            AppError::Invalid { .. } => "invalid",
            AppError::Unauthenticated(_) => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) | AppError::NotFoundNamed(_) => "not_found",
            AppError::UnknownRoute(_) => "unknown_route",
            AppError::Conflict(_) | AppError::OptedOut(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::PhiBlocked(_) => "phi_blocked",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            AppError::BadRequest { field, .. }
            | AppError::Invalid { field, .. }
            | AppError::Rule { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

/// What every failure answers: `{"error": {"code", "message", "field"?}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorDetail<'a> {
    /// What went wrong, for programs: `invalid_field`, `not_found`, `conflict`, ...
    code: &'a str,
    /// What went wrong, for people.
    message: String,
    /// The path of the value to blame (`phones[0].label`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// With `phi_blocked`: the findings the policy blocks, as `POST /api/phi/check`
    /// shows them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    findings: Option<&'a serde_json::Value>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Invalid { .. } | AppError::Rule { .. } | AppError::PhiBlocked(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) | AppError::NotFoundNamed(_) | AppError::UnknownRoute(_) => {
                StatusCode::NOT_FOUND
            }
            AppError::Conflict(_) | AppError::OptedOut(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
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
        let mut response = HttpResponse::build(self.status_code());
        match self {
            AppError::TooManyRequests { retry_after, .. } => {
                // Whole seconds, rounded up: a client waiting that long is let in.
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.max(1)));
            }
            AppError::Unavailable(_) => {
                // The database (or a batcher on it) is away: nothing was written, and the
                // run's lock and the pool try again every few seconds.
                response.insert_header((
                    actix_web::http::header::RETRY_AFTER,
                    UNAVAILABLE_RETRY_AFTER_SECS,
                ));
            }
            _ => {}
        }
        response.json(ErrorBody {
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

/// What a `503` asks clients to wait before trying again.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

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
            // A line, address or contact entry deleted while a message naming it was
            // being recorded (the API checked it a moment before).
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, ref info)
                if info.constraint_name() == Some("messages_name_their_own_records") =>
            {
                AppError::NotFound("sending line, address or contact entry")
            }
            error if connection_lost(&error) => AppError::Unavailable(error.into()),
            other => AppError::Internal(other.into()),
        }
    }
}

impl AppError {
    /// The error for each request of a batch whose statement failed with `error` (a
    /// diesel error is not `Clone`): `503` when the database went away, as for a request
    /// of its own, else `500`.
    pub fn of_batch(error: &diesel::result::Error, doing: &str) -> AppError {
        let described = anyhow::anyhow!("{doing}: {error}");
        match connection_lost(error) {
            true => AppError::Unavailable(described),
            false => AppError::Internal(described),
        }
    }
}

/// Whether a statement failed because its connection to PostgreSQL did (the server
/// stopped, the network dropped): nothing was written, and a retry may succeed.
fn connection_lost(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        error,
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        ) | Error::BrokenTransactionManager
    )
}

/// An actor that did not answer (its mailbox closed, or it stopped mid-message): the
/// server is shutting down or an actor died, and a retry may well succeed.
impl From<actix::MailboxError> for AppError {
    fn from(error: actix::MailboxError) -> Self {
        AppError::Unavailable(anyhow::anyhow!("an actor did not answer: {error}"))
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

/// Turns actix's path extractor's failures into our JSON errors (query strings are read
/// by `extract::ApiQuery`, bodies by `extract::ApiJson` and `extract::RawBody`).
pub fn path_error(
    error: actix_web::error::PathError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    AppError::bad_request("invalid_path", format!("invalid path parameter: {error}")).into()
}
