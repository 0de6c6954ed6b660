//! `WsSession`: one per WebSocket. It authenticates the socket, turns client frames
//! into subscriptions and typing notices, keeps the connection alive with pings, and
//! writes outgoing frames through a bounded queue.
//!
//! Back-pressure: actors never wait on a socket. They push frames into the session's
//! queue with `try_send`; a browser that stops reading lets its queue fill, and is then
//! cut off, so it never slows delivery to anyone else.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use actix_web::web;
use actix_ws::{CloseCode, CloseReason, ProtocolError};
use diesel::OptionalExtension;
use serde_json::json;
use tokio::sync::mpsc;

use super::contact::{Subscribe, Typing, Unsubscribe};
use super::org::{SessionEnded, SubscribeOrg};
use super::stream::Since;
use super::Realtime;
use crate::auth::{self, Caller};
use crate::cache::Caches;
use crate::db::contacts;
use crate::db::ids::ContactId;
use crate::db::DbPool;
use crate::error::AppError;
use crate::protocol::{close_codes, control_frame, error_frame, ClientFrame, Frame};

static NEXT_SESSION_ID: AtomicU64 = AtomicU64::new(1);

/// What the writer sends down the socket.
pub enum Outgoing {
    Text(Frame),
    Ping,
    Pong(web::Bytes),
    Close(CloseReason),
}

/// A session as the actors that deliver to it see it.
#[derive(Clone)]
pub struct Subscriber {
    pub session_id: u64,
    outbox: mpsc::Sender<Outgoing>,
    /// The one thing a deliverer tells the session itself.
    session: Recipient<Overflowed>,
}

