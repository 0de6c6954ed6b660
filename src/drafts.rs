//! Drafts kept by the server: one reply in progress per operator and contact, so it
//! survives a reload and follows the operator to another browser.
//!
//! Sending clears the draft without touching the send path: a draft older than the
//! operator's latest message to the contact is spent, and reads as absent (see
//! `db::drafts::get`). A later save replaces it.

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::contacts;
use crate::db::drafts::{self as db_drafts, Draft, DraftChannel};
use crate::db::ids::ContactId;
use crate::error::AppError;
use crate::validate;

/// As long as the longest message body (an email's).
const MAX_BODY_CHARS: usize = 100_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    pub channel: DraftChannel,
    #[serde(default)]
    pub body: String,
    pub subject: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftView {
    pub contact_id: ContactId,
    pub channel: DraftChannel,
    pub body: String,
    pub subject: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<Draft> for DraftView {
    fn from(draft: Draft) -> Self {
        DraftView {
            contact_id: draft.contact_id,
            channel: draft.channel,
            body: draft.body,
            subject: draft.subject,
            updated_at: draft.updated_at,
        }
    }
}

pub async fn save(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    contact: ContactId,
    request: DraftRequest,
) -> Result<DraftView, AppError> {
    if request.body.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::invalid(
            "body",
            format!("a draft's body is at most {MAX_BODY_CHARS} characters"),
        ));
    }
    let draft = Draft {
        organization_id: caller.organization_id,
        user_id: caller.user_id,
        contact_id: contact,
        channel: request.channel,
        body: request.body,
        subject: validate::optional_text(request.subject.as_deref(), "subject")?,
        updated_at: Utc::now(),
    };
    ensure_contact(conn, caller, contact).await?;
    Ok(db_drafts::save(conn, &draft).await?.into())
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    contact: ContactId,
) -> Result<DraftView, AppError> {
    ensure_contact(conn, caller, contact).await?;
    db_drafts::get(conn, caller.organization_id, caller.user_id, contact)
        .await?
        .map(DraftView::from)
        .ok_or(AppError::NotFound("draft"))
}

/// Throws the operator's draft away; there being none is fine.
pub async fn discard(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    contact: ContactId,
) -> Result<(), AppError> {
    ensure_contact(conn, caller, contact).await?;
    db_drafts::delete(conn, caller.organization_id, caller.user_id, contact).await?;
    Ok(())
}

async fn ensure_contact(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    contact: ContactId,
) -> Result<(), AppError> {
    contacts::get(conn, caller.organization_id, contact)
        .await
        .optional()?
        .map(drop)
        .ok_or(AppError::NotFound("contact"))
}
