//! Settings, read from the environment (or the matching command-line flags).
//! `.env.example` lists every variable with its default.

use std::path::PathBuf;

use anyhow::Context;

/// Every setting, in groups of what is tuned together; each group is its own struct so
/// a test (or a caller) changes one group without restating the rest. Fields keep their
/// flat names (`delivery.delivery_attempts`, not `delivery.attempts`): each is its flag's
/// name and its environment variable's, so one search finds all three.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    #[command(flatten)]
    pub database: DatabaseSettings,

    #[command(flatten)]
    pub server: ServerSettings,

    /// Directory for local files (the generated secret key, stored attachments).
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Master secret (at least 32 characters): encrypts stored credentials and signs
    /// URLs and CSRF tokens. When unset, one is generated and kept in the data dir.
    #[arg(long, env = "SWITCHBOARD_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Log format: `pretty` for people, `json` for log collectors.
    #[arg(
        long,
        env = "SWITCHBOARD_LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    pub log_format: LogFormat,

    /// Region assumed for phone numbers written without a country code (ISO 3166 code).
    #[arg(long, env = "SWITCHBOARD_DEFAULT_REGION", default_value = "US")]
    pub default_region: String,

    /// Where reply suggestions come from: `canned` ranks the organisation's canned
    /// responses against the message.
    #[arg(
        long,
        env = "SWITCHBOARD_SUGGESTIONS",
        value_enum,
        default_value = "canned"
    )]
    pub suggestions: crate::suggestions::SuggestionSource,

    #[command(flatten)]
    pub realtime: RealtimeSettings,

    #[command(flatten)]
    pub cluster: ClusterSettings,

    #[command(flatten)]
    pub delivery: DeliverySettings,

    #[command(flatten)]
    pub attachments: AttachmentSettings,
}

/// The PostgreSQL database.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseSettings {
    /// PostgreSQL connection URL. The database is created when it does not exist.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,

    /// Database connections kept in the pool (the three database batchers have one
    /// more each).
    #[arg(long, env = "SWITCHBOARD_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
}

/// The HTTP server: where it listens, what it accepts, who may read its metrics.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerSettings {
    /// Address the HTTP server listens on.
    #[arg(
        long = "addr",
        env = "SWITCHBOARD_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub addr: String,

    /// Externally visible base URL (used for webhook signatures and links).
    /// Defaults to `http://` + the listen address.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "SWITCHBOARD_WORKERS")]
    pub workers: Option<usize>,

    /// Connections the kernel queues before the server accepts them. After a deploy or a
    /// network blip every browser reconnects at once; a short queue overflows and each
    /// overflowed client waits a SYN retry (a second or more).
    #[arg(long, env = "SWITCHBOARD_LISTEN_BACKLOG", default_value_t = 4096)]
    pub listen_backlog: u32,

    /// Directory of the dashboards' static files.
    #[arg(long, env = "SWITCHBOARD_STATIC_DIR", default_value = "static")]
    pub static_dir: PathBuf,

    /// Largest JSON request body accepted, in bytes.
    #[arg(long, env = "SWITCHBOARD_MAX_JSON_BYTES", default_value_t = 256 * 1024)]
    pub max_json_bytes: usize,

    /// How long a login session lasts, in hours.
    #[arg(long, env = "SWITCHBOARD_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u32,

    /// Bearer token that `GET /metrics` (Prometheus) asks for; when unset, `/metrics`
    /// is off, so a public listener never shows it to anyone.
    #[arg(long, env = "SWITCHBOARD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

/// WebSockets: back-pressure, resume and keep-alive.
#[derive(Debug, Clone, clap::Args)]
pub struct RealtimeSettings {
    /// Frames queued for one WebSocket before the client counts as stalled and is cut off.
    #[arg(long, env = "SWITCHBOARD_WS_OUTBOX_FRAMES", default_value_t = 1024)]
    pub ws_outbox_frames: usize,

    /// How long events are kept for clients that reconnect with `since`, in seconds.
    #[arg(long, env = "SWITCHBOARD_WS_RESUME_WINDOW_SECS", default_value_t = 300)]
    pub ws_resume_window_secs: u64,

    /// Seconds between WebSocket pings; a socket silent for three of them is closed.
    #[arg(long, env = "SWITCHBOARD_WS_HEARTBEAT_SECS", default_value_t = 15)]
    pub ws_heartbeat_secs: u64,
}

/// Several nodes: the Redis they share, how often it is checked, how long it may take.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterSettings {
    /// Redis shared by the nodes of a deployment (`redis://host:6379`): live events and
    /// their short history go through it, so every node's clients see every event.
    /// Unset: this server works on its own, with no Redis.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Milliseconds between checks of each organisation's position against Redis's,
    /// which repair events that PUB/SUB dropped (it drops silently when a connection
    /// breaks).
    #[arg(long, env = "SWITCHBOARD_POSITION_CHECK_MS", default_value_t = 5000)]
    pub position_check_ms: u64,

    /// Milliseconds any call to Redis may take before the node treats Redis as
    /// unreachable (and delivers its own events alone until it answers again).
    #[arg(long, env = "SWITCHBOARD_REDIS_TIMEOUT_MS", default_value_t = 1000)]
    pub redis_timeout_ms: u64,
}

