//! Carrier webhooks: who sent them (signature first), status reports, inbound messages
//! and the opt-out keywords they carry.

use diesel_async::AsyncPgConnection;
use phonenumber::country;

use crate::actors::contact::{AddMessage, ApplyStatus};
use crate::batches::record_messages::NewMessage;
use crate::cache::TwilioAccountUser;
use crate::contacts::{self, NewContact, NewPhone};
use crate::db::audit_log;
use crate::db::contact_methods::{self, MethodKind};
use crate::db::ids::{AttachmentId, ContactId, ContactMethodId, MessageId, OrganizationId};
use crate::db::message_fields::{Channel, Direction, MessageStatus};
use crate::db::messages::{self as db_messages, MessageInsertForm, StatusChange};
use crate::db::phone_numbers::{self, PhoneNumber};
use crate::db::sms_opt_outs;
use crate::error::AppError;
use crate::messages::ClientId;
use crate::metrics::WebhookOutcome;
use crate::scheduled;
use crate::state::AppState;
use crate::twilio::client::Credentials;
use crate::{twilio, validate};

/// A POST from Twilio: its form parameters and the organisations whose auth token
/// signed it (usually one), each with that token.
pub struct TwilioWebhook {
    params: Vec<(String, String)>,
    signers: Vec<TwilioAccountUser>,
}

impl TwilioWebhook {
    /// Checks `X-Twilio-Signature` against the auth token of every organisation using
    /// the request's `AccountSid`. Nothing else is looked at before this passes.
    pub async fn verify(
        state: &AppState,
        url: &str,
        params: Vec<(String, String)>,
        signature: Option<&str>,
    ) -> Result<TwilioWebhook, AppError> {
        let forbidden =
            || AppError::Forbidden("the request does not carry a valid Twilio signature".into());
        let signature = signature.ok_or_else(forbidden)?;
        let account_sid = param(&params, "AccountSid")
            .ok_or_else(forbidden)?
            .to_string();
        let candidates = state.caches.twilio_account(&account_sid).await?;
        let signers: Vec<TwilioAccountUser> = candidates
            .iter()
            .filter(|user| {
                user.auth_token.as_deref().is_some_and(|token| {
                    twilio::signature::is_valid(token, url, &params, signature)
                })
            })
            .cloned()
            .collect();
        if signers.is_empty() {
            return Err(forbidden());
        }
        Ok(TwilioWebhook { params, signers })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }

