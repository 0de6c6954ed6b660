//! Scheduled messages: an operator's send, checked now and made later by the
//! [`SchedulerActor`](crate::actors::scheduler::SchedulerActor) through the normal send
//! path ([`messages::send_as`]: the same routing, opt-outs, PHI vetting, outbox and
//! events).
//!
//! # Each row fires once, across crashes and servers
//!
//! Every server runs a scheduler against the same table, and any of them may stop at
//! any instruction. A row goes out through three steps, each safe to repeat or to be
//! cut short:
//!
//! 1. **Claim** ([`db::claim_due`]): in one transaction, due rows are locked with
//!    `FOR UPDATE SKIP LOCKED` (two servers never claim the same row; neither waits on
//!    the other) and moved to `firing` under a new attempt number, naming this server's
//!    run (`claimed_by`, see `db::run_locks`), with a lease (`due_at` = now + [`LEASE`]).
//! 2. **Send**: the message is recorded through the send path with a `client_id` made
//!    from the row's id (`scheduled:{id}`, a prefix clients may not use: see
//!    [`ClientId::scheduled`]). The send path answers a `client_id` it has
//!    seen with the first message and sends nothing, and the unique index on
//!    `(organization_id, client_id)` holds that even for two concurrent attempts. So
//!    however many attempts reach this step, the row has at most one message, and it
//!    goes to the outbox (which owns exactly-once delivery from there) once.
//! 3. **Finish** ([`db::finish`]): `sent` with the message's id (or `failed` with the
//!    reason), accepted only while this attempt still holds the claim.
//!
//! A server that dies after 1 leaves the row `firing`. Its run's advisory lock went with
//! its database connection, so the next claim (any server's, or the restarted one's
//! first) takes the row over at once as attempt n+1; a server that is alive but cut
//! off from the database loses its claims the same way once its lease runs out. If the dead attempt had got through 2, the new attempt's send
//! finds the message by its `client_id` and links it: the message is neither lost nor
//! doubled. An attempt that was only slow (it outlived its lease and was taken over)
//! finds at 3 that it no longer holds the claim, and its finish is refused; its send
//! returned the same message as its successor's, so nothing went out twice.
//!
//! The claim and the message's link are therefore not one database transaction (the
//! message is written by the contact's actor, batched with other sends, on another
//! connection), but the deterministic `client_id` makes steps 2 and 3 one idempotent
//! unit: the effect is that of one transaction, and no lock is held while sending.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::actors::contact::ScheduledChanged;
use crate::actors::scheduler::{Rearm, Round};
use crate::audit;
use crate::auth::Caller;
use crate::batches::record_messages;
use crate::db::audit_log::{self, AuditEntry};
use crate::db::contact_methods::{self, MethodKind};
use crate::db::ids::{
    AttachmentId, ContactId, ContactMethodId, EmailAddressId, OrganizationId, PhoneNumberId,
    ScheduledMessageId,
};
use crate::db::message_attachments;
use crate::db::message_fields::{Channel, RequestedChannel};
use crate::db::scheduled_messages::{
    self as db, Finish, Outcome, ScheduledInsertForm, ScheduledMessage, ScheduledStatus,
    ScheduledUpdateForm,
};
use crate::error::AppError;
use crate::messages::{self, Author, ClientId, PhiOverride, SendRequest};
use crate::protocol::events;
use crate::quiet_hours::QuietHours;
use crate::state::AppState;
use crate::validate;

/// How far in the past a `send_at` may be (clocks differ; a request takes time).
const CLOCK_SLACK: chrono::Duration = chrono::Duration::seconds(5);
/// How long a claim is held before another attempt may take the row over. A send
/// takes milliseconds; the lease only has to outlast a slow database.
pub const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// Attempts that failed for want of the database before the row is given up.
const MAX_ATTEMPTS: i32 = 5;
/// Rows claimed in one statement.
const CLAIM_BATCH: i64 = 200;
/// The audit action of a cancellation, an operator's or a reply's.
const CANCELED: &str = "scheduled_message.canceled";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    pub contact_id: ContactId,
    /// `sms` or `email`; any other name is refused with `unsupported_channel`.
    #[schema(value_type = String)]
    pub channel: RequestedChannel,
    #[serde(default)]
    pub body: String,
    /// RFC 3339 with an offset.
    pub send_at: DateTime<Utc>,
    pub subject: Option<String>,
    pub phone_number_id: Option<PhoneNumberId>,
    pub contact_phone_id: Option<ContactMethodId>,
    pub email_address_id: Option<EmailAddressId>,
    pub contact_email_id: Option<ContactMethodId>,
    #[serde(default)]
    pub attachment_ids: Vec<AttachmentId>,
    #[serde(default)]
    pub cancel_on_reply: bool,
    pub client_id: Option<String>,
    /// Schedule despite PHI the policy blocks (needs the `phi.override` permission).
    pub phi_override: Option<PhiOverride>,
}