/// Handing messages to carriers: Twilio, the sandbox, pacing, retries, the outbox.
#[derive(Debug, Clone, clap::Args)]
pub struct DeliverySettings {
    /// Twilio's API (overridable for tests and mock servers).
    #[arg(
        long,
        env = "SWITCHBOARD_TWILIO_API_BASE",
        default_value = "https://api.twilio.com"
    )]
    pub twilio_api_base: String,

    /// Seconds a request to Twilio's API may take in all. A send that gets no answer in
    /// time may have been sent, so it is reconciled with Twilio before any retry; one
    /// that could not connect within half of it was not.
    #[arg(long, env = "SWITCHBOARD_TWILIO_TIMEOUT_SECS", default_value_t = 15)]
    pub twilio_timeout_secs: u64,

    /// Messages per second each sending number may send (Twilio long codes: 1).
    #[arg(
        long,
        env = "SWITCHBOARD_SENDS_PER_SECOND_PER_NUMBER",
        default_value_t = 1.0
    )]
    pub sends_per_second_per_number: f64,

    /// Attempts to hand a message to the carrier before it is marked failed.
    #[arg(long, env = "SWITCHBOARD_DELIVERY_ATTEMPTS", default_value_t = 5)]
    pub delivery_attempts: u32,

    /// The first retry's delay in milliseconds; each later one doubles (with jitter).
    #[arg(
        long,
        env = "SWITCHBOARD_DELIVERY_RETRY_BASE_MS",
        default_value_t = 1000
    )]
    pub delivery_retry_base_ms: u64,

    /// Seconds between sweeps of the outbox for messages left queued (after a restart).
    #[arg(long, env = "SWITCHBOARD_OUTBOX_SWEEP_SECS", default_value_t = 30)]
    pub outbox_sweep_secs: u64,

    /// Seconds an SMS may wait in `sending` or `sent` (with Twilio's id) for its final
    /// status before Twilio is asked where it stands: callbacks that came while the
    /// server or the database was down are lost.
    #[arg(
        long,
        env = "SWITCHBOARD_STATUS_CHECK_AFTER_SECS",
        default_value_t = 900
    )]
    pub status_check_after_secs: u64,

    /// The sandbox carrier's delay between status steps, in milliseconds.
    #[arg(long, env = "SWITCHBOARD_SANDBOX_DELAY_MS", default_value_t = 800)]
    pub sandbox_delay_ms: u64,

    /// Whether the sandbox carrier answers each text as the contact would, a few steps
    /// after delivering it (`serve --demo` turns it on).
    #[arg(long, env = "SWITCHBOARD_SANDBOX_REPLIES", default_value_t = false)]
    pub sandbox_replies: bool,
}

/// Attachments: where files are kept, how long their links and unused uploads last, how
/// large an email's may be.
#[derive(Debug, Clone, clap::Args)]
pub struct AttachmentSettings {
    /// S3-compatible bucket for attachments; unset keeps them on the local disk (under
    /// the data dir). Credentials also come from the usual AWS_* variables.
    #[arg(long, env = "SWITCHBOARD_S3_BUCKET")]
    pub s3_bucket: Option<String>,

    /// S3 endpoint for non-AWS stores (R2, MinIO), e.g. `http://127.0.0.1:9000`.
    #[arg(long, env = "SWITCHBOARD_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    #[arg(long, env = "SWITCHBOARD_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    #[arg(long, env = "SWITCHBOARD_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    #[arg(long, env = "SWITCHBOARD_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,

    /// Path-style S3 addressing (`endpoint/bucket/key`), as MinIO and most local stores want.
    #[arg(long, env = "SWITCHBOARD_S3_PATH_STYLE", default_value_t = false)]
    pub s3_path_style: bool,

    /// How long attachment URLs (local signed or S3 presigned) stay valid, in seconds.
    #[arg(long, env = "SWITCHBOARD_MEDIA_URL_TTL_SECS", default_value_t = 3600)]
    pub media_url_ttl_secs: u64,

    /// Largest upload for an email, all files together, in bytes (MMS: 5 MB, Twilio's limit).
    #[arg(long, env = "SWITCHBOARD_MAX_EMAIL_ATTACHMENT_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_email_attachment_bytes: usize,

    /// Uploads never attached to a message are deleted after this many hours.
    #[arg(
        long,
        env = "SWITCHBOARD_PENDING_UPLOAD_TTL_HOURS",
        default_value_t = 24
    )]
    pub pending_upload_ttl_hours: u64,

    /// Seconds between housekeeping rounds (removing stale pending uploads).
    #[arg(long, env = "SWITCHBOARD_HOUSEKEEPING_SECS", default_value_t = 3600)]
    pub housekeeping_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl ServerSettings {
    /// The base URL the outside world uses to reach this server, without a trailing slash.
    pub fn public_url(&self, bound_addr: std::net::SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{bound_addr}"),
        }
    }
}

impl Settings {
    pub fn default_region(&self) -> anyhow::Result<phonenumber::country::Id> {
        self.default_region
            .to_ascii_uppercase()
            .parse()
            .ok()
            .with_context(|| {
                format!(
                    "SWITCHBOARD_DEFAULT_REGION={:?} is not an ISO 3166 region code such as US or GB",
                    self.default_region
                )
            })
    }
}
