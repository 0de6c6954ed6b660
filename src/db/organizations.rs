use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::ids::OrganizationId;
use super::schema::organizations;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = organizations)]
pub struct OrganizationInsertForm<'a> {
    pub id: OrganizationId,
    pub name: &'a str,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &OrganizationInsertForm<'_>,
) -> QueryResult<Organization> {
    diesel::insert_into(organizations::table)
        .values(form)
        .returning(Organization::as_returning())
        .get_result(conn)
        .await
}

pub async fn get(conn: &mut AsyncPgConnection, org: OrganizationId) -> QueryResult<Organization> {
    organizations::table
        .find(org)
        .select(Organization::as_select())
        .get_result(conn)
        .await
}
