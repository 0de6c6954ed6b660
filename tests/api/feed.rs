//! The contact feed: messages and calls in one timeline, filtered, paged backwards by a
//! cursor that neither skips nor repeats while new entries arrive.

use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::{Timestamptz, Uuid};
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, Conversation, TestApp, WsClient};

/// Puts an entry at `at` in the timeline (as if it had been recorded then).
async fn place(app: &TestApp, table: &str, id: &str, at: DateTime<Utc>) {
    let mut conn = app.pool.get().await.unwrap();
    let updated = diesel::sql_query(format!("UPDATE {table} SET created_at = $1 WHERE id = $2"))
        .bind::<Timestamptz, _>(at)
        .bind::<Uuid, _>(id.parse::<uuid::Uuid>().unwrap())
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(updated, 1);
}

async fn add_call(app: &TestApp, chat: &Conversation) -> String {
    let call = json!({
        "contact_id": chat.contact_id,
        "direction": "outbound",
        "from_number": "+14155550100",
        "to_number": "+14155550111",
        "status": "completed",
    });
    let (status, call) = app.post("/api/calls", &chat.org.token, call).await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    call["id"].as_str().unwrap().to_string()
}

async fn add_sms(app: &TestApp, chat: &Conversation, body: &str) -> String {
    let message = app.send_sms(&chat.org.token, &chat.contact_id, body).await;
    message["id"].as_str().unwrap().to_string()
}

async fn feed(app: &TestApp, chat: &Conversation, query: &str) -> Value {
    let (status, page) = app
        .get(
            &format!("/api/contacts/{}/feed{query}", chat.contact_id),
            &chat.org.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

/// `kind:id` of each item, in the page's order.
fn entries(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let kind = item["kind"].as_str().unwrap();
            format!("{kind}:{}", item[kind]["id"].as_str().unwrap())
        })
        .collect()
}

#[actix_web::test]
async fn messages_notes_emails_and_calls_merge_in_one_order_and_filter_by_kind() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let token = &chat.org.token;
    let sender = json!({"address": "desk@clinic.example"});
    assert_eq!(
        app.post("/api/email-addresses", token, sender).await.0,
        StatusCode::CREATED
    );
    let email = json!({"email": "maria@example.com"});
    let path = format!("/api/contacts/{}/emails", chat.contact_id);
    assert_eq!(app.post(&path, token, email).await.0, StatusCode::CREATED);
    let mut tab = WsClient::connect_authenticated(&app, token, "").await;
    tab.subscribe(&chat.contact_id).await;

    let sms1 = add_sms(&app, &chat, "Your appointment is tomorrow").await;
    let call1 = add_call(&app, &chat).await;
    let note = json!({"contact_id": chat.contact_id, "body": "Prefers mornings"});
    let (_, note) = app.post("/api/messages/notes", token, note).await;
    let note = note["id"].as_str().unwrap().to_string();
    let email = json!({"contact_id": chat.contact_id, "channel": "email", "subject": "Results", "body": "All clear."});
    let (status, email) = app.post("/api/messages/send", token, email).await;
    assert_eq!(status, StatusCode::CREATED, "{email}");
    let email = email["id"].as_str().unwrap().to_string();
    let sms2 = add_sms(&app, &chat, "See you then").await;
    let call2 = add_call(&app, &chat).await;
    let deleted = add_sms(&app, &chat, "Sent by mistake").await;
    for id in [&sms1, &email, &sms2, &deleted] {
        tab.statuses_until(id, |data| data["status"] == "delivered")
            .await;
    }
    assert_eq!(
        app.delete(&format!("/api/messages/{deleted}"), token)
            .await
            .0,
        StatusCode::NO_CONTENT
    );

    // Equal times: a call before a message, then messages by id.
    let t0: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
    let second = Duration::seconds(1);
    place(&app, "messages", &sms1, t0).await;
    place(&app, "calls", &call1, t0 + second).await;
    place(&app, "messages", &note, t0 + second).await;
    place(&app, "messages", &email, t0 + second * 2).await;
    place(&app, "messages", &sms2, t0 + second * 2).await;
    place(&app, "calls", &call2, t0 + second * 3).await;

    let all = feed(&app, &chat, "").await;
    let expected = [
        format!("message:{sms1}"),
        format!("call:{call1}"),
        format!("message:{note}"),
        format!("message:{email}"),
        format!("message:{sms2}"),
        format!("call:{call2}"),
    ];
    assert_eq!(entries(&all), expected, "deleted messages are left out");
    assert!(all["next_before"].is_null());
    assert_eq!(all["items"][1]["at"], "2026-12-01T10:00:01Z");

    // Each item is shaped exactly as its own API shows it.
    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            token,
        )
        .await;
    for item in all["items"].as_array().unwrap() {
        if item["kind"] == "message" {
            let shown = history["messages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|message| message["id"] == item["message"]["id"])
                .unwrap();
            assert_eq!(&item["message"], shown);
            assert_eq!(item["at"], item["message"]["created_at"]);
        } else {
            let (_, call) = app
                .get(
                    &format!("/api/calls/{}", item["call"]["id"].as_str().unwrap()),
                    token,
                )
                .await;
            assert_eq!(item["call"], call);
        }
    }

    let of = |filter: &str| {
        let app = &app;
        let chat = &chat;
        let filter = filter.to_string();
        async move { entries(&feed(app, chat, &format!("?filter={filter}")).await) }
    };
    assert_eq!(
        of("calls").await,
        [format!("call:{call1}"), format!("call:{call2}")]
    );
    assert_eq!(
        of("messages").await,
        [format!("message:{sms1}"), format!("message:{sms2}")]
    );
    assert_eq!(of("emails").await, [format!("message:{email}")]);
    assert_eq!(of("all").await, expected);
}

