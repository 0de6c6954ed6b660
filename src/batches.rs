//! The batch jobs (see `db::batcher`): what the send path and the contacts' actors
//! write and look up many at a time, all started here.

pub mod apply_statuses;
pub mod load_recipients;
pub mod record_messages;

use apply_statuses::ApplyStatuses;
use load_recipients::LoadRecipients;
use record_messages::RecordMessages;

use crate::db::batcher::Batcher;
use crate::db::run_locks::RunKey;

/// The queues of every batch job, each with a database connection of its own.
pub struct Batches {
    /// New messages, from the contacts' actors.
    pub records: Batcher<RecordMessages>,
    /// Status reports, from the contacts' actors.
    pub statuses: Batcher<ApplyStatuses>,
    /// Sends' recipient lookups.
    pub recipients: Batcher<LoadRecipients>,
}

impl Batches {
    /// Starts every job on the current actix arbiter; what they move to `sending` is
    /// claimed for `run` (see `db::run_locks`).
    pub fn start(database_url: &str, run: RunKey) -> anyhow::Result<Batches> {
        Ok(Batches {
            records: Batcher::start(database_url, RecordMessages { run })?,
            statuses: Batcher::start(database_url, ApplyStatuses { run })?,
            recipients: Batcher::start(database_url, LoadRecipients)?,
        })
    }
}
