use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{ContactId, OrganizationId};
use super::schema::{contact_methods, contacts};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contacts)]
pub struct Contact {
    pub id: ContactId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub lead_id: Option<String>,
    pub partner_id: Option<String>,
    pub last_contacted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = contacts)]
pub struct ContactInsertForm {
    pub id: ContactId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub lead_id: Option<String>,
    pub partner_id: Option<String>,
}

/// A partial update: `None` leaves a column alone, `Some(None)` clears it.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = contacts)]
pub struct ContactUpdateForm {
    pub name: Option<String>,
    pub lead_id: Option<Option<String>>,
    pub partner_id: Option<Option<String>>,
    pub updated_at: DateTime<Utc>,
}

/// Where the previous page of the contact list ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContactCursor {
    pub last_contacted_at: Option<DateTime<Utc>>,
    pub id: ContactId,
}

pub struct ContactListQuery<'a> {
    /// Matched against the name, every phone and every email (case-insensitive substring).
    pub search: Option<&'a str>,
    pub after: Option<ContactCursor>,
    pub limit: i64,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &ContactInsertForm,
) -> QueryResult<Contact> {
    diesel::insert_into(contacts::table)
        .values(form)
        .returning(Contact::as_returning())
        .get_result(conn)
        .await
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ContactId,
) -> QueryResult<Contact> {
    contacts::table
        .filter(contacts::organization_id.eq(org))
        .filter(contacts::id.eq(id))
        .select(Contact::as_select())
        .get_result(conn)
        .await
}

/// Which external record a contact stands for (see `find_by_reference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    Lead,
    Partner,
}

/// The contact that carries this lead or partner reference; when several do, the most
/// recently contacted (the one the conversation is going on with).
pub async fn find_by_reference(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    reference: Reference,
    value: &str,
) -> QueryResult<Option<Contact>> {
    let query = contacts::table
        .filter(contacts::organization_id.eq(org))
        .select(Contact::as_select())
        .order((
            contacts::last_contacted_at.desc().nulls_last(),
            contacts::id.desc(),
        ))
        .into_boxed();
    let query = match reference {
        Reference::Lead => query.filter(contacts::lead_id.eq(value)),
        Reference::Partner => query.filter(contacts::partner_id.eq(value)),
    };
    query.first(conn).await.optional()
}

/// Locks the contact row for the rest of the transaction, so concurrent edits of its
/// phones and emails apply one after another (the one-preferred rule depends on it).
pub async fn lock(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ContactId,
) -> QueryResult<Contact> {
    contacts::table
        .filter(contacts::organization_id.eq(org))
        .filter(contacts::id.eq(id))
        .select(Contact::as_select())
        .for_update()
        .get_result(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ContactId,
    form: &ContactUpdateForm,
) -> QueryResult<Contact> {
    diesel::update(
        contacts::table
            .filter(contacts::organization_id.eq(org))
            .filter(contacts::id.eq(id)),
    )
    .set(form)
    .returning(Contact::as_returning())
    .get_result(conn)
    .await
}

/// Deletes the contact with its phones and emails; returns how many contacts went.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ContactId,
) -> QueryResult<usize> {
    diesel::delete(
        contacts::table
            .filter(contacts::organization_id.eq(org))
            .filter(contacts::id.eq(id)),
    )
    .execute(conn)
    .await
}

/// A page of the organisation's contacts, most recently contacted first and
/// never-contacted last (ties broken by id, newest first), as the list index orders them.
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    query: &ContactListQuery<'_>,
) -> QueryResult<Vec<Contact>> {
    let mut statement = contacts::table
        .filter(contacts::organization_id.eq(org))
        .select(Contact::as_select())
        .order((
            contacts::last_contacted_at.desc().nulls_last(),
            contacts::id.desc(),
        ))
        .limit(query.limit)
        .into_boxed();
    if let Some(search) = query.search {
        statement = statement.filter(search_filter(org, search));
    }
    if let Some(after) = query.after {
        statement = statement.filter(after_cursor(after));
    }
    statement.load(conn).await
}

type ContactFilter = Box<dyn BoxableExpression<contacts::table, Pg, SqlType = Nullable<Bool>>>;

fn search_filter(org: OrganizationId, search: &str) -> ContactFilter {
    let pattern = format!("%{}%", escape_like(search));
    let matching_methods = contact_methods::table
        .filter(contact_methods::organization_id.eq(org))
        .filter(contact_methods::value.ilike(pattern.clone()))
        .select(contact_methods::contact_id);
    let mut filter: ContactFilter = Box::new(
        contacts::name
            .ilike(pattern)
            .or(contacts::id.eq_any(matching_methods))
            .nullable(),
    );
    // "(555) 010-2030" should find +15550102030: compare digits with the stored E.164.
    let digits: String = search.chars().filter(char::is_ascii_digit).collect();
    let looks_like_phone = search
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if digits.len() >= 3 && looks_like_phone && digits != search {
        let matching_phones = contact_methods::table
            .filter(contact_methods::organization_id.eq(org))
            .filter(contact_methods::kind.eq("phone"))
            .filter(contact_methods::value.like(format!("%{digits}%")))
            .select(contact_methods::contact_id);
        filter = Box::new(filter.or(contacts::id.eq_any(matching_phones)));
    }
    filter
}

fn after_cursor(after: ContactCursor) -> ContactFilter {
    match after.last_contacted_at {
        Some(at) => Box::new(
            contacts::last_contacted_at
                .lt(at)
                .or(contacts::last_contacted_at
                    .eq(at)
                    .and(contacts::id.lt(after.id)))
                .or(contacts::last_contacted_at.is_null().nullable()),
        ),
        None => Box::new(
            contacts::last_contacted_at
                .is_null()
                .and(contacts::id.lt(after.id))
                .nullable(),
        ),
    }
}

/// Makes `%`, `_` and `\` in user input match themselves in a LIKE pattern.
fn escape_like(input: &str) -> String {
    let mut escaped = String::with_capacity(input.len());
    for c in input.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Moves the contact's `last_contacted_at` (the contact list's sort key) on to `at`,
/// never backwards.
pub async fn touch_last_contacted(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ContactId,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        contacts::table
            .filter(contacts::organization_id.eq(org))
            .filter(contacts::id.eq(id))
            .filter(
                contacts::last_contacted_at
                    .is_null()
                    .or(contacts::last_contacted_at.lt(at)),
            ),
    )
    .set(contacts::last_contacted_at.eq(at))
    .execute(conn)
    .await
}
