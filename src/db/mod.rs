//! PostgreSQL access: the pool, database bootstrap and migrations, and one module per
//! table with its queries. Every query takes the caller's `OrganizationId` and filters by
//! it; the few that cannot (finding a token or a login email) say why.

pub mod api_tokens;
pub mod audit_log;
pub mod batcher;
pub mod calls;
pub mod canned_responses;
pub mod contact_methods;
pub mod contact_reads;
pub mod contacts;
pub mod drafts;
pub mod email_addresses;
pub mod feed;
pub mod ids;
pub mod login_failures;
pub mod message_attachments;
pub mod message_fields;
pub mod messages;
pub mod organization_settings;
pub mod organizations;
pub mod phi_policies;
pub mod phone_numbers;
pub mod run_locks;
pub mod scheduled_messages;
pub mod schema;
pub mod sms_opt_outs;
mod text_enum;
pub mod users;

use anyhow::Context;
use deadpool::managed::QueueMode;
use diesel::sql_types::Bool;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Creates the database if needed, applies pending migrations, and opens the pool.
pub async fn connect(database_url: &str, pool_size: usize) -> anyhow::Result<DbPool> {
    ensure_database_exists(database_url).await?;
    migrate(database_url).await?;
    open_pool(database_url, pool_size)
}

/// Opens a pool on a database that is ready. Connections are made on first use, and each
/// is driven (its socket read and written) by the thread that made it, wherever it is
/// used later.
pub fn open_pool(database_url: &str, pool_size: usize) -> anyhow::Result<DbPool> {
    // No `SELECT 1` on every checkout: that doubled the round trips of short requests.
    // A connection the server dropped is still noticed (it is marked broken and
    // replaced), and a query on one that died silently fails like any other.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(pool_size)
        // The connection used last is handed out next, so a few PostgreSQL backends do
        // the work with their caches warm, rather than every backend in turn: measured
        // on the send bench, PostgreSQL took a fifth less CPU per send.
        .queue_mode(QueueMode::Lifo)
        // A request that cannot get a connection in time answers 503 instead of hanging.
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(10)))
        .build()
        .context("building the database pool")
}

/// Applies pending migrations and returns the versions it applied.
///
/// diesel's migration harness is synchronous, and diesel-async's wrapper panics on
/// actix's current-thread runtime, so the migrations run on a thread of their own with
/// its own small runtime.
pub async fn migrate(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_owned();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = sender.send(run_migrations_blocking(&url));
    });
    receiver.await.context("the migration thread died")?
}

fn run_migrations_blocking(database_url: &str) -> anyhow::Result<Vec<String>> {
    use diesel::Connection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    let mut conn =
        <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(database_url)
            .context("connecting to run migrations")?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|error| anyhow::anyhow!("applying migrations: {error}"))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

#[derive(diesel::QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

/// When the database named in the URL is missing, creates it through the server's
/// `postgres` maintenance database.
pub async fn ensure_database_exists(database_url: &str) -> anyhow::Result<()> {
    if AsyncPgConnection::establish(database_url).await.is_ok() {
        return Ok(());
    }
    let (maintenance_url, name) = maintenance_url(database_url)?;
    let mut conn = AsyncPgConnection::establish(&maintenance_url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", redact(&maintenance_url)))?;
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(&name)
            .get_result(&mut conn)
            .await?;
    if !found.exists {
        tracing::info!(database = %name, "creating database");
        conn.batch_execute(&format!("CREATE DATABASE {}", quote_identifier(&name)))
            .await
            .with_context(|| format!("creating database {name}"))?;
    }
    Ok(())
}

/// Drops a database (used by the test harness for its throwaway databases).
pub async fn drop_database(database_url: &str) -> anyhow::Result<()> {
    let (maintenance_url, name) = maintenance_url(database_url)?;
    let mut conn = AsyncPgConnection::establish(&maintenance_url).await?;
    conn.batch_execute(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_identifier(&name)
    ))
    .await?;
    Ok(())
}

/// The same server's `postgres` database, and the name of the database in `database_url`.
fn maintenance_url(database_url: &str) -> anyhow::Result<(String, String)> {
    let mut url = url::Url::parse(database_url).context("DATABASE_URL is not a valid URL")?;
    let name = url.path().trim_start_matches('/').to_string();
    anyhow::ensure!(!name.is_empty(), "DATABASE_URL names no database");
    url.set_path("/postgres");
    Ok((url.to_string(), name))
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The URL without its password, for messages.
pub fn redact(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => database_url.to_string(),
    }
}

/// Answers whether the database takes queries (for `/readyz`).
pub async fn ping(pool: &DbPool) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    conn.batch_execute("SELECT 1").await?;
    Ok(())
}
