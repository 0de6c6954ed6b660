//! What a deployer watches, in Prometheus's text format at `GET /metrics`: requests by
//! route template, how long a message waits for its carrier and for its delivery, live
//! sockets and the events they carry, webhook outcomes, PHI findings and blocks,
//! scheduler lag, the outbox and the database pool.
//!
//! The recorder is process-wide (the `metrics` facade has one global recorder), so
//! several servers in one test process share it; each value is labelled, not per server.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::message_fields::Channel;
use crate::db::DbPool;
use crate::phi::PhiKind;

/// Buckets for latencies in seconds: a millisecond to ten minutes (a carrier's delivery
/// report and a scheduler held by quiet hours take minutes).
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 600.0,
];

/// How often histograms are folded into their buckets when no one scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once) and returns what renders it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder was installed first; its values then go
            // there and this handle renders nothing.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            let upkeep = handle.clone();
            // Histograms keep their samples until upkeep folds them into buckets: without
            // it, a server nobody scrapes would grow.
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                })
                .expect("starting the metrics upkeep thread");
            handle
        })
        .clone()
}

/// The page Prometheus scrapes, with the values read at scrape time added first.
pub fn render(handle: &PrometheusHandle, pool: &DbPool) -> String {
    let status = pool.status();
    gauge!("switchboard_db_pool_connections", "state" => "in_use")
        .set(status.size.saturating_sub(status.available) as f64);
    gauge!("switchboard_db_pool_connections", "state" => "idle").set(status.available as f64);
    gauge!("switchboard_db_pool_waiting").set(status.waiting as f64);
    handle.render()
}

/// Counts every answered request by method, route template (never the raw path: ids
/// would make a series per contact) and status, and times it.
pub async fn record_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let response = next.call(req).await?;
    let route = match response.request().match_pattern() {
        // The static files' service, mounted at the root, matches every other path.
        Some(pattern) if pattern.is_empty() => "static".to_string(),
        Some(pattern) => pattern,
        None => "unmatched".to_string(),
    };
    let status = response.status().as_u16().to_string();
    histogram!("switchboard_http_request_duration_seconds",
        "method" => method.clone(), "route" => route.clone())
    .record(started.elapsed().as_secs_f64());
    counter!("switchboard_http_requests_total",
        "method" => method, "route" => route, "status" => status)
    .increment(1);
    Ok(response)
}

/// From the API accepting a message to its carrier taking it.
pub fn handed_over(channel: Channel, waited: chrono::TimeDelta) {
    histogram!("switchboard_handover_seconds", "channel" => channel.as_str())
        .record(seconds(waited));
}

/// From the carrier taking a message to its report that it was delivered.
pub fn delivered(waited: chrono::TimeDelta) {
    histogram!("switchboard_delivery_seconds").record(seconds(waited));
}

pub fn socket_opened() {
    gauge!("switchboard_ws_connections").increment(1.0);
}

pub fn socket_closed() {
    gauge!("switchboard_ws_connections").decrement(1.0);
}

/// One event frame written to a WebSocket.
pub fn frame_sent() {
    counter!("switchboard_ws_frames_sent_total").increment(1);
}

/// What became of a Twilio webhook.
#[derive(Debug, Clone, Copy)]
pub enum WebhookOutcome {
    Accepted,
    RefusedSignature,
    /// For a number, message or call this server does not know.
    Unknown,
    Refused,
}

pub fn webhook(kind: &'static str, outcome: WebhookOutcome) {
    let outcome = match outcome {
        WebhookOutcome::Accepted => "accepted",
        WebhookOutcome::RefusedSignature => "refused_signature",
        WebhookOutcome::Unknown => "unknown",
        WebhookOutcome::Refused => "refused",
    };
    counter!("switchboard_webhooks_total", "kind" => kind, "outcome" => outcome).increment(1);
}

/// A PHI finding in a draft being sent, and whether the policy blocks it.
pub fn phi_finding(kind: PhiKind, blocks: bool) {
    // The kind as the API spells it (`date_of_birth`).
    let kind = serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default();
    if blocks {
        counter!("switchboard_phi_blocks_total", "kind" => kind.clone()).increment(1);
    }
    counter!("switchboard_phi_findings_total", "kind" => kind).increment(1);
}

/// How late a scheduled message was claimed after its `send_at` (a row that quiet hours
/// held counts the hold).
pub fn scheduler_lag(late: chrono::TimeDelta) {
    histogram!("switchboard_scheduler_lag_seconds").record(seconds(late));
}

/// What the outbox sweep found waiting longer than a send should.
pub fn outbox(stale: usize, oldest: Option<chrono::TimeDelta>) {
    gauge!("switchboard_outbox_stale_messages").set(stale as f64);
    gauge!("switchboard_outbox_oldest_stale_seconds").set(oldest.map_or(0.0, seconds));
}

fn seconds(delta: chrono::TimeDelta) -> f64 {
    delta.to_std().map_or(0.0, |waited| waited.as_secs_f64())
}
