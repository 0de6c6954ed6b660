//! Scheduled messages: on time and once, across a restart and two servers on one
//! database; canceled, edited, canceled by a reply, failed when the recipient opted
//! out, held through quiet hours; and refused when the send would be.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use switchboard::db::run_locks::RunKey;

use crate::attachments::clinic_with_twilio;
use crate::helpers::{
    assert_error, form, poll_until, Conversation, TestApp, WsClient, TWILIO_ACCOUNT, TWILIO_TOKEN,
};
use crate::nodes::Node;
use crate::twilio_standin::TwilioStandIn;

/// How long a test waits for the scheduler (a bound on failure, not a synchronisation).
const DEADLINE: Duration = Duration::from_secs(20);

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn in_ms(ms: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::milliseconds(ms)
}

fn parse_time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .expect("a timestamp")
        .parse()
        .expect("RFC 3339")
}

/// Schedules an SMS to the conversation's contact, asserting success.
async fn schedule(app: &TestApp, chat: &Conversation, body: &str, send_at: DateTime<Utc>) -> Value {
    schedule_with(
        app,
        chat,
        json!({"body": body, "send_at": rfc3339(send_at)}),
    )
    .await
}

async fn schedule_with(app: &TestApp, chat: &Conversation, fields: Value) -> Value {
    let mut request = json!({"contact_id": chat.contact_id, "channel": "sms"});
    for (key, value) in fields.as_object().unwrap() {
        request[key] = value.clone();
    }
    let (status, row) = app
        .post("/api/scheduled-messages", &chat.org.token, request)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(row["status"], "pending");
    row
}

