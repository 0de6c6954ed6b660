//! A contact's phone numbers and email addresses (one table, told apart by `kind`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{ContactId, ContactMethodId, OrganizationId, PhoneNumberId};
use super::schema::{contact_methods, contacts, sms_opt_outs};

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

/// The organisation's contacts that have an entry with this exact value.
pub async fn contacts_with_value(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    kind: MethodKind,
    value: &str,
) -> QueryResult<Vec<ContactId>> {
    contact_methods::table
        .filter(contact_methods::organization_id.eq(org))
        .filter(contact_methods::kind.eq(kind.as_str()))
        .filter(contact_methods::value.eq(value))
        .select(contact_methods::contact_id)
        .distinct()
        .load(conn)
        .await
}

/// What a send needs to know about its recipient: every phone and email of the contact
/// (preferred first, then oldest first), which organisation numbers each phone opted out
/// of (and with which keyword), and the organisation number the contact last wrote to.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub methods: Vec<ContactMethod>,
    /// (contact number, organisation number, keyword).
    pub opt_outs: Vec<(String, String, String)>,
    pub last_inbound_number: Option<PhoneNumberId>,
}

/// The recipients among the organisation's `contacts`, in two statements however many
/// they are; a contact the organisation does not have is missing from the answer.
pub async fn recipients(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contacts: &[ContactId],
) -> QueryResult<HashMap<ContactId, Recipient>> {
    type Row = (
        ContactId,
        Option<ContactMethod>,
        Option<(String, String, String)>,
    );
    // The two look-ups are pipelined: both are sent before either answer is read, so
    // the batch waits for one round trip, not two.
    let methods = contacts::table
        .left_join(
            contact_methods::table.on(contact_methods::contact_id
                .eq(contacts::id)
                .and(contact_methods::organization_id.eq(contacts::organization_id))),
        )
        .left_join(
            sms_opt_outs::table.on(sms_opt_outs::organization_id
                .eq(contacts::organization_id)
                .and(sms_opt_outs::contact_number.eq(contact_methods::value))
                .and(contact_methods::kind.eq(MethodKind::Phone.as_str()))),
        )
        .filter(contacts::organization_id.eq(org))
        .filter(contacts::id.eq_any(contacts))
        .order((
            contacts::id,
            contact_methods::is_preferred.desc(),
            contact_methods::id,
        ))
        .select((
            contacts::id,
            Option::<ContactMethod>::as_select(),
            (
                sms_opt_outs::contact_number,
                sms_opt_outs::org_number,
                sms_opt_outs::keyword,
            )
                .nullable(),
        ))
        .load::<Row>(&mut &*conn);
    let last_inbound = LastInboundNumbers {
        org,
        contacts: contacts.to_vec(),
    }
    .load::<LastInboundNumber>(&mut &*conn);
    let (rows, last_inbound) = tokio::try_join!(methods, last_inbound)?;
    let mut found: HashMap<ContactId, Recipient> = HashMap::new();
    for (contact, method, opt_out) in rows {
        let recipient = found.entry(contact).or_insert_with(|| Recipient {
            methods: Vec::new(),
            opt_outs: Vec::new(),
            last_inbound_number: None,
        });
        if let Some(method) = method {
            if recipient
                .methods
                .last()
                .is_none_or(|last| last.id != method.id)
            {
                recipient.methods.push(method);
            }
        }
        recipient.opt_outs.extend(opt_out);
    }
    for last in last_inbound {
        if let Some(recipient) = found.get_mut(&last.contact_id) {
            recipient.last_inbound_number = Some(last.phone_number_id);
        }
    }
    Ok(found)
}

#[derive(QueryableByName)]
struct LastInboundNumber {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    contact_id: ContactId,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    phone_number_id: PhoneNumberId,
}

/// The organisation number each of `contacts` last wrote to (contacts that never wrote
/// are missing): the newest inbound message of each, so a long conversation costs no
/// more than a short one. A statement of its own for the `LATERAL … LIMIT 1`, which
/// diesel's DSL does not spell; the literal `'inbound'` lets the planner use the partial
/// index of inbound messages.
#[derive(diesel::query_builder::QueryId)]
struct LastInboundNumbers {
    org: OrganizationId,
    contacts: Vec<ContactId>,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for LastInboundNumbers {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Uuid};
        out.push_sql("SELECT c.id AS contact_id, m.phone_number_id FROM unnest(");
        out.push_bind_param::<Array<Uuid>, _>(&self.contacts)?;
        out.push_sql(
            ") AS c(id) CROSS JOIN LATERAL (\
                 SELECT phone_number_id FROM messages \
                 WHERE organization_id = ",
        );
        out.push_bind_param::<Uuid, _>(&self.org)?;
        out.push_sql(
            " AND contact_id = c.id AND direction = 'inbound' \
                   AND phone_number_id IS NOT NULL \
                 ORDER BY created_at DESC, id DESC LIMIT 1) AS m",
        );
        Ok(())
    }
}

impl diesel::query_builder::Query for LastInboundNumbers {
    type SqlType = diesel::sql_types::Untyped;
}
