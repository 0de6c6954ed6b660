use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{ApiTokenId, OrganizationId, UserId};
use super::schema::{api_tokens, users};
use super::users::User;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub kind: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Insertable)]
#[diesel(table_name = api_tokens)]
pub struct ApiTokenInsertForm<'a> {
    pub id: ApiTokenId,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub token_hash: &'a [u8],
    pub kind: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &ApiTokenInsertForm<'_>,
) -> QueryResult<ApiToken> {
    diesel::insert_into(api_tokens::table)
        .values(form)
        .returning(ApiToken::as_returning())
        .get_result(conn)
        .await
}

/// The live (unrevoked, unexpired) token with this hash and its operator. Not scoped by
/// organisation: the token is what tells us the organisation.
pub async fn find_active(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> QueryResult<Option<(ApiToken, User)>> {
    api_tokens::table
        .inner_join(
            users::table.on(users::id
                .eq(api_tokens::user_id)
                .and(users::organization_id.eq(api_tokens::organization_id))),
        )
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(
            api_tokens::expires_at
                .is_null()
                .or(api_tokens::expires_at.gt(diesel::dsl::now)),
        )
        .select((ApiToken::as_select(), User::as_select()))
        .first(conn)
        .await
        .optional()
}

pub async fn revoke(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    token: ApiTokenId,
) -> QueryResult<()> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::organization_id.eq(org))
            .filter(api_tokens::id.eq(token)),
    )
    .set(api_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await
    .map(drop)
}