#[actix_web::test]
async fn pages_go_back_without_gaps_or_repeats_while_new_entries_arrive() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    // Seven entries at one instant: only the tie-breakers order them.
    let at: DateTime<Utc> = "2026-12-02T09:00:00Z".parse().unwrap();
    let mut placed = Vec::new();
    for index in 0..7 {
        if index % 2 == 0 {
            let id = add_call(&app, &chat).await;
            place(&app, "calls", &id, at).await;
            placed.push(format!("call:{id}"));
        } else {
            let id = add_sms(&app, &chat, &format!("Message {index}")).await;
            place(&app, "messages", &id, at).await;
            placed.push(format!("message:{id}"));
        }
    }
    // The timeline's order: calls before messages at one instant, then by id.
    placed.sort_by_key(|entry| !entry.starts_with("call:"));

    let first = feed(&app, &chat, "?limit=3").await;
    assert_eq!(entries(&first), placed[4..7]);
    // New entries arrive between page loads.
    add_call(&app, &chat).await;
    add_sms(&app, &chat, "A newer message").await;
    let cursor = first["next_before"].as_str().unwrap();
    let second = feed(&app, &chat, &format!("?limit=3&before={cursor}")).await;
    assert_eq!(entries(&second), placed[1..4]);
    let cursor = second["next_before"].as_str().unwrap();
    let third = feed(&app, &chat, &format!("?limit=3&before={cursor}")).await;
    assert_eq!(entries(&third), placed[0..1]);
    assert!(third["next_before"].is_null(), "the start of the history");

    let newest = feed(&app, &chat, "?limit=3").await;
    assert_eq!(
        entries(&newest)[0],
        placed[6],
        "the new entries come after the old"
    );
    assert_eq!(newest["items"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn the_feed_refuses_other_organisations_and_bad_parameters() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let other = app.conversation().await;
    add_call(&app, &chat).await;
    let theirs = &other.org.token;
    let missing = uuid::Uuid::now_v7().to_string();
    for contact in [chat.contact_id.as_str(), missing.as_str()] {
        let (status, body) = app
            .get(&format!("/api/contacts/{contact}/feed"), theirs)
            .await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let base = format!("/api/contacts/{}/feed", chat.contact_id);
    for (query, field) in [
        ("?filter=faxes", "filter"),
        ("?before=bm90LWEtY3Vyc29y", "before"),
        ("?before=***", "before"),
        ("?limit=0", "limit"),
        ("?limit=many", "limit"),
    ] {
        let (status, body) = app.get(&format!("{base}{query}"), &chat.org.token).await;
        let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
        assert_eq!(error["field"], field, "{query}: {body}");
    }
    let (status, body) = app.get("/api/contacts/42/feed", &chat.org.token).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_path");
}
