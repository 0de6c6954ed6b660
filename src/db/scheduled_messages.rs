//! Scheduled messages: what an operator asked to send later, and where each stands.
//!
//! The claim protocol the schedulers of every server share (see `scheduled` for why it
//! fires each row once): [`claim_due`] moves due rows to `firing`, numbering the claim
//! (`attempt`), naming the run that holds it (`claimed_by`) and giving it a lease
//! (`due_at`); [`finish`] and [`release`] are accepted
//! only from the attempt that holds the claim, so an attempt that outlived its lease
//! and was taken over cannot undo or repeat what its successor did.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::ids::{
    AttachmentId, ContactId, ContactMethodId, EmailAddressId, MessageId, OrganizationId,
    PhoneNumberId, ScheduledMessageId, UserId,
};
use super::message_fields::Channel;
use super::run_locks::{self, RunKey};
use super::schema::scheduled_messages;
use super::text_enum::text_enum;
use crate::timestamp;

text_enum! {
    /// Where a scheduled message stands: waiting, being sent (claimed), or done.
    pub enum ScheduledStatus {
        Pending = "pending",
        Firing = "firing",
        Sent = "sent",
        Canceled = "canceled",
        Failed = "failed",
    }
}

impl ScheduledStatus {
    /// Not done yet: waiting for its time, or being sent.
    pub const WAITING: [ScheduledStatus; 2] = [ScheduledStatus::Pending, ScheduledStatus::Firing];
}

/// A row, serialised as the API shows it (without the claim's workings).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = scheduled_messages)]
pub struct ScheduledMessage {
    pub id: ScheduledMessageId,
    #[serde(skip)]
    pub organization_id: OrganizationId,
    pub contact_id: ContactId,
    pub channel: Channel,
    pub body: String,
    pub subject: Option<String>,
    pub phone_number_id: Option<PhoneNumberId>,
    pub contact_phone_id: Option<ContactMethodId>,
    pub email_address_id: Option<EmailAddressId>,
    pub contact_email_id: Option<ContactMethodId>,
    pub attachment_ids: Vec<AttachmentId>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub send_at: DateTime<Utc>,
    pub status: ScheduledStatus,
    #[serde(skip)]
    pub due_at: DateTime<Utc>,
    #[serde(skip)]
    pub attempt: i32,
    #[serde(skip)]
    pub claimed_by: Option<RunKey>,
    pub message_id: Option<MessageId>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub cancel_on_reply: bool,
    #[serde(skip)]
    pub phi_override_reason: Option<String>,
    pub client_id: Option<String>,
    pub created_by: Option<UserId>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize_option")]
    pub fired_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = scheduled_messages)]
pub struct ScheduledInsertForm {
    pub id: ScheduledMessageId,
    pub organization_id: OrganizationId,
    pub contact_id: ContactId,
    pub channel: Channel,
    pub body: String,
    pub subject: Option<String>,
    pub phone_number_id: Option<PhoneNumberId>,
    pub contact_phone_id: Option<ContactMethodId>,
    pub email_address_id: Option<EmailAddressId>,
    pub contact_email_id: Option<ContactMethodId>,
    pub attachment_ids: Vec<AttachmentId>,
    pub send_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub cancel_on_reply: bool,
    pub phi_override_reason: Option<String>,
    pub client_id: Option<String>,
    pub created_by: Option<UserId>,
}

/// An edit of a pending row: `None` leaves a column alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = scheduled_messages)]
pub struct ScheduledUpdateForm {
    pub body: Option<String>,
    pub subject: Option<Option<String>>,
    pub send_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub phone_number_id: Option<Option<PhoneNumberId>>,
    pub cancel_on_reply: Option<bool>,
    pub phi_override_reason: Option<Option<String>>,
}

