//! Twilio's webhooks, signed as Twilio signs them: status callbacks, inbound messages,
//! opt-outs, and forged requests.

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard::twilio::signature;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    assert_error, form, status_callback, Conversation, TestApp, WsClient, TWILIO_ACCOUNT,
    TWILIO_TOKEN,
};
use crate::twilio_standin::{Create, Media, TwilioStandIn};

/// A clinic with Twilio configured; its stand-in accepts every send as message `sid`,
/// and only the webhooks in the test move statuses after that.
async fn clinic(sid: &'static str) -> (TestApp, Conversation, TwilioStandIn) {
    let twilio = TwilioStandIn::start().await;
    twilio.always(Create::AcceptAs(sid));
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    (app, chat, twilio)
}

/// Sends an SMS and waits (on the subscribed `tab`) until Twilio's SID is recorded.
async fn sent_message(app: &TestApp, chat: &Conversation, tab: &mut WsClient) -> String {
    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "Your paperwork is ready")
        .await;
    let id = message["id"].as_str().unwrap().to_string();
    let seen = tab
        .statuses_until(&id, |data| data["external_id"].is_string())
        .await;
    assert_eq!(seen.last().unwrap()["status"], "sending");
    id
}

async fn stored_status(app: &TestApp, chat: &Conversation) -> Value {
    app.history(chat).await.pop().expect("a message")
}

