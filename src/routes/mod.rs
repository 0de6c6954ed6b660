//! HTTP routes, one module per resource. Handlers stay thin: parse, check the caller,
//! call into the domain modules or `db`, shape the answer.

mod attachments;
mod audit_log;
mod auth;
mod caller;
mod calls;
mod canned_responses;
mod contacts;
mod drafts;
mod email_addresses;
mod feed;
mod health;
mod messages;
mod openapi;
mod organization;
mod pages;
mod phi;
mod phone_numbers;
mod scheduled_messages;
mod sms;
mod suggestions;
mod webhooks;
mod ws;

use actix_web::web;

use crate::error::AppError;

pub use health::MetricsPage;
pub use pages::Pages;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(webhooks::configure)
        .service(attachments::media)
        .service(ws::connect)
        .configure(pages::configure)
        .service(
            // Routes are tried in order, each dynamic one by a regex: the send path first.
            web::scope("/api")
                .configure(messages::configure)
                .configure(auth::configure)
                .configure(attachments::configure)
                .configure(contacts::configure)
                .configure(phone_numbers::configure)
                .configure(email_addresses::configure)
                .configure(organization::configure)
                .configure(phi::configure)
                .configure(calls::configure)
                .configure(feed::configure)
                .configure(drafts::configure)
                .configure(canned_responses::configure)
                .configure(suggestions::configure)
                .configure(audit_log::configure)
                .configure(scheduled_messages::configure)
                .configure(sms::configure)
                .configure(openapi::configure)
                .default_service(web::to(unknown_api_route)),
        );
}

async fn unknown_api_route(
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::UnknownRoute(format!(
        "{} {}",
        req.method(),
        req.path()
    )))
}
