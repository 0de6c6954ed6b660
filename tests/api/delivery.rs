//! Sending through Twilio, played by an HTTP server in the test (wiremock): the request
//! Twilio receives, retries, reconciliation, failures, and the outbox after a restart.

use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard::config::Settings;
use switchboard::db::ids::{ContactId, ContactMethodId, MessageId, OrganizationId, PhoneNumberId};
use switchboard::db::message_fields::{Channel, Direction, MessageStatus};
use switchboard::db::messages::{self, MessageInsertForm};
use switchboard::twilio::signature;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{
    assert_error, status_callback, Conversation, TestApp, WsClient, TWILIO_ACCOUNT, TWILIO_TOKEN,
};

const MESSAGES_PATH: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";

fn created(sid: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"sid": sid, "status": "queued"}))
}

async fn posts(twilio: &MockServer) -> Vec<Request> {
    twilio
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|request| request.method.as_str() == "POST")
        .collect()
}

/// Twilio's list of messages (what reconciling reads) holds one, created just now.
async fn twilio_lists_one_sent_now(twilio: &MockServer, sid: &str, body: &str) {
    Mock::given(method("GET"))
        .and(path(MESSAGES_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"messages": [
                {"sid": sid, "body": body, "date_created": chrono::Utc::now().to_rfc2822()}
            ]})),
        )
        .mount(twilio)
        .await;
}

/// The value of one field of a form-encoded request to the stand-in.
fn form_field(request: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(&request.body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Sends an SMS from a clinic using `twilio` and waits until its carrier id is recorded;
/// answers that id.
async fn carrier_id_of_a_send(twilio: &MockServer, body: &str) -> String {
    carrier_id_of_a_send_with(twilio, body, |_| {}).await
}

/// As [`carrier_id_of_a_send`], from a server with `change` made to its settings.
async fn carrier_id_of_a_send_with(
    twilio: &MockServer,
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
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(created("SM11111111111111111111111111111111"))
        .mount(&twilio)
        .await;
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

    let requests = posts(&twilio).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let auth = request
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(auth.starts_with("Basic "), "{auth}");
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&auth[6..])
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        format!("{TWILIO_ACCOUNT}:{TWILIO_TOKEN}")
    );
    let field = |name: &str| form_field(request, name);
    assert_eq!(field("To").as_deref(), Some("+14155550111"));
    assert_eq!(field("From").as_deref(), Some("+14155550100"));
    assert_eq!(field("Body").as_deref(), Some("Hello + welcome & thanks"));
    assert_eq!(
        field("MessagingServiceSid"),
        None,
        "the clinic has no service"
    );
    assert_eq!(
        field("StatusCallback"),
        Some(format!(
            "{}/webhooks/twilio/status?message_id={id}&contact_id={}",
            app.address, chat.contact_id
        ))
    );
}

#[actix_web::test]
async fn sends_belong_to_the_organisations_messaging_service_and_keep_their_number() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(created("SM12121212121212121212121212121212"))
        .mount(&twilio)
        .await;
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
    let requests = posts(&twilio).await;
    assert_eq!(requests.len(), 1);
    let field = |name: &str| form_field(&requests[0], name);
    assert_eq!(field("MessagingServiceSid").as_deref(), Some(service));
    assert_eq!(
        field("From").as_deref(),
        Some("+14155550100"),
        "the conversation's number"
    );
}

#[actix_web::test]
async fn a_retried_message_follows_its_new_twilio_id() {
    let (twilio, _arrivals, app, chat, mut tab) = paced_clinic(1000.0).await;
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
    assert_eq!(
        posts(&twilio).await.len(),
        2,
        "sent twice: once per attempt"
    );
}

/// Twilio calling back before its answer to the send arrives (it can): the stand-in
/// posts a signed `sent` callback to the message's `StatusCallback` URL and answers the
/// send only once that callback has been answered.
struct CallsBackFirst {
    sid: &'static str,
}

impl Respond for CallsBackFirst {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let callback =
            form_field(request, "StatusCallback").expect("the send names its StatusCallback");
        let params = status_callback(self.sid, "sent");
        let signed = signature::sign(TWILIO_TOKEN, &callback, &params);
        // The stand-in answers from its own thread: the callback goes out from another
        // and is waited for.
        let answered = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let response = reqwest::Client::new()
                    .post(&callback)
                    .header("X-Twilio-Signature", signed)
                    .form(&params)
                    .send()
                    .await
                    .unwrap();
                response.status()
            })
        })
        .join()
        .unwrap();
        match answered {
            StatusCode::NO_CONTENT => created(self.sid),
            other => ResponseTemplate::new(500).set_body_string(format!("callback got {other}")),
        }
    }
}

