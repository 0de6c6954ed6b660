//! A contact's feed: its messages and calls in one timeline, read by one statement that
//! merges the newest of each (`messages_contact_idx`, `calls_contact_idx`) and pages
//! backwards by the key `(at, kind, id)`.

use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Int4, Nullable, Text, Timestamptz, Uuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::calls::{Call, CallStatus};
use super::ids::{CallId, ContactId, MessageId, OrganizationId};
use super::message_fields::{Channel, Direction, MessageStatus};
use super::messages::Message;

/// What an entry is. The text is also the key's middle part: at equal times, calls sort
/// before messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FeedKind {
    Call,
    Message,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Call => "call",
            FeedKind::Message => "message",
        }
    }

    pub fn parse(kind: &str) -> Option<FeedKind> {
        [FeedKind::Call, FeedKind::Message]
            .into_iter()
            .find(|known| known.as_str() == kind)
    }
}

/// An entry's place in the timeline: its time (`created_at`, which never changes), its
/// kind, and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedKey {
    pub at: DateTime<Utc>,
    pub kind: FeedKind,
    pub id: uuid::Uuid,
}

/// Which entries a page holds.
#[derive(Debug, Clone)]
pub struct FeedQuery {
    /// Message channels to include; none leaves messages out.
    pub channels: Vec<Channel>,
    pub calls: bool,
    /// Entries strictly older than this key.
    pub before: Option<FeedKey>,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub enum FeedEntry {
    Message(Message),
    Call(Call),
}

impl FeedEntry {
    pub fn key(&self) -> FeedKey {
        match self {
            FeedEntry::Message(message) => FeedKey {
                at: message.created_at,
                kind: FeedKind::Message,
                id: message.id.0,
            },
            FeedEntry::Call(call) => FeedKey {
                at: call.created_at,
                kind: FeedKind::Call,
                id: call.id.0,
            },
        }
    }
}

/// A page of the contact's feed, newest first.
pub async fn page(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    query: &FeedQuery,
) -> QueryResult<Vec<FeedEntry>> {
    let rows: Vec<FeedRow> = FeedStatement {
        org,
        contact,
        messages: !query.channels.is_empty(),
        channels: query.channels.clone(),
        messages_before: bound(query.before, FeedKind::Message),
        calls: query.calls,
        calls_before: bound(query.before, FeedKind::Call),
        limit: query.limit,
    }
    .load(conn)
    .await?;
    rows.into_iter().map(FeedRow::into_entry).collect()
}

/// The bound on one kind's `(created_at, id)` that "strictly before `key` in
/// `(at, kind, id)` order" comes to, so each branch of the statement is a plain range
/// of its index. No id is the nil or the max UUID.
fn bound(key: Option<FeedKey>, kind: FeedKind) -> (DateTime<Utc>, uuid::Uuid) {
    match key {
        None => (
            Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
                .single()
                .expect("a valid date"),
            uuid::Uuid::max(),
        ),
        Some(key) if kind < key.kind => (key.at, uuid::Uuid::max()),
        Some(key) if kind == key.kind => (key.at, key.id),
        Some(key) => (key.at, uuid::Uuid::nil()),
    }
}

/// The statement behind [`page`]. Its text never changes (a branch that is left out is
/// switched off by a parameter, which PostgreSQL checks once before scanning), so it is
/// prepared once per connection. Each branch takes at most `limit` rows from its index;
/// the merge keeps the newest `limit` of both.
#[derive(diesel::query_builder::QueryId)]
struct FeedStatement {
    org: OrganizationId,
    contact: ContactId,
    messages: bool,
    channels: Vec<Channel>,
    messages_before: (DateTime<Utc>, uuid::Uuid),
    calls: bool,
    calls_before: (DateTime<Utc>, uuid::Uuid),
    limit: i64,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for FeedStatement {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::BigInt;
        out.push_sql(
            "SELECT * FROM ((SELECT 'message' AS kind, m.id, m.organization_id, m.contact_id, \
                 m.phone_number_id, m.direction, m.status, m.external_id, \
                 m.from_address, m.to_address, m.created_at, m.updated_at, \
                 m.email_address_id, m.contact_method_id, m.channel, m.body, m.subject, m.source, \
                 m.ai_origin, m.error_code, m.error_message, m.client_id, m.private, \
                 m.sender_user_id, m.edited_at, m.deleted_at, \
                 NULL::timestamptz AS started_at, NULL::integer AS duration_seconds, \
                 NULL::text AS recording_url, NULL::text AS transcription, NULL::text AS analysis \
               FROM messages AS m WHERE ",
        );
        out.push_bind_param::<Bool, _>(&self.messages)?;
        out.push_sql(" AND m.organization_id = ");
        out.push_bind_param::<Uuid, _>(&self.org)?;
        out.push_sql(" AND m.contact_id = ");
        out.push_bind_param::<Uuid, _>(&self.contact)?;
        out.push_sql(" AND m.deleted_at IS NULL AND m.channel = ANY(");
        out.push_bind_param::<Array<Text>, _>(&self.channels)?;
        out.push_sql(") AND (m.created_at, m.id) < (");
        out.push_bind_param::<Timestamptz, _>(&self.messages_before.0)?;
        out.push_sql(", ");
        out.push_bind_param::<Uuid, _>(&self.messages_before.1)?;
        out.push_sql(") ORDER BY m.created_at DESC, m.id DESC LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(
            ") UNION ALL (SELECT 'call', c.id, c.organization_id, c.contact_id, \
                 c.phone_number_id, c.direction, c.status, c.external_id, \
                 c.from_number, c.to_number, c.created_at, c.updated_at, \
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
                 c.started_at, c.duration_seconds, c.recording_url, c.transcription, c.analysis \
               FROM calls AS c WHERE ",
        );
        out.push_bind_param::<Bool, _>(&self.calls)?;
        out.push_sql(" AND c.organization_id = ");
        out.push_bind_param::<Uuid, _>(&self.org)?;
        out.push_sql(" AND c.contact_id = ");
        out.push_bind_param::<Uuid, _>(&self.contact)?;
        out.push_sql(" AND (c.created_at, c.id) < (");
        out.push_bind_param::<Timestamptz, _>(&self.calls_before.0)?;
        out.push_sql(", ");
        out.push_bind_param::<Uuid, _>(&self.calls_before.1)?;
        out.push_sql(") ORDER BY c.created_at DESC, c.id DESC LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(")) AS feed ORDER BY created_at DESC, kind DESC, id DESC LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        Ok(())
    }
}