/// Polls the row until it has left `pending` (and `firing`), failing after `DEADLINE`.
async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    let what = format!("scheduled message {id} leaves pending and firing");
    poll_until(&what, DEADLINE, || async {
        let (status, row) = app
            .get(&format!("/api/scheduled-messages/{id}"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{row}");
        (row["status"] != "pending" && row["status"] != "firing").then_some(row)
    })
    .await
}

/// The contact's conversation, oldest first.
async fn conversation(app: &TestApp, chat: &Conversation) -> Vec<Value> {
    let (status, page) = app
        .get(
            &format!("/api/messages?contact_id={}&limit=200", chat.contact_id),
            &chat.org.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["messages"].as_array().unwrap().clone()
}

async fn scheduled_list(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, list) = app
        .get(&format!("/api/scheduled-messages?{query}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["scheduled_messages"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn a_scheduled_message_fires_on_time_once_and_joins_the_conversation() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    tab.send(json!({"type": "subscribe_org"})).await;
    assert_eq!(tab.next().await["type"], "subscribed");

    let send_at = in_ms(1000);
    let row = schedule(&app, &chat, "Your appointment is tomorrow at 9", send_at).await;
    let id = row["id"].as_str().unwrap();
    assert_eq!(parse_time(&row["send_at"]), send_at.trunc_subsecs_ms());

    let frames = tab.until("messaging.scheduled.fired", Some(id)).await;
    let fired = frames.last().unwrap();
    let kinds: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
    assert!(kinds.contains(&"messaging.scheduled.created"), "{kinds:?}");
    assert!(kinds.contains(&"messaging.message.new"), "{kinds:?}");
    let message_id = fired["data"]["message_id"].as_str().unwrap().to_string();
    // The organisation's subscribers (the operator queue) hear of it too.
    tab.until("messaging.scheduled.fired", Some(id)).await;

    let row = settled(&app, &chat.org.token, id).await;
    assert_eq!(row["status"], "sent");
    assert_eq!(row["message_id"], message_id);
    let fired_at = parse_time(&row["fired_at"]);
    assert!(
        fired_at >= send_at.trunc_subsecs_ms(),
        "not before its time"
    );
    assert!(
        fired_at - send_at < chrono::Duration::seconds(1),
        "within a second of send_at: {fired_at} for {send_at}"
    );

    let messages = conversation(&app, &chat).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["id"], message_id);
    assert_eq!(messages[0]["body"], "Your appointment is tomorrow at 9");
    assert_eq!(messages[0]["source"], "scheduled");
    assert_eq!(messages[0]["from_address"], "+14155550100");
}

trait TruncMs {
    fn trunc_subsecs_ms(self) -> Self;
}

impl TruncMs for DateTime<Utc> {
    fn trunc_subsecs_ms(self) -> Self {
        use chrono::DurationRound;
        self.duration_trunc(chrono::Duration::milliseconds(1))
            .unwrap()
    }
}

#[actix_web::test]
async fn canceled_before_its_time_it_never_goes_out() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let canceled = schedule(&app, &chat, "Canceled reminder", in_ms(1000)).await;
    let canceled_id = canceled["id"].as_str().unwrap();
    // Fires after the canceled one's time: once it is out, the scheduler has been past
    // that time.
    let later = schedule(&app, &chat, "Later reminder", in_ms(1500)).await;

    let path = format!("/api/scheduled-messages/{canceled_id}/cancel");
    let (status, row) = app.post(&path, &chat.org.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["status"], "canceled");

    let later = settled(&app, &chat.org.token, later["id"].as_str().unwrap()).await;
    assert_eq!(later["status"], "sent");
    let bodies: Vec<Value> = conversation(&app, &chat)
        .await
        .into_iter()
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(bodies, vec![json!("Later reminder")]);
    let row = settled(&app, &chat.org.token, canceled_id).await;
    assert_eq!(row["status"], "canceled");
    assert!(row["message_id"].is_null());

    // Only a pending row can be canceled, edited or sent now.
    let (status, body) = app.post(&path, &chat.org.token, json!({})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    // The cancellation is audited once, naming the operator; the refused one is not.
    let (_, me) = app.get("/api/me", &chat.org.token).await;
    let audited = app
        .audit_entries(&chat.org.token, "scheduled_message.canceled")
        .await;
    assert_eq!(audited.len(), 1, "{audited:#?}");
    assert_eq!(audited[0]["subject_type"], "scheduled_message");
    assert_eq!(audited[0]["subject_id"], canceled_id);
    assert_eq!(audited[0]["user_id"], me["user"]["id"]);
    assert_eq!(audited[0]["details"]["reason"], "operator");
    assert_eq!(
        audited[0]["details"]["contact_id"],
        chat.contact_id.as_str()
    );
    assert!(
        !audited[0]["details"]
            .to_string()
            .contains("Canceled reminder"),
        "never the text"
    );
    let edit = format!("/api/scheduled-messages/{canceled_id}");
    let (status, body) = app
        .patch(&edit, &chat.org.token, json!({"body": "again"}))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = app
        .post(&format!("{edit}/send-now"), &chat.org.token, json!({}))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
}

#[actix_web::test]
async fn an_edit_moves_the_time_and_changes_the_text() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let row = schedule(&app, &chat, "Old text", in_ms(3_600_000)).await;
    let id = row["id"].as_str().unwrap();

    let send_at = in_ms(800);
    let (status, edited) = app
        .patch(
            &format!("/api/scheduled-messages/{id}"),
            &chat.org.token,
            json!({"send_at": rfc3339(send_at), "body": "New text"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["body"], "New text");
    assert_eq!(edited["status"], "pending");

    let row = settled(&app, &chat.org.token, id).await;
    assert_eq!(row["status"], "sent");
    assert!(parse_time(&row["fired_at"]) - send_at < chrono::Duration::seconds(1));
    let messages = conversation(&app, &chat).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["body"], "New text");
}

#[actix_web::test]
async fn send_now_fires_at_once_and_answers_how_it_went() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let row = schedule(&app, &chat, "Right away", in_ms(3_600_000)).await;
    let id = row["id"].as_str().unwrap();
    let (status, sent) = app
        .post(
            &format!("/api/scheduled-messages/{id}/send-now"),
            &chat.org.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["status"], "sent");
    let messages = conversation(&app, &chat).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(sent["message_id"], messages[0]["id"]);
}

#[actix_web::test]
async fn a_client_cannot_take_the_key_of_a_scheduled_rows_message() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let token = &chat.org.token;
    let row = schedule(&app, &chat, "See you on Tuesday", in_ms(3_600_000)).await;
    let id = row["id"].as_str().unwrap();
    let taken = format!("scheduled:{id}");
    let later = rfc3339(in_ms(3_600_000));
    for (path, request) in [
        (
            "/api/messages/send",
            json!({"contact_id": chat.contact_id, "channel": "sms", "body": "Hi", "client_id": taken}),
        ),
        (
            "/api/messages/notes",
            json!({"contact_id": chat.contact_id, "body": "Called", "client_id": taken}),
        ),
        (
            "/api/scheduled-messages",
            json!({"contact_id": chat.contact_id, "channel": "sms", "body": "Hi", "send_at": later, "client_id": taken}),
        ),
        // Inbound texts' keys are the server's too.
        (
            "/api/messages/send",
            json!({"contact_id": chat.contact_id, "channel": "sms", "body": "Hi", "client_id": "twilio:SM1"}),
        ),
    ] {
        let (status, body) = app.post(path, token, request).await;
        let error = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
        assert_eq!(error["field"], "client_id", "{path}: {body}");
    }
    assert!(conversation(&app, &chat).await.is_empty());
    assert_eq!(scheduled_list(&app, token, "").await.len(), 1);

    // The row still sends its own message.
    let (status, sent) = app
        .post(
            &format!("/api/scheduled-messages/{id}/send-now"),
            token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["status"], "sent");
    let messages = conversation(&app, &chat).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["id"], sent["message_id"]);
    assert_eq!(messages[0]["body"], "See you on Tuesday");
    assert_eq!(messages[0]["client_id"], taken.as_str());
}

