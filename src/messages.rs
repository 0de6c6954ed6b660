//! Sending: the API's requests, the rules a send is checked and routed by, and the
//! operators' other changes to messages (notes, edits, deletes, retries, read marks).
//! Changes go through the contact's actor (see `actors::contact`), which records them
//! (`batches::record_messages`) and shapes them for clients ([`views`]), so that every
//! change of one contact is applied and broadcast in one order.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use serde::Deserialize;

use crate::actors::contact::{AddMessage, DeleteMessage, EditMessage, MarkRead, RetryMessage};
use crate::actors::delivery;
use crate::auth::{permissions, Caller};
use crate::batches::record_messages::{Handover, NewMessage};
use crate::cache::OrgConfig;
use crate::db::audit_log::AuditEntry;
use crate::db::contact_methods::{ContactMethod, MethodKind, Recipient};
use crate::db::contacts;
use crate::db::email_addresses::EmailAddress;
use crate::db::ids::{
    AttachmentId, AuditLogId, ContactId, ContactMethodId, EmailAddressId, MessageId,
    OrganizationId, PhoneNumberId, ScheduledMessageId, UserId,
};
use crate::db::message_attachments::{self, Attachment};
use crate::db::message_fields::{Channel, Direction, MessageStatus, RequestedChannel};
use crate::db::messages::{self as db_messages, Message, MessageInsertForm};
use crate::db::phone_numbers::PhoneNumber;
use crate::error::AppError;
use crate::phi::policy::Action;
use crate::phi::{vetting, Allowed};
use crate::state::AppState;
use crate::validate;

pub use crate::message_views::{view, views, AddedMessage, MessageView};

/// Twilio accepts up to 1600 characters (it splits them into segments).
pub const MAX_SMS_CHARS: usize = 1600;
const MAX_EMAIL_BODY_CHARS: usize = 100_000;
/// A private note is a few paragraphs for colleagues, not a document.
const MAX_NOTE_CHARS: usize = 10_000;
const MAX_CLIENT_ID_LEN: usize = 200;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub contact_id: ContactId,
    /// `sms` or `email`; any other name is refused with `unsupported_channel`.
    #[schema(value_type = String)]
    pub channel: RequestedChannel,
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
    /// The caller's idempotency key, read by [`send`] through [`ClientId::parse`]; the
    /// send path itself takes the parsed key beside the request.
    pub client_id: Option<String>,
    /// Send despite PHI the policy blocks (needs the `phi.override` permission).
    pub phi_override: Option<PhiOverride>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhiOverride {
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub contact_id: ContactId,
    pub body: String,
    pub client_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    pub body: Option<String>,
    pub subject: Option<String>,
}

/// Who a send is made for: the operator calling the API, or the operator whose
/// scheduled message the scheduler is firing.
#[derive(Debug, Clone)]
pub struct Author {
    pub organization_id: OrganizationId,
    pub user_id: Option<UserId>,
    /// May send a draft the PHI policy blocks, giving a reason.
    pub may_override_phi: bool,
    /// Where the message comes from (`operator`, `scheduled`).
    pub source: &'static str,
}

impl Author {
    pub fn operator(caller: &Caller) -> Author {
        Author {
            organization_id: caller.organization_id,
            user_id: Some(caller.user_id),
            may_override_phi: caller.has_permission(permissions::PHI_OVERRIDE),
            source: "operator",
        }
    }
}

/// A send that passed every check, routed and vetted, not yet recorded.
pub struct CheckedSend {
    new: NewMessage,
    /// The override's reason and the findings it let through, for the audit log.
    overridden: Option<(String, serde_json::Value)>,
    config: Arc<OrgConfig>,
}

impl CheckedSend {
    pub fn channel(&self) -> Channel {
        self.new.form.channel
    }

    /// Whether the draft goes out only thanks to a PHI override.
    pub fn overrides_phi(&self) -> bool {
        self.overridden.is_some()
    }
}

/// Checks and routes a send, then records it through the contact's actor, which
/// publishes `messaging.message.new` and hands it to delivery.
pub async fn send(
    state: &AppState,
    caller: &Caller,
    request: SendRequest,
) -> Result<AddedMessage, AppError> {
    let client_id = ClientId::parse(request.client_id.as_deref())?;
    send_as(state, &Author::operator(caller), request, client_id).await
}

/// [`send`] for `author`, under `client_id` (`request.client_id` is not read). A key the
/// organisation used before answers with the first message (`created: false`) and sends
/// nothing.
pub async fn send_as(
    state: &AppState,
    author: &Author,
    request: SendRequest,
    client_id: Option<ClientId>,
) -> Result<AddedMessage, AppError> {
    if let Some(existing) = replayed(state, author.organization_id, client_id.as_ref()).await? {
        return Ok(existing);
    }
    send_new(state, author, request, client_id).await
}

