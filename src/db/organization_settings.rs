use chrono::{DateTime, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::OrganizationId;
use super::schema::organization_settings;

/// Carrier and mail settings. The `*_encrypted` columns hold ciphertext made with the
/// server's secret key (see `secrets::SecretKey`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organization_settings)]
pub struct OrganizationSettings {
    pub organization_id: OrganizationId,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token_encrypted: Option<Vec<u8>>,
    pub twilio_messaging_service_sid: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<i32>,
    pub smtp_username: Option<String>,
    pub smtp_password_encrypted: Option<Vec<u8>>,
    pub smtp_security: String,
    pub updated_at: DateTime<Utc>,
    /// Quiet hours (see `quiet_hours`): an IANA zone and local times, all set or none.
    pub quiet_hours_timezone: Option<String>,
    pub quiet_hours_start: Option<NaiveTime>,
    pub quiet_hours_end: Option<NaiveTime>,
}

/// A partial update: `None` leaves a column alone, `Some(None)` clears it.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = organization_settings)]
pub struct SettingsUpdateForm {
    pub twilio_account_sid: Option<Option<String>>,
    pub twilio_auth_token_encrypted: Option<Option<Vec<u8>>>,
    pub twilio_messaging_service_sid: Option<Option<String>>,
    pub smtp_host: Option<Option<String>>,
    pub smtp_port: Option<Option<i32>>,
    pub smtp_username: Option<Option<String>>,
    pub smtp_password_encrypted: Option<Option<Vec<u8>>>,
    pub smtp_security: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    pub quiet_hours_timezone: Option<Option<String>>,
    pub quiet_hours_start: Option<Option<NaiveTime>>,
    pub quiet_hours_end: Option<Option<NaiveTime>>,
}

/// Every organisation gets its (empty) settings row when it is created.
pub async fn insert_empty(conn: &mut AsyncPgConnection, org: OrganizationId) -> QueryResult<()> {
    diesel::insert_into(organization_settings::table)
        .values(organization_settings::organization_id.eq(org))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
) -> QueryResult<OrganizationSettings> {
    organization_settings::table
        .find(org)
        .select(OrganizationSettings::as_select())
        .get_result(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    form: &SettingsUpdateForm,
) -> QueryResult<OrganizationSettings> {
    diesel::update(organization_settings::table.find(org))
        .set(form)
        .returning(OrganizationSettings::as_returning())
        .get_result(conn)
        .await
}

/// The organisations whose settings name this Twilio account (usually one; several
/// organisations may share an account through subaccounts of their own).
pub async fn with_twilio_account(
    conn: &mut AsyncPgConnection,
    account_sid: &str,
) -> QueryResult<Vec<OrganizationSettings>> {
    // Not scoped by organisation: the webhook's account is what tells us which one.
    organization_settings::table
        .filter(organization_settings::twilio_account_sid.eq(account_sid))
        .select(OrganizationSettings::as_select())
        .load(conn)
        .await
}
