//! `OrgActor`: one per organisation. It owns the organisation's event stream, starts
//! contact actors on demand, routes work to them, and stops them when idle. With a
//! shared broker it also takes the organisation's events back from it in order (every
//! node's, its own too), dropping duplicates and filling gaps (see `crate::broker`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use foldhash::{HashMap, HashMapExt};

use super::contact::{ContactActor, Stop, Unsubscribe};
use super::stream::{OrgStream, Since};
use super::ws_session::Subscriber;
use super::ActorDeps;
use crate::broker::{Batch, Envelope, RedisBroker};
use crate::db::ids::{ContactId, OrganizationId};
use crate::protocol::{Audience, Frame};

/// How busy a contact's actor is and who views the contact, kept where the org actor can
/// reach it without a message round trip (both run on the same thread): events coming
/// back from the broker are delivered from here.
#[derive(Default)]
pub struct Liveness {
    /// Messages handed to the contact actor and not yet answered.
    pending: Cell<usize>,
    /// Sessions viewing the contact.
    pub viewers: RefCell<Vec<Subscriber>>,
}

impl Liveness {
    /// Queues a frame for every viewer (except `skip`) without waiting on any of them;
    /// viewers that are gone or too slow to keep up are dropped.
    pub fn deliver(&self, frame: &Frame, skip: Option<u64>) {
        self.viewers
            .borrow_mut()
            .retain(|viewer| Some(viewer.session_id) == skip || viewer.push(frame));
    }
}

struct LiveContact {
    addr: Addr<ContactActor>,
    liveness: Rc<Liveness>,
    last_used: Instant,
}

pub struct OrgActor {
    org: OrganizationId,
    stream: Rc<RefCell<OrgStream>>,
    contacts: HashMap<ContactId, LiveContact>,
    deps: Arc<ActorDeps>,
    /// Events were numbered here alone since Redis last answered.
    was_detached: bool,
}

impl OrgActor {
    pub fn new(org: OrganizationId, deps: Arc<ActorDeps>) -> Self {
        let config = &deps.config;
        OrgActor {
            org,
            stream: Rc::new(RefCell::new(OrgStream::new(
                org,
                config.resume_events,
                config.resume_window,
                deps.broker.clone(),
            ))),
            contacts: HashMap::new(),
            deps,
            was_detached: false,
        }
    }

    fn live_contact(&mut self, contact: ContactId, me: Addr<OrgActor>) -> &mut LiveContact {
        let (org, stream, deps) = (self.org, &self.stream, &self.deps);
        let live = self.contacts.entry(contact).or_insert_with(|| {
            let liveness = Rc::new(Liveness::default());
            let actor = ContactActor::new(
                org,
                contact,
                stream.clone(),
                liveness.clone(),
                me,
                deps.clone(),
            );
            LiveContact {
                addr: actor.start(),
                liveness,
                last_used: Instant::now(),
            }
        });
        live.last_used = Instant::now();
        live
    }

    /// Stops contact actors with nothing to do and no viewers. Work already sent to an
    /// actor is counted as pending, so a stop never overtakes it.
    fn sweep(&mut self, _: &mut Context<Self>) {
        let idle_after = self.deps.config.contact_idle;
        self.contacts.retain(|_, live| {
            let idle = live.liveness.pending.get() == 0
                && live.liveness.viewers.borrow().is_empty()
                && live.last_used.elapsed() >= idle_after;
            if idle {
                live.addr.do_send(Stop);
            }
            !idle
        });
        self.stream.borrow_mut().evict();
    }
}

impl OrgActor {
    fn broker(&self) -> Option<Arc<RedisBroker>> {
        self.stream.borrow().broker().cloned()
    }

    /// Tells every viewer on this node to refetch: the events they would need are gone
    /// (another epoch, or a gap no longer in the broker's history).
    fn resync_everyone(&mut self, epoch: String, current_seq: u64) {
        let mut stream = self.stream.borrow_mut();
        stream.restart(epoch, current_seq);
        for (contact, live) in &self.contacts {
            let frame = stream.resync_frame(Audience::Contact(*contact));
            live.liveness.deliver(&frame, None);
        }
    }

    /// Takes the broker's events numbered from `first` on, in order, skipping those
    /// already taken. The caller made sure nothing is missing before `first`.
    fn take(&mut self, first: u64, events: Vec<Envelope>, node: u64) {
        for (seq, envelope) in (first..).zip(events) {
            if seq <= self.stream.borrow().current_seq() {
                continue;
            }
            if envelope.is_resync() {
                let epoch = self.stream.borrow().epoch().to_string();
                self.resync_everyone(epoch, seq);
                continue;
            }
            let accepted = self.stream.borrow_mut().accept(seq, &envelope, node);
            if let Some(accepted) = accepted {
                if let Some(live) = self.contacts.get(&accepted.contact) {
                    live.liveness.deliver(&accepted.frame, accepted.skip);
                }
            }
        }
    }

