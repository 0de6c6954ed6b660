//! PostgreSQL going away under load and coming back: the API answers `503` with
//! `Retry-After` as JSON (never a hang, never a 500), WebSocket sessions stay open, and
//! once the database is back the same server recovers without a restart, having lost
//! nothing it accepted and written nothing it refused.
//!
//! The server reaches PostgreSQL through a TCP relay the test can cut: every
//! connection through it drops at once and new ones are closed as they arrive, which is
//! what the server sees of a stopped database, without stopping the one the other
//! tests share.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{poll_until, TestApp, WsClient};

/// How long the database stays away.
const OUTAGE: Duration = Duration::from_secs(20);

/// A TCP relay in front of PostgreSQL that can be cut and restored.
struct DatabaseRelay {
    address: SocketAddr,
    open: Arc<AtomicBool>,
    /// Bumped on every cut; each relayed connection ends when it changes.
    cuts: watch::Sender<u64>,
}

impl DatabaseRelay {
    async fn start(upstream: String) -> DatabaseRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = DatabaseRelay {
            address: listener.local_addr().unwrap(),
            open: Arc::new(AtomicBool::new(true)),
            cuts: watch::channel(0).0,
        };
        let (open, cuts) = (relay.open.clone(), relay.cuts.clone());
        actix_web::rt::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !open.load(Ordering::Acquire) {
                    // Closed at once, as a stopped server refuses.
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut = cuts.subscribe();
                actix_web::rt::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        relay
    }

    /// `url` with its host and port replaced by the relay's.
    fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.address.port())).unwrap();
        url.to_string()
    }

    fn cut(&self) {
        self.open.store(false, Ordering::Release);
        self.cuts.send_modify(|cuts| *cuts += 1);
    }

    fn restore(&self) {
        self.open.store(true, Ordering::Release);
    }
}

fn host_and_port(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    )
}

#[actix_web::test]
async fn a_database_outage_answers_503_and_recovers_without_a_restart() {
    let relay = DatabaseRelay::start(host_and_port(&crate::helpers::server_url())).await;
    let app = TestApp::spawn_with(|settings| {
        settings.database.database_url = relay.url_for(&settings.database.database_url);
        settings.delivery.outbox_sweep_secs = 1;
    })
    .await;
    let chat = app.conversation().await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let before = app
        .send_sms(&chat.org.token, &chat.contact_id, "See you at 3pm")
        .await;
    tab.statuses_until(before["id"].as_str().unwrap(), |data| {
        data["status"] == "delivered"
    })
    .await;

    relay.cut();
    let cut_at = Instant::now();
    let (mut refused, mut slowest) = (0, Duration::ZERO);
    let mut attempt = 0;
    while cut_at.elapsed() < OUTAGE {
        attempt += 1;
        let asked = Instant::now();
        let response = app
            .request(
                reqwest::Method::POST,
                "/api/messages/send",
                Some(&chat.org.token),
            )
            .json(&json!({
                "contact_id": chat.contact_id,
                "channel": "sms",
                "body": format!("Refused while the database is away ({attempt})"),
                "client_id": format!("outage-{attempt}"),
            }))
            .send()
            .await
            .unwrap();
        slowest = slowest.max(asked.elapsed());
        let status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "unavailable");
        assert!(retry_after.is_some(), "a 503 says when to try again");
        refused += 1;

        let ready = app
            .client
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
        let ready: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(ready["error"]["code"], "unavailable");
    }
    assert!(refused > 0);
    // The pool's wait and connect timeouts are 10 s: nothing waits longer than that.
    assert!(
        slowest < Duration::from_secs(12),
        "slowest answer {slowest:?}"
    );

    relay.restore();
    let restored_at = Instant::now();
    let recovered = "a send accepted once the database is back";
    let after = poll_until(recovered, Duration::from_secs(30), || async {
        let (status, body) = app
            .post(
                "/api/messages/send",
                &chat.org.token,
                json!({
                    "contact_id": chat.contact_id,
                    "channel": "sms",
                    "body": "Sent once the database is back",
                    "client_id": "after-the-outage",
                }),
            )
            .await;
        if status == StatusCode::CREATED {
            return Some(body);
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        None
    })
    .await;
    let recovery = restored_at.elapsed();

    // The socket opened before the outage is still there and carries the new message.
    let id = after["id"].as_str().unwrap();
    tab.statuses_until(id, |data| data["status"] == "delivered")
        .await;
    let history = app.history(&chat).await;
    let bodies: Vec<&str> = history
        .iter()
        .filter_map(|message| message["body"].as_str())
        .collect();
    assert_eq!(
        bodies,
        [
            before["body"].as_str().unwrap(),
            "Sent once the database is back"
        ],
        "nothing refused was written, nothing accepted was lost"
    );
    eprintln!(
        "database outage of {OUTAGE:?}: {refused} sends refused with 503 (slowest answer \
         {slowest:?}), recovered {recovery:?} after the database came back"
    );
}
