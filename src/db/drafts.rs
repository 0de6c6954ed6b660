//! Drafts: the reply each operator has half-written to each contact.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{ContactId, OrganizationId, UserId};
use super::schema::{drafts, messages};
use super::text_enum::text_enum;

text_enum! {
    /// What a draft will be: the channels an operator writes on.
    pub enum DraftChannel {
        Sms = "sms",
        Email = "email",
        Note = "note",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = drafts)]
pub struct Draft {
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub contact_id: ContactId,
    pub channel: DraftChannel,
    pub body: String,
    pub subject: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Keeps `draft` as the operator's draft for the contact, replacing any earlier one.
pub async fn save(conn: &mut AsyncPgConnection, draft: &Draft) -> QueryResult<Draft> {
    diesel::insert_into(drafts::table)
        .values(draft)
        .on_conflict((drafts::organization_id, drafts::user_id, drafts::contact_id))
        .do_update()
        .set((
            drafts::channel.eq(excluded(drafts::channel)),
            drafts::body.eq(excluded(drafts::body)),
            drafts::subject.eq(excluded(drafts::subject)),
            drafts::updated_at.eq(excluded(drafts::updated_at)),
        ))
        .returning(Draft::as_returning())
        .get_result(conn)
        .await
}

/// The operator's draft for the contact, unless the operator has sent the contact a
/// message (or added a note) since it was saved: sending spends a draft.
pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    user: UserId,
    contact: ContactId,
) -> QueryResult<Option<Draft>> {
    let sent_since = messages::table
        .filter(messages::organization_id.eq(drafts::organization_id))
        .filter(messages::contact_id.eq(drafts::contact_id))
        .filter(messages::sender_user_id.eq(drafts::user_id.nullable()))
        .filter(messages::created_at.ge(drafts::updated_at));
    drafts::table
        .filter(drafts::organization_id.eq(org))
        .filter(drafts::user_id.eq(user))
        .filter(drafts::contact_id.eq(contact))
        .filter(diesel::dsl::not(diesel::dsl::exists(sent_since)))
        .select(Draft::as_select())
        .first(conn)
        .await
        .optional()
}

/// Removes the operator's draft for the contact; returns how many went (0 or 1).
pub async fn delete(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    user: UserId,
    contact: ContactId,
) -> QueryResult<usize> {
    diesel::delete(
        drafts::table
            .filter(drafts::organization_id.eq(org))
            .filter(drafts::user_id.eq(user))
            .filter(drafts::contact_id.eq(contact)),
    )
    .execute(conn)
    .await
}
