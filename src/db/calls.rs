//! Calls: who called whom through which line, how it went, and what was said.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::ids::{CallId, ContactId, OrganizationId, PhoneNumberId};
use super::message_fields::Direction;
use super::schema::calls;
use super::text_enum::text_enum;
use crate::timestamp;

text_enum! {
    /// A call's lifecycle, as Twilio names it. Statuses only move forward: see
    /// [`CallStatus::replaces`].
    pub enum CallStatus {
        Queued = "queued",
        Ringing = "ringing",
        InProgress = "in-progress",
        Completed = "completed",
        Busy = "busy",
        NoAnswer = "no-answer",
        Failed = "failed",
        Canceled = "canceled",
    }
}

impl CallStatus {
    /// The statuses this one may overwrite. Twilio's callbacks arrive out of order and
    /// repeat; a call that ended stays ended, whatever late `ringing` comes in.
    pub fn replaces(self) -> &'static [CallStatus] {
        use CallStatus::*;
        match self {
            Queued => &[],
            Ringing => &[Queued],
            InProgress => &[Queued, Ringing],
            Completed | Busy | NoAnswer | Failed | Canceled => &[Queued, Ringing, InProgress],
        }
    }
}

/// A call, as the API and its events show it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = calls)]
pub struct Call {
    pub id: CallId,
    #[serde(skip)]
    pub organization_id: OrganizationId,
    pub contact_id: ContactId,
    pub phone_number_id: Option<PhoneNumberId>,
    pub direction: Direction,
    pub from_number: String,
    pub to_number: String,
    pub status: CallStatus,
    #[serde(serialize_with = "timestamp::serialize_option")]
    pub started_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i32>,
    pub recording_url: Option<String>,
    pub transcription: Option<String>,
    pub analysis: Option<String>,
    pub external_id: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = calls)]
pub struct CallInsertForm {
    pub id: CallId,
    pub organization_id: OrganizationId,
    pub contact_id: ContactId,
    pub phone_number_id: Option<PhoneNumberId>,
    pub direction: Direction,
    pub from_number: String,
    pub to_number: String,
    pub status: CallStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i32>,
    pub recording_url: Option<String>,
    pub transcription: Option<String>,
    pub analysis: Option<String>,
    pub external_id: Option<String>,
}

/// A partial update: `None` leaves a column alone, `Some(None)` clears it.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = calls)]
pub struct CallUpdateForm {
    pub status: Option<CallStatus>,
    pub started_at: Option<Option<DateTime<Utc>>>,
    pub duration_seconds: Option<Option<i32>>,
    pub recording_url: Option<Option<String>>,
    pub transcription: Option<Option<String>>,
    pub analysis: Option<Option<String>>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, form: &CallInsertForm) -> QueryResult<Call> {
    diesel::insert_into(calls::table)
        .values(form)
        .returning(Call::as_returning())
        .get_result(conn)
        .await
}

/// Stores a new call and moves its contact's `last_contacted_at`, in one transaction.
pub async fn record(conn: &mut AsyncPgConnection, form: &CallInsertForm) -> QueryResult<Call> {
    conn.transaction(async |conn| {
        let call = insert(conn, form).await?;
        super::contacts::touch_last_contacted(
            conn,
            call.organization_id,
            call.contact_id,
            call.created_at,
        )
        .await?;
        Ok(call)
    })
    .await
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: CallId,
) -> QueryResult<Call> {
    calls::table
        .filter(calls::organization_id.eq(org))
        .filter(calls::id.eq(id))
        .select(Call::as_select())
        .get_result(conn)
        .await
}

/// The call Twilio knows by `external_id` (its CallSid).
pub async fn find_by_external_id(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    external_id: &str,
) -> QueryResult<Option<Call>> {
    calls::table
        .filter(calls::organization_id.eq(org))
        .filter(calls::external_id.eq(external_id))
        .select(Call::as_select())
        .first(conn)
        .await
        .optional()
}

/// Applies `form` to the contact's call if its status is one of `from`; `None` when the
/// call is not there or has moved past them (a stale report).
pub async fn update(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    id: CallId,
    from: &[CallStatus],
    form: &CallUpdateForm,
) -> QueryResult<Option<Call>> {
    diesel::update(
        calls::table
            .filter(calls::organization_id.eq(org))
            .filter(calls::contact_id.eq(contact))
            .filter(calls::id.eq(id))
            .filter(calls::status.eq_any(from)),
    )
    .set(form)
    .returning(Call::as_returning())
    .get_result(conn)
    .await
    .optional()
}