#[actix_web::test]
async fn a_status_callback_that_overtakes_the_send_answer_is_kept() {
    let twilio = MockServer::start().await;
    let sid = "SM99999999999999999999999999999999";
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(CallsBackFirst { sid })
        .mount(&twilio)
        .await;
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
    let standing = seen.last().unwrap();
    assert_eq!(standing["status"], "sent", "{seen:?}");
    assert_eq!(standing["external_id"], sid);

    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            &chat.org.token,
        )
        .await;
    let stored = history["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(stored["status"], "sent", "{stored}");
    assert_eq!(stored["external_id"], sid);
    assert_eq!(posts(&twilio).await.len(), 1);
}

#[actix_web::test]
async fn a_rate_limited_send_is_retried_and_sent_once() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"code": 20429, "message": "Too Many Requests"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(created("SM22222222222222222222222222222222"))
        .with_priority(2)
        .mount(&twilio)
        .await;
    assert_eq!(
        carrier_id_of_a_send(&twilio, "Reminder").await,
        "SM22222222222222222222222222222222"
    );
    assert_eq!(posts(&twilio).await.len(), 2, "one refused, one accepted");
}

/// Twilio's answer with a fresh SID each time, noting when each request arrived.
#[derive(Clone, Default)]
struct TimedSids(std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>);

impl wiremock::Respond for TimedSids {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut arrivals = self.0.lock().unwrap();
        arrivals.push(std::time::Instant::now());
        created(&format!("SM{:032x}", arrivals.len()))
    }
}

/// A clinic whose sends from one number are paced at `per_second`, with a Twilio stand-in
/// noting when each send arrived and a tab subscribed to its contact.
async fn paced_clinic(per_second: f64) -> (MockServer, TimedSids, TestApp, Conversation, WsClient) {
    let twilio = MockServer::start().await;
    let arrivals = TimedSids::default();
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(arrivals.clone())
        .mount(&twilio)
        .await;
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |settings| {
        settings.sends_per_second_per_number = per_second
    })
    .await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    (twilio, arrivals, app, chat, tab)
}

#[actix_web::test]
async fn sends_from_one_number_are_paced() {
    let (_twilio, arrivals, app, chat, mut tab) = paced_clinic(10.0).await;

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
    let arrivals = arrivals.0.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 4, "each message sent once");
    let span = arrivals[3] - arrivals[0];
    assert!(
        span >= std::time::Duration::from_millis(200),
        "four sends from one number at 10/s took only {span:?}"
    );
}

#[actix_web::test]
async fn a_send_that_must_wait_for_its_turn_stays_queued_until_then() {
    // One send every four seconds: far more than the moment between the two sends,
    // however busy the machine running the tests.
    let (_twilio, arrivals, app, chat, mut tab) = paced_clinic(0.25).await;

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
    assert_eq!(arrivals.0.lock().unwrap().len(), 2, "each sent once");
}

#[actix_web::test]
async fn an_ambiguous_failure_is_reconciled_instead_of_sent_twice() {
    let twilio = MockServer::start().await;
    // Twilio created the message but the answer was lost (a 500 here).
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(500))
        .mount(&twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(MESSAGES_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"messages": [
                {"sid": "SM99999999999999999999999999999999", "body": "Someone else's message"},
                {"sid": "SM33333333333333333333333333333333", "body": "Your forms are ready to sign"}
            ]})),
        )
        .mount(&twilio)
        .await;
    assert_eq!(
        carrier_id_of_a_send(&twilio, "Your forms are ready to sign").await,
        "SM33333333333333333333333333333333"
    );
    assert_eq!(
        posts(&twilio).await.len(),
        1,
        "Twilio already had it: not sent again"
    );
}

#[actix_web::test]
async fn a_send_whose_answer_comes_too_late_is_reconciled_instead_of_sent_twice() {
    let twilio = MockServer::start().await;
    // Twilio takes the message, but answers after the server has stopped waiting.
    let text = "Your prescription is ready for pickup";
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(
            created("SM55555555555555555555555555555555")
                .set_delay(std::time::Duration::from_secs(4)),
        )
        .mount(&twilio)
        .await;
    twilio_lists_one_sent_now(&twilio, "SM55555555555555555555555555555555", text).await;
    assert_eq!(
        carrier_id_of_a_send_with(&twilio, text, |settings| settings.twilio_timeout_secs = 1).await,
        "SM55555555555555555555555555555555",
        "adopted from Twilio's list"
    );
    let asked = twilio.received_requests().await.unwrap();
    assert!(
        asked.iter().any(|request| request.method.as_str() == "GET"),
        "the server stopped waiting and asked Twilio's list"
    );
    assert_eq!(posts(&twilio).await.len(), 1, "not sent again");
}

