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
use serde_json::value::RawValue;

use super::delivery::{self, Deliver, Recorded};
use super::org::{Liveness, OrgActor};
use super::stream::{OrgStream, Since};
use super::ws_session::Subscriber;
use super::ActorDeps;
use crate::batches::record_messages::{Handover, NewMessage};
use crate::db::audit_log::{self, AuditEntry};
use crate::db::calls::{self as db_calls, Call, CallInsertForm, CallStatus, CallUpdateForm};
use crate::db::contact_reads;
use crate::db::ids::{AuditLogId, CallId, ContactId, MessageId, OrganizationId, UserId};
use crate::db::message_fields::{Channel, Direction, MessageStatus};
use crate::db::messages::{
    self as db_messages, Message as StoredMessage, StatusChange, StatusReport,
};
use crate::error::AppError;
use crate::message_views::{self as views, AddedMessage, MessageView, StatusView};
use crate::protocol::{events, Audience};
use crate::timestamp;

pub struct ContactActor {
    org: OrganizationId,
    contact: ContactId,
    stream: Rc<RefCell<OrgStream>>,
    /// Who views the contact is kept in `liveness`, where events coming back from the
    /// broker are delivered by the organisation's actor.
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
            liveness,
            org_addr,
            deps,
        }
    }

    /// Numbers an event, keeps it for resuming clients, and delivers it to the viewers
    /// (through the broker, when there is one: see `OrgStream::publish`).
    fn broadcast<T: Serialize>(&mut self, kind: &str, data: &T) {
        let frame = self.stream.borrow_mut().publish(
            Audience::Contact(self.contact),
            kind,
            self.contact,
            data,
            true,
            None,
        );
        if let Some(frame) = frame {
            self.liveness.deliver(&frame, None);
        }
    }

    /// Tells the organisation's sessions that the contact's conversation moved on.
    fn announce_to_org(&mut self, update: &ContactUpdate) {
        self.stream.borrow_mut().publish(
            Audience::Org,
            events::CONTACT_UPDATED,
            self.contact,
            update,
            true,
            None,
        );
    }

    /// Hands a message just recorded or requeued to delivery, as admitted (see
    /// `Handover`). `reconcile_since`: since when the carrier may already have it (see
    /// `Deliver`).
    fn hand_to_delivery(
        &self,
        message: &StoredMessage,
        view: &MessageView,
        handover: Handover,
        reconcile_since: Option<DateTime<Utc>>,
    ) {
        self.deps.delivery.do_send(Deliver {
            org: self.org_addr.clone(),
            organization_id: self.org,
            contact: self.contact,
            message_id: message.id,
            recorded: Some(Recorded {
                message: message.clone(),
                has_attachments: !view.attachments.is_empty(),
                handover,
            }),
            reconcile_since,
        });
    }

    fn on_new_message(&mut self, added: &AddedMessage, handover: Option<Handover>) {
        let message = &added.message;
        self.broadcast(events::MESSAGE_NEW, &added.json);
        let contacted = !message.private;
        self.announce_to_org(&ContactUpdate {
            contact_id: self.contact,
            last_contacted_at: contacted.then_some(message.created_at),
            last_message: Some(LastMessage {
                id: message.id,
                direction: message.direction,
                channel: message.channel,
                preview: message.body.chars().take(PREVIEW_CHARS).collect(),
                created_at: message.created_at,
            }),
            read: None,
        });
        if message.direction == Direction::Inbound {
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
                None,
            );
        }
        if let Some(handover) = handover {
            self.hand_to_delivery(message, &added.view, handover, None);
        }
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
    direction: Direction,
    channel: Channel,
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
                let handover = new.handover;
                let (message, created) = deps.records.submit(new).await?;
                let view = views::fresh_view(
                    &deps.pool,
                    &deps.caches,
                    message.clone(),
                    has_attachments || !created,
                    deps.region,
                )
                .await?;
                Ok((AddedMessage::new(message, view, created)?, handover))
            }
            .into_actor(self)
            .map(|result: Result<_, AppError>, actor, _| {
                let (added, handover) = result?;
                if added.created {
                    actor.on_new_message(&added, handover);
                }
                Ok(added)
            }),
        ))
    }
}

