//! The SMS operator queue's thread: every text to and from one phone number across the
//! organisation's numbers, whoever holds the number now, paged like a contact's feed
//! (newest page first, each page oldest first, the same opaque cursor and item shape).
//! It is opened by the number, or by a contact, lead or partner, which stand for their
//! contact's preferred phone. Only operators with `sms.admin` may read it.
//!
//! The thread is read through the contacts that hold the number now (their messages,
//! filtered by the other party's number), not through an index of its own on messages:
//! such an index (on the sender of inbound and the recipient of outbound texts) would
//! grow the WAL of every message inserted, a cost on the send path for a read an operator
//! makes now and then (figures in BENCHMARKS.md). The price: texts of a contact who no
//! longer holds the number stay in that contact's feed but leave the number's thread.

use diesel::OptionalExtension;
use diesel_async::AsyncPgConnection;
use serde::Serialize;

use crate::auth::{permissions, Caller};
use crate::contacts::{self, ContactView};
use crate::db::contact_methods::{self, MethodKind};
use crate::db::contacts::{self as db_contacts, Reference};
use crate::db::feed::{FeedKey, FeedKind};
use crate::db::ids::{ContactId, MessageId, OrganizationId};
use crate::db::messages::{self as db_messages, MessageScope};
use crate::db::organization_settings;
use crate::error::AppError;
use crate::feed::{self, FeedItem};
use crate::messages;
use crate::quiet_hours::{QuietHours, QuietHoursJson};
use crate::state::AppState;
use crate::validate;

/// What the thread is asked for: exactly one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadTarget {
    /// A phone number as people write it; read in the server's default region.
    Phone(String),
    Contact(ContactId),
    /// A lead's or partner's external reference, as the contacts API stores it.
    Reference(Reference, String),
}

impl ThreadTarget {
    /// The one target among the query's parameters; `400 invalid_query` naming the field
    /// when none, several, or a malformed one is given.
    pub fn from_query(
        phone: Option<String>,
        contact_id: Option<String>,
        lead_id: Option<String>,
        partner_id: Option<String>,
    ) -> Result<ThreadTarget, AppError> {
        let given: Vec<(&'static str, String)> = [
            ("phone", phone),
            ("contact_id", contact_id),
            ("lead_id", lead_id),
            ("partner_id", partner_id),
        ]
        .into_iter()
        .filter_map(|(field, value)| value.map(|value| (field, value.trim().to_string())))
        .collect();
        let [(field, value)] = given.as_slice() else {
            return Err(query_error(
                given.first().map_or("phone", |(field, _)| field),
                "give exactly one of `phone`, `contact_id`, `lead_id` or `partner_id`",
            ));
        };
        if value.is_empty() {
            return Err(query_error(field, format!("`{field}` is empty")));
        }
        Ok(match *field {
            "phone" => ThreadTarget::Phone(value.clone()),
            "contact_id" => ThreadTarget::Contact(ContactId(
                value
                    .parse()
                    .map_err(|_| query_error(field, format!("{value:?} is not a contact id")))?,
            )),
            "lead_id" => ThreadTarget::Reference(Reference::Lead, value.clone()),
            _ => ThreadTarget::Reference(Reference::Partner, value.clone()),
        })
    }
}

fn query_error(field: &str, message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        code: "invalid_query",
        message: message.into(),
        field: Some(field.to_string()),
    }
}

/// A page of the thread, with the number it is about and the contact holding it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ThreadPage {
    /// The number in E.164.
    pub phone: String,
    /// The contact that holds the number (the one asked for, or for a bare number the
    /// first contact given it); `None` when no contact has it.
    pub contact: Option<ContactView>,
    pub items: Vec<FeedItem>,
    /// The cursor of the page before this one; `None` at the start of the thread.
    pub next_before: Option<String>,
}

/// The queue's reads and writes are for operators with `sms.admin` (admins hold it).
pub fn require_queue_access(caller: &Caller) -> Result<(), AppError> {
    if caller.has_permission(permissions::SMS_ADMIN) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "the SMS operator queue needs the `{}` permission",
            permissions::SMS_ADMIN
        )))
    }
}