#[actix_web::test]
async fn reconciling_never_adopts_an_earlier_message_with_the_same_text() {
    let twilio = MockServer::start().await;
    // The first reminder goes out as SM…a1; the second one's answer is lost (a 500), and
    // Twilio's list then shows only the first (the second never reached it); the retry
    // goes out as SM…b2.
    let text = "Reminder: your appointment is tomorrow at 9";
    for answer in [
        created("SMa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"),
        ResponseTemplate::new(500),
        created("SMb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"),
    ] {
        Mock::given(method("POST"))
            .and(path(MESSAGES_PATH))
            .respond_with(answer)
            .up_to_n_times(1)
            .mount(&twilio)
            .await;
    }
    twilio_lists_one_sent_now(&twilio, "SMa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", text).await;
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
    assert_eq!(posts(&twilio).await.len(), 3);
}

#[actix_web::test]
async fn a_message_is_not_sent_again_while_twilio_cannot_say_whether_it_has_it() {
    let twilio = MockServer::start().await;
    // Twilio created the message but the answer was lost; then its list of messages is
    // unavailable once before it answers.
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(500))
        .mount(&twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(MESSAGES_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"messages": [
                {"sid": "SM34343434343434343434343434343434", "body": "Your forms are ready to sign"}
            ]})),
        )
        .with_priority(2)
        .mount(&twilio)
        .await;
    assert_eq!(
        carrier_id_of_a_send(&twilio, "Your forms are ready to sign").await,
        "SM34343434343434343434343434343434"
    );
    assert_eq!(
        posts(&twilio).await.len(),
        1,
        "the failed look-up did not lead to a second send"
    );
}

#[actix_web::test]
async fn a_send_twilio_never_takes_fails_after_the_last_attempt() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": []})))
        .mount(&twilio)
        .await;
    let (app, chat) =
        TestApp::clinic_with_twilio(&twilio, |settings| settings.delivery_attempts = 3).await;
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
    assert_eq!(posts(&twilio).await.len(), 3);
}

/// A clinic whose Twilio refuses every send with `code`, and the last status event of a
/// send it refused.
async fn refused_send(code: u32, reason: &str) -> (MockServer, TestApp, Conversation, Value) {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": code, "message": reason, "status": 400})),
        )
        .mount(&twilio)
        .await;
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
    assert_eq!(posts(&twilio).await.len(), 1, "a refusal is not retried");
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
        posts(&twilio).await.len(),
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
            from_address: Some("+14155550100".into()),
            to_address: Some("+14155550111".into()),
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
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(created("SM44444444444444444444444444444444"))
        .mount(&twilio)
        .await;
    let (app, chat) =
        TestApp::clinic_with_twilio(&twilio, |settings| settings.outbox_sweep_secs = 1).await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    // Accepted by a server that stopped before handing it to delivery.
    let id = left_behind(&app, &chat, "queued", "Sent after the restart", "1 minute").await;

    let seen = tab
        .statuses_until(&id.to_string(), |data| data["external_id"].is_string())
        .await;
    assert_eq!(
        seen.last().unwrap()["external_id"],
        "SM44444444444444444444444444444444"
    );
    assert_eq!(posts(&twilio).await.len(), 1);
}

#[actix_web::test]
async fn a_send_cut_short_by_a_stopped_server_is_reconciled_then_sent_once() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(created("SM77777777777777777777777777777777"))
        .mount(&twilio)
        .await;
    // Twilio has one of the two: the stopped server got that far with it.
    Mock::given(method("GET"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": [
            {"sid": "SM88888888888888888888888888888888", "body": "Reached Twilio before the crash"}
        ]})))
        .mount(&twilio)
        .await;
    let (app, chat) =
        TestApp::clinic_with_twilio(&twilio, |settings| settings.outbox_sweep_secs = 1).await;
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
    assert_eq!(
        carrier_ids[&reached.to_string()],
        "SM88888888888888888888888888888888",
        "adopted from Twilio's list"
    );
    assert_eq!(
        carrier_ids[&lost.to_string()],
        "SM77777777777777777777777777777777",
        "sent again"
    );
    assert_eq!(
        posts(&twilio).await.len(),
        1,
        "only the lost one was sent again"
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
