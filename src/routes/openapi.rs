//! The OpenAPI 3.1 document of the JSON API, served at `GET /api/openapi.json`.
//!
//! Each operation is its handler's own `#[utoipa::path]`, whose bodies are the types the
//! handler reads and writes. Here they are gathered under `/api`, the two ways to
//! authenticate are named, and every operation is given the error answers any request
//! of its kind can meet; every error is the one `ErrorBody` of `crate::error`.
//! `tests/api/openapi.rs` fails when a route is registered but missing here.

use std::sync::LazyLock;

use actix_web::http::header::ContentType;
use actix_web::{get, web, HttpResponse};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};

use super::{
    attachments, audit_log, auth, calls, canned_responses, contacts, drafts, email_addresses, feed,
    messages, organization, phi, phone_numbers, scheduled_messages, sms, suggestions,
};
use crate::auth::{CSRF_HEADER, SESSION_COOKIE};
use crate::error::ErrorBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(document);
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of `/api`", body = serde_json::Value))
)]
#[get("/openapi.json")]
pub(super) async fn document() -> HttpResponse {
    // Built once: it is the same for every request and every organisation.
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document is plain data")
    });
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(DOCUMENT.as_str())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "The JSON API of a realtime messaging server (SMS/MMS and email). \
            Every error answers `{\"error\": {\"code\", \"message\", \"field\"?}}`."
    ),
    nest((path = "/api", api = ApiRoutes)),
    components(schemas(ErrorBody)),
    security(("bearer" = []), ("session" = [])),
    modifiers(&Authentication, &ErrorAnswers, &OperationIds)
)]
struct ApiDoc;

#[derive(OpenApi)]
#[openapi(paths(
    document,
    auth::login,
    auth::logout,
    auth::me,
    messages::send,
    messages::add_note,
    messages::list,
    messages::retry,
    messages::edit,
    messages::remove,
    attachments::upload,
    attachments::show,
    suggestions::list,
    contacts::list,
    contacts::create,
    contacts::show,
    contacts::update,
    contacts::remove,
    contacts::mark_read,
    contacts::opt_outs,
    contacts::add_phone,
    contacts::update_phone,
    contacts::remove_phone,
    contacts::add_email,
    contacts::update_email,
    contacts::remove_email,
    feed::show,
    drafts::save,
    drafts::show,
    drafts::discard,
    phone_numbers::list,
    phone_numbers::create,
    phone_numbers::show,
    phone_numbers::update,
    phone_numbers::remove,
    email_addresses::list,
    email_addresses::create,
    email_addresses::show,
    email_addresses::update,
    email_addresses::remove,
    organization::show,
    organization::update,
    phi::check,
    phi::show_policy,
    phi::update_policy,
    calls::create,
    calls::show,
    calls::update,
    canned_responses::list,
    canned_responses::create,
    canned_responses::show,
    canned_responses::update,
    canned_responses::remove,
    canned_responses::render,
    audit_log::list,
    scheduled_messages::create,
    scheduled_messages::list,
    scheduled_messages::show,
    scheduled_messages::edit,
    scheduled_messages::cancel,
    scheduled_messages::send_now,
    sms::thread,
    sms::settings,
))]
struct ApiRoutes;

/// The bearer token API clients send, and the dashboards' session cookie.
struct Authentication;

impl Modify for Authentication {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The `token` of `POST /api/auth/login`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE.to_string(),
                format!(
                    "The dashboards' session cookie, set by `POST /api/auth/login`; writes \
                     made with it also send the `{CSRF_HEADER}` header"
                ),
            ))),
        );
    }
}

/// The errors any operation of a kind can answer, as shared responses: what the
/// extractors and middleware refuse before a handler runs, and what the database's
/// absence causes. Each handler's own `responses` add the errors of its rules.
struct ErrorAnswers;

/// (status, response name, description, whether it tells `Retry-After`)
const SHARED_ERRORS: [(&str, &str, &str, bool); 9] = [
    ("400", "BadRequest", "The path, query or body does not parse", false),
    ("401", "Unauthenticated", "No credentials, or a token that is invalid, expired or revoked", false),
    ("403", "Forbidden", "The caller may not do this (a role or permission), or a cookie-authenticated write without the CSRF header", false),
    ("404", "NotFound", "The record is not the organisation's, or does not exist", false),
    ("413", "PayloadTooLarge", "The body is larger than the server takes", false),
    ("415", "UnsupportedMediaType", "The body is not of the content type the operation takes", false),
    ("422", "Invalid", "The body is well-formed but breaks a rule; `field` names the value", false),
    ("500", "Internal", "A fault of the server (logged; nothing internal is echoed)", false),
    ("503", "Unavailable", "The database is unavailable: nothing was written", true),
];

impl Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description, retry_after) in SHARED_ERRORS {
            let mut response = ResponseBuilder::new().description(description).content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            );
            if retry_after {
                response = response.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer))
                        .description(Some("Seconds to wait before trying again"))
                        .build(),
                );
            }
            components
                .responses
                .insert(name.to_string(), RefOr::T(response.build()));
        }
        for item in openapi.paths.paths.values_mut() {
            for (method, operation) in operations(item) {
                add_shared_errors(operation, method != "get");
            }
        }
    }
}

/// Handlers share names across modules (`list`, `show`), so each operation is named by
/// its method and path instead, which are unique: `get_contacts_contact_id_feed`.
struct OperationIds;

impl Modify for OperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let words: Vec<&str> = path
                .trim_start_matches("/api/")
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|word| !word.is_empty())
                .collect();
            for (method, operation) in operations(item) {
                operation.operation_id = Some(format!("{method}_{}", words.join("_")));
            }
        }
    }
}

/// The operations of a path, with their methods (the API uses no others).
fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("patch", &mut item.patch),
        ("delete", &mut item.delete),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
}

fn add_shared_errors(operation: &mut Operation, writes: bool) {
    // Operations with no `security` of their own take the document's: they need a caller.
    let authenticated = operation.security.is_none();
    let has_path_params = operation
        .parameters
        .iter()
        .flatten()
        .any(|parameter| matches!(parameter.parameter_in, ParameterIn::Path));
    let has_body = operation.request_body.is_some();
    for (status, name, _, _) in SHARED_ERRORS {
        let applies = match status {
            "401" => authenticated,
            "403" => authenticated && writes,
            "404" => has_path_params,
            "413" | "415" | "422" => has_body,
            _ => true,
        };
        if applies {
            operation
                .responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
        }
    }
}
