//! The realtime core. Actors own live state and fan every change out to the browsers
//! viewing it:
//!
//! - [`org::OrgActor`], one per organisation: starts and stops its contacts' actors,
//!   routes work to them, owns the organisation's event stream ([`stream::OrgStream`]).
//! - [`contact::ContactActor`], one per contact with activity: applies that contact's
//!   changes (new messages, status, edits, deletes, typing, read marks) in one order and
//!   delivers each to the sessions viewing the contact.
//! - [`ws_session::WsSession`], one per WebSocket.
//! - [`delivery::DeliveryActor`]: sends queued messages through the organisation's
//!   carrier (Twilio), or the [`sandbox::SandboxTransport`] when it has none.
//! - [`outbox::OutboxSweeper`]: resumes queued messages after a restart.
//! - [`housekeeper::Housekeeper`]: removes uploads no message took.
//! - [`phi::PhiActor`]: vets large drafts off the request threads.
//!
//! Every organisation's actors live on one arbiter (thread), picked by hashing its id,
//! so an organisation's events are numbered and delivered in one order without locks,
//! and organisations spread over the cores.

pub mod contact;
pub mod delivery;
pub mod housekeeper;
pub mod org;
pub mod outbox;
pub mod phi;
pub mod sandbox;
pub mod stream;
pub mod ws_session;

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{Actor, Addr, Arbiter, ArbiterHandle, Handler, MailboxError, Message};
use foldhash::{HashMap, HashMapExt};
use phonenumber::country;

use crate::cache::Caches;
use crate::db::batcher::Batcher;
use crate::db::ids::{ContactId, OrganizationId};
use crate::db::messages::ApplyStatuses;
use crate::db::DbPool;
use crate::error::AppError;
use crate::messages::RecordMessages;
use crate::pacing::Pacing;
use crate::secrets::SecretKey;
use crate::storage::Storage;
use crate::twilio::client::TwilioClient;
use contact::ContactActor;
use delivery::{DeliveryActor, DeliveryConfig};
use org::{OrgActor, ToContact};
use outbox::OutboxSweeper;
use sandbox::SandboxTransport;

/// Tunables of the realtime core.
#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    /// A contact's actor stops after this long with no work and no viewers.
    pub contact_idle: Duration,
    /// Events are kept this long for reconnecting clients...
    pub resume_window: Duration,
    /// ...and at most this many per organisation.
    pub resume_events: usize,
    /// Frames queued for one socket before it counts as stalled and is cut off.
    pub outbox_frames: usize,
    /// How often the server pings each socket.
    pub heartbeat: Duration,
    /// A socket silent (no frame, no pong) this long is closed.
    pub client_timeout: Duration,
    /// The sandbox carrier's delay between status steps.
    pub sandbox_delay: Duration,
    /// How often the outbox is swept for messages left queued.
    pub outbox_sweep: Duration,
}

/// What the actors need from the rest of the application.
pub struct ActorDeps {
    pub pool: DbPool,
    pub caches: Arc<Caches>,
    /// New messages, written in batches.
    pub records: Batcher<RecordMessages>,
    /// Status reports, written in batches.
    pub statuses: Batcher<ApplyStatuses>,
    pub region: country::Id,
    pub config: RealtimeConfig,
    pub delivery: Addr<DeliveryActor>,
}

/// Finds or starts organisations' actors.
pub struct Realtime {
    orgs: Mutex<HashMap<OrganizationId, Addr<OrgActor>>>,
    arbiters: Vec<ArbiterHandle>,
    deps: Arc<ActorDeps>,
    /// The sending numbers' pacing, shared with delivery.
    pacing: Arc<Pacing>,
}

impl Realtime {
    /// Starts one arbiter per core for the organisations' actors. Call from within the
    /// actix system.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        pool: DbPool,
        database_url: &str,
        caches: Arc<Caches>,
        region: country::Id,
        config: RealtimeConfig,
        secrets: SecretKey,
        twilio: TwilioClient,
        delivery: DeliveryConfig,
        storage: Arc<Storage>,
    ) -> anyhow::Result<Arc<Realtime>> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let sandbox = SandboxTransport::new(config.sandbox_delay).start();
        let delivery = DeliveryActor::new(
            pool.clone(),
            caches.clone(),
            secrets,
            twilio,
            sandbox,
            storage,
            delivery,
        );
        let pacing = delivery.pacing();
        let delivery = delivery.start();
        let sweep_every = config.outbox_sweep;
        let realtime = Arc::new(Realtime {
            orgs: Mutex::new(HashMap::new()),
            arbiters: (0..cores).map(|_| Arbiter::new().handle()).collect(),
            deps: Arc::new(ActorDeps {
                records: Batcher::start(database_url, RecordMessages)?,
                statuses: Batcher::start(database_url, ApplyStatuses)?,
                pool,
                caches,
                region,
                config,
                delivery,
            }),
            pacing,
        });
        OutboxSweeper::new(realtime.clone(), sweep_every).start();
        Ok(realtime)
    }

    pub fn config(&self) -> &RealtimeConfig {
        &self.deps.config
    }

    pub fn pacing(&self) -> &Pacing {
        &self.pacing
    }

    /// The organisation's actor, started on first use. Organisation actors live as long
    /// as the server: when idle they hold no contacts and no retained events.
    pub fn org(&self, org: OrganizationId) -> Addr<OrgActor> {
        let mut orgs = self
            .orgs
            .lock()
            .expect("the registry lock is never held across a panic");
        orgs.entry(org)
            .or_insert_with(|| {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                org.hash(&mut hasher);
                let arbiter = &self.arbiters[hasher.finish() as usize % self.arbiters.len()];
                let deps = self.deps.clone();
                OrgActor::start_in_arbiter(arbiter, move |_| OrgActor::new(org, deps))
            })
            .clone()
    }

    /// Hands `message` to the contact's actor (starting it if needed) and waits for its
    /// answer.
    pub async fn to_contact<M>(
        &self,
        org: OrganizationId,
        contact: ContactId,
        message: M,
    ) -> Result<M::Result, AppError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        ContactActor: Handler<M>,
    {
        let answer = self.org(org).send(ToContact { contact, message }).await;
        answer.and_then(|inner| inner).map_err(mailbox_error)
    }
}

pub(crate) fn mailbox_error(error: MailboxError) -> AppError {
    AppError::Unavailable(anyhow::anyhow!("the realtime core did not answer: {error}"))
}
