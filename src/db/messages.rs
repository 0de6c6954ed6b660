//! Messages: what was sent or received, on which channel, and where it stands.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use foldhash::{HashMap, HashSet, HashSetExt};
use serde::{Deserialize, Serialize};

use super::batcher::Batched;
use super::ids::{
    ContactId, ContactMethodId, EmailAddressId, MessageId, OrganizationId, PhoneNumberId, UserId,
};
use super::schema::messages;
use super::DbConn;
use crate::error::AppError;
use crate::timestamp;

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

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
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

/// A new message. The batch insert ([`insert_many`]) names these columns itself: a
/// field added here must be added to `InsertMessages` too (and `recorded` builds the
/// stored message from it).
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

/// Inserts several messages and moves their contacts' `last_contacted_at` (the contact
/// list's sort key) on to their newest message, in one statement: one round trip and one
/// commit, atomic as a whole. A message whose `client_id` the organisation used before
/// is skipped: it is missing from the answer.
///
/// The sort key moves at most once a second, never backwards, and private notes do not
/// move it. Each move leaves a dead row version and new entries in every index of
/// `contacts` (the key is indexed, so the update is never HOT); a contact in a busy
/// conversation would otherwise add one per message and slow every lookup of it until
/// autovacuum comes by. The stored key is therefore exact to a second; the live
/// `messaging.contact.updated` events carry the exact time.
pub async fn insert_many(
    conn: &mut AsyncPgConnection,
    forms: &[&MessageInsertForm],
) -> QueryResult<Vec<Message>> {
    let written: HashMap<MessageId, Written> = InsertMessages::new(forms)
        .load::<Written>(conn)
        .await?
        .into_iter()
        .map(|written| (written.id, written))
        .collect();
    Ok(forms
        .iter()
        .filter_map(|form| Some(form.recorded(written.get(&form.id)?)))
        .collect())
}

