//! `OrgActor`: one per organisation. It owns the organisation's event stream, starts
//! contact actors on demand, routes work to them, and stops them when idle.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use foldhash::{HashMap, HashMapExt};

use super::contact::{ContactActor, Stop, Unsubscribe};
use super::stream::OrgStream;
use super::ws_session::Subscriber;
use super::ActorDeps;
use crate::db::ids::{ContactId, OrganizationId};

/// How busy a contact's actor is, kept where the org actor can read it without a
/// message round trip (both run on the same thread).
#[derive(Default)]
pub struct Liveness {
    /// Messages handed to the contact actor and not yet answered.
    pending: Cell<usize>,
    /// Sessions viewing the contact.
    pub subscribers: Cell<usize>,
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
}

impl OrgActor {
    pub fn new(org: OrganizationId, deps: Arc<ActorDeps>) -> Self {
        let config = &deps.config;
        OrgActor {
            org,
            stream: Rc::new(RefCell::new(OrgStream::new(
                config.resume_events,
                config.resume_window,
            ))),
            contacts: HashMap::new(),
            deps,
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
                && live.liveness.subscribers.get() == 0
                && live.last_used.elapsed() >= idle_after;
            if idle {
                live.addr.do_send(Stop);
            }
            !idle
        });
        self.stream.borrow_mut().evict();
    }
}

impl Actor for OrgActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let every = (self.deps.config.contact_idle / 2).max(Duration::from_millis(100));
        ctx.run_interval(every, Self::sweep);
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
    pub since: Option<u64>,
}

impl Handler<SubscribeOrg> for OrgActor {
    type Result = ();

    fn handle(&mut self, subscribe: SubscribeOrg, _: &mut Context<Self>) {
        self.stream
            .borrow_mut()
            .subscribe_org(subscribe.subscriber, subscribe.since);
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
