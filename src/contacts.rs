//! Contacts with their phones and emails: the API's shapes and the rules that span
//! several rows (normalisation, exactly one preferred entry per kind), each change in
//! one transaction.

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use phonenumber::country;
use serde::{Deserialize, Serialize};

use crate::cursor;
use crate::db::contact_methods::{
    self, ContactMethod, ContactMethodInsertForm, ContactMethodUpdateForm, MethodKind,
};
use serde_json::json;

use crate::audit;
use crate::auth::Caller;
use crate::db::audit_log;
use crate::db::contact_reads;
use crate::db::contacts::{self, Contact, ContactCursor, ContactInsertForm, ContactUpdateForm};
use crate::db::ids::{ContactId, ContactMethodId, OrganizationId, UserId};
use crate::db::sms_opt_outs::{self, OptOut};
use crate::error::AppError;
use crate::validate;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub id: ContactId,
    pub name: String,
    pub lead_id: Option<String>,
    pub partner_id: Option<String>,
    pub last_contacted_at: Option<DateTime<Utc>>,
    /// Inbound messages the calling operator has not read.
    pub unread_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub phones: Vec<ContactPhoneView>,
    pub emails: Vec<ContactEmailView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactPhoneView {
    pub id: ContactMethodId,
    pub phone_number: String,
    pub label: String,
    pub is_preferred: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactEmailView {
    pub id: ContactMethodId,
    pub email: String,
    pub label: String,
    pub is_preferred: bool,
}

/// A phone or email as the API shows it under its own name.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ContactMethodView {
    Phone(ContactPhoneView),
    Email(ContactEmailView),
}

