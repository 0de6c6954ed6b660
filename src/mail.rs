//! Email out through the organisation's SMTP server: the markdown body becomes an HTML
//! part (raw HTML in the source is dropped, not passed through) plus a plain-text part.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use pulldown_cmark::{Event, Options, Parser};

pub struct SmtpServer {
    pub host: String,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `starttls`, `tls` (implicit) or `none`.
    pub security: String,
}

pub struct OutgoingEmail<'a> {
    pub from_address: &'a str,
    pub from_name: Option<&'a str>,
    pub to: &'a str,
    pub subject: &'a str,
    pub markdown: &'a str,
    /// Our Message-ID, which becomes the message's `external_id`.
    pub message_id: String,
    pub attachments: Vec<MailAttachment>,
}

pub struct MailAttachment {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
pub enum MailOutcome {
    Sent,
    /// The server refused for good (a 5xx reply); its words.
    Rejected(String),
    /// Try again later: a 4xx reply, or no connection.
    RetryLater(String),
}

/// Markdown to HTML, dropping any raw HTML the source contains.
pub fn render_html(markdown: &str) -> String {
    let events = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .filter(|event| !matches!(event, Event::Html(_) | Event::InlineHtml(_)));
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

pub async fn send(server: &SmtpServer, email: &OutgoingEmail<'_>) -> MailOutcome {
    let message = match build(email) {
        Ok(message) => message,
        Err(error) => return MailOutcome::Rejected(error),
    };
    let builder = match server.security.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&server.host),
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&server.host),
        _ => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &server.host,
        )),
    };
    let mut builder = match builder {
        Ok(builder) => builder.timeout(Some(Duration::from_secs(30))),
        Err(error) => return MailOutcome::Rejected(format!("SMTP settings: {error}")),
    };
    if let Some(port) = server.port {
        builder = builder.port(port);
    }
    if let (Some(username), Some(password)) = (&server.username, &server.password) {
        builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
    }
    match builder.build().send(message).await {
        Ok(_) => MailOutcome::Sent,
        Err(error) if error.is_permanent() => MailOutcome::Rejected(error.to_string()),
        Err(error) => MailOutcome::RetryLater(error.to_string()),
    }
}

fn build(email: &OutgoingEmail<'_>) -> Result<Message, String> {
    let from: Mailbox = match email.from_name {
        Some(name) => format!("{name} <{}>", email.from_address),
        None => email.from_address.to_string(),
    }
    .parse()
    .map_err(|error| format!("the sender address is invalid: {error}"))?;
    let to: Mailbox = email
        .to
        .parse()
        .map_err(|error| format!("the recipient address is invalid: {error}"))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject)
        .message_id(Some(email.message_id.clone()))
        .multipart(with_attachments(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(email.markdown.to_string()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(render_html(email.markdown)),
                ),
            &email.attachments,
        )?)
        .map_err(|error| format!("the email could not be built: {error}"))
}

/// The text parts alone, or wrapped in a `multipart/mixed` with the files.
fn with_attachments(body: MultiPart, attachments: &[MailAttachment]) -> Result<MultiPart, String> {
    if attachments.is_empty() {
        return Ok(body);
    }
    let mut mixed = MultiPart::mixed().multipart(body);
    for attachment in attachments {
        let content_type = ContentType::parse(&attachment.content_type)
            .map_err(|error| format!("{}: {error}", attachment.file_name))?;
        mixed = mixed.singlepart(
            Attachment::new(attachment.file_name.clone())
                .body(attachment.bytes.clone(), content_type),
        );
    }
    Ok(mixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_raw_html_is_dropped() {
        let html =
            render_html("**Results** are in.\n\n<script>alert(1)</script>\n\nSee <b>you</b> soon");
        assert!(html.contains("<strong>Results</strong>"), "{html}");
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
    }
}
