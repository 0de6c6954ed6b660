//! An organisation's event stream: the sequence every event is numbered by (within an
//! epoch), the recent events kept for clients that reconnect, and the org-wide
//! subscribers.
//!
//! Owned by the `OrgActor` and shared (`Rc<RefCell<_>>`) with its `ContactActor`s. All
//! actors of one organisation run on the same arbiter thread, so numbering, retention and
//! delivery happen in one order without locks or extra message hops.
//!
//! With one node the stream numbers events itself. With several (a shared broker, see
//! `crate::broker`), `publish` hands events to the broker, which numbers them for the
//! whole deployment, and every node `accept`s them back in that order: its own events
//! too, so a node's clients see the same sequence as everyone else's.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::ws_session::Subscriber;
use crate::broker::{Envelope, RedisBroker};
use crate::db::ids::{ContactId, OrganizationId};
use crate::protocol::{control_frame, event_frame, Audience, Frame};

/// Where a client resumes from: the last event it processed, and the epoch that number
/// belongs to (when it knows it; a number from another epoch is answered `resync`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Since {
    pub seq: u64,
    pub epoch: Option<String>,
}

struct Retained {
    seq: u64,
    at: Instant,
    audience: Audience,
    frame: Frame,
}

/// An event the broker numbered, ready for this node's viewers of the contact.
pub struct Accepted {
    pub contact: ContactId,
    pub frame: Frame,
    /// A session of this node not to deliver to (the typist of a typing notice).
    pub skip: Option<u64>,
}

pub struct OrgStream {
    org: OrganizationId,
    /// Whose numbers these are: a random id per stream (one node) or the broker's epoch
    /// for the organisation. A client resuming with another epoch's number is resynced.
    epoch: String,
    next_seq: u64,
    /// Every event numbered up to here is gone from `retained` (or predates this stream),
    /// so a client resuming from before it cannot be served exactly.
    evicted_through: u64,
    retained: VecDeque<Retained>,
    max_events: usize,
    max_age: Duration,
    org_subscribers: Vec<Subscriber>,
    /// The deployment's broker, when there is one...
    broker: Option<Arc<RedisBroker>>,
    /// ...and whether events go through it. False while it cannot be reached: the node
    /// then numbers its events itself, under an epoch of its own (see `detach`).
    attached: bool,
}

impl OrgStream {
    /// Sequence numbers of a stream of its own start at the current time in
    /// microseconds, so they keep growing across restarts: a client resuming with a
    /// number from an earlier run (and no epoch) is told to refetch instead of being
    /// silently given nothing.
    pub fn new(
        org: OrganizationId,
        max_events: usize,
        max_age: Duration,
        broker: Option<Arc<RedisBroker>>,
    ) -> Self {
        let start = chrono::Utc::now().timestamp_micros().max(1) as u64;
        OrgStream {
            org,
            epoch: crate::broker::new_epoch(),
            next_seq: start,
            evicted_through: start - 1,
            retained: VecDeque::new(),
            max_events,
            max_age,
            org_subscribers: Vec::new(),
            // Attached once the organisation's actor has read the broker's position.
            attached: false,
            broker,
        }
    }