/// The contact's answer to a text, played by the demo's sandbox carrier (so that a
/// newcomer has someone to talk to): recorded and broadcast as an inbound message.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SandboxReply {
    pub to: MessageId,
}

/// What the demo's contacts answer, one picked by the message they answer.
const SANDBOX_REPLIES: [&str; 4] = [
    "Thanks, got it! 👍",
    "Great, see you then.",
    "Perfect, thank you!",
    "Could you call me back when you have a minute?",
];

impl Handler<SandboxReply> for ContactActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, reply: SandboxReply, ctx: &mut Context<Self>) -> Self::Result {
        let (org, deps, me) = (self.org, self.deps.clone(), ctx.address());
        Box::pin(
            async move {
                let sent = db_messages::get(&mut *deps.pool.get().await?, org, reply.to).await?;
                if sent.channel != Channel::Sms || sent.direction != Direction::Outbound {
                    return Ok(());
                }
                let pick = reply.to.0.as_bytes()[15] as usize % SANDBOX_REPLIES.len();
                let form = db_messages::MessageInsertForm {
                    id: MessageId::generate(),
                    organization_id: org,
                    contact_id: sent.contact_id,
                    phone_number_id: sent.phone_number_id,
                    email_address_id: None,
                    contact_method_id: sent.contact_method_id,
                    channel: Channel::Sms,
                    direction: Direction::Inbound,
                    body: SANDBOX_REPLIES[pick].into(),
                    subject: None,
                    from_address: sent.to_address,
                    to_address: sent.from_address,
                    status: MessageStatus::Received,
                    source: "sandbox",
                    ai_origin: None,
                    external_id: None,
                    client_id: None,
                    private: false,
                    sender_user_id: None,
                };
                me.send(AddMessage(NewMessage {
                    form,
                    attachment_ids: Vec::new(),
                    audit: None,
                    handover: None,
                }))
                .await
                .map_err(AppError::internal)??;
                Ok::<_, AppError>(())
            }
            .into_actor(self)
            .map(|result, _, _| {
                if let Err(error) = result {
                    tracing::warn!(%error, "the sandbox could not answer as the contact");
                }
            }),
        )
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
                        if standing.status == MessageStatus::Delivered {
                            if let Some(sent) = standing.id.created_at() {
                                crate::metrics::delivered(standing.updated_at - sent);
                            }
                        }
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
            reconcile_since: None,
        });
    }
}