/// A change to a pending row; absent fields stay as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEdit {
    pub body: Option<String>,
    pub subject: Option<String>,
    pub send_at: Option<DateTime<Utc>>,
    /// `null` goes back to the default sender.
    #[serde(default, deserialize_with = "validate::patch_field")]
    pub phone_number_id: Option<Option<PhoneNumberId>>,
    pub cancel_on_reply: Option<bool>,
    pub phi_override: Option<PhiOverride>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub contact_id: Option<ContactId>,
    /// A contact's phone number (E.164, or as people write it).
    pub phone: Option<String>,
    pub status: Option<String>,
    pub limit: Option<i64>,
}

/// The send a row makes, as [`messages::check`] and [`messages::send_as`] take it (its
/// key, [`ClientId::scheduled`], goes beside it).
fn send_request(row: &ScheduledMessage, phi_override: Option<PhiOverride>) -> SendRequest {
    SendRequest {
        contact_id: row.contact_id,
        channel: row.channel.into(),
        body: row.body.clone(),
        phone_number_id: row.phone_number_id,
        contact_phone_id: row.contact_phone_id,
        email_address_id: row.email_address_id,
        subject: row.subject.clone(),
        contact_email_id: row.contact_email_id,
        attachment_ids: row.attachment_ids.clone(),
        ai_origin: None,
        client_id: None,
        phi_override,
    }
}

/// Schedules a message: `true` with a new row, `false` with the row first scheduled
/// under a repeated `client_id`.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    request: ScheduleRequest,
) -> Result<(ScheduledMessage, bool), AppError> {
    let org = caller.organization_id;
    let client_id = ClientId::parse(request.client_id.as_deref())?;
    if let Some(client_id) = &client_id {
        let conn = &mut state.pool.get().await?;
        if let Some(existing) = db::find_by_client_id(conn, org, client_id.as_str()).await? {
            return Ok((existing, false));
        }
    }
    ensure_future(request.send_at)?;
    let body = request.body.trim_end().to_string();
    let subject = request
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|subject| !subject.is_empty())
        .map(str::to_string);
    let mut form = ScheduledInsertForm {
        id: ScheduledMessageId::generate(),
        organization_id: org,
        contact_id: request.contact_id,
        channel: Channel::Sms,
        body,
        subject,
        phone_number_id: request.phone_number_id,
        contact_phone_id: request.contact_phone_id,
        email_address_id: request.email_address_id,
        contact_email_id: request.contact_email_id,
        attachment_ids: request.attachment_ids,
        send_at: request.send_at,
        due_at: request.send_at,
        cancel_on_reply: request.cancel_on_reply,
        phi_override_reason: None,
        client_id: client_id.map(String::from),
        created_by: Some(caller.user_id),
    };
    let check = SendRequest {
        contact_id: form.contact_id,
        channel: request.channel,
        body: form.body.clone(),
        phone_number_id: form.phone_number_id,
        contact_phone_id: form.contact_phone_id,
        email_address_id: form.email_address_id,
        subject: form.subject.clone(),
        contact_email_id: form.contact_email_id,
        attachment_ids: form.attachment_ids.clone(),
        ai_origin: None,
        client_id: None,
        phi_override: request.phi_override,
    };
    let override_reason = check
        .phi_override
        .as_ref()
        .map(|o| o.reason.trim().to_string());
    let checked = messages::check(state, &Author::operator(caller), check, None).await?;
    form.channel = checked.channel();
    if checked.overrides_phi() {
        form.phi_override_reason = override_reason;
    }
    if form.channel == Channel::Sms {
        form.subject = None;
    }
    let conn = &mut state.pool.get().await?;
    // Taken when the message fires; until then they must stay pending uploads.
    if !form.attachment_ids.is_empty() {
        let found = message_attachments::list_many(conn, org, &form.attachment_ids).await?;
        record_messages::ensure_attachable(form.channel, &form.attachment_ids, found)?;
    }
    let row = match db::insert(conn, &form).await? {
        Some(row) => row,
        None => {
            // Another request took the `client_id` a moment ago.
            let client_id = form.client_id.as_deref().unwrap_or_default();
            let existing = db::find_by_client_id(conn, org, client_id)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("scheduled row vanished")))?;
            return Ok((existing, false));
        }
    };
    state.scheduler.do_send(Rearm { due_at: row.due_at });
    publish(state, events::SCHEDULED_CREATED, &row).await?;
    Ok((row, true))
}

