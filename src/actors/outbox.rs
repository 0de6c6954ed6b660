//! `OutboxSweeper`: resumes the durable outbox. A message the API accepted is queued in
//! PostgreSQL before the API answers; if the server stopped before delivery took it, or
//! in the middle of sending it, this hands it to delivery again (which reconciles with
//! the carrier first), at start-up and then periodically. A send another run claimed is
//! taken over as soon as that run is gone (see `db::run_locks`), never because it is old:
//! a live run may still be sending it. It also has the carrier
//! asked where messages stand whose final status never came (lost callbacks).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::contact::Redeliver;
use super::delivery::Settle;
use super::org::ToContact;
use super::Realtime;
use crate::db::messages;
use crate::db::run_locks::RunKey;

/// Queued messages younger than this are still on their normal way.
const GRACE: Duration = Duration::from_secs(10);
const BATCH: i64 = 500;
/// The carrier is asked about at most this many messages per sweep (and delivery paces
/// the questions).
const STATUS_CHECKS: i64 = 100;
/// Messages older than this are not asked about: carriers that report no more than
/// `sent` would be asked forever.
const STATUS_CHECK_HORIZON: chrono::TimeDelta = chrono::TimeDelta::days(3);

pub struct OutboxSweeper {
    realtime: Arc<Realtime>,
    /// This server's run: its own silent claims are resumed, other live runs' never.
    run: RunKey,
    every: Duration,
}

impl OutboxSweeper {
    pub fn new(realtime: Arc<Realtime>, run: RunKey, every: Duration) -> Self {
        OutboxSweeper {
            realtime,
            run,
            every,
        }
    }

    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let (realtime, run) = (self.realtime.clone(), self.run);
        ctx.spawn(
            async move {
                let now = chrono::Utc::now();
                let (queued_before, sending_before) =
                    (now - GRACE, now - super::delivery::STALE_SENDING);
                let stale = async {
                    messages::stale_outbox(
                        &mut *realtime.deps.pool.get().await?,
                        run,
                        queued_before,
                        sending_before,
                        BATCH,
                    )
                    .await
                    .map_err(crate::error::AppError::from)
                };
                match stale.await {
                    Ok(stale) => {
                        // At most `BATCH`: a gauge at that value means "at least".
                        crate::metrics::outbox(
                            stale.len(),
                            stale.first().map(|(.., updated_at)| now - *updated_at),
                        );
                        if !stale.is_empty() {
                            tracing::info!(count = stale.len(), "resuming queued messages");
                        }
                        for (org, contact, message_id, _) in stale {
                            realtime.org(org).do_send(ToContact {
                                contact,
                                message: Redeliver { message_id },
                            });
                        }
                    }
                    Err(error) => tracing::warn!(error = %error, "could not read the outbox"),
                }
                let check_after = realtime.deps.config.status_check_after;
                let unsettled = async {
                    messages::take_unsettled(
                        &mut *realtime.deps.pool.get().await?,
                        now - check_after,
                        now - STATUS_CHECK_HORIZON,
                        STATUS_CHECKS,
                    )
                    .await
                    .map_err(crate::error::AppError::from)
                };
                match unsettled.await {
                    Ok(unsettled) => {
                        for message in unsettled {
                            realtime.deps.delivery.do_send(Settle {
                                org: realtime.org(message.organization_id),
                                organization_id: message.organization_id,
                                contact: message.contact_id,
                                message_id: message.id,
                                sid: message.external_id,
                            });
                        }
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "could not read the unsettled messages")
                    }
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
