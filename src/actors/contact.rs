//! `ContactActor`: one per contact with activity. Every change to the contact's
//! conversation goes through it, so changes are written and broadcast in one order, and
//! each is delivered to the sessions viewing the contact.
//!
//! Handlers that write wait for their database work before the next message is handled
//! (`AtomicResponse`): two status reports for one contact never interleave.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::Serialize;
use serde_json::json;

use super::delivery::{Deliver, Recorded};
use super::org::{Liveness, OrgActor};
use super::stream::{Audience, OrgStream};
use super::ws_session::Subscriber;
use super::ActorDeps;
use crate::db::audit_log::{self, AuditEntry};
use crate::db::contact_reads;
use crate::db::ids::{AuditLogId, ContactId, MessageId, OrganizationId, UserId};
use crate::db::messages::{
    self as db_messages, Message as StoredMessage, MessageStatus, StatusChange, StatusReport,
};
use crate::error::AppError;
use crate::messages::{self, AddedMessage, MessageView, NewMessage, StatusView};
use crate::protocol::{events, Frame};
use crate::timestamp;

pub struct ContactActor {
    org: OrganizationId,
    contact: ContactId,
    stream: Rc<RefCell<OrgStream>>,
    subscribers: Vec<Subscriber>,
    liveness: Rc<Liveness>,
    org_addr: Addr<OrgActor>,
    deps: Arc<ActorDeps>,
}

impl ContactActor {
    pub fn new(
        org: OrganizationId,
        contact: ContactId,
        stream: Rc<RefCell<OrgStream>>,
        liveness: Rc<Liveness>,
        org_addr: Addr<OrgActor>,
        deps: Arc<ActorDeps>,
    ) -> Self {
        ContactActor {
            org,
            contact,
            stream,
            subscribers: Vec::new(),
            liveness,
            org_addr,
            deps,
        }
    }

    /// Numbers an event, keeps it for resuming clients, and delivers it to the viewers.
    fn broadcast<T: Serialize>(&mut self, kind: &str, data: &T) {
        let frame = self.stream.borrow_mut().publish(
            Audience::Contact(self.contact),
            kind,
            self.contact,
            data,
            true,
        );
        self.deliver(&frame, None);
    }

    /// Queues a frame for every viewer (except `skip`) without waiting on any of them;
    /// viewers that are gone or too slow to keep up are dropped.
    fn deliver(&mut self, frame: &Frame, skip: Option<u64>) {
        self.subscribers
            .retain(|subscriber| Some(subscriber.session_id) == skip || subscriber.push(frame));
        self.liveness.subscribers.set(self.subscribers.len());
    }

    /// Tells the organisation's sessions that the contact's conversation moved on.
    fn announce_to_org(&mut self, update: &ContactUpdate) {
        self.stream.borrow_mut().publish(
            Audience::Org,
            events::CONTACT_UPDATED,
            self.contact,
            update,
            true,
        );
    }

    /// Hands a message just recorded or requeued to delivery: one `queued`, or one
    /// recorded `sending` (claimed as it was recorded, see `messages::send`).
    fn hand_to_delivery(&self, message: &StoredMessage, view: &MessageView) {
        let outgoing = message.direction == "outbound" && !message.private;
        let status = message.status.as_str();
        if outgoing
            && (status == MessageStatus::Queued.as_str()
                || status == MessageStatus::Sending.as_str())
        {
            self.deps.delivery.do_send(Deliver {
                org: self.org_addr.clone(),
                organization_id: self.org,
                contact: self.contact,
                message_id: message.id,
                recorded: Some(Recorded {
                    message: message.clone(),
                    has_attachments: !view.attachments.is_empty(),
                }),
            });
        }
    }

