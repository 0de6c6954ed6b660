//! Builds the application: database, secrets, shared state, and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix::Actor;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use phonenumber::country;
use tracing_actix_web::TracingLogger;

use crate::actors::housekeeper::Housekeeper;
use crate::actors::phi::PhiActor;
use crate::actors::Realtime;
use crate::cache::Caches;
use crate::config::Settings;
use crate::db::batcher::Batcher;
use crate::db::contact_methods::{LoadRecipients, Recipient};
use crate::db::ids::{ContactId, OrganizationId};
use crate::db::{self, DbPool};
use crate::error::{self, AppError};
use crate::routes;
use crate::secrets::SecretKey;
use crate::storage::Storage;
use crate::telemetry::RequestSpan;
use crate::twilio::client::TwilioClient;

/// What every request handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub caches: Arc<Caches>,
    /// Sends' recipient lookups, done in batches.
    pub recipients: Batcher<LoadRecipients>,
    pub realtime: Arc<Realtime>,
    pub storage: Arc<Storage>,
    /// Vets large drafts on threads of its own.
    pub phi: actix::Addr<PhiActor>,
    pub twilio: TwilioClient,
    /// Largest upload for one email, all files together.
    pub max_email_attachment_bytes: usize,
    /// The base URL the outside world uses (webhook signatures, links, origin checks).
    pub public_url: String,
    pub secrets: SecretKey,
    /// Region for phone numbers written without a country code.
    pub default_region: country::Id,
    pub session_ttl: chrono::Duration,
    /// Mark cookies `Secure` when the public URL is https.
    pub secure_cookies: bool,
    /// Largest JSON body accepted (also given to actix's payload limit).
    pub max_json_bytes: usize,
}

impl AppState {
    /// What a send needs of the organisation's `contact`: cached, else looked up
    /// together with other sends' recipients.
    pub async fn recipient(
        &self,
        org: OrganizationId,
        contact: ContactId,
    ) -> Result<Arc<Recipient>, AppError> {
        self.caches
            .recipient(org, contact, async || {
                let found = self.recipients.submit((org, contact)).await?;
                found.map(Arc::new).ok_or(AppError::NotFound("contact"))
            })
            .await
    }
}

pub struct Application {
    server: Server,
    port: u16,
    public_url: String,
    pool: DbPool,
}

impl Application {
    /// Connects to (and migrates) the database, binds the listener, and prepares the
    /// server; nothing is served until `run_until_stopped`.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let default_region = settings.default_region()?;
        crate::phi::warm_up();
        crate::validate::warm_up();
        let secrets =
            SecretKey::load_or_create(settings.secret_key.as_deref(), &settings.data_dir)?;
        let pool = db::connect(&settings.database_url, settings.db_pool_size)
            .await
            .with_context(|| {
                format!(
                    "opening the database {}",
                    db::redact(&settings.database_url)
                )
            })?;
        let listener = TcpListener::bind(&settings.addr)
            .with_context(|| format!("listening on {}", settings.addr))?;
        let local_addr = listener.local_addr()?;
        let public_url = settings.public_url(local_addr);
        let storage = Arc::new(Storage::from_settings(
            settings,
            secrets.clone(),
            &public_url,
        )?);
        let twilio = TwilioClient::new(
            &settings.twilio_api_base,
            std::time::Duration::from_secs(settings.twilio_timeout_secs.max(1)),
        )?;
        Housekeeper::new(
            pool.clone(),
            storage.clone(),
            std::time::Duration::from_secs(settings.pending_upload_ttl_hours * 3600),
            std::time::Duration::from_secs(settings.housekeeping_secs.max(1)),
        )
        .start();
        let caches = Arc::new(Caches::new(pool.clone(), secrets.clone()));
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            caches: caches.clone(),
            recipients: Batcher::start(&settings.database_url, LoadRecipients)?,
            realtime: Realtime::start(
                pool.clone(),
                &settings.database_url,
                caches,
                default_region,
                settings.realtime(),
                secrets.clone(),
                twilio.clone(),
                settings.delivery(&public_url),
                storage.clone(),
            )?,
            storage,
            phi: actix::SyncArbiter::start(1, || PhiActor),
            twilio,
            max_email_attachment_bytes: settings.max_email_attachment_bytes,
            public_url: public_url.clone(),
            secrets,
            default_region,
            session_ttl: chrono::Duration::hours(settings.session_hours.into()),
            secure_cookies: public_url.starts_with("https://"),
            max_json_bytes: settings.max_json_bytes,
        });
        let max_json_bytes = settings.max_json_bytes;
        let static_dir = settings.static_dir.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(max_json_bytes))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .configure(routes::configure)
                .service(actix_files::Files::new("/", &static_dir).index_file("index.html"))
        })
        .listen(listener)?
        .shutdown_timeout(10);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        tracing::info!(addr = %local_addr, %public_url, "listening");
        Ok(Application {
            server: server.run(),
            port: local_addr.port(),
            public_url,
            pool,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
