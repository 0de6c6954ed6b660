//! SMS through Twilio: sending with retries, reconciling an ambiguous attempt with
//! Twilio's own list of messages, and asking where a message whose callbacks were lost
//! stands.

use super::carrier::twilio_credentials;
use super::{Carriers, Job, Settle, STATUS_CHECK_PACE};
use crate::actors::contact::ApplyStatus;
use crate::actors::org::ToContact;
use crate::db::message_fields::MessageStatus;
use crate::db::messages::{self as db_messages, Message, StatusChange};
use crate::db::sms_opt_outs;
use crate::error::AppError;
use crate::twilio::client::{Credentials, OutgoingSms, SendOutcome};

pub(super) async fn check_status(carriers: &Carriers, settle: Settle) -> Result<(), AppError> {
    let _pace = carriers
        .status_checks
        .acquire()
        .await
        .map_err(AppError::internal)?;
    let started = tokio::time::Instant::now();
    let config = carriers.caches.org(settle.organization_id).await?;
    let Some(credentials) = twilio_credentials(&config)? else {
        return Ok(());
    };
    let fetched = {
        let _permit = carriers
            .permits
            .acquire()
            .await
            .map_err(AppError::internal)?;
        carriers.twilio.fetch(&credentials, &settle.sid).await
    };
    let fetched = fetched.map_err(AppError::internal)?;
    if let Some(status) = crate::twilio::status(&fetched.status) {
        let error_code = fetched.error_code();
        let error_message = error_code.as_deref().map(|code| {
            crate::twilio::error_message(code)
                .map(str::to_string)
                .or(fetched.error_message.clone())
                .unwrap_or_else(|| format!("Twilio error {code}"))
        });
        let report = ApplyStatus {
            message_id: settle.message_id,
            change: StatusChange {
                external_id: Some(settle.sid),
                error_code,
                error_message,
                ..StatusChange::to(status)
            },
        };
        let work = ToContact {
            contact: settle.contact,
            message: report,
        };
        // The organisation's mailbox, then the contact's, then the status change itself.
        settle.org.send(work).await???;
    }
    tokio::time::sleep_until(started + STATUS_CHECK_PACE).await;
    Ok(())
}

/// What Twilio's list of messages says of one the server may have sent.
enum Reconciled {
    Found(String),
    Absent,
    /// The look-up failed (why): the message may or may not be there.
    Unknown(String),
}

/// Where a message stands now, read again before a retry.
enum Standing {
    /// Still ours to send: claimed, and the carrier has named no id for it.
    Unsent,
    /// The carrier has it (its callback or a reconciliation recorded the id), or it
    /// moved on otherwise: nothing is left to send.
    Settled,
}

impl Job {
    /// Sends through Twilio. `unsure` is since when Twilio may already have the message
    /// (a run that died mid-send, a retried give-up, or an answer this job lost to a
    /// timeout or 5xx): it is then looked for before it is sent again, adopted if found,
    /// and never sent while the look-up itself fails.
    pub(super) async fn send_sms(
        &self,
        message: &Message,
        credentials: &Credentials,
        sms: &OutgoingSms<'_>,
        mut unsure: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), AppError> {
        let mut last_reason = String::new();
        let attempts = self.carriers.config.max_attempts;
        for attempt in 0..attempts {
            // The first attempt's slot was taken before the claim, and the message was
            // just read or recorded.
            if attempt > 0 {
                self.wait_for_slot(sms.from).await;
                if let Standing::Settled = self.standing(message).await? {
                    return Ok(());
                }
            }
            let wait = 'attempt: {
                if !self.carriers.run.is_held() {
                    last_reason = "the server lost its database connection".into();
                    break 'attempt None;
                }
                if let Some(since) = unsure {
                    match self.reconcile(credentials, sms, message, since).await? {
                        Reconciled::Found(sid) => return self.accepted(message, sid).await,
                        Reconciled::Absent => unsure = None,
                        Reconciled::Unknown(reason) => {
                            last_reason = reason;
                            break 'attempt None;
                        }
                    }
                }
                let outcome = {
                    let _permit = self.carrier_permit().await?;
                    self.carriers.twilio.send(credentials, sms).await
                };
                match outcome {
                    SendOutcome::Accepted { sid } => return self.accepted(message, sid).await,
                    SendOutcome::Rejected {
                        code,
                        message: reason,
                    } => {
                        if code == "21610" {
                            let org = self.deliver.organization_id;
                            sms_opt_outs::record_and_audit(
                                &mut *self.carriers.pool.get().await?,
                                org,
                                sms.to,
                                sms.from,
                                "21610",
                            )
                            .await?;
                            self.carriers.caches.forget_recipients();
                        }
                        let explained =
                            crate::twilio::error_message(&code).map_or(reason, str::to_string);
                        return self.fail(message, &code, &explained).await;
                    }
                    SendOutcome::RetryLater { after, reason } => {
                        last_reason = reason;
                        after
                    }
                    SendOutcome::Ambiguous { reason } => {
                        unsure = unsure.or(Some(message.updated_at));
                        last_reason = reason;
                        None
                    }
                }
            };
            if attempt + 1 < attempts {
                tokio::time::sleep(wait.unwrap_or_else(|| self.backoff(attempt))).await;
            }
        }
        if let Standing::Settled = self.standing(message).await? {
            return Ok(());
        }
        if let Some(since) = unsure {
            if let Reconciled::Found(sid) = self.reconcile(credentials, sms, message, since).await?
            {
                return self.accepted(message, sid).await;
            }
        }
        self.give_up(message, "Twilio", &last_reason).await
    }

    /// Where the message stands now: a status callback may have named its carrier id
    /// while this job waited for an answer.
    async fn standing(&self, message: &Message) -> Result<Standing, AppError> {
        let mut conn = self.carriers.pool.get().await?;
        let now =
            db_messages::standing(&mut conn, self.deliver.organization_id, message.id).await?;
        Ok(match now {
            Some((MessageStatus::Sending, None)) => Standing::Unsent,
            _ => Standing::Settled,
        })
    }

    /// Looks for this message among those Twilio has: one with the same numbers and text,
    /// created since `since`, that is no other message's.
    async fn reconcile(
        &self,
        credentials: &Credentials,
        sms: &OutgoingSms<'_>,
        message: &Message,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Reconciled, AppError> {
        let listed = {
            let _permit = self.carrier_permit().await?;
            self.carriers
                .twilio
                .find_sent(credentials, sms, since)
                .await
        };
        let candidates = match listed {
            Ok(candidates) => candidates,
            Err(error) => {
                return Ok(Reconciled::Unknown(format!(
                    "could not ask Twilio whether it has the message: {error:#}"
                )))
            }
        };
        if candidates.is_empty() {
            return Ok(Reconciled::Absent);
        }
        let taken = db_messages::carrier_ids_taken(
            &mut *self.carriers.pool.get().await?,
            self.deliver.organization_id,
            message.id,
            &candidates,
        )
        .await?;
        Ok(candidates
            .into_iter()
            .find(|sid| !taken.contains(sid))
            .map_or(Reconciled::Absent, Reconciled::Found))
    }

    /// Fresh URLs Twilio can fetch the message's attachments from (one `MediaUrl` each).
    pub(super) async fn media_urls(&self, message: &Message) -> Result<Vec<String>, AppError> {
        let mut urls = Vec::new();
        for attachment in self.attachments(message).await? {
            urls.push(
                self.carriers
                    .storage
                    .url(&attachment.storage_key)
                    .await
                    .map_err(AppError::internal)?,
            );
        }
        Ok(urls)
    }
}
