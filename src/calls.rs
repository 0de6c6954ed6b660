//! Calls as the API, Twilio's voice callbacks and the realtime core see them. New calls
//! and changes go through the contact's actor (see `actors::contact`), which calls back
//! into `record` and `advance` and publishes `messaging.call.new` / `.updated`.

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use serde::Deserialize;

use crate::actors::contact::{AddCall, UpdateCall};
use crate::auth::Caller;
use crate::db::calls::{self as db_calls, Call, CallInsertForm, CallStatus, CallUpdateForm};
use crate::db::contacts;
use crate::db::ids::{CallId, ContactId, OrganizationId, PhoneNumberId};
use crate::db::message_fields::Direction;
use crate::error::AppError;
use crate::state::AppState;
use crate::validate;
use crate::webhooks::{self, TwilioWebhook};

/// Longest transcription or analysis kept (markdown).
const MAX_NOTES_CHARS: usize = 200_000;
const MAX_URL_LEN: usize = 2000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCall {
    pub contact_id: ContactId,
    pub phone_number_id: Option<PhoneNumberId>,
    pub direction: Direction,
    pub from_number: String,
    pub to_number: String,
    pub status: Option<CallStatus>,
    pub started_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i32>,
    pub recording_url: Option<String>,
    pub transcription: Option<String>,
    pub analysis: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallChanges {
    pub status: Option<CallStatus>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    pub started_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    pub duration_seconds: Option<Option<i32>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    pub recording_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    pub transcription: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    pub analysis: Option<Option<String>>,
}

/// Records a call a telephony integration reports.
pub async fn create(state: &AppState, caller: &Caller, new: NewCall) -> Result<Call, AppError> {
    let org = caller.organization_id;
    let region = state.default_region;
    let form = CallInsertForm {
        id: CallId::generate(),
        organization_id: org,
        contact_id: new.contact_id,
        phone_number_id: new.phone_number_id,
        direction: new.direction,
        from_number: validate::phone_number(&new.from_number, region, "from_number")?,
        to_number: validate::phone_number(&new.to_number, region, "to_number")?,
        status: new.status.unwrap_or(CallStatus::Queued),
        started_at: new.started_at,
        duration_seconds: duration(new.duration_seconds)?,
        recording_url: recording_url(new.recording_url)?,
        transcription: notes(new.transcription, "transcription")?,
        analysis: notes(new.analysis, "analysis")?,
        external_id: validate::optional_text(new.external_id.as_deref(), "external_id")?,
    };
    if let Some(id) = form.phone_number_id {
        let config = state.caches.org(org).await?;
        if !config.phone_numbers.iter().any(|number| number.id == id) {
            return Err(AppError::NotFound("phone number"));
        }
    }
    contacts::get(&mut *state.pool.get().await?, org, form.contact_id)
        .await
        .optional()?
        .ok_or(AppError::NotFound("contact"))?;
    state
        .realtime
        .to_contact(org, form.contact_id, AddCall(form))
        .await?
}

pub async fn get(state: &AppState, caller: &Caller, id: CallId) -> Result<Call, AppError> {
    find(state, caller.organization_id, id).await
}

/// Changes a call: the status only forward (an earlier one is a `409`), the rest freely.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: CallId,
    changes: CallChanges,
) -> Result<Call, AppError> {
    let form = CallUpdateForm {
        status: changes.status,
        started_at: changes.started_at,
        duration_seconds: changes.duration_seconds.map(duration).transpose()?,
        recording_url: changes.recording_url.map(recording_url).transpose()?,
        transcription: changes
            .transcription
            .map(|text| notes(text, "transcription"))
            .transpose()?,
        analysis: changes
            .analysis
            .map(|text| notes(text, "analysis"))
            .transpose()?,
        updated_at: Utc::now(),
    };
    let call = find(state, caller.organization_id, id).await?;
    // The status may stay as it is, or move on; any status, when it is not being set.
    let from: Vec<CallStatus> = match changes.status {
        Some(status) => status.replaces().iter().copied().chain([status]).collect(),
        None => CallStatus::ALL.to_vec(),
    };
    let update = UpdateCall { id, from, form };
    let updated = state
        .realtime
        .to_contact(caller.organization_id, call.contact_id, update)
        .await??;
    match updated {
        Some(call) => Ok(call),
        None => Err(AppError::Conflict(format!(
            "the call is already {}; a call's status only moves forward",
            call.status
        ))),
    }
}

async fn find(state: &AppState, org: OrganizationId, id: CallId) -> Result<Call, AppError> {
    db_calls::get(&mut *state.pool.get().await?, org, id)
        .await
        .optional()?
        .ok_or(AppError::NotFound("call"))
}

fn duration(seconds: Option<i32>) -> Result<Option<i32>, AppError> {
    match seconds {
        Some(seconds) if seconds < 0 => Err(AppError::invalid(
            "duration_seconds",
            "`duration_seconds` cannot be negative",
        )),
        other => Ok(other),
    }
}

