//! `SandboxTransport`: a stand-in carrier for demos and local runs, used while an
//! organisation has no real carrier configured. It sends nothing anywhere: each message
//! it is given moves `queued → sent → delivered`, a step every `delay`, through the same
//! status path (`ApplyStatus` on the contact's actor) that carrier webhooks use. Its
//! carrier ids start with `SANDBOX-` so nobody mistakes them for real ones. With
//! `replies` (the demo), the contact answers a text a few steps after it is delivered.

use std::time::Duration;

use actix::prelude::*;

use super::contact::{ApplyStatus, SandboxReply};
use super::org::{OrgActor, ToContact};
use crate::db::ids::{ContactId, MessageId};
use crate::db::message_fields::MessageStatus;
use crate::db::messages::StatusChange;

pub struct SandboxTransport {
    delay: Duration,
    replies: bool,
}

impl SandboxTransport {
    pub fn new(delay: Duration, replies: bool) -> Self {
        SandboxTransport { delay, replies }
    }
}

impl Actor for SandboxTransport {
    type Context = Context<Self>;
}

/// Deliver a queued message (reports go back through the contact's organisation).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub org: Addr<OrgActor>,
    pub contact: ContactId,
    pub message_id: MessageId,
}

impl Handler<Deliver> for SandboxTransport {
    type Result = ();

    fn handle(&mut self, deliver: Deliver, ctx: &mut Context<Self>) {
        let external_id = format!("SANDBOX-{}", uuid::Uuid::new_v4().simple());
        let steps = [MessageStatus::Sent, MessageStatus::Delivered];
        for (step, status) in steps.into_iter().enumerate() {
            let report = ToContact {
                contact: deliver.contact,
                message: ApplyStatus {
                    message_id: deliver.message_id,
                    change: StatusChange {
                        external_id: Some(external_id.clone()),
                        ..StatusChange::to(status)
                    },
                },
            };
            let org = deliver.org.clone();
            ctx.run_later(self.delay * (step as u32 + 1), move |_, _| {
                org.do_send(report)
            });
        }
        if self.replies {
            let reply = ToContact {
                contact: deliver.contact,
                message: SandboxReply {
                    to: deliver.message_id,
                },
            };
            ctx.run_later(self.delay * 4, move |_, _| deliver.org.do_send(reply));
        }
    }
}
