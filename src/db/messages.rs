//! Messages: what was sent or received, on which channel, and where it stands.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use super::ids::{
    ContactId, ContactMethodId, EmailAddressId, MessageId, OrganizationId, PhoneNumberId, UserId,
};
use super::schema::messages;

/// The carrier lifecycle. Statuses only move forward: see [`MessageStatus::replaces`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Scheduled,
    Queued,
    Sending,
    Sent,
    Delivered,
    Undelivered,
    Failed,
    Received,
    Canceled,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Scheduled => "scheduled",
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Undelivered => "undelivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Received => "received",
            MessageStatus::Canceled => "canceled",
        }
    }

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

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: MessageId,
    pub organization_id: OrganizationId,
    pub contact_id: ContactId,
    pub phone_number_id: Option<PhoneNumberId>,
    pub email_address_id: Option<EmailAddressId>,
    pub contact_method_id: Option<ContactMethodId>,
    pub channel: String,
    pub direction: String,
    pub body: String,
    pub subject: Option<String>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub status: String,
    pub source: String,
    pub ai_origin: Option<String>,
    pub external_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub client_id: Option<String>,
    pub private: bool,
    pub sender_user_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = messages)]
pub struct MessageInsertForm {
    pub id: MessageId,
    pub organization_id: OrganizationId,
    pub contact_id: ContactId,
    pub phone_number_id: Option<PhoneNumberId>,
    pub email_address_id: Option<EmailAddressId>,
    pub contact_method_id: Option<ContactMethodId>,
    pub channel: &'static str,
    pub direction: &'static str,
    pub body: String,
    pub subject: Option<String>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub status: &'static str,
    pub source: &'static str,
    pub ai_origin: Option<String>,
    pub external_id: Option<String>,
    pub client_id: Option<String>,
    pub private: bool,
    pub sender_user_id: Option<UserId>,
}

/// A status report: the new status and what the carrier said with it.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub status: MessageStatus,
    pub external_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &MessageInsertForm,
) -> QueryResult<Message> {
    diesel::insert_into(messages::table)
        .values(form)
        .returning(Message::as_returning())
        .get_result(conn)
        .await
}

/// The message a carrier knows by `external_id` (its SID), deleted or not.
pub async fn find_by_external_id(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    external_id: &str,
) -> QueryResult<Option<Message>> {
    messages::table
        .filter(messages::organization_id.eq(org))
        .filter(messages::external_id.eq(external_id))
        .select(Message::as_select())
        .first(conn)
        .await
        .optional()
}

/// A message that has not been deleted.
pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
) -> QueryResult<Message> {
    messages::table
        .filter(messages::organization_id.eq(org))
        .filter(messages::id.eq(id))
        .filter(messages::deleted_at.is_null())
        .select(Message::as_select())
        .get_result(conn)
        .await
}

pub async fn find_by_client_id(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    client_id: &str,
) -> QueryResult<Option<Message>> {
    messages::table
        .filter(messages::organization_id.eq(org))
        .filter(messages::client_id.eq(client_id))
        .select(Message::as_select())
        .first(conn)
        .await
        .optional()
}

/// A page of a contact's visible messages, newest first, strictly older than `before`.
pub async fn list_for_contact(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    before: Option<(DateTime<Utc>, MessageId)>,
    limit: i64,
) -> QueryResult<Vec<Message>> {
    let mut query = messages::table
        .filter(messages::organization_id.eq(org))
        .filter(messages::contact_id.eq(contact))
        .filter(messages::deleted_at.is_null())
        .order((messages::created_at.desc(), messages::id.desc()))
        .limit(limit)
        .select(Message::as_select())
        .into_boxed();
    if let Some((at, id)) = before {
        query = query.filter(
            messages::created_at
                .lt(at)
                .or(messages::created_at.eq(at).and(messages::id.lt(id))),
        );
    }
    query.load(conn).await
}

/// The organisation number the contact most recently wrote to (replies go out from it).
pub async fn last_inbound_phone_number(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
) -> QueryResult<Option<PhoneNumberId>> {
    messages::table
        .filter(messages::organization_id.eq(org))
        .filter(messages::contact_id.eq(contact))
        .filter(messages::direction.eq("inbound"))
        .filter(messages::phone_number_id.is_not_null())
        .order((messages::created_at.desc(), messages::id.desc()))
        .select(messages::phone_number_id.assume_not_null())
        .first(conn)
        .await
        .optional()
}

