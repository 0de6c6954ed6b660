//! A contact's communication feed: messages (texts, emails, notes) and calls in one
//! timeline, newest page first, each page oldest first, paged backwards by an opaque
//! cursor that names the last entry shown. Entries keep their place (`created_at`, then
//! kind, then id), so entries arriving meanwhile never shift a page: no gaps, no repeats.

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::cursor;
use crate::db::calls::Call;
use crate::db::contacts;
use crate::db::feed::{self as db_feed, FeedEntry, FeedKey, FeedKind, FeedQuery};
use crate::db::ids::ContactId;
use crate::db::message_fields::Channel;
use crate::error::AppError;
use crate::message_views::{self as views, MessageView};
use crate::state::AppState;
use crate::timestamp;

/// Which entries the feed shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeedFilter {
    /// Everything, private notes included.
    #[default]
    All,
    Calls,
    /// SMS/MMS and the other chat channels.
    Messages,
    Emails,
}

impl FeedFilter {
    fn channels(self) -> Vec<Channel> {
        match self {
            FeedFilter::All => Channel::ALL.to_vec(),
            FeedFilter::Calls => Vec::new(),
            FeedFilter::Messages => vec![
                Channel::Sms,
                Channel::Whatsapp,
                Channel::FacebookMessenger,
                Channel::InstagramDm,
            ],
            FeedFilter::Emails => vec![Channel::Email],
        }
    }

    fn calls(self) -> bool {
        matches!(self, FeedFilter::All | FeedFilter::Calls)
    }
}

/// One entry, shaped as its own API and events shape it (boxed: the views differ in size).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FeedItem {
    Message {
        #[serde(serialize_with = "timestamp::serialize")]
        at: DateTime<Utc>,
        message: Box<MessageView>,
    },
    Call {
        #[serde(serialize_with = "timestamp::serialize")]
        at: DateTime<Utc>,
        call: Box<Call>,
    },
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    /// The cursor of the page before this one; `None` at the start of the history.
    pub next_before: Option<String>,
}

/// A page of the contact's feed: the newest `limit` entries before the cursor `before`.
pub async fn page(
    state: &AppState,
    caller: &Caller,
    contact: ContactId,
    filter: FeedFilter,
    before: Option<&str>,
    limit: i64,
) -> Result<FeedPage, AppError> {
    let org = caller.organization_id;
    let query = FeedQuery {
        channels: filter.channels(),
        calls: filter.calls(),
        before: before.map(decode_cursor).transpose()?,
        // One extra entry tells whether another page follows.
        limit: limit + 1,
    };
    let mut conn = state.pool.get().await?;
    let mut entries = db_feed::page(&mut conn, org, contact, &query).await?;
    // Entries are the organisation's own, so a page with any proves the contact is; only
    // an empty one needs asking.
    if entries.is_empty() {
        contacts::get(&mut conn, org, contact)
            .await
            .optional()?
            .ok_or(AppError::NotFound("contact"))?;
    }
    let has_more = entries.len() as i64 > limit;
    entries.truncate(limit as usize);
    let next_before = has_more
        .then(|| entries.last().map(|entry| encode_cursor(entry.key())))
        .flatten();
    entries.reverse();

    let keys: Vec<FeedKey> = entries.iter().map(FeedEntry::key).collect();
    let (mut stored_messages, mut calls) = (Vec::new(), Vec::new());
    for entry in entries {
        match entry {
            FeedEntry::Message(message) => stored_messages.push(message),
            FeedEntry::Call(call) => calls.push(call),
        }
    }
    let config = state.caches.org(org).await?;
    let region = state.default_region;
    let mut message_views = views::views(&mut conn, &config, stored_messages, region)
        .await?
        .into_iter();
    let mut calls = calls.into_iter();
    // Both lists are in timeline order: weave them back together by kind.
    let items = keys
        .into_iter()
        .filter_map(|key| match key.kind {
            FeedKind::Message => message_views.next().map(|message| FeedItem::Message {
                at: key.at,
                message: Box::new(message),
            }),
            FeedKind::Call => calls.next().map(|call| FeedItem::Call {
                at: key.at,
                call: Box::new(call),
            }),
        })
        .collect();
    Ok(FeedPage { items, next_before })
}

/// The cursor as an opaque string: `<at µs>:<kind>:<id>`, base64url.
pub fn encode_cursor(key: FeedKey) -> String {
    let (at, kind) = (key.at.timestamp_micros(), key.kind.as_str());
    cursor::encode(&format!("{at}:{kind}:{}", key.id))
}

pub fn decode_cursor(text: &str) -> Result<FeedKey, AppError> {
    const FIELD: &str = "before";
    let decoded = cursor::decode(text, FIELD)?;
    let mut parts = decoded.splitn(3, ':');
    let (Some(at), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(cursor::invalid(FIELD));
    };
    Ok(FeedKey {
        at: cursor::time(at, FIELD)?,
        kind: FeedKind::parse(kind).ok_or_else(|| cursor::invalid(FIELD))?,
        id: id.parse().map_err(|_| cursor::invalid(FIELD))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let key = FeedKey {
            at: DateTime::from_timestamp_micros(1_796_000_000_123_456).unwrap(),
            kind: FeedKind::Call,
            id: uuid::Uuid::now_v7(),
        };
        assert_eq!(decode_cursor(&encode_cursor(key)).unwrap(), key);
        for bad in ["", "not base64!", "MTIzOmNhbGw", "MTIzOmZheDp4"] {
            let error = decode_cursor(bad).unwrap_err();
            assert!(
                matches!(error, AppError::BadRequest { field: Some(ref f), .. } if f == "before"),
                "{bad}"
            );
        }
    }
}
