//! Sending through Twilio, played by the tests' stand-in: the request Twilio receives,
//! retries, reconciliation, failures, and the outbox after a restart.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard::config::Settings;
use switchboard::db::ids::{ContactId, ContactMethodId, MessageId, OrganizationId, PhoneNumberId};
use switchboard::db::message_fields::{Channel, Direction, MessageStatus};
use switchboard::db::messages::{self, MessageInsertForm};

use crate::helpers::{
    assert_error, status_callback, Conversation, TestApp, WsClient, TWILIO_TOKEN,
};
use crate::twilio_standin::{Create, TwilioStandIn};

/// The conversation's numbers (see `TestApp::conversation`): the contact's, the clinic's.
const CONTACT_NUMBER: &str = "+14155550111";
const CLINIC_NUMBER: &str = "+14155550100";

/// Sends an SMS from a clinic using `twilio` and waits until its carrier id is recorded;
/// answers that id.
async fn carrier_id_of_a_send(twilio: &TwilioStandIn, body: &str) -> String {
    carrier_id_of_a_send_with(twilio, body, |_| {}).await
}

/// As [`carrier_id_of_a_send`], from a server with `change` made to its settings.
async fn carrier_id_of_a_send_with(
    twilio: &TwilioStandIn,
    body: &str,
    change: impl FnOnce(&mut Settings),
) -> String {
    let (app, chat) = TestApp::clinic_with_twilio(twilio, change).await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let message = app.send_sms(&chat.org.token, &chat.contact_id, body).await;
    let seen = tab
        .statuses_until(message["id"].as_str().unwrap(), |data| {
            data["external_id"].is_string()
        })
        .await;
    seen.last().unwrap()["external_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[actix_web::test]
async fn twilio_receives_a_well_formed_request_and_its_sid_is_kept() {
    // The stand-in answers only requests signed in (Basic auth) as the clinic's account,
    // at that account's path: an accepted send was signed in as the clinic.
    let twilio = TwilioStandIn::start().await;
    twilio.then([Create::AcceptAs("SM11111111111111111111111111111111")]);
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    let message = app
        .send_sms(
            &chat.org.token,
            &chat.contact_id,
            "Hello + welcome & thanks",
        )
        .await;
    let id = message["id"].as_str().unwrap();
    let seen = tab
        .statuses_until(id, |data| data["external_id"].is_string())
        .await;
    assert_eq!(seen[0]["status"], "sending");
    assert_eq!(
        seen.last().unwrap()["external_id"],
        "SM11111111111111111111111111111111"
    );

    assert_eq!(twilio.create_requests(), 1);
    let sent = &twilio.sent()[0];
    assert_eq!(sent.field("To"), Some(CONTACT_NUMBER));
    assert_eq!(sent.field("From"), Some(CLINIC_NUMBER));
    assert_eq!(sent.field("Body"), Some("Hello + welcome & thanks"));
    assert_eq!(
        sent.field("MessagingServiceSid"),
        None,
        "the clinic has no service"
    );
    assert_eq!(
        sent.field("StatusCallback"),
        Some(
            format!(
                "{}/webhooks/twilio/status?message_id={id}&contact_id={}",
                app.address, chat.contact_id
            )
            .as_str()
        )
    );
}

#[actix_web::test]
async fn sends_belong_to_the_organisations_messaging_service_and_keep_their_number() {
    let twilio = TwilioStandIn::start().await;
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    let service = "MG0123456789abcdef0123456789abcdef";
    let (status, body) = app
        .patch(
            "/api/organization/settings",
            &chat.org.token,
            json!({"twilio_messaging_service_sid": service}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "From the pool")
        .await;
    tab.statuses_until(message["id"].as_str().unwrap(), |data| {
        data["external_id"].is_string()
    })
    .await;
    assert_eq!(twilio.create_requests(), 1);
    let sent = &twilio.sent()[0];
    assert_eq!(sent.field("MessagingServiceSid"), Some(service));
    assert_eq!(
        sent.field("From"),
        Some(CLINIC_NUMBER),
        "the conversation's number"
    );
}

#[actix_web::test]
async fn a_retried_message_follows_its_new_twilio_id() {
    let (twilio, app, chat, mut tab) = paced_clinic(1000.0).await;
    let message = app
        .send_sms(
            &chat.org.token,
            &chat.contact_id,
            "Your appointment is at 3pm",
        )
        .await;
    let id = message["id"].as_str().unwrap().to_string();
    let seen = tab
        .statuses_until(&id, |data| data["external_id"].is_string())
        .await;
    let first_sid = seen.last().unwrap()["external_id"]
        .as_str()
        .unwrap()
        .to_string();
    let named = format!(
        "/webhooks/twilio/status?message_id={id}&contact_id={}",
        chat.contact_id
    );
    let mut failed = status_callback(&first_sid, "failed");
    failed.push(("ErrorCode".into(), "30003".into()));
    let (code, body) = app.post_signed(&named, &failed, TWILIO_TOKEN).await;
    assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    let (status, retried) = app
        .post(
            &format!("/api/messages/{id}/retry"),
            &chat.org.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["external_id"], Value::Null, "{retried}");
    // Past the failure's own event (which still names the first id) to the new id.
    let seen = tab
        .statuses_until(&id, |data| {
            data["external_id"].is_string() && data["external_id"] != first_sid.as_str()
        })
        .await;
    let second_sid = seen.last().unwrap()["external_id"]
        .as_str()
        .unwrap()
        .to_string();
    let delivered = status_callback(&second_sid, "delivered");
    let (code, body) = app.post_signed(&named, &delivered, TWILIO_TOKEN).await;
    assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            &chat.org.token,
        )
        .await;
    let stored = history["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(stored["status"], "delivered", "{stored}");
    assert_eq!(twilio.create_requests(), 2, "sent twice: once per attempt");
}

#[actix_web::test]
async fn a_status_callback_that_overtakes_the_send_answer_is_kept() {
    let twilio = TwilioStandIn::start().await;
    twilio.then([Create::CallBackFirst("sent")]);
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "Your paperwork is ready")
        .await;
    let id = message["id"].as_str().unwrap();
    let seen = tab
        .statuses_until(id, |data| data["external_id"].is_string())
        .await;
    let sid = twilio.sent()[0].sid.clone();
    let standing = seen.last().unwrap();
    assert_eq!(standing["status"], "sent", "{seen:?}");
    assert_eq!(standing["external_id"], sid.as_str());

    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            &chat.org.token,
        )
        .await;
    let stored = history["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(stored["status"], "sent", "{stored}");
    assert_eq!(stored["external_id"], sid.as_str());
    assert_eq!(twilio.create_requests(), 1);
}

#[actix_web::test]
async fn a_rate_limited_send_is_retried_and_sent_once() {
    let twilio = TwilioStandIn::start().await;
    twilio.then([Create::Refuse(429), Create::Accept]);
    let carrier_id = carrier_id_of_a_send(&twilio, "Reminder").await;
    assert_eq!(twilio.create_requests(), 2, "one refused, one accepted");
    assert_eq!(carrier_id, twilio.sent()[0].sid);
}

/// A clinic whose sends from one number are paced at `per_second`, its Twilio stand-in
/// (which notes when each send arrived) and a tab subscribed to its contact.
async fn paced_clinic(per_second: f64) -> (TwilioStandIn, TestApp, Conversation, WsClient) {
    let twilio = TwilioStandIn::start().await;
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |settings| {
        settings.delivery.sends_per_second_per_number = per_second
    })
    .await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    (twilio, app, chat, tab)
}

#[actix_web::test]
async fn sends_from_one_number_are_paced() {
    let (twilio, app, chat, mut tab) = paced_clinic(10.0).await;

    let mut ids = Vec::new();
    for index in 0..4 {
        let message = app
            .send_sms(&chat.org.token, &chat.contact_id, &format!("Burst {index}"))
            .await;
        ids.push(message["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        tab.statuses_until(id, |data| data["external_id"].is_string())
            .await;
    }
    // Ten a second: the four leave 100 ms apart, 300 ms from first to last. Arrivals
    // are measured at Twilio, and on a loaded machine the first may be slower on its way
    // than the last (241 ms was seen); unpaced, the four arrive within a few ms.
    let sent = twilio.sent();
    assert_eq!(sent.len(), 4, "each message sent once");
    let span = sent[3].created - sent[0].created;
    assert!(
        span >= chrono::TimeDelta::milliseconds(200),
        "four sends from one number at 10/s took only {span:?}"
    );
}

#[actix_web::test]
async fn a_send_that_must_wait_for_its_turn_stays_queued_until_then() {
    // One send every four seconds: far more than the moment between the two sends,
    // however busy the machine running the tests.
    let (twilio, app, chat, mut tab) = paced_clinic(0.25).await;

    // The first goes at once: claimed as it is recorded. The second, a moment later,
    // waits for the number's next turn (four seconds on): recorded queued, claimed then.
    let first = app
        .send_sms(&chat.org.token, &chat.contact_id, "First")
        .await;
    let second = app
        .send_sms(&chat.org.token, &chat.contact_id, "Second")
        .await;
    assert_eq!(first["status"], "sending", "{first}");
    assert_eq!(second["status"], "queued", "{second}");
    let second_id = second["id"].as_str().unwrap();
    let seen = tab
        .statuses_until(second_id, |data| data["external_id"].is_string())
        .await;
    let statuses: Vec<&Value> = seen.iter().map(|data| &data["status"]).collect();
    assert_eq!(
        statuses,
        ["sending", "sending"],
        "claimed, then Twilio's id"
    );
    assert_eq!(twilio.create_requests(), 2, "each sent once");
}

#[actix_web::test]
async fn an_ambiguous_failure_is_reconciled_instead_of_sent_twice() {
    let twilio = TwilioStandIn::start().await;
    // Twilio created the message but the answer was lost (a 500 here), and another
    // message on the same route came right after it: Twilio's list shows that one first.
    twilio.then([Create::KeepButAnswer500.buried_under(1)]);
    let carrier_id = carrier_id_of_a_send(&twilio, "Your forms are ready to sign").await;
    assert_eq!(
        twilio.create_requests(),
        1,
        "Twilio already had it: not sent again"
    );
    assert_eq!(carrier_id, twilio.sent()[0].sid);
}

#[actix_web::test]
async fn a_send_whose_answer_comes_too_late_is_reconciled_instead_of_sent_twice() {
    let twilio = TwilioStandIn::start().await;
    // Twilio takes the message, but answers after the server has stopped waiting.
    twilio.then([Create::Stall(Duration::from_secs(4))]);
    let text = "Your prescription is ready for pickup";
    let carrier_id = carrier_id_of_a_send_with(&twilio, text, |settings| {
        settings.delivery.twilio_timeout_secs = 1
    })
    .await;
    assert_eq!(
        carrier_id,
        twilio.sent()[0].sid,
        "adopted from Twilio's list"
    );
    assert!(
        twilio.list_requests() > 0,
        "the server stopped waiting and asked Twilio's list"
    );
    assert_eq!(twilio.create_requests(), 1, "not sent again");
}

#[actix_web::test]
async fn reconciling_never_adopts_an_earlier_message_with_the_same_text() {
    let twilio = TwilioStandIn::start().await;
    // The first reminder goes out as SM…a1; the second one is refused with a 500 (it
    // never reached Twilio, whose list then shows only the first, created moments
    // before); the retry goes out as SM…b2.
    let text = "Reminder: your appointment is tomorrow at 9";
    twilio.then([
        Create::AcceptAs("SMa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"),
        Create::Refuse(500),
        Create::AcceptAs("SMb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"),
    ]);
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    let mut sids = Vec::new();
    for _ in 0..2 {
        let message = app.send_sms(&chat.org.token, &chat.contact_id, text).await;
        let seen = tab
            .statuses_until(message["id"].as_str().unwrap(), |data| {
                data["external_id"].is_string()
            })
            .await;
        sids.push(seen.last().unwrap()["external_id"].clone());
    }
    assert_eq!(
        sids,
        [
            "SMa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
            "SMb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
        ]
    );
    assert!(
        twilio.list_requests() > 0,
        "the lost answer was looked for in Twilio's list"
    );
    assert_eq!(twilio.create_requests(), 3);
}

#[actix_web::test]
async fn a_message_is_not_sent_again_while_twilio_cannot_say_whether_it_has_it() {
    let twilio = TwilioStandIn::start().await;
    // Twilio created the message but the answer was lost; then its list of messages is
    // unavailable once before it answers.
    twilio.then([Create::KeepButAnswer500]).fail_next_lists(1);
    let carrier_id = carrier_id_of_a_send(&twilio, "Your forms are ready to sign").await;
    assert_eq!(
        twilio.create_requests(),
        1,
        "the failed look-up did not lead to a second send"
    );
    assert_eq!(
        twilio.list_requests(),
        2,
        "asked again after the failed look-up"
    );
    assert_eq!(carrier_id, twilio.sent()[0].sid);
}

#[actix_web::test]
async fn a_send_twilio_never_takes_fails_after_the_last_attempt() {
    let twilio = TwilioStandIn::start().await;
    twilio.always(Create::Refuse(503));
    let (app, chat) =
        TestApp::clinic_with_twilio(&twilio, |settings| settings.delivery.delivery_attempts = 3)
            .await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    let id = app
        .send_sms(&chat.org.token, &chat.contact_id, "Doomed")
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let seen = tab
        .statuses_until(&id, |data| data["status"] == "failed")
        .await;
    let failed = seen.last().unwrap();
    assert_eq!(failed["error_code"], "delivery_failed");
    assert!(
        failed["error_message"]
            .as_str()
            .unwrap()
            .contains("3 attempts"),
        "{failed}"
    );
    assert_eq!(twilio.create_requests(), 3);
}

/// A clinic whose Twilio refuses every send with `code`, and the last status event of a
/// send it refused.
async fn refused_send(
    code: u32,
    reason: &'static str,
) -> (TwilioStandIn, TestApp, Conversation, Value) {
    let twilio = TwilioStandIn::start().await;
    twilio.always(Create::Reject(code, reason));
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    let id = app.send_sms(&chat.org.token, &chat.contact_id, "Hi").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let seen = tab
        .statuses_until(&id, |data| data["status"] == "failed")
        .await;
    let last = seen.last().unwrap().clone();
    (twilio, app, chat, last)
}

#[actix_web::test]
async fn twilio_refusals_fail_at_once_with_a_readable_reason() {
    let (twilio, _app, _chat, failed) = refused_send(21211, "Invalid 'To' Phone Number").await;
    assert_eq!(failed["error_code"], "21211");
    assert_eq!(
        failed["error_message"],
        "the 'To' number is not a valid phone number"
    );
    assert_eq!(twilio.create_requests(), 1, "a refusal is not retried");
}

#[actix_web::test]
async fn a_send_twilio_refuses_as_opted_out_blocks_later_sends() {
    let (twilio, app, chat, failed) =
        refused_send(21610, "Attempt to send to unsubscribed recipient").await;
    assert_eq!(failed["error_code"], "21610");

    let (status, body) = app
        .try_send_sms(&chat.org.token, &chat.contact_id, "Still there?")
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    assert_eq!(
        twilio.create_requests(),
        1,
        "the refused send never reaches Twilio"
    );
}

/// A message as a server that stopped left it: `status` (queued, or sending without a
/// carrier id), last touched `age` ago.
async fn left_behind(
    app: &TestApp,
    chat: &Conversation,
    status: &'static str,
    body: &str,
    age: &str,
) -> MessageId {
    let (_, contact) = app
        .get(
            &format!("/api/contacts/{}", chat.contact_id),
            &chat.org.token,
        )
        .await;
    let id = MessageId::generate();
    let mut conn = app.pool.get().await.unwrap();
    messages::insert(
        &mut conn,
        &MessageInsertForm {
            id,
            organization_id: OrganizationId(chat.org.id.parse().unwrap()),
            contact_id: ContactId(chat.contact_id.parse().unwrap()),
            phone_number_id: Some(PhoneNumberId(chat.phone_number_id.parse().unwrap())),
            email_address_id: None,
            contact_method_id: Some(ContactMethodId(
                contact["phones"][0]["id"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
            )),
            channel: Channel::Sms,
            direction: Direction::Outbound,
            body: body.into(),
            subject: None,
            from_address: Some(CLINIC_NUMBER.into()),
            to_address: Some(CONTACT_NUMBER.into()),
            status: MessageStatus::parse(status).expect("a message status"),
            source: "operator",
            ai_origin: None,
            external_id: None,
            client_id: None,
            private: false,
            sender_user_id: None,
        },
    )
    .await
    .unwrap();
    diesel::sql_query(format!(
        "UPDATE messages SET updated_at = now() - interval '{age}' WHERE id = '{id}'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    id
}

#[actix_web::test]
async fn messages_left_queued_by_a_stopped_server_are_sent_once() {
    let twilio = TwilioStandIn::start().await;
    let (app, chat) =
        TestApp::clinic_with_twilio(&twilio, |settings| settings.delivery.outbox_sweep_secs = 1)
            .await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    // Accepted by a server that stopped before handing it to delivery.
    let id = left_behind(&app, &chat, "queued", "Sent after the restart", "1 minute").await;

    let seen = tab
        .statuses_until(&id.to_string(), |data| data["external_id"].is_string())
        .await;
    let sent = twilio.sent();
    assert_eq!(twilio.create_requests(), 1);
    assert_eq!(seen.last().unwrap()["external_id"], sent[0].sid.as_str());
    assert_eq!(sent[0].body, "Sent after the restart");
}

#[actix_web::test]
async fn a_send_cut_short_by_a_stopped_server_is_reconciled_then_sent_once() {
    let twilio = TwilioStandIn::start().await;
    // Twilio has one of the two: the stopped server got that far with it.
    let reached_sid = twilio.already_has(
        CONTACT_NUMBER,
        CLINIC_NUMBER,
        "Reached Twilio before the crash",
    );
    let (app, chat) =
        TestApp::clinic_with_twilio(&twilio, |settings| settings.delivery.outbox_sweep_secs = 1)
            .await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    let reached = left_behind(
        &app,
        &chat,
        "sending",
        "Reached Twilio before the crash",
        "20 minutes",
    )
    .await;
    let lost = left_behind(&app, &chat, "sending", "Never reached Twilio", "20 minutes").await;
    // A live send is not taken over.
    let live = left_behind(&app, &chat, "sending", "Being sent right now", "1 second").await;

    // The two are taken over concurrently: their carrier ids arrive in either order.
    let mut carrier_ids = std::collections::HashMap::new();
    while carrier_ids.len() < 2 {
        let frame = tab.next().await;
        let data = &frame["data"];
        let ours = [reached.to_string(), lost.to_string()]
            .contains(&data["id"].as_str().unwrap_or_default().to_string());
        if frame["type"] == "messaging.message.status" && ours && data["external_id"].is_string() {
            carrier_ids.insert(
                data["id"].as_str().unwrap().to_string(),
                data["external_id"].clone(),
            );
        }
    }
    let sent = twilio.sent();
    assert_eq!(
        carrier_ids[&reached.to_string()],
        reached_sid.as_str(),
        "adopted from Twilio's list"
    );
    assert_eq!(
        twilio.create_requests(),
        1,
        "only the lost one was sent again"
    );
    assert_eq!(sent[0].body, "Never reached Twilio");
    assert_eq!(
        carrier_ids[&lost.to_string()],
        sent[0].sid.as_str(),
        "sent again"
    );
    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            &chat.org.token,
        )
        .await;
    let live = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == live.to_string())
        .unwrap()
        .clone();
    assert_eq!(
        live["external_id"],
        Value::Null,
        "the live send was left to its own server"
    );
}
