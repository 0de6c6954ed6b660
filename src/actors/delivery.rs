//! `DeliveryActor`: hands queued messages to their carrier. An organisation with Twilio
//! credentials sends SMS through Twilio, one with SMTP settings sends email through its
//! mail server; anything else goes to the sandbox.
//!
//! Exactly once: the queued message *is* the outbox (committed before the API
//! answered). A delivery first claims it (`queued → sending`, a forward-only update
//! only one claimant can win), then sends. Refused connections and 429s are retried
//! with exponential backoff and jitter (honouring `Retry-After`); an ambiguous failure
//! (timeout, 5xx) is first reconciled with Twilio's own list of messages, so a message
//! Twilio already has is adopted rather than sent again. After the last attempt the
//! message is `failed` with the reason.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use diesel::OptionalExtension;
use foldhash::{HashSet, HashSetExt};
use rand::Rng;
use tokio::sync::Semaphore;

use super::contact::ApplyStatus;
use super::org::{OrgActor, ToContact};
use super::sandbox::{self, SandboxTransport};
use crate::cache::Caches;
use crate::db::ids::{ContactId, MessageId, OrganizationId};
use crate::db::message_attachments::Attachment;
use crate::db::messages::{self as db_messages, Message, MessageStatus, StatusChange, StatusView};
use crate::db::organization_settings::OrganizationSettings;
use crate::db::{message_attachments, sms_opt_outs, DbPool};
use crate::error::AppError;
use crate::mail::{self, MailAttachment, MailOutcome, OutgoingEmail, SmtpServer};
use crate::pacing::Pacing;
use crate::secrets::SecretKey;
use crate::storage::Storage;
use crate::twilio::client::{Credentials, OutgoingSms, SendOutcome, TwilioClient};

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub max_attempts: u32,
    /// The first retry waits about this long; each later one twice as long.
    pub retry_base: Duration,
    /// At most this many requests to carriers at once.
    pub concurrency: usize,
    /// Per sending number: at least this long between two sends (see `Pacing`).
    pub per_number_interval: Duration,
    /// Where Twilio's status callbacks should go. Each message's callback URL adds
    /// `?message_id=…&contact_id=…`: a callback that overtakes Twilio's answer to the
    /// send (it can) still finds its message before the carrier id is recorded, and goes
    /// to its contact's actor without a look-up.
    pub status_callback: String,
}

pub struct DeliveryActor {
    carriers: Arc<Carriers>,
    /// Messages a job of this process is working on: a second hand-over (the outbox
    /// sweep) is dropped rather than queued behind the first.
    in_flight: HashSet<MessageId>,
}

/// What every delivery job shares: the ways out, and the limits on using them.
struct Carriers {
    pool: DbPool,
    caches: Arc<Caches>,
    secrets: SecretKey,
    twilio: TwilioClient,
    sandbox: Addr<SandboxTransport>,
    storage: Arc<Storage>,
    config: DeliveryConfig,
    permits: Semaphore,
    pacing: Arc<Pacing>,
}

impl DeliveryActor {
    pub fn new(
        pool: DbPool,
        caches: Arc<Caches>,
        secrets: SecretKey,
        twilio: TwilioClient,
        sandbox: Addr<SandboxTransport>,
        storage: Arc<Storage>,
        config: DeliveryConfig,
    ) -> Self {
        DeliveryActor {
            carriers: Arc::new(Carriers {
                pool,
                caches,
                secrets,
                twilio,
                sandbox,
                storage,
                permits: Semaphore::new(config.concurrency.max(1)),
                pacing: Arc::new(Pacing::new(config.per_number_interval)),
                config,
            }),
            in_flight: HashSet::new(),
        }
    }

    /// The sending numbers' pacing, for the send path to share.
    pub fn pacing(&self) -> Arc<Pacing> {
        self.carriers.pacing.clone()
    }
}

impl Actor for DeliveryActor {
    type Context = Context<Self>;
}

/// Deliver a queued message; reports go back through the contact's organisation actor.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Deliver {
    pub org: Addr<OrgActor>,
    pub organization_id: OrganizationId,
    pub contact: ContactId,
    pub message_id: MessageId,
    /// The message as just recorded, saving a read; `None` makes the job read it. One
    /// recorded `sending` was claimed for this hand-over as it was recorded, its pacing
    /// slot already taken (see `messages::send`).
    pub recorded: Option<Recorded>,
}

#[derive(Clone)]
pub struct Recorded {
    pub message: Message,
    pub has_attachments: bool,
}

impl Handler<Deliver> for DeliveryActor {
    type Result = ();

