//! `OutboxSweeper`: resumes the durable outbox. A message the API accepted is queued in
//! PostgreSQL before the API answers; if the server stopped before delivery took it, or
//! in the middle of sending it, this hands it to delivery again (which reconciles with
//! the carrier first), at start-up and then periodically.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::contact::Redeliver;
use super::org::ToContact;
use super::Realtime;
use crate::db::messages;

/// Queued messages younger than this are still on their normal way.
const GRACE: Duration = Duration::from_secs(10);
const BATCH: i64 = 500;

pub struct OutboxSweeper {
    realtime: Arc<Realtime>,
    every: Duration,
}

impl OutboxSweeper {
    pub fn new(realtime: Arc<Realtime>, every: Duration) -> Self {
        OutboxSweeper { realtime, every }
    }

    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let realtime = self.realtime.clone();
        ctx.spawn(
            async move {
                let now = chrono::Utc::now();
                let (queued_before, sending_before) =
                    (now - GRACE, now - super::delivery::STALE_SENDING);
                let stale = async {
                    messages::stale_outbox(
                        &mut *realtime.deps.pool.get().await?,
                        queued_before,
                        sending_before,
                        BATCH,
                    )
                    .await
                    .map_err(crate::error::AppError::from)
                };
                match stale.await {
                    Ok(stale) => {
                        if !stale.is_empty() {
                            tracing::info!(count = stale.len(), "resuming queued messages");
                        }
                        for (org, contact, message_id) in stale {
                            realtime.org(org).do_send(ToContact {
                                contact,
                                message: Redeliver { message_id },
                            });
                        }
                    }
                    Err(error) => tracing::warn!(error = %error, "could not read the outbox"),
                }
            }
            .into_actor(self),
        );
    }
}

impl Actor for OutboxSweeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.sweep(ctx);
        ctx.run_interval(self.every, Self::sweep);
    }
}
