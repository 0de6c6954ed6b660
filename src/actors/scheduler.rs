//! `SchedulerActor`: fires scheduled messages when they come due (see `scheduled` for how
//! each fires once across crashes and servers).
//!
//! It keeps the next due time in memory and sleeps until then: no loop that wakes every
//! second. Creating, editing or deferring a row re-arms it ([`Rearm`]) when that row is
//! due sooner. On start it fires what is already due (late, logged and counted) and arms
//! for the rest. It also wakes at least every [`RESCAN`], so it notices rows another
//! server scheduled and claims a crashed server left behind.

use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;

use crate::error::AppError;

/// The longest the scheduler sleeps.
pub const RESCAN: Duration = Duration::from_secs(30);
/// The pause after a round failed (the database is away) before the next.
const RETRY: Duration = Duration::from_secs(1);

/// Claims and fires everything due, and says when the next row is due
/// (`scheduled::fire_due`, given by startup: firing is the whole send path, which this
/// actor's module does not reach into).
pub type FireDue = Box<dyn Fn() -> LocalBoxFuture<'static, Result<Round, AppError>>>;

/// What a scheduler's round did.
pub struct Round {
    pub fired: usize,
    /// Rows fired more than a second after their time (the server was down, or busy),
    /// and the latest of them by how much.
    pub late: usize,
    pub most_late: chrono::Duration,
    /// When the next row waiting anywhere is due.
    pub next_due: Option<DateTime<Utc>>,
}

pub struct SchedulerActor {
    fire_due: FireDue,
    /// The timer of the next round, and when it goes off.
    timer: Option<(SpawnHandle, DateTime<Utc>)>,
    /// A round is under way...
    running: bool,
    /// ...and a row due at this time was scheduled meanwhile.
    asked: Option<DateTime<Utc>>,
}

impl SchedulerActor {
    pub fn new(fire_due: FireDue) -> Self {
        SchedulerActor {
            fire_due,
            timer: None,
            running: false,
            asked: None,
        }
    }

    /// Fires what is due, then arms the timer for what is due next.
    fn round(&mut self, ctx: &mut Context<Self>) {
        if let Some((handle, _)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        self.running = true;
        let work = (self.fire_due)();
        ctx.spawn(work.into_actor(self).map(|result, actor, ctx| {
            actor.running = false;
            let next = match result {
                Ok(round) => {
                    if round.fired > 0 {
                        tracing::info!(
                            fired = round.fired,
                            late = round.late,
                            most_late_ms = round.most_late.num_milliseconds(),
                            "scheduled messages fired"
                        );
                    }
                    round.next_due
                }
                Err(error) => {
                    tracing::warn!(error = %error, "scheduler round failed; trying again");
                    Some(Utc::now() + RETRY)
                }
            };
            let next = match (next, actor.asked.take()) {
                (Some(next), Some(asked)) => Some(next.min(asked)),
                (next, asked) => next.or(asked),
            };
            actor.arm(next, ctx);
        }));
    }

    /// Sleeps until `at` (at most [`RESCAN`]), unless the timer already goes off sooner.
    fn arm(&mut self, at: Option<DateTime<Utc>>, ctx: &mut Context<Self>) {
        let now = Utc::now();
        let latest = now + RESCAN;
        let at = at.map_or(latest, |at| at.min(latest));
        if let Some((handle, armed)) = self.timer {
            if armed <= at {
                return;
            }
            ctx.cancel_future(handle);
        }
        let delay = (at - now).to_std().unwrap_or(Duration::ZERO);
        let handle = ctx.run_later(delay, |actor, ctx| {
            actor.timer = None;
            actor.round(ctx);
        });
        self.timer = Some((handle, at));
    }
}

impl Actor for SchedulerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.round(ctx);
    }
}

/// A row is due at `due_at`: wake by then.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Rearm {
    pub due_at: DateTime<Utc>,
}

impl Handler<Rearm> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, rearm: Rearm, ctx: &mut Context<Self>) {
        if self.running {
            self.asked = Some(
                self.asked
                    .map_or(rearm.due_at, |asked| asked.min(rearm.due_at)),
            );
        } else {
            self.arm(Some(rearm.due_at), ctx);
        }
    }
}

/// The server stopped: fire nothing more. A round under way is dropped where it stands,
/// as a crash would leave it; its claims are taken over when their leases run out.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
