//! An organisation's event stream: the sequence every event is numbered by, the recent
//! events kept for clients that reconnect, and the org-wide subscribers.
//!
//! Owned by the `OrgActor` and shared (`Rc<RefCell<_>>`) with its `ContactActor`s. All
//! actors of one organisation run on the same arbiter thread, so numbering, retention and
//! delivery happen in one order without locks or extra message hops.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::ws_session::Subscriber;
use crate::db::ids::ContactId;
use crate::protocol::{control_frame, event_frame, Frame};

/// Who receives an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Sessions viewing this contact.
    Contact(ContactId),
    /// Sessions subscribed to the organisation (contact list, toasts).
    Org,
}

struct Retained {
    seq: u64,
    at: Instant,
    audience: Audience,
    frame: Frame,
}

pub struct OrgStream {
    next_seq: u64,
    /// Every event numbered up to here is gone from `retained` (or predates this stream),
    /// so a client resuming from before it cannot be served exactly.
    evicted_through: u64,
    retained: VecDeque<Retained>,
    max_events: usize,
    max_age: Duration,
    org_subscribers: Vec<Subscriber>,
}

impl OrgStream {
    /// Sequence numbers start at the current time in microseconds, so they keep growing
    /// across restarts: a client resuming with a number from an earlier run is told to
    /// refetch instead of being silently given nothing.
    pub fn new(max_events: usize, max_age: Duration) -> Self {
        let start = chrono::Utc::now().timestamp_micros().max(1) as u64;
        OrgStream {
            next_seq: start,
            evicted_through: start - 1,
            retained: VecDeque::new(),
            max_events,
            max_age,
            org_subscribers: Vec::new(),
        }
    }

    /// The number of the latest event.
    pub fn current_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Numbers and serialises an event once. Org-wide events are delivered here; contact
    /// events are delivered by the contact's actor. `retain` keeps it for resuming
    /// clients (typing indicators are not worth replaying).
    pub fn publish<T: Serialize>(
        &mut self,
        audience: Audience,
        kind: &str,
        contact_id: ContactId,
        data: &T,
        retain: bool,
    ) -> Frame {
        let seq = self.next_seq;
        self.next_seq += 1;
        let frame = event_frame(kind, seq, Some(contact_id), data);
        if retain {
            self.retained.push_back(Retained {
                seq,
                at: Instant::now(),
                audience,
                frame: frame.clone(),
            });
            self.evict();
        }
        if audience == Audience::Org {
            self.org_subscribers
                .retain(|subscriber| subscriber.push(&frame));
        }
        frame
    }

    /// Confirms a subscription and sends what the subscriber missed since `since` (or a
    /// `resync` when that is no longer known). Returns false if the subscriber is gone.
    pub fn welcome(
        &mut self,
        subscriber: &Subscriber,
        audience: Audience,
        since: Option<u64>,
    ) -> bool {
        let scope = match audience {
            Audience::Contact(contact_id) => json!({ "contact_id": contact_id }),
            Audience::Org => json!({ "scope": "org" }),
        };
        let current_seq = self.current_seq();
        let with_scope = |kind: &str| {
            let mut frame = scope.clone();
            frame["type"] = json!(kind);
            frame["seq"] = json!(current_seq);
            control_frame(frame)
        };
        if !subscriber.push(&with_scope("subscribed")) {
            return false;
        }
        let Some(since) = since else { return true };
        match self.missed_since(since, audience) {
            Some(missed) => missed.iter().all(|frame| subscriber.push(frame)),
            None => subscriber.push(&with_scope("resync")),
        }
    }

    pub fn subscribe_org(&mut self, subscriber: Subscriber, since: Option<u64>) {
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
    fn missed_since(&mut self, since: u64, audience: Audience) -> Option<Vec<Frame>> {
        self.evict();
        if since < self.evicted_through || since > self.current_seq() {
            return None;
        }
        Some(
            self.retained
                .iter()
                .filter(|event| event.seq > since && event.audience == audience)
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
