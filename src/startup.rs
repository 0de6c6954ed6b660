//! Builds the application: database, secrets, shared state, and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix::{Actor, Addr, AsyncContext};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::actors::delivery::DeliveryConfig;
use crate::actors::housekeeper::Housekeeper;
use crate::actors::scheduler::{SchedulerActor, Shutdown};
use crate::actors::{Realtime, RealtimeConfig};
use crate::batches::Batches;
use crate::broker::{BrokerSettings, RedisBroker};
use crate::cache::Caches;
use crate::config::{DeliverySettings, Settings};
use crate::db::run_locks::RunLease;
use crate::db::{self, DbPool};
use crate::error;
use crate::phi::actor::PhiActor;
use crate::routes;
use crate::secrets::SecretKey;
use crate::state::AppState;
use crate::storage::Storage;
use crate::suggestions;
use crate::telemetry::RequestSpan;
use crate::twilio::client::TwilioClient;

pub struct Application {
    server: Server,
    port: u16,
    public_url: String,
    pool: DbPool,
    storage: Arc<Storage>,
    scheduler: Addr<SchedulerActor>,
}

impl Application {
    /// Connects to (and migrates) the database, binds the listener, and prepares the
    /// server; nothing is served until `run_until_stopped`.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let default_region = settings.default_region()?;
        // Read before any actor starts: a missing file stops the start with its own
        // error, not with actors torn down mid-start.
        let pages = web::Data::new(routes::Pages::load(&settings.server.static_dir)?);
        crate::phi::warm_up();
        crate::validate::warm_up();
        let secrets =
            SecretKey::load_or_create(settings.secret_key.as_deref(), &settings.data_dir)?;
        let pool = db::connect(
            &settings.database.database_url,
            settings.database.db_pool_size,
        )
        .await
        .with_context(|| {
            format!(
                "opening the database {}",
                db::redact(&settings.database.database_url)
            )
        })?;
        let listener = listen(&settings.server.addr, settings.server.listen_backlog)
            .with_context(|| format!("listening on {}", settings.server.addr))?;
        let local_addr = listener.local_addr()?;
        let public_url = settings.server.public_url(local_addr);
        let storage = Arc::new(Storage::from_settings(
            &settings.attachments,
            &settings.data_dir,
            secrets.clone(),
            &public_url,
        )?);
        let twilio = TwilioClient::new(
            &settings.delivery.twilio_api_base,
            std::time::Duration::from_secs(settings.delivery.twilio_timeout_secs.max(1)),
        )?;
        Housekeeper::new(
            pool.clone(),
            storage.clone(),
            std::time::Duration::from_secs(settings.attachments.pending_upload_ttl_hours * 3600),
            std::time::Duration::from_secs(settings.attachments.housekeeping_secs.max(1)),
        )
        .start();
        let run = RunLease::acquire(&settings.database.database_url)
            .await
            .context("taking this run's lock in the database")?;
        let broker = match broker_settings(settings) {
            Some(broker) => Some(RedisBroker::new(broker)?),
            None => None,
        };
        let caches = Arc::new(Caches::new(pool.clone(), secrets.clone(), broker.clone()));
        let batches = Batches::start(&settings.database.database_url, run.key())?;
        // The scheduler fires through the state, and the state's routes re-arm it: its
        // address exists before it starts.
        let scheduler = actix::Context::<SchedulerActor>::new();
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            caches: caches.clone(),
            recipients: batches.recipients.clone(),
            realtime: Realtime::start(
                pool.clone(),
                run.clone(),
                &batches,
                caches,
                default_region,
                realtime_config(settings),
                secrets.clone(),
                twilio.clone(),
                delivery_config(&settings.delivery, &public_url),
                storage.clone(),
                broker,
            )?,
            storage: storage.clone(),
            phi: actix::SyncArbiter::start(1, || PhiActor),
            twilio,
            max_email_attachment_bytes: settings.attachments.max_email_attachment_bytes,
            public_url: public_url.clone(),
            secrets,
            default_region,
            session_ttl: chrono::Duration::hours(settings.server.session_hours.into()),
            secure_cookies: public_url.starts_with("https://"),
            suggestions: suggestions::provider(settings.suggestions),
            scheduler: scheduler.address(),
            run,
        });
        let firing = state.clone().into_inner();
        let scheduler = scheduler.run(SchedulerActor::new(Box::new(move || {
            let state = firing.clone();
            Box::pin(async move { crate::scheduled::fire_due(&state).await })
        })));
        let https = public_url.starts_with("https://");
        let max_json_bytes = settings.server.max_json_bytes;
        let static_dir = settings.server.static_dir.clone();
        let metrics = web::Data::new(routes::MetricsPage {
            handle: crate::metrics::install(),
            token: settings.server.metrics_token.clone(),
        });
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(security_headers(https))
                .wrap(actix_web::middleware::from_fn(
                    crate::extract::refuse_nul_in_url,
                ))
                .wrap(actix_web::middleware::from_fn(
                    crate::metrics::record_requests,
                ))
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(state.clone())
                .app_data(pages.clone())
                .app_data(metrics.clone())
                .app_data(web::PayloadConfig::new(max_json_bytes))
                .app_data(crate::extract::BodyLimit(max_json_bytes))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .configure(routes::configure)
                .service(actix_files::Files::new("/", &static_dir))
        })
        // Every frame is small and latency-bound (typing, ticks, new messages): Nagle's
        // algorithm meeting delayed acknowledgements held them 40 ms at a time.
        .on_connect(|connection, _| {
            if let Some(socket) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = socket.set_nodelay(true);
            }
        })
        .listen(listener)?
        .shutdown_timeout(10);
        if let Some(workers) = settings.server.workers {
            server = server.workers(workers);
        }
        tracing::info!(addr = %local_addr, %public_url, "listening");
        Ok(Application {
            server: server.run(),
            port: local_addr.port(),
            public_url,
            pool,
            storage,
            scheduler,
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

    /// Where attachments are kept (the demo stores its picture there).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Stops the server (as SIGTERM does) and its scheduler.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            server: self.server.handle(),
            scheduler: self.scheduler.clone(),
        }
    }

    /// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.scheduler.do_send(Shutdown);
        served
    }
}

