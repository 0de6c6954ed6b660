//! `DeliveryActor`: hands queued messages to their carrier. An organisation with Twilio
//! credentials sends SMS through Twilio, one with SMTP settings sends email through its
//! mail server; anything else goes to the sandbox.
//!
//! Exactly once: the queued message *is* the outbox (committed before the API
//! answered). A delivery first claims it (`queued → sending`, a forward-only update
//! only one claimant can win, naming this run: see `db::run_locks`), then sends.
//! Refused connections and 429s are retried with exponential backoff and jitter
//! (honouring `Retry-After`); before any retry the message is read again, and one whose
//! carrier id arrived meanwhile (Twilio may call back before it answers) is left alone;
//! an ambiguous failure (timeout, 5xx) is first reconciled with Twilio's own list of
//! messages, read back to the attempt's start, so a message Twilio already has is
//! adopted rather than sent again. After the last attempt a message the carrier has no
//! id for is `failed` with the reason; one it has is never failed by giving up.

mod carrier;
mod email;
mod sms;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use diesel::OptionalExtension;
use foldhash::{HashSet, HashSetExt};
use rand::Rng;
use tokio::sync::Semaphore;

use super::contact::ApplyStatus;
use super::org::{OrgActor, ToContact};
use super::sandbox;
use crate::batches::record_messages::Handover;
use crate::cache::Caches;
use crate::db::ids::{ContactId, MessageId, OrganizationId};
use crate::db::message_attachments::Attachment;
use crate::db::message_fields::{Channel, MessageStatus};
use crate::db::messages::{self as db_messages, Message, StatusChange, StatusView};
use crate::db::run_locks::RunLease;
use crate::db::{message_attachments, DbPool};
use crate::error::AppError;
use crate::mail::OutgoingEmail;
use crate::pacing::Pacing;
use crate::secrets::SecretKey;
use crate::storage::Storage;
use crate::twilio::client::{OutgoingSms, TwilioClient};
use carrier::Carrier;
use email::mail_domain;
use sms::check_status;

pub use carrier::has_carrier;

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
    /// At most this many questions to Twilio about a message's status at once (see
    /// [`Settle`]), so a backlog of them never crowds out sends.
    pub status_checks: usize,
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
    run: Arc<RunLease>,
    caches: Arc<Caches>,
    secrets: SecretKey,
    twilio: TwilioClient,
    /// Where messages go when the organisation has no carrier.
    sandbox: Recipient<sandbox::Deliver>,
    storage: Arc<Storage>,
    config: DeliveryConfig,
    permits: Semaphore,
    status_checks: Semaphore,
    pacing: Arc<Pacing>,
}

