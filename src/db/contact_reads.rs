//! How far each operator has read each contact's conversation.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{ContactId, OrganizationId, UserId};
use super::message_fields::Direction;
use super::schema::{contact_reads, messages};

pub async fn mark_read(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    user: UserId,
    contact: ContactId,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(contact_reads::table)
        .values((
            contact_reads::organization_id.eq(org),
            contact_reads::user_id.eq(user),
            contact_reads::contact_id.eq(contact),
            contact_reads::last_read_at.eq(at),
        ))
        .on_conflict((
            contact_reads::organization_id,
            contact_reads::user_id,
            contact_reads::contact_id,
        ))
        .do_update()
        .set(contact_reads::last_read_at.eq(excluded(contact_reads::last_read_at)))
        .execute(conn)
        .await
        .map(drop)
}

/// Inbound messages the operator has not read, per contact (contacts with none are absent).
pub async fn unread_counts(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    user: UserId,
    contacts: &[ContactId],
) -> QueryResult<HashMap<ContactId, i64>> {
    let rows: Vec<(ContactId, i64)> = messages::table
        .left_join(
            contact_reads::table.on(contact_reads::organization_id
                .eq(messages::organization_id)
                .and(contact_reads::contact_id.eq(messages::contact_id))
                .and(contact_reads::user_id.eq(user))),
        )
        .filter(messages::organization_id.eq(org))
        .filter(messages::contact_id.eq_any(contacts))
        .filter(messages::direction.eq(Direction::Inbound))
        .filter(messages::deleted_at.is_null())
        .filter(
            contact_reads::last_read_at
                .is_null()
                .or(messages::created_at
                    .nullable()
                    .gt(contact_reads::last_read_at.nullable())),
        )
        .group_by(messages::contact_id)
        .select((messages::contact_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}