impl From<ContactMethod> for ContactMethodView {
    fn from(method: ContactMethod) -> Self {
        if method.kind == MethodKind::Phone.as_str() {
            ContactMethodView::Phone(ContactPhoneView {
                id: method.id,
                phone_number: method.value,
                label: method.label,
                is_preferred: method.is_preferred,
            })
        } else {
            ContactMethodView::Email(ContactEmailView {
                id: method.id,
                email: method.value,
                label: method.label,
                is_preferred: method.is_preferred,
            })
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub name: String,
    #[serde(default)]
    pub lead_id: Option<String>,
    #[serde(default)]
    pub partner_id: Option<String>,
    #[serde(default)]
    pub phones: Vec<NewPhone>,
    #[serde(default)]
    pub emails: Vec<NewEmail>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactChanges {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    pub lead_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    pub partner_id: Option<Option<String>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPhone {
    pub phone_number: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub is_preferred: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEmail {
    pub email: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub is_preferred: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneChanges {
    pub phone_number: Option<String>,
    pub label: Option<String>,
    pub is_preferred: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChanges {
    pub email: Option<String>,
    pub label: Option<String>,
    pub is_preferred: Option<bool>,
}

/// A phone or email entry reduced to what the rules need, whichever it is.
pub struct MethodInput {
    pub kind: MethodKind,
    pub value: Option<String>,
    pub label: Option<String>,
    pub is_preferred: Option<bool>,
}

impl From<NewPhone> for MethodInput {
    fn from(phone: NewPhone) -> Self {
        MethodInput {
            kind: MethodKind::Phone,
            value: Some(phone.phone_number),
            label: phone.label,
            is_preferred: Some(phone.is_preferred),
        }
    }
}

impl From<NewEmail> for MethodInput {
    fn from(email: NewEmail) -> Self {
        MethodInput {
            kind: MethodKind::Email,
            value: Some(email.email),
            label: email.label,
            is_preferred: Some(email.is_preferred),
        }
    }
}

impl From<PhoneChanges> for MethodInput {
    fn from(changes: PhoneChanges) -> Self {
        MethodInput {
            kind: MethodKind::Phone,
            value: changes.phone_number,
            label: changes.label,
            is_preferred: changes.is_preferred,
        }
    }
}

impl From<EmailChanges> for MethodInput {
    fn from(changes: EmailChanges) -> Self {
        MethodInput {
            kind: MethodKind::Email,
            value: changes.email,
            label: changes.label,
            is_preferred: changes.is_preferred,
        }
    }
}

/// The field names the API uses for a kind, so errors point at what the client sent.
fn field_names(kind: MethodKind) -> (&'static str, &'static str) {
    match kind {
        MethodKind::Phone => ("phones", "phone_number"),
        MethodKind::Email => ("emails", "email"),
    }
}

fn default_label(kind: MethodKind) -> &'static str {
    match kind {
        MethodKind::Phone => "mobile",
        MethodKind::Email => "personal",
    }
}

fn normalize_value(
    kind: MethodKind,
    raw: &str,
    region: country::Id,
    field: &str,
) -> Result<String, AppError> {
    match kind {
        MethodKind::Phone => validate::phone_number(raw, region, field),
        MethodKind::Email => validate::email(raw, field),
    }
}

/// Validates new entries of one kind and picks the preferred one: the one marked so,
/// else the first. Two marked preferred is an error. `in_list` says whether the entries
/// came as a list in a contact (errors then name `phones[1].phone_number`).
fn prepare_methods(
    org: OrganizationId,
    contact: ContactId,
    kind: MethodKind,
    inputs: Vec<MethodInput>,
    region: country::Id,
    in_list: bool,
) -> Result<Vec<ContactMethodInsertForm>, AppError> {
    let (list_field, value_field) = field_names(kind);
    let field = |index: usize, name: &str| {
        if in_list {
            format!("{list_field}[{index}].{name}")
        } else {
            name.to_string()
        }
    };
    let marked = inputs
        .iter()
        .filter(|input| input.is_preferred == Some(true))
        .count();
    if marked > 1 {
        return Err(AppError::invalid(
            list_field,
            format!("only one entry in `{list_field}` can be preferred"),
        ));
    }
    inputs
        .into_iter()
        .enumerate()
        .map(|(index, input)| {
            let raw = input.value.unwrap_or_default();
            let value = normalize_value(kind, &raw, region, &field(index, value_field))?;
            let label = validate::optional_text(input.label.as_deref(), &field(index, "label"))?;
            Ok(ContactMethodInsertForm {
                id: ContactMethodId::generate(),
                organization_id: org,
                contact_id: contact,
                kind: kind.as_str(),
                value,
                label: label.unwrap_or_else(|| default_label(kind).to_string()),
                is_preferred: if marked == 0 {
                    index == 0
                } else {
                    input.is_preferred == Some(true)
                },
            })
        })
        .collect()
}

/// Shapes contacts for the API as `reader` sees them, loading all their phones and
/// emails in one query and their unread counts in another.
pub async fn views(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    reader: UserId,
    list: Vec<Contact>,
) -> Result<Vec<ContactView>, AppError> {
    let ids: Vec<ContactId> = list.iter().map(|contact| contact.id).collect();
    let mut methods = contact_methods::list_for_contacts(conn, org, &ids).await?;
    let unread = contact_reads::unread_counts(conn, org, reader, &ids).await?;
    Ok(list
        .into_iter()
        .map(|contact| {
            let mut view = ContactView {
                id: contact.id,
                name: contact.name,
                lead_id: contact.lead_id,
                partner_id: contact.partner_id,
                last_contacted_at: contact.last_contacted_at,
                unread_count: unread.get(&contact.id).copied().unwrap_or(0),
                created_at: contact.created_at,
                updated_at: contact.updated_at,
                phones: Vec::new(),
                emails: Vec::new(),
            };
            let (mine, rest) = methods
                .drain(..)
                .partition(|method| method.contact_id == contact.id);
            methods = rest;
            for method in mine {
                match ContactMethodView::from(method) {
                    ContactMethodView::Phone(phone) => view.phones.push(phone),
                    ContactMethodView::Email(email) => view.emails.push(email),
                }
            }
            view
        })
        .collect())
}

pub async fn view(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    reader: UserId,
    id: ContactId,
) -> Result<ContactView, AppError> {
    let contact = find(conn, org, id).await?;
    let mut list = views(conn, org, reader, vec![contact]).await?;
    Ok(list.remove(0))
}

async fn find(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ContactId,
) -> Result<Contact, AppError> {
    contacts::get(conn, org, id)
        .await
        .optional()?
        .ok_or(AppError::NotFound("contact"))
}

/// Which of the contact's numbers opted out of SMS, from which of ours.
pub async fn opt_outs(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: ContactId,
) -> Result<Vec<OptOut>, AppError> {
    find(conn, org, id).await?;
    let numbers: Vec<String> = contact_methods::list_for_contacts(conn, org, &[id])
        .await?
        .into_iter()
        .filter(|method| method.kind == MethodKind::Phone.as_str())
        .map(|method| method.value)
        .collect();
    Ok(sms_opt_outs::list_for_numbers(conn, org, &numbers).await?)
}

/// Creates a contact with its phones and emails, in one transaction.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    region: country::Id,
    new: NewContact,
) -> Result<ContactId, AppError> {
    let id = ContactId::generate();
    let form = ContactInsertForm {
        id,
        organization_id: org,
        name: validate::required_text(&new.name, "name")?,
        lead_id: validate::optional_text(new.lead_id.as_deref(), "lead_id")?,
        partner_id: validate::optional_text(new.partner_id.as_deref(), "partner_id")?,
    };
    let phones = new.phones.into_iter().map(MethodInput::from).collect();
    let emails = new.emails.into_iter().map(MethodInput::from).collect();
    let mut methods = prepare_methods(org, id, MethodKind::Phone, phones, region, true)?;
    methods.extend(prepare_methods(
        org,
        id,
        MethodKind::Email,
        emails,
        region,
        true,
    )?);
    conn.transaction::<_, AppError, _>(async |conn| {
        contacts::insert(conn, &form).await?;
        if !methods.is_empty() {
            contact_methods::insert(conn, &methods).await?;
        }
        Ok(())
    })
    .await?;
    Ok(id)
}

/// Creates a contact and shows it as `reader` sees it.
pub async fn create(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    reader: UserId,
    region: country::Id,
    new: NewContact,
) -> Result<ContactView, AppError> {
    let id = insert(conn, org, region, new).await?;
    view(conn, org, reader, id).await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    reader: UserId,
    id: ContactId,
    changes: ContactChanges,
) -> Result<ContactView, AppError> {
    let form = ContactUpdateForm {
        name: changes
            .name
            .as_deref()
            .map(|name| validate::required_text(name, "name"))
            .transpose()?,
        lead_id: changes
            .lead_id
            .map(|lead| validate::optional_text(lead.as_deref(), "lead_id"))
            .transpose()?,
        partner_id: changes
            .partner_id
            .map(|partner| validate::optional_text(partner.as_deref(), "partner_id"))
            .transpose()?,
        updated_at: Utc::now(),
    };
    contacts::update(conn, org, id, &form)
        .await
        .optional()?
        .ok_or(AppError::NotFound("contact"))?;
    view(conn, org, reader, id).await
}

/// Deletes the contact (and with it its conversation), audited.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: ContactId,
) -> Result<(), AppError> {
    conn.transaction::<_, AppError, _>(async |conn| {
        match contacts::delete(conn, caller.organization_id, id).await? {
            0 => Err(AppError::NotFound("contact")),
            _ => {
                let entry = audit::by(caller, "contact.deleted", "contact", id.0, json!({}));
                Ok(audit_log::record(conn, &entry).await?)
            }
        }
    })
    .await
}

/// Adds a phone or email to a contact. Marked preferred (or the contact's first of its
/// kind), it becomes the one preferred entry.
pub async fn add_method(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    region: country::Id,
    input: MethodInput,
) -> Result<ContactMethodView, AppError> {
    let kind = input.kind;
    let wants_preferred = input.is_preferred == Some(true);
    let mut form = prepare_methods(org, contact, kind, vec![input], region, false)?.remove(0);
    // Which entry is preferred is settled below, under the contact's lock.
    form.is_preferred = false;
    conn.transaction::<_, AppError, _>(async |conn| {
        lock_contact(conn, org, contact).await?;
        let first_of_kind = contact_methods::preferred(conn, org, contact, kind)
            .await?
            .is_none();
        let method = contact_methods::insert(conn, std::slice::from_ref(&form))
            .await?
            .remove(0);
        if wants_preferred || first_of_kind {
            contact_methods::make_preferred(conn, org, contact, kind, method.id).await?;
        }
        Ok(contact_methods::get(conn, org, contact, kind, method.id)
            .await?
            .into())
    })
    .await
}

/// Edits a phone or email. Preferred can only be moved, not removed: mark another entry
/// preferred instead of unmarking this one.
pub async fn update_method(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    id: ContactMethodId,
    region: country::Id,
    input: MethodInput,
) -> Result<ContactMethodView, AppError> {
    let kind = input.kind;
    let (_, value_field) = field_names(kind);
    let form = ContactMethodUpdateForm {
        value: input
            .value
            .as_deref()
            .map(|raw| normalize_value(kind, raw, region, value_field))
            .transpose()?,
        label: input
            .label
            .as_deref()
            .map(|label| validate::required_text(label, "label"))
            .transpose()?,
        updated_at: Utc::now(),
    };
    conn.transaction::<_, AppError, _>(async |conn| {
        lock_contact(conn, org, contact).await?;
        let current = find_method(conn, org, contact, kind, id).await?;
        match input.is_preferred {
            Some(true) => contact_methods::make_preferred(conn, org, contact, kind, id).await?,
            Some(false) if current.is_preferred => {
                return Err(AppError::invalid(
                    "is_preferred",
                    "a contact always has one preferred entry of each kind: mark another one preferred instead",
                ))
            }
            _ => {}
        }
        contact_methods::update(conn, org, id, &form).await?;
        Ok(find_method(conn, org, contact, kind, id).await?.into())
    })
    .await
}

/// Removes a phone or email; when it was the preferred one, the oldest remaining entry
/// of its kind becomes preferred.
pub async fn remove_method(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    kind: MethodKind,
    id: ContactMethodId,
) -> Result<(), AppError> {
    conn.transaction::<_, AppError, _>(async |conn| {
        lock_contact(conn, org, contact).await?;
        let removed = find_method(conn, org, contact, kind, id).await?;
        contact_methods::delete(conn, org, id).await?;
        if removed.is_preferred {
            if let Some(next) = contact_methods::preferred(conn, org, contact, kind).await? {
                contact_methods::make_preferred(conn, org, contact, kind, next.id).await?;
            }
        }
        Ok(())
    })
    .await
}

async fn lock_contact(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
) -> Result<(), AppError> {
    contacts::lock(conn, org, contact)
        .await
        .optional()?
        .map(drop)
        .ok_or(AppError::NotFound("contact"))
}

async fn find_method(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
    kind: MethodKind,
    id: ContactMethodId,
) -> Result<ContactMethod, AppError> {
    let not_found = match kind {
        MethodKind::Phone => AppError::NotFound("phone"),
        MethodKind::Email => AppError::NotFound("email"),
    };
    contact_methods::get(conn, org, contact, kind, id)
        .await
        .optional()?
        .ok_or(not_found)
}

/// The list cursor as an opaque string: `<last_contacted_at µs or ->:<id>`, base64url.
pub fn encode_cursor(contact: &Contact) -> String {
    let at = contact
        .last_contacted_at
        .map_or_else(|| "-".to_string(), |at| at.timestamp_micros().to_string());
    cursor::encode(&format!("{at}:{}", contact.id))
}

pub fn decode_cursor(text: &str) -> Result<ContactCursor, AppError> {
    const FIELD: &str = "cursor";
    let decoded = cursor::decode(text, FIELD)?;
    let (at, id) = decoded
        .split_once(':')
        .ok_or_else(|| cursor::invalid(FIELD))?;
    let last_contacted_at = match at {
        "-" => None,
        micros => Some(cursor::time(micros, FIELD)?),
    };
    let id = id
        .parse()
        .map(ContactId)
        .map_err(|_| cursor::invalid(FIELD))?;
    Ok(ContactCursor {
        last_contacted_at,
        id,
    })
}
