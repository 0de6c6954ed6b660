//! Canned responses (placeholders, search ranking, rendering), reply suggestions for an
//! inbound message, the `ai_origin` a suggestion leaves on the sent message, and drafts
//! kept per operator.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, form, TestApp, WsClient, TWILIO_ACCOUNT, TWILIO_TOKEN};
use crate::twilio_standin::TwilioStandIn;

async fn add(app: &TestApp, token: &str, code: &str, title: &str, content: &str) -> Value {
    let body = json!({"short_code": code, "title": title, "content": content});
    let (status, canned) = app.post("/api/canned-responses", token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{canned}");
    canned
}

fn codes(list: &Value) -> Vec<&str> {
    list["canned_responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|canned| canned["short_code"].as_str().unwrap())
        .collect()
}

#[actix_web::test]
async fn search_ranks_short_code_prefixes_then_substrings_then_words() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clinic").await;
    let token = &org.token;
    add(
        &app,
        token,
        "parking",
        "Parking",
        "Free parking behind the building.",
    )
    .await;
    add(
        &app,
        token,
        "weekend",
        "Our hours on Saturdays",
        "Open 9 to 1.",
    )
    .await;
    add(
        &app,
        token,
        "clinic-hours",
        "Opening times",
        "Monday to Friday, 8 to 6.",
    )
    .await;
    add(&app, token, "hours", "Opening times", "See our website.").await;
    add(
        &app,
        token,
        "holiday",
        "Closures",
        "Closed on public holidays; office hours resume after.",
    )
    .await;

    let (status, list) = app.get("/api/canned-responses?search=hour", token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        codes(&list),
        ["hours", "clinic-hours", "holiday", "weekend"]
    );
    let (_, list) = app.get("/api/canned-responses?search=/HO", token).await;
    assert_eq!(
        codes(&list),
        ["holiday", "hours", "clinic-hours", "weekend"],
        "typed as /short-code"
    );
    let (_, list) = app.get("/api/canned-responses?search=100%25", token).await;
    assert_eq!(
        codes(&list),
        Vec::<&str>::new(),
        "LIKE wildcards are matched literally"
    );
    let (_, list) = app.get("/api/canned-responses", token).await;
    assert_eq!(
        codes(&list),
        ["clinic-hours", "holiday", "hours", "parking", "weekend"]
    );
}

#[actix_web::test]
async fn placeholders_are_checked_when_saved_and_filled_when_rendered() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Harbor Health").await;
    let token = &org.token;
    let contact = app
        .create_contact(token, json!({"name": "Maria Garcia"}))
        .await;
    let contact_id = contact["id"].as_str().unwrap();
    let canned = add(
        &app,
        token,
        "welcome",
        "Welcome",
        "Hi {{contact.first_name}}, this is {{ operator.name }} at {{org.name}} ({{contact.name}}).",
    )
    .await;
    let id = canned["id"].as_str().unwrap();
    let (status, rendered) = app
        .post(
            &format!("/api/canned-responses/{id}/render"),
            token,
            json!({"contact_id": contact_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rendered}");
    assert_eq!(
        rendered["content"],
        "Hi Maria, this is Admin at Harbor Health (Maria Garcia)."
    );

    let bad = |field: &str, value: &str| {
        let mut body = json!({"short_code": "fine", "title": "Fine", "content": "Fine."});
        body[field] = json!(value);
        body
    };
    for (body, field) in [
        (bad("content", "Your SSN is {{contact.ssn}}"), "content"),
        (bad("content", "Hi {{contact.first_name"), "content"),
        (bad("content", "   "), "content"),
        (bad("short_code", "Two Words"), "short_code"),
        (bad("short_code", &"x".repeat(33)), "short_code"),
        (bad("title", ""), "title"),
    ] {
        let (status, answer) = app.post("/api/canned-responses", token, body).await;
        let error = assert_error(status, &answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
        assert_eq!(error["field"], field, "{answer}");
    }
    let (status, answer) = app
        .patch(
            &format!("/api/canned-responses/{id}"),
            token,
            json!({"content": "{{org.address}}"}),
        )
        .await;
    assert_error(status, &answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let (status, answer) = app
        .post(
            "/api/canned-responses",
            token,
            json!({"short_code": "welcome", "title": "Again", "content": "Hello."}),
        )
        .await;
    assert_error(status, &answer, StatusCode::CONFLICT, "conflict");
    let (status, answer) = app
        .post(
            "/api/canned-responses",
            token,
            json!({"short_code": "x", "title": "X", "content": "X", "extra": 1}),
        )
        .await;
    assert_eq!(
        assert_error(status, &answer, StatusCode::BAD_REQUEST, "invalid_field")["field"],
        "extra"
    );
    let (_, stored) = app.get(&format!("/api/canned-responses/{id}"), token).await;
    assert_eq!(stored, canned, "refused changes wrote nothing");

    let (status, changed) = app
        .patch(
            &format!("/api/canned-responses/{id}"),
            token,
            json!({"short_code": "hello"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["short_code"], "hello");
    assert_eq!(
        app.delete(&format!("/api/canned-responses/{id}"), token)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = app.get(&format!("/api/canned-responses/{id}"), token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[actix_web::test]
async fn agents_read_admins_write_and_other_organisations_see_nothing() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clinic").await;
    let other = app.create_org("Elsewhere").await;
    let agent = app.create_agent(&org).await;
    let canned = add(&app, &org.token, "hours", "Hours", "8 to 6.").await;
    let id = canned["id"].as_str().unwrap();
    let ours = app.create_contact(&org.token, json!({"name": "Ann"})).await;
    let theirs = app
        .create_contact(&other.token, json!({"name": "Bo"}))
        .await;

    let (status, list) = app.get("/api/canned-responses", &agent).await;
    assert_eq!((status, codes(&list)), (StatusCode::OK, vec!["hours"]));
    let body = json!({"short_code": "mine", "title": "Mine", "content": "Mine."});
    let (status, answer) = app.post("/api/canned-responses", &agent, body).await;
    assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
    let (status, answer) = app
        .patch(
            &format!("/api/canned-responses/{id}"),
            &agent,
            json!({"title": "Agent's"}),
        )
        .await;
    assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
    let (status, answer) = app
        .delete(&format!("/api/canned-responses/{id}"), &agent)
        .await;
    assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");

    let missing = uuid::Uuid::now_v7().to_string();
    for target in [id, missing.as_str()] {
        let path = format!("/api/canned-responses/{target}");
        let render = json!({"contact_id": theirs["id"]});
        for (status, answer) in [
            app.get(&path, &other.token).await,
            app.patch(&path, &other.token, json!({"title": "Theirs"}))
                .await,
            app.delete(&path, &other.token).await,
            app.post(&format!("{path}/render"), &other.token, render)
                .await,
        ] {
            assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
        }
    }
    let (_, list) = app.get("/api/canned-responses", &other.token).await;
    assert!(codes(&list).is_empty());
    // Our response rendered for their contact.
    let (status, answer) = app
        .post(
            &format!("/api/canned-responses/{id}/render"),
            &org.token,
            json!({"contact_id": theirs["id"]}),
        )
        .await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
    let (status, _) = app
        .post(
            &format!("/api/canned-responses/{id}/render"),
            &org.token,
            json!({"contact_id": ours["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn an_inbound_message_gets_ranked_suggestions_and_a_sent_one_records_its_origin() {
    let twilio = TwilioStandIn::start().await;
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    let token = &chat.org.token;
    add(
        &app,
        token,
        "hours",
        "Opening hours",
        "We are open Monday to Friday, 8am to 6pm.",
    )
    .await;
    let reschedule = add(
        &app,
        token,
        "reschedule",
        "Moving an appointment",
        "Hi {{contact.first_name}}, to reschedule your appointment just reply with a day that suits you.",
    )
    .await;
    add(
        &app,
        token,
        "refill",
        "Prescription refills",
        "Refills are ready two working days after you ask.",
    )
    .await;
    add(
        &app,
        token,
        "parking",
        "Parking",
        "Free parking is behind the building.",
    )
    .await;

    let inbound = form(&[
        ("AccountSid", TWILIO_ACCOUNT),
        ("MessageSid", "SM00000000000000000000000000000050"),
        ("From", "+14155550111"),
        ("To", "+14155550100"),
        (
            "Body",
            "Hi, could I reschedule my appointments? Are you open on Friday?",
        ),
    ]);
    let (status, _) = app
        .post_signed("/webhooks/twilio/inbound", &inbound, TWILIO_TOKEN)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            token,
        )
        .await;
    let inbound_id = history["messages"][0]["id"].as_str().unwrap().to_string();

    let (status, answer) = app
        .get(&format!("/api/messages/{inbound_id}/suggestions"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let suggestions = answer["suggestions"].as_array().unwrap();
    let ranked: Vec<&Value> = suggestions
        .iter()
        .map(|s| &s["canned_response_id"])
        .collect();
    assert_eq!(ranked[0], &reschedule["id"], "{answer}");
    assert_eq!(
        suggestions.len(),
        2,
        "reschedule, then opening hours; the rest share no word: {answer}"
    );
    assert_eq!(
        suggestions[0]["content"],
        "Hi Maria, to reschedule your appointment just reply with a day that suits you."
    );
    assert_eq!(suggestions[0]["source"], "canned");
    assert!(suggestions[0]["score"].as_f64().unwrap() > suggestions[1]["score"].as_f64().unwrap());

    // The operator sends the first suggestion; its origin travels with the message.
    let mut tab = WsClient::connect_authenticated(&app, token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let origin = format!("suggestion:canned:{}", reschedule["id"].as_str().unwrap());
    let send = json!({"contact_id": chat.contact_id, "channel": "sms", "body": suggestions[0]["content"], "ai_origin": origin});
    let (status, sent) = app.post("/api/messages/send", token, send).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["ai_origin"], origin.as_str());
    let id = sent["id"].as_str().unwrap();
    let frames = tab.until("messaging.message.new", Some(id)).await;
    assert_eq!(frames.last().unwrap()["data"]["ai_origin"], origin.as_str());
    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            token,
        )
        .await;
    let stored = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap();
    assert_eq!(stored["ai_origin"], origin.as_str());

    // Suggestions are for inbound messages, of the caller's organisation.
    let (status, body) = app
        .get(&format!("/api/messages/{id}/suggestions"), token)
        .await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let other = app.create_org("Elsewhere").await;
    let (status, body) = app
        .get(
            &format!("/api/messages/{inbound_id}/suggestions"),
            &other.token,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[actix_web::test]
async fn each_operator_keeps_a_draft_per_contact_until_they_send() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let admin = &chat.org.token;
    let agent = app.create_agent(&chat.org).await;
    let path = format!("/api/contacts/{}/draft", chat.contact_id);

    let (status, body) = app.get(&path, admin).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, saved) = app
        .send(
            app.request(reqwest::Method::PUT, &path, Some(admin))
                .json(&json!({"channel": "sms", "body": "Your results are"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    // Another browser of the same operator (a second login) sees it.
    let second_browser = app
        .login(&chat.org.admin_email, crate::helpers::PASSWORD)
        .await;
    let (status, shown) = app.get(&path, &second_browser).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, saved);
    assert_eq!(shown["body"], "Your results are");
    // Not the agent's: theirs is their own.
    let (status, _) = app.get(&path, &agent).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let agent_draft = json!({"channel": "email", "body": "Dear Maria", "subject": "Results"});
    let (status, _) = app
        .send(
            app.request(reqwest::Method::PUT, &path, Some(&agent))
                .json(&agent_draft),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Sending spends the sender's draft only.
    app.send_sms(admin, &chat.contact_id, "Your paperwork is ready")
        .await;
    let (status, _) = app.get(&path, admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "sending clears the draft");
    let (status, kept) = app.get(&path, &agent).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kept["subject"], "Results");
    assert_eq!(app.delete(&path, &agent).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path, &agent).await.0, StatusCode::NOT_FOUND);

    // Bad input names the field; another organisation's contact is not found.
    let put = |token: &str, path: &str, body: Value| {
        app.send(
            app.request(reqwest::Method::PUT, path, Some(token))
                .json(&body),
        )
    };
    let (status, body) = put(admin, &path, json!({"channel": "fax", "body": ""})).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field")["field"],
        "channel"
    );
    let long_subject = json!({"channel": "email", "body": "", "subject": "x".repeat(201)});
    let (status, body) = put(admin, &path, long_subject).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
        "subject"
    );
    let other = app.create_org("Elsewhere").await;
    let (status, body) = put(&other.token, &path, json!({"channel": "sms", "body": "hi"})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    for (status, body) in [
        app.get(&path, &other.token).await,
        app.delete(&path, &other.token).await,
    ] {
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
}