/// Refuses a `send_at` in the past (beyond the clocks' slack).
fn ensure_future(send_at: DateTime<Utc>) -> Result<(), AppError> {
    if send_at < Utc::now() - CLOCK_SLACK {
        return Err(AppError::Rule {
            code: "send_at_in_past",
            message: "`send_at` is in the past".into(),
            field: Some("send_at".into()),
        });
    }
    Ok(())
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: ListQuery,
) -> Result<Vec<ScheduledMessage>, AppError> {
    let org = caller.organization_id;
    let limit = crate::extract::page_limit(query.limit)?;
    let status = query
        .status
        .as_deref()
        .map(|status| {
            ScheduledStatus::parse(status).ok_or_else(|| AppError::BadRequest {
                code: "invalid_query",
                message: format!(
                    "unknown status {status:?}: pending, firing, sent, canceled or failed"
                ),
                field: Some("status".into()),
            })
        })
        .transpose()?;
    let conn = &mut state.pool.get().await?;
    let mut contacts: Option<Vec<ContactId>> = query.contact_id.map(|contact| vec![contact]);
    if let Some(phone) = &query.phone {
        let phone = validate::phone_number(phone, state.default_region, "phone")?;
        let holders =
            contact_methods::contacts_with_value(conn, org, MethodKind::Phone, &phone).await?;
        contacts = Some(match contacts {
            Some(asked) => asked
                .into_iter()
                .filter(|contact| holders.contains(contact))
                .collect(),
            None => holders,
        });
    }
    let rows = db::list(conn, org, contacts.as_deref(), status, limit).await?;
    Ok(rows.into_iter().collect())
}

pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: ScheduledMessageId,
) -> Result<ScheduledMessage, AppError> {
    find(state, caller.organization_id, id).await
}

async fn find(
    state: &AppState,
    org: OrganizationId,
    id: ScheduledMessageId,
) -> Result<ScheduledMessage, AppError> {
    db::get(&mut *state.pool.get().await?, org, id)
        .await?
        .ok_or(AppError::NotFound("scheduled message"))
}

/// The answer for a row that is there but no longer pending.
async fn not_pending(state: &AppState, org: OrganizationId, id: ScheduledMessageId) -> AppError {
    match find(state, org, id).await {
        Ok(row) => AppError::Conflict(format!(
            "the scheduled message is {}; only pending ones can be changed",
            row.status
        )),
        Err(error) => error,
    }
}

/// Edits a pending row; the send's checks run again on the edited message.
pub async fn edit(
    state: &AppState,
    caller: &Caller,
    id: ScheduledMessageId,
    edit: ScheduleEdit,
) -> Result<ScheduledMessage, AppError> {
    let org = caller.organization_id;
    let row = find(state, org, id).await?;
    if row.status != ScheduledStatus::Pending {
        return Err(not_pending(state, org, id).await);
    }
    if let Some(send_at) = edit.send_at {
        ensure_future(send_at)?;
    }
    let mut edited = row.clone();
    if let Some(body) = &edit.body {
        edited.body = body.trim_end().to_string();
    }
    if let Some(subject) = &edit.subject {
        edited.subject = Some(subject.trim().to_string()).filter(|s| !s.is_empty());
    }
    if let Some(phone_number_id) = edit.phone_number_id {
        edited.phone_number_id = phone_number_id;
    }
    let phi_override = edit.phi_override.or_else(|| {
        row.phi_override_reason
            .clone()
            .map(|reason| PhiOverride { reason })
    });
    let override_reason = phi_override.as_ref().map(|o| o.reason.trim().to_string());
    let mut author = Author::operator(caller);
    // An override given when it was scheduled still stands for an unchanged draft.
    author.may_override_phi |= edit.body.is_none() && edit.subject.is_none();
    let checked =
        messages::check(state, &author, send_request(&edited, phi_override), None).await?;
    let form = ScheduledUpdateForm {
        body: edit.body.map(|_| edited.body.clone()),
        subject: edit.subject.map(|_| {
            edited
                .subject
                .clone()
                .filter(|_| edited.channel == Channel::Email)
        }),
        send_at: edit.send_at,
        due_at: edit.send_at,
        phone_number_id: edit.phone_number_id,
        cancel_on_reply: edit.cancel_on_reply,
        phi_override_reason: Some(override_reason.filter(|_| checked.overrides_phi())),
    };
    let updated = db::update_pending(&mut *state.pool.get().await?, org, id, &form).await?;
    let Some(updated) = updated else {
        return Err(not_pending(state, org, id).await);
    };
    state.scheduler.do_send(Rearm {
        due_at: updated.due_at,
    });
    publish(state, events::SCHEDULED_UPDATED, &updated).await?;
    Ok(updated)
}