    /// The number of the latest event.
    pub fn current_seq(&self) -> u64 {
        self.next_seq - 1
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    pub fn broker(&self) -> Option<&Arc<RedisBroker>> {
        self.broker.as_ref()
    }

    /// Whether events go through the shared broker (rather than this node alone).
    pub fn is_attached(&self) -> bool {
        self.attached
    }

    /// The oldest number a resuming client can be served from without asking the
    /// broker for older history.
    pub fn evicted_through(&self) -> u64 {
        self.evicted_through
    }

    /// Numbers and serialises an event once. Org-wide events are delivered here; contact
    /// events are delivered by the contact's actor from the returned frame. `retain`
    /// keeps it for resuming clients (typing indicators are not worth replaying); `skip`
    /// is a session not to deliver it to.
    ///
    /// Through a broker the event is numbered there and comes back to every node
    /// (`accept`): `None` then, nothing to deliver yet.
    pub fn publish<T: Serialize>(
        &mut self,
        audience: Audience,
        kind: &str,
        contact_id: ContactId,
        data: &T,
        retain: bool,
        skip: Option<u64>,
    ) -> Option<Frame> {
        if let (Some(broker), true) = (&self.broker, self.attached) {
            let envelope = Envelope::new(
                audience,
                kind,
                contact_id,
                data,
                retain,
                skip,
                broker.node(),
            );
            broker.publish(self.org, envelope);
            return None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let frame = event_frame(kind, seq, Some(contact_id), data);
        self.keep(seq, Instant::now(), audience, &frame, retain);
        Some(frame)
    }

    /// Takes an event the broker numbered `seq` (the next one: the caller dropped
    /// duplicates and filled gaps). Returns what the contact's viewers on this node get.
    pub fn accept(&mut self, seq: u64, envelope: &Envelope, node: u64) -> Option<Accepted> {
        self.next_seq = seq + 1;
        let frame = envelope.frame(seq);
        let audience = envelope.audience();
        self.keep(seq, envelope.at(), audience, &frame, envelope.retain);
        let contact = match audience {
            Audience::Contact(contact) => contact,
            Audience::Org => return None,
        };
        Some(Accepted {
            contact,
            frame,
            skip: envelope.skip_on(node),
        })
    }

    fn keep(&mut self, seq: u64, at: Instant, audience: Audience, frame: &Frame, retain: bool) {
        if retain {
            self.retained.push_back(Retained {
                seq,
                at,
                audience,
                frame: frame.clone(),
            });
            self.evict();
        }
        if audience == Audience::Org {
            self.org_subscribers
                .retain(|subscriber| subscriber.push(frame));
        }
    }

    /// Puts older events read back from the broker in front of what is retained, so a
    /// client resuming from `since` can be served. `events` are numbered `since + 1` on
    /// without a hole, up to where `retained` starts.
    pub fn backfill(&mut self, since: u64, events: Vec<(u64, Envelope)>) {
        for (seq, envelope) in events.into_iter().rev() {
            if envelope.retain && envelope.at().elapsed() <= self.max_age {
                self.retained.push_front(Retained {
                    seq,
                    at: envelope.at(),
                    audience: envelope.audience(),
                    frame: envelope.frame(seq),
                });
            }
        }
        self.evicted_through = since;
        self.evict();
    }

    /// Starts over from another epoch (the broker lost its data, or this node numbers
    /// its own events while it cannot reach it): what was retained no longer counts. The
    /// org subscribers are sent `resync` here; the caller sends the contact viewers
    /// theirs (`resync_frame`).
    pub fn restart(&mut self, epoch: String, current_seq: u64) {
        self.epoch = epoch;
        self.next_seq = current_seq + 1;
        self.evicted_through = current_seq;
        self.retained.clear();
        let frame = self.resync_frame(Audience::Org);
        self.org_subscribers
            .retain(|subscriber| subscriber.push(&frame));
    }

    /// The broker could not be reached: number events here, under an epoch of this
    /// node's own, until it is back.
    pub fn detach(&mut self) {
        if self.attached {
            self.attached = false;
            let current = self.current_seq();
            self.restart(crate::broker::new_epoch(), current);
        }
    }

    /// The broker is back at `epoch`, `seq`.
    pub fn attach(&mut self, epoch: String, seq: u64) {
        self.attached = true;
        self.restart(epoch, seq);
    }

    /// `{"type": "resync", ...}` for an audience: refetch, then carry on from here.
    pub fn resync_frame(&self, audience: Audience) -> Frame {
        self.scoped("resync", audience)
    }

    fn scoped(&self, kind: &str, audience: Audience) -> Frame {
        let mut frame = match audience {
            Audience::Contact(contact_id) => json!({ "contact_id": contact_id }),
            Audience::Org => json!({ "scope": "org" }),
        };
        frame["type"] = json!(kind);
        frame["seq"] = json!(self.current_seq());
        frame["epoch"] = json!(self.epoch);
        control_frame(frame)
    }

    /// Confirms a subscription and sends what the subscriber missed since `since` (or a
    /// `resync` when that is no longer known). Returns false if the subscriber is gone.
    pub fn welcome(
        &mut self,
        subscriber: &Subscriber,
        audience: Audience,
        since: Option<&Since>,
    ) -> bool {
        if !subscriber.push(&self.scoped("subscribed", audience)) {
            return false;
        }
        let Some(since) = since else { return true };
        match self.missed_since(since, audience) {
            Some(missed) => missed.iter().all(|frame| subscriber.push(frame)),
            None => subscriber.push(&self.resync_frame(audience)),
        }
    }

    pub fn subscribe_org(&mut self, subscriber: Subscriber, since: Option<&Since>) {
        self.org_subscribers
            .retain(|existing| existing.session_id != subscriber.session_id);
        if self.welcome(&subscriber, Audience::Org, since) {
            self.org_subscribers.push(subscriber);
        }
    }

    pub fn unsubscribe_org(&mut self, session_id: u64) {
        self.org_subscribers
            .retain(|subscriber| subscriber.session_id != session_id);
    }

    pub fn has_org_subscribers(&self) -> bool {
        !self.org_subscribers.is_empty()
    }

    /// The retained events for `audience` after `since`, or `None` when some may have
    /// been dropped already (or `since` is not from this stream).
    fn missed_since(&mut self, since: &Since, audience: Audience) -> Option<Vec<Frame>> {
        self.evict();
        let other_epoch = since
            .epoch
            .as_ref()
            .is_some_and(|epoch| *epoch != self.epoch);
        if other_epoch || since.seq < self.evicted_through || since.seq > self.current_seq() {
            return None;
        }
        Some(
            self.retained
                .iter()
                .filter(|event| event.seq > since.seq && event.audience == audience)
                .map(|event| event.frame.clone())
                .collect(),
        )
    }

    /// Drops events beyond the count limit or older than the window.
    pub fn evict(&mut self) {
        while let Some(oldest) = self.retained.front() {
            if self.retained.len() <= self.max_events && oldest.at.elapsed() <= self.max_age {
                break;
            }
            self.evicted_through = oldest.seq;
            self.retained.pop_front();
        }
    }
}
