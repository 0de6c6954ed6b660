//! Recording new messages in batches (see `db::batcher`): the group commit every new
//! message goes through, from the contacts' actors.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use foldhash::{HashMap, HashMapExt};

use crate::db::audit_log::{self, AuditEntry};
use crate::db::batcher::Batched;
use crate::db::ids::{AttachmentId, MessageId, OrganizationId};
use crate::db::message_attachments::{self, Attachment};
use crate::db::message_fields::{Channel, MessageStatus};
use crate::db::messages::{self as db_messages, Message, MessageInsertForm};
use crate::db::run_locks::RunKey;
use crate::db::DbConn;
use crate::error::AppError;
use crate::twilio::{MMS_MAX_BYTES, MMS_MAX_FILES};

/// A message to record, with the pending uploads it takes.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub form: MessageInsertForm,
    pub attachment_ids: Vec<AttachmentId>,
    /// Recorded with the message, in its transaction (a PHI override).
    pub audit: Option<AuditEntry<'static>>,
    /// How the message goes to delivery once recorded; `None` for one that is not sent
    /// (a note, an inbound message).
    pub handover: Option<Handover>,
}

/// How a send comes to delivery: decided once, where the send is admitted
/// (`messages::send`), and carried by the message to the delivery job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// It can go at once (its carrier is set up and, for SMS, its number's pacing slot
    /// was free and is taken): recorded `sending`, claimed by this run as it is
    /// recorded, which saves delivery a write.
    Claimed,
    /// Recorded (or requeued) `queued`, and claimed by delivery when its turn comes, so
    /// a long wait never looks like an abandoned send.
    Queued,
}

impl Handover {
    /// The status the message is recorded with.
    pub fn status(self) -> MessageStatus {
        match self {
            Handover::Claimed => MessageStatus::Sending,
            Handover::Queued => MessageStatus::Queued,
        }
    }
}

/// Records new messages (see `db::batcher`): the messages of a batch that carry no
/// attachments are inserted in one statement, and their contacts' `last_contacted_at`
/// moved on, in one transaction. Messages with attachments, and every message of a batch
/// that failed as a whole, are then recorded one by one, so that each caller gets its
/// own answer. A `client_id` seen before (even in a concurrent request) answers with the
/// first message and `false`.
pub struct RecordMessages {
    /// The run that claims what it records `sending` (see `db::run_locks`).
    pub run: RunKey,
}

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
            .filter(|new| new.is_plain())
            .map(|new| &new.form)
            .collect();
        let mut inserted: HashMap<MessageId, Message> = HashMap::new();
        let mut batch_failed = false;
        if !plain.is_empty() {
            let written = db_messages::insert_many(conn, self.run, &plain).await;
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
                None if new.is_plain() && !batch_failed => replay_conflict(conn, &new).await,
                None => record_one(conn, self.run, new).await,
            };
            answers.push(answer);
        }
        answers
    }
}

impl NewMessage {
    /// Only a row to insert: nothing else is written with it.
    fn is_plain(&self) -> bool {
        self.attachment_ids.is_empty() && self.audit.is_none()
    }
}

/// Records one message, takes its attachments and writes its audit entry, in one
/// transaction.
async fn record_one(
    conn: &mut DbConn,
    run: RunKey,
    new: NewMessage,
) -> Result<(Message, bool), AppError> {
    let org = new.form.organization_id;
    let inserted = conn
        .transaction::<_, AppError, _>(async |conn| {
            let inserted = db_messages::insert_many(conn, run, &[&new.form]).await?;
            // Missing from the answer: its `client_id` was used before.
            let Some(message) = inserted.into_iter().next() else {
                return Ok(None);
            };
            take_attachments(conn, org, &new.attachment_ids, &message).await?;
            if let Some(entry) = &new.audit {
                audit_log::record(conn, entry).await?;
            }
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

/// Checks the uploads a message on `channel` would take: each of `ids` among `found`
/// (the organisation's uploads), none taken yet, and for SMS within the MMS limits.
pub fn ensure_attachable(
    channel: Channel,
    ids: &[AttachmentId],
    found: Vec<Attachment>,
) -> Result<(), AppError> {
    let found: HashMap<AttachmentId, Attachment> = found
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
    if channel == Channel::Sms {
        let total: i64 = found.values().map(|attachment| attachment.file_size).sum();
        if ids.len() > MMS_MAX_FILES || total > MMS_MAX_BYTES as i64 {
            return Err(AppError::PayloadTooLarge(format!(
                "an MMS carries at most {MMS_MAX_FILES} files and {} KB in all",
                MMS_MAX_BYTES / 1024
            )));
        }
    }
    Ok(())
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
    let found = message_attachments::lock_many(conn, org, ids).await?;
    ensure_attachable(message.channel, ids, found)?;
    message_attachments::link(conn, org, ids, message.id).await?;
    Ok(())
}
