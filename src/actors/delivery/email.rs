//! Email through the organisation's SMTP server.

use super::Job;
use crate::db::message_fields::{Channel, MessageStatus};
use crate::db::messages::{Message, StatusChange};
use crate::error::AppError;
use crate::mail::{self, MailAttachment, MailOutcome, OutgoingEmail, SmtpServer};

/// The domain of the sender's address, for the Message-ID.
pub(super) fn mail_domain(from: &str) -> &str {
    from.rsplit_once('@')
        .map_or("switchboard.local", |(_, domain)| domain)
}

impl Job {
    /// SMTP has no delivery reports: a message the server accepted is `sent`.
    pub(super) async fn send_email(
        &self,
        message: &Message,
        server: &SmtpServer,
        email: &OutgoingEmail<'_>,
    ) -> Result<(), AppError> {
        let mut last_reason = String::new();
        for attempt in 0..self.carriers.config.max_attempts {
            let outcome = {
                let _permit = self.carrier_permit().await?;
                mail::send(server, email).await
            };
            match outcome {
                MailOutcome::Sent => {
                    crate::metrics::handed_over(
                        Channel::Email,
                        chrono::Utc::now() - message.created_at,
                    );
                    let sent = StatusChange {
                        external_id: Some(email.message_id.clone()),
                        ..StatusChange::to(MessageStatus::Sent)
                    };
                    self.report(message, sent).await?;
                    return Ok(());
                }
                MailOutcome::Rejected(reply) => {
                    return self.fail(message, "smtp_rejected", &reply).await
                }
                MailOutcome::RetryLater(reason) => last_reason = reason,
            }
            if attempt + 1 < self.carriers.config.max_attempts {
                tokio::time::sleep(self.backoff(attempt)).await;
            }
        }
        self.give_up(message, "The mail server", &last_reason).await
    }

    /// The message's files, read back from storage to travel inside the email.
    pub(super) async fn mail_attachments(
        &self,
        message: &Message,
    ) -> Result<Vec<MailAttachment>, AppError> {
        let mut files = Vec::new();
        for attachment in self.attachments(message).await? {
            let bytes = self
                .carriers
                .storage
                .get(&attachment.storage_key)
                .await
                .map_err(AppError::internal)?;
            files.push(MailAttachment {
                file_name: attachment.file_name,
                content_type: attachment.content_type,
                bytes: bytes.to_vec(),
            });
        }
        Ok(files)
    }
}