    fn handle(&mut self, deliver: Deliver, ctx: &mut Context<Self>) {
        let message_id = deliver.message_id;
        if !self.in_flight.insert(message_id) {
            return;
        }
        let job = Job {
            carriers: self.carriers.clone(),
            deliver,
        };
        // Detached rather than `ctx.spawn`ed: an actor polls every future spawned on its
        // context at each wake-up, so a backlog of jobs waiting for a permit made each
        // wake-up cost as much as the backlog is long.
        //
        // The job's future (about 6 KB: a Twilio request and its retries) is boxed once
        // here, so the spawned task holds a pointer: held inline, it was copied whole
        // seven or eight times on its way into and through the executor (measured: 45 KB
        // of memmove per send).
        let delivery = ctx.address();
        let run = Box::pin(job.run());
        actix::spawn(async move {
            if let Err(error) = run.await {
                tracing::error!(%message_id, error = %error, "delivery failed");
            }
            delivery.do_send(Finished { message_id });
        });
    }
}

/// A job is over, whatever its outcome: the message may be handed over again.
#[derive(Message)]
#[rtype(result = "()")]
struct Finished {
    message_id: MessageId,
}

impl Handler<Finished> for DeliveryActor {
    type Result = ();

    fn handle(&mut self, finished: Finished, _: &mut Context<Self>) {
        self.in_flight.remove(&finished.message_id);
    }
}

/// Whether the organisation has a carrier for `channel`; without one its messages go to
/// the sandbox.
pub fn has_carrier(settings: &OrganizationSettings, channel: &str) -> bool {
    match channel {
        "sms" => {
            settings.twilio_account_sid.is_some() && settings.twilio_auth_token_encrypted.is_some()
        }
        "email" => settings.smtp_host.is_some(),
        _ => false,
    }
}

/// The domain of the sender's address, for the Message-ID.
fn mail_domain(from: &str) -> &str {
    from.rsplit_once('@')
        .map_or("switchboard.local", |(_, domain)| domain)
}

/// How long a message may sit in `sending` without a carrier id before it is taken as
/// abandoned by a stopped server (retries and pacing of a live one end well within it).
pub const STALE_SENDING: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// What Twilio's list of messages says of one the server may have sent.
enum Reconciled {
    Found(String),
    Absent,
    /// The look-up failed (why): the message may or may not be there.
    Unknown(String),
}

/// Where a message goes.
enum Carrier {
    /// The account, and the messaging service its messages belong to, if any.
    Twilio(Credentials, Option<String>),
    /// The organisation's mail server and the sender's display name.
    Smtp(SmtpServer, Option<String>),
}

/// One message's way to its carrier.
struct Job {
    carriers: Arc<Carriers>,
    deliver: Deliver,
}

