//! `GET /ws`: the realtime socket (protocol in `crate::protocol` and README.md).

use std::sync::Arc;

use actix::{Actor, AsyncContext};
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::actors::stream::Since;
use crate::actors::ws_session::{SessionState, WsSession};
use crate::auth::{self, presented_token};
use crate::error::AppError;
use crate::extract::ApiQuery;
use crate::state::AppState;

/// Largest frame a client may send; client frames are small JSON commands.
const MAX_CLIENT_FRAME: usize = 16 * 1024;

#[derive(Deserialize)]
struct ConnectParams {
    token: Option<String>,
    since: Option<u64>,
    epoch: Option<String>,
}

/// Authenticates by cookie, bearer header or `?token=` before upgrading; a socket opened
/// without any may authenticate with its first frame instead.
#[get("/ws")]
pub async fn connect(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    ApiQuery(params): ApiQuery<ConnectParams>,
) -> Result<HttpResponse, actix_web::Error> {
    let presented = presented_token(&req).or(params.token.map(|token| (token, false)));
    let caller = match presented {
        Some((token, from_cookie)) => {
            if from_cookie && !same_origin(&req, &state) {
                // A cookie rides along with any site's socket; only our pages may use it.
                return Err(AppError::Forbidden(
                    "this origin may not open a socket with the session cookie".into(),
                )
                .into());
            }
            Some(auth::authenticate(&state.caches, &state.pool, &token).await?)
        }
        None => None,
    };
    let (response, session, stream) = actix_ws::handle(&req, payload).map_err(|error| {
        AppError::bad_request(
            "not_a_websocket",
            format!("`/ws` takes a WebSocket handshake: {error}"),
        )
    })?;
    let stream = stream.max_frame_size(MAX_CLIENT_FRAME);
    let state = Arc::new(SessionState {
        realtime: state.realtime.clone(),
        pool: state.pool.clone(),
        caches: state.caches.clone(),
    });
    WsSession::create(move |ctx| {
        ctx.add_stream(stream);
        let since = params.since.map(|seq| Since {
            seq,
            epoch: params.epoch,
        });
        WsSession::new(state, session, caller, since)
    });
    Ok(response)
}

/// Browsers send `Origin` with every WebSocket handshake; it must be this server.
fn same_origin(req: &HttpRequest, state: &AppState) -> bool {
    let Some(origin) = req
        .headers()
        .get("origin")
        .and_then(|value| value.to_str().ok())
    else {
        return true;
    };
    let info = req.connection_info();
    origin == state.public_url || origin == format!("{}://{}", info.scheme(), info.host())
}
