//! Calls: recorded by a telephony integration over the API or by Twilio's signed voice
//! status callbacks, broadcast to the contact's viewers, statuses only moving forward.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, form, Conversation, TestApp, WsClient, TWILIO_ACCOUNT, TWILIO_TOKEN,
};
use crate::twilio_standin::TwilioStandIn;

fn new_call(chat: &Conversation) -> Value {
    json!({
        "contact_id": chat.contact_id,
        "phone_number_id": chat.phone_number_id,
        "direction": "inbound",
        "from_number": "(415) 555-0111",
        "to_number": "+14155550100",
        "status": "ringing",
        "external_id": "CA00000000000000000000000000000001",
    })
}

async fn last_contacted_at(app: &TestApp, chat: &Conversation) -> Value {
    let (_, contact) = app
        .get(
            &format!("/api/contacts/{}", chat.contact_id),
            &chat.org.token,
        )
        .await;
    contact["last_contacted_at"].clone()
}

#[actix_web::test]
async fn a_call_is_recorded_broadcast_and_moved_forward_through_the_api() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    assert!(last_contacted_at(&app, &chat).await.is_null());

    let (status, call) = app
        .post("/api/calls", &chat.org.token, new_call(&chat))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    assert_eq!(call["from_number"], "+14155550111", "stored in E.164");
    assert_eq!(call["status"], "ringing");
    assert_eq!(call["direction"], "inbound");
    let id = call["id"].as_str().unwrap();
    let frames = tab.until("messaging.call.new", Some(id)).await;
    assert_eq!(
        frames.last().unwrap()["data"],
        call,
        "the event shows the call as the API does"
    );
    assert!(
        !last_contacted_at(&app, &chat).await.is_null(),
        "a call moves the contact list"
    );

    // The integration adds what was said after the call.
    let changes = json!({
        "status": "completed",
        "duration_seconds": 95,
        "transcription": "**Caller:** Can I move my appointment?",
        "analysis": "- intent: reschedule",
    });
    let (status, updated) = app
        .patch(&format!("/api/calls/{id}"), &chat.org.token, changes)
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["status"], "completed");
    assert_eq!(updated["duration_seconds"], 95);
    let frames = tab.until("messaging.call.updated", Some(id)).await;
    assert_eq!(frames.last().unwrap()["data"], updated);

    // Backwards is refused and changes nothing; other fields still change.
    let (status, body) = app
        .patch(
            &format!("/api/calls/{id}"),
            &chat.org.token,
            json!({"status": "ringing", "analysis": "overwritten"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (_, stored) = app.get(&format!("/api/calls/{id}"), &chat.org.token).await;
    assert_eq!(stored, updated, "a refused change writes nothing");
    let (status, body) = app
        .patch(
            &format!("/api/calls/{id}"),
            &chat.org.token,
            json!({"analysis": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["analysis"].is_null());
    assert_eq!(body["status"], "completed");
}

#[actix_web::test]
async fn bad_call_input_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let token = &chat.org.token;
    let with = |field: &str, value: Value| {
        let mut body = new_call(&chat);
        body[field] = value;
        body
    };
    let cases = [
        (
            with("direction", json!("sideways")),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "direction",
        ),
        (
            with("status", json!("exploded")),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "status",
        ),
        (
            with("started_at", json!("yesterday")),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "started_at",
        ),
        (
            with("surprise", json!(1)),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "surprise",
        ),
        (
            with("from_number", json!("12")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "from_number",
        ),
        (
            with("to_number", json!("nope")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "to_number",
        ),
        (
            with("duration_seconds", json!(-4)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "duration_seconds",
        ),
        (
            with("recording_url", json!("file:///etc/passwd")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "recording_url",
        ),
    ];
    for (body, status_expected, code, field) in cases {
        let (status, answer) = app.post("/api/calls", token, body).await;
        let error = assert_error(status, &answer, status_expected, code);
        assert!(
            error["field"].as_str().is_some_and(|f| f.contains(field)),
            "{field}: {answer}"
        );
    }
    let (status, call) = app.post("/api/calls", token, new_call(&chat)).await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let (status, body) = app.post("/api/calls", token, new_call(&chat)).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let id = call["id"].as_str().unwrap();
    for (change, field) in [
        (json!({"duration_seconds": "long"}), "duration_seconds"),
        (json!({"status": "paused"}), "status"),
        (json!({"recording_url": "not a url"}), "recording_url"),
    ] {
        let (status, body) = app.patch(&format!("/api/calls/{id}"), token, change).await;
        assert!(status.is_client_error(), "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let (_, list) = app
        .get(
            &format!("/api/contacts/{}/feed?filter=calls", chat.contact_id),
            token,
        )
        .await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "refused calls wrote nothing"
    );
}

#[actix_web::test]
async fn another_organisations_calls_contacts_and_lines_answer_404() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let other = app.conversation().await;
    let (_, call) = app
        .post("/api/calls", &chat.org.token, new_call(&chat))
        .await;
    let id = call["id"].as_str().unwrap();
    let missing = uuid::Uuid::now_v7();
    let theirs = &other.org.token;

    for target in [id.to_string(), missing.to_string()] {
        let (status, body) = app.get(&format!("/api/calls/{target}"), theirs).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = app
            .patch(
                &format!("/api/calls/{target}"),
                theirs,
                json!({"analysis": "mine now"}),
            )
            .await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    // Their own line with our contact, and our line with their contact.
    let mut body = new_call(&chat);
    body["phone_number_id"] = json!(other.phone_number_id);
    body["external_id"] = json!(null);
    let (status, answer) = app.post("/api/calls", theirs, body.clone()).await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
    body["contact_id"] = json!(other.contact_id);
    body["phone_number_id"] = json!(chat.phone_number_id);
    let (status, answer) = app.post("/api/calls", theirs, body).await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
    let (_, stored) = app.get(&format!("/api/calls/{id}"), &chat.org.token).await;
    assert_eq!(stored, call, "untouched");
}

/// A clinic with Twilio configured (the stand-in is never called: calls arrive by webhook).
async fn clinic() -> (TestApp, Conversation, TwilioStandIn) {
    let twilio = TwilioStandIn::start().await;
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    (app, chat, twilio)
}

fn voice(sid: &str, status: &str, from: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params = form(&[
        ("AccountSid", TWILIO_ACCOUNT),
        ("CallSid", sid),
        ("CallStatus", status),
        ("From", from),
        ("To", "+14155550100"),
        ("Direction", "inbound"),
    ]);
    params.extend(form(extra));
    params
}

async fn calls_of(app: &TestApp, token: &str, contact: &str) -> Vec<Value> {
    let (status, feed) = app
        .get(&format!("/api/contacts/{contact}/feed?filter=calls"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{feed}");
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["call"].clone())
        .collect()
}

#[actix_web::test]
async fn voice_callbacks_create_the_call_once_and_only_move_it_forward() {
    let (app, chat, _twilio) = clinic().await;
    let token = &chat.org.token;
    let mut tab = WsClient::connect_authenticated(&app, token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let path = "/webhooks/twilio/voice-status";
    let sid = "CA00000000000000000000000000000042";

    let (code, body) = app
        .post_signed(
            path,
            &voice(sid, "ringing", "+14155550111", &[]),
            TWILIO_TOKEN,
        )
        .await;
    assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    let frames = tab.until("messaging.call.new", None).await;
    let created = frames.last().unwrap()["data"].clone();
    assert_eq!(created["status"], "ringing");
    assert_eq!(created["external_id"], sid);
    assert_eq!(created["phone_number_id"], chat.phone_number_id.as_str());

    // Completed arrives before in-progress; the late one and a repeat change nothing.
    let completed = voice(
        sid,
        "completed",
        "+14155550111",
        &[
            ("CallDuration", "42"),
            ("RecordingUrl", "https://api.twilio.com/recordings/RE1"),
            ("Timestamp", "Fri, 04 Dec 2026 15:00:42 +0000"),
        ],
    );
    for params in [
        completed.clone(),
        voice(sid, "in-progress", "+14155550111", &[]),
        completed,
        voice(sid, "ringing", "+14155550111", &[]),
    ] {
        let (code, body) = app.post_signed(path, &params, TWILIO_TOKEN).await;
        assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    }
    let events: Vec<Value> = tab.drain().await;
    assert_eq!(events.len(), 1, "only the change is broadcast: {events:?}");
    assert_eq!(events[0]["type"], "messaging.call.updated");
    let calls = calls_of(&app, token, &chat.contact_id).await;
    assert_eq!(calls.len(), 1, "one call per CallSid: {calls:?}");
    let call = &calls[0];
    assert_eq!(call, &events[0]["data"]);
    assert_eq!(call["status"], "completed");
    assert_eq!(call["duration_seconds"], 42);
    assert_eq!(
        call["recording_url"],
        "https://api.twilio.com/recordings/RE1"
    );
    assert_eq!(
        call["started_at"], "2026-12-04T15:00:00Z",
        "answered 42 s before it ended"
    );
}

#[actix_web::test]
async fn a_call_from_a_new_number_creates_its_contact() {
    let (app, chat, _twilio) = clinic().await;
    let params = voice(
        "CA00000000000000000000000000000043",
        "in-progress",
        "+14155550177",
        &[],
    );
    let (code, body) = app
        .post_signed("/webhooks/twilio/voice-status", &params, TWILIO_TOKEN)
        .await;
    assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    let (_, list) = app.get("/api/contacts?search=0177", &chat.org.token).await;
    let contacts = list["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 1, "{list}");
    assert_eq!(contacts[0]["phones"][0]["phone_number"], "+14155550177");
    assert!(!contacts[0]["last_contacted_at"].is_null());
    let calls = calls_of(&app, &chat.org.token, contacts[0]["id"].as_str().unwrap()).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["status"], "in-progress");
}

#[actix_web::test]
async fn forged_and_unsigned_voice_callbacks_are_refused_and_change_nothing() {
    let (app, chat, _twilio) = clinic().await;
    let path = "/webhooks/twilio/voice-status";
    let params = voice(
        "CA00000000000000000000000000000044",
        "ringing",
        "+14155550177",
        &[],
    );
    let url = format!("{}{path}", app.address);
    let mut tampered = params.clone();
    tampered[3].1 = "+14155550188".into();
    let signed_original = switchboard::twilio::signature::sign(TWILIO_TOKEN, &url, &params);
    for (status, body) in [
        app.post_webhook(path, &params, None).await,
        app.post_signed(path, &params, "not-the-token").await,
        app.post_webhook(path, &tampered, Some(&signed_original))
            .await,
    ] {
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let (_, list) = app.get("/api/contacts", &chat.org.token).await;
    assert_eq!(
        list["contacts"].as_array().unwrap().len(),
        1,
        "no contact was created"
    );
    assert!(calls_of(&app, &chat.org.token, &chat.contact_id)
        .await
        .is_empty());

    // Signed but missing what a voice callback carries.
    let incomplete = form(&[("AccountSid", TWILIO_ACCOUNT), ("CallSid", "CA1")]);
    let (status, body) = app.post_signed(path, &incomplete, TWILIO_TOKEN).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_webhook");
}

#[actix_web::test]
async fn an_outbound_call_belongs_to_the_number_called_and_unknown_lines_are_acknowledged() {
    let (app, chat, _twilio) = clinic().await;
    let token = &chat.org.token;
    let outbound = form(&[
        ("AccountSid", TWILIO_ACCOUNT),
        ("CallSid", "CA00000000000000000000000000000045"),
        ("CallStatus", "initiated"),
        ("From", "+14155550100"),
        ("To", "+14155550111"),
        ("Direction", "outbound-api"),
    ]);
    let path = "/webhooks/twilio/voice-status";
    let (code, body) = app.post_signed(path, &outbound, TWILIO_TOKEN).await;
    assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    let calls = calls_of(&app, token, &chat.contact_id).await;
    assert_eq!(calls.len(), 1, "Maria's call: {calls:?}");
    assert_eq!(calls[0]["direction"], "outbound");
    assert_eq!(calls[0]["status"], "queued", "Twilio's `initiated`");

    // A call to a line no organisation has: acknowledged, nothing recorded.
    let mut elsewhere = voice(
        "CA00000000000000000000000000000046",
        "ringing",
        "+14155550111",
        &[],
    );
    elsewhere[4].1 = "+14155550999".into();
    let (code, body) = app.post_signed(path, &elsewhere, TWILIO_TOKEN).await;
    assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(calls_of(&app, token, &chat.contact_id).await.len(), 1);
    let (_, list) = app.get("/api/contacts", token).await;
    assert_eq!(list["contacts"].as_array().unwrap().len(), 1);
}

/// Below the API, the database refuses calls and drafts that point at another
/// organisation's contact, line or operator.
#[actix_web::test]
async fn the_database_refuses_calls_and_drafts_across_organisations() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let ours = app.conversation().await;
    let theirs = app.conversation().await;
    let mut conn = app.pool.get().await.unwrap();
    let call = |contact: &str, line: &str| {
        format!(
            "INSERT INTO calls (id, organization_id, contact_id, phone_number_id, direction, from_number, to_number, status) \
             VALUES ('{}', '{}', '{contact}', '{line}', 'inbound', '+14155550111', '+14155550100', 'ringing')",
            uuid::Uuid::now_v7(),
            ours.org.id,
        )
    };
    for (statement, what) in [
        (
            call(&theirs.contact_id, &ours.phone_number_id),
            "their contact",
        ),
        (
            call(&ours.contact_id, &theirs.phone_number_id),
            "their line",
        ),
    ] {
        let refused = diesel::sql_query(statement).execute(&mut conn).await;
        assert!(refused.is_err(), "a call naming {what}");
    }
    #[derive(diesel::QueryableByName)]
    struct Operator {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let their_admin: Operator = diesel::sql_query(format!(
        "SELECT id::text AS id FROM users WHERE organization_id = '{}'",
        theirs.org.id
    ))
    .get_result(&mut conn)
    .await
    .unwrap();
    let draft = diesel::sql_query(format!(
        "INSERT INTO drafts (organization_id, user_id, contact_id, channel, body) \
         VALUES ('{}', '{}', '{}', 'sms', 'x')",
        ours.org.id, their_admin.id, ours.contact_id
    ))
    .execute(&mut conn)
    .await;
    assert!(draft.is_err(), "a draft of another organisation's operator");
    let (status, _) = app
        .post("/api/calls", &ours.org.token, new_call(&ours))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the same call within one organisation is fine"
    );
}