impl diesel::query_builder::Query for FeedStatement {
    type SqlType = diesel::sql_types::Untyped;
}

/// One row of the merged statement: the columns both kinds have, then each kind's own
/// (NULL on the other kind's rows).
#[derive(QueryableByName)]
struct FeedRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Uuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = Uuid)]
    organization_id: OrganizationId,
    #[diesel(sql_type = Uuid)]
    contact_id: ContactId,
    #[diesel(sql_type = Nullable<Uuid>)]
    phone_number_id: Option<super::ids::PhoneNumberId>,
    #[diesel(sql_type = Text)]
    direction: Direction,
    /// A message's or a call's: which, `kind` says.
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    external_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    from_address: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    to_address: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Uuid>)]
    email_address_id: Option<super::ids::EmailAddressId>,
    #[diesel(sql_type = Nullable<Uuid>)]
    contact_method_id: Option<super::ids::ContactMethodId>,
    #[diesel(sql_type = Nullable<Text>)]
    channel: Option<Channel>,
    #[diesel(sql_type = Nullable<Text>)]
    body: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    subject: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    source: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    ai_origin: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    error_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    error_message: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    client_id: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    private: Option<bool>,
    #[diesel(sql_type = Nullable<Uuid>)]
    sender_user_id: Option<super::ids::UserId>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    edited_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    deleted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    started_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Int4>)]
    duration_seconds: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    recording_url: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    transcription: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    analysis: Option<String>,
}

impl FeedRow {
    fn into_entry(self) -> QueryResult<FeedEntry> {
        let missing = |column: &str| {
            diesel::result::Error::DeserializationError(
                format!("a feed row lacks its {column}").into(),
            )
        };
        let unknown_status = || {
            diesel::result::Error::DeserializationError(
                format!("a feed row's status {:?} is unknown", self.status).into(),
            )
        };
        match FeedKind::parse(&self.kind) {
            Some(FeedKind::Message) => Ok(FeedEntry::Message(Message {
                id: MessageId(self.id),
                organization_id: self.organization_id,
                contact_id: self.contact_id,
                phone_number_id: self.phone_number_id,
                email_address_id: self.email_address_id,
                contact_method_id: self.contact_method_id,
                channel: self.channel.ok_or_else(|| missing("channel"))?,
                direction: self.direction,
                body: self.body.ok_or_else(|| missing("body"))?,
                subject: self.subject,
                from_address: self.from_address,
                to_address: self.to_address,
                status: MessageStatus::parse(&self.status).ok_or_else(unknown_status)?,
                source: self.source.ok_or_else(|| missing("source"))?,
                ai_origin: self.ai_origin,
                external_id: self.external_id,
                error_code: self.error_code,
                error_message: self.error_message,
                client_id: self.client_id,
                private: self.private.ok_or_else(|| missing("private"))?,
                sender_user_id: self.sender_user_id,
                created_at: self.created_at,
                updated_at: self.updated_at,
                edited_at: self.edited_at,
                deleted_at: self.deleted_at,
            })),
            Some(FeedKind::Call) => Ok(FeedEntry::Call(Call {
                id: CallId(self.id),
                organization_id: self.organization_id,
                contact_id: self.contact_id,
                phone_number_id: self.phone_number_id,
                direction: self.direction,
                from_number: self.from_address.ok_or_else(|| missing("from_number"))?,
                to_number: self.to_address.ok_or_else(|| missing("to_number"))?,
                status: CallStatus::parse(&self.status).ok_or_else(unknown_status)?,
                started_at: self.started_at,
                duration_seconds: self.duration_seconds,
                recording_url: self.recording_url,
                transcription: self.transcription,
                analysis: self.analysis,
                external_id: self.external_id,
                created_at: self.created_at,
                updated_at: self.updated_at,
            })),
            None => Err(missing("kind")),
        }
    }
}