/// Cancels a pending row, audited.
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    id: ScheduledMessageId,
) -> Result<ScheduledMessage, AppError> {
    let org = caller.organization_id;
    let canceled = state
        .pool
        .get()
        .await?
        .transaction::<_, AppError, _>(async |conn| {
            let canceled = db::cancel_pending(conn, org, id).await?;
            if let Some(row) = &canceled {
                let details = canceled_details(row, "operator");
                let entry = audit::by(caller, CANCELED, "scheduled_message", id.0, details);
                audit_log::record(conn, &entry).await?;
            }
            Ok(canceled)
        })
        .await?;
    let Some(canceled) = canceled else {
        return Err(not_pending(state, org, id).await);
    };
    publish(state, events::SCHEDULED_CANCELED, &canceled).await?;
    Ok(canceled)
}

/// What the audit entry of a cancellation says of the row: whom it was for, how and
/// when, and why it was canceled (never its text).
fn canceled_details(row: &ScheduledMessage, reason: &str) -> serde_json::Value {
    serde_json::json!({
        "contact_id": row.contact_id,
        "channel": row.channel,
        "send_at": row.send_at,
        "reason": reason,
    })
}

/// Fires a pending row now, whatever its time and the quiet hours: the operator asked.
pub async fn send_now(
    state: &AppState,
    caller: &Caller,
    id: ScheduledMessageId,
) -> Result<ScheduledMessage, AppError> {
    let org = caller.organization_id;
    let lease_until = Utc::now() + LEASE;
    let run = state.run.key();
    let claimed = db::claim_now(&mut *state.pool.get().await?, org, id, lease_until, run).await?;
    let Some(claimed) = claimed else {
        return Err(not_pending(state, org, id).await);
    };
    let end = fire(state, claimed, false).await?;
    finish(state, end.into_iter().collect()).await?;
    find(state, org, id).await
}

/// An inbound message from the contact cancels its rows that wait for a reply.
pub async fn contact_replied(
    state: &AppState,
    org: OrganizationId,
    contact: ContactId,
    replied_at: DateTime<Utc>,
) -> Result<(), AppError> {
    let canceled = state
        .pool
        .get()
        .await?
        .transaction::<_, AppError, _>(async |conn| {
            let canceled = db::cancel_on_reply(conn, org, contact, replied_at).await?;
            for row in &canceled {
                let details = canceled_details(row, "contact_replied");
                let entry =
                    AuditEntry::unattended(org, CANCELED, "scheduled_message", row.id.0, details);
                audit_log::record(conn, &entry).await?;
            }
            Ok(canceled)
        })
        .await?;
    for row in &canceled {
        publish(state, events::SCHEDULED_CANCELED, row).await?;
    }
    Ok(())
}

/// Claims and fires everything due (in batches, each batch's sends concurrently, so
/// they are recorded together like concurrent API sends), then says when the next row
/// is due.
pub async fn fire_due(state: &AppState) -> Result<Round, AppError> {
    use futures_util::StreamExt;
    if !state.run.is_held() {
        // Other servers may be taking this one's claims over: claim nothing meanwhile.
        return Err(AppError::Unavailable(anyhow::anyhow!(
            "this run's lock is not held"
        )));
    }
    let (mut fired, mut late, mut most_late) = (0, 0, chrono::Duration::zero());
    loop {
        let now = Utc::now();
        let run = state.run.key();
        let claimed = {
            let conn = &mut state.pool.get().await?;
            db::claim_due(conn, now, now + LEASE, run, CLAIM_BATCH).await?
        };
        if claimed.is_empty() {
            break;
        }
        fired += claimed.len();
        for row in claimed.iter().filter(|row| row.attempt == 1) {
            let lag = now - row.send_at;
            crate::metrics::scheduler_lag(lag);
            if lag > chrono::Duration::seconds(1) {
                late += 1;
                most_late = most_late.max(lag);
            }
        }
        let ends: Vec<Finish> = futures_util::stream::iter(claimed)
            .map(async |row| {
                let id = row.id;
                fire(state, row, true).await.unwrap_or_else(|error| {
                    tracing::warn!(scheduled_message = %id, error = %error, "firing failed; retried when the claim's lease runs out");
                    None
                })
            })
            .buffer_unordered(CLAIM_BATCH as usize)
            .filter_map(async |end| end)
            .collect()
            .await;
        finish(state, ends).await?;
    }
    let next_due = db::next_due(&mut *state.pool.get().await?).await?;
    Ok(Round {
        fired,
        late,
        most_late,
        next_due,
    })
}

