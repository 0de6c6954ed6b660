//! Messages shaped for clients: the API's answers and the realtime events carry these
//! views. Nothing here changes a message, so the contact's actor can shape what it
//! broadcasts without reaching the send path.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use foldhash::{HashMap, HashMapExt};
use phonenumber::country;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::cache::{Caches, OrgConfig};
use crate::db::ids::{
    AttachmentId, ContactId, ContactMethodId, EmailAddressId, MessageId, PhoneNumberId, UserId,
};
use crate::db::message_attachments::{self, Attachment};
use crate::db::message_fields::{Channel, Direction, MessageStatus};
use crate::db::messages::Message;
use crate::db::DbPool;
use crate::error::AppError;
use crate::timestamp;
use crate::validate;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    pub id: AttachmentId,
    pub content_type: String,
    pub file_name: String,
    pub file_size: i64,
    /// Redirects (for a signed-in operator) to a short-lived URL of the file.
    pub url: String,
}

/// Fields with no value are left out rather than sent as `null`: this view goes to every
/// subscriber of a contact with each new message, and a client replaces its copy whole.
/// (`skip_serializing_none` marks every `Option` field, before utoipa reads the marks and
/// lists those fields as optional.)
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: MessageId,
    pub contact_id: ContactId,
    pub channel: Channel,
    pub direction: Direction,
    pub status: MessageStatus,
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
            status: message.status,
            external_id: message.external_id.clone(),
            error_code: message.error_code.clone(),
            error_message: message.error_message.clone(),
            updated_at: message.updated_at,
        }
    }
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

pub fn attachment_view(attachment: &Attachment) -> AttachmentView {
    AttachmentView {
        id: attachment.id,
        content_type: attachment.content_type.clone(),
        file_name: attachment.file_name.clone(),
        file_size: attachment.file_size,
        url: format!("/api/attachments/{}", attachment.id),
    }
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
                .push(attachment_view(&attachment));
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
    let is_email = message.channel == Channel::Email;
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
