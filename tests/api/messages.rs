//! The messages API: sending, routing, idempotency, history, notes, edits, deletes,
//! retries and read marks.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard::db::ids::{AttachmentId, ContactId, MessageId, OrganizationId, PhoneNumberId};
use switchboard::db::message_attachments::{self, AttachmentInsertForm};
use switchboard::db::message_fields::{Channel, Direction, MessageStatus};
use switchboard::db::messages::{self, MessageInsertForm};
use switchboard::db::run_locks::RunKey;
use switchboard::db::schema::{audit_log, messages as messages_table};

use crate::helpers::{assert_error, TestApp, WsClient};

fn uuid(value: &Value) -> uuid::Uuid {
    value.as_str().expect("an id").parse().expect("a uuid")
}

/// An inbound SMS from the contact, as the carrier webhook records it.
fn inbound_sms(org: &str, contact: &str, phone_number: &str, body: &str) -> MessageInsertForm {
    MessageInsertForm {
        id: MessageId::generate(),
        organization_id: OrganizationId(org.parse().unwrap()),
        contact_id: ContactId(contact.parse().unwrap()),
        phone_number_id: Some(PhoneNumberId(phone_number.parse().unwrap())),
        email_address_id: None,
        contact_method_id: None,
        channel: Channel::Sms,
        direction: Direction::Inbound,
        body: body.into(),
        subject: None,
        from_address: Some("+14155550111".into()),
        to_address: None,
        status: MessageStatus::Received,
        source: "webhook",
        ai_origin: None,
        external_id: None,
        client_id: None,
        private: false,
        sender_user_id: None,
    }
}

/// Records an inbound SMS as the carrier webhook does.
async fn receive_sms(app: &TestApp, org: &str, contact: &str, phone_number: &str, body: &str) {
    let mut conn = app.pool.get().await.unwrap();
    messages::insert(&mut conn, &inbound_sms(org, contact, phone_number, body))
        .await
        .unwrap();
}

/// How many messages of the contact's are stored, deleted or not.
async fn stored_messages(app: &TestApp, contact: &str) -> i64 {
    messages_table::table
        .filter(messages_table::contact_id.eq(uuid::Uuid::parse_str(contact).unwrap()))
        .count()
        .get_result(&mut app.pool.get().await.unwrap())
        .await
        .unwrap()
}