#[actix_web::test]
async fn scheduling_to_a_number_that_opted_out_is_refused_and_stores_nothing() {
    let (app, chat, _twilio) = clinic_with_twilio().await;
    text_in(&app, "SM000000000000000000000000000000a3", "STOP").await;
    let (status, body) = app
        .post(
            "/api/scheduled-messages",
            &chat.org.token,
            json!({
                "contact_id": chat.contact_id, "channel": "sms", "body": "Flu shots are in",
                "send_at": rfc3339(in_ms(3_600_000)),
            }),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    assert!(scheduled_list(&app, &chat.org.token, "").await.is_empty());
}

#[actix_web::test]
async fn a_server_stopped_with_a_row_due_sends_it_once_when_started_again() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let send_at = in_ms(1000);
    let due = schedule(&app, &chat, "Sent after the restart", send_at).await;
    let due_id = due["id"].as_str().unwrap().to_string();
    // A second row whose first attempt died after recording its message: the message
    // exists under the row's `client_id`, the row is `firing` with an expired lease.
    let crashed = schedule(&app, &chat, "Recorded before the crash", in_ms(3_600_000)).await;
    let crashed_id = crashed["id"].as_str().unwrap().to_string();
    let first = app
        .send_sms(
            &chat.org.token,
            &chat.contact_id,
            "Recorded before the crash",
        )
        .await;
    // Clients may not use the scheduler's keys, so the attempt's key is put in place.
    rekey_message(
        &app,
        first["id"].as_str().unwrap(),
        &format!("scheduled:{crashed_id}"),
    )
    .await;
    app.stopper.stop().await;
    // Its run is gone: the claim is taken over at once, without waiting out the lease.
    abandon_claim(&app, &crashed_id, Some(RunKey::generate().0)).await;
    // Waiting on the clock, not on the server: the row must be overdue while no
    // scheduler runs.
    let overdue = (send_at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(overdue + Duration::from_millis(200)).await;

    let restarted = app.spawn_beside().await;
    let row = settled(&restarted, &chat.org.token, &due_id).await;
    assert_eq!(row["status"], "sent");
    let row = settled(&restarted, &chat.org.token, &crashed_id).await;
    assert_eq!(row["status"], "sent");
    assert_eq!(
        row["message_id"], first["id"],
        "the recorded message is linked"
    );

    let messages = conversation(&restarted, &chat).await;
    let bodies: Vec<&str> = messages
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies.contains(&"Sent after the restart"));
    assert!(bodies.contains(&"Recorded before the crash"));
}

