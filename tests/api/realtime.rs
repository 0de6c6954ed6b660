//! The realtime core over real WebSockets: fan-out, isolation, typing, resume and
//! back-pressure.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{TestApp, WsClient};

fn types(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .map(|frame| frame["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn seq(frame: &Value) -> u64 {
    frame["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq in {frame}"))
}

#[actix_web::test]
async fn two_operators_see_a_sent_message_and_every_status_change_in_order() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let agent = app.create_agent(&chat.org).await;
    let mut admin_tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    let mut agent_tab = WsClient::connect_authenticated(&app, &agent, "").await;
    admin_tab.subscribe(&chat.contact_id).await;
    agent_tab.subscribe(&chat.contact_id).await;

    let message = app
        .send_sms(
            &chat.org.token,
            &chat.contact_id,
            "Your appointment is confirmed",
        )
        .await;
    assert_eq!(message["status"], "queued");
    assert_eq!(message["from_address"], "+14155550100");
    assert_eq!(message["to_address"], "+14155550111");
    assert_eq!(message["phone_line_label"], "Front desk");
    assert_eq!(message["receiver_number_display"], "(415) 555-0111");
    let id = message["id"].as_str().unwrap();

    for tab in [&mut admin_tab, &mut agent_tab] {
        let frames = tab.until("messaging.message.status", None).await;
        let frames = [frames, tab.until("messaging.message.status", None).await].concat();
        assert_eq!(
            types(&frames),
            [
                "messaging.message.new",
                "messaging.message.status",
                "messaging.message.status"
            ]
        );
        assert_eq!(frames[0]["contact_id"], chat.contact_id.as_str());
        assert_eq!(frames[0]["data"]["id"], id);
        assert_eq!(frames[0]["data"]["body"], "Your appointment is confirmed");
        assert_eq!(
            frames[0]["data"], message,
            "the event carries the message as the API answered with it"
        );
        assert_eq!(frames[1]["data"]["status"], "sent");
        assert_eq!(frames[2]["data"]["status"], "delivered");
        assert!(frames[1]["data"]["external_id"]
            .as_str()
            .unwrap()
            .starts_with("SANDBOX-"));
        assert!(seq(&frames[0]) < seq(&frames[1]) && seq(&frames[1]) < seq(&frames[2]));
    }

    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            &agent,
        )
        .await;
    assert_eq!(history["messages"][0]["status"], "delivered");
}

#[actix_web::test]
async fn another_organisation_cannot_subscribe_and_never_receives() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let outsider = app.create_org("Other Clinic").await;
    let mut insider_tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    let mut outsider_tab = WsClient::connect_authenticated(&app, &outsider.token, "").await;
    insider_tab.subscribe(&chat.contact_id).await;
    outsider_tab.send(json!({"type": "subscribe_org"})).await;
    assert_eq!(outsider_tab.next().await["type"], "subscribed");

    outsider_tab
        .send(json!({"type": "subscribe", "contact_id": chat.contact_id}))
        .await;
    let refusal = outsider_tab.next().await;
    assert_eq!(refusal["type"], "error");
    assert_eq!(refusal["code"], "not_found");
    assert_eq!(refusal["contact_id"], chat.contact_id.as_str());

    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "private")
        .await;
    insider_tab
        .until(
            "messaging.message.status",
            Some(message["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        outsider_tab.drain().await,
        Vec::<Value>::new(),
        "nothing of the other organisation leaks"
    );
}

#[actix_web::test]
async fn typing_reaches_the_other_operator_but_not_the_typist() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let agent = app.create_agent(&chat.org).await;
    let mut typist = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    let mut watcher = WsClient::connect_authenticated(&app, &agent, "").await;
    typist.subscribe(&chat.contact_id).await;
    watcher.subscribe(&chat.contact_id).await;

    typist
        .send(json!({"type": "typing", "contact_id": chat.contact_id, "on": true}))
        .await;
    let typing = watcher.next().await;
    assert_eq!(typing["type"], "messaging.typing");
    assert_eq!(typing["contact_id"], chat.contact_id.as_str());
    assert_eq!(typing["data"]["on"], true);
    assert_eq!(typing["data"]["user_name"], "Admin");
    assert_eq!(
        typist.drain().await,
        Vec::<Value>::new(),
        "the typist is not told of their own typing"
    );

    let unsubscribed = app
        .create_contact(&chat.org.token, json!({"name": "Someone Else"}))
        .await;
    typist
        .send(json!({"type": "typing", "contact_id": unsubscribed["id"], "on": true}))
        .await;
    assert_eq!(typist.next().await["code"], "not_subscribed");
}

#[actix_web::test]
async fn a_reconnecting_client_gets_exactly_what_it_missed() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let agent = app.create_agent(&chat.org).await;
    let mut sender_tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    sender_tab.subscribe(&chat.contact_id).await;

    let mut flaky_tab = WsClient::connect_authenticated(&app, &agent, "").await;
    flaky_tab.subscribe(&chat.contact_id).await;
    let first = app.send_sms(&chat.org.token, &chat.contact_id, "one").await;
    let seen = flaky_tab
        .until("messaging.message.new", Some(first["id"].as_str().unwrap()))
        .await;
    let last_seen = seq(seen.last().unwrap());
    drop(flaky_tab);

    // While the tab is away the other operator keeps working.
    let mut missed = Vec::new();
    for body in ["two", "three"] {
        let message = app.send_sms(&chat.org.token, &chat.contact_id, body).await;
        let id = message["id"].as_str().unwrap().to_string();
        missed.extend(sender_tab.until("messaging.message.status", None).await);
        missed.extend(sender_tab.until_status(&id, "delivered").await);
    }
    let expected: Vec<u64> = missed.iter().map(seq).filter(|&s| s > last_seen).collect();

    let mut resumed =
        WsClient::connect_authenticated(&app, &agent, &format!("&since={last_seen}")).await;
    resumed.subscribe(&chat.contact_id).await;
    let mut replayed = Vec::new();
    while replayed.len() < expected.len() {
        replayed.push(resumed.next().await);
    }
    assert_eq!(
        replayed.iter().map(seq).collect::<Vec<_>>(),
        expected,
        "every missed event once, in order"
    );
    assert_eq!(
        resumed.drain().await,
        Vec::<Value>::new(),
        "and nothing more"
    );

    // Live events continue after the replay.
    let live = app
        .send_sms(&chat.org.token, &chat.contact_id, "four")
        .await;
    let next = resumed.next().await;
    assert_eq!(next["type"], "messaging.message.new");
    assert_eq!(next["data"]["id"], live["id"]);
}

