//! The audit log: accountable changes (deletions, policy overrides), never message text.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{AuditLogId, OrganizationId, UserId};
use super::schema::audit_log;

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry<'a> {
    pub id: AuditLogId,
    pub organization_id: OrganizationId,
    pub user_id: Option<UserId>,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: uuid::Uuid,
    pub details: serde_json::Value,
}

pub async fn record(conn: &mut AsyncPgConnection, entry: &AuditEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)
        .await
        .map(drop)
}
