//! The audit log: who did what (logins, settings and policy changes, deletions, PHI
//! overrides, opt-outs and opt-ins, canceled scheduled messages), never message text nor
//! secrets' values. Entries are written in the same transaction as the change they record.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{AuditLogId, OrganizationId, UserId};
use super::schema::audit_log;

#[derive(Debug, Clone, Insertable)]
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

impl<'a> AuditEntry<'a> {
    /// An entry for what happened without an operator: a webhook (STOP, START), or the
    /// server acting on one (a reply canceling scheduled messages).
    pub fn unattended(
        organization_id: OrganizationId,
        action: &'a str,
        subject_type: &'a str,
        subject_id: uuid::Uuid,
        details: serde_json::Value,
    ) -> Self {
        AuditEntry {
            id: AuditLogId::generate(),
            organization_id,
            user_id: None,
            action,
            subject_type,
            subject_id,
            details,
        }
    }
}

pub async fn record(conn: &mut AsyncPgConnection, entry: &AuditEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)
        .await
        .map(drop)
}

/// An entry as the API shows it.
#[derive(Debug, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = audit_log)]
#[schema(as = AuditEntry)]
pub struct Entry {
    pub id: AuditLogId,
    pub user_id: Option<UserId>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: uuid::Uuid,
    pub details: serde_json::Value,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Which entries to list.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub actor: Option<UserId>,
    pub action: Option<&'a str>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Entries older than this one (the previous page's last): ids are time-ordered.
    pub before: Option<AuditLogId>,
}

/// A page of the organisation's entries, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    filter: &Filter<'_>,
    limit: i64,
) -> QueryResult<Vec<Entry>> {
    let mut query = audit_log::table
        .filter(audit_log::organization_id.eq(org))
        .order(audit_log::id.desc())
        .limit(limit)
        .select(Entry::as_select())
        .into_boxed();
    if let Some(actor) = filter.actor {
        query = query.filter(audit_log::user_id.eq(actor));
    }
    if let Some(action) = filter.action {
        query = query.filter(audit_log::action.eq(action.to_string()));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_log::created_at.ge(since));
    }
    if let Some(before) = filter.before {
        query = query.filter(audit_log::id.lt(before));
    }
    query.load(conn).await
}