/// What the queue's schedule picker shows: the organisation's time zone (its quiet
/// hours' zone; UTC when it has none) and its quiet hours.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleSettings {
    pub timezone: String,
    pub quiet_hours: Option<QuietHoursJson>,
}

pub async fn schedule_settings(
    state: &AppState,
    caller: &Caller,
) -> Result<ScheduleSettings, AppError> {
    let mut conn = state.pool.get().await?;
    let settings = organization_settings::get(&mut conn, caller.organization_id).await?;
    let quiet_hours = QuietHours::from_settings(&settings).map(QuietHours::to_json);
    Ok(ScheduleSettings {
        timezone: quiet_hours
            .as_ref()
            .map_or_else(|| "UTC".to_string(), |quiet| quiet.timezone.clone()),
        quiet_hours,
    })
}

/// The newest `limit` texts of the target's thread before the cursor `before` (the
/// route has checked [`require_queue_access`] first, so a refused caller learns nothing
/// about the target).
pub async fn page(
    state: &AppState,
    caller: &Caller,
    target: ThreadTarget,
    before: Option<&str>,
    limit: i64,
) -> Result<ThreadPage, AppError> {
    let org = caller.organization_id;
    let before = before.map(feed::decode_cursor).transpose()?;
    let mut conn = state.pool.get().await?;
    let (phone, contact) = match target {
        ThreadTarget::Phone(raw) => {
            let phone = validate::phone_number(&raw, state.default_region, "phone")
                .map_err(|error| query_error("phone", error.to_string()))?;
            let holder =
                contact_methods::find_by_value(&mut conn, org, MethodKind::Phone, &phone).await?;
            (phone, holder.map(|method| method.contact_id))
        }
        ThreadTarget::Contact(id) => {
            let contact = db_contacts::get(&mut conn, org, id)
                .await
                .optional()?
                .ok_or(AppError::NotFound("contact"))?;
            (
                preferred_phone(&mut conn, org, contact.id).await?,
                Some(contact.id),
            )
        }
        ThreadTarget::Reference(reference, value) => {
            let contact = db_contacts::find_by_reference(&mut conn, org, reference, &value)
                .await?
                .ok_or(match reference {
                    Reference::Lead => AppError::NotFound("lead"),
                    Reference::Partner => AppError::NotFound("partner"),
                })?;
            (
                preferred_phone(&mut conn, org, contact.id).await?,
                Some(contact.id),
            )
        }
    };

    // Every contact holding the number has a part of its thread (a shared family phone).
    let holders =
        contact_methods::contacts_with_value(&mut conn, org, MethodKind::Phone, &phone).await?;
    // One extra message tells whether another page follows.
    let bound = before.map(|key| (key.at, MessageId(key.id)));
    let mut found = db_messages::page(
        &mut conn,
        org,
        MessageScope::SmsWith {
            contacts: &holders,
            phone: &phone,
        },
        bound,
        limit + 1,
    )
    .await?;
    let has_more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let next_before = has_more
        .then(|| {
            found
                .last()
                .map(|message| feed::encode_cursor(key_of(message)))
        })
        .flatten();
    found.reverse();
    let config = state.caches.org(org).await?;
    let views = messages::views(&mut conn, &config, found, state.default_region).await?;
    let items = views
        .into_iter()
        .map(|message| FeedItem::Message {
            at: message.created_at,
            message: Box::new(message),
        })
        .collect();
    let contact = match contact {
        Some(id) => Some(contacts::view(&mut conn, org, caller.user_id, id).await?),
        None => None,
    };
    Ok(ThreadPage {
        phone,
        contact,
        items,
        next_before,
    })
}

fn key_of(message: &db_messages::Message) -> FeedKey {
    FeedKey {
        at: message.created_at,
        kind: FeedKind::Message,
        id: message.id.0,
    }
}

/// The number a contact's thread is about: its preferred phone.
async fn preferred_phone(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    contact: ContactId,
) -> Result<String, AppError> {
    contact_methods::preferred(conn, org, contact, MethodKind::Phone)
        .await?
        .map(|method| method.value)
        .ok_or_else(|| AppError::Rule {
            code: "no_phone",
            message: "this contact has no phone number, so it has no SMS thread".into(),
            field: None,
        })
}