fn recording_url(raw: Option<String>) -> Result<Option<String>, AppError> {
    let Some(raw) = raw
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty())
    else {
        return Ok(None);
    };
    let parsed = url::Url::parse(&raw).ok();
    if raw.len() > MAX_URL_LEN
        || !parsed.is_some_and(|url| matches!(url.scheme(), "http" | "https"))
    {
        return Err(AppError::invalid(
            "recording_url",
            "`recording_url` must be an http or https URL",
        ));
    }
    Ok(Some(raw))
}

fn notes(text: Option<String>, field: &str) -> Result<Option<String>, AppError> {
    match text
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
    {
        Some(text) if text.chars().count() > MAX_NOTES_CHARS => Err(AppError::invalid(
            field,
            format!("`{field}` is at most {MAX_NOTES_CHARS} characters"),
        )),
        other => Ok(other),
    }
}

/// Twilio's voice status callback: creates the call the first time its CallSid is seen
/// (with the contact found, or created, by number as for inbound SMS), and moves it
/// forward after that; stale and repeated reports change nothing. Callbacks for numbers
/// no organisation owns, or statuses not tracked, are acknowledged and dropped: Twilio
/// would retry anything else.
pub async fn voice_status(state: &AppState, webhook: &TwilioWebhook) -> Result<(), AppError> {
    let (Some(sid), Some(reported), Some(from), Some(to)) = (
        webhook.get("CallSid"),
        webhook.get("CallStatus"),
        webhook.get("From"),
        webhook.get("To"),
    ) else {
        return Err(AppError::bad_request(
            "invalid_webhook",
            "CallSid, CallStatus, From and To are required",
        ));
    };
    // Twilio's `initiated` is the call being set up: our `queued`.
    let Some(status) =
        CallStatus::parse(reported).or((reported == "initiated").then_some(CallStatus::Queued))
    else {
        tracing::debug!(sid, reported, "ignoring a call status we do not track");
        return Ok(());
    };
    let direction = match webhook.get("Direction") {
        Some(direction) if direction.starts_with("outbound") => Direction::Outbound,
        _ => Direction::Inbound,
    };
    let region = state.default_region;
    let normalise = |number: &str| {
        validate::phone_number(number, region, "").unwrap_or_else(|_| number.trim().to_string())
    };
    let (from, to) = (normalise(from), normalise(to));
    let (ours, theirs) = match direction {
        Direction::Inbound => (&to, &from),
        Direction::Outbound => (&from, &to),
    };
    let duration_seconds = webhook
        .get("CallDuration")
        .and_then(|seconds| seconds.parse::<i32>().ok())
        .filter(|seconds| *seconds >= 0);
    let recording_url = webhook
        .get("RecordingUrl")
        .and_then(|url| recording_url(Some(url.to_string())).ok().flatten());
    // When the call was answered: the report's time, less the call's length once it ended.
    let started_at = webhook
        .get("Timestamp")
        .and_then(|at| DateTime::parse_from_rfc2822(at).ok())
        .map(|at| at.with_timezone(&Utc))
        .filter(|_| matches!(status, CallStatus::InProgress | CallStatus::Completed))
        .map(|at| at - chrono::Duration::seconds(duration_seconds.unwrap_or(0).into()));

    let mut conn = state.pool.get().await?;
    let Some((org, number)) = webhook.number_owner(&mut conn, ours).await? else {
        tracing::warn!(sid, number = %ours, "voice callback for a number no organisation owns");
        return Ok(());
    };
    let existing = db_calls::find_by_external_id(&mut conn, org, sid).await?;
    let existing = match existing {
        Some(call) => call,
        None => {
            let (contact, _) = webhooks::contact_for_number(&mut conn, org, theirs, region).await?;
            drop(conn);
            let form = CallInsertForm {
                id: CallId::generate(),
                organization_id: org,
                contact_id: contact,
                phone_number_id: Some(number.id),
                direction,
                from_number: from.clone(),
                to_number: to.clone(),
                status,
                started_at,
                duration_seconds,
                recording_url: recording_url.clone(),
                transcription: None,
                analysis: None,
                external_id: Some(sid.to_string()),
            };
            match state
                .realtime
                .to_contact(org, contact, AddCall(form))
                .await?
            {
                // Another callback for the same call got in first: update that one.
                Err(AppError::Conflict(_)) => {
                    db_calls::find_by_external_id(&mut *state.pool.get().await?, org, sid)
                        .await?
                        .ok_or(AppError::NotFound("call"))?
                }
                other => {
                    other?;
                    return Ok(());
                }
            }
        }
    };
    let form = CallUpdateForm {
        status: Some(status),
        started_at: started_at
            .filter(|_| existing.started_at.is_none())
            .map(Some),
        duration_seconds: duration_seconds.map(Some),
        recording_url: recording_url.map(Some),
        transcription: None,
        analysis: None,
        updated_at: Utc::now(),
    };
    let update = UpdateCall {
        id: existing.id,
        from: status.replaces().to_vec(),
        form,
    };
    state
        .realtime
        .to_contact(org, existing.contact_id, update)
        .await??;
    Ok(())
}
