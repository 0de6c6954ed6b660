//! Messages as the API and the realtime core see them: checking and routing a send,
//! recording new messages, and shaping them for clients. Changes go through the
//! contact's actor (see `actors::contact`), which calls back into `record` and friends
//! so that every change of one contact is applied and broadcast in one order.

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use foldhash::{HashMap, HashMapExt};
use phonenumber::country;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::actors::contact::{AddMessage, DeleteMessage, EditMessage, MarkRead, RetryMessage};
use crate::actors::delivery;
use crate::attachments::{MMS_MAX_BYTES, MMS_MAX_FILES};
use crate::auth::{permissions, Caller};
use crate::cache::{Caches, OrgConfig};
use crate::db::audit_log::{self, AuditEntry};
use crate::db::batcher::Batched;
use crate::db::contact_methods::{ContactMethod, MethodKind, Recipient};
use crate::db::email_addresses::EmailAddress;
use crate::db::ids::{
    AttachmentId, AuditLogId, ContactId, ContactMethodId, EmailAddressId, MessageId,
    OrganizationId, PhoneNumberId, UserId,
};
use crate::db::message_attachments::{self, Attachment};
use crate::db::messages::{self as db_messages, Message, MessageInsertForm, MessageStatus};
use crate::db::phone_numbers::PhoneNumber;
use crate::db::{contacts, DbConn, DbPool};
use crate::error::AppError;
use crate::phi::{vetting, Allowed};
use crate::startup::AppState;
use crate::timestamp;
use crate::validate;

/// Twilio accepts up to 1600 characters (it splits them into segments).
pub const MAX_SMS_CHARS: usize = 1600;
const MAX_EMAIL_BODY_CHARS: usize = 100_000;
const MAX_CLIENT_ID_LEN: usize = 200;

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentView {
    pub id: AttachmentId,
    pub content_type: String,
    pub file_name: String,
    pub file_size: i64,
    /// Redirects (for a signed-in operator) to a short-lived URL of the file.
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: MessageId,
    pub contact_id: ContactId,
    pub channel: String,
    pub direction: String,
    pub status: String,
    pub body: String,
    pub subject: Option<String>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    /// The label of the organisation's line this went through ("Front desk").
    pub phone_line_label: Option<String>,
    /// The receiving number as people write it, or the receiving email address.
    pub receiver_number_display: Option<String>,
    pub phone_number_id: Option<PhoneNumberId>,
    pub email_address_id: Option<EmailAddressId>,
    pub contact_phone_id: Option<ContactMethodId>,
    pub contact_email_id: Option<ContactMethodId>,
    pub source: String,
    pub ai_origin: Option<String>,
    pub external_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub client_id: Option<String>,
    pub private: bool,
    pub sender_user_id: Option<UserId>,
    pub attachments: Vec<AttachmentView>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize_option")]
    pub edited_at: Option<DateTime<Utc>>,
}

/// What a status event tells subscribers.
pub use crate::db::messages::StatusView;

impl From<&Message> for StatusView {
    fn from(message: &Message) -> Self {
        StatusView {
            id: message.id,
            status: message.status.clone(),
            external_id: message.external_id.clone(),
            error_code: message.error_code.clone(),
            error_message: message.error_message.clone(),
            updated_at: message.updated_at,
        }
    }
}

/// A message to record, with the pending uploads it takes.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub form: MessageInsertForm,
    pub attachment_ids: Vec<AttachmentId>,
}

/// The recorded message; `created` is false when its `client_id` had been seen before.
#[derive(Debug, Clone)]
pub struct AddedMessage {
    pub message: Message,
    pub view: MessageView,
    /// `view` as JSON, made once for both the `message.new` event and the API's answer:
    /// a message's view is the largest thing a send serialises.
    pub json: Box<RawValue>,
    pub created: bool,
}