    /// The signing organisation that owns `number`, and that number.
    pub async fn number_owner(
        &self,
        conn: &mut AsyncPgConnection,
        number: &str,
    ) -> Result<Option<(OrganizationId, PhoneNumber)>, AppError> {
        for signer in &self.signers {
            let org = signer.settings.organization_id;
            if let Some(found) = phone_numbers::find_by_number(conn, org, number).await? {
                return Ok(Some((org, found)));
            }
        }
        Ok(None)
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// What a status callback's URL names: the message and its contact, when this server
/// sent it (see `DeliveryConfig::status_callback`); nothing for a callback URL set on a
/// messaging service, or from before the URL named them.
#[derive(Debug, serde::Deserialize)]
pub struct StatusCallbackTarget {
    pub message_id: Option<MessageId>,
    pub contact_id: Option<ContactId>,
}

/// Applies a status callback through the message's contact actor (forward-only, so
/// repeated and out-of-order callbacks settle on the right status). The message is the
/// one the callback URL names, else the one with the callback's SID; its SID is recorded
/// if the send's own answer has not been yet, and a report carrying another SID than the
/// message's changes nothing. Unknown messages are acknowledged (Twilio would retry
/// anything else), and said to be unknown.
pub async fn apply_status(
    state: &AppState,
    webhook: &TwilioWebhook,
    named: StatusCallbackTarget,
) -> Result<WebhookOutcome, AppError> {
    let (Some(sid), Some(reported)) = (webhook.get("MessageSid"), webhook.get("MessageStatus"))
    else {
        return Err(AppError::bad_request(
            "invalid_webhook",
            "MessageSid and MessageStatus are required",
        ));
    };
    let Some(status) = twilio::status(reported) else {
        tracing::debug!(sid, reported, "ignoring a status we do not track");
        return Ok(WebhookOutcome::Accepted);
    };
    let error_code = webhook
        .get("ErrorCode")
        .filter(|code| !code.is_empty())
        .map(str::to_string);
    let error_message = error_code.as_deref().map(|code| {
        twilio::error_message(code)
            .map(str::to_string)
            .or_else(|| webhook.get("ErrorMessage").map(str::to_string))
            .unwrap_or_else(|| format!("Twilio error {code}"))
    });
    let opted_out = error_code.as_deref() == Some("21610");
    let change = StatusChange {
        external_id: Some(sid.to_string()),
        error_code,
        error_message,
        ..StatusChange::to(status)
    };
    // Named message and contact: straight to the contact's actor, no look-up. A 21610
    // needs the message's numbers (to record the opt-out), and an account several
    // organisations share needs the look-up to tell whose message it is.
    if let (Some(id), Some(contact), [signer], false) = (
        named.message_id,
        named.contact_id,
        webhook.signers.as_slice(),
        opted_out,
    ) {
        let report = ApplyStatus {
            message_id: id,
            change,
        };
        state
            .realtime
            .to_contact(signer.settings.organization_id, contact, report)
            .await??;
        return Ok(WebhookOutcome::Accepted);
    }
    let mut conn = state.pool.get().await?;
    for signer in &webhook.signers {
        let org = signer.settings.organization_id;
        let found = match named.message_id {
            Some(id) => db_messages::find_for_callback(&mut conn, org, id, sid).await?,
            None => db_messages::find_by_external_id(&mut conn, org, sid).await?,
        };
        let Some(message) = found else {
            continue;
        };
        drop(conn);
        if opted_out {
            record_opt_out(
                state,
                org,
                message.to_address.as_deref(),
                message.from_address.as_deref(),
                "21610",
            )
            .await?;
        }
        let report = ApplyStatus {
            message_id: message.id,
            change,
        };
        state
            .realtime
            .to_contact(org, message.contact_id, report)
            .await??;
        return Ok(WebhookOutcome::Accepted);
    }
    tracing::warn!(sid, "status callback for a message we do not know");
    Ok(WebhookOutcome::Unknown)
}

const OPT_OUT_KEYWORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const OPT_IN_KEYWORDS: [&str; 3] = ["START", "YES", "UNSTOP"];
const HELP_KEYWORDS: [&str; 2] = ["HELP", "INFO"];

/// Stores an inbound SMS (once, however often Twilio retries it) for the organisation
/// that owns the `To` number, creating the contact when the sender is new, and applies
/// opt-out keywords.
pub async fn receive_sms(state: &AppState, webhook: &TwilioWebhook) -> Result<(), AppError> {
    let (Some(sid), Some(from), Some(to)) = (
        webhook.get("MessageSid"),
        webhook.get("From"),
        webhook.get("To"),
    ) else {
        return Err(AppError::bad_request(
            "invalid_webhook",
            "MessageSid, From and To are required",
        ));
    };
    let body = webhook.get("Body").unwrap_or_default();
    let from = validate::phone_number(from, state.default_region, "From")
        .unwrap_or_else(|_| from.trim().to_string());
    let mut conn = state.pool.get().await?;
    // The organisation that owns the number; else, for a number from a messaging
    // service's pool, the one that owns the service.
    let mut owner = webhook
        .number_owner(&mut conn, to)
        .await?
        .map(|(org, number)| (org, Some(number)));
    if owner.is_none() {
        let service = webhook.get("MessagingServiceSid");
        owner = webhook
            .signers
            .iter()
            .find(|signer| {
                let settings = &signer.settings;
                service.is_some() && settings.twilio_messaging_service_sid.as_deref() == service
            })
            .map(|signer| (signer.settings.organization_id, None));
    }
    let Some((org, number)) = owner else {
        tracing::warn!(to, "inbound SMS to a number no organisation owns");
        return Ok(());
    };

    let (contact_id, contact_phone_id) =
        contact_for_number(&mut conn, org, &from, state.default_region).await?;

    // Twilio retries: a message already stored is acknowledged without refetching media.
    let client_id = ClientId::inbound(sid);
    if db_messages::find_by_client_id(&mut conn, org, client_id.as_str())
        .await?
        .is_some()
    {
        return Ok(());
    }
    let attachment_ids = fetch_media(state, webhook, org).await?;

    let keyword = webhook
        .get("OptOutType")
        .map(str::to_ascii_uppercase)
        .unwrap_or_else(|| body.trim().to_ascii_uppercase());
    if OPT_OUT_KEYWORDS.contains(&keyword.as_str()) {
        record_opt_out(state, org, Some(&from), Some(to), &keyword).await?;
    } else if OPT_IN_KEYWORDS.contains(&keyword.as_str()) {
        sms_opt_outs::remove_and_audit(&mut conn, org, contact_id, &from, to, &keyword).await?;
        state.caches.forget_recipients();
    } else if HELP_KEYWORDS.contains(&keyword.as_str()) {
        let entry = sms_opt_outs::keyword_entry(org, "sms.help", contact_id, &keyword, to);
        audit_log::record(&mut conn, &entry).await?;
    }
    drop(conn);

    let form = MessageInsertForm {
        id: MessageId::generate(),
        organization_id: org,
        contact_id,
        phone_number_id: number.map(|number| number.id),
        email_address_id: None,
        contact_method_id: contact_phone_id,
        channel: Channel::Sms,
        direction: Direction::Inbound,
        body: body.to_string(),
        subject: None,
        from_address: Some(from.clone()),
        to_address: Some(to.to_string()),
        status: MessageStatus::Received,
        source: "webhook",
        ai_origin: None,
        external_id: Some(sid.to_string()),
        client_id: Some(client_id.into()),
        private: false,
        sender_user_id: None,
    };
    let new = NewMessage {
        form,
        attachment_ids,
        audit: None,
        handover: None,
    };
    let added = state
        .realtime
        .to_contact(org, contact_id, AddMessage(new))
        .await??;
    // A send's default number is the one the contact last wrote to.
    state.caches.forget_recipient(org, contact_id);
    if added.created {
        scheduled::contact_replied(state, org, contact_id, added.message.created_at).await?;
    }
    Ok(())
}

/// The organisation's contact with the phone number `number` (and that phone's entry),
/// created, named after the number, when the number is new.
pub async fn contact_for_number(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    number: &str,
    region: country::Id,
) -> Result<(ContactId, Option<ContactMethodId>), AppError> {
    let known = contact_methods::find_by_value(conn, org, MethodKind::Phone, number).await?;
    if let Some(method) = known {
        return Ok((method.contact_id, Some(method.id)));
    }
    let new = NewContact {
        name: validate::display_phone(number, region),
        lead_id: None,
        partner_id: None,
        phones: vec![NewPhone {
            phone_number: number.to_string(),
            label: Some("mobile".into()),
            is_preferred: true,
        }],
        emails: Vec::new(),
    };
    let contact_id = contacts::insert(conn, org, region, new).await?;
    let phone = contact_methods::find_by_value(conn, org, MethodKind::Phone, number).await?;
    Ok((contact_id, phone.map(|phone| phone.id)))
}

/// Twilio's largest MMS item.
const MAX_MEDIA_BYTES: usize = 5 * 1024 * 1024;

/// Fetches and stores every media item of an inbound MMS (`NumMedia`, `MediaUrl{N}`,
/// `MediaContentType{N}`), so browsers never fetch from Twilio. Only Twilio's media
/// hosts are asked (never an arbitrary URL); an item that cannot be had is logged and
/// the message kept without it.
async fn fetch_media(
    state: &AppState,
    webhook: &TwilioWebhook,
    org: OrganizationId,
) -> Result<Vec<AttachmentId>, AppError> {
    let count: usize = webhook
        .get("NumMedia")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let Some(signer) = webhook
        .signers
        .iter()
        .find(|signer| signer.settings.organization_id == org)
    else {
        return Ok(Vec::new());
    };
    // The token that signed the webhook fetches its media.
    let (Some(account_sid), Some(auth_token)) =
        (&signer.settings.twilio_account_sid, &signer.auth_token)
    else {
        return Ok(Vec::new());
    };
    let credentials = Credentials {
        account_sid: account_sid.clone(),
        auth_token: auth_token.clone(),
    };
    let mut ids = Vec::new();
    for index in 0..count.min(twilio::MMS_MAX_FILES) {
        let Some(url) = webhook.get(&format!("MediaUrl{index}")) else {
            continue;
        };
        if !state.twilio.is_media_url(url) {
            tracing::warn!(url, "ignoring inbound media outside Twilio's media hosts");
            continue;
        }
        let declared = webhook.get(&format!("MediaContentType{index}"));
        let bytes = match state
            .twilio
            .fetch_media(&credentials, url, MAX_MEDIA_BYTES)
            .await
        {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(url, error = %error, "could not fetch inbound media");
                continue;
            }
        };
        let name = format!("media-{index}");
        if let Some(id) =
            crate::attachments::store_fetched(state, org, &name, declared, bytes).await?
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Records that `contact_number` opted out of SMS from `org_number`.
async fn record_opt_out(
    state: &AppState,
    org: OrganizationId,
    contact_number: Option<&str>,
    org_number: Option<&str>,
    keyword: &str,
) -> Result<(), AppError> {
    let (Some(contact_number), Some(org_number)) = (contact_number, org_number) else {
        return Ok(());
    };
    let mut conn = state.pool.get().await?;
    sms_opt_outs::record_and_audit(&mut conn, org, contact_number, org_number, keyword).await?;
    state.caches.forget_recipients();
    Ok(())
}