/// Inserts a row; `None` when the organisation used its `client_id` before.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &ScheduledInsertForm,
) -> QueryResult<Option<ScheduledMessage>> {
    diesel::insert_into(scheduled_messages::table)
        .values(form)
        .on_conflict_do_nothing()
        .returning(ScheduledMessage::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ScheduledMessageId,
) -> QueryResult<Option<ScheduledMessage>> {
    scheduled_messages::table
        .filter(scheduled_messages::organization_id.eq(org))
        .filter(scheduled_messages::id.eq(id))
        .select(ScheduledMessage::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_client_id(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    client_id: &str,
) -> QueryResult<Option<ScheduledMessage>> {
    scheduled_messages::table
        .filter(scheduled_messages::organization_id.eq(org))
        .filter(scheduled_messages::client_id.eq(client_id))
        .select(ScheduledMessage::as_select())
        .first(conn)
        .await
        .optional()
}

/// The organisation's rows (of `contacts`, when given), waiting ones first, then by time.
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contacts: Option<&[ContactId]>,
    status: Option<ScheduledStatus>,
    limit: i64,
) -> QueryResult<Vec<ScheduledMessage>> {
    let mut query = scheduled_messages::table
        .filter(scheduled_messages::organization_id.eq(org))
        .select(ScheduledMessage::as_select())
        .into_boxed();
    if let Some(contacts) = contacts {
        query = query.filter(scheduled_messages::contact_id.eq_any(contacts));
    }
    if let Some(status) = status {
        query = query.filter(scheduled_messages::status.eq(status));
    }
    query
        .order((
            // `false` sorts first: the rows still waiting to go out.
            scheduled_messages::status
                .ne_all(ScheduledStatus::WAITING)
                .asc(),
            scheduled_messages::send_at.asc(),
            scheduled_messages::id.asc(),
        ))
        .limit(limit)
        .load(conn)
        .await
}

/// Applies an edit to a row still `pending`; `None` when it is not (or not there).
pub async fn update_pending(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ScheduledMessageId,
    form: &ScheduledUpdateForm,
) -> QueryResult<Option<ScheduledMessage>> {
    diesel::update(pending(org, id))
        .set((form, scheduled_messages::updated_at.eq(diesel::dsl::now)))
        .returning(ScheduledMessage::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Cancels a row still `pending`; `None` when it is not (or not there).
pub async fn cancel_pending(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ScheduledMessageId,
) -> QueryResult<Option<ScheduledMessage>> {
    diesel::update(pending(org, id))
        .set((
            scheduled_messages::status.eq(ScheduledStatus::Canceled),
            scheduled_messages::updated_at.eq(diesel::dsl::now),
        ))
        .returning(ScheduledMessage::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Cancels the contact's pending rows that wait for a reply and were made before
/// `replied_at`, recording why.
pub async fn cancel_on_reply(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    replied_at: DateTime<Utc>,
) -> QueryResult<Vec<ScheduledMessage>> {
    diesel::update(
        scheduled_messages::table
            .filter(scheduled_messages::organization_id.eq(org))
            .filter(scheduled_messages::contact_id.eq(contact))
            .filter(scheduled_messages::status.eq(ScheduledStatus::Pending))
            .filter(scheduled_messages::cancel_on_reply.eq(true))
            .filter(scheduled_messages::created_at.lt(replied_at)),
    )
    .set((
        scheduled_messages::status.eq(ScheduledStatus::Canceled),
        scheduled_messages::error_code.eq("contact_replied"),
        scheduled_messages::error_message.eq("canceled: the contact replied before it was sent"),
        scheduled_messages::updated_at.eq(diesel::dsl::now),
    ))
    .returning(ScheduledMessage::as_returning())
    .get_results(conn)
    .await
}

/// Claims for `run` up to `limit` rows that are due at `now` (pending ones whose time
/// came, and firing ones whose claim's lease ran out or whose run is gone) across
/// organisations: each becomes `firing` under a new attempt number, leased until
/// `lease_until`. Rows another server is claiming at the same moment are skipped, not
/// waited for. (A cross-tenant read of the servers' own queue; every row claimed is
/// fired for its organisation.)
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    run: RunKey,
    limit: i64,
) -> QueryResult<Vec<ScheduledMessage>> {
    conn.transaction(async |conn| {
        // Two look-ups, each bounded by what it looks for (the rows whose time came, in
        // one index range; the few claims held now), rather than one that would test
        // every waiting row for an abandoned claim.
        let mut ids: Vec<ScheduledMessageId> = waiting()
            .filter(scheduled_messages::due_at.le(now))
            .order(scheduled_messages::due_at)
            .limit(limit)
            .select(scheduled_messages::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        let abandoned: Vec<ScheduledMessageId> = scheduled_messages::table
            .filter(scheduled_messages::status.eq(ScheduledStatus::Firing))
            .filter(scheduled_messages::due_at.gt(now))
            .filter(run_locks::claimant_gone_in("scheduled_messages.claimed_by"))
            .limit(limit)
            .select(scheduled_messages::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        ids.extend(abandoned);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(scheduled_messages::table.filter(scheduled_messages::id.eq_any(&ids)))
            .set(claimed(lease_until, run))
            .returning(ScheduledMessage::as_returning())
            .get_results(conn)
            .await
    })
    .await
}

/// Claims for `run` one pending row of the organisation now, whatever its time (send
/// now).
pub async fn claim_now(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ScheduledMessageId,
    lease_until: DateTime<Utc>,
    run: RunKey,
) -> QueryResult<Option<ScheduledMessage>> {
    diesel::update(pending(org, id))
        .set(claimed(lease_until, run))
        .returning(ScheduledMessage::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// When the next row waiting anywhere is due (or its claim's lease runs out).
pub async fn next_due(conn: &mut AsyncPgConnection) -> QueryResult<Option<DateTime<Utc>>> {
    waiting()
        .select(diesel::dsl::min(scheduled_messages::due_at))
        .get_result(conn)
        .await
}

/// How a claimed row ended.
pub enum Outcome {
    Sent(MessageId),
    Failed { code: &'static str, message: String },
}

/// The end of one claimed row's attempt.
pub struct Finish {
    pub organization_id: OrganizationId,
    pub id: ScheduledMessageId,
    pub attempt: i32,
    pub outcome: Outcome,
}

/// [`finish`]es several rows in one transaction (one commit to wait for rather than one
/// per row); answers for each, in order.
pub async fn finish_many(
    conn: &mut AsyncPgConnection,
    ends: Vec<Finish>,
) -> QueryResult<Vec<Option<ScheduledMessage>>> {
    conn.transaction(async |conn| {
        let mut done = Vec::with_capacity(ends.len());
        for end in ends {
            done.push(finish(conn, end.organization_id, end.id, end.attempt, end.outcome).await?);
        }
        Ok(done)
    })
    .await
}

/// Ends attempt `attempt` of a claimed row; `None` when that attempt no longer holds
/// the claim (its lease ran out and another attempt took the row over).
pub async fn finish(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ScheduledMessageId,
    attempt: i32,
    outcome: Outcome,
) -> QueryResult<Option<ScheduledMessage>> {
    let target = held(org, id, attempt);
    let now = diesel::dsl::now;
    let query = match outcome {
        Outcome::Sent(message) => {
            diesel::update(target)
                .set((
                    scheduled_messages::status.eq(ScheduledStatus::Sent),
                    scheduled_messages::message_id.eq(Some(message)),
                    scheduled_messages::fired_at.eq(now),
                    scheduled_messages::updated_at.eq(now),
                ))
                .returning(ScheduledMessage::as_returning())
                .get_result(conn)
                .await
        }
        Outcome::Failed { code, message } => {
            diesel::update(target)
                .set((
                    scheduled_messages::status.eq(ScheduledStatus::Failed),
                    scheduled_messages::error_code.eq(code),
                    scheduled_messages::error_message.eq(message),
                    scheduled_messages::fired_at.eq(now),
                    scheduled_messages::updated_at.eq(now),
                ))
                .returning(ScheduledMessage::as_returning())
                .get_result(conn)
                .await
        }
    };
    query.optional()
}

/// Gives a claimed row back to the queue, due again at `due_at` (quiet hours); false
/// when attempt `attempt` no longer holds the claim.
pub async fn release(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ScheduledMessageId,
    attempt: i32,
    due_at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(held(org, id, attempt))
        .set((
            scheduled_messages::status.eq(ScheduledStatus::Pending),
            scheduled_messages::due_at.eq(due_at),
            scheduled_messages::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(|changed| changed == 1)
}

type Table = scheduled_messages::table;
type Filtered<P> = diesel::dsl::Filter<Table, P>;

fn waiting() -> Filtered<diesel::dsl::EqAny<scheduled_messages::status, [ScheduledStatus; 2]>> {
    scheduled_messages::table.filter(scheduled_messages::status.eq_any(ScheduledStatus::WAITING))
}

#[diesel::dsl::auto_type(no_type_alias)]
fn pending(org: OrganizationId, id: ScheduledMessageId) -> _ {
    let status: ScheduledStatus = ScheduledStatus::Pending;
    scheduled_messages::table
        .filter(scheduled_messages::organization_id.eq(org))
        .filter(scheduled_messages::id.eq(id))
        .filter(scheduled_messages::status.eq(status))
}

#[diesel::dsl::auto_type(no_type_alias)]
fn held(org: OrganizationId, id: ScheduledMessageId, attempt: i32) -> _ {
    let status: ScheduledStatus = ScheduledStatus::Firing;
    scheduled_messages::table
        .filter(scheduled_messages::organization_id.eq(org))
        .filter(scheduled_messages::id.eq(id))
        .filter(scheduled_messages::status.eq(status))
        .filter(scheduled_messages::attempt.eq(attempt))
}

#[diesel::dsl::auto_type(no_type_alias)]
fn claimed(lease_until: DateTime<Utc>, run: RunKey) -> _ {
    let status: ScheduledStatus = ScheduledStatus::Firing;
    let run: Option<RunKey> = Some(run);
    (
        scheduled_messages::status.eq(status),
        scheduled_messages::attempt.eq(scheduled_messages::attempt + 1_i32),
        scheduled_messages::due_at.eq(lease_until),
        scheduled_messages::claimed_by.eq(run),
        scheduled_messages::updated_at.eq(diesel::dsl::now),
    )
}