async fn history(app: &TestApp, token: &str, contact: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/messages?contact_id={contact}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["messages"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn the_same_client_id_sends_once() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let request = json!({"contact_id": chat.contact_id, "channel": "sms", "body": "Reminder", "client_id": "draft-42"});

    let (first_status, first) = app
        .post("/api/messages/send", &chat.org.token, request.clone())
        .await;
    let (second_status, second) = app
        .post("/api/messages/send", &chat.org.token, request)
        .await;
    assert_eq!(first_status, StatusCode::CREATED);
    assert_eq!(
        second_status,
        StatusCode::OK,
        "a replay answers with the first message"
    );
    assert_eq!(first["id"], second["id"]);

    let mut frames = tab.until("messaging.message.status", None).await;
    frames.extend(tab.until("messaging.message.status", None).await);
    frames.extend(tab.drain().await);
    let news = frames
        .iter()
        .filter(|f| f["type"] == "messaging.message.new")
        .count();
    assert_eq!(news, 1, "one message, announced once: {frames:?}");
    assert_eq!(
        history(&app, &chat.org.token, &chat.contact_id).await.len(),
        1
    );
}

#[actix_web::test]
async fn sends_go_out_from_the_first_number_unless_another_is_chosen() {
    // Which number the contact last wrote to is tested with the inbound webhook.
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let (_, second_line) = app
        .post(
            "/api/phone-numbers",
            &chat.org.token,
            json!({"phone_number": "+14155550199", "label": "Billing"}),
        )
        .await;

    let first = app
        .send_sms(&chat.org.token, &chat.contact_id, "from the first line")
        .await;
    assert_eq!(first["phone_number_id"], chat.phone_number_id.as_str());
    assert_eq!(first["phone_line_label"], "Front desk");

    let (status, chosen) = app
        .post(
            "/api/messages/send",
            &chat.org.token,
            json!({"contact_id": chat.contact_id, "channel": "sms", "body": "about your bill", "phone_number_id": second_line["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{chosen}");
    assert_eq!(chosen["from_address"], "+14155550199");
    assert_eq!(chosen["phone_line_label"], "Billing");
}

#[actix_web::test]
async fn sends_follow_edits_to_the_contact() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let first = app
        .send_sms(&chat.org.token, &chat.contact_id, "Reminder")
        .await;
    assert_eq!(first["to_address"], "+14155550111");

    let phone_id = first["contact_phone_id"]
        .as_str()
        .expect("the phone sent to");
    let (status, edited) = app
        .patch(
            &format!("/api/contacts/{}/phones/{phone_id}", chat.contact_id),
            &chat.org.token,
            json!({"phone_number": "+14155550122"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let second = app
        .send_sms(&chat.org.token, &chat.contact_id, "Reminder")
        .await;
    assert_eq!(second["to_address"], "+14155550122", "the number as edited");

    let (status, _) = app
        .delete(
            &format!("/api/contacts/{}", chat.contact_id),
            &chat.org.token,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .try_send_sms(&chat.org.token, &chat.contact_id, "Reminder")
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[actix_web::test]
async fn bad_sends_are_refused_and_write_nothing() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let other = app.conversation().await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let foreign_attachment = AttachmentId::generate();
    message_attachments::insert(
        &mut app.pool.get().await.unwrap(),
        &AttachmentInsertForm {
            id: foreign_attachment,
            organization_id: OrganizationId(other.org.id.parse().unwrap()),
            storage_key: "other/photo.jpg".into(),
            content_type: "image/jpeg".into(),
            file_name: "photo.jpg".into(),
            file_size: 10,
        },
    )
    .await
    .unwrap();
    let send = |fields: Value| {
        let mut body = json!({"contact_id": chat.contact_id, "channel": "sms", "body": "hello"});
        for (key, value) in fields.as_object().unwrap() {
            body[key] = value.clone();
        }
        app.post("/api/messages/send", &chat.org.token, body)
    };

    let (status, body) = send(json!({"contact_id": uuid::Uuid::now_v7()})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = send(json!({"contact_id": other.contact_id})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = send(json!({"phone_number_id": other.phone_number_id})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = send(json!({"channel": "whatsapp"})).await;
    let error = assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "unsupported_channel",
    );
    assert!(
        error["message"].as_str().unwrap().contains("whatsapp"),
        "{error}"
    );
    let (status, body) = send(json!({"channel": "carrier-pigeon"})).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "unsupported_channel",
    );
    for empty in ["", "   \n "] {
        let (status, body) = send(json!({"body": empty})).await;
        assert_eq!(
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
            "body"
        );
    }
    let (status, body) = send(json!({"body": "x".repeat(1601)})).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
        "body"
    );
    let (status, body) = send(json!({"attachment_ids": [foreign_attachment]})).await;
    let error = assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&foreign_attachment.to_string()),
        "names the id: {error}"
    );
    let (status, body) = send(json!({"channel": "email", "subject": "Hi"})).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
        "contact_email_id",
        "the contact has no email"
    );

    assert!(
        history(&app, &chat.org.token, &chat.contact_id)
            .await
            .is_empty(),
        "nothing was written"
    );
    assert_eq!(
        tab.drain().await,
        Vec::<Value>::new(),
        "nothing was broadcast"
    );
    let linked: Option<Option<MessageId>> = switchboard::db::schema::message_attachments::table
        .find(foreign_attachment)
        .select(switchboard::db::schema::message_attachments::message_id)
        .first(&mut *app.pool.get().await.unwrap())
        .await
        .optional()
        .unwrap();
    assert_eq!(
        linked,
        Some(None),
        "the other organisation's upload is untouched"
    );
}

#[actix_web::test]
async fn email_goes_to_the_preferred_address_with_a_subject() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clinic").await;
    app.post(
        "/api/email-addresses",
        &org.token,
        json!({"address": "desk@clinic.example", "display_name": "Desk"}),
    )
    .await;
    let contact = app
        .create_contact(
            &org.token,
            json!({"name": "Ann", "emails": [{"email": "old@example.com"}, {"email": "ann@example.com", "is_preferred": true}]}),
        )
        .await;
    let request = json!({"contact_id": contact["id"], "channel": "email", "body": "**Hello**", "subject": "Results"});
    let (status, message) = app.post("/api/messages/send", &org.token, request).await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(message["to_address"], "ann@example.com");
    assert_eq!(message["from_address"], "desk@clinic.example");
    assert_eq!(message["subject"], "Results");
    assert_eq!(message["receiver_number_display"], "ann@example.com");

    let (status, body) = app
        .post(
            "/api/messages/send",
            &org.token,
            json!({"contact_id": contact["id"], "channel": "email", "body": "no subject"}),
        )
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
        "subject"
    );
}

#[actix_web::test]
async fn history_is_chronological_and_pages_backwards() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut sent = Vec::new();
    for index in 0..5 {
        sent.push(
            app.send_sms(
                &chat.org.token,
                &chat.contact_id,
                &format!("message {index}"),
            )
            .await["id"]
                .clone(),
        );
    }
    let (_, page) = app
        .get(
            &format!("/api/messages?contact_id={}&limit=2", chat.contact_id),
            &chat.org.token,
        )
        .await;
    let ids: Vec<Value> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, sent[3..].to_vec(), "the newest page, oldest first");
    let before = page["next_before"].as_str().unwrap();
    let (_, page) = app
        .get(
            &format!(
                "/api/messages?contact_id={}&limit=2&before={before}",
                chat.contact_id
            ),
            &chat.org.token,
        )
        .await;
    let ids: Vec<Value> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, sent[1..3].to_vec());

    let other = app.create_org("Other").await;
    let (status, body) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            &other.token,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.get("/api/messages", &chat.org.token).await;
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(
        error["field"], "contact_id",
        "a parameter left out is named too"
    );
}

