//! `POST /webhooks/twilio/status`, `/webhooks/twilio/inbound` and
//! `/webhooks/twilio/voice-status`. The signature is checked before anything else; a
//! missing or wrong one answers 403 and changes nothing.

use actix_web::{post, web, HttpRequest, HttpResponse};

use crate::calls;
use crate::error::AppError;
use crate::extract::{parse_query, RawBody};
use crate::metrics::{self, WebhookOutcome};
use crate::state::AppState;
use crate::webhooks::{self, StatusCallbackTarget, TwilioWebhook};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(status).service(inbound).service(voice_status);
}

/// An empty TwiML answer: "received, no reply".
const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#;

#[post("/webhooks/twilio/status")]
async fn status(
    req: HttpRequest,
    RawBody(body): RawBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    counted("status", async {
        let webhook = verify(&req, &body, &state).await?;
        let named: StatusCallbackTarget = parse_query(req.query_string()).map_err(|_| {
            AppError::bad_request(
                "invalid_webhook",
                "message_id or contact_id in the callback URL is not an id",
            )
        })?;
        webhooks::apply_status(&state, &webhook, named).await
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/webhooks/twilio/inbound")]
async fn inbound(
    req: HttpRequest,
    RawBody(body): RawBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    counted("inbound", async {
        let webhook = verify(&req, &body, &state).await?;
        webhooks::receive_sms(&state, &webhook).await?;
        Ok(WebhookOutcome::Accepted)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/xml")
        .body(EMPTY_TWIML))
}

/// Twilio's voice status callback: the call is created or moved forward.
#[post("/webhooks/twilio/voice-status")]
async fn voice_status(
    req: HttpRequest,
    RawBody(body): RawBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    counted("voice_status", async {
        let webhook = verify(&req, &body, &state).await?;
        calls::voice_status(&state, &webhook).await?;
        Ok(WebhookOutcome::Accepted)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Handles a webhook and counts what became of it.
async fn counted(
    kind: &'static str,
    handling: impl std::future::Future<Output = Result<WebhookOutcome, AppError>>,
) -> Result<(), AppError> {
    let handled = handling.await;
    let outcome = match &handled {
        Ok(outcome) => *outcome,
        Err(AppError::Forbidden(_)) => WebhookOutcome::RefusedSignature,
        Err(AppError::NotFound(_) | AppError::NotFoundNamed(_)) => WebhookOutcome::Unknown,
        Err(_) => WebhookOutcome::Refused,
    };
    metrics::webhook(kind, outcome);
    handled.map(drop)
}

/// Twilio signs the public URL it was configured with, so the URL is rebuilt from
/// `SWITCHBOARD_PUBLIC_URL` rather than from the socket the request came in on.
async fn verify(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<TwilioWebhook, AppError> {
    let url = match req.uri().query() {
        Some(query) => format!("{}{}?{query}", state.public_url, req.path()),
        None => format!("{}{}", state.public_url, req.path()),
    };
    let params = crate::extract::parse_form(body)?;
    let signature = req
        .headers()
        .get("X-Twilio-Signature")
        .and_then(|value| value.to_str().ok());
    TwilioWebhook::verify(state, &url, params, signature).await
}