impl AddedMessage {
    pub fn new(message: Message, view: MessageView, created: bool) -> Result<Self, AppError> {
        let json = serde_json::value::to_raw_value(&view).map_err(AppError::internal)?;
        Ok(AddedMessage {
            message,
            view,
            json,
            created,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub contact_id: ContactId,
    pub channel: String,
    #[serde(default)]
    pub body: String,
    pub phone_number_id: Option<PhoneNumberId>,
    pub contact_phone_id: Option<ContactMethodId>,
    pub email_address_id: Option<EmailAddressId>,
    pub subject: Option<String>,
    pub contact_email_id: Option<ContactMethodId>,
    #[serde(default)]
    pub attachment_ids: Vec<AttachmentId>,
    pub ai_origin: Option<String>,
    pub client_id: Option<String>,
    /// Send despite PHI the policy blocks (needs the `phi.override` permission).
    pub phi_override: Option<PhiOverride>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhiOverride {
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub contact_id: ContactId,
    pub body: String,
    pub client_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    pub body: Option<String>,
    pub subject: Option<String>,
}

/// The channels a message can be on, and which of them can be sent.
const SENDABLE_CHANNELS: [&str; 2] = ["sms", "email"];
const RECEIVE_ONLY_CHANNELS: [&str; 3] = ["whatsapp", "facebook_messenger", "instagram_dm"];

/// Checks and routes a send, then records it through the contact's actor, which
/// publishes `messaging.message.new` and hands it to delivery.
pub async fn send(
    state: &AppState,
    caller: &Caller,
    request: SendRequest,
) -> Result<AddedMessage, AppError> {
    let org = caller.organization_id;
    let channel = match request.channel.as_str() {
        "sms" => "sms",
        "email" => "email",
        other => {
            let message = if RECEIVE_ONLY_CHANNELS.contains(&other) {
                format!(
                    "messages cannot be sent on {other}; only {} can be sent",
                    SENDABLE_CHANNELS.join(" and ")
                )
            } else {
                format!(
                    "unknown channel {other:?}; only {} can be sent",
                    SENDABLE_CHANNELS.join(" and ")
                )
            };
            return Err(AppError::BadRequest {
                code: "unsupported_channel",
                message,
                field: Some("channel".into()),
            });
        }
    };
    let client_id = client_id(request.client_id.as_deref())?;
    let body = request.body.trim_end().to_string();
    if body.trim().is_empty() && request.attachment_ids.is_empty() {
        return Err(AppError::invalid(
            "body",
            "the message is empty: write a body or attach a file",
        ));
    }
    let config = state.caches.org(org).await?;
    if let Some(existing) = replayed(state, org, client_id.as_deref()).await? {
        return Ok(existing);
    }
    let recipient = state.recipient(org, request.contact_id).await?;
    let mut form = MessageInsertForm {
        id: MessageId::generate(),
        organization_id: org,
        contact_id: request.contact_id,
        phone_number_id: None,
        email_address_id: None,
        contact_method_id: None,
        channel,
        direction: "outbound",
        body,
        subject: None,
        from_address: None,
        to_address: None,
        status: MessageStatus::Queued.as_str(),
        source: "operator",
        ai_origin: validate::optional_text(request.ai_origin.as_deref(), "ai_origin")?,
        external_id: None,
        client_id,
        private: false,
        sender_user_id: Some(caller.user_id),
    };
    if channel == "sms" {
        if form.body.chars().count() > MAX_SMS_CHARS {
            return Err(AppError::invalid(
                "body",
                format!("an SMS body is at most {MAX_SMS_CHARS} characters"),
            ));
        }
        let to = contact_method(&recipient, MethodKind::Phone, request.contact_phone_id)?;
        let from = sending_number(&config, &recipient, request.phone_number_id)?;
        ensure_not_opted_out(&recipient, &to.value, &from.phone_number)?;
        form.contact_method_id = Some(to.id);
        form.to_address = Some(to.value.clone());
        form.phone_number_id = Some(from.id);
        form.from_address = Some(from.phone_number.clone());
    } else {
        if form.body.chars().count() > MAX_EMAIL_BODY_CHARS {
            return Err(AppError::invalid(
                "body",
                format!("an email body is at most {MAX_EMAIL_BODY_CHARS} characters"),
            ));
        }
        let subject = validate::required_text(request.subject.as_deref().unwrap_or(""), "subject")?;
        let to = contact_method(&recipient, MethodKind::Email, request.contact_email_id)?;
        let from = sending_address(&config, request.email_address_id)?;
        form.subject = Some(subject);
        form.contact_method_id = Some(to.id);
        form.to_address = Some(to.value.clone());
        form.email_address_id = Some(from.id);
        form.from_address = Some(from.address.clone());
    }
    let allowed = vetting::allowed(&config, &recipient.methods);
    let overridden = vet_draft(
        state,
        caller,
        &config,
        allowed,
        &form,
        request.phi_override.as_ref(),
    )
    .await?;
    // A message that can go out at once is claimed as it is recorded (`sending`), which
    // saves delivery a write: its carrier is set up and, for SMS, its number's pacing
    // slot is free now (taken here). Otherwise it is recorded `queued` and claimed by
    // delivery when its turn comes, so a long wait never looks like an abandoned send.
    let goes_now = delivery::has_carrier(&config.settings, channel)
        && (channel != "sms"
            || form
                .from_address
                .as_deref()
                .is_some_and(|from| state.realtime.pacing().take_now(from)));
    if goes_now {
        form.status = MessageStatus::Sending.as_str();
    }
    let new = NewMessage {
        form,
        attachment_ids: request.attachment_ids,
    };
    let added = state
        .realtime
        .to_contact(org, new.form.contact_id, AddMessage(new))
        .await??;
    if let (Some((reason, findings)), true) = (overridden, added.created) {
        let entry = AuditEntry {
            id: AuditLogId::generate(),
            organization_id: org,
            user_id: Some(caller.user_id),
            action: "phi.override",
            subject_type: "message",
            subject_id: added.message.id.0,
            details: serde_json::json!({ "reason": reason, "findings": findings }),
        };
        audit_log::record(&mut *state.pool.get().await?, &entry).await?;
    }
    Ok(added)
}

/// Vets a draft (subject and body) against the organisation's PHI policy. A blocked draft
/// is refused with its findings, unless the caller may override and gives a reason: then
/// the reason and the findings (kinds and spans, never the text) are returned for the
/// audit log.
async fn vet_draft(
    state: &AppState,
    caller: &Caller,
    config: &OrgConfig,
    allowed: Allowed,
    form: &MessageInsertForm,
    phi_override: Option<&PhiOverride>,
) -> Result<Option<(String, serde_json::Value)>, AppError> {
    let draft = match &form.subject {
        Some(subject) => format!("{subject}\n{}", form.body),
        None => form.body.clone(),
    };
    let verdict = vetting::vet_with(state, config, allowed, draft).await?;
    if !verdict.blocked {
        return Ok(None);
    }
    let Some(phi_override) = phi_override else {
        return Err(AppError::PhiBlocked(
            serde_json::to_value(&verdict.findings).map_err(AppError::internal)?,
        ));
    };
    let reason = validate::required_text(&phi_override.reason, "phi_override.reason")?;
    if !caller.has_permission(permissions::PHI_OVERRIDE) {
        return Err(AppError::Forbidden(
            "sending a draft with PHI the policy blocks needs the phi.override permission".into(),
        ));
    }
    let findings: Vec<serde_json::Value> = verdict
        .findings
        .iter()
        .map(|vetted| {
            serde_json::json!({
                "kind": vetted.finding.kind,
                "start": vetted.finding.start,
                "end": vetted.finding.end,
                "rule": vetted.finding.rule,
                "action": vetted.action,
            })
        })
        .collect();
    Ok(Some((reason, serde_json::Value::Array(findings))))
}

/// Adds a private note: shown to operators with the conversation, never sent.
pub async fn add_note(
    state: &AppState,
    caller: &Caller,
    request: NoteRequest,
) -> Result<AddedMessage, AppError> {
    let org = caller.organization_id;
    let client_id = client_id(request.client_id.as_deref())?;
    if let Some(existing) = replayed(state, org, client_id.as_deref()).await? {
        return Ok(existing);
    }
    if request.body.trim().is_empty() {
        return Err(AppError::invalid("body", "the note is empty"));
    }
    let mut conn = state.pool.get().await?;
    contacts::get(&mut conn, org, request.contact_id)
        .await
        .optional()?
        .ok_or(AppError::NotFound("contact"))?;
    drop(conn);
    let form = MessageInsertForm {
        id: MessageId::generate(),
        organization_id: org,
        contact_id: request.contact_id,
        phone_number_id: None,
        email_address_id: None,
        contact_method_id: None,
        channel: "note",
        direction: "outbound",
        body: request.body.trim_end().to_string(),
        subject: None,
        from_address: None,
        to_address: None,
        status: MessageStatus::Sent.as_str(),
        source: "note",
        ai_origin: None,
        external_id: None,
        client_id,
        private: true,
        sender_user_id: Some(caller.user_id),
    };
    let new = NewMessage {
        form,
        attachment_ids: Vec::new(),
    };
    state
        .realtime
        .to_contact(org, request.contact_id, AddMessage(new))
        .await?
}

/// A page of the contact's conversation in chronological order, and the `before`
/// cursor for the page before it (`None` at the start of the conversation).
pub async fn history(
    state: &AppState,
    caller: &Caller,
    contact: ContactId,
    before: Option<MessageId>,
    limit: i64,
) -> Result<(Vec<MessageView>, Option<MessageId>), AppError> {
    let org = caller.organization_id;
    let mut conn = state.pool.get().await?;
    contacts::get(&mut conn, org, contact)
        .await
        .optional()?
        .ok_or(AppError::NotFound("contact"))?;
    let before = match before {
        Some(id) => {
            let pivot = db_messages::get(&mut conn, org, id)
                .await
                .optional()?
                .filter(|message| message.contact_id == contact)
                .ok_or_else(|| AppError::BadRequest {
                    code: "invalid_query",
                    message: "`before` is not a message of this contact".into(),
                    field: Some("before".into()),
                })?;
            Some((pivot.created_at, pivot.id))
        }
        None => None,
    };
    let mut page =
        db_messages::list_for_contact(&mut conn, org, contact, before, limit + 1).await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    page.reverse();
    let next_before = if has_more {
        page.first().map(|message| message.id)
    } else {
        None
    };
    Ok((
        views(
            &mut conn,
            &*state.caches.org(org).await?,
            page,
            state.default_region,
        )
        .await?,
        next_before,
    ))
}

pub async fn retry(
    state: &AppState,
    caller: &Caller,
    id: MessageId,
) -> Result<MessageView, AppError> {
    let message = find(state, caller.organization_id, id).await?;
    if message.status != MessageStatus::Failed.as_str() {
        return Err(AppError::Conflict(format!(
            "only failed messages can be retried; this one is {}",
            message.status
        )));
    }
    state
        .realtime
        .to_contact(
            caller.organization_id,
            message.contact_id,
            RetryMessage { id },
        )
        .await?
}

pub async fn edit(
    state: &AppState,
    caller: &Caller,
    id: MessageId,
    request: EditRequest,
) -> Result<MessageView, AppError> {
    if request.body.is_none() && request.subject.is_none() {
        return Err(AppError::invalid("body", "send a new `body` or `subject`"));
    }
    let message = find(state, caller.organization_id, id).await?;
    let body = request.body.map(|body| body.trim_end().to_string());
    if let Some(body) = &body {
        if body.trim().is_empty() {
            return Err(AppError::invalid("body", "the body cannot be empty"));
        }
        if message.channel == "sms" && body.chars().count() > MAX_SMS_CHARS {
            return Err(AppError::invalid(
                "body",
                format!("an SMS body is at most {MAX_SMS_CHARS} characters"),
            ));
        }
    }
    let subject = request
        .subject
        .map(|subject| validate::required_text(&subject, "subject"))
        .transpose()?;
    let edit = EditMessage { id, body, subject };
    state
        .realtime
        .to_contact(caller.organization_id, message.contact_id, edit)
        .await?
}

pub async fn delete(state: &AppState, caller: &Caller, id: MessageId) -> Result<(), AppError> {
    let message = find(state, caller.organization_id, id).await?;
    let delete = DeleteMessage {
        id,
        user_id: caller.user_id,
    };
    state
        .realtime
        .to_contact(caller.organization_id, message.contact_id, delete)
        .await?
}

pub async fn mark_read(
    state: &AppState,
    caller: &Caller,
    contact: ContactId,
) -> Result<DateTime<Utc>, AppError> {
    let org = caller.organization_id;
    contacts::get(&mut *state.pool.get().await?, org, contact)
        .await
        .optional()?
        .ok_or(AppError::NotFound("contact"))?;
    let mark = MarkRead {
        user_id: caller.user_id,
    };
    state.realtime.to_contact(org, contact, mark).await?
}

async fn find(state: &AppState, org: OrganizationId, id: MessageId) -> Result<Message, AppError> {
    db_messages::get(&mut *state.pool.get().await?, org, id)
        .await
        .optional()?
        .ok_or(AppError::NotFound("message"))
}

fn client_id(raw: Option<&str>) -> Result<Option<String>, AppError> {
    let client_id = validate::optional_text(raw, "client_id")?;
    if client_id
        .as_ref()
        .is_some_and(|id| id.len() > MAX_CLIENT_ID_LEN)
    {
        return Err(AppError::invalid(
            "client_id",
            format!("`client_id` is at most {MAX_CLIENT_ID_LEN} bytes"),
        ));
    }
    Ok(client_id)
}

/// The message already recorded under this idempotency key, if any.
async fn replayed(
    state: &AppState,
    org: OrganizationId,
    client_id: Option<&str>,
) -> Result<Option<AddedMessage>, AppError> {
    let Some(client_id) = client_id else {
        return Ok(None);
    };
    let conn = &mut state.pool.get().await?;
    match db_messages::find_by_client_id(conn, org, client_id).await? {
        Some(message) => {
            let config = state.caches.org(org).await?;
            let view = view(conn, &config, message.clone(), state.default_region).await?;
            AddedMessage::new(message, view, false).map(Some)
        }
        None => Ok(None),
    }
}

/// The contact's phone or email to use: the one asked for, else the preferred one.
fn contact_method(
    recipient: &Recipient,
    kind: MethodKind,
    requested: Option<ContactMethodId>,
) -> Result<&ContactMethod, AppError> {
    let mut of_kind = recipient
        .methods
        .iter()
        .filter(|method| method.kind == kind.as_str());
    match (requested, kind) {
        (Some(id), MethodKind::Phone) => of_kind
            .find(|method| method.id == id)
            .ok_or(AppError::NotFound("contact phone")),
        (Some(id), MethodKind::Email) => of_kind
            .find(|method| method.id == id)
            .ok_or(AppError::NotFound("contact email")),
        // Preferred first: see `contact_methods::recipient`.
        (None, MethodKind::Phone) => of_kind.next().ok_or_else(|| {
            AppError::invalid("contact_phone_id", "the contact has no phone number")
        }),
        (None, MethodKind::Email) => of_kind.next().ok_or_else(|| {
            AppError::invalid("contact_email_id", "the contact has no email address")
        }),
    }
}

/// The organisation number to send from: the one asked for, else the number the
/// contact last wrote to (so replies come from the number they know), else the first.
fn sending_number<'a>(
    config: &'a OrgConfig,
    recipient: &Recipient,
    requested: Option<PhoneNumberId>,
) -> Result<&'a PhoneNumber, AppError> {
    let numbers = &config.phone_numbers;
    if let Some(id) = requested {
        return numbers
            .iter()
            .find(|number| number.id == id)
            .ok_or(AppError::NotFound("phone number"));
    }
    recipient
        .last_inbound_number
        .and_then(|last| numbers.iter().find(|number| number.id == last))
        .or(numbers.first())
        .ok_or_else(|| {
            AppError::invalid(
                "phone_number_id",
                "the organisation has no phone number to send from; add one under /api/phone-numbers",
            )
        })
}

fn sending_address(
    config: &OrgConfig,
    requested: Option<EmailAddressId>,
) -> Result<&EmailAddress, AppError> {
    let addresses = &config.email_addresses;
    match requested {
        Some(id) => addresses
            .iter()
            .find(|address| address.id == id)
            .ok_or(AppError::NotFound("email address")),
        None => addresses.first().ok_or_else(|| {
            AppError::invalid(
                "email_address_id",
                "the organisation has no email address to send from; add one under /api/email-addresses",
            )
        }),
    }
}

/// Refuses an SMS to a number that opted out of the sending number.
fn ensure_not_opted_out(
    recipient: &Recipient,
    contact_number: &str,
    org_number: &str,
) -> Result<(), AppError> {
    let opt_out = recipient
        .opt_outs
        .iter()
        .find(|(to, from, _)| to == contact_number && from == org_number);
    match opt_out {
        Some((_, _, keyword)) => Err(AppError::Conflict(format!(
            "{contact_number} opted out of SMS from {org_number} (replied {keyword}); they must text START to opt back in"
        ))),
        None => Ok(()),
    }
}

/// Records new messages (see `db::batcher`): the messages of a batch that carry no
/// attachments are inserted in one statement, and their contacts' `last_contacted_at`
/// moved on, in one transaction. Messages with attachments, and every message of a batch
/// that failed as a whole, are then recorded one by one, so that each caller gets its
/// own answer. A `client_id` seen before (even in a concurrent request) answers with the
/// first message and `false`.
pub struct RecordMessages;

impl Batched for RecordMessages {
    type Request = NewMessage;
    type Response = (Message, bool);

    async fn run(
        &self,
        conn: &mut DbConn,
        batch: Vec<NewMessage>,
    ) -> Vec<Result<(Message, bool), AppError>> {
        let plain: Vec<&MessageInsertForm> = batch
            .iter()
            .filter(|new| new.attachment_ids.is_empty())
            .map(|new| &new.form)
            .collect();
        let mut inserted: HashMap<MessageId, Message> = HashMap::new();
        let mut batch_failed = false;
        if !plain.is_empty() {
            let written = db_messages::insert_many(conn, &plain).await;
            match written {
                Ok(messages) => inserted.extend(messages.into_iter().map(|m| (m.id, m))),
                Err(error) => {
                    tracing::warn!(error = %error, size = plain.len(), "batch insert failed; recording one by one");
                    batch_failed = true;
                }
            }
        }
        let mut answers = Vec::with_capacity(batch.len());
        for new in batch {
            let answer = match inserted.remove(&new.form.id) {
                Some(message) => Ok((message, true)),
                None if new.attachment_ids.is_empty() && !batch_failed => {
                    replay_conflict(conn, &new).await
                }
                None => record_one(conn, new).await,
            };
            answers.push(answer);
        }
        answers
    }
}

/// Records one message and takes its attachments, in one transaction.
async fn record_one(conn: &mut DbConn, new: NewMessage) -> Result<(Message, bool), AppError> {
    let org = new.form.organization_id;
    let inserted = conn
        .transaction::<_, AppError, _>(async |conn| {
            let inserted = db_messages::insert_many(conn, &[&new.form]).await?;
            // Missing from the answer: its `client_id` was used before.
            let Some(message) = inserted.into_iter().next() else {
                return Ok(None);
            };
            take_attachments(conn, org, &new.attachment_ids, &message).await?;
            Ok(Some(message))
        })
        .await?;
    match inserted {
        Some(message) => Ok((message, true)),
        None => replay_conflict(conn, &new).await,
    }
}

/// The message another request recorded first under the same `client_id`.
async fn replay_conflict(conn: &mut DbConn, new: &NewMessage) -> Result<(Message, bool), AppError> {
    let org = new.form.organization_id;
    let client_id = new.form.client_id.as_deref().unwrap_or_default();
    match db_messages::find_by_client_id(conn, org, client_id).await? {
        Some(message) => Ok((message, false)),
        None => Err(AppError::internal(anyhow::anyhow!(
            "message {} was neither inserted nor a repeat",
            new.form.id
        ))),
    }
}

async fn take_attachments(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    ids: &[AttachmentId],
    message: &Message,
) -> Result<(), AppError> {
    if ids.is_empty() {
        return Ok(());
    }
    let found: HashMap<AttachmentId, Attachment> = message_attachments::lock_many(conn, org, ids)
        .await?
        .into_iter()
        .map(|attachment| (attachment.id, attachment))
        .collect();
    for id in ids {
        match found.get(id) {
            None => {
                return Err(AppError::NotFoundNamed(format!(
                    "attachment {id} not found"
                )))
            }
            Some(attachment) if attachment.message_id.is_some() => {
                return Err(AppError::Conflict(format!(
                    "attachment {id} is already attached to a message"
                )))
            }
            Some(_) => {}
        }
    }
    if message.channel == "sms" {
        let total: i64 = found.values().map(|attachment| attachment.file_size).sum();
        if ids.len() > MMS_MAX_FILES || total > MMS_MAX_BYTES as i64 {
            return Err(AppError::PayloadTooLarge(format!(
                "an MMS carries at most {MMS_MAX_FILES} files and {} KB in all",
                MMS_MAX_BYTES / 1024
            )));
        }
    }
    message_attachments::link(conn, org, ids, message.id).await?;
    Ok(())
}

/// Shapes a message of the organisation `config` describes for clients.
pub async fn view(
    conn: &mut AsyncPgConnection,
    config: &OrgConfig,
    message: Message,
    region: country::Id,
) -> Result<MessageView, AppError> {
    let mut list = views(conn, config, vec![message], region).await?;
    Ok(list.remove(0))
}

/// Shapes messages of the organisation `config` describes for clients, loading their
/// attachments in one query.
pub async fn views(
    conn: &mut AsyncPgConnection,
    config: &OrgConfig,
    messages: Vec<Message>,
    region: country::Id,
) -> Result<Vec<MessageView>, AppError> {
    let Some(org) = messages.first().map(|message| message.organization_id) else {
        return Ok(Vec::new());
    };
    let ids: Vec<MessageId> = messages.iter().map(|message| message.id).collect();
    let mut attachments: HashMap<MessageId, Vec<AttachmentView>> = HashMap::new();
    for attachment in message_attachments::list_for_messages(conn, org, &ids).await? {
        if let Some(message_id) = attachment.message_id {
            attachments
                .entry(message_id)
                .or_default()
                .push(crate::attachments::view(&attachment));
        }
    }
    Ok(messages
        .into_iter()
        .map(|message| {
            let label = config.line_label(message.phone_number_id);
            let attached = attachments.remove(&message.id).unwrap_or_default();
            view_of(message, label, attached, region)
        })
        .collect())
}

/// The view of a message just recorded: without a query when it has no attachments.
pub async fn fresh_view(
    pool: &DbPool,
    caches: &Caches,
    message: Message,
    has_attachments: bool,
    region: country::Id,
) -> Result<MessageView, AppError> {
    let config = caches.org(message.organization_id).await?;
    if has_attachments {
        return view(&mut *pool.get().await?, &config, message, region).await;
    }
    let label = config.line_label(message.phone_number_id);
    Ok(view_of(message, label, Vec::new(), region))
}

fn view_of(
    message: Message,
    phone_line_label: Option<String>,
    attachments: Vec<AttachmentView>,
    region: country::Id,
) -> MessageView {
    let is_email = message.channel == "email";
    let receiver_number_display = message.to_address.as_deref().map(|to| {
        if is_email {
            to.to_string()
        } else {
            validate::display_phone(to, region)
        }
    });
    MessageView {
        id: message.id,
        contact_id: message.contact_id,
        phone_line_label,
        receiver_number_display,
        contact_phone_id: message.contact_method_id.filter(|_| !is_email),
        contact_email_id: message.contact_method_id.filter(|_| is_email),
        attachments,
        channel: message.channel,
        direction: message.direction,
        status: message.status,
        body: message.body,
        subject: message.subject,
        from_address: message.from_address,
        to_address: message.to_address,
        phone_number_id: message.phone_number_id,
        email_address_id: message.email_address_id,
        source: message.source,
        ai_origin: message.ai_origin,
        external_id: message.external_id,
        error_code: message.error_code,
        error_message: message.error_message,
        client_id: message.client_id,
        private: message.private,
        sender_user_id: message.sender_user_id,
        created_at: message.created_at,
        updated_at: message.updated_at,
        edited_at: message.edited_at,
    }
}
