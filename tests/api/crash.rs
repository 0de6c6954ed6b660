//! A server killed with SIGKILL in the middle of sending, and started again: every
//! message it accepted reaches the carrier exactly once, within seconds of the restart.
//! The server runs as a real child process (the `switchboard` binary) against the test's
//! database; a second, in-process server on the same database sets the clinic up and
//! reads the outcome.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{poll_until, TestApp};
use crate::nodes::Node;
use crate::twilio_standin::{Create, TwilioStandIn};

/// The node under test, as `crash` runs it.
async fn start_server(database_url: &str, twilio: &str) -> Node {
    let env = [
        // Longer than the test: answers that stall are in flight at the kill.
        ("SWITCHBOARD_TWILIO_TIMEOUT_SECS", "60"),
        ("SWITCHBOARD_OUTBOX_SWEEP_SECS", "1"),
    ];
    Node::start(database_url, twilio, &env).await
}

#[actix_web::test]
async fn a_server_killed_mid_send_settles_every_message_once_within_seconds_of_restarting() {
    const SENDS: usize = 20;
    let twilio = TwilioStandIn::start().await;
    // Every create reaches Twilio (it has the message) but its answer never comes back
    // before the kill.
    twilio.always(Create::Stall(Duration::from_secs(120)));
    let app = TestApp::spawn_with(|settings| settings.delivery.outbox_sweep_secs = 3600).await;
    let chat = app.conversation().await;
    app.use_twilio(&chat.org).await;

    let mut server = start_server(&app.database_url, &twilio.uri()).await;
    let client = reqwest::Client::new();
    let mut accepted = Vec::new();
    for n in 0..SENDS {
        let response = client
            .post(format!("{}/api/messages/send", server.address))
            .bearer_auth(&chat.org.token)
            .json(&send(&chat.contact_id, n))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::CREATED);
        let message: Value = response.json().await.unwrap();
        accepted.push(message["id"].as_str().unwrap().to_string());
    }
    poll_until(
        "the sends reach Twilio",
        Duration::from_secs(30),
        || async { (twilio.sent().len() >= SENDS).then_some(()) },
    )
    .await;
    server.kill();

    twilio.always(Create::Accept);
    let restarted_at = Instant::now();
    let restarted = start_server(&app.database_url, &twilio.uri()).await;
    let path = format!("/api/messages?contact_id={}&limit=200", chat.contact_id);
    let what = "every message settles within 30 s of the restart";
    let within = Duration::from_secs(30).saturating_sub(restarted_at.elapsed());
    let history = poll_until(what, within, || async {
        let (_, history) = app.get(&path, &chat.org.token).await;
        let messages = history["messages"].as_array().unwrap().clone();
        messages
            .iter()
            .all(|m| m["external_id"].is_string())
            .then_some(messages)
    })
    .await;
    let settled_in = restarted_at.elapsed();

    let sent = twilio.sent();
    let mut bodies: Vec<&str> = sent.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    bodies.dedup();
    let duplicates = sent.len() - bodies.len();
    let lost = accepted
        .iter()
        .filter(|id| !history.iter().any(|m| m["id"] == id.as_str()))
        .count();
    println!(
        "kill -9 mid-send: accepted {}, sent {}, duplicates {duplicates}, lost {lost}, settled {:.1} s after the restart",
        accepted.len(),
        sent.len(),
        settled_in.as_secs_f64()
    );
    assert_eq!((duplicates, lost), (0, 0));
    assert_eq!(
        sent.len(),
        SENDS,
        "each accepted message reached Twilio once"
    );
    for message in &history {
        let twin = sent
            .iter()
            .find(|s| s.body == message["body"].as_str().unwrap())
            .unwrap();
        assert_eq!(message["external_id"], twin.sid.as_str(), "{message}");
    }

    // A client that never saw its answers (the server died under it) sends each request
    // again with its client_id: it gets the message already recorded, and nothing more
    // reaches the carrier.
    for (n, id) in accepted.iter().enumerate() {
        let response = client
            .post(format!("{}/api/messages/send", restarted.address))
            .bearer_auth(&chat.org.token)
            .json(&send(&chat.contact_id, n))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            reqwest::StatusCode::OK,
            "a replay, not a new send"
        );
        let message: Value = response.json().await.unwrap();
        assert_eq!(message["id"], id.as_str());
    }
    let (_, history) = app.get(&path, &chat.org.token).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), SENDS);
    assert_eq!(twilio.sent().len(), SENDS, "the retries sent nothing");
}

/// The `n`th send of the test, with the idempotency key a client would keep for it.
fn send(contact_id: &str, n: usize) -> Value {
    json!({
        "contact_id": contact_id,
        "channel": "sms",
        "body": format!("Reminder {n}"),
        "client_id": format!("reminder-{n}"),
    })
}