/// Fires one claimed row (see the module's documentation for why it goes out once) and
/// answers how it ended, for [`finish`]; during the organisation's quiet hours
/// (`quiet_hours`) it goes back to wait for their end.
async fn fire(
    state: &AppState,
    row: ScheduledMessage,
    quiet_hours: bool,
) -> Result<Option<Finish>, AppError> {
    let org = row.organization_id;
    let now = Utc::now();
    if quiet_hours {
        let config = state.caches.org(org).await?;
        let quiet = QuietHours::from_settings(&config.settings);
        if let Some(until) = quiet.and_then(|quiet| quiet.wait_until(now)) {
            let conn = &mut state.pool.get().await?;
            if db::release(conn, org, row.id, row.attempt, until).await? {
                state.scheduler.do_send(Rearm { due_at: until });
            }
            return Ok(None);
        }
    }
    let author = Author {
        organization_id: org,
        user_id: row.created_by,
        // The permission was checked when the override was given.
        may_override_phi: row.phi_override_reason.is_some(),
        source: "scheduled",
    };
    let phi_override = row
        .phi_override_reason
        .clone()
        .map(|reason| PhiOverride { reason });
    let request = send_request(&row, phi_override);
    let client_id = Some(ClientId::scheduled(row.id));
    // A first attempt has no message to find; a later one may (its predecessor's), and
    // must link it whatever the checks would say now.
    let outcome = if row.attempt == 1 {
        messages::send_new(state, &author, request, client_id).await
    } else {
        messages::send_as(state, &author, request, client_id).await
    };
    let outcome = match outcome {
        Ok(added) => Outcome::Sent(added.message.id),
        Err(error) if transient(&error) && row.attempt < MAX_ATTEMPTS => return Err(error),
        Err(error) => Outcome::Failed {
            code: match &error {
                AppError::OptedOut(_) => "opted_out",
                other => other.code(),
            },
            message: error.to_string(),
        },
    };
    Ok(Some(Finish {
        organization_id: org,
        id: row.id,
        attempt: row.attempt,
        outcome,
    }))
}

/// Records how fired rows ended, together, and tells their viewers. A finish whose
/// attempt was taken over meanwhile is refused (and logged).
async fn finish(state: &AppState, ends: Vec<Finish>) -> Result<(), AppError> {
    if ends.is_empty() {
        return Ok(());
    }
    let attempts: Vec<(ScheduledMessageId, i32)> =
        ends.iter().map(|end| (end.id, end.attempt)).collect();
    let done = db::finish_many(&mut *state.pool.get().await?, ends).await?;
    for ((id, attempt), done) in attempts.into_iter().zip(done) {
        match done {
            Some(done) if done.status == ScheduledStatus::Sent => {
                publish(state, events::SCHEDULED_FIRED, &done).await?
            }
            Some(done) => publish(state, events::SCHEDULED_FAILED, &done).await?,
            None => tracing::warn!(
                scheduled_message = %id,
                attempt,
                "a later attempt took the row over; this attempt's finish is refused"
            ),
        }
    }
    Ok(())
}

/// Failures of the server rather than of the message: worth another attempt.
fn transient(error: &AppError) -> bool {
    matches!(error, AppError::Unavailable(_) | AppError::Internal(_))
}

/// Tells the contact's viewers and the organisation's subscribers.
async fn publish(
    state: &AppState,
    kind: &'static str,
    row: &ScheduledMessage,
) -> Result<(), AppError> {
    let data: Box<RawValue> = serde_json::value::to_raw_value(row).map_err(AppError::internal)?;
    state
        .realtime
        .to_contact(
            row.organization_id,
            row.contact_id,
            ScheduledChanged { kind, data },
        )
        .await
}
