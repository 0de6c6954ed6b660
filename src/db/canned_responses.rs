//! Canned responses: an organisation's saved replies, each with a short code.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{CannedResponseId, OrganizationId};
use super::schema::canned_responses;

/// Enough for any organisation's saved replies; a list or a ranking reads at most this many.
pub const MAX_LISTED: i64 = 1000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = canned_responses)]
pub struct CannedResponse {
    pub id: CannedResponseId,
    pub organization_id: OrganizationId,
    pub short_code: String,
    pub title: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = canned_responses)]
pub struct CannedResponseInsertForm {
    pub id: CannedResponseId,
    pub organization_id: OrganizationId,
    pub short_code: String,
    pub title: String,
    pub content: String,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = canned_responses)]
pub struct CannedResponseUpdateForm {
    pub short_code: Option<String>,
    pub title: Option<String>,
    pub content: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &CannedResponseInsertForm,
) -> QueryResult<CannedResponse> {
    diesel::insert_into(canned_responses::table)
        .values(form)
        .returning(CannedResponse::as_returning())
        .get_result(conn)
        .await
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: CannedResponseId,
) -> QueryResult<CannedResponse> {
    canned_responses::table
        .filter(canned_responses::organization_id.eq(org))
        .filter(canned_responses::id.eq(id))
        .select(CannedResponse::as_select())
        .get_result(conn)
        .await
}

/// The organisation's canned responses by short code; with `search`, those whose short
/// code, title or content holds it (case-insensitive).
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    search: Option<&str>,
) -> QueryResult<Vec<CannedResponse>> {
    let mut query = canned_responses::table
        .filter(canned_responses::organization_id.eq(org))
        .order(canned_responses::short_code)
        .limit(MAX_LISTED)
        .select(CannedResponse::as_select())
        .into_boxed();
    if let Some(search) = search {
        let pattern = format!("%{}%", escape_like(search));
        query = query.filter(
            canned_responses::short_code
                .ilike(pattern.clone())
                .or(canned_responses::title.ilike(pattern.clone()))
                .or(canned_responses::content.ilike(pattern)),
        );
    }
    query.load(conn).await
}

/// `text` matched literally by LIKE (backslash is PostgreSQL's default escape).
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: CannedResponseId,
    form: &CannedResponseUpdateForm,
) -> QueryResult<CannedResponse> {
    diesel::update(
        canned_responses::table
            .filter(canned_responses::organization_id.eq(org))
            .filter(canned_responses::id.eq(id)),
    )
    .set(form)
    .returning(CannedResponse::as_returning())
    .get_result(conn)
    .await
}

/// Deletes the canned response; returns how many went (0 or 1).
pub async fn delete(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: CannedResponseId,
) -> QueryResult<usize> {
    diesel::delete(
        canned_responses::table
            .filter(canned_responses::organization_id.eq(org))
            .filter(canned_responses::id.eq(id)),
    )
    .execute(conn)
    .await
}