    fn on_new_message(&mut self, added: &AddedMessage) {
        let message = &added.message;
        self.broadcast(events::MESSAGE_NEW, &added.json);
        let contacted = !message.private;
        self.announce_to_org(&ContactUpdate {
            contact_id: self.contact,
            last_contacted_at: contacted.then_some(message.created_at),
            last_message: Some(LastMessage {
                id: message.id,
                direction: message.direction.clone(),
                channel: message.channel.clone(),
                preview: message.body.chars().take(PREVIEW_CHARS).collect(),
                created_at: message.created_at,
            }),
            read: None,
        });
        if message.direction == "inbound" {
            let toast = json!({
                "message_id": message.id,
                "channel": message.channel,
                "from": message.from_address,
                "preview": message.body.chars().take(PREVIEW_CHARS).collect::<String>(),
            });
            self.stream.borrow_mut().publish(
                Audience::Org,
                events::INBOUND,
                self.contact,
                &toast,
                true,
            );
        }
        self.hand_to_delivery(message, &added.view);
    }
}

impl Actor for ContactActor {
    type Context = Context<Self>;
}

const PREVIEW_CHARS: usize = 120;

/// `messaging.contact.updated`: what the contact list needs to re-sort and badge.
#[derive(Debug, Serialize)]
struct ContactUpdate {
    contact_id: ContactId,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "timestamp::serialize_option"
    )]
    last_contacted_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_message: Option<LastMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    read: Option<ReadMark>,
}

#[derive(Debug, Serialize)]
struct LastMessage {
    id: MessageId,
    direction: String,
    channel: String,
    preview: String,
    #[serde(serialize_with = "timestamp::serialize")]
    created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct ReadMark {
    user_id: UserId,
    #[serde(serialize_with = "timestamp::serialize")]
    read_at: DateTime<Utc>,
}

/// Records a new message (outbound send, note, or inbound) and broadcasts it.
#[derive(Message)]
#[rtype(result = "Result<AddedMessage, AppError>")]
pub struct AddMessage(pub NewMessage);

impl Handler<AddMessage> for ContactActor {
    type Result = AtomicResponse<Self, Result<AddedMessage, AppError>>;

    fn handle(&mut self, AddMessage(new): AddMessage, _: &mut Context<Self>) -> Self::Result {
        let deps = self.deps.clone();
        AtomicResponse::new(Box::pin(
            async move {
                let has_attachments = !new.attachment_ids.is_empty();
                let (message, created) = deps.records.submit(new).await?;
                let view = messages::fresh_view(
                    &deps.pool,
                    &deps.caches,
                    message.clone(),
                    has_attachments || !created,
                    deps.region,
                )
                .await?;
                AddedMessage::new(message, view, created)
            }
            .into_actor(self)
            .map(|result, actor, _| {
                if let Ok(added) = &result {
                    if added.created {
                        actor.on_new_message(added);
                    }
                }
                result
            }),
        ))
    }
}

/// A carrier's (or the sandbox's) report on a message: a new status, or the carrier's
/// id for a message it accepted (`external_id`, with the status it already has). Stale
/// and repeated reports change nothing and broadcast nothing.
#[derive(Message)]
#[rtype(result = "Result<Option<StatusView>, AppError>")]
pub struct ApplyStatus {
    pub message_id: MessageId,
    pub change: StatusChange,
}

impl Handler<ApplyStatus> for ContactActor {
    type Result = AtomicResponse<Self, Result<Option<StatusView>, AppError>>;

    fn handle(&mut self, report: ApplyStatus, _: &mut Context<Self>) -> Self::Result {
        let report = StatusReport {
            organization_id: self.org,
            contact_id: self.contact,
            id: report.message_id,
            change: report.change,
        };
        let statuses = self.deps.statuses.clone();
        AtomicResponse::new(Box::pin(
            async move { statuses.submit(report).await }
                .into_actor(self)
                .map(|result: Result<Option<StatusView>, AppError>, actor, _| {
                    if let Ok(Some(standing)) = &result {
                        actor.broadcast(events::MESSAGE_STATUS, standing);
                    }
                    result
                }),
        ))
    }
}

/// Hands a message that is still queued to delivery again (the outbox sweep, after a
/// restart); delivery's claim makes a duplicate hand-over harmless.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Redeliver {
    pub message_id: MessageId,
}

