//! What Switchboard knows of Twilio: its webhook signatures and its message statuses.

pub mod client;
pub mod signature;

use crate::db::message_fields::MessageStatus;

/// Twilio's MMS limits: ten media, 5 MB in all.
pub const MMS_MAX_FILES: usize = 10;
pub const MMS_MAX_BYTES: usize = 5 * 1024 * 1024;

/// Twilio's `MessageStatus` in our lifecycle; `None` for states we do not track
/// (`receiving`, `partially_delivered`, ...), which are acknowledged and ignored.
pub fn status(twilio: &str) -> Option<MessageStatus> {
    Some(match twilio {
        "accepted" | "queued" | "scheduled" => MessageStatus::Queued,
        "sending" => MessageStatus::Sending,
        "sent" => MessageStatus::Sent,
        "delivered" | "read" => MessageStatus::Delivered,
        "undelivered" => MessageStatus::Undelivered,
        "failed" => MessageStatus::Failed,
        "canceled" => MessageStatus::Canceled,
        _ => return None,
    })
}

/// A person-readable explanation of Twilio's common error codes, for operators.
pub fn error_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "20429" => "Twilio is rate limiting requests; the send was retried",
        "21211" => "the 'To' number is not a valid phone number",
        "21408" => "sending to this region is not enabled on the Twilio account",
        "21610" => "the recipient has opted out (replied STOP) and cannot be messaged",
        "21612" => "this 'From' number cannot send to the 'To' number",
        "21614" => "the 'To' number is not a mobile number that can receive SMS",
        "30003" => "the handset is unreachable (off, or out of coverage)",
        "30004" => "the message was blocked by the recipient or their carrier",
        "30005" => "the number is unknown or no longer in service",
        "30006" => "the number is a landline or unreachable carrier",
        "30007" => "the carrier filtered the message as spam",
        "30008" => "the carrier reported an unknown error",
        _ => return None,
    })
}