/// Puts a row where a server that died mid-fire leaves it: `firing` under attempt 1,
/// claimed by a run whose lock nobody holds (`Some`, its lease still an hour long) or
/// by no run named (`None`, its lease run out).
async fn rekey_message(app: &TestApp, id: &str, client_id: &str) {
    use diesel_async::RunQueryDsl;
    let mut conn = app.pool.get().await.unwrap();
    let changed = diesel::sql_query("UPDATE messages SET client_id = $2 WHERE id = $1::uuid")
        .bind::<diesel::sql_types::Text, _>(id)
        .bind::<diesel::sql_types::Text, _>(client_id)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(changed, 1);
}

async fn abandon_claim(app: &TestApp, id: &str, run: Option<i64>) {
    use diesel_async::RunQueryDsl;
    let mut conn = app.pool.get().await.unwrap();
    let changed = diesel::sql_query(
        "UPDATE scheduled_messages SET status = 'firing', attempt = 1, claimed_by = $2,
             due_at = CASE WHEN $2 IS NULL THEN now() - interval '1 second'
                           ELSE now() + interval '1 hour' END
         WHERE id = $1::uuid",
    )
    .bind::<diesel::sql_types::Text, _>(id)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, _>(run)
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(changed, 1);
}

#[actix_web::test]
async fn a_late_finish_of_an_attempt_taken_over_is_refused() {
    use switchboard::db::ids::{MessageId, OrganizationId, ScheduledMessageId};
    use switchboard::db::scheduled_messages::{self as db, Outcome};

    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let row = schedule(&app, &chat, "Slow attempt", in_ms(3_600_000)).await;
    let id = ScheduledMessageId(row["id"].as_str().unwrap().parse().unwrap());
    let org = OrganizationId(chat.org.id.parse().unwrap());
    // Only this test claims.
    app.stopper.stop().await;
    abandon_claim(&app, row["id"].as_str().unwrap(), None).await;

    let mut conn = app.pool.get().await.unwrap();
    // Attempt 1's lease ran out: the next claim takes the row over as attempt 2.
    let now = Utc::now();
    let lease = now + chrono::Duration::seconds(60);
    let claimed = db::claim_due(&mut conn, now, lease, RunKey::generate(), 10)
        .await
        .unwrap();
    let taken = claimed.iter().find(|r| r.id == id).expect("taken over");
    assert_eq!(taken.attempt, 2);
    let late = db::finish(&mut conn, org, id, 1, Outcome::Sent(MessageId::generate()))
        .await
        .unwrap();
    assert!(late.is_none(), "attempt 1 no longer holds the claim");
    let failed = Outcome::Failed {
        code: "test",
        message: "attempt 2 ends it".into(),
    };
    let done = db::finish(&mut conn, org, id, 2, failed).await.unwrap();
    assert_eq!(done.unwrap().status.as_str(), "failed");
}

/// Two `switchboard serve` processes on one database (no Redis: rows are claimed in
/// PostgreSQL), fifty rows due within one second, scheduled through both.
#[actix_web::test]
async fn two_servers_fire_fifty_rows_due_in_one_second_each_once() {
    const ROWS: i64 = 50;
    let twilio = TwilioStandIn::start().await;
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    // Only the two nodes fire: this test's own server only set the clinic up.
    app.stopper.stop().await;
    let carrier = twilio.uri();
    let (first, second) = tokio::join!(
        Node::start(&app.database_url, &carrier, &[]),
        Node::start(&app.database_url, &carrier, &[]),
    );
    let servers = [app.through(&first.address), app.through(&second.address)];
    let whole_second = (Utc::now() + chrono::Duration::seconds(4)).timestamp();
    let send_at = DateTime::from_timestamp(whole_second, 0).unwrap();
    let rows: Vec<Value> = futures_util::future::join_all((0..ROWS).map(|n| {
        let at = send_at + chrono::Duration::milliseconds(n * 13);
        let server = &servers[n as usize % 2];
        let chat = &chat;
        async move { schedule(server, chat, &format!("Reminder {n}"), at).await }
    }))
    .await;

    // Each row is sent, linked to a message of its own...
    let mut fired = Vec::new();
    for row in &rows {
        let row = settled(&servers[0], &chat.org.token, row["id"].as_str().unwrap()).await;
        assert_eq!(row["status"], "sent", "{row}");
        fired.push(row);
    }
    // ...which reaches the carrier: every message gets Twilio's id.
    let messages = poll_until("every message has the carrier's id", DEADLINE, || async {
        let messages = conversation(&servers[1], &chat).await;
        messages
            .iter()
            .all(|m| m["external_id"].is_string())
            .then_some(messages)
    })
    .await;
    assert_eq!(messages.len(), ROWS as usize, "one message per row");
    let at_twilio = twilio.sent();
    assert_eq!(at_twilio.len(), ROWS as usize, "each reached Twilio once");
    for row in &fired {
        let message = messages
            .iter()
            .find(|m| m["id"] == row["message_id"])
            .unwrap_or_else(|| panic!("the message of {row}"));
        assert_eq!(message["body"], row["body"]);
        assert_eq!(message["source"], "scheduled");
        let sent: Vec<_> = at_twilio.iter().filter(|m| m.body == row["body"]).collect();
        assert_eq!(sent.len(), 1, "{} reached Twilio once", row["body"]);
        assert_eq!(message["external_id"], sent[0].sid.as_str());
    }
    // Both servers fired some of them, each row on its first claim.
    let runs = claims_by_run(&app).await;
    assert_eq!(runs.len(), 2, "rows fired by each run: {runs:?}");
    assert!(runs.iter().all(|&(_, attempts)| attempts == 1), "{runs:?}");
}