impl Handler<Redeliver> for ContactActor {
    type Result = ();

    fn handle(&mut self, redeliver: Redeliver, _: &mut Context<Self>) {
        self.deps.delivery.do_send(Deliver {
            org: self.org_addr.clone(),
            organization_id: self.org,
            contact: self.contact,
            message_id: redeliver.message_id,
            recorded: None,
        });
    }
}

/// Puts a failed message back in the queue and hands it to delivery again.
#[derive(Message)]
#[rtype(result = "Result<MessageView, AppError>")]
pub struct RetryMessage {
    pub id: MessageId,
}

impl Handler<RetryMessage> for ContactActor {
    type Result = AtomicResponse<Self, Result<MessageView, AppError>>;

    fn handle(&mut self, retry: RetryMessage, _: &mut Context<Self>) -> Self::Result {
        let (deps, org) = (self.deps.clone(), self.org);
        AtomicResponse::new(Box::pin(
            async move {
                let config = deps.caches.org(org).await?;
                let mut conn = deps.pool.get().await?;
                let message = db_messages::requeue_failed(&mut conn, org, retry.id)
                    .await?
                    .ok_or_else(|| {
                        AppError::Conflict("only failed messages can be retried".into())
                    })?;
                let view = messages::view(&mut conn, &config, message.clone(), deps.region).await?;
                Ok((message, view))
            }
            .into_actor(self)
            .map(
                |result: Result<(StoredMessage, MessageView), AppError>, actor, _| {
                    let (message, view) = result?;
                    actor.broadcast(events::MESSAGE_STATUS, &StatusView::from(&message));
                    actor.hand_to_delivery(&message, &view);
                    Ok(view)
                },
            ),
        ))
    }
}

/// Changes the text of a private note or of a message not yet handed to the carrier.
#[derive(Message)]
#[rtype(result = "Result<MessageView, AppError>")]
pub struct EditMessage {
    pub id: MessageId,
    pub body: Option<String>,
    pub subject: Option<String>,
}

impl Handler<EditMessage> for ContactActor {
    type Result = AtomicResponse<Self, Result<MessageView, AppError>>;

    fn handle(&mut self, edit: EditMessage, _: &mut Context<Self>) -> Self::Result {
        let (deps, org) = (self.deps.clone(), self.org);
        AtomicResponse::new(Box::pin(
            async move {
                let config = deps.caches.org(org).await?;
                let mut conn = deps.pool.get().await?;
                let message = db_messages::edit(&mut conn, org, edit.id, edit.body.as_deref(), edit.subject.as_deref())
                    .await?
                    .ok_or_else(|| {
                        AppError::Conflict(
                            "the message is already on its way; only notes and messages not yet sent can be edited"
                                .into(),
                        )
                    })?;
                messages::view(&mut conn, &config, message, deps.region).await
            }
            .into_actor(self)
            .map(|result: Result<MessageView, AppError>, actor, _| {
                if let Ok(view) = &result {
                    actor.broadcast(events::MESSAGE_UPDATED, view);
                }
                result
            }),
        ))
    }
}

/// Hides a message (and cancels it if it was not yet handed to the carrier); the
/// deletion is written to the audit log in the same transaction.
#[derive(Message)]
#[rtype(result = "Result<(), AppError>")]
pub struct DeleteMessage {
    pub id: MessageId,
    pub user_id: UserId,
}

impl Handler<DeleteMessage> for ContactActor {
    type Result = AtomicResponse<Self, Result<(), AppError>>;

