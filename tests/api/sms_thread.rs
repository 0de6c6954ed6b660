//! The SMS operator queue's thread (`GET /api/sms/thread`): one number's texts both ways
//! across the organisation's contacts, opened by number, contact, lead or partner, paged
//! like the feed, for `sms.admin` operators of the organisation only.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, form, Conversation, TestApp, WsClient, TWILIO_ACCOUNT, TWILIO_TOKEN,
};
use crate::twilio_standin::TwilioStandIn;

async fn thread(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, page) = app.get(&format!("/api/sms/thread?{query}"), token).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page
}

/// The bodies of a page's texts, in the page's order.
fn bodies(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            assert_eq!(item["kind"], "message");
            assert_eq!(item["message"]["channel"], "sms");
            item["message"]["body"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Sends a text and waits until the carrier stand-in has it (so its status is settled
/// and it has its place).
async fn text(app: &TestApp, token: &str, contact: &str, body: &str, tab: &mut WsClient) {
    let message = app.send_sms(token, contact, body).await;
    let id = message["id"].as_str().unwrap();
    tab.statuses_until(id, |data| data["external_id"].is_string())
        .await;
}

#[actix_web::test]
async fn a_numbers_thread_holds_its_texts_both_ways_across_contacts_and_pages_backwards() {
    let twilio = TwilioStandIn::start().await;
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    let token = &chat.org.token;
    let mut tab = WsClient::connect_authenticated(&app, token, "").await;
    tab.subscribe(&chat.contact_id).await;
    // The same number on a second contact (a shared family phone), and someone else.
    let shared = app
        .create_contact(
            token,
            json!({"name": "Luis Garcia", "phones": [{"phone_number": "+14155550111"}]}),
        )
        .await;
    let shared = shared["id"].as_str().unwrap();
    tab.subscribe(shared).await;
    let other = app
        .create_contact(
            token,
            json!({"name": "Someone Else", "phones": [{"phone_number": "+14155550199"}]}),
        )
        .await;
    let other = other["id"].as_str().unwrap();
    tab.subscribe(other).await;

    text(&app, token, &chat.contact_id, "one", &mut tab).await;
    text(&app, token, &chat.contact_id, "two", &mut tab).await;
    text(&app, token, other, "not this number", &mut tab).await;
    text(&app, token, shared, "three", &mut tab).await;
    let (status, note) = app
        .post(
            "/api/messages/notes",
            token,
            json!({"contact_id": chat.contact_id, "body": "a private note"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    let inbound = form(&[
        ("AccountSid", TWILIO_ACCOUNT),
        ("MessageSid", "SM00000000000000000000000000000002"),
        ("From", "+14155550111"),
        ("To", "+14155550100"),
        ("Body", "four, from them"),
        ("NumMedia", "0"),
    ]);
    let (status, _) = app
        .post_signed("/webhooks/twilio/inbound", &inbound, TWILIO_TOKEN)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Written as people write it; answered in E.164 with its first holder.
    let page = thread(&app, token, "phone=(415)%20555-0111").await;
    assert_eq!(page["phone"], "+14155550111");
    assert_eq!(page["contact"]["id"], chat.contact_id.as_str());
    assert_eq!(page["contact"]["name"], "Maria Garcia");
    assert_eq!(bodies(&page), ["one", "two", "three", "four, from them"]);
    assert_eq!(page["items"][3]["message"]["direction"], "inbound");
    assert!(page["next_before"].is_null(), "{page}");

    // Paged like the feed: newest page first, each oldest first, no gaps, no repeats,
    // even with a text arriving between pages.
    let first = thread(&app, token, "phone=%2B14155550111&limit=3").await;
    assert_eq!(bodies(&first), ["two", "three", "four, from them"]);
    text(&app, token, &chat.contact_id, "five", &mut tab).await;
    let cursor = first["next_before"].as_str().unwrap();
    let second = thread(
        &app,
        token,
        &format!("phone=%2B14155550111&limit=3&before={cursor}"),
    )
    .await;
    assert_eq!(bodies(&second), ["one"]);
    assert!(second["next_before"].is_null(), "{second}");

    // A contact, lead or partner stands for its contact's preferred phone.
    let (status, body) = app
        .patch(
            &format!("/api/contacts/{}", chat.contact_id),
            token,
            json!({"lead_id": "lead-42", "partner_id": "partner-7"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for query in [
        format!("contact_id={}", chat.contact_id),
        "lead_id=lead-42".to_string(),
        "partner_id=partner-7".to_string(),
    ] {
        let page = thread(&app, token, &query).await;
        assert_eq!(page["phone"], "+14155550111", "{query}");
        assert_eq!(page["contact"]["id"], chat.contact_id.as_str(), "{query}");
        assert_eq!(
            bodies(&page),
            ["one", "two", "three", "four, from them", "five"],
            "{query}"
        );
    }
    // A number nobody holds has a thread all the same, empty and without a contact.
    let nobody = thread(&app, token, "phone=%2B14155550188").await;
    assert!(nobody["contact"].is_null(), "{nobody}");
    assert_eq!(bodies(&nobody), Vec::<String>::new());
}

async fn refused(app: &TestApp, token: &str, query: &str, status: StatusCode, code: &str) -> Value {
    let (got, body) = app.get(&format!("/api/sms/thread?{query}"), token).await;
    assert_error(got, &body, status, code)
}

#[actix_web::test]
async fn only_sms_admins_of_the_organisation_read_a_thread() {
    let app = TestApp::spawn().await;
    let chat: Conversation = app.conversation().await;
    app.send_sms(&chat.org.token, &chat.contact_id, "hello")
        .await;
    let by_contact = format!("contact_id={}", chat.contact_id);

    // An agent without `sms.admin` is refused whatever they ask for, even a bad query.
    let agent = app.create_agent(&chat.org).await;
    for query in ["phone=%2B14155550111", by_contact.as_str(), "phone=12ab"] {
        let error = refused(&app, &agent, query, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(
            error["message"].as_str().unwrap().contains("sms.admin"),
            "{error}"
        );
    }
    let (status, body) = app.get("/api/sms/settings", &agent).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // With it (and as an admin, who holds every permission) they read it.
    let operator = app
        .create_agent_with(&chat.org, &["sms.admin".to_string()])
        .await;
    for token in [&operator, &chat.org.token] {
        assert_eq!(bodies(&thread(&app, token, &by_contact).await), ["hello"]);
    }
    // The schedule picker's settings: UTC until quiet hours name a zone.
    let (status, body) = app.get("/api/sms/settings", &operator).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"timezone": "UTC", "quiet_hours": null}));
    let quiet = json!({"timezone": "America/New_York", "start": "21:00", "end": "08:00"});
    let (status, body) = app
        .patch(
            "/api/organization/settings",
            &chat.org.token,
            json!({"quiet_hours": quiet}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.get("/api/sms/settings", &operator).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"timezone": "America/New_York", "quiet_hours": quiet})
    );

    let (status, body) = app
        .send(app.request(
            reqwest::Method::GET,
            "/api/sms/thread?phone=%2B14155550111",
            None,
        ))
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");

    // Another organisation sees none of it: the contact and its lead are unknown there,
    // and the number's thread in that organisation is empty.
    let (status, body) = app
        .patch(
            &format!("/api/contacts/{}", chat.contact_id),
            &chat.org.token,
            json!({"lead_id": "lead-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rival = app.create_org("Rival").await;
    refused(
        &app,
        &rival.token,
        &by_contact,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    refused(
        &app,
        &rival.token,
        "lead_id=lead-1",
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let theirs = thread(&app, &rival.token, "phone=%2B14155550111").await;
    assert!(theirs["contact"].is_null(), "{theirs}");
    assert_eq!(bodies(&theirs), Vec::<String>::new());

    // Unknown ids are 404; malformed input is 400 naming the field.
    let token = &chat.org.token;
    let unknown = format!("contact_id={}", uuid::Uuid::now_v7());
    refused(&app, token, &unknown, StatusCode::NOT_FOUND, "not_found").await;
    refused(
        &app,
        token,
        "partner_id=nope",
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for (query, field) in [
        ("phone=12ab", "phone"),
        ("phone=", "phone"),
        ("contact_id=not-a-uuid", "contact_id"),
        ("", "phone"),
        ("phone=%2B14155550111&lead_id=lead-1", "phone"),
        ("phone=%2B14155550111&before=garbage", "before"),
    ] {
        let error = refused(&app, token, query, StatusCode::BAD_REQUEST, "invalid_query").await;
        assert_eq!(error["field"], field, "{query}: {error}");
    }
    let error = refused(
        &app,
        token,
        "phone=%2B14155550111&limit=0",
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert_eq!(error["field"], "limit", "{error}");
    // A contact without a phone has no SMS thread.
    let mailer = app
        .create_contact(
            token,
            json!({"name": "Email Only", "emails": [{"email": "e@example.com"}]}),
        )
        .await;
    let query = format!("contact_id={}", mailer["id"].as_str().unwrap());
    refused(
        &app,
        token,
        &query,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_phone",
    )
    .await;
}