#[actix_web::test]
async fn status_callbacks_in_any_order_settle_on_the_right_status() {
    let (app, chat, _twilio) = clinic("SM00000000000000000000000000000001").await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let id = sent_message(&app, &chat, &mut tab).await;

    // A callback whose URL names this message but whose SID is another message's, or
    // names another contact, changes nothing.
    let contact = &chat.contact_id;
    let other_contact = app
        .create_contact(&chat.org.token, json!({"name": "Someone Else"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other_sid = status_callback("SM00000000000000000000000000000077", "delivered");
    let this_sid = status_callback("SM00000000000000000000000000000001", "delivered");
    for (url, callback) in [
        (format!("?message_id={id}"), &other_sid),
        (format!("?message_id={id}&contact_id={contact}"), &other_sid),
        (
            format!("?message_id={id}&contact_id={other_contact}"),
            &this_sid,
        ),
    ] {
        let named = format!("/webhooks/twilio/status{url}");
        let (code, body) = app.post_signed(&named, callback, TWILIO_TOKEN).await;
        assert_eq!(code, StatusCode::NO_CONTENT, "{url}: {body}");
        assert_eq!(
            stored_status(&app, &chat).await["status"],
            "sending",
            "{url}"
        );
    }

    // Reversed and duplicated: delivered first, then the stale ones.
    for status in ["delivered", "sent", "sent", "queued", "delivered"] {
        let (code, body) = app
            .post_signed(
                "/webhooks/twilio/status",
                &status_callback("SM00000000000000000000000000000001", status),
                TWILIO_TOKEN,
            )
            .await;
        assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    }
    assert_eq!(stored_status(&app, &chat).await["status"], "delivered");
    let statuses: Vec<Value> = tab
        .drain()
        .await
        .into_iter()
        .map(|f| f["data"]["status"].clone())
        .collect();
    assert_eq!(statuses, ["delivered"], "only the change is broadcast");

    // A later failure report wins over delivered, with Twilio's code explained.
    let mut failed = status_callback("SM00000000000000000000000000000001", "undelivered");
    failed.push(("ErrorCode".into(), "30003".into()));
    app.post_signed("/webhooks/twilio/status", &failed, TWILIO_TOKEN)
        .await;
    let message = stored_status(&app, &chat).await;
    assert_eq!(message["id"], id.as_str());
    assert_eq!(message["status"], "undelivered");
    assert_eq!(message["error_code"], "30003");
    assert!(
        message["error_message"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{message}"
    );

    // A URL naming no message id is refused.
    let (code, body) = app
        .post_signed(
            "/webhooks/twilio/status?message_id=42",
            &status_callback("SM00000000000000000000000000000001", "delivered"),
            TWILIO_TOKEN,
        )
        .await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_error(code, &body, StatusCode::BAD_REQUEST, "invalid_webhook");

    // Unknown SIDs are acknowledged (Twilio would retry anything else).
    let (code, _) = app
        .post_signed(
            "/webhooks/twilio/status",
            &status_callback("SMffffffffffffffffffffffffffffffff", "sent"),
            TWILIO_TOKEN,
        )
        .await;
    assert_eq!(code, StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn a_callback_saying_the_number_opted_out_blocks_later_sends() {
    let (app, chat, _twilio) = clinic("SM00000000000000000000000000000021").await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let id = sent_message(&app, &chat, &mut tab).await;

    // Twilio's 21610: the recipient has replied STOP to this number at some point.
    let mut failed = status_callback("SM00000000000000000000000000000021", "failed");
    failed.push(("ErrorCode".into(), "21610".into()));
    let named = format!(
        "/webhooks/twilio/status?message_id={id}&contact_id={}",
        chat.contact_id
    );
    let (code, body) = app.post_signed(&named, &failed, TWILIO_TOKEN).await;
    assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    let message = stored_status(&app, &chat).await;
    assert_eq!(message["status"], "failed");
    assert_eq!(message["error_code"], "21610");

    let (status, body) = app
        .try_send_sms(&chat.org.token, &chat.contact_id, "Still there?")
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
}

#[actix_web::test]
async fn an_oversize_webhook_gets_a_json_413() {
    let (app, _chat, _twilio) = clinic("SM00000000000000000000000000000031").await;
    let huge = "x".repeat(300 * 1024);
    let params = form(&[("AccountSid", TWILIO_ACCOUNT), ("Body", &huge)]);
    let (status, body) = app
        .post_signed("/webhooks/twilio/inbound", &params, TWILIO_TOKEN)
        .await;
    let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    crate::helpers::assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

#[actix_web::test]
async fn forged_unsigned_and_tampered_webhooks_are_refused_and_change_nothing() {
    let (app, chat, _twilio) = clinic("SM00000000000000000000000000000002").await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    sent_message(&app, &chat, &mut tab).await;
    let callback = status_callback("SM00000000000000000000000000000002", "failed");
    let url = format!("{}/webhooks/twilio/status", app.address);

    let unsigned = app
        .post_webhook("/webhooks/twilio/status", &callback, None)
        .await;
    let wrong_token = app
        .post_signed("/webhooks/twilio/status", &callback, "not-the-token")
        .await;
    let mut tampered = callback.clone();
    let valid_signature = signature::sign(TWILIO_TOKEN, &url, &callback);
    tampered[2].1 = "delivered".into();
    let tampered = app
        .post_webhook("/webhooks/twilio/status", &tampered, Some(&valid_signature))
        .await;
    let mut other_account = callback.clone();
    other_account[0].1 = "ACffffffffffffffffffffffffffffffff".into();
    let other_account = app
        .post_signed("/webhooks/twilio/status", &other_account, TWILIO_TOKEN)
        .await;
    for (status, body) in [unsigned, wrong_token, tampered, other_account] {
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(
        stored_status(&app, &chat).await["status"],
        "sending",
        "nothing changed"
    );

    let inbound = form(&[
        ("AccountSid", TWILIO_ACCOUNT),
        ("MessageSid", "SMforged"),
        ("From", "+14155550177"),
        ("To", "+14155550100"),
        ("Body", "hi"),
    ]);
    let (status, _) = app
        .post_signed("/webhooks/twilio/inbound", &inbound, "not-the-token")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = app.get("/api/contacts", &chat.org.token).await;
    assert_eq!(
        list["contacts"].as_array().unwrap().len(),
        1,
        "no contact was created"
    );
}

#[actix_web::test]
async fn an_inbound_sms_creates_the_contact_once_and_reaches_the_dashboards() {
    let (app, chat, _twilio) = clinic("SM00000000000000000000000000000009").await;
    let mut list_tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    list_tab.send(json!({"type": "subscribe_org"})).await;
    list_tab.next().await;
    let inbound = form(&[
        ("AccountSid", TWILIO_ACCOUNT),
        ("MessageSid", "SM00000000000000000000000000000003"),
        ("From", "+14155550177"),
        ("To", "+14155550100"),
        ("Body", "Can I move my appointment?"),
        ("NumMedia", "0"),
    ]);
    for _ in 0..2 {
        let (status, body) = app
            .post_signed("/webhooks/twilio/inbound", &inbound, TWILIO_TOKEN)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("<Response/>"), "{body}");
    }

    let (_, list) = app
        .get("/api/contacts?search=5550177", &chat.org.token)
        .await;
    let contacts = list["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 1, "one new contact, named by the number");
    assert_eq!(contacts[0]["name"], "(415) 555-0177");
    assert_eq!(
        contacts[0]["unread_count"], 1,
        "Twilio's retry was stored once"
    );
    let contact_id = contacts[0]["id"].as_str().unwrap();
    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={contact_id}"),
            &chat.org.token,
        )
        .await;
    let message = &history["messages"][0];
    assert_eq!(message["status"], "received");
    assert_eq!(message["direction"], "inbound");
    assert_eq!(message["phone_number_id"], chat.phone_number_id.as_str());
    assert_eq!(message["external_id"], "SM00000000000000000000000000000003");

    let frames = list_tab.drain().await;
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["messaging.contact.updated", "messaging.inbound"]);
    assert_eq!(frames[1]["data"]["preview"], "Can I move my appointment?");

    // The reply goes out from the number the contact wrote to.
    let reply = app.send_sms(&chat.org.token, contact_id, "Of course").await;
    assert_eq!(reply["from_address"], "+14155550100");
}

#[actix_web::test]
async fn replies_go_out_from_the_number_the_contact_last_wrote_to() {
    let (app, chat, _twilio) = clinic("SM00000000000000000000000000000021").await;
    let (status, body) = app
        .post(
            "/api/phone-numbers",
            &chat.org.token,
            json!({"phone_number": "+14155550199", "label": "Billing"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let inbound = |to: &str, sid: &str| {
        form(&[
            ("AccountSid", TWILIO_ACCOUNT),
            ("MessageSid", sid),
            ("From", "+14155550111"),
            ("To", to),
            ("Body", "Hello?"),
        ])
    };
    let reply = |body| app.send_sms(&chat.org.token, &chat.contact_id, body);

    // Before the contact writes: the organisation's first number.
    assert_eq!(reply("Reminder").await["from_address"], "+14155550100");
    // The contact writes to the second number, then to the first: each reply follows.
    for (to, sid) in [
        ("+14155550199", "SM10000000000000000000000000000021"),
        ("+14155550100", "SM10000000000000000000000000000022"),
        ("+14155550199", "SM10000000000000000000000000000023"),
    ] {
        let (status, body) = app
            .post_signed("/webhooks/twilio/inbound", &inbound(to, sid), TWILIO_TOKEN)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(reply("Got it").await["from_address"], to);
    }
    // The contact last wrote to the second number: a number the operator picks wins.
    let (status, chosen) = app
        .post(
            "/api/messages/send",
            &chat.org.token,
            json!({"contact_id": chat.contact_id, "channel": "sms", "body": "explicit", "phone_number_id": chat.phone_number_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{chosen}");
    assert_eq!(chosen["from_address"], "+14155550100");
}

#[actix_web::test]
async fn stop_blocks_sends_until_start() {
    let (app, chat, _twilio) = clinic("SM00000000000000000000000000000009").await;
    let keyword = |body: &str, sid: &str| {
        form(&[
            ("AccountSid", TWILIO_ACCOUNT),
            ("MessageSid", sid),
            ("From", "+14155550111"),
            ("To", "+14155550100"),
            ("Body", body),
        ])
    };
    app.post_signed(
        "/webhooks/twilio/inbound",
        &keyword("  stop ", "SM10000000000000000000000000000001"),
        TWILIO_TOKEN,
    )
    .await;

    let (status, body) = app
        .try_send_sms(&chat.org.token, &chat.contact_id, "Still there?")
        .await;
    let error = assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    assert!(
        error["message"].as_str().unwrap().contains("START"),
        "{error}"
    );
    let (_, opt_outs) = app
        .get(
            &format!("/api/contacts/{}/opt-outs", chat.contact_id),
            &chat.org.token,
        )
        .await;
    assert_eq!(opt_outs["opt_outs"][0]["contact_number"], "+14155550111");
    assert_eq!(opt_outs["opt_outs"][0]["keyword"], "STOP");

    app.post_signed(
        "/webhooks/twilio/inbound",
        &keyword("START", "SM10000000000000000000000000000002"),
        TWILIO_TOKEN,
    )
    .await;
    app.send_sms(&chat.org.token, &chat.contact_id, "Welcome back")
        .await;
    let (_, opt_outs) = app
        .get(
            &format!("/api/contacts/{}/opt-outs", chat.contact_id),
            &chat.org.token,
        )
        .await;
    assert_eq!(opt_outs["opt_outs"], json!([]));

    // Both are in the audit log, against the contact, with the keyword and our number.
    for (action, keyword) in [("sms.opt_out", "STOP"), ("sms.opt_in", "START")] {
        let audited = app.audit_entries(&chat.org.token, action).await;
        assert_eq!(audited.len(), 1, "{action}: {audited:#?}");
        assert_eq!(audited[0]["subject_type"], "contact");
        assert_eq!(audited[0]["subject_id"], chat.contact_id.as_str());
        assert_eq!(audited[0]["user_id"], Value::Null);
        assert_eq!(audited[0]["details"]["keyword"], keyword);
        assert_eq!(audited[0]["details"]["org_number"], "+14155550100");
    }
}

#[actix_web::test]
async fn inbound_media_is_fetched_from_twilio_only_and_kept_with_the_message() {
    let (app, chat, twilio) = clinic("SM00000000000000000000000000000010").await;
    let jpeg: Vec<u8> = [
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ]
    .into_iter()
    .chain((0..2000).map(|i| (i % 199) as u8))
    .collect();
    let vcard = b"BEGIN:VCARD\nVERSION:3.0\nFN:Dr. Lee\nEND:VCARD\n".to_vec();
    // Served only to the clinic's account (Basic auth), as Twilio serves media.
    let media: Vec<(String, &str)> = [
        (jpeg.clone(), "image/jpeg"),
        (vcard.clone(), "text/vcard"),
        (jpeg.clone(), "image/jpeg"),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (bytes, content_type))| {
        let url = twilio.add_media("MM1", &format!("ME{n}"), Media::File(bytes, content_type));
        (url, content_type)
    })
    .collect();
    let inbound = |sid: &str, media: &[(String, &str)]| {
        let mut params = form(&[
            ("AccountSid", TWILIO_ACCOUNT),
            ("MessageSid", sid),
            ("From", "+14155550111"),
            ("To", "+14155550100"),
            ("Body", "see attached"),
        ]);
        params.push(("NumMedia".into(), media.len().to_string()));
        for (index, (url, content_type)) in media.iter().enumerate() {
            params.push((format!("MediaUrl{index}"), url.clone()));
            params.push((format!("MediaContentType{index}"), content_type.to_string()));
        }
        params
    };
    // A media URL on Twilio's host that redirects elsewhere (a host inside the network)
    // is not followed there.
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(jpeg.clone(), "image/jpeg"))
        .mount(&elsewhere)
        .await;
    let redirected = twilio.add_media(
        "MM1",
        "ME7",
        Media::RedirectTo(format!("{}/internal.jpg", elsewhere.uri())),
    );
    // (the message's SID, its media as (URL, content type), how many are kept)
    type Case<'a> = (&'a str, Vec<(String, &'a str)>, usize);
    let cases: Vec<Case> = vec![
        ("SM20000000000000000000000000000000", vec![], 0),
        (
            "SM20000000000000000000000000000001",
            vec![media[0].clone()],
            1,
        ),
        ("SM20000000000000000000000000000003", media.clone(), 3),
        // Never an arbitrary URL: only Twilio's hosts (here, the configured API base).
        (
            "SM20000000000000000000000000000004",
            vec![("http://127.0.0.1:9/evil.jpg".to_string(), "image/jpeg")],
            0,
        ),
        (
            "SM20000000000000000000000000000005",
            vec![(redirected, "image/jpeg")],
            0,
        ),
    ];
    for (sid, media, expected) in cases {
        let (status, _) = app
            .post_signed(
                "/webhooks/twilio/inbound",
                &inbound(sid, &media),
                TWILIO_TOKEN,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, history) = app
            .get(
                &format!("/api/messages?contact_id={}", chat.contact_id),
                &chat.org.token,
            )
            .await;
        let message = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["external_id"] == sid)
            .unwrap()
            .clone();
        let attachments = message["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), expected, "{sid}: {message}");
        if expected == 3 {
            assert_eq!(attachments[1]["content_type"], "text/vcard");
            // The browser gets the stored bytes from us, not from Twilio.
            let url = format!("{}{}", app.address, attachments[0]["url"].as_str().unwrap());
            let fetched = app
                .client
                .get(url)
                .bearer_auth(&chat.org.token)
                .send()
                .await
                .unwrap();
            assert_eq!(fetched.bytes().await.unwrap().to_vec(), jpeg);
        }
    }
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the redirect away from Twilio's hosts was not followed"
    );
}