/// Puts a failed message back in the queue and hands it to delivery again. A message
/// delivery gave up on may have reached the carrier all the same (its answers were lost):
/// delivery asks the carrier before sending it again, and one whose carrier id arrived
/// after all is not retried.
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
                let failed = db_messages::get(&mut conn, org, retry.id).await?;
                let gave_up = failed.error_code.as_deref() == Some(delivery::GAVE_UP);
                if let (true, Some(sid)) = (gave_up, &failed.external_id) {
                    return Err(AppError::Conflict(format!(
                        "the carrier has this message after all ({sid}): it was sent, and is not sent again"
                    )));
                }
                let message = db_messages::requeue_failed(&mut conn, org, retry.id)
                    .await?
                    .ok_or_else(|| {
                        AppError::Conflict("only failed messages can be retried".into())
                    })?;
                let view = views::view(&mut conn, &config, message.clone(), deps.region).await?;
                Ok((message, view, gave_up.then_some(failed.created_at)))
            }
            .into_actor(self)
            .map(
                |result: Result<_, AppError>, actor, _| {
                    let (message, view, reconcile_since) = result?;
                    actor.broadcast(events::MESSAGE_STATUS, &StatusView::from(&message));
                    actor.hand_to_delivery(&message, &view, Handover::Queued, reconcile_since);
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
                views::view(&mut conn, &config, message, deps.region).await
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

/// Records a new call with the contact and broadcasts it; the call moves the contact's
/// `last_contacted_at` as a message does.
#[derive(Message)]
#[rtype(result = "Result<Call, AppError>")]
pub struct AddCall(pub CallInsertForm);

impl Handler<AddCall> for ContactActor {
    type Result = AtomicResponse<Self, Result<Call, AppError>>;

    fn handle(&mut self, AddCall(form): AddCall, _: &mut Context<Self>) -> Self::Result {
        let pool = self.deps.pool.clone();
        AtomicResponse::new(Box::pin(
            async move { Ok(db_calls::record(&mut *pool.get().await?, &form).await?) }
                .into_actor(self)
                .map(|result: Result<Call, AppError>, actor, _| {
                    let call = result?;
                    actor.broadcast(events::CALL_NEW, &call);
                    actor.announce_to_org(&ContactUpdate {
                        contact_id: actor.contact,
                        last_contacted_at: Some(call.created_at),
                        last_message: None,
                        read: None,
                    });
                    Ok(call)
                }),
        ))
    }
}

/// Changes one of the contact's calls if its status is one of `from`; a report that
/// would move the status backwards changes nothing and broadcasts nothing (`None`).
#[derive(Message)]
#[rtype(result = "Result<Option<Call>, AppError>")]
pub struct UpdateCall {
    pub id: CallId,
    pub from: Vec<CallStatus>,
    pub form: CallUpdateForm,
}

impl Handler<UpdateCall> for ContactActor {
    type Result = AtomicResponse<Self, Result<Option<Call>, AppError>>;

    fn handle(&mut self, update: UpdateCall, _: &mut Context<Self>) -> Self::Result {
        let (pool, org, contact) = (self.deps.pool.clone(), self.org, self.contact);
        AtomicResponse::new(Box::pin(
            async move {
                let mut conn = pool.get().await?;
                let (id, from, form) = (update.id, &update.from, &update.form);
                Ok(db_calls::update(&mut conn, org, contact, id, from, form).await?)
            }
            .into_actor(self)
            .map(|result: Result<Option<Call>, AppError>, actor, _| {
                if let Ok(Some(call)) = &result {
                    actor.broadcast(events::CALL_UPDATED, call);
                }
                result
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
    pub since: Option<Since>,
}

impl Handler<Subscribe> for ContactActor {
    type Result = ();

    fn handle(&mut self, subscribe: Subscribe, _: &mut Context<Self>) {
        let session_id = subscribe.subscriber.session_id;
        let mut viewers = self.liveness.viewers.borrow_mut();
        viewers.retain(|existing| existing.session_id != session_id);
        let welcomed = self.stream.borrow_mut().welcome(
            &subscribe.subscriber,
            Audience::Contact(self.contact),
            subscribe.since.as_ref(),
        );
        if welcomed {
            viewers.push(subscribe.subscriber);
        }
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
        self.liveness
            .viewers
            .borrow_mut()
            .retain(|viewer| viewer.session_id != unsubscribe.session_id);
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
            Some(typing.session_id),
        );
        if let Some(frame) = frame {
            self.liveness.deliver(&frame, Some(typing.session_id));
        }
    }
}

/// One of the contact's scheduled messages changed (`messaging.scheduled.*`): its
/// viewers and the organisation's subscribers (the operator queue) hear of it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ScheduledChanged {
    pub kind: &'static str,
    pub data: Box<RawValue>,
}

impl Handler<ScheduledChanged> for ContactActor {
    type Result = ();

    fn handle(&mut self, changed: ScheduledChanged, _: &mut Context<Self>) {
        self.broadcast(changed.kind, &changed.data);
        self.stream.borrow_mut().publish(
            Audience::Org,
            changed.kind,
            self.contact,
            &changed.data,
            true,
            None,
        );
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