    fn handle(&mut self, delete: DeleteMessage, _: &mut Context<Self>) -> Self::Result {
        let (pool, org) = (self.deps.pool.clone(), self.org);
        AtomicResponse::new(Box::pin(
            async move {
                let mut conn = pool.get().await?;
                conn.transaction::<_, AppError, _>(async |conn| {
                    let message = db_messages::soft_delete(conn, org, delete.id)
                        .await?
                        .ok_or(AppError::NotFound("message"))?;
                    audit_log::record(
                        conn,
                        &AuditEntry {
                            id: AuditLogId::generate(),
                            organization_id: org,
                            user_id: Some(delete.user_id),
                            action: "message.deleted",
                            subject_type: "message",
                            subject_id: message.id.0,
                            details: json!({
                                "contact_id": message.contact_id,
                                "channel": message.channel,
                                "status": message.status,
                                "private": message.private,
                            }),
                        },
                    )
                    .await?;
                    Ok(message)
                })
                .await
            }
            .into_actor(self)
            .map(|result: Result<StoredMessage, AppError>, actor, _| {
                let message = result?;
                actor.broadcast(
                    events::MESSAGE_DELETED,
                    &json!({ "id": message.id, "status": message.status }),
                );
                Ok(())
            }),
        ))
    }
}

/// The operator has read the contact's conversation up to now.
#[derive(Message)]
#[rtype(result = "Result<DateTime<Utc>, AppError>")]
pub struct MarkRead {
    pub user_id: UserId,
}

impl Handler<MarkRead> for ContactActor {
    type Result = AtomicResponse<Self, Result<DateTime<Utc>, AppError>>;

    fn handle(&mut self, mark: MarkRead, _: &mut Context<Self>) -> Self::Result {
        let (pool, org, contact) = (self.deps.pool.clone(), self.org, self.contact);
        let read_at = Utc::now();
        AtomicResponse::new(Box::pin(
            async move {
                let mut conn = pool.get().await?;
                contact_reads::mark_read(&mut conn, org, mark.user_id, contact, read_at).await?;
                Ok(())
            }
            .into_actor(self)
            .map(move |result: Result<(), AppError>, actor, _| {
                result?;
                actor.announce_to_org(&ContactUpdate {
                    contact_id: contact,
                    last_contacted_at: None,
                    last_message: None,
                    read: Some(ReadMark {
                        user_id: mark.user_id,
                        read_at,
                    }),
                });
                Ok(read_at)
            }),
        ))
    }
}

/// A session starts viewing the contact: it gets a `subscribed` frame, then what it
/// missed since `since` (if given), then every later event.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub subscriber: Subscriber,
    pub since: Option<u64>,
}

impl Handler<Subscribe> for ContactActor {
    type Result = ();

    fn handle(&mut self, subscribe: Subscribe, _: &mut Context<Self>) {
        let session_id = subscribe.subscriber.session_id;
        self.subscribers
            .retain(|existing| existing.session_id != session_id);
        let welcomed = self.stream.borrow_mut().welcome(
            &subscribe.subscriber,
            Audience::Contact(self.contact),
            subscribe.since,
        );
        if welcomed {
            self.subscribers.push(subscribe.subscriber);
        }
        self.liveness.subscribers.set(self.subscribers.len());
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub session_id: u64,
}

impl Handler<Unsubscribe> for ContactActor {
    type Result = ();

    fn handle(&mut self, unsubscribe: Unsubscribe, _: &mut Context<Self>) {
        self.subscribers
            .retain(|subscriber| subscriber.session_id != unsubscribe.session_id);
        self.liveness.subscribers.set(self.subscribers.len());
    }
}

/// An operator started or stopped typing to the contact. Goes to the other viewers,
/// not back to the typist, and is not kept for replay.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Typing {
    pub session_id: u64,
    pub user_id: UserId,
    pub user_name: String,
    pub on: bool,
}

impl Handler<Typing> for ContactActor {
    type Result = ();

    fn handle(&mut self, typing: Typing, _: &mut Context<Self>) {
        let data =
            json!({ "user_id": typing.user_id, "user_name": typing.user_name, "on": typing.on });
        let frame = self.stream.borrow_mut().publish(
            Audience::Contact(self.contact),
            events::TYPING,
            self.contact,
            &data,
            false,
        );
        self.deliver(&frame, Some(typing.session_id));
    }
}

/// Sent by the organisation's actor once this one has been idle long enough.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for ContactActor {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