/// Per run that claimed scheduled rows: `(rows, the most attempts any of them took)`.
async fn claims_by_run(app: &TestApp) -> Vec<(i64, i32)> {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Claims {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        rows: i64,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempts: i32,
    }
    let claims: Vec<Claims> = diesel::sql_query(
        "SELECT count(*) AS rows, max(attempt) AS attempts FROM scheduled_messages \
         GROUP BY claimed_by",
    )
    .load(&mut *app.pool.get().await.unwrap())
    .await
    .unwrap();
    claims.iter().map(|c| (c.rows, c.attempts)).collect()
}

async fn text_in(app: &TestApp, sid: &str, body: &str) {
    let inbound = form(&[
        ("AccountSid", TWILIO_ACCOUNT),
        ("MessageSid", sid),
        ("From", "+14155550111"),
        ("To", "+14155550100"),
        ("Body", body),
        ("NumMedia", "0"),
    ]);
    let (status, answer) = app
        .post_signed("/webhooks/twilio/inbound", &inbound, TWILIO_TOKEN)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[actix_web::test]
async fn a_reply_cancels_the_rows_waiting_for_one() {
    let (app, chat, _twilio) = clinic_with_twilio().await;
    let waits = schedule_with(
        &app,
        &chat,
        json!({"body": "Still coming?", "send_at": rfc3339(in_ms(3_600_000)), "cancel_on_reply": true}),
    )
    .await;
    let stays = schedule(&app, &chat, "Directions attached", in_ms(3_600_000)).await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    text_in(
        &app,
        "SM000000000000000000000000000000a1",
        "Yes, see you then",
    )
    .await;
    let waits_id = waits["id"].as_str().unwrap();
    let frames = tab
        .until("messaging.scheduled.canceled", Some(waits_id))
        .await;
    let canceled = &frames.last().unwrap()["data"];
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["error_code"], "contact_replied");
    let audited = app
        .audit_entries(&chat.org.token, "scheduled_message.canceled")
        .await;
    assert_eq!(audited.len(), 1, "{audited:#?}");
    assert_eq!(audited[0]["subject_id"], waits_id);
    assert_eq!(
        audited[0]["user_id"],
        Value::Null,
        "no operator canceled it"
    );
    assert_eq!(audited[0]["details"]["reason"], "contact_replied");
    let (_, stays) = app
        .get(
            &format!("/api/scheduled-messages/{}", stays["id"].as_str().unwrap()),
            &chat.org.token,
        )
        .await;
    assert_eq!(stays["status"], "pending");
}

