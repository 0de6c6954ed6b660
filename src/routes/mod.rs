//! HTTP routes, one module per resource. Handlers stay thin: parse, check the caller,
//! call into the domain modules or `db`, shape the answer.

mod attachments;
mod auth;
mod contacts;
mod email_addresses;
mod health;
mod messages;
mod organization;
mod phi;
mod phone_numbers;
mod webhooks;
mod ws;

use actix_web::web;

use crate::error::AppError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(webhooks::configure)
        .service(attachments::media)
        .service(ws::connect)
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