impl Subscriber {
    /// Queues a frame without waiting. False when the session is gone, or its queue is
    /// full, in which case the session is told to hang up.
    pub fn push(&self, frame: &Frame) -> bool {
        match self.outbox.try_send(Outgoing::Text(frame.clone())) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.session.do_send(Overflowed);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// What every session shares: the realtime core, and the pool and caches that
/// authenticate a socket and check its subscriptions.
pub struct SessionState {
    pub realtime: Arc<Realtime>,
    pub pool: DbPool,
    pub caches: Arc<Caches>,
}

pub struct WsSession {
    id: u64,
    state: Arc<SessionState>,
    caller: Option<Arc<Caller>>,
    ws: actix_ws::Session,
    outbox: mpsc::Sender<Outgoing>,
    writer: Option<mpsc::Receiver<Outgoing>>,
    contacts: HashSet<ContactId>,
    /// Where to resume from for subscriptions made from now on (`?since=` or `resume`).
    since: Option<Since>,
    last_heard: Instant,
}

impl WsSession {
    pub fn new(
        state: Arc<SessionState>,
        ws: actix_ws::Session,
        caller: Option<Caller>,
        since: Option<Since>,
    ) -> Self {
        let (outbox, writer) = mpsc::channel(state.realtime.config().outbox_frames);
        WsSession {
            id: NEXT_SESSION_ID.fetch_add(1, Ordering::Relaxed),
            state,
            caller: caller.map(Arc::new),
            ws,
            outbox,
            writer: Some(writer),
            contacts: HashSet::new(),
            since,
            last_heard: Instant::now(),
        }
    }

    fn subscriber(&self, ctx: &Context<Self>) -> Subscriber {
        Subscriber {
            session_id: self.id,
            outbox: self.outbox.clone(),
            session: ctx.address().recipient(),
        }
    }

    /// Sends a frame of the session's own (hello, pong, errors).
    fn reply(&self, frame: Frame, ctx: &mut Context<Self>) {
        if self.outbox.try_send(Outgoing::Text(frame)).is_err() {
            ctx.stop();
        }
    }

    /// Sends the close frame after what is already queued, then ends the session.
    fn close(&self, code: u16, description: &str, ctx: &mut Context<Self>) {
        let reason = CloseReason {
            code: CloseCode::Other(code),
            description: Some(description.into()),
        };
        if self.outbox.try_send(Outgoing::Close(reason)).is_err() {
            ctx.stop();
        }
    }

    fn hello(&self, ctx: &mut Context<Self>) {
        if let Some(caller) = &self.caller {
            let hello = json!({
                "type": "hello",
                "session_id": self.id,
                "user_id": caller.user_id,
                "organization_id": caller.organization_id,
            });
            self.reply(control_frame(hello), ctx);
        }
    }

    fn on_frame(&mut self, frame: ClientFrame, ctx: &mut Context<Self>) {
        let caller = match (&self.caller, frame) {
            (None, ClientFrame::Auth { token }) => return self.authenticate(token, ctx),
            (Some(_), ClientFrame::Auth { .. }) => {
                return self.reply(
                    error_frame(
                        "already_authenticated",
                        "this socket is already authenticated",
                        None,
                    ),
                    ctx,
                )
            }
            (_, ClientFrame::Ping) => {
                return self.reply(control_frame(json!({ "type": "pong" })), ctx)
            }
            (None, _) => {
                return self.reply(
                    error_frame(
                        "unauthenticated",
                        "send {\"type\":\"auth\",\"token\":...} first",
                        None,
                    ),
                    ctx,
                )
            }
            (Some(caller), frame) => (caller.clone(), frame),
        };
        match caller {
            (caller, ClientFrame::Subscribe { contact_id }) => {
                self.subscribe(caller, contact_id, ctx)
            }
            (caller, ClientFrame::Unsubscribe { contact_id }) => {
                if self.contacts.remove(&contact_id) {
                    let unsubscribe = Unsubscribe {
                        session_id: self.id,
                    };
                    let realtime = self.state.realtime.clone();
                    ctx.spawn(
                        async move {
                            let _ = realtime
                                .to_contact(caller.organization_id, contact_id, unsubscribe)
                                .await;
                        }
                        .into_actor(self),
                    );
                }
            }
            (caller, ClientFrame::SubscribeOrg) => {
                let subscribe = SubscribeOrg {
                    subscriber: self.subscriber(ctx),
                    since: self.since.clone(),
                };
                let realtime = self.state.realtime.clone();
                // Frames after this one wait, so the client's order is kept.
                ctx.wait(
                    async move {
                        let org = caller.organization_id;
                        realtime.backfill(org, subscribe.since.as_ref()).await;
                        realtime.org(org).do_send(subscribe);
                    }
                    .into_actor(self),
                );
            }
            (caller, ClientFrame::Typing { contact_id, on }) => {
                if !self.contacts.contains(&contact_id) {
                    let refusal = error_frame(
                        "not_subscribed",
                        "subscribe to the contact first",
                        Some(contact_id),
                    );
                    return self.reply(refusal, ctx);
                }
                let typing = Typing {
                    session_id: self.id,
                    user_id: caller.user_id,
                    user_name: caller.user.name.clone(),
                    on,
                };
                let realtime = self.state.realtime.clone();
                ctx.spawn(
                    async move {
                        let _ = realtime
                            .to_contact(caller.organization_id, contact_id, typing)
                            .await;
                    }
                    .into_actor(self),
                );
            }
            (_, ClientFrame::Resume { since, epoch }) => {
                self.since = Some(Since { seq: since, epoch })
            }
            (_, ClientFrame::Auth { .. } | ClientFrame::Ping) => unreachable!("handled above"),
        }
    }

    fn authenticate(&mut self, token: String, ctx: &mut Context<Self>) {
        let state = self.state.clone();
        // Nothing else is read until the socket knows who it belongs to.
        ctx.wait(
            async move { auth::authenticate(&state.caches, &state.pool, &token).await }
                .into_actor(self)
                .map(|result, session, ctx| match result {
                    Ok(caller) => {
                        session.caller = Some(Arc::new(caller));
                        session.hello(ctx);
                    }
                    Err(_) => session.close(close_codes::UNAUTHENTICATED, "invalid token", ctx),
                }),
        );
    }

    /// Checks the contact belongs to the caller's organisation, then registers with its
    /// actor. Frames after this one wait, so the client's order is kept.
    fn subscribe(&mut self, caller: Arc<Caller>, contact_id: ContactId, ctx: &mut Context<Self>) {
        let state = self.state.clone();
        let subscribe = Subscribe {
            subscriber: self.subscriber(ctx),
            since: self.since.clone(),
        };
        ctx.wait(
            async move {
                let org = caller.organization_id;
                let exists = contacts::get(&mut *state.pool.get().await?, org, contact_id)
                    .await
                    .optional()?
                    .is_some();
                if !exists {
                    return Err(AppError::NotFound("contact"));
                }
                state.realtime.backfill(org, subscribe.since.as_ref()).await;
                state.realtime.to_contact(org, contact_id, subscribe).await
            }
            .into_actor(self)
            .map(move |result, session, ctx| match result {
                Ok(()) => {
                    session.contacts.insert(contact_id);
                }
                Err(AppError::NotFound(_)) => session.reply(
                    error_frame("not_found", "contact not found", Some(contact_id)),
                    ctx,
                ),
                Err(error) => session.reply(
                    error_frame("unavailable", error.to_string(), Some(contact_id)),
                    ctx,
                ),
            }),
        );
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let config = self.state.realtime.config();
        if self.caller.is_none() && self.last_heard.elapsed() >= config.heartbeat {
            return self.close(close_codes::UNAUTHENTICATED, "authenticate first", ctx);
        }
        if self.last_heard.elapsed() >= config.client_timeout {
            return self.close(close_codes::IDLE, "no frame or pong in time", ctx);
        }
        if self.outbox.try_send(Outgoing::Ping).is_err() {
            ctx.stop();
        }
    }
}

impl Actor for WsSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let mut writer = self.writer.take().expect("the writer starts once");
        let mut ws = self.ws.clone();
        // The one place that waits on the socket.
        ctx.spawn(
            async move {
                while let Some(outgoing) = writer.recv().await {
                    let written = match outgoing {
                        Outgoing::Text(frame) => {
                            crate::metrics::frame_sent();
                            ws.text(frame).await
                        }
                        Outgoing::Ping => ws.ping(b"").await,
                        Outgoing::Pong(payload) => ws.pong(&payload).await,
                        Outgoing::Close(reason) => {
                            let _ = ws.close(Some(reason)).await;
                            return;
                        }
                    };
                    if written.is_err() {
                        return;
                    }
                }
            }
            .into_actor(self)
            .map(|_, _, ctx| ctx.stop()),
        );
        ctx.run_interval(self.state.realtime.config().heartbeat, Self::heartbeat);
        crate::metrics::socket_opened();
        self.hello(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        crate::metrics::socket_closed();
        if let Some(caller) = &self.caller {
            self.state
                .realtime
                .org(caller.organization_id)
                .do_send(SessionEnded {
                    session_id: self.id,
                    contacts: self.contacts.drain().collect(),
                });
        }
    }
}

impl StreamHandler<Result<actix_ws::Message, ProtocolError>> for WsSession {
    fn handle(&mut self, item: Result<actix_ws::Message, ProtocolError>, ctx: &mut Context<Self>) {
        self.last_heard = Instant::now();
        match item {
            Ok(actix_ws::Message::Text(text)) => match serde_json::from_str::<ClientFrame>(&text) {
                Ok(frame) => self.on_frame(frame, ctx),
                Err(error) => self.reply(
                    error_frame("bad_frame", format!("unreadable frame: {error}"), None),
                    ctx,
                ),
            },
            Ok(actix_ws::Message::Ping(payload)) => {
                if self.outbox.try_send(Outgoing::Pong(payload)).is_err() {
                    ctx.stop();
                }
            }
            Ok(actix_ws::Message::Close(_)) => ctx.stop(),
            Ok(actix_ws::Message::Binary(_)) => {
                self.reply(error_frame("bad_frame", "frames are JSON text", None), ctx)
            }
            Ok(_) => {}
            Err(_) => ctx.stop(),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// The session's queue filled up: the client is not reading.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Overflowed;

impl Handler<Overflowed> for WsSession {
    type Result = ();

    fn handle(&mut self, _: Overflowed, ctx: &mut Context<Self>) {
        tracing::info!(session = self.id, "closing a socket that stopped reading");
        // The queue is full, so no close frame can get through: drop the connection.
        ctx.stop();
    }
}
