//! Structured logs through `tracing`: filtered by `RUST_LOG`, pretty or JSON.

use std::io::IsTerminal;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::HttpMessage;
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (tests build several apps in one process) is harmless: keep the first.
    let _ = match format {
        // Colours only for a terminal: a log file or journald would keep the escape codes,
        // and styling each field name cost more than the rest of a request's span.
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true))
            .try_init(),
    };
}

/// The span each request runs in, so that whatever is logged while serving it can be
/// traced back to it: its method, path and request id. tracing-actix-web's default span
/// carries a dozen fields (route template, client address, user agent, OpenTelemetry's),
/// each formatted as the span opens. At the default `info` level that made every request
/// cost about 28,000 instructions more than these three do (callgrind on the send bench).
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().copied();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.path(),
            request_id = request_id.map(tracing::field::display),
        )
    }

    /// The status is not recorded: spans are not printed when they close, so it would be
    /// formatted for no reader. (A failed request is logged by the middleware, within
    /// this span.)
    fn on_request_end<B: MessageBody>(_: Span, _: &Result<ServiceResponse<B>, actix_web::Error>) {}
}
