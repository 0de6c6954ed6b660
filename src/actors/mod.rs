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
//! - [`scheduler::SchedulerActor`]: fires scheduled messages when they come due.
//!
//! Every organisation's actors live on one arbiter (thread), picked by hashing its id,
//! so an organisation's events are numbered and delivered in one order without locks,
//! and organisations spread over the cores. With several nodes the numbering is the
//! broker's (`crate::broker`), and each node delivers in that order.
//!
//! These modules import each other, and only each other: the rest of the crate sits
//! above them (routes, the send rules and webhooks hand work in through [`Realtime`])
//! or below (`batches`, `broker`, `cache`, `db`). The cycles inside are conversations: a
//! contact's actor hands a message to delivery ([`delivery::Deliver`]) and delivery (or
//! the sandbox) reports back through the organisation's actor ([`org::ToContact`]);
//! the organisation's actor starts and addresses its contacts' actors, which tell it
//! when they are idle; sessions subscribe to both, and both push frames to sessions
//! ([`ws_session::Subscriber`]); and this module starts the actors whose shared
//! dependencies ([`ActorDeps`]) they read. Each message type is declared once, by the
//! actor that handles it.

pub mod contact;
pub mod delivery;
pub mod housekeeper;
pub mod org;
pub mod outbox;
pub mod sandbox;
pub mod scheduler;
pub mod stream;
pub mod ws_session;

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use actix::{Actor, Addr, Arbiter, ArbiterHandle, Handler, Message};
use foldhash::{HashMap, HashMapExt};
use phonenumber::country;

use crate::batches::apply_statuses::ApplyStatuses;
use crate::batches::record_messages::RecordMessages;
use crate::batches::Batches;
use crate::broker::{Batch, Envelope, Listener, RedisBroker};
use crate::cache::Caches;
use crate::db::batcher::Batcher;
use crate::db::ids::{ContactId, OrganizationId};
use crate::db::run_locks::RunLease;
use crate::db::DbPool;
use crate::error::AppError;
use crate::pacing::Pacing;
use crate::secrets::SecretKey;
use crate::storage::Storage;
use crate::twilio::client::TwilioClient;
use contact::ContactActor;
use delivery::{DeliveryActor, DeliveryConfig};
use org::{Backfill, CheckPosition, Incoming, OrgActor, ToContact, Undelivered};
use outbox::OutboxSweeper;
use sandbox::SandboxTransport;
use stream::Since;

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
    /// Whether the sandbox answers texts as the contact would (the demo).
    pub sandbox_replies: bool,
    /// How often the outbox is swept for messages left queued.
    pub outbox_sweep: Duration,
    /// An SMS waiting this long for its final status is asked of the carrier.
    pub status_check_after: Duration,
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
    /// The deployment's shared broker; `None` for a server on its own.
    pub broker: Option<Arc<RedisBroker>>,
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
        run: Arc<RunLease>,
        batches: &Batches,
        caches: Arc<Caches>,
        region: country::Id,
        config: RealtimeConfig,
        secrets: SecretKey,
        twilio: TwilioClient,
        delivery: DeliveryConfig,
        storage: Arc<Storage>,
        broker: Option<Arc<RedisBroker>>,
    ) -> anyhow::Result<Arc<Realtime>> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let sandbox = SandboxTransport::new(config.sandbox_delay, config.sandbox_replies).start();
        let run_key = run.key();
        let delivery = DeliveryActor::new(
            pool.clone(),
            run,
            caches.clone(),
            secrets,
            twilio,
            sandbox.recipient(),
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
                records: batches.records.clone(),
                statuses: batches.statuses.clone(),
                pool,
                caches,
                region,
                config,
                delivery,
                broker: broker.clone(),
            }),
            pacing,
        });
        if let Some(broker) = broker {
            let listener: Weak<dyn Listener> = Arc::downgrade(&realtime) as Weak<Realtime>;
            broker.run(listener);
        }
        OutboxSweeper::new(realtime.clone(), run_key, sweep_every).start();
        Ok(realtime)
    }

    pub fn config(&self) -> &RealtimeConfig {
        &self.deps.config
    }

    pub fn pacing(&self) -> &Pacing {
        &self.pacing
    }

    pub fn broker(&self) -> Option<&Arc<RedisBroker>> {
        self.deps.broker.as_ref()
    }

    /// The organisation's actor if this node has started it (events for organisations
    /// nobody here follows are not worth starting one).
    fn started_org(&self, org: OrganizationId) -> Option<Addr<OrgActor>> {
        let orgs = self
            .orgs
            .lock()
            .expect("the registry lock is never held across a panic");
        orgs.get(&org).cloned()
    }

    /// Makes sure a client resuming from `since` can be served by this node, which may
    /// not have seen the events (with a broker; without one there is nothing to do).
    pub async fn backfill(&self, org: OrganizationId, since: Option<&Since>) {
        if let (Some(_), Some(since)) = (&self.deps.broker, since) {
            let since = since.clone();
            // Not answered means the organisation's actor is gone: nothing to serve.
            let _ = self.org(org).send(Backfill { since }).await;
        }
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
        Ok(self.org(org).send(ToContact { contact, message }).await??)
    }
}

/// The broker hands this node's organisations what it hears, to the actors already
/// started here.
impl Listener for Realtime {
    fn incoming(&self, org: OrganizationId, batch: Batch) {
        if let Some(org) = self.started_org(org) {
            org.do_send(Incoming(batch));
        }
    }

    fn undelivered(&self, org: OrganizationId, events: Vec<Envelope>) {
        if let Some(org) = self.started_org(org) {
            org.do_send(Undelivered { events });
        }
    }

    fn invalidated(&self, message: &str) {
        self.deps.caches.apply_remote(message);
    }

    /// Every organisation compares its position with the broker's.
    fn reconnected(&self) {
        let orgs = self
            .orgs
            .lock()
            .expect("the registry lock is never held across a panic");
        for org in orgs.values() {
            org.do_send(CheckPosition);
        }
    }
}
