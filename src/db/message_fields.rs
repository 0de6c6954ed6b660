//! What a message's `status`, `channel` and `direction` can be: the values the `messages`
//! table's CHECK constraints allow, under the same names on the wire.

use serde::{Deserialize, Deserializer};

use super::text_enum::text_enum;

text_enum! {
    /// The carrier lifecycle. Statuses only move forward: see [`MessageStatus::replaces`].
    pub enum MessageStatus {
        Scheduled = "scheduled",
        Queued = "queued",
        Sending = "sending",
        Sent = "sent",
        Delivered = "delivered",
        Undelivered = "undelivered",
        Failed = "failed",
        Received = "received",
        Canceled = "canceled",
    }
}

impl MessageStatus {
    /// The statuses this one may overwrite. Carriers report out of order and repeat
    /// themselves, so a late `sent` must never undo `delivered`; a failure report wins
    /// over everything before it, even `delivered` (a carrier may fail a message it
    /// first accepted). `received` and `canceled` are never overwritten by a report.
    pub fn replaces(self) -> &'static [MessageStatus] {
        use MessageStatus::*;
        match self {
            Scheduled | Received => &[],
            Queued => &[Scheduled],
            Sending => &[Scheduled, Queued],
            Sent => &[Scheduled, Queued, Sending],
            Delivered => &[Scheduled, Queued, Sending, Sent],
            Undelivered | Failed => &[Scheduled, Queued, Sending, Sent, Delivered],
            Canceled => &[Scheduled, Queued],
        }
    }
}

text_enum! {
    /// Where a message went or came from. Only SMS and email are sent; the chat channels
    /// are received; a note is an operator's, never sent.
    pub enum Channel {
        Sms = "sms",
        Whatsapp = "whatsapp",
        FacebookMessenger = "facebook_messenger",
        InstagramDm = "instagram_dm",
        Email = "email",
        Note = "note",
    }
}

impl Channel {
    /// The channels messages are sent on.
    pub const SENDABLE: [Channel; 2] = [Channel::Sms, Channel::Email];
    /// The channels messages only arrive on.
    pub const RECEIVE_ONLY: [Channel; 3] = [
        Channel::Whatsapp,
        Channel::FacebookMessenger,
        Channel::InstagramDm,
    ];
}

text_enum! {
    /// Whether a message (or a call) came from the contact or went to them.
    pub enum Direction {
        Inbound = "inbound",
        Outbound = "outbound",
    }
}

/// A channel as a request names it: one of the [`Channel`]s, or a name that is none of
/// them. An unknown name is not a malformed request: the send's checks refuse it with
/// `unsupported_channel`, as they refuse a channel that cannot be sent on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedChannel {
    Known(Channel),
    Unknown(String),
}

impl RequestedChannel {
    /// The name the request gave.
    pub fn name(&self) -> &str {
        match self {
            RequestedChannel::Known(channel) => channel.as_str(),
            RequestedChannel::Unknown(name) => name,
        }
    }
}

impl From<Channel> for RequestedChannel {
    fn from(channel: Channel) -> Self {
        RequestedChannel::Known(channel)
    }
}

/// Any string; anything else is refused as the string it should have been.
impl<'de> Deserialize<'de> for RequestedChannel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(match Channel::parse(&name) {
            Some(channel) => RequestedChannel::Known(channel),
            None => RequestedChannel::Unknown(name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_parse_and_serde() {
        for status in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(status.as_str()), Some(*status));
            assert_eq!(
                serde_json::to_string(status).unwrap(),
                format!("\"{status}\"")
            );
        }
        for channel in Channel::ALL {
            let json = format!("\"{channel}\"");
            assert_eq!(serde_json::from_str::<Channel>(&json).unwrap(), *channel);
        }
        assert_eq!(
            serde_json::to_string(&Channel::FacebookMessenger).unwrap(),
            "\"facebook_messenger\""
        );
        assert_eq!(MessageStatus::parse("Sent"), None);
    }

    /// The OpenAPI document names each value as the wire and the database do: a client
    /// generated from it, or Schemathesis checking responses against it, sees `"sms"`.
    #[test]
    fn the_openapi_schema_lists_the_wire_names() {
        use crate::db::calls::CallStatus;
        use crate::db::drafts::DraftChannel;
        use crate::db::scheduled_messages::ScheduledStatus;
        use utoipa::PartialSchema;

        fn listed<T: PartialSchema>() -> serde_json::Value {
            serde_json::to_value(T::schema()).unwrap()["enum"].clone()
        }
        fn names<T: std::fmt::Display>(all: &[T]) -> serde_json::Value {
            all.iter().map(ToString::to_string).collect()
        }
        assert_eq!(listed::<MessageStatus>(), names(MessageStatus::ALL));
        assert_eq!(listed::<Channel>(), names(Channel::ALL));
        assert_eq!(listed::<Direction>(), names(Direction::ALL));
        assert_eq!(listed::<CallStatus>(), names(CallStatus::ALL));
        assert_eq!(listed::<ScheduledStatus>(), names(ScheduledStatus::ALL));
        assert_eq!(listed::<DraftChannel>(), names(DraftChannel::ALL));
        assert_eq!(listed::<Channel>()[3], "instagram_dm");
    }

    #[test]
    fn a_requested_channel_keeps_a_name_it_does_not_know() {
        let known: RequestedChannel = serde_json::from_str("\"email\"").unwrap();
        assert_eq!(known, RequestedChannel::Known(Channel::Email));
        let unknown: RequestedChannel = serde_json::from_str("\"carrier-pigeon\"").unwrap();
        assert_eq!(unknown.name(), "carrier-pigeon");
        assert!(serde_json::from_str::<RequestedChannel>("5").is_err());
    }

    #[test]
    fn statuses_only_move_forward() {
        use MessageStatus::*;
        let moves = |to: MessageStatus, from: MessageStatus| to.replaces().contains(&from);
        assert!(moves(Delivered, Sent));
        assert!(!moves(Sent, Delivered));
        assert!(moves(Failed, Delivered));
        assert!(!moves(Failed, Received));
        assert!(!moves(Queued, Canceled));
        for status in MessageStatus::ALL {
            assert!(!moves(*status, *status), "{status} replaces itself");
        }
    }
}