#[actix_web::test]
async fn notes_are_private_and_editable_and_sent_messages_are_not() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    let (status, note) = app
        .post(
            "/api/messages/notes",
            &chat.org.token,
            json!({"contact_id": chat.contact_id, "body": "Prefers mornings"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["private"], true);
    assert_eq!(tab.next().await["type"], "messaging.message.new");

    let note_path = format!("/api/messages/{}", note["id"].as_str().unwrap());
    let (status, edited) = app
        .patch(
            &note_path,
            &chat.org.token,
            json!({"body": "Prefers afternoons"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["body"], "Prefers afternoons");
    assert!(edited["edited_at"].is_string());
    let update = tab.next().await;
    assert_eq!(update["type"], "messaging.message.updated");
    assert_eq!(update["data"]["body"], "Prefers afternoons");

    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "Sent for real")
        .await;
    let id = message["id"].as_str().unwrap();
    tab.until_status(id, "delivered").await;
    let (status, body) = app
        .patch(
            &format!("/api/messages/{id}"),
            &chat.org.token,
            json!({"body": "Changed my mind"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    assert_eq!(
        history(&app, &chat.org.token, &chat.contact_id).await[1]["body"],
        "Sent for real"
    );
}

#[actix_web::test]
async fn deleting_hides_the_message_and_is_audited() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "oops")
        .await;
    let id = message["id"].as_str().unwrap();

    let outsider = app.create_org("Other").await;
    let (status, body) = app
        .delete(&format!("/api/messages/{id}"), &outsider.token)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let (status, _) = app
        .delete(&format!("/api/messages/{id}"), &chat.org.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let deleted = tab.until("messaging.message.deleted", None).await;
    assert_eq!(deleted.last().unwrap()["data"]["id"], id);
    assert!(history(&app, &chat.org.token, &chat.contact_id)
        .await
        .is_empty());
    let (status, body) = app
        .delete(&format!("/api/messages/{id}"), &chat.org.token)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let actions: Vec<(String, uuid::Uuid)> = audit_log::table
        .filter(audit_log::subject_type.eq("message"))
        .select((audit_log::action, audit_log::subject_id))
        .load(&mut *app.pool.get().await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        actions,
        vec![("message.deleted".to_string(), uuid(&message["id"]))]
    );
}

#[actix_web::test]
async fn only_failed_messages_can_be_retried() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "retry me")
        .await;
    let id = message["id"].as_str().unwrap();
    tab.until_status(id, "delivered").await;
    let (status, body) = app
        .post(
            &format!("/api/messages/{id}/retry"),
            &chat.org.token,
            json!({}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");

    // The carrier reported a failure (the carrier webhooks arrive with the delivery issue).
    let key = (
        OrganizationId(chat.org.id.parse().unwrap()),
        MessageId(uuid(&message["id"])),
    );
    diesel::update(messages_table::table.find(key))
        .set((
            messages_table::status.eq("failed"),
            messages_table::error_code.eq("30003"),
        ))
        .execute(&mut *app.pool.get().await.unwrap())
        .await
        .unwrap();
    let (status, retried) = app
        .post(
            &format!("/api/messages/{id}/retry"),
            &chat.org.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["status"], "queued");
    assert_eq!(retried["error_code"], Value::Null);
    let statuses: Vec<Value> = [
        tab.until("messaging.message.status", Some(id)).await,
        tab.until("messaging.message.status", Some(id)).await,
        tab.until("messaging.message.status", Some(id)).await,
    ]
    .concat()
    .into_iter()
    .filter(|f| f["type"] == "messaging.message.status")
    .map(|f| f["data"]["status"].clone())
    .collect();
    assert_eq!(statuses, ["queued", "sent", "delivered"]);
}

#[actix_web::test]
async fn unread_counts_are_per_operator() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let agent = app.create_agent(&chat.org).await;
    for body in ["Hi", "Are you open today?"] {
        receive_sms(
            &app,
            &chat.org.id,
            &chat.contact_id,
            &chat.phone_number_id,
            body,
        )
        .await;
    }
    let unread = |token: String| {
        let app = &app;
        async move {
            let (_, list) = app.get("/api/contacts", &token).await;
            list["contacts"][0]["unread_count"].as_i64().unwrap()
        }
    };
    assert_eq!(unread(chat.org.token.clone()).await, 2);
    assert_eq!(unread(agent.clone()).await, 2);

    let (status, _) = app
        .post(
            &format!("/api/contacts/{}/read", chat.contact_id),
            &chat.org.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unread(chat.org.token.clone()).await, 0);
    assert_eq!(
        unread(agent.clone()).await,
        2,
        "the other operator has not read them"
    );

    let outsider = app.create_org("Other").await;
    let (status, body) = app
        .post(
            &format!("/api/contacts/{}/read", chat.contact_id),
            &outsider.token,
            json!({}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[actix_web::test]
async fn concurrent_sends_are_each_recorded_once_and_in_order() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let mut contacts = vec![chat.contact_id.clone()];
    for index in 0..5 {
        let contact = app
            .create_contact(
                &chat.org.token,
                json!({"name": format!("Patient {index}"), "phones": [{"phone_number": format!("+1415555020{index}")}]}),
            )
            .await;
        contacts.push(contact["id"].as_str().unwrap().to_string());
    }
    // One lane per contact, all at once (so their writes share batches); each lane
    // sends its messages one after another, the second one twice under one client_id.
    let lanes = contacts.iter().map(|contact| {
        let (app, token) = (&app, &chat.org.token);
        async move {
            let mut ids = Vec::new();
            for step in 0..4 {
                let mut request = json!({"contact_id": contact, "channel": "sms", "body": format!("step {step}")});
                if step == 1 {
                    request["client_id"] = json!(format!("lane-{contact}"));
                }
                let (status, sent) = app.post("/api/messages/send", token, request.clone()).await;
                assert_eq!(status, StatusCode::CREATED, "{sent}");
                if step == 1 {
                    let (status, again) = app.post("/api/messages/send", token, request).await;
                    assert_eq!(status, StatusCode::OK, "{again}");
                    assert_eq!(again["id"], sent["id"]);
                }
                ids.push(sent["id"].clone());
            }
            ids
        }
    });
    let sent = futures_util::future::join_all(lanes).await;

    for (contact, ids) in contacts.iter().zip(sent) {
        let listed: Vec<Value> = history(&app, &chat.org.token, contact)
            .await
            .iter()
            .map(|message| message["id"].clone())
            .collect();
        assert_eq!(listed, ids, "each message once, in the order sent");
        let (_, shown) = app
            .get(&format!("/api/contacts/{contact}"), &chat.org.token)
            .await;
        assert!(
            shown["last_contacted_at"].is_string(),
            "the contact list's sort key moved: {shown}"
        );
    }
}

#[actix_web::test]
async fn a_sending_number_added_is_used_at_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clinic").await;
    let contact = app
        .create_contact(
            &org.token,
            json!({"name": "Maria Garcia", "phones": [{"phone_number": "+14155550111"}]}),
        )
        .await;
    let request = json!({"contact_id": contact["id"], "channel": "sms", "body": "Hello"});
    let (status, body) = app
        .post("/api/messages/send", &org.token, request.clone())
        .await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");

    let (status, number) = app
        .post(
            "/api/phone-numbers",
            &org.token,
            json!({"phone_number": "+14155550100"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{number}");
    let (status, sent) = app
        .post("/api/messages/send", &org.token, request.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["phone_number_id"], number["id"]);

    let path = format!("/api/phone-numbers/{}", number["id"].as_str().unwrap());
    let (status, _) = app.delete(&path, &org.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.post("/api/messages/send", &org.token, request).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
}

#[actix_web::test]
async fn messages_are_recorded_only_for_contacts_of_their_organisation() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let other = app.conversation().await;
    let (org, number) = (&chat.org.id, &chat.phone_number_id);
    let mut conn = app.pool.get().await.unwrap();

    // One good message and one naming another organisation's contact: neither is kept.
    let good = inbound_sms(org, &chat.contact_id, number, "good");
    let misrouted = inbound_sms(org, &other.contact_id, number, "misrouted");
    let refused = messages::insert_many(&mut conn, RunKey::generate(), &[&good, &misrouted]).await;
    assert!(
        matches!(
            refused,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _
            ))
        ),
        "{refused:?}"
    );
    assert_eq!(stored_messages(&app, &chat.contact_id).await, 0);
    assert_eq!(stored_messages(&app, &other.contact_id).await, 0);

    let unknown = uuid::Uuid::new_v4().to_string();
    let refused = messages::insert(&mut conn, &inbound_sms(org, &unknown, number, "lost")).await;
    assert!(refused.is_err(), "{refused:?}");

    messages::insert_many(&mut conn, RunKey::generate(), &[&good])
        .await
        .unwrap();
    assert_eq!(stored_messages(&app, &chat.contact_id).await, 1);

    // A stored message stays with its contact.
    let moved = diesel::update(messages_table::table)
        .set(messages_table::contact_id.eq(uuid::Uuid::parse_str(&other.contact_id).unwrap()))
        .execute(&mut conn)
        .await;
    assert!(moved.is_err(), "{moved:?}");
    assert_eq!(stored_messages(&app, &chat.contact_id).await, 1);
}

#[actix_web::test]
async fn deleting_a_contact_deletes_its_messages_and_no_others() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let token = &chat.org.token;
    let neighbour = app
        .create_contact(
            token,
            json!({"name": "Ann", "phones": [{"phone_number": "+14155550122"}]}),
        )
        .await;
    let neighbour = neighbour["id"].as_str().unwrap();
    app.send_sms(token, &chat.contact_id, "Your appointment is at 3pm")
        .await;
    receive_sms(
        &app,
        &chat.org.id,
        &chat.contact_id,
        &chat.phone_number_id,
        "Thanks",
    )
    .await;
    app.send_sms(token, neighbour, "Hello Ann").await;
    assert_eq!(stored_messages(&app, &chat.contact_id).await, 2);

    let (status, _) = app
        .delete(&format!("/api/contacts/{}", chat.contact_id), token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    assert_eq!(stored_messages(&app, &chat.contact_id).await, 0);
    assert_eq!(stored_messages(&app, neighbour).await, 1);
    assert_eq!(history(&app, token, neighbour).await.len(), 1);
}

#[actix_web::test]
async fn a_send_to_a_contact_deleted_elsewhere_is_not_found_and_records_nothing() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let token = &chat.org.token;
    // The first send leaves what it needs of the contact cached in this server.
    app.send_sms(token, &chat.contact_id, "first").await;

    // Another server deletes the contact: this one's cache does not hear of it.
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query("DELETE FROM contacts WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(uuid::Uuid::parse_str(&chat.contact_id).unwrap())
        .execute(&mut conn)
        .await
        .unwrap();

    let (status, body) = app.try_send_sms(token, &chat.contact_id, "second").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(stored_messages(&app, &chat.contact_id).await, 0);
}