impl DeliveryActor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pool: DbPool,
        run: Arc<RunLease>,
        caches: Arc<Caches>,
        secrets: SecretKey,
        twilio: TwilioClient,
        sandbox: Recipient<sandbox::Deliver>,
        storage: Arc<Storage>,
        config: DeliveryConfig,
    ) -> Self {
        DeliveryActor {
            carriers: Arc::new(Carriers {
                pool,
                run,
                caches,
                secrets,
                twilio,
                sandbox,
                storage,
                permits: Semaphore::new(config.concurrency.max(1)),
                status_checks: Semaphore::new(config.status_checks.max(1)),
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
    /// Since when the carrier may already have this message, if it may: a retry of one
    /// that delivery gave up on without knowing whether Twilio took it.
    pub reconcile_since: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Clone)]
pub struct Recorded {
    pub message: Message,
    pub has_attachments: bool,
    /// As the send was admitted: `Claimed` for one recorded `sending` for this hand-over.
    pub handover: Handover,
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

/// Asks the carrier where a message it took stands, and applies the answer through the
/// contact's actor like a status callback (forward only). For messages whose callbacks
/// were lost (see `db::messages::take_unsettled`). At most `status_checks` questions are
/// asked at once, each taking at least `STATUS_CHECK_PACE`, so a backlog never floods
/// the carrier's API.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Settle {
    pub org: Addr<OrgActor>,
    pub organization_id: OrganizationId,
    pub contact: ContactId,
    pub message_id: MessageId,
    pub sid: String,
}

const STATUS_CHECK_PACE: Duration = Duration::from_millis(250);

impl Handler<Settle> for DeliveryActor {
    type Result = ();

    fn handle(&mut self, settle: Settle, _: &mut Context<Self>) {
        let carriers = self.carriers.clone();
        actix::spawn(async move {
            let message_id = settle.message_id;
            if let Err(error) = check_status(&carriers, settle).await {
                tracing::warn!(%message_id, error = %error, "could not ask the carrier where a message stands");
            }
        });
    }
}

/// How long a message may sit in `sending` without a carrier id before its own run takes
/// it up again (its job ended without an answer, say on a database error). Retries and
/// pacing of a live job end well within it. Another run takes a claim over only once its
/// run is gone (at once, see `db::run_locks`), never by this clock.
pub const STALE_SENDING: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// The error code of a message delivery gave up on: a retry of it asks the carrier first
/// (see `contact::RetryMessage`).
pub const GAVE_UP: &str = "delivery_failed";

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
                handover,
            }) => (message, has_attachments, handover == Handover::Claimed),
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
        // was recorded); one left `sending` without a carrier id may be taken over (its
        // run is gone, or it is this run's own and silent for long), and is then reconciled with the
        // carrier from its claim on before it is sent again.
        let taking_over =
            !claimed && message.status == MessageStatus::Sending && message.external_id.is_none();
        if message.status != MessageStatus::Queued && !taking_over && !claimed {
            return Ok(());
        }
        let config = self.carriers.caches.org(org).await?;
        let Some(carrier) = Carrier::for_message(&config, &self.carriers.secrets, &message)? else {
            self.carriers.sandbox.do_send(sandbox::Deliver {
                org: self.deliver.org.clone(),
                contact: self.deliver.contact,
                message_id: message.id,
            });
            return Ok(());
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
            || if taking_over {
                db_messages::reclaim_sending(
                    &mut *self.carriers.pool.get().await?,
                    org,
                    message.id,
                    self.carriers.run.key(),
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
        // Since when the carrier may have the message: from the claim taken over (its
        // `updated_at` as read before taking it), or as the hand-over says.
        let reconcile_since = match taking_over {
            true => Some(message.updated_at),
            false => self.deliver.reconcile_since,
        };
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
                self.send_sms(&message, &credentials, &sms, reconcile_since)
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
        self.fail(message, GAVE_UP, &reason).await
    }

    /// Moves the message to `sending`; false when someone else already did.
    async fn claim(&self, message: &Message) -> Result<bool, AppError> {
        let claimed = self.report(message, StatusChange::to(MessageStatus::Sending));
        Ok(claimed.await?.is_some())
    }

    /// The carrier took the message and named it: its id is recorded (the status stays
    /// `sending`; the carrier's callbacks move it on).
    async fn accepted(&self, message: &Message, sid: String) -> Result<(), AppError> {
        crate::metrics::handed_over(Channel::Sms, chrono::Utc::now() - message.created_at);
        let accepted = StatusChange {
            external_id: Some(sid),
            ..StatusChange::to(MessageStatus::Sending)
        };
        self.report(message, accepted).await?;
        Ok(())
    }

    /// Fails the message, unless the carrier has it after all: its id arrived meanwhile.
    async fn fail(&self, message: &Message, code: &str, reason: &str) -> Result<(), AppError> {
        let failed = StatusChange {
            error_code: Some(code.to_string()),
            error_message: Some(reason.to_string()),
            unless_carrier_has_it: true,
            ..StatusChange::to(MessageStatus::Failed)
        };
        self.report(message, failed).await?;
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
        Ok(self.deliver.org.send(work).await??)
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
