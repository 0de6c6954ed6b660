//! The WebSocket protocol: frames clients send, and the frames and events the server
//! sends. README.md documents it for integrators.

use bytestring::ByteString;
use serde::{Deserialize, Serialize};

use crate::db::ids::ContactId;

/// Event types, as they appear in a frame's `type`.
pub mod events {
    pub const MESSAGE_NEW: &str = "messaging.message.new";
    pub const MESSAGE_STATUS: &str = "messaging.message.status";
    pub const MESSAGE_UPDATED: &str = "messaging.message.updated";
    pub const MESSAGE_DELETED: &str = "messaging.message.deleted";
    pub const CALL_NEW: &str = "messaging.call.new";
    pub const CALL_UPDATED: &str = "messaging.call.updated";
    pub const TYPING: &str = "messaging.typing";
    pub const CONTACT_UPDATED: &str = "messaging.contact.updated";
    /// A contact wrote in: for a toast wherever the operator is.
    pub const INBOUND: &str = "messaging.inbound";
    /// A scheduled message of the contact was created, edited, canceled, fired (with
    /// the new message's id) or failed.
    pub const SCHEDULED_CREATED: &str = "messaging.scheduled.created";
    pub const SCHEDULED_UPDATED: &str = "messaging.scheduled.updated";
    pub const SCHEDULED_CANCELED: &str = "messaging.scheduled.canceled";
    pub const SCHEDULED_FIRED: &str = "messaging.scheduled.fired";
    pub const SCHEDULED_FAILED: &str = "messaging.scheduled.failed";
}

/// WebSocket close codes the server uses (4000-4999 are the application's).
pub mod close_codes {
    /// No valid credentials within the time allowed.
    pub const UNAUTHENTICATED: u16 = 4001;
    /// No frame or pong within the idle timeout.
    pub const IDLE: u16 = 4009;
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Authenticate a socket opened without a cookie, header or `?token=`.
    Auth {
        token: String,
    },
    Subscribe {
        contact_id: ContactId,
    },
    Unsubscribe {
        contact_id: ContactId,
    },
    SubscribeOrg,
    Typing {
        contact_id: ContactId,
        on: bool,
    },
    Ping,
    /// Replay what was missed since `since` for every subscription made after this.
    /// `epoch` (from `subscribed` or `resync`) says which numbering `since` belongs to.
    Resume {
        since: u64,
        #[serde(default)]
        epoch: Option<String>,
    },
}

/// A pre-serialised frame, shared by every recipient (cloning is a reference count).
pub type Frame = ByteString;

#[derive(Serialize)]
struct EventEnvelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_id: Option<ContactId>,
    data: &'a T,
}

/// Who receives an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Sessions viewing this contact.
    Contact(ContactId),
    /// Sessions subscribed to the organisation (contact list, toasts).
    Org,
}

/// `{"type": kind, "seq": seq, "contact_id"?: ..., "data": data}`
pub fn event_frame<T: Serialize>(
    kind: &str,
    seq: u64,
    contact_id: Option<ContactId>,
    data: &T,
) -> Frame {
    let envelope = EventEnvelope {
        kind,
        seq,
        contact_id,
        data,
    };
    serde_json::to_string(&envelope)
        .expect("events serialise: they hold only strings, numbers and ids")
        .into()
}

/// A control frame (`hello`, `subscribed`, `resync`, `pong`, `error`): not an event, no
/// sequence of its own.
pub fn control_frame(value: serde_json::Value) -> Frame {
    value.to_string().into()
}

pub fn error_frame(code: &str, message: impl Into<String>, contact_id: Option<ContactId>) -> Frame {
    let mut frame = serde_json::json!({ "type": "error", "code": code, "message": message.into() });
    if let Some(contact_id) = contact_id {
        frame["contact_id"] = serde_json::json!(contact_id);
    }
    control_frame(frame)
}