impl Job {
    async fn run(mut self) -> Result<(), AppError> {
        let org = self.deliver.organization_id;
        let (message, has_attachments, claimed) = match self.deliver.recorded.take() {
            Some(Recorded {
                message,
                has_attachments,
            }) => {
                let claimed = message.status == MessageStatus::Sending.as_str();
                (message, has_attachments, claimed)
            }
            None => {
                let mut conn = self.carriers.pool.get().await?;
                let Some(message) = db_messages::get(&mut conn, org, self.deliver.message_id)
                    .await
                    .optional()?
                else {
                    return Ok(());
                };
                // Attachments unknown: asked of storage when sending.
                (message, true, false)
            }
        };
        // A queued message is ours once claimed (one recorded `sending` was claimed as it
        // was recorded); one left `sending` (without a carrier id) by a server that
        // stopped mid-send is taken over after a long silence, and reconciled with the
        // carrier before it is sent again.
        let recovering = !claimed
            && message.status == MessageStatus::Sending.as_str()
            && message.external_id.is_none()
            && message.updated_at < chrono::Utc::now() - STALE_SENDING;
        if message.status != MessageStatus::Queued.as_str() && !recovering && !claimed {
            return Ok(());
        }
        let config = self.carriers.caches.org(org).await?;
        let settings = &config.settings;
        let carrier = match (message.channel.as_str(), settings) {
            (
                "sms",
                OrganizationSettings {
                    twilio_account_sid: Some(account_sid),
                    twilio_auth_token_encrypted: Some(_),
                    ..
                },
            ) => Carrier::Twilio(
                Credentials {
                    account_sid: account_sid.clone(),
                    auth_token: config.twilio_auth_token.clone().ok_or_else(|| {
                        AppError::internal(anyhow::anyhow!(
                            "the stored Twilio auth token does not decrypt with this server's key"
                        ))
                    })?,
                },
                settings.twilio_messaging_service_sid.clone(),
            ),
            (
                "email",
                OrganizationSettings {
                    smtp_host: Some(host),
                    ..
                },
            ) => {
                let password = match &settings.smtp_password_encrypted {
                    Some(stored) => Some(
                        self.carriers
                            .secrets
                            .decrypt(stored)
                            .map_err(AppError::internal)?,
                    ),
                    None => None,
                };
                let from_name = config
                    .email_addresses
                    .iter()
                    .find(|address| Some(address.id) == message.email_address_id)
                    .and_then(|address| address.display_name.clone());
                Carrier::Smtp(
                    SmtpServer {
                        host: host.clone(),
                        port: settings.smtp_port.and_then(|port| u16::try_from(port).ok()),
                        username: settings.smtp_username.clone(),
                        password,
                        security: settings.smtp_security.clone(),
                    },
                    from_name,
                )
            }
            _ => {
                self.carriers.sandbox.do_send(sandbox::Deliver {
                    org: self.deliver.org.clone(),
                    contact: self.deliver.contact,
                    message_id: message.id,
                });
                return Ok(());
            }
        };
        // A message waiting for its sender's pacing slot stays queued, not claimed: a
        // long wait must not look like a send abandoned by a stopped server (another
        // server's sweep would then take it over and send it too).
        if let (Carrier::Twilio(..), Some(from), false) =
            (&carrier, message.from_address.as_deref(), claimed)
        {
            self.wait_for_slot(from).await;
        }
        let ours = claimed
            || if recovering {
                db_messages::reclaim_sending(
                    &mut *self.carriers.pool.get().await?,
                    org,
                    message.id,
                    chrono::Utc::now() - STALE_SENDING,
                )
                .await?
                .is_some()
            } else {
                self.claim(&message).await?
            };
        if !ours {
            return Ok(());
        }
        let (Some(to), Some(from)) = (
            message.to_address.as_deref(),
            message.from_address.as_deref(),
        ) else {
            return self
                .fail(
                    &message,
                    "invalid",
                    "the message has no sender or recipient",
                )
                .await;
        };
        match carrier {
            Carrier::Twilio(credentials, messaging_service) => {
                let media_urls = match has_attachments {
                    true => self.media_urls(&message).await?,
                    false => Vec::new(),
                };
                let status_callback = format!(
                    "{}?message_id={}&contact_id={}",
                    self.carriers.config.status_callback, message.id, message.contact_id
                );
                let sms = OutgoingSms {
                    to,
                    from,
                    messaging_service_sid: messaging_service.as_deref(),
                    body: &message.body,
                    media_urls: &media_urls,
                    status_callback: &status_callback,
                };
                self.send_sms(&message, &credentials, &sms, recovering)
                    .await
            }
            Carrier::Smtp(server, from_name) => {
                let attachments = match has_attachments {
                    true => self.mail_attachments(&message).await?,
                    false => Vec::new(),
                };
                let email = OutgoingEmail {
                    from_address: from,
                    from_name: from_name.as_deref(),
                    to,
                    subject: message.subject.as_deref().unwrap_or_default(),
                    markdown: &message.body,
                    message_id: format!("<{}@{}>", message.id, mail_domain(from)),
                    attachments,
                };
                self.send_email(&message, &server, &email).await
            }
        }
    }

    async fn send_sms(
        &self,
        message: &Message,
        credentials: &Credentials,
        sms: &OutgoingSms<'_>,
        recovering: bool,
    ) -> Result<(), AppError> {
        // Twilio may already have the message (a stopped server's send, or an answer lost
        // to a timeout or 5xx): it is then looked for before it is sent again, adopted if
        // found, and never sent while the look-up itself fails.
        let mut unsure = recovering;
        let mut last_reason = String::new();
        let attempts = self.carriers.config.max_attempts;
        for attempt in 0..attempts {
            // The first attempt's slot was taken before the claim.
            if attempt > 0 {
                self.wait_for_slot(sms.from).await;
            }
            let wait = 'attempt: {
                if unsure {
                    match self.reconcile(credentials, sms, message).await? {
                        Reconciled::Found(sid) => return self.accepted(message, sid).await,
                        Reconciled::Absent => unsure = false,
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
                            sms_opt_outs::record(
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
                        unsure = true;
                        last_reason = reason;
                        None
                    }
                }
            };
            if attempt + 1 < attempts {
                tokio::time::sleep(wait.unwrap_or_else(|| self.backoff(attempt))).await;
            }
        }
        if unsure {
            if let Reconciled::Found(sid) = self.reconcile(credentials, sms, message).await? {
                return self.accepted(message, sid).await;
            }
        }
        self.give_up(message, "Twilio", &last_reason).await
    }