/// Stops a running [`Application`].
#[derive(Clone)]
pub struct Stopper {
    server: ServerHandle,
    scheduler: Addr<SchedulerActor>,
}

impl Stopper {
    /// Stops firing scheduled messages, then stops serving (letting in-flight requests
    /// finish).
    pub async fn stop(&self) {
        // Answered once the scheduler has stopped.
        let _ = self.scheduler.send(Shutdown).await;
        self.server.stop(true).await;
    }
}

/// The realtime core's tunables, from the settings.
fn realtime_config(settings: &Settings) -> RealtimeConfig {
    use std::time::Duration;
    let heartbeat = Duration::from_secs(settings.realtime.ws_heartbeat_secs.max(1));
    RealtimeConfig {
        contact_idle: Duration::from_secs(60),
        resume_window: Duration::from_secs(settings.realtime.ws_resume_window_secs),
        resume_events: 10_000,
        outbox_frames: settings.realtime.ws_outbox_frames.max(1),
        heartbeat,
        client_timeout: heartbeat * 3,
        sandbox_delay: Duration::from_millis(settings.delivery.sandbox_delay_ms),
        sandbox_replies: settings.delivery.sandbox_replies,
        outbox_sweep: Duration::from_secs(settings.delivery.outbox_sweep_secs.max(1)),
        status_check_after: Duration::from_secs(settings.delivery.status_check_after_secs),
    }
}

/// Delivery's tunables, from the settings; Twilio calls back at `public_url`.
fn delivery_config(settings: &DeliverySettings, public_url: &str) -> DeliveryConfig {
    use std::time::Duration;
    let per_second = if settings.sends_per_second_per_number > 0.0 {
        settings.sends_per_second_per_number
    } else {
        1.0
    };
    DeliveryConfig {
        max_attempts: settings.delivery_attempts.max(1),
        retry_base: Duration::from_millis(settings.delivery_retry_base_ms),
        concurrency: 32,
        per_number_interval: Duration::from_secs_f64(1.0 / per_second),
        status_callback: format!("{public_url}/webhooks/twilio/status"),
        status_checks: 4,
    }
}

/// The shared broker's settings, when the deployment has one.
fn broker_settings(settings: &Settings) -> Option<BrokerSettings> {
    use std::time::Duration;
    let realtime = realtime_config(settings);
    Some(BrokerSettings {
        url: settings.cluster.redis_url.clone()?,
        history: realtime.resume_events,
        history_ttl: realtime.resume_window,
        timeout: Duration::from_millis(settings.cluster.redis_timeout_ms.max(1)),
        position_check: Duration::from_millis(settings.cluster.position_check_ms.max(10)),
    })
}

/// Binds `addr` with a listen queue of `backlog` connections (std's `bind` fixes 128).
fn listen(addr: &str, backlog: u32) -> anyhow::Result<TcpListener> {
    let addr: std::net::SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(addr)?
        .next()
        .context("the address resolves to nothing")?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Headers every answer carries unless its handler set its own (the pages set their own
/// Content-Security-Policy, which admits their import map): no sniffing of content types,
/// no framing (clickjacking), no scripts but this origin's, referrers kept in the site,
/// and HSTS when the server is reached over https.
fn security_headers(https: bool) -> actix_web::middleware::DefaultHeaders {
    use actix_web::http::header;
    let headers = actix_web::middleware::DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'",
        ));
    match https {
        true => headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000")),
        false => headers,
    }
}