    /// Takes events read back from the broker's history to fill `from..=through`; if
    /// some are gone, the viewers are told to resync and numbering carries on after them.
    fn fill(&mut self, from: u64, through: u64, read: Vec<(u64, Envelope)>, node: u64) {
        let complete = read.len() as u64 == through + 1 - from
            && read
                .iter()
                .zip(from..)
                .all(|((seq, _), expected)| *seq == expected);
        if !complete {
            tracing::warn!(org = %self.org, from, through, "events missed are no longer in Redis; resyncing");
            let epoch = self.stream.borrow().epoch().to_string();
            return self.resync_everyone(epoch, through);
        }
        self.take(
            from,
            read.into_iter().map(|(_, event)| event).collect(),
            node,
        );
    }

    /// Reads what is missing up to `seq` from the broker and takes it (also: the broker
    /// is back, or its epoch changed).
    fn catch_up(&mut self, ctx: &mut Context<Self>) {
        let Some(broker) = self.broker() else { return };
        let (org, known, current) = {
            let stream = self.stream.borrow();
            let known = stream.is_attached().then(|| stream.epoch().to_string());
            (self.org, known, stream.current_seq())
        };
        let asked_with = known.clone();
        let work = async move {
            if asked_with.is_none() {
                // Attaching (at start, or after Redis was away): subscribed before the
                // position is read, so nothing published in between is lost; again after
                // a failure, since a subscription that failed is not renewed by itself.
                broker.subscribe_org(org).await?;
            }
            let (epoch, seq) = broker.position(org).await?;
            let from = match &asked_with {
                Some(known) if *known == epoch => current + 1,
                _ => 1,
            };
            let read = match from <= seq && asked_with.is_some() {
                true => broker.range(org, from, seq).await?,
                false => Vec::new(),
            };
            anyhow::Ok((broker, epoch, seq, from, read))
        };
        ctx.wait(
            work.into_actor(self)
                .map(move |result, actor, _| match result {
                    Ok((broker, epoch, seq, from, read)) => {
                        broker.healthy();
                        let attached = actor.stream.borrow().is_attached();
                        if !attached {
                            // Back from numbering on its own: everyone starts again from
                            // Redis's numbering. The other nodes' clients never saw what
                            // this node numbered alone: they resync too (not on the first
                            // attach, when there was nothing).
                            actor.stream.borrow_mut().attach(epoch.clone(), seq);
                            if std::mem::take(&mut actor.was_detached) {
                                broker.publish(actor.org, Envelope::resync(broker.node()));
                            }
                            return actor.resync_everyone(epoch, seq);
                        }
                        if known.as_deref() != Some(epoch.as_str()) {
                            return actor.resync_everyone(epoch, seq);
                        }
                        if from <= seq {
                            actor.fill(from, seq, read, broker.node());
                        }
                    }
                    Err(error) => {
                        if let Some(broker) = actor.broker() {
                            broker.degraded(format!("checking positions: {error}"));
                        }
                    }
                }),
        );
    }
}

impl Actor for OrgActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let every = (self.deps.config.contact_idle / 2).max(Duration::from_millis(100));
        ctx.run_interval(every, Self::sweep);
        let Some(broker) = self.broker() else { return };
        // The stream starts detached (it knows no epoch): the first check attaches it.
        self.catch_up(ctx);
        ctx.run_interval(broker.position_check(), Self::catch_up);
    }
}

/// A batch of the organisation's events as the broker numbered them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Incoming(pub Batch);

impl Handler<Incoming> for OrgActor {
    type Result = ();

    fn handle(&mut self, Incoming(incoming): Incoming, ctx: &mut Context<Self>) {
        let Some(broker) = self.broker() else { return };
        let (attached, same_epoch, current) = {
            let stream = self.stream.borrow();
            (
                stream.is_attached(),
                stream.epoch() == incoming.epoch,
                stream.current_seq(),
            )
        };
        if !attached {
            // Numbering on its own: the position check attaches it again first.
            return;
        }
        if !same_epoch || incoming.first > current + 1 {
            // Redis lost its data, or a batch went missing: read back what is missing;
            // this batch is in the stream too.
            return self.catch_up(ctx);
        }
        self.take(incoming.first, incoming.events, broker.node());
    }
}