    /// Looks for this message among those Twilio has: one with the same numbers and text,
    /// created since this attempt's record last changed (its creation, its requeue after
    /// a failure, or the claim a stopped server left), that is no other message's.
    async fn reconcile(
        &self,
        credentials: &Credentials,
        sms: &OutgoingSms<'_>,
        message: &Message,
    ) -> Result<Reconciled, AppError> {
        let listed = {
            let _permit = self.carrier_permit().await?;
            self.carriers
                .twilio
                .find_sent(credentials, sms, message.updated_at)
                .await
        };
        let candidates = match listed {
            Ok(candidates) => candidates,
            Err(error) => {
                return Ok(Reconciled::Unknown(format!(
                    "could not ask Twilio whether it has the message: {error}"
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

    /// SMTP has no delivery reports: a message the server accepted is `sent`.
    async fn send_email(
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
                    let sent = StatusChange {
                        status: MessageStatus::Sent,
                        external_id: Some(email.message_id.clone()),
                        error_code: None,
                        error_message: None,
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

    /// Fresh URLs Twilio can fetch the message's attachments from (one `MediaUrl` each).
    async fn media_urls(&self, message: &Message) -> Result<Vec<String>, AppError> {
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

    /// The message's files, read back from storage to travel inside the email.
    async fn mail_attachments(&self, message: &Message) -> Result<Vec<MailAttachment>, AppError> {
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

    async fn attachments(&self, message: &Message) -> Result<Vec<Attachment>, AppError> {
        let mut conn = self.carriers.pool.get().await?;
        let org = self.deliver.organization_id;
        Ok(message_attachments::list_for_messages(&mut conn, org, &[message.id]).await?)
    }

    async fn give_up(
        &self,
        message: &Message,
        carrier: &str,
        last_reason: &str,
    ) -> Result<(), AppError> {
        let attempts = self.carriers.config.max_attempts;
        let reason =
            format!("{carrier} did not take the message after {attempts} attempts: {last_reason}");
        self.fail(message, "delivery_failed", &reason).await
    }

    /// Moves the message to `sending`; false when someone else already did.
    async fn claim(&self, message: &Message) -> Result<bool, AppError> {
        let claimed = self.report(
            message,
            StatusChange {
                status: MessageStatus::Sending,
                external_id: None,
                error_code: None,
                error_message: None,
            },
        );
        Ok(claimed.await?.is_some())
    }

    /// The carrier took the message and named it: its id is recorded (the status stays
    /// `sending`; the carrier's callbacks move it on).
    async fn accepted(&self, message: &Message, sid: String) -> Result<(), AppError> {
        let accepted = StatusChange {
            status: MessageStatus::Sending,
            external_id: Some(sid),
            error_code: None,
            error_message: None,
        };
        self.report(message, accepted).await?;
        Ok(())
    }

    async fn fail(&self, message: &Message, code: &str, reason: &str) -> Result<(), AppError> {
        self.report(
            message,
            StatusChange {
                status: MessageStatus::Failed,
                external_id: None,
                error_code: Some(code.to_string()),
                error_message: Some(reason.to_string()),
            },
        )
        .await?;
        Ok(())
    }

    /// Reports through the message's contact; `None` when the report changed nothing.
    async fn report(
        &self,
        message: &Message,
        change: StatusChange,
    ) -> Result<Option<StatusView>, AppError> {
        let report = ApplyStatus {
            message_id: message.id,
            change,
        };
        self.to_contact(report).await?
    }

    /// Reports to the message's contact actor, through its organisation.
    async fn to_contact<M>(&self, message: M) -> Result<M::Result, AppError>
    where
        M: actix::Message + Send + 'static,
        M::Result: Send,
        super::contact::ContactActor: Handler<M>,
    {
        let work = ToContact {
            contact: self.deliver.contact,
            message,
        };
        let answer = self.deliver.org.send(work).await;
        answer.and_then(|inner| inner).map_err(super::mailbox_error)
    }

    /// A place among the requests to carriers under way. Held only for the request
    /// itself: the database work around it waits for commits, and holding a place
    /// through those capped deliveries at `concurrency` per commit time.
    async fn carrier_permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AppError> {
        self.carriers
            .permits
            .acquire()
            .await
            .map_err(AppError::internal)
    }

    /// Keeps each sending number under its rate: reserves the next free slot and waits
    /// for it.
    async fn wait_for_slot(&self, from: &str) {
        let slot = self.carriers.pacing.reserve(from);
        tokio::time::sleep_until(slot.into()).await;
    }

    /// Exponential backoff with full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.carriers.config.retry_base * 2u32.saturating_pow(attempt.min(16));
        ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }
}
