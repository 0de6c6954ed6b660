//! Failed logins, kept for throttling (see `accounts::login`). Not scoped by
//! organisation: a login names none until it succeeds.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::login_failures;

/// How long a failed login counts towards the throttle.
pub const WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// Holds, until the transaction ends, the account's and the address's turn to count a
/// login attempt: attempts that read the counts at once would each see room for one
/// more, and a burst of parallel guesses would pass the throttle. Advisory locks on the
/// hashed names (`hashtext`; a collision only makes two names wait for each other), the
/// account's first, so two attempts never wait for each other both ways.
pub async fn lock(conn: &mut AsyncPgConnection, email: &str, source: &str) -> QueryResult<()> {
    for key in [
        format!("login account {email}"),
        format!("login address {source}"),
    ] {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(key)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn record(conn: &mut AsyncPgConnection, email: &str, source: &str) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::email.eq(email),
            login_failures::source.eq(source),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Failures since `since` for the account, and for the source address: how many, and
/// when the oldest of each happened.
pub async fn since(
    conn: &mut AsyncPgConnection,
    email: &str,
    source: &str,
    since: DateTime<Utc>,
) -> QueryResult<(Recent, Recent)> {
    let recent = login_failures::table
        .filter(login_failures::failed_at.gt(since))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(login_failures::failed_at),
        ));
    let by_email = recent
        .filter(login_failures::email.eq(email))
        .first::<(i64, Option<DateTime<Utc>>)>(conn)
        .await?;
    let by_source = recent
        .filter(login_failures::source.eq(source))
        .first::<(i64, Option<DateTime<Utc>>)>(conn)
        .await?;
    Ok((Recent::from(by_email), Recent::from(by_source)))
}

/// Recent failures of one account or one address.
#[derive(Debug, Clone, Copy)]
pub struct Recent {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

impl From<(i64, Option<DateTime<Utc>>)> for Recent {
    fn from((count, oldest): (i64, Option<DateTime<Utc>>)) -> Self {
        Recent { count, oldest }
    }
}

/// A successful login forgets the account's failures.
pub async fn forget_account(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email)))
        .execute(conn)
        .await
        .map(drop)
}

/// Failures older than any throttling window are of no use.
pub async fn forget_before(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::failed_at.lt(before)))
        .execute(conn)
        .await
}