#[actix_web::test]
async fn a_recipient_opted_out_by_the_time_it_fires_fails_it_with_the_reason() {
    let (app, chat, _twilio) = clinic_with_twilio().await;
    let row = schedule(&app, &chat, "Flu shots are in", in_ms(1500)).await;
    text_in(&app, "SM000000000000000000000000000000a2", "STOP").await;

    let row = settled(&app, &chat.org.token, row["id"].as_str().unwrap()).await;
    assert_eq!(row["status"], "failed");
    assert_eq!(row["error_code"], "opted_out");
    assert!(row["message_id"].is_null());
    let outbound = conversation(&app, &chat)
        .await
        .into_iter()
        .filter(|m| m["direction"] == "outbound")
        .count();
    assert_eq!(outbound, 0);
}

#[actix_web::test]
async fn quiet_hours_hold_a_due_row_until_they_end() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let zone: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let local = Utc::now().with_timezone(&zone);
    let window_end = Utc::now() + chrono::Duration::seconds(3);
    let quiet = json!({
        "timezone": "America/New_York",
        "start": (local - chrono::Duration::hours(1)).format("%H:%M:%S").to_string(),
        "end": window_end.with_timezone(&zone).format("%H:%M:%S").to_string(),
    });
    let (status, settings) = app
        .patch(
            "/api/organization/settings",
            &chat.org.token,
            json!({"quiet_hours": quiet}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    // The server writes a whole minute as `HH:MM`, so compare times of day, not strings.
    let time_of_day = |value: &Value| {
        let raw = value.as_str().unwrap();
        chrono::NaiveTime::parse_from_str(raw, "%H:%M:%S")
            .or_else(|_| chrono::NaiveTime::parse_from_str(raw, "%H:%M"))
            .unwrap()
    };
    assert_eq!(settings["quiet_hours"]["timezone"], quiet["timezone"]);
    for end in ["start", "end"] {
        assert_eq!(
            time_of_day(&settings["quiet_hours"][end]),
            time_of_day(&quiet[end])
        );
    }

    let row = schedule(&app, &chat, "Sent when the quiet hours end", in_ms(300)).await;
    let row = settled(&app, &chat.org.token, row["id"].as_str().unwrap()).await;
    assert_eq!(row["status"], "sent");
    let window_end = window_end.with_nanosecond(0).unwrap();
    assert!(
        parse_time(&row["fired_at"]) >= window_end,
        "held until {window_end}, fired {}",
        row["fired_at"]
    );
    let messages = conversation(&app, &chat).await;
    assert!(parse_time(&messages[0]["created_at"]) >= window_end);

    let (status, settings) = app
        .patch(
            "/api/organization/settings",
            &chat.org.token,
            json!({"quiet_hours": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert!(settings["quiet_hours"].is_null());
    for (bad, field) in [
        (
            json!({"timezone": "Mars/Olympus", "start": "21:00", "end": "08:00"}),
            "quiet_hours.timezone",
        ),
        (
            json!({"timezone": "UTC", "start": "9pm", "end": "08:00"}),
            "quiet_hours.start",
        ),
        (
            json!({"timezone": "UTC", "start": "08:00", "end": "08:00"}),
            "quiet_hours.end",
        ),
    ] {
        let (status, body) = app
            .patch(
                "/api/organization/settings",
                &chat.org.token,
                json!({"quiet_hours": bad}),
            )
            .await;
        let error = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
        assert_eq!(error["field"], field);
    }
    let (status, body) = app
        .patch(
            "/api/organization/settings",
            &chat.org.token,
            json!({"quiet_hours": {"timezone": "UTC", "start": "21:00"}}),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field");
}

#[actix_web::test]
async fn bad_schedules_are_refused_and_store_nothing() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let other = app.conversation().await;
    let later = rfc3339(in_ms(3_600_000));
    let base =
        json!({"contact_id": chat.contact_id, "channel": "sms", "body": "Hi", "send_at": later});
    let with = |changes: Value| {
        let mut request = base.clone();
        for (key, value) in changes.as_object().unwrap() {
            request[key] = value.clone();
        }
        request
    };
    let cases = [
        (
            with(json!({"send_at": rfc3339(in_ms(-60_000))})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "send_at_in_past",
            Some("send_at"),
        ),
        (
            with(json!({"send_at": "tomorrow at 9"})),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some("send_at"),
        ),
        (
            with(json!({"send_at": "2031-01-01T09:00:00"})),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some("send_at"),
        ),
        (
            with(json!({"contact_id": other.contact_id})),
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            with(json!({"phone_number_id": other.phone_number_id})),
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            with(json!({"body": "Confirming your SSN 123-45-6788 for billing"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "phi_blocked",
            None,
        ),
        (
            with(json!({"channel": "fax"})),
            StatusCode::BAD_REQUEST,
            "unsupported_channel",
            Some("channel"),
        ),
        (
            with(json!({"body": "  "})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("body"),
        ),
    ];
    for (request, status_wanted, code, field) in cases {
        let (status, body) = app
            .post("/api/scheduled-messages", &chat.org.token, request.clone())
            .await;
        let error = assert_error(status, &body, status_wanted, code);
        if let Some(field) = field {
            assert_eq!(error["field"], field, "{request}");
        }
    }
    assert!(scheduled_list(&app, &chat.org.token, "").await.is_empty());

    // Another organisation's row answers like an unknown one.
    let theirs = schedule(&app, &other, "Theirs", in_ms(3_600_000)).await;
    let path = format!("/api/scheduled-messages/{}", theirs["id"].as_str().unwrap());
    let token = &chat.org.token;
    let (status, body) = app.get(&path, token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.patch(&path, token, json!({"body": "mine"})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    for action in ["cancel", "send-now"] {
        let (status, body) = app
            .post(&format!("{path}/{action}"), token, json!({}))
            .await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let (_, theirs) = app.get(&path, &other.org.token).await;
    assert_eq!(theirs["status"], "pending", "untouched");
}

#[actix_web::test]
async fn the_queue_lists_waiting_rows_first_soonest_first() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let late = schedule(&app, &chat, "Later", in_ms(7_200_000)).await;
    let soon = schedule(&app, &chat, "Sooner", in_ms(3_600_000)).await;
    let gone = schedule(&app, &chat, "Canceled", in_ms(1_800_000)).await;
    let path = format!(
        "/api/scheduled-messages/{}/cancel",
        gone["id"].as_str().unwrap()
    );
    app.post(&path, &chat.org.token, json!({})).await;

    let ids =
        |rows: Vec<Value>| -> Vec<Value> { rows.into_iter().map(|r| r["id"].clone()).collect() };
    let query = format!("contact_id={}", chat.contact_id);
    assert_eq!(
        ids(scheduled_list(&app, &chat.org.token, &query).await),
        vec![soon["id"].clone(), late["id"].clone(), gone["id"].clone()]
    );
    assert_eq!(
        ids(scheduled_list(
            &app,
            &chat.org.token,
            "phone=%2B14155550111&status=pending&limit=1"
        )
        .await),
        vec![soon["id"].clone()]
    );
    assert!(
        scheduled_list(&app, &chat.org.token, "phone=%2B14155550199")
            .await
            .is_empty()
    );
    let (status, body) = app
        .get("/api/scheduled-messages?status=someday", &chat.org.token)
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");

    // The same `client_id` twice is the same row.
    let keyed = json!({"body": "Once", "send_at": rfc3339(in_ms(3_600_000)), "client_id": "k-1"});
    let first = schedule_with(&app, &chat, keyed.clone()).await;
    let mut request = keyed;
    request["contact_id"] = json!(chat.contact_id);
    request["channel"] = json!("sms");
    let (status, again) = app
        .post("/api/scheduled-messages", &chat.org.token, request)
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first["id"]);
}

#[actix_web::test]
async fn a_scheduled_message_keeps_its_uploads_until_it_fires_and_takes_them() {
    use crate::attachments::{age_uploads, await_housekeeping, png, upload};
    let app = TestApp::spawn_with(|settings| settings.attachments.housekeeping_secs = 1).await;
    let chat = app.conversation().await;
    let files = vec![
        ("kept.png", "image/png", png(500)),
        ("stale.png", "image/png", png(500)),
    ];
    let (status, uploaded) = upload(&app, &chat.org.token, "sms", files).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let kept = uploaded["attachments"][0]["id"].clone();
    let stale = uploaded["attachments"][1]["id"].clone();
    let row = schedule_with(
        &app,
        &chat,
        json!({"body": "Your x-ray", "send_at": rfc3339(in_ms(3_600_000)), "attachment_ids": [kept]}),
    )
    .await;
    assert_eq!(row["attachment_ids"], json!([kept]));

    // Both uploads are two days old: the one the scheduled message waits for stays.
    age_uploads(&app).await;
    await_housekeeping(&app, &chat.org.token, &stale, &kept).await;

    let path = format!(
        "/api/scheduled-messages/{}/send-now",
        row["id"].as_str().unwrap()
    );
    let (status, sent) = app.post(&path, &chat.org.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["status"], "sent", "{sent}");
    let messages = conversation(&app, &chat).await;
    assert_eq!(messages[0]["attachments"][0]["id"], kept);

    // An upload another message took cannot be scheduled.
    let (status, body) = app
        .post(
            "/api/scheduled-messages",
            &chat.org.token,
            json!({"contact_id": chat.contact_id, "channel": "sms", "body": "again",
                   "send_at": rfc3339(in_ms(3_600_000)), "attachment_ids": [kept]}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
}

#[actix_web::test]
async fn a_phi_override_given_when_scheduling_carries_to_the_send_and_is_audited() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let agent = app.create_agent(&chat.org).await;
    let draft = json!({"contact_id": chat.contact_id, "channel": "sms",
                       "body": "Confirming your SSN 123-45-6788 for billing",
                       "send_at": rfc3339(in_ms(3_600_000)),
                       "phi_override": {"reason": "Patient asked for it in writing"}});
    let (status, body) = app
        .post("/api/scheduled-messages", &agent, draft.clone())
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert!(scheduled_list(&app, &chat.org.token, "").await.is_empty());

    let (status, row) = app
        .post("/api/scheduled-messages", &chat.org.token, draft)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    // An edit that keeps the draft keeps the override; the agent may move it.
    let path = format!("/api/scheduled-messages/{}", row["id"].as_str().unwrap());
    let (status, moved) = app
        .patch(&path, &agent, json!({"send_at": rfc3339(in_ms(1_800_000))}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (status, sent) = app
        .post(&format!("{path}/send-now"), &agent, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["status"], "sent", "{sent}");

    let audit: Vec<(String, Option<uuid::Uuid>, Value)> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use switchboard::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::action.eq("phi.override"))
            .select((audit_log::action, audit_log::user_id, audit_log::details))
            .load(&mut app.pool.get().await.unwrap())
            .await
            .unwrap()
    };
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].0, "phi.override");
    assert_eq!(audit[0].2["reason"], "Patient asked for it in writing");
    assert_eq!(
        audit[0].1.map(|id| id.to_string()),
        row["created_by"].as_str().map(str::to_string),
        "on behalf of who scheduled it"
    );
}

#[actix_web::test]
async fn an_email_is_scheduled_with_its_subject_and_sent_from_the_default_address() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let sender = json!({"address": "desk@clinic.example", "display_name": "Clinic Desk"});
    let (status, body) = app
        .post("/api/email-addresses", &chat.org.token, sender)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let contact = app
        .create_contact(
            &chat.org.token,
            json!({"name": "Ann", "emails": [{"email": "ann@example.com"}]}),
        )
        .await;
    let email = json!({"contact_id": contact["id"], "channel": "email", "body": "See you **Monday**",
                       "send_at": rfc3339(in_ms(3_600_000))});
    let (status, body) = app
        .post("/api/scheduled-messages", &chat.org.token, email.clone())
        .await;
    let error = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert_eq!(error["field"], "subject");

    let mut email = email;
    email["subject"] = json!("Your visit");
    let (status, row) = app
        .post("/api/scheduled-messages", &chat.org.token, email)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let path = format!(
        "/api/scheduled-messages/{}/send-now",
        row["id"].as_str().unwrap()
    );
    let (status, sent) = app.post(&path, &chat.org.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["status"], "sent", "{sent}");
    let (_, page) = app
        .get(
            &format!(
                "/api/messages?contact_id={}",
                contact["id"].as_str().unwrap()
            ),
            &chat.org.token,
        )
        .await;
    let message = &page["messages"][0];
    assert_eq!(message["channel"], "email");
    assert_eq!(message["subject"], "Your visit");
    assert_eq!(message["from_address"], "desk@clinic.example");
    assert_eq!(message["to_address"], "ann@example.com");
}
