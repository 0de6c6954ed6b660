//! Files attached to messages. An upload is pending (`message_id` NULL) until a message
//! takes it; it can be taken once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{AttachmentId, MessageId, OrganizationId};
use super::schema::message_attachments;

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
    message_attachments::table
        .filter(message_attachments::organization_id.eq(org))
        .filter(message_attachments::id.eq_any(ids))
        .select(Attachment::as_select())
        .for_update()
        .load(conn)
        .await
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
pub async fn stale_pending(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Attachment>> {
    message_attachments::table
        .filter(message_attachments::message_id.is_null())
        .filter(message_attachments::created_at.lt(before))
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