/// What the database adds to a new message: its timestamps. The rest is the form's, so
/// only these travel back (a whole row per message was most of the answer's bytes).
#[derive(QueryableByName)]
#[diesel(table_name = messages)]
struct Written {
    id: MessageId,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl MessageInsertForm {
    /// The message as stored from this form.
    fn recorded(&self, written: &Written) -> Message {
        Message {
            id: self.id,
            organization_id: self.organization_id,
            contact_id: self.contact_id,
            phone_number_id: self.phone_number_id,
            email_address_id: self.email_address_id,
            contact_method_id: self.contact_method_id,
            channel: self.channel.to_string(),
            direction: self.direction.to_string(),
            body: self.body.clone(),
            subject: self.subject.clone(),
            from_address: self.from_address.clone(),
            to_address: self.to_address.clone(),
            status: self.status.to_string(),
            source: self.source.to_string(),
            ai_origin: self.ai_origin.clone(),
            external_id: self.external_id.clone(),
            error_code: None,
            error_message: None,
            client_id: self.client_id.clone(),
            private: self.private,
            sender_user_id: self.sender_user_id,
            created_at: written.created_at,
            updated_at: written.updated_at,
            edited_at: None,
            deleted_at: None,
        }
    }
}

/// The statement behind [`insert_many`]: the rows travel as one array per column, so its
/// text is the same for any number of them and PostgreSQL prepares it once per
/// connection (a multi-row `VALUES` is parsed and planned anew for every batch size).
/// The columns are grouped by type, in the order of `COLUMNS`.
struct InsertMessages<'a> {
    uuids: [Vec<uuid::Uuid>; 3],
    optional_uuids: [Vec<Option<uuid::Uuid>>; 4],
    texts: [Vec<&'a str>; 5],
    optional_texts: [Vec<Option<&'a str>>; 6],
    private: Vec<bool>,
}

impl<'a> InsertMessages<'a> {
    const COLUMNS: &'static str = "id, organization_id, contact_id, \
        phone_number_id, email_address_id, contact_method_id, sender_user_id, \
        channel, direction, body, status, source, \
        subject, from_address, to_address, ai_origin, external_id, client_id, \
        private";
    /// What the statement needs of each new row: the contacts' sort key and `Written`.
    const RETURNED: &'static str =
        "id, organization_id, contact_id, private, created_at, updated_at";

    fn new(forms: &[&'a MessageInsertForm]) -> Self {
        fn column<'a, T>(
            forms: &[&'a MessageInsertForm],
            field: impl Fn(&'a MessageInsertForm) -> T,
        ) -> Vec<T> {
            forms.iter().map(|form| field(form)).collect()
        }
        InsertMessages {
            uuids: [
                column(forms, |f| f.id.0),
                column(forms, |f| f.organization_id.0),
                column(forms, |f| f.contact_id.0),
            ],
            optional_uuids: [
                column(forms, |f| f.phone_number_id.map(|id| id.0)),
                column(forms, |f| f.email_address_id.map(|id| id.0)),
                column(forms, |f| f.contact_method_id.map(|id| id.0)),
                column(forms, |f| f.sender_user_id.map(|id| id.0)),
            ],
            texts: [
                column(forms, |f| f.channel),
                column(forms, |f| f.direction),
                column(forms, |f| f.body.as_str()),
                column(forms, |f| f.status),
                column(forms, |f| f.source),
            ],
            optional_texts: [
                column(forms, |f| f.subject.as_deref()),
                column(forms, |f| f.from_address.as_deref()),
                column(forms, |f| f.to_address.as_deref()),
                column(forms, |f| f.ai_origin.as_deref()),
                column(forms, |f| f.external_id.as_deref()),
                column(forms, |f| f.client_id.as_deref()),
            ],
            private: column(forms, |f| f.private),
        }
    }
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for InsertMessages<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Bool, Nullable, Text, Uuid};
        out.push_sql("WITH given AS (SELECT * FROM unnest(");
        for values in &self.uuids {
            out.push_bind_param::<Array<Uuid>, _>(values)?;
            out.push_sql(", ");
        }
        for values in &self.optional_uuids {
            out.push_bind_param::<Array<Nullable<Uuid>>, _>(values)?;
            out.push_sql(", ");
        }
        for values in &self.texts {
            out.push_bind_param::<Array<Text>, _>(values)?;
            out.push_sql(", ");
        }
        for values in &self.optional_texts {
            out.push_bind_param::<Array<Nullable<Text>>, _>(values)?;
            out.push_sql(", ");
        }
        out.push_bind_param::<Array<Bool>, _>(&self.private)?;
        out.push_sql(") AS g(");
        out.push_sql(Self::COLUMNS);
        // Only a message with an idempotency key can conflict (ids are fresh), and
        // `ON CONFLICT` costs every row it covers a speculative insertion: a second WAL
        // record and a check of each unique index before the row is written.
        out.push_sql(")), keyed AS (INSERT INTO messages (");
        out.push_sql(Self::COLUMNS);
        out.push_sql(
            ") SELECT * FROM given WHERE client_id IS NOT NULL ON CONFLICT DO NOTHING RETURNING ",
        );
        out.push_sql(Self::RETURNED);
        out.push_sql(
            "), \
             unkeyed AS (INSERT INTO messages (",
        );
        out.push_sql(Self::COLUMNS);
        out.push_sql(") SELECT * FROM given WHERE client_id IS NULL RETURNING ");
        out.push_sql(Self::RETURNED);
        out.push_sql(
            "), \
             new AS (SELECT * FROM keyed UNION ALL SELECT * FROM unkeyed), ",
        );
        // The contacts' sort key: see `insert_many`.
        out.push_sql(
            "touched AS (UPDATE contacts AS c SET last_contacted_at = t.at \
                 FROM (SELECT organization_id, contact_id, max(created_at) AS at \
                       FROM new WHERE NOT private GROUP BY organization_id, contact_id) AS t \
                 WHERE c.organization_id = t.organization_id AND c.id = t.contact_id \
                   AND (c.last_contacted_at IS NULL \
                        OR c.last_contacted_at < t.at - interval '1 second')) \
             SELECT id, created_at, updated_at FROM new",
        );
        Ok(())
    }
}

/// One statement text whatever the rows, so prepared statements are cached by type.
impl diesel::query_builder::QueryId for InsertMessages<'_> {
    type QueryId = InsertMessages<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for InsertMessages<'_> {
    type SqlType = diesel::sql_types::Untyped;
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

/// Which of `sids` are the carrier ids of the organisation's messages other than `id`.
pub async fn carrier_ids_taken(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
    sids: &[String],
) -> QueryResult<Vec<String>> {
    messages::table
        .filter(messages::organization_id.eq(org))
        .filter(messages::external_id.eq_any(sids))
        .filter(messages::id.ne(id))
        .select(messages::external_id.assume_not_null())
        .load(conn)
        .await
}

/// The message a status callback names in its URL (see `DeliveryConfig::status_callback`),
/// deleted or not, unless it already has another carrier id than `sid`.
pub async fn find_for_callback(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
    sid: &str,
) -> QueryResult<Option<Message>> {
    messages::table
        .filter(messages::organization_id.eq(org))
        .filter(messages::id.eq(id))
        .filter(
            messages::external_id
                .is_null()
                .or(messages::external_id.eq(sid)),
        )
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

/// Where a message stands after a status report: what a `messaging.message.status`
/// event tells subscribers, and all a status report reads back (not the whole row).
#[derive(Debug, Clone, Serialize, QueryableByName)]
#[diesel(table_name = messages)]
pub struct StatusView {
    pub id: MessageId,
    pub status: String,
    pub external_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// A status report for one of an organisation's messages, from the actor of the contact
/// it belongs to (a report for another contact's message changes nothing).
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub organization_id: OrganizationId,
    pub contact_id: ContactId,
    pub id: MessageId,
    pub change: StatusChange,
}

/// Status reports written in batches (see `batcher`); each answer is where the message
/// now stands, or `None` when the report changed nothing.
pub struct ApplyStatuses;

impl Batched for ApplyStatuses {
    type Request = StatusReport;
    type Response = Option<StatusView>;

    async fn run(
        &self,
        conn: &mut DbConn,
        batch: Vec<StatusReport>,
    ) -> Vec<Result<Option<StatusView>, AppError>> {
        // One statement updates a row once: a message reported twice in the batch waits
        // for the next round, so the reports apply in the order they came.
        let mut answers: Vec<Option<Result<Option<StatusView>, AppError>>> =
            batch.iter().map(|_| None).collect();
        let mut waiting: Vec<usize> = (0..batch.len()).collect();
        while !waiting.is_empty() {
            let mut seen = HashSet::new();
            let (round, later): (Vec<usize>, Vec<usize>) = waiting
                .iter()
                .partition(|&&index| seen.insert(batch[index].id));
            let reports: Vec<StatusReport> =
                round.iter().map(|&index| batch[index].clone()).collect();
            match advance_statuses(conn, &reports).await {
                Ok(changed) => {
                    let mut changed: HashMap<MessageId, StatusView> = changed
                        .into_iter()
                        .map(|message| (message.id, message))
                        .collect();
                    for index in round {
                        answers[index] = Some(Ok(changed.remove(&batch[index].id)));
                    }
                }
                Err(error) => {
                    for index in round {
                        let failed = anyhow::anyhow!("applying status reports: {error}");
                        answers[index] = Some(Err(AppError::internal(failed)));
                    }
                }
            }
            waiting = later;
        }
        answers.into_iter().flatten().collect()
    }
}

/// Applies status reports, one statement for all (each message at most once). A report
/// moves its message on if the current status may be replaced (see
/// [`MessageStatus::replaces`]), and then sets the error it carries; a carrier id is
/// recorded if the message has none yet, whatever its status, and a report naming
/// another carrier id than the message's is not about it. Answers where the messages
/// that changed now stand: stale and repeated reports change nothing.
pub async fn advance_statuses(
    conn: &mut AsyncPgConnection,
    reports: &[StatusReport],
) -> QueryResult<Vec<StatusView>> {
    let replaceable = |report: &StatusReport| {
        let statuses: Vec<&str> = report
            .change
            .status
            .replaces()
            .iter()
            .map(|s| s.as_str())
            .collect();
        statuses.join(",")
    };
    AdvanceStatuses {
        organization_ids: reports.iter().map(|r| r.organization_id).collect(),
        contact_ids: reports.iter().map(|r| r.contact_id).collect(),
        ids: reports.iter().map(|r| r.id).collect(),
        statuses: reports.iter().map(|r| r.change.status.as_str()).collect(),
        replaceable: reports.iter().map(replaceable).collect(),
        external_ids: reports
            .iter()
            .map(|r| r.change.external_id.clone())
            .collect(),
        error_codes: reports
            .iter()
            .map(|r| r.change.error_code.clone())
            .collect(),
        error_messages: reports
            .iter()
            .map(|r| r.change.error_message.clone())
            .collect(),
    }
    .load(conn)
    .await
}

/// The statement behind [`advance_statuses`]: one row of arrays, so its text never
/// changes and PostgreSQL prepares it once per connection (`diesel::sql_query` would be
/// parsed and planned anew every time).
#[derive(diesel::query_builder::QueryId)]
struct AdvanceStatuses {
    organization_ids: Vec<OrganizationId>,
    contact_ids: Vec<ContactId>,
    ids: Vec<MessageId>,
    statuses: Vec<&'static str>,
    /// Per report, the statuses it may replace, comma-separated.
    replaceable: Vec<String>,
    external_ids: Vec<Option<String>>,
    error_codes: Vec<Option<String>>,
    error_messages: Vec<Option<String>>,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for AdvanceStatuses {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Nullable, Text, Uuid};
        // SET and WHERE see the stored row as it was: `m.status = ANY(c.replaces)` is
        // "the report moves the message on".
        out.push_sql(
            "UPDATE messages AS m SET \
                 status = CASE WHEN m.status = ANY(c.replaces) THEN c.status ELSE m.status END, \
                 external_id = COALESCE(m.external_id, c.external_id), \
                 error_code = CASE WHEN m.status = ANY(c.replaces) \
                     THEN COALESCE(c.error_code, m.error_code) ELSE m.error_code END, \
                 error_message = CASE WHEN m.status = ANY(c.replaces) \
                     THEN COALESCE(c.error_message, m.error_message) ELSE m.error_message END, \
                 updated_at = now() \
             FROM (SELECT r.organization_id, r.contact_id, r.id, r.status, \
                          string_to_array(r.replaces, ',') AS replaces, \
                          r.external_id, r.error_code, r.error_message \
                   FROM unnest(",
        );
        out.push_bind_param::<Array<Uuid>, _>(&self.organization_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Uuid>, _>(&self.contact_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Uuid>, _>(&self.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.statuses)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.replaceable)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.external_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.error_codes)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.error_messages)?;
        out.push_sql(
            ") AS r(organization_id, contact_id, id, status, replaces, external_id, error_code, error_message) \
             ) AS c \
             WHERE m.organization_id = c.organization_id AND m.id = c.id \
               AND m.contact_id = c.contact_id \
               AND (m.external_id IS NULL OR c.external_id IS NULL OR m.external_id = c.external_id) \
               AND (m.status = ANY(c.replaces) OR (m.external_id IS NULL AND c.external_id IS NOT NULL)) \
             RETURNING m.id, m.status, m.external_id, m.error_code, m.error_message, m.updated_at",
        );
        Ok(())
    }
}

impl diesel::query_builder::Query for AdvanceStatuses {
    type SqlType = diesel::sql_types::Untyped;
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

/// Puts a failed message back in the queue, clearing the old error and carrier id.
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
        // A new attempt is a new message to the carrier, with an id of its own.
        messages::external_id.eq(None::<String>),
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
