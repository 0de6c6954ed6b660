//! An event on its way through the broker, and the epochs that tell numberings apart.

use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::db::ids::ContactId;
use crate::protocol::{event_frame, Audience, Frame};

/// The kind of the one event that is not for clients: a node that numbered an
/// organisation's events on its own while Redis was unreachable is back, and the other
/// nodes' clients never saw those events (they resync).
const RESYNC: &str = "switchboard.resync";

/// A fresh epoch: which numbering a sequence number belongs to.
pub fn new_epoch() -> String {
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

/// An event on its way through the broker, with what every node needs to deliver it
/// (the sequence number is the broker's to give).
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// The event type.
    #[serde(rename = "k")]
    kind: String,
    #[serde(rename = "c")]
    contact: ContactId,
    /// For the organisation's subscribers rather than the contact's viewers.
    #[serde(rename = "o", default, skip_serializing_if = "std::ops::Not::not")]
    org: bool,
    /// Kept for resuming clients (typing notices are not).
    #[serde(rename = "r")]
    pub retain: bool,
    /// A session (node, session id) not to deliver to: the typist.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    skip: Option<(u64, u64)>,
    /// When it happened (Unix milliseconds), so replays honour the resume window.
    #[serde(rename = "t")]
    at_ms: i64,
    #[serde(rename = "d")]
    data: Box<RawValue>,
}

impl Envelope {
    pub fn new<T: Serialize>(
        audience: Audience,
        kind: &str,
        contact: ContactId,
        data: &T,
        retain: bool,
        skip: Option<u64>,
        node: u64,
    ) -> Envelope {
        Envelope {
            kind: kind.to_string(),
            contact,
            org: audience == Audience::Org,
            retain,
            skip: skip.map(|session| (node, session)),
            at_ms: chrono::Utc::now().timestamp_millis(),
            data: serde_json::value::to_raw_value(data)
                .expect("events serialise: they hold only strings, numbers and ids"),
        }
    }

    /// Tells every node to resync its viewers of the organisation (see [`RESYNC`]).
    pub fn resync(node: u64) -> Envelope {
        let nobody = ContactId(uuid::Uuid::nil());
        Envelope::new(Audience::Org, RESYNC, nobody, &(), false, None, node)
    }

    pub fn is_resync(&self) -> bool {
        self.kind == RESYNC
    }

    pub fn audience(&self) -> Audience {
        match self.org {
            true => Audience::Org,
            false => Audience::Contact(self.contact),
        }
    }

    /// The client's frame for this event numbered `seq`.
    pub fn frame(&self, seq: u64) -> Frame {
        event_frame(&self.kind, seq, Some(self.contact), &self.data)
    }

    /// When it happened, on this node's clock.
    pub fn at(&self) -> Instant {
        let age = chrono::Utc::now().timestamp_millis() - self.at_ms;
        let age = Duration::from_millis(age.max(0) as u64);
        Instant::now().checked_sub(age).unwrap_or_else(Instant::now)
    }

    /// The session of `node` not to deliver to, if any.
    pub fn skip_on(&self, node: u64) -> Option<u64> {
        self.skip
            .filter(|(origin, _)| *origin == node)
            .map(|(_, session)| session)
    }
}
