//! Messages: what was sent or received, on which channel, and where it stands.

use chrono::{DateTime, Utc};
use diesel::dsl::SqlTypeOf;
use diesel::prelude::*;
use diesel::sql_types::Array;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use foldhash::HashMap;
use serde::Serialize;

use super::ids::{
    ContactId, ContactMethodId, EmailAddressId, MessageId, OrganizationId, PhoneNumberId, UserId,
};
use super::message_fields::{Channel, Direction, MessageStatus};
use super::run_locks::{self, RunKey};
use super::schema::{contacts, messages};
use crate::timestamp;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: MessageId,
    pub organization_id: OrganizationId,
    pub contact_id: ContactId,
    pub phone_number_id: Option<PhoneNumberId>,
    pub email_address_id: Option<EmailAddressId>,
    pub contact_method_id: Option<ContactMethodId>,
    pub channel: Channel,
    pub direction: Direction,
    pub body: String,
    pub subject: Option<String>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub status: MessageStatus,
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

/// Declares [`MessageInsertForm`] and, from the same fields, the batch insert's columns
/// (see [`InsertMessages`]): each field is the column of its name, travelling as an array
/// of that column's SQL type. A new column is therefore one field here (and one on
/// [`Message`], which `recorded` fills from the form).
macro_rules! message_insert_form {
    (
        $(#[$meta:meta])*
        pub struct MessageInsertForm {
            $($(#[$field_meta:meta])* pub $field:ident: $ty:ty,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Insertable)]
        #[diesel(table_name = messages)]
        pub struct MessageInsertForm {
            $($(#[$field_meta])* pub $field: $ty,)+
        }

        /// The statement behind [`insert_many`]: the rows travel as one array per column,
        /// so its text is the same for any number of them and PostgreSQL prepares it once
        /// per connection (a multi-row `VALUES` is parsed and planned anew for every batch
        /// size).
        struct InsertMessages<'a> {
            run: RunKey,
            $($field: Vec<&'a $ty>,)+
        }

        impl<'a> InsertMessages<'a> {
            /// The columns, in the order of the arrays.
            const COLUMNS: &'static str = message_insert_form!(@columns $($field)+);

            fn new(run: RunKey, forms: &[&'a MessageInsertForm]) -> Self {
                InsertMessages {
                    run,
                    $($field: forms.iter().map(|form| &form.$field).collect(),)+
                }
            }

            /// The arrays, one per column in the order of `COLUMNS`, comma-separated.
            fn push_arrays<'b>(
                &'b self,
                out: &mut diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> QueryResult<()> {
                message_insert_form!(@arrays self out $($field)+);
                Ok(())
            }
        }
    };
    (@columns $first:ident $($rest:ident)*) => {
        concat!(stringify!($first) $(, ", ", stringify!($rest))*)
    };
    (@arrays $this:ident $out:ident $first:ident $($rest:ident)*) => {
        $out.push_bind_param::<Array<SqlTypeOf<messages::$first>>, _>(&$this.$first)?;
        $(
            $out.push_sql(", ");
            $out.push_bind_param::<Array<SqlTypeOf<messages::$rest>>, _>(&$this.$rest)?;
        )*
    };
}

message_insert_form! {
    /// A new message, inserted alone ([`insert`]) or with others ([`insert_many`]).
    pub struct MessageInsertForm {
        pub id: MessageId,
        pub organization_id: OrganizationId,
        pub contact_id: ContactId,
        pub phone_number_id: Option<PhoneNumberId>,
        pub email_address_id: Option<EmailAddressId>,
        pub contact_method_id: Option<ContactMethodId>,
        pub sender_user_id: Option<UserId>,
        pub channel: Channel,
        pub direction: Direction,
        pub body: String,
        pub status: MessageStatus,
        pub source: &'static str,
        pub subject: Option<String>,
        pub from_address: Option<String>,
        pub to_address: Option<String>,
        pub ai_origin: Option<String>,
        pub external_id: Option<String>,
        pub client_id: Option<String>,
        pub private: bool,
    }
}

/// A status report: the new status and what the carrier said with it.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub status: MessageStatus,
    pub external_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The report applies only while the message has no carrier id: delivery giving up
    /// on a message must not fail one the carrier has (its callbacks, or reconciling,
    /// recorded the id meanwhile), nor make it look retryable.
    pub unless_carrier_has_it: bool,
}

impl StatusChange {
    /// A report of `status` with nothing else to say.
    pub fn to(status: MessageStatus) -> Self {
        StatusChange {
            status,
            external_id: None,
            error_code: None,
            error_message: None,
            unless_carrier_has_it: false,
        }
    }
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

/// Stamps a message with an earlier time, and (when it counts as contact) moves its
/// contact's `last_contacted_at` to it: the demo's history, written at once, reads as if
/// it had happened over days.
pub async fn backdate(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    id: MessageId,
    at: DateTime<Utc>,
    moves_contact: bool,
) -> QueryResult<()> {
    diesel::update(
        messages::table
            .filter(messages::organization_id.eq(org))
            .filter(messages::id.eq(id)),
    )
    .set((messages::created_at.eq(at), messages::updated_at.eq(at)))
    .execute(conn)
    .await?;
    if moves_contact {
        diesel::update(
            contacts::table
                .filter(contacts::organization_id.eq(org))
                .filter(contacts::id.eq(contact)),
        )
        .set(contacts::last_contacted_at.eq(at))
        .execute(conn)
        .await?;
    }
    Ok(())
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
///
/// A message recorded `sending` is claimed by `run` (see `server_runs`).
pub async fn insert_many(
    conn: &mut AsyncPgConnection,
    run: RunKey,
    forms: &[&MessageInsertForm],
) -> QueryResult<Vec<Message>> {
    let written: HashMap<MessageId, Written> = InsertMessages::new(run, forms)
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
            channel: self.channel,
            direction: self.direction,
            body: self.body.clone(),
            subject: self.subject.clone(),
            from_address: self.from_address.clone(),
            to_address: self.to_address.clone(),
            status: self.status,
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

impl InsertMessages<'_> {
    /// What the statement needs of each new row: the contacts' sort key and `Written`.
    const RETURNED: &'static str =
        "id, organization_id, contact_id, private, created_at, updated_at";
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for InsertMessages<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH given AS (SELECT * FROM unnest(");
        self.push_arrays(&mut out)?;
        out.push_sql(") AS g(");
        out.push_sql(Self::COLUMNS);
        // A message recorded `sending` was claimed by this run as it was recorded.
        out.push_sql(")), claims AS (SELECT *, CASE WHEN status = 'sending' THEN ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.run.0)?;
        out.push_sql(" END AS claimed_by FROM given");
        // Only a message with an idempotency key can conflict (ids are fresh), and
        // `ON CONFLICT` costs every row it covers a speculative insertion: a second WAL
        // record and a check of each unique index before the row is written.
        out.push_sql("), keyed AS (INSERT INTO messages (");
        out.push_sql(Self::COLUMNS);
        out.push_sql(
            ", claimed_by) SELECT * FROM claims WHERE client_id IS NOT NULL ON CONFLICT DO NOTHING RETURNING ",
        );
        out.push_sql(Self::RETURNED);
        out.push_sql(
            "), \
             unkeyed AS (INSERT INTO messages (",
        );
        out.push_sql(Self::COLUMNS);
        out.push_sql(", claimed_by) SELECT * FROM claims WHERE client_id IS NULL RETURNING ");
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

/// A message's status and carrier id as they stand, deleted or not.
pub async fn standing(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
) -> QueryResult<Option<(MessageStatus, Option<String>)>> {
    messages::table
        .filter(messages::organization_id.eq(org))
        .filter(messages::id.eq(id))
        .select((messages::status, messages::external_id))
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

/// Whose messages a page holds.
#[derive(Debug, Clone, Copy)]
pub enum MessageScope<'a> {
    /// A contact's visible messages.
    Contact(ContactId),
    /// The texts to and from `phone` (E.164) of these contacts (those holding the
    /// number), across the organisation's numbers: the contacts' own messages
    /// (`messages_contact_idx`) filtered by the other party's number.
    SmsWith {
        contacts: &'a [ContactId],
        phone: &'a str,
    },
}

/// A page of the scope's messages, newest first, strictly older than `before`.
pub async fn page(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    scope: MessageScope<'_>,
    before: Option<(DateTime<Utc>, MessageId)>,
    limit: i64,
) -> QueryResult<Vec<Message>> {
    let mut query = messages::table
        .filter(messages::organization_id.eq(org))
        .filter(messages::deleted_at.is_null())
        .order((messages::created_at.desc(), messages::id.desc()))
        .limit(limit)
        .select(Message::as_select())
        .into_boxed();
    match scope {
        MessageScope::Contact(contact) => query = query.filter(messages::contact_id.eq(contact)),
        MessageScope::SmsWith { contacts, phone } => {
            let inbound = messages::direction
                .eq(Direction::Inbound)
                .and(messages::from_address.eq(phone));
            let outbound = messages::direction
                .eq(Direction::Outbound)
                .and(messages::to_address.eq(phone));
            query = query
                .filter(messages::contact_id.eq_any(contacts))
                .filter(messages::channel.eq(Channel::Sms))
                .filter(inbound.or(outbound));
        }
    }
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
    pub status: MessageStatus,
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

/// Applies status reports, one statement for all (each message at most once). A report
/// moves its message on if the current status may be replaced (see
/// [`MessageStatus::replaces`]), and then sets the error it carries; a carrier id is
/// recorded if the message has none yet, whatever its status, and a report naming
/// another carrier id than the message's is not about it. A report that moves a message
/// to `sending` records `run` as its claimant. Answers where the messages that changed
/// now stand: stale and repeated reports change nothing.
pub async fn advance_statuses(
    conn: &mut AsyncPgConnection,
    run: RunKey,
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
        run,
        organization_ids: reports.iter().map(|r| r.organization_id).collect(),
        contact_ids: reports.iter().map(|r| r.contact_id).collect(),
        ids: reports.iter().map(|r| r.id).collect(),
        statuses: reports.iter().map(|r| r.change.status).collect(),
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
        unless_carrier_has_it: reports
            .iter()
            .map(|r| r.change.unless_carrier_has_it)
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
    run: RunKey,
    organization_ids: Vec<OrganizationId>,
    contact_ids: Vec<ContactId>,
    ids: Vec<MessageId>,
    statuses: Vec<MessageStatus>,
    /// Per report, the statuses it may replace, comma-separated.
    replaceable: Vec<String>,
    external_ids: Vec<Option<String>>,
    error_codes: Vec<Option<String>>,
    error_messages: Vec<Option<String>>,
    unless_carrier_has_it: Vec<bool>,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for AdvanceStatuses {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Uuid};
        // SET and WHERE see the stored row as it was: `m.status = ANY(c.replaces)` is
        // "the report moves the message on".
        out.push_sql(
            "UPDATE messages AS m SET \
                 status = CASE WHEN m.status = ANY(c.replaces) THEN c.status ELSE m.status END, \
                 claimed_by = CASE WHEN m.status = ANY(c.replaces) AND c.status = 'sending' \
                     THEN ",
        );
        out.push_bind_param::<BigInt, _>(&self.run.0)?;
        out.push_sql(
            " ELSE m.claimed_by END, \
                 external_id = COALESCE(m.external_id, c.external_id), \
                 error_code = CASE WHEN m.status = ANY(c.replaces) \
                     THEN COALESCE(c.error_code, m.error_code) ELSE m.error_code END, \
                 error_message = CASE WHEN m.status = ANY(c.replaces) \
                     THEN COALESCE(c.error_message, m.error_message) ELSE m.error_message END, \
                 updated_at = now() \
             FROM (SELECT r.organization_id, r.contact_id, r.id, r.status, \
                          string_to_array(r.replaces, ',') AS replaces, \
                          r.external_id, r.error_code, r.error_message, r.unless_carrier_has_it \
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
        out.push_sql(", ");
        out.push_bind_param::<Array<Bool>, _>(&self.unless_carrier_has_it)?;
        out.push_sql(
            ") AS r(organization_id, contact_id, id, status, replaces, external_id, error_code, error_message, unless_carrier_has_it) \
             ) AS c \
             WHERE m.organization_id = c.organization_id AND m.id = c.id \
               AND m.contact_id = c.contact_id \
               AND (NOT c.unless_carrier_has_it OR m.external_id IS NULL) \
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

/// A claim that may be taken over by `run`: its run is gone (PostgreSQL freed its lock),
/// or it is `run`'s own (or one made before runs named themselves) and silent since
/// before `before` (its job ended without an answer). Never another live run's claim,
/// however old: that run may still be sending it, and taking it over by the clock alone
/// could send it twice.
fn claim_lapsed(
    run: RunKey,
    before: DateTime<Utc>,
) -> Box<dyn BoxableExpression<messages::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>>
{
    Box::new(
        messages::claimed_by
            .is_null()
            .or(messages::claimed_by.eq(run).assume_not_null())
            .and(messages::updated_at.lt(before))
            .or(run_locks::claimant_gone()),
    )
}

/// Outbound messages still queued since before `queued_before`, or left `sending`
/// without a carrier id by a run that is gone (or by `run` itself, since before
/// `sending_before`), across organisations, oldest first with when they last changed: the
/// outbox a restarted server resumes. (A cross-tenant read of the server's own
/// housekeeping; every message found goes back through its organisation.)
pub async fn stale_outbox(
    conn: &mut AsyncPgConnection,
    run: RunKey,
    queued_before: DateTime<Utc>,
    sending_before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<(OrganizationId, ContactId, MessageId, DateTime<Utc>)>> {
    let stale_queued = messages::status
        .eq(MessageStatus::Queued)
        .and(messages::updated_at.lt(queued_before));
    let abandoned = messages::status
        .eq(MessageStatus::Sending)
        .and(messages::external_id.is_null())
        .and(claim_lapsed(run, sending_before));
    messages::table
        .filter(stale_queued.or(abandoned))
        .filter(messages::direction.eq(Direction::Outbound))
        .filter(messages::private.eq(false))
        .filter(messages::deleted_at.is_null())
        .order(messages::updated_at)
        .limit(limit)
        .select((
            messages::organization_id,
            messages::contact_id,
            messages::id,
            messages::updated_at,
        ))
        .load(conn)
        .await
}

/// Takes over, for `run`, a message left `sending` (no carrier id) by a run that is gone,
/// or by `run` itself since before `before`; `None` when it is not (another run took it
/// over, its run is alive, or the carrier answered meanwhile).
pub async fn reclaim_sending(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: MessageId,
    run: RunKey,
    before: DateTime<Utc>,
) -> QueryResult<Option<Message>> {
    diesel::update(
        messages::table
            .filter(messages::organization_id.eq(org))
            .filter(messages::id.eq(id))
            .filter(messages::status.eq(MessageStatus::Sending))
            .filter(messages::external_id.is_null())
            .filter(claim_lapsed(run, before)),
    )
    .set((
        messages::updated_at.eq(diesel::dsl::now),
        messages::claimed_by.eq(Some(run)),
    ))
    .returning(Message::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// An SMS whose carrier is to be asked where it stands.
#[derive(Debug, QueryableByName)]
#[diesel(table_name = messages)]
pub struct Unsettled {
    pub organization_id: OrganizationId,
    pub contact_id: ContactId,
    pub id: MessageId,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub external_id: String,
}

/// Takes up to `limit` SMS the carrier took (they have its id) whose final status has
/// not come and about which it was not asked since before `before` (their callbacks may
/// have been lost while the server or the database was down), and notes that it is being
/// asked now, so another sweep or server does not ask too. Only messages created since
/// `created_after` count: a carrier that never reports more than `sent` for a message
/// is not asked forever. (Across organisations: the server's own housekeeping; each
/// answer goes back through its organisation.)
pub async fn take_unsettled(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    created_after: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Unsettled>> {
    use diesel::sql_types::{BigInt, Timestamptz};
    diesel::sql_query(
        "UPDATE messages SET carrier_checked_at = now() \
         WHERE (organization_id, id) IN ( \
           SELECT organization_id, id FROM messages \
           WHERE status IN ('sending', 'sent') AND channel = 'sms' AND direction = 'outbound' \
             AND external_id IS NOT NULL AND created_at > $2 \
             AND COALESCE(carrier_checked_at, updated_at) < $1 \
           ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING organization_id, contact_id, id, external_id",
    )
    .bind::<Timestamptz, _>(before)
    .bind::<Timestamptz, _>(created_after)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
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
            .filter(messages::status.eq(MessageStatus::Failed)),
    )
    .set((
        messages::status.eq(MessageStatus::Queued),
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
    let editable = [MessageStatus::Scheduled, MessageStatus::Queued];
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
    let canceled = diesel::dsl::case_when(
        messages::status.eq_any(MessageStatus::Canceled.replaces()),
        MessageStatus::Canceled.into_sql::<diesel::sql_types::Text>(),
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
