//! Group commit: small writes from many concurrent callers are gathered and written
//! together, one statement (and one WAL flush) per batch instead of per write.
//!
//! Each PostgreSQL statement costs this server and the database far more than the row
//! it writes, and every commit waits for the disk; a busy send path makes thousands of
//! such writes a second. Callers still wait for *their* write to be committed before they
//! go on, so nothing is acknowledged that is not durable, and a caller's writes keep
//! their order (it submits the next one only after the previous one answered).

use std::rc::Rc;

use tokio::sync::{mpsc, oneshot, Mutex};

use super::{DbConn, DbPool};
use crate::error::AppError;

/// Most writes in one batch.
const MAX_BATCH: usize = 256;
/// Batches being written at once: while one waits for its commit, the next gathers.
const WRITERS: usize = 2;

/// A kind of write that can be done many at a time. Its futures run on one actix
/// arbiter (never moved between threads), so they need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait BatchWrite: 'static {
    type Request: 'static;
    type Response: 'static;

    /// Writes the batch; the answers are in the order of the requests.
    async fn write(
        &self,
        conn: &mut DbConn,
        batch: Vec<Self::Request>,
    ) -> Vec<Result<Self::Response, AppError>>;
}

type Pending<W> = (
    <W as BatchWrite>::Request,
    oneshot::Sender<Result<<W as BatchWrite>::Response, AppError>>,
);

/// The queue of one kind of write; cheap to clone and to share between threads.
pub struct GroupCommit<W: BatchWrite> {
    queue: mpsc::UnboundedSender<Pending<W>>,
}

impl<W: BatchWrite> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        GroupCommit {
            queue: self.queue.clone(),
        }
    }
}

impl<W: BatchWrite> GroupCommit<W>
where
    W::Request: Send,
    W::Response: Send,
{
    /// Starts the writers on the current actix arbiter.
    pub fn start(pool: DbPool, write: W) -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        let receiver = Rc::new(Mutex::new(receiver));
        let write = Rc::new(write);
        for _ in 0..WRITERS {
            actix::spawn(run(pool.clone(), receiver.clone(), write.clone()));
        }
        GroupCommit { queue }
    }

    /// Queues a write and waits until it is committed (or failed).
    pub async fn submit(&self, request: W::Request) -> Result<W::Response, AppError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((request, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> AppError {
    AppError::Unavailable(anyhow::anyhow!("the database writer has stopped"))
}

async fn run<W: BatchWrite>(
    pool: DbPool,
    receiver: Rc<Mutex<mpsc::UnboundedReceiver<Pending<W>>>>,
    write: Rc<W>,
) {
    loop {
        let mut batch = Vec::new();
        {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(pending) => batch.push(pending),
                    Err(_) => break,
                }
            }
        }
        let (requests, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match pool.get().await {
            Ok(mut conn) => {
                let answers = write.write(&mut conn, requests).await;
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(answer);
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(AppError::Unavailable(anyhow::anyhow!(
                        "no database connection: {error}"
                    ))));
                }
            }
        }
    }
}
