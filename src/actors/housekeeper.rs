//! `Housekeeper`: removes uploads no message took (row first, so a send racing the
//! cleanup either links the upload or finds it gone; then the file), and failed logins
//! older than the login throttle's window.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::db::{login_failures, message_attachments, DbPool};
use crate::error::AppError;
use crate::storage::Storage;

const BATCH: i64 = 500;

pub struct Housekeeper {
    pool: DbPool,
    storage: Arc<Storage>,
    pending_ttl: Duration,
    every: Duration,
}

impl Housekeeper {
    pub fn new(
        pool: DbPool,
        storage: Arc<Storage>,
        pending_ttl: Duration,
        every: Duration,
    ) -> Self {
        Housekeeper {
            pool,
            storage,
            pending_ttl,
            every,
        }
    }

    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let (pool, storage) = (self.pool.clone(), self.storage.clone());
        let before = chrono::Utc::now() - self.pending_ttl;
        ctx.spawn(
            async move {
                if let Err(error) = remove_stale_uploads(&pool, &storage, before).await {
                    tracing::warn!(error = %error, "could not remove stale uploads");
                }
                let throttled_since = chrono::Utc::now() - login_failures::WINDOW;
                let forgotten = async {
                    login_failures::forget_before(&mut *pool.get().await?, throttled_since).await?;
                    Ok::<_, AppError>(())
                };
                if let Err(error) = forgotten.await {
                    tracing::warn!(error = %error, "could not forget old failed logins");
                }
            }
            .into_actor(self),
        );
    }
}

async fn remove_stale_uploads(
    pool: &DbPool,
    storage: &Storage,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    let mut conn = pool.get().await?;
    for upload in message_attachments::stale_pending(&mut conn, before, BATCH).await? {
        if message_attachments::delete_pending(&mut conn, upload.organization_id, upload.id).await?
            == 1
        {
            storage
                .delete(&upload.storage_key)
                .await
                .map_err(AppError::internal)?;
        }
    }
    Ok(())
}

impl Actor for Housekeeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.sweep(ctx);
        ctx.run_interval(self.every, Self::sweep);
    }
}