/// Moves a message to a new status if its current one may be replaced; `None` when the
/// report is stale or repeated (the stored status already supersedes it).
pub async fn advance_status(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
    change: &StatusChange,
) -> QueryResult<Option<Message>> {
    let replaceable: Vec<&str> = change
        .status
        .replaces()
        .iter()
        .map(|s| s.as_str())
        .collect();
    diesel::update(
        messages::table
            .filter(messages::organization_id.eq(org))
            .filter(messages::id.eq(id))
            .filter(messages::status.eq_any(replaceable)),
    )
    .set((
        messages::status.eq(change.status.as_str()),
        // A report without these leaves the stored values alone.
        change
            .external_id
            .as_ref()
            .map(|sid| messages::external_id.eq(sid)),
        change
            .error_code
            .as_ref()
            .map(|code| messages::error_code.eq(code)),
        change
            .error_message
            .as_ref()
            .map(|text| messages::error_message.eq(text)),
        messages::updated_at.eq(diesel::dsl::now),
    ))
    .returning(Message::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Records the carrier's id for a message it accepted (once).
pub async fn record_external_id(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
    external_id: &str,
) -> QueryResult<Option<Message>> {
    diesel::update(
        messages::table
            .filter(messages::organization_id.eq(org))
            .filter(messages::id.eq(id))
            .filter(messages::external_id.is_null()),
    )
    .set((
        messages::external_id.eq(external_id),
        messages::updated_at.eq(diesel::dsl::now),
    ))
    .returning(Message::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Outbound messages still queued since before `queued_before`, or left `sending`
/// without a carrier id since before `sending_before`, across organisations: the outbox
/// a restarted server resumes. (A cross-tenant read of the server's own housekeeping;
/// every message found goes back through its organisation.)
pub async fn stale_outbox(
    conn: &mut AsyncPgConnection,
    queued_before: DateTime<Utc>,
    sending_before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<(OrganizationId, ContactId, MessageId)>> {
    let stale_queued = messages::status
        .eq(MessageStatus::Queued.as_str())
        .and(messages::updated_at.lt(queued_before));
    let abandoned = messages::status
        .eq(MessageStatus::Sending.as_str())
        .and(messages::external_id.is_null())
        .and(messages::updated_at.lt(sending_before));
    messages::table
        .filter(stale_queued.or(abandoned))
        .filter(messages::direction.eq("outbound"))
        .filter(messages::private.eq(false))
        .filter(messages::deleted_at.is_null())
        .order(messages::updated_at)
        .limit(limit)
        .select((
            messages::organization_id,
            messages::contact_id,
            messages::id,
        ))
        .load(conn)
        .await
}

/// Takes over a message left `sending` (no carrier id) since before `before`; `None`
/// when another process already did, or the carrier answered meanwhile.
pub async fn reclaim_sending(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
    before: DateTime<Utc>,
) -> QueryResult<Option<Message>> {
    diesel::update(
        messages::table
            .filter(messages::organization_id.eq(org))
            .filter(messages::id.eq(id))
            .filter(messages::status.eq(MessageStatus::Sending.as_str()))
            .filter(messages::external_id.is_null())
            .filter(messages::updated_at.lt(before)),
    )
    .set(messages::updated_at.eq(diesel::dsl::now))
    .returning(Message::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Puts a failed message back in the queue, clearing the old error.
pub async fn requeue_failed(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
) -> QueryResult<Option<Message>> {
    diesel::update(
        messages::table
            .filter(messages::organization_id.eq(org))
            .filter(messages::id.eq(id))
            .filter(messages::deleted_at.is_null())
            .filter(messages::status.eq(MessageStatus::Failed.as_str())),
    )
    .set((
        messages::status.eq(MessageStatus::Queued.as_str()),
        messages::error_code.eq(None::<String>),
        messages::error_message.eq(None::<String>),
        messages::updated_at.eq(diesel::dsl::now),
    ))
    .returning(Message::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Changes the text of a private note or of a message not yet handed to the carrier;
/// `None` when the message is gone or already on its way.
pub async fn edit(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
    body: Option<&str>,
    subject: Option<&str>,
) -> QueryResult<Option<Message>> {
    // Not yet handed to the carrier: the text can still change.
    let editable = [
        MessageStatus::Scheduled.as_str(),
        MessageStatus::Queued.as_str(),
    ];
    diesel::update(
        messages::table
            .filter(messages::organization_id.eq(org))
            .filter(messages::id.eq(id))
            .filter(messages::deleted_at.is_null())
            .filter(messages::private.or(messages::status.eq_any(editable))),
    )
    .set((
        body.map(|body| messages::body.eq(body)),
        subject.map(|subject| messages::subject.eq(subject)),
        messages::edited_at.eq(diesel::dsl::now),
        messages::updated_at.eq(diesel::dsl::now),
    ))
    .returning(Message::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Hides a message; one not yet handed to the carrier is also canceled.
pub async fn soft_delete(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
) -> QueryResult<Option<Message>> {
    let cancelable: Vec<&str> = MessageStatus::Canceled
        .replaces()
        .iter()
        .map(|s| s.as_str())
        .collect();
    let canceled = diesel::dsl::case_when(
        messages::status.eq_any(cancelable),
        MessageStatus::Canceled
            .as_str()
            .into_sql::<diesel::sql_types::Text>(),
    )
    .otherwise(messages::status);
    diesel::update(
        messages::table
            .filter(messages::organization_id.eq(org))
            .filter(messages::id.eq(id))
            .filter(messages::deleted_at.is_null()),
    )
    .set((
        messages::status.eq(canceled),
        messages::deleted_at.eq(diesel::dsl::now),
        messages::updated_at.eq(diesel::dsl::now),
    ))
    .returning(Message::as_returning())
    .get_result(conn)
    .await
    .optional()
}
