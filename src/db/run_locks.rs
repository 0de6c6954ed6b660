//! Which server processes ("runs") are alive, as PostgreSQL itself knows it: each run
//! holds a session-level advisory lock under a key of its own on a connection it keeps
//! for its whole life. When the process dies, even by `kill -9`, its connection closes
//! and PostgreSQL releases the lock at once; a run that is only slow keeps it. So a claim
//! naming a key whose lock nobody holds belongs to a run that is gone, and its work can
//! be taken over without waiting out a timeout that a slow but live run might outlast.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::expression::SqlLiteral;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_derive_newtype::DieselNewType;
use rand::Rng;

/// A run's advisory lock key.
#[derive(DieselNewType, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunKey(pub i64);

impl RunKey {
    /// A fresh key. Positive and below 2^62, so it reads back from `pg_locks` (two
    /// unsigned 32-bit halves) without sign games.
    pub fn generate() -> Self {
        RunKey(rand::thread_rng().gen_range(1..(1i64 << 62)))
    }
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Takes the run's lock on `conn`, which must then stay open for as long as the run
/// lives; false when another session holds it.
pub async fn lock(conn: &mut AsyncPgConnection, key: RunKey) -> diesel::QueryResult<bool> {
    let locked: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
        .bind::<BigInt, _>(key.0)
        .get_result(conn)
        .await?;
    Ok(locked.locked)
}

/// "The run that claimed this message is gone", over `messages.claimed_by`. Claims made
/// before runs named themselves carry no key and only ever lapse by age.
pub fn claimant_gone() -> SqlLiteral<Bool> {
    claimant_gone_in("messages.claimed_by")
}

/// The same over another table's claim column (`table.column`, a run key).
pub fn claimant_gone_in(claimed_by: &str) -> SqlLiteral<Bool> {
    diesel::dsl::sql::<Bool>(&format!(
        "({claimed_by} IS NOT NULL AND NOT EXISTS (\
           SELECT 1 FROM pg_locks AS l \
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND l.classid::bigint * 4294967296 + l.objid::bigint = {claimed_by}))",
    ))
}

/// This process's run: the key it claims messages under, and whether it holds the lock
/// that tells other runs it lives.
pub struct RunLease {
    key: RunKey,
    held: Arc<AtomicBool>,
}

/// How often the lock's connection is checked, and a lost one made again.
const KEEP_EVERY: Duration = Duration::from_secs(2);

impl RunLease {
    /// Takes a fresh key's lock on a connection of its own and keeps it: should the
    /// connection be lost (PostgreSQL restarted), the lease is not held until the lock is
    /// taken again under the same key, so the run's claims are its own again. Call from
    /// within the actix system.
    pub async fn acquire(database_url: &str) -> anyhow::Result<Arc<RunLease>> {
        let key = RunKey::generate();
        let conn = locked_connection(database_url, key).await?;
        let lease = Arc::new(RunLease {
            key,
            held: Arc::new(AtomicBool::new(true)),
        });
        actix::spawn(keep(
            database_url.to_string(),
            key,
            lease.held.clone(),
            conn,
        ));
        Ok(lease)
    }

    pub fn key(&self) -> RunKey {
        self.key
    }

    /// Whether other runs see this one alive. While they do not, they may take over its
    /// claims, so it starts no send.
    pub fn is_held(&self) -> bool {
        AtomicBool::load(&self.held, Ordering::Acquire)
    }
}

async fn locked_connection(database_url: &str, key: RunKey) -> anyhow::Result<AsyncPgConnection> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    anyhow::ensure!(
        lock(&mut conn, key).await?,
        "another session holds this run's lock"
    );
    Ok(conn)
}

async fn keep(database_url: String, key: RunKey, held: Arc<AtomicBool>, conn: AsyncPgConnection) {
    let mut conn = Some(conn);
    let mut every = tokio::time::interval(KEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let alive = match conn.as_mut() {
            Some(conn) => conn.batch_execute("SELECT 1").await.is_ok(),
            None => false,
        };
        if alive {
            continue;
        }
        if held.swap(false, Ordering::AcqRel) {
            tracing::warn!("lost the run's lock connection; no sends start until it is back");
        }
        conn = match locked_connection(&database_url, key).await {
            Ok(again) => {
                held.store(true, Ordering::Release);
                tracing::info!("took the run's lock again");
                Some(again)
            }
            Err(error) => {
                tracing::debug!(error = %error, "could not take the run's lock again yet");
                None
            }
        };
    }
}
