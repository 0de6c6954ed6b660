//! The numbers an organisation sends SMS/MMS from.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::ids::{OrganizationId, PhoneNumberId};
use super::schema::phone_numbers;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = phone_numbers)]
pub struct PhoneNumber {
    pub id: PhoneNumberId,
    pub phone_number: String,
    pub label: String,
    pub twilio_sid: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = phone_numbers)]
pub struct PhoneNumberInsertForm {
    pub id: PhoneNumberId,
    pub organization_id: OrganizationId,
    pub phone_number: String,
    pub label: String,
    pub twilio_sid: Option<String>,
}

#[derive(AsChangeset)]
#[diesel(table_name = phone_numbers)]
pub struct PhoneNumberUpdateForm {
    pub phone_number: Option<String>,
    pub label: Option<String>,
    pub twilio_sid: Option<Option<String>>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &PhoneNumberInsertForm,
) -> QueryResult<PhoneNumber> {
    diesel::insert_into(phone_numbers::table)
        .values(form)
        .returning(PhoneNumber::as_returning())
        .get_result(conn)
        .await
}

/// The organisation's numbers, oldest first (the first is the default sender).
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
) -> QueryResult<Vec<PhoneNumber>> {
    phone_numbers::table
        .filter(phone_numbers::organization_id.eq(org))
        .order(phone_numbers::id)
        .select(PhoneNumber::as_select())
        .load(conn)
        .await
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: PhoneNumberId,
) -> QueryResult<PhoneNumber> {
    phone_numbers::table
        .filter(phone_numbers::organization_id.eq(org))
        .filter(phone_numbers::id.eq(id))
        .select(PhoneNumber::as_select())
        .get_result(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: PhoneNumberId,
    form: &PhoneNumberUpdateForm,
) -> QueryResult<PhoneNumber> {
    diesel::update(
        phone_numbers::table
            .filter(phone_numbers::organization_id.eq(org))
            .filter(phone_numbers::id.eq(id)),
    )
    .set(form)
    .returning(PhoneNumber::as_returning())
    .get_result(conn)
    .await
}

pub async fn delete(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: PhoneNumberId,
) -> QueryResult<usize> {
    diesel::delete(
        phone_numbers::table
            .filter(phone_numbers::organization_id.eq(org))
            .filter(phone_numbers::id.eq(id)),
    )
    .execute(conn)
    .await
}

/// The organisation's sending number with this E.164 value.
pub async fn find_by_number(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    number: &str,
) -> QueryResult<Option<PhoneNumber>> {
    phone_numbers::table
        .filter(phone_numbers::organization_id.eq(org))
        .filter(phone_numbers::phone_number.eq(number))
        .select(PhoneNumber::as_select())
        .first(conn)
        .await
        .optional()
}
