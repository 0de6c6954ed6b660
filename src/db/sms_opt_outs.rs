//! Contact numbers that opted out of SMS from one of the organisation's numbers.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::audit_log::{self, AuditEntry};
use super::contact_methods::{self, MethodKind};
use super::ids::{ContactId, OrganizationId};
use super::schema::sms_opt_outs;
use crate::error::AppError;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = sms_opt_outs)]
pub struct OptOut {
    pub contact_number: String,
    pub org_number: String,
    pub keyword: String,
    pub created_at: DateTime<Utc>,
}

pub async fn record(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact_number: &str,
    org_number: &str,
    keyword: &str,
) -> QueryResult<()> {
    diesel::insert_into(sms_opt_outs::table)
        .values((
            sms_opt_outs::organization_id.eq(org),
            sms_opt_outs::contact_number.eq(contact_number),
            sms_opt_outs::org_number.eq(org_number),
            sms_opt_outs::keyword.eq(keyword),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

/// Records that `contact_number` opted out of SMS from `org_number` (with the keyword it
/// sent, or the carrier's error code that said so) and, when the number is a contact's,
/// audits it against that contact, in one transaction. The webhook's STOP and a send the
/// carrier refused as opted out both come here.
pub async fn record_and_audit(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact_number: &str,
    org_number: &str,
    keyword: &str,
) -> Result<(), AppError> {
    conn.transaction::<_, AppError, _>(async |conn| {
        record(conn, org, contact_number, org_number, keyword).await?;
        if let Some(method) =
            contact_methods::find_by_value(conn, org, MethodKind::Phone, contact_number).await?
        {
            let entry = keyword_entry(org, "sms.opt_out", method.contact_id, keyword, org_number);
            audit_log::record(conn, &entry).await?;
        }
        Ok(())
    })
    .await
}

/// Lifts `contact_number`'s opt-out of SMS from `org_number` (the contact wrote START,
/// YES or UNSTOP) and audits it against `contact`, in one transaction.
pub async fn remove_and_audit(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    contact_number: &str,
    org_number: &str,
    keyword: &str,
) -> Result<(), AppError> {
    conn.transaction::<_, AppError, _>(async |conn| {
        remove(conn, org, contact_number, org_number).await?;
        let entry = keyword_entry(org, "sms.opt_in", contact, keyword, org_number);
        Ok(audit_log::record(conn, &entry).await?)
    })
    .await
}

/// The audit entry for a keyword (`STOP`, `START`, `HELP`, ...) the contact texted to
/// `org_number`, or for the carrier's error code that said they opted out.
pub fn keyword_entry<'a>(
    org: OrganizationId,
    action: &'a str,
    contact: ContactId,
    keyword: &str,
    org_number: &str,
) -> AuditEntry<'a> {
    AuditEntry::unattended(
        org,
        action,
        "contact",
        contact.0,
        serde_json::json!({ "keyword": keyword, "org_number": org_number }),
    )
}

async fn remove(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact_number: &str,
    org_number: &str,
) -> QueryResult<()> {
    diesel::delete(
        sms_opt_outs::table
            .filter(sms_opt_outs::organization_id.eq(org))
            .filter(sms_opt_outs::contact_number.eq(contact_number))
            .filter(sms_opt_outs::org_number.eq(org_number)),
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The opt-outs of a contact's numbers.
pub async fn list_for_numbers(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact_numbers: &[String],
) -> QueryResult<Vec<OptOut>> {
    sms_opt_outs::table
        .filter(sms_opt_outs::organization_id.eq(org))
        .filter(sms_opt_outs::contact_number.eq_any(contact_numbers))
        .order(sms_opt_outs::created_at)
        .select(OptOut::as_select())
        .load(conn)
        .await
}
