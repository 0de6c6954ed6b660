//! Status reports applied in batches (see `db::batcher`), from the contacts' actors.

use foldhash::{HashMap, HashSet, HashSetExt};

use crate::db::batcher::Batched;
use crate::db::ids::MessageId;
use crate::db::messages::{advance_statuses, StatusReport, StatusView};
use crate::db::run_locks::RunKey;
use crate::db::DbConn;
use crate::error::AppError;

/// Status reports written in batches (see `batcher`); each answer is where the message
/// now stands, or `None` when the report changed nothing. A report that moves a message
/// to `sending` is this run's claim on it.
pub struct ApplyStatuses {
    pub run: RunKey,
}

impl Batched for ApplyStatuses {
    type Request = StatusReport;
    type Response = Option<StatusView>;

    async fn run(
        &self,
        conn: &mut DbConn,
        batch: Vec<StatusReport>,
    ) -> Vec<Result<Option<StatusView>, AppError>> {
        // One statement updates a row once: a message reported twice in the batch waits
        // for the next round, so the reports apply in the order they came.
        let mut answers: Vec<Option<Result<Option<StatusView>, AppError>>> =
            batch.iter().map(|_| None).collect();
        let mut waiting: Vec<usize> = (0..batch.len()).collect();
        while !waiting.is_empty() {
            let mut seen = HashSet::new();
            let (round, later): (Vec<usize>, Vec<usize>) = waiting
                .iter()
                .partition(|&&index| seen.insert(batch[index].id));
            let reports: Vec<StatusReport> =
                round.iter().map(|&index| batch[index].clone()).collect();
            match advance_statuses(conn, self.run, &reports).await {
                Ok(changed) => {
                    let mut changed: HashMap<MessageId, StatusView> = changed
                        .into_iter()
                        .map(|message| (message.id, message))
                        .collect();
                    for index in round {
                        answers[index] = Some(Ok(changed.remove(&batch[index].id)));
                    }
                }
                Err(error) => {
                    for index in round {
                        answers[index] =
                            Some(Err(AppError::of_batch(&error, "applying status reports")));
                    }
                }
            }
            waiting = later;
        }
        answers.into_iter().flatten().collect()
    }
}