#[actix_web::test]
async fn a_client_resuming_from_too_far_back_is_told_to_refetch() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "&since=1").await;
    tab.send(json!({"type": "subscribe", "contact_id": chat.contact_id}))
        .await;
    assert_eq!(tab.next().await["type"], "subscribed");
    let resync = tab.next().await;
    assert_eq!(resync["type"], "resync", "{resync}");
    assert_eq!(resync["contact_id"], chat.contact_id.as_str());
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_cut_off_while_others_keep_receiving() {
    let app = TestApp::spawn_with(|settings| settings.realtime.ws_outbox_frames = 8).await;
    let org = app.create_org("Clinic").await;
    app.post(
        "/api/email-addresses",
        &org.token,
        json!({"address": "desk@clinic.example"}),
    )
    .await;
    let contact = app
        .create_contact(
            &org.token,
            json!({"name": "Ann", "emails": [{"email": "ann@example.com"}]}),
        )
        .await;
    let contact_id = contact["id"].as_str().unwrap();
    let mut reader = WsClient::connect_authenticated(&app, &org.token, "").await;
    reader.subscribe(contact_id).await;
    let mut stalled = WsClient::connect_with_small_buffer(&app, &org.token).await;
    stalled.subscribe(contact_id).await;

    // Long emails fill the stalled socket's buffers (the kernel's included) quickly.
    let body = "x".repeat(50_000);
    let mut sent = Vec::new();
    for _ in 0..100 {
        let request = json!({"contact_id": contact_id, "channel": "email", "subject": "Newsletter", "body": body});
        let (status, message) = app.post("/api/messages/send", &org.token, request).await;
        assert_eq!(status, StatusCode::CREATED);
        // The reader keeps up with every message as it is sent.
        reader
            .until(
                "messaging.message.new",
                Some(message["id"].as_str().unwrap()),
            )
            .await;
        sent.push(message["id"].clone());
    }

    // The stalled client now reads: what was queued before the cut, then the end.
    let mut received = Vec::new();
    while let Some(frame) = stalled.try_next().await {
        if frame["type"] == "messaging.message.new" {
            received.push(frame["data"]["id"].clone());
        }
    }
    assert!(
        received.len() < sent.len(),
        "the stalled client was cut off, not fed everything"
    );
    assert_eq!(
        received,
        sent[..received.len()],
        "what it did get came in order, without gaps"
    );
    let (status, _) = app.get("/readyz", &org.token).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn the_org_stream_announces_contact_activity_and_read_marks() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut list_tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    list_tab.send(json!({"type": "subscribe_org"})).await;
    let ack = list_tab.next().await;
    assert_eq!(ack["scope"], "org");

    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "Hello from the clinic")
        .await;
    let update = list_tab.next().await;
    assert_eq!(update["type"], "messaging.contact.updated");
    assert_eq!(update["contact_id"], chat.contact_id.as_str());
    assert_eq!(update["data"]["last_message"]["id"], message["id"]);
    assert_eq!(
        update["data"]["last_message"]["preview"],
        "Hello from the clinic"
    );
    assert_eq!(update["data"]["last_contacted_at"], message["created_at"]);

    let (status, read) = app
        .post(
            &format!("/api/contacts/{}/read", chat.contact_id),
            &chat.org.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let update = list_tab.next().await;
    assert_eq!(update["type"], "messaging.contact.updated");
    assert_eq!(update["data"]["read"]["read_at"], read["read_at"]);
}

#[actix_web::test]
async fn sockets_without_valid_credentials_are_refused() {
    let app = TestApp::spawn().await;
    let url = format!(
        "{}/ws?token=sb_bogus",
        app.address.replacen("http://", "ws://", 1)
    );
    let refused = tokio_tungstenite::connect_async(url).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected a 401 handshake refusal, got {other:?}"),
    }

    // Without credentials the socket opens, but only `auth` is accepted.
    let org = app.create_org("Clinic").await;
    let mut tab = WsClient::connect(&app.address, "/ws").await;
    tab.send(json!({"type": "subscribe_org"})).await;
    assert_eq!(tab.next().await["code"], "unauthenticated");
    tab.send(json!({"type": "auth", "token": org.token})).await;
    assert_eq!(tab.next().await["type"], "hello");
    tab.send(json!({"type": "nonsense"})).await;
    assert_eq!(tab.next().await["code"], "bad_frame");
}

/// A burst to one contact, with delivery reports interleaved, keeps flowing. (The
/// contact's actor once parked side work holding pooled connections while it waited
/// for one, and a burst like this deadlocked the pool.)
#[actix_web::test]
async fn a_burst_of_sends_to_one_contact_keeps_flowing() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    for index in 0..200 {
        let message = app
            .send_sms(&chat.org.token, &chat.contact_id, &format!("burst {index}"))
            .await;
        tab.until(
            "messaging.message.new",
            Some(message["id"].as_str().unwrap()),
        )
        .await;
    }
}
