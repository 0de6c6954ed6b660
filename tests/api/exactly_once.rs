//! The ways a message could still reach the carrier twice, tried against a Twilio
//! stand-in that behaves as Twilio does on a bad day: answers that stall past the
//! timeout, callbacks that overtake the answer, a route so busy that the stalled message
//! is off the first page of Twilio's list, a list that lags or cannot be read, and
//! callbacks that never come.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard::config::Settings;

use crate::helpers::{assert_error, poll_until, Conversation, TestApp, WsClient};
use crate::twilio_standin::{Create, TwilioStandIn};

/// Past the server's Twilio timeout (1 s in these tests): an answer that stalls this long
/// is lost to the server, and its retry comes while the stand-in still holds it.
const STALL: Duration = Duration::from_secs(3);

/// Asserts that the stand-in is asked to create nothing more than `expected` messages
/// over `window`: the span in which a server that got it wrong would send again (its
/// timeout has passed and its retries follow at once). An absence can only be observed
/// over a span of time; nothing else is waited for this way.
async fn no_more_sends_than(twilio: &TwilioStandIn, expected: usize, window: Duration) {
    let until = Instant::now() + window;
    while Instant::now() < until {
        assert_eq!(twilio.sent().len(), expected, "{:#?}", twilio.sent());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A clinic sending through the stand-in (with a 1 s timeout, and `change` made to its
/// settings), and an operator's tab on its conversation.
struct Watched {
    app: TestApp,
    chat: Conversation,
    tab: WsClient,
}

impl Watched {
    async fn start(twilio: &TwilioStandIn, change: impl FnOnce(&mut Settings)) -> Watched {
        let (app, chat) = TestApp::clinic_with_twilio(twilio, |settings| {
            settings.delivery.twilio_timeout_secs = 1;
            change(settings);
        })
        .await;
        let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
        tab.subscribe(&chat.contact_id).await;
        Watched { app, chat, tab }
    }
}

/// The message as the conversation's history shows it.
async fn stored(app: &TestApp, chat: &Conversation, id: &str) -> Value {
    app.history(chat)
        .await
        .into_iter()
        .find(|message| message["id"] == id)
        .unwrap_or_else(|| panic!("message {id} is in the history"))
}

#[actix_web::test]
async fn a_stalled_send_buried_under_sixty_newer_messages_is_found_not_sent_again() {
    let twilio = TwilioStandIn::start().await;
    twilio.then([Create::Stall(STALL).buried_under(60)]);
    let Watched { app, chat, mut tab } = Watched::start(&twilio, |_| {}).await;

    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "Your refill is ready")
        .await;
    let id = message["id"].as_str().unwrap();
    let seen = tab
        .statuses_until(id, |data| data["external_id"].is_string())
        .await;
    let sent = twilio.sent();
    assert_eq!(sent.len(), 1, "sent once: {sent:#?}");
    assert_eq!(
        seen.last().unwrap()["external_id"],
        sent[0].sid.as_str(),
        "adopted from the list's second page"
    );
}

#[actix_web::test]
async fn a_send_whose_callback_named_it_before_the_answer_timed_out_is_not_sent_again() {
    let twilio = TwilioStandIn::start().await;
    // The list lags behind (as Twilio's may): only the callback says Twilio has it.
    twilio
        .then([Create::CallBackThenStall("sent", STALL)])
        .lag_list(Duration::from_secs(600));
    let Watched { app, chat, mut tab } = Watched::start(&twilio, |_| {}).await;

    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "See you Tuesday")
        .await;
    let id = message["id"].as_str().unwrap();
    let seen = tab
        .statuses_until(id, |data| data["external_id"].is_string())
        .await;
    let sid = twilio.sent()[0].sid.clone();
    assert_eq!(seen.last().unwrap()["external_id"], sid.as_str());
    no_more_sends_than(&twilio, 1, STALL).await;

    let stored = stored(&app, &chat, id).await;
    assert_eq!(stored["status"], "sent", "{stored}");
    assert_eq!(stored["external_id"], sid.as_str());
}

#[actix_web::test]
async fn a_delivered_message_stays_delivered_when_the_list_cannot_be_read_and_retry_sends_nothing()
{
    let twilio = TwilioStandIn::start().await;
    twilio
        .then([Create::CallBackThenStall("delivered", STALL)])
        .fail_list(true);
    let Watched { app, chat, mut tab } = Watched::start(&twilio, |settings| {
        settings.delivery.delivery_attempts = 2;
    })
    .await;

    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "Your forms are on file")
        .await;
    let id = message["id"].as_str().unwrap();
    tab.statuses_until(id, |data| data["status"] == "delivered")
        .await;
    no_more_sends_than(&twilio, 1, STALL).await;
    let later: Vec<_> = tab
        .drain()
        .await
        .into_iter()
        .filter(|frame| frame["type"] == "messaging.message.status")
        .collect();
    assert!(later.is_empty(), "nothing moved it on: {later:?}");

    let stored = stored(&app, &chat, id).await;
    assert_eq!(stored["status"], "delivered", "{stored}");
    let (status, body) = app
        .post(
            &format!("/api/messages/{id}/retry"),
            &chat.org.token,
            json!({}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    assert_eq!(twilio.sent().len(), 1, "Retry sent nothing");
}

#[actix_web::test]
async fn retrying_a_send_delivery_gave_up_on_adopts_the_one_twilio_has() {
    let twilio = TwilioStandIn::start().await;
    // Twilio takes the message but its answer is lost, and its list cannot be read for
    // as long as delivery tries: the message fails without anyone knowing it went out.
    twilio.then([Create::Stall(STALL)]).fail_list(true);
    let Watched { app, chat, mut tab } = Watched::start(&twilio, |settings| {
        settings.delivery.delivery_attempts = 2;
    })
    .await;

    let message = app
        .send_sms(
            &chat.org.token,
            &chat.contact_id,
            "Bring your insurance card",
        )
        .await;
    let id = message["id"].as_str().unwrap();
    let failed = tab
        .statuses_until(id, |data| data["status"] == "failed")
        .await;
    assert_eq!(failed.last().unwrap()["error_code"], "delivery_failed");

    twilio.fail_list(false);
    let (status, body) = app
        .post(
            &format!("/api/messages/{id}/retry"),
            &chat.org.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen = tab
        .statuses_until(id, |data| data["external_id"].is_string())
        .await;
    let sent = twilio.sent();
    assert_eq!(sent.len(), 1, "the retry asked Twilio first: {sent:#?}");
    assert_eq!(seen.last().unwrap()["external_id"], sent[0].sid.as_str());
}

#[actix_web::test]
async fn a_message_whose_callbacks_were_lost_gets_its_final_status_by_asking_twilio() {
    let twilio = TwilioStandIn::start().await;
    let Watched { app, chat, mut tab } = Watched::start(&twilio, |settings| {
        settings.delivery.status_check_after_secs = 1;
        settings.delivery.outbox_sweep_secs = 1;
    })
    .await;

    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "Reminder: flu shots")
        .await;
    let id = message["id"].as_str().unwrap();
    tab.statuses_until(id, |data| data["external_id"].is_string())
        .await;
    let sid = twilio.sent()[0].sid.clone();
    // Delivered, but its callback never arrives.
    twilio.set_status(&sid, "delivered");

    let seen = tab
        .statuses_until(id, |data| data["status"] == "delivered")
        .await;
    assert_eq!(seen.last().unwrap()["external_id"], sid.as_str());
    assert!(twilio.fetched().contains(&sid));
    let stored = stored(&app, &chat, id).await;
    assert_eq!(stored["status"], "delivered", "{stored}");
}

/// A bad hour at the carrier for a burst of sends: 429 bursts, 503s, answers lost as 500s
/// after the message was kept, and answers that stall past the timeout, mixed across 40
/// concurrent sends. Every message ends either with the one SID Twilio has for it or
/// failed with a reason and unknown to Twilio; none reaches Twilio twice.
#[actix_web::test]
async fn a_burst_through_refusals_lost_answers_and_stalls_ends_once_each() {
    const SENDS: usize = 40;
    let twilio = TwilioStandIn::start().await;
    let bad_hour = [
        Create::Refuse(429),
        Create::Refuse(429),
        Create::Accept,
        Create::KeepButAnswer500,
        Create::Refuse(503),
        Create::Stall(STALL),
        Create::Refuse(500),
        Create::Accept,
    ];
    twilio.then(bad_hour.iter().cycle().take(SENDS * 2).cloned());
    let Watched { app, chat, .. } = Watched::start(&twilio, |_| {}).await;
    let started = Instant::now();
    let sends = (0..SENDS).map(|n| {
        let (app, chat) = (&app, &chat);
        async move {
            app.send_sms(
                &chat.org.token,
                &chat.contact_id,
                &format!("Reminder {n} of the burst"),
            )
            .await
        }
    });
    let accepted = futures_util::future::join_all(sends).await;
    assert_eq!(accepted.len(), SENDS);

    let what = "every message settled: at the carrier, or failed with a reason";
    let history = poll_until(what, Duration::from_secs(90), || async {
        let history = app.history(&chat).await;
        let settled = history.iter().all(|message| {
            message["external_id"].is_string()
                || (message["status"] == "failed" && message["error_message"].is_string())
        });
        settled.then_some(history)
    })
    .await;
    let settled_after = started.elapsed();
    let at_twilio = twilio.sent();
    let mut failed = 0;
    for message in &history {
        let body = message["body"].as_str().unwrap();
        let copies: Vec<_> = at_twilio.iter().filter(|sent| sent.body == body).collect();
        assert!(
            copies.len() <= 1,
            "{body} reached Twilio twice: {copies:#?}"
        );
        match copies.first() {
            Some(sent) => assert_eq!(message["external_id"], sent.sid.as_str(), "{message}"),
            None => {
                assert_eq!(message["status"], "failed", "{message}");
                failed += 1;
            }
        }
    }
    assert_eq!(history.len(), SENDS);
    eprintln!(
        "carrier's bad hour: {SENDS} accepted, {} at Twilio once each, {failed} failed with \
         a reason, 0 duplicates, 0 lost, settled in {settled_after:.1?}",
        SENDS - failed
    );
}
