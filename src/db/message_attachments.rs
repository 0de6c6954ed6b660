//! Files attached to messages. An upload is pending (`message_id` NULL) until a message
//! takes it; it can be taken once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{AttachmentId, MessageId, OrganizationId};
use super::scheduled_messages::ScheduledStatus;
use super::schema::{message_attachments, scheduled_messages};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = message_attachments)]
pub struct Attachment {
    pub id: AttachmentId,
    pub organization_id: OrganizationId,
    pub message_id: Option<MessageId>,
    pub storage_key: String,
    pub content_type: String,
    pub file_name: String,
    pub file_size: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = message_attachments)]
pub struct AttachmentInsertForm {
    pub id: AttachmentId,
    pub organization_id: OrganizationId,
    pub storage_key: String,
    pub content_type: String,
    pub file_name: String,
    pub file_size: i64,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &AttachmentInsertForm,
) -> QueryResult<Attachment> {
    diesel::insert_into(message_attachments::table)
        .values(form)
        .returning(Attachment::as_returning())
        .get_result(conn)
        .await
}

/// The organisation's attachments among `ids`, locked until the transaction ends so two
/// sends cannot take the same pending upload.
pub async fn lock_many(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    ids: &[AttachmentId],
) -> QueryResult<Vec<Attachment>> {
    among(org, ids).for_update().load(conn).await
}

/// The organisation's attachments among `ids`.
pub async fn list_many(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    ids: &[AttachmentId],
) -> QueryResult<Vec<Attachment>> {
    among(org, ids).load(conn).await
}

#[diesel::dsl::auto_type(no_type_alias)]
fn among<'a>(org: OrganizationId, ids: &'a [AttachmentId]) -> _ {
    let select: diesel::dsl::AsSelect<Attachment, diesel::pg::Pg> = Attachment::as_select();
    message_attachments::table
        .filter(message_attachments::organization_id.eq(org))
        .filter(message_attachments::id.eq_any(ids))
        .select(select)
}

pub async fn link(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    ids: &[AttachmentId],
    message: MessageId,
) -> QueryResult<usize> {
    diesel::update(
        message_attachments::table
            .filter(message_attachments::organization_id.eq(org))
            .filter(message_attachments::id.eq_any(ids))
            .filter(message_attachments::message_id.is_null()),
    )
    .set(message_attachments::message_id.eq(message))
    .execute(conn)
    .await
}

pub async fn list_for_messages(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    messages: &[MessageId],
) -> QueryResult<Vec<Attachment>> {
    message_attachments::table
        .filter(message_attachments::organization_id.eq(org))
        .filter(message_attachments::message_id.eq_any(messages))
        .order(message_attachments::id)
        .select(Attachment::as_select())
        .load(conn)
        .await
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: AttachmentId,
) -> QueryResult<Attachment> {
    message_attachments::table
        .filter(message_attachments::organization_id.eq(org))
        .filter(message_attachments::id.eq(id))
        .select(Attachment::as_select())
        .get_result(conn)
        .await
}

/// Pending uploads created before `before`, across organisations: housekeeping's work.
/// (A cross-tenant read of the server's own; each is deleted within its organisation.)
/// Uploads a scheduled message still waits to take are not stale, however old.
pub async fn stale_pending(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Attachment>> {
    let awaited = scheduled_messages::table
        .filter(scheduled_messages::organization_id.eq(message_attachments::organization_id))
        .filter(scheduled_messages::status.eq_any(ScheduledStatus::WAITING))
        .filter(
            scheduled_messages::attachment_ids
                .contains(diesel::dsl::array((message_attachments::id,))),
        );
    message_attachments::table
        .filter(message_attachments::message_id.is_null())
        .filter(message_attachments::created_at.lt(before))
        .filter(diesel::dsl::not(diesel::dsl::exists(awaited)))
        .order(message_attachments::created_at)
        .limit(limit)
        .select(Attachment::as_select())
        .load(conn)
        .await
}

/// Deletes a pending upload's row; none if a message took it meanwhile.
pub async fn delete_pending(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: AttachmentId,
) -> QueryResult<usize> {
    diesel::delete(
        message_attachments::table
            .filter(message_attachments::organization_id.eq(org))
            .filter(message_attachments::id.eq(id))
            .filter(message_attachments::message_id.is_null()),
    )
    .execute(conn)
    .await
}