/// Events the broker could not take (Redis is unreachable): this node numbers and
/// delivers them on its own, and its viewers are resynced into its own epoch.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Undelivered {
    pub events: Vec<Envelope>,
}

impl Handler<Undelivered> for OrgActor {
    type Result = ();

    fn handle(&mut self, undelivered: Undelivered, _: &mut Context<Self>) {
        let Some(broker) = self.broker() else { return };
        let attached = self.stream.borrow().is_attached();
        if attached {
            self.was_detached = true;
            self.stream.borrow_mut().detach();
            let (epoch, current) = {
                let stream = self.stream.borrow();
                (stream.epoch().to_string(), stream.current_seq())
            };
            self.resync_everyone(epoch, current);
        }
        let next = self.stream.borrow().current_seq() + 1;
        self.take(next, undelivered.events, broker.node());
    }
}

/// Compare the organisation's position with the broker's, and take what is missing.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CheckPosition;

impl Handler<CheckPosition> for OrgActor {
    type Result = ();

    fn handle(&mut self, _: CheckPosition, ctx: &mut Context<Self>) {
        self.catch_up(ctx);
    }
}

/// A client resumes from `since`: make sure the retained events reach back that far,
/// reading older ones from the broker's history (this node may not have seen them).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Backfill {
    pub since: Since,
}

impl Handler<Backfill> for OrgActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, backfill: Backfill, _: &mut Context<Self>) -> Self::Result {
        let needed = {
            let stream = self.stream.borrow();
            let same_epoch = backfill
                .since
                .epoch
                .as_ref()
                .is_none_or(|epoch| epoch == stream.epoch());
            let since = backfill.since.seq;
            (stream.is_attached() && same_epoch && since < stream.evicted_through())
                .then(|| (since, stream.evicted_through()))
        };
        let (Some(broker), Some((since, through))) = (self.broker(), needed) else {
            return AtomicResponse::new(Box::pin(actix::fut::ready(())));
        };
        let org = self.org;
        AtomicResponse::new(Box::pin(
            async move { broker.range(org, since + 1, through).await }
                .into_actor(self)
                .map(move |result, actor, _| {
                    let Ok(read) = result else { return };
                    let complete = read.first().is_some_and(|(seq, _)| *seq == since + 1)
                        && read.last().is_some_and(|(seq, _)| *seq == through);
                    let unchanged = actor.stream.borrow().evicted_through() == through;
                    if complete && unchanged {
                        actor.stream.borrow_mut().backfill(since, read);
                    }
                }),
        ))
    }
}

/// Work for one contact's actor, routed through its organisation.
pub struct ToContact<M> {
    pub contact: ContactId,
    pub message: M,
}

impl<M> Message for ToContact<M>
where
    M: Message + Send + 'static,
    M::Result: Send,
{
    type Result = Result<M::Result, MailboxError>;
}

impl<M> Handler<ToContact<M>> for OrgActor
where
    M: Message + Send + 'static,
    M::Result: Send,
    ContactActor: Handler<M>,
{
    type Result = ResponseFuture<Result<M::Result, MailboxError>>;

    fn handle(&mut self, work: ToContact<M>, ctx: &mut Context<Self>) -> Self::Result {
        let live = self.live_contact(work.contact, ctx.address());
        let liveness = live.liveness.clone();
        let request = live.addr.send(work.message);
        liveness.pending.set(liveness.pending.get() + 1);
        Box::pin(async move {
            let answer = request.await;
            liveness.pending.set(liveness.pending.get() - 1);
            answer
        })
    }
}

/// A session wants the organisation-wide events.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubscribeOrg {
    pub subscriber: Subscriber,
    pub since: Option<Since>,
}

impl Handler<SubscribeOrg> for OrgActor {
    type Result = ();

    fn handle(&mut self, subscribe: SubscribeOrg, _: &mut Context<Self>) {
        self.stream
            .borrow_mut()
            .subscribe_org(subscribe.subscriber, subscribe.since.as_ref());
    }
}

/// A socket closed: forget it everywhere it was subscribed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionEnded {
    pub session_id: u64,
    pub contacts: Vec<ContactId>,
}

impl Handler<SessionEnded> for OrgActor {
    type Result = ();

    fn handle(&mut self, ended: SessionEnded, _: &mut Context<Self>) {
        for contact in ended.contacts {
            if let Some(live) = self.contacts.get(&contact) {
                live.addr.do_send(Unsubscribe {
                    session_id: ended.session_id,
                });
            }
        }
        self.stream.borrow_mut().unsubscribe_org(ended.session_id);
    }
}
