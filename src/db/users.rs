use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{OrganizationId, UserId};
use super::schema::users;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct UserInsertForm<'a> {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub permissions: &'a [String],
}

pub async fn insert(conn: &mut AsyncPgConnection, form: &UserInsertForm<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(form)
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

/// Finds an operator by login email. Not scoped by organisation: the email is what tells
/// us the organisation (emails are unique across the server).
pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Text>("lower(email)").eq(email.to_lowercase()),
        )
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}
