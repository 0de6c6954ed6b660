//! The addresses an organisation sends email from.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::ids::{EmailAddressId, OrganizationId};
use super::schema::email_addresses;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = email_addresses)]
pub struct EmailAddress {
    pub id: EmailAddressId,
    pub address: String,
    pub display_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = email_addresses)]
pub struct EmailAddressInsertForm {
    pub id: EmailAddressId,
    pub organization_id: OrganizationId,
    pub address: String,
    pub display_name: Option<String>,
}

#[derive(AsChangeset)]
#[diesel(table_name = email_addresses)]
pub struct EmailAddressUpdateForm {
    pub address: Option<String>,
    pub display_name: Option<Option<String>>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &EmailAddressInsertForm,
) -> QueryResult<EmailAddress> {
    diesel::insert_into(email_addresses::table)
        .values(form)
        .returning(EmailAddress::as_returning())
        .get_result(conn)
        .await
}

/// The organisation's addresses, oldest first (the first is the default sender).
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
) -> QueryResult<Vec<EmailAddress>> {
    email_addresses::table
        .filter(email_addresses::organization_id.eq(org))
        .order(email_addresses::id)
        .select(EmailAddress::as_select())
        .load(conn)
        .await
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: EmailAddressId,
) -> QueryResult<EmailAddress> {
    email_addresses::table
        .filter(email_addresses::organization_id.eq(org))
        .filter(email_addresses::id.eq(id))
        .select(EmailAddress::as_select())
        .get_result(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: EmailAddressId,
    form: &EmailAddressUpdateForm,
) -> QueryResult<EmailAddress> {
    diesel::update(
        email_addresses::table
            .filter(email_addresses::organization_id.eq(org))
            .filter(email_addresses::id.eq(id)),
    )
    .set(form)
    .returning(EmailAddress::as_returning())
    .get_result(conn)
    .await
}

pub async fn delete(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: EmailAddressId,
) -> QueryResult<usize> {
    diesel::delete(
        email_addresses::table
            .filter(email_addresses::organization_id.eq(org))
            .filter(email_addresses::id.eq(id)),
    )
    .execute(conn)
    .await
}
