//! Contact numbers that opted out of SMS from one of the organisation's numbers.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::ids::OrganizationId;
use super::schema::sms_opt_outs;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
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

pub async fn remove(
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