/// [`send_as`] without first looking up the `client_id`, for a key no earlier request
/// is expected to have used: one query less. Recording still answers the first message
/// (`created: false`) if one did, but only after the send's checks have passed.
pub async fn send_new(
    state: &AppState,
    author: &Author,
    request: SendRequest,
    client_id: Option<ClientId>,
) -> Result<AddedMessage, AppError> {
    let checked = check(state, author, request, client_id).await?;
    record(state, author, checked).await
}

/// Everything a send checks before anything is written: the channel, the body, the
/// recipient and sender (routing), opt-outs and the PHI policy.
pub async fn check(
    state: &AppState,
    author: &Author,
    request: SendRequest,
    client_id: Option<ClientId>,
) -> Result<CheckedSend, AppError> {
    let org = author.organization_id;
    let channel = sendable(&request.channel)?;
    let body = request.body.trim_end().to_string();
    if body.trim().is_empty() && request.attachment_ids.is_empty() {
        return Err(AppError::invalid(
            "body",
            "the message is empty: write a body or attach a file",
        ));
    }
    let config = state.caches.org(org).await?;
    let recipient = state.recipient(org, request.contact_id).await?;
    let mut form = MessageInsertForm {
        id: MessageId::generate(),
        organization_id: org,
        contact_id: request.contact_id,
        phone_number_id: None,
        email_address_id: None,
        contact_method_id: None,
        channel,
        direction: Direction::Outbound,
        body,
        subject: None,
        from_address: None,
        to_address: None,
        status: MessageStatus::Queued,
        source: author.source,
        ai_origin: validate::optional_text(request.ai_origin.as_deref(), "ai_origin")?,
        external_id: None,
        client_id: client_id.map(String::from),
        private: false,
        sender_user_id: author.user_id,
    };
    if channel == Channel::Sms {
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
    // Their images are flagged for review; which of them may be sent is decided when
    // the message takes them.
    let attachments = if request.attachment_ids.is_empty() {
        Vec::new()
    } else {
        let mut conn = state.pool.get().await?;
        message_attachments::list_many(&mut conn, org, &request.attachment_ids).await?
    };
    let overridden = vet_draft(
        state,
        author,
        &config,
        allowed,
        &form,
        &attachments,
        request.phi_override.as_ref(),
    )
    .await?;
    Ok(CheckedSend {
        new: NewMessage {
            form,
            attachment_ids: request.attachment_ids,
            audit: None,
            handover: None,
        },
        overridden,
        config,
    })
}

/// The channel a send goes out on: SMS or email. Any other is refused, whether a
/// channel messages only arrive on or a name that is no channel.
fn sendable(requested: &RequestedChannel) -> Result<Channel, AppError> {
    let refused = match requested {
        RequestedChannel::Known(channel) if Channel::SENDABLE.contains(channel) => {
            return Ok(*channel)
        }
        RequestedChannel::Known(channel) if Channel::RECEIVE_ONLY.contains(channel) => {
            format!("messages cannot be sent on {channel}")
        }
        other => format!("unknown channel {:?}", other.name()),
    };
    let only = Channel::SENDABLE.map(Channel::as_str).join(" and ");
    Err(AppError::BadRequest {
        code: "unsupported_channel",
        message: format!("{refused}; only {only} can be sent"),
        field: Some("channel".into()),
    })
}

/// Records a checked send through the contact's actor, with a PHI override's audit entry.
async fn record(
    state: &AppState,
    author: &Author,
    checked: CheckedSend,
) -> Result<AddedMessage, AppError> {
    let org = author.organization_id;
    let CheckedSend {
        mut new,
        overridden,
        config,
    } = checked;
    let channel = new.form.channel;
    // The one admission decision (see `Handover`); the pacing slot is taken here.
    let goes_now = delivery::has_carrier(&config.settings, channel)
        && (channel != Channel::Sms
            || new
                .form
                .from_address
                .as_deref()
                .is_some_and(|from| state.realtime.pacing().take_now(from)));
    let handover = match goes_now {
        true => Handover::Claimed,
        false => Handover::Queued,
    };
    new.form.status = handover.status();
    new.handover = Some(handover);
    // A PHI override's audit entry is written in the message's own transaction.
    new.audit = overridden.map(|(reason, findings)| AuditEntry {
        id: AuditLogId::generate(),
        organization_id: org,
        user_id: author.user_id,
        action: "phi.override",
        subject_type: "message",
        subject_id: new.form.id.0,
        details: serde_json::json!({ "reason": reason, "findings": findings }),
    });
    state
        .realtime
        .to_contact(org, new.form.contact_id, AddMessage(new))
        .await?
}

/// Vets a draft (subject, body and attached images) against the organisation's PHI policy. A blocked draft
/// is refused with its findings, unless the caller may override and gives a reason: then
/// the reason and the findings (kinds and spans, never the text) are returned for the
/// audit log.
async fn vet_draft(
    state: &AppState,
    author: &Author,
    config: &OrgConfig,
    allowed: Allowed,
    form: &MessageInsertForm,
    attachments: &[Attachment],
    phi_override: Option<&PhiOverride>,
) -> Result<Option<(String, serde_json::Value)>, AppError> {
    let draft = match &form.subject {
        Some(subject) => format!("{subject}\n{}", form.body),
        None => form.body.clone(),
    };
    let verdict = vetting::vet_with(&state.phi, config, allowed, draft, attachments).await?;
    for vetted in &verdict.findings {
        crate::metrics::phi_finding(vetted.finding.kind, vetted.action == Action::Block);
    }
    if !verdict.blocked {
        return Ok(None);
    }
    let Some(phi_override) = phi_override else {
        return Err(AppError::PhiBlocked(
            serde_json::to_value(&verdict.findings).map_err(AppError::internal)?,
        ));
    };
    let reason = validate::required_text(&phi_override.reason, "phi_override.reason")?;
    if !author.may_override_phi {
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
    let client_id = ClientId::parse(request.client_id.as_deref())?;
    if let Some(existing) = replayed(state, org, client_id.as_ref()).await? {
        return Ok(existing);
    }
    if request.body.trim().is_empty() {
        return Err(AppError::invalid("body", "the note is empty"));
    }
    if request.body.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::invalid(
            "body",
            format!("a note is at most {MAX_NOTE_CHARS} characters"),
        ));
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
        channel: Channel::Note,
        direction: Direction::Outbound,
        body: request.body.trim_end().to_string(),
        subject: None,
        from_address: None,
        to_address: None,
        status: MessageStatus::Sent,
        source: "note",
        ai_origin: None,
        external_id: None,
        client_id: client_id.map(String::from),
        private: true,
        sender_user_id: Some(caller.user_id),
    };
    let new = NewMessage {
        form,
        attachment_ids: Vec::new(),
        audit: None,
        handover: None,
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
    let mut page = db_messages::page(
        &mut conn,
        org,
        db_messages::MessageScope::Contact(contact),
        before,
        limit + 1,
    )
    .await?;
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
    if message.status != MessageStatus::Failed {
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
        if message.channel == Channel::Sms && body.chars().count() > MAX_SMS_CHARS {
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

/// A message's idempotency key: a client's, checked once where a request brings it
/// (text, at most `MAX_CLIENT_ID_LEN` bytes, none of the server's prefixes) and carried
/// as checked from then on, or one the server makes for a message of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

/// The prefixes of the keys the server makes, refused from clients: a client's
/// `scheduled:{id}` would be taken for the message of that scheduled row (which would
/// then be linked to the client's message and never sent), and a `twilio:{sid}` for that
/// inbound text (which would be dropped as a retry).
const SCHEDULED_PREFIX: &str = "scheduled:";
const TWILIO_PREFIX: &str = "twilio:";

impl ClientId {
    /// The key a request gives, if it gives one.
    pub fn parse(raw: Option<&str>) -> Result<Option<ClientId>, AppError> {
        let Some(client_id) = validate::optional_text(raw, "client_id")? else {
            return Ok(None);
        };
        if client_id.len() > MAX_CLIENT_ID_LEN {
            return Err(AppError::invalid(
                "client_id",
                format!("`client_id` is at most {MAX_CLIENT_ID_LEN} bytes"),
            ));
        }
        if let Some(prefix) = [SCHEDULED_PREFIX, TWILIO_PREFIX]
            .into_iter()
            .find(|prefix| client_id.starts_with(prefix))
        {
            return Err(AppError::invalid(
                "client_id",
                format!("`client_id` may not start with `{prefix}`: the server keeps it for its own messages"),
            ));
        }
        Ok(Some(ClientId(client_id)))
    }

    /// The key of the message a scheduled row makes: the same for every attempt.
    pub fn scheduled(id: ScheduledMessageId) -> ClientId {
        ClientId(format!("{SCHEDULED_PREFIX}{id}"))
    }

    /// The key of an inbound text: Twilio retries a webhook it got no answer for, and
    /// the message's SID makes the retry a replay.
    pub fn inbound(sid: &str) -> ClientId {
        ClientId(format!("{TWILIO_PREFIX}{sid}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<ClientId> for String {
    fn from(client_id: ClientId) -> String {
        client_id.0
    }
}

/// The message already recorded under this idempotency key, if any.
async fn replayed(
    state: &AppState,
    org: OrganizationId,
    client_id: Option<&ClientId>,
) -> Result<Option<AddedMessage>, AppError> {
    let Some(client_id) = client_id else {
        return Ok(None);
    };
    let conn = &mut state.pool.get().await?;
    match db_messages::find_by_client_id(conn, org, client_id.as_str()).await? {
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
        Some((_, _, keyword)) => Err(AppError::OptedOut(format!(
            "{contact_number} opted out of SMS from {org_number} (replied {keyword}); they must text START to opt back in"
        ))),
        None => Ok(()),
    }
}
