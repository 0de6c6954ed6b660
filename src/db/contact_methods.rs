//! A contact's phone numbers and email addresses (one table, told apart by `kind`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{ContactId, ContactMethodId, OrganizationId};
use super::schema::contact_methods;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    Phone,
    Email,
}

impl MethodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Phone => "phone",
            MethodKind::Email => "email",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contact_methods)]
pub struct ContactMethod {
    pub id: ContactMethodId,
    pub contact_id: ContactId,
    pub kind: String,
    pub value: String,
    pub label: String,
    pub is_preferred: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = contact_methods)]
pub struct ContactMethodInsertForm {
    pub id: ContactMethodId,
    pub organization_id: OrganizationId,
    pub contact_id: ContactId,
    pub kind: &'static str,
    pub value: String,
    pub label: String,
    pub is_preferred: bool,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = contact_methods)]
pub struct ContactMethodUpdateForm {
    pub value: Option<String>,
    pub label: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    forms: &[ContactMethodInsertForm],
) -> QueryResult<Vec<ContactMethod>> {
    diesel::insert_into(contact_methods::table)
        .values(forms)
        .returning(ContactMethod::as_returning())
        .get_results(conn)
        .await
}

/// The phones and emails of several contacts, preferred first, then oldest first.
pub async fn list_for_contacts(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contacts: &[ContactId],
) -> QueryResult<Vec<ContactMethod>> {
    contact_methods::table
        .filter(contact_methods::organization_id.eq(org))
        .filter(contact_methods::contact_id.eq_any(contacts))
        .order((contact_methods::is_preferred.desc(), contact_methods::id))
        .select(ContactMethod::as_select())
        .load(conn)
        .await
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    kind: MethodKind,
    id: ContactMethodId,
) -> QueryResult<ContactMethod> {
    contact_methods::table
        .filter(contact_methods::organization_id.eq(org))
        .filter(contact_methods::contact_id.eq(contact))
        .filter(contact_methods::kind.eq(kind.as_str()))
        .filter(contact_methods::id.eq(id))
        .select(ContactMethod::as_select())
        .get_result(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ContactMethodId,
    form: &ContactMethodUpdateForm,
) -> QueryResult<ContactMethod> {
    diesel::update(
        contact_methods::table
            .filter(contact_methods::organization_id.eq(org))
            .filter(contact_methods::id.eq(id)),
    )
    .set(form)
    .returning(ContactMethod::as_returning())
    .get_result(conn)
    .await
}

/// Makes `id` the contact's one preferred entry of its kind.
pub async fn make_preferred(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    kind: MethodKind,
    id: ContactMethodId,
) -> QueryResult<()> {
    // Clear first: the partial unique index allows only one preferred row at any moment.
    diesel::update(
        contact_methods::table
            .filter(contact_methods::organization_id.eq(org))
            .filter(contact_methods::contact_id.eq(contact))
            .filter(contact_methods::kind.eq(kind.as_str()))
            .filter(contact_methods::is_preferred)
            .filter(contact_methods::id.ne(id)),
    )
    .set(contact_methods::is_preferred.eq(false))
    .execute(conn)
    .await?;
    diesel::update(
        contact_methods::table
            .filter(contact_methods::organization_id.eq(org))
            .filter(contact_methods::id.eq(id)),
    )
    .set(contact_methods::is_preferred.eq(true))
    .execute(conn)
    .await
    .map(drop)
}

pub async fn delete(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ContactMethodId,
) -> QueryResult<()> {
    diesel::delete(
        contact_methods::table
            .filter(contact_methods::organization_id.eq(org))
            .filter(contact_methods::id.eq(id)),
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The contact's preferred entry of a kind; when none is marked (the preferred one was
/// just removed), the oldest, which is the one to promote. `None` when there are none.
pub async fn preferred(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    kind: MethodKind,
) -> QueryResult<Option<ContactMethod>> {
    contact_methods::table
        .filter(contact_methods::organization_id.eq(org))
        .filter(contact_methods::contact_id.eq(contact))
        .filter(contact_methods::kind.eq(kind.as_str()))
        .order((contact_methods::is_preferred.desc(), contact_methods::id))
        .select(ContactMethod::as_select())
        .first(conn)
        .await
        .optional()
}

/// The oldest entry, across the organisation's contacts, with this exact value (for
/// matching an inbound sender to a contact).
pub async fn find_by_value(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    kind: MethodKind,
    value: &str,
) -> QueryResult<Option<ContactMethod>> {
    contact_methods::table
        .filter(contact_methods::organization_id.eq(org))
        .filter(contact_methods::kind.eq(kind.as_str()))
        .filter(contact_methods::value.eq(value))
        .order(contact_methods::id)
        .select(ContactMethod::as_select())
        .first(conn)
        .await
        .optional()
}
