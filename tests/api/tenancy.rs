//! One organisation can never see or touch another's data: its ids answer exactly as
//! ids that do not exist.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;

#[actix_web::test]
async fn another_organisations_contacts_are_invisible_and_untouchable() {
    let app = TestApp::spawn().await;
    let org_a = app.create_org("Clinic A").await;
    let org_b = app.create_org("Clinic B").await;
    let contact = app
        .create_contact(
            &org_a.token,
            json!({"name": "Private Patient", "phones": [{"phone_number": "+14155550111"}], "emails": [{"email": "pp@example.com"}]}),
        )
        .await;
    let id = contact["id"].as_str().unwrap();
    let phone = contact["phones"][0]["id"].as_str().unwrap();
    let email = contact["emails"][0]["id"].as_str().unwrap();
    let missing = uuid::Uuid::now_v7().to_string();

    // Every route answers B exactly as it answers for an id that does not exist.
    let cases: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (reqwest::Method::GET, "/api/contacts/{}".to_string(), None),
        (
            reqwest::Method::PATCH,
            "/api/contacts/{}".to_string(),
            Some(json!({"name": "Hijacked"})),
        ),
        (
            reqwest::Method::POST,
            "/api/contacts/{}/phones".to_string(),
            Some(json!({"phone_number": "+14155550199"})),
        ),
        (
            reqwest::Method::POST,
            "/api/contacts/{}/emails".to_string(),
            Some(json!({"email": "x@example.com"})),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/contacts/{{}}/phones/{phone}"),
            Some(json!({"label": "hijacked"})),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/contacts/{{}}/emails/{email}"),
            Some(json!({"label": "hijacked"})),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/contacts/{{}}/phones/{phone}"),
            None,
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/contacts/{{}}/emails/{email}"),
            None,
        ),
        (
            reqwest::Method::DELETE,
            "/api/contacts/{}".to_string(),
            None,
        ),
    ];
    for (method, template, body) in cases {
        let send = |contact_id: &str| {
            let mut request = app.request(
                method.clone(),
                &template.replace("{}", contact_id),
                Some(&org_b.token),
            );
            if let Some(body) = &body {
                request = request.json(body);
            }
            app.send(request)
        };
        let foreign = send(id).await;
        let nonexistent = send(&missing).await;
        assert_eq!(
            foreign.0,
            StatusCode::NOT_FOUND,
            "{method} {template}: {}",
            foreign.1
        );
        assert_eq!(
            foreign, nonexistent,
            "{method} {template} must not reveal that the id exists"
        );
    }

    let (status, untouched) = app.get(&format!("/api/contacts/{id}"), &org_a.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(untouched, contact, "nothing B did changed A's contact");

    for query in [
        "",
        "?search=Private",
        "?search=pp%40example.com",
        "?search=5550111",
    ] {
        let (_, list) = app
            .get(&format!("/api/contacts{query}"), &org_b.token)
            .await;
        assert_eq!(
            list["contacts"],
            json!([]),
            "B's list {query:?} leaks nothing"
        );
    }
}

#[actix_web::test]
async fn another_organisations_senders_are_invisible_and_untouchable() {
    let app = TestApp::spawn().await;
    let org_a = app.create_org("Clinic A").await;
    let org_b = app.create_org("Clinic B").await;
    let (_, number) = app
        .post(
            "/api/phone-numbers",
            &org_a.token,
            json!({"phone_number": "+14155550100"}),
        )
        .await;
    let (_, address) = app
        .post(
            "/api/email-addresses",
            &org_a.token,
            json!({"address": "desk@a.example"}),
        )
        .await;

    for path in [
        format!("/api/phone-numbers/{}", number["id"].as_str().unwrap()),
        format!("/api/email-addresses/{}", address["id"].as_str().unwrap()),
    ] {
        assert_eq!(
            app.get(&path, &org_b.token).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            app.patch(&path, &org_b.token, json!({})).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            app.delete(&path, &org_b.token).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            app.get(&path, &org_a.token).await.0,
            StatusCode::OK,
            "{path} still there for A"
        );
    }
    assert_eq!(
        app.get("/api/phone-numbers", &org_b.token).await.1["phone_numbers"],
        json!([])
    );
    assert_eq!(
        app.get("/api/email-addresses", &org_b.token).await.1["email_addresses"],
        json!([])
    );

    // The same number may be registered by two organisations (they may share a
    // carrier account's pool); neither learns of the other.
    let (status, _) = app
        .post(
            "/api/phone-numbers",
            &org_b.token,
            json!({"phone_number": "+14155550100"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

/// Below the API, the database itself refuses rows that point across organisations: a
/// message naming another organisation's contact, and an attachment naming another
/// organisation's message.
#[actix_web::test]
async fn the_database_refuses_rows_that_point_at_another_organisations_records() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let ours = app.conversation().await;
    let theirs = app.conversation().await;
    let message = app
        .post(
            "/api/messages/notes",
            &theirs.org.token,
            json!({"contact_id": theirs.contact_id, "body": "their note"}),
        )
        .await
        .1;
    let mut conn = app.pool.get().await.unwrap();

    let cross_contact = diesel::sql_query(format!(
        "INSERT INTO messages (id, organization_id, contact_id, channel, direction, status, source) \
         VALUES ('{}', '{}', '{}', 'note', 'outbound', 'queued', 'note')",
        uuid::Uuid::now_v7(),
        ours.org.id,
        theirs.contact_id
    ))
    .execute(&mut conn)
    .await;
    let error = cross_contact.expect_err("a message naming another organisation's contact");
    assert!(error.to_string().contains("contact"), "{error}");

    // Our contact, but their line, their address, their contact's entry, their operator.
    let (their_number, their_address, their_entry, their_operator) = {
        let one = |sql: String| async {
            #[derive(diesel::QueryableByName)]
            struct Id {
                #[diesel(sql_type = diesel::sql_types::Uuid)]
                id: uuid::Uuid,
            }
            let conn = &mut app.pool.get().await.unwrap();
            let found: Id = diesel::sql_query(sql).get_result(conn).await.unwrap();
            found.id
        };
        let org = &theirs.org.id;
        (
            one(format!(
                "SELECT id FROM phone_numbers WHERE organization_id = '{org}'"
            ))
            .await,
            one(format!(
                "INSERT INTO email_addresses (id, organization_id, address) \
                 VALUES ('{}', '{org}', 'front@their.example') RETURNING id",
                uuid::Uuid::now_v7()
            ))
            .await,
            one(format!(
                "SELECT id FROM contact_methods WHERE contact_id = '{}'",
                theirs.contact_id
            ))
            .await,
            one(format!(
                "SELECT id FROM users WHERE organization_id = '{org}' LIMIT 1"
            ))
            .await,
        )
    };
    for (column, id) in [
        ("phone_number_id", their_number),
        ("email_address_id", their_address),
        ("contact_method_id", their_entry),
        ("sender_user_id", their_operator),
    ] {
        let cross_record = diesel::sql_query(format!(
            "INSERT INTO messages (id, organization_id, contact_id, {column}, channel, direction, status, source) \
             VALUES ('{}', '{}', '{}', '{id}', 'sms', 'outbound', 'queued', 'api')",
            uuid::Uuid::now_v7(),
            ours.org.id,
            ours.contact_id
        ))
        .execute(&mut conn)
        .await;
        let error = cross_record.expect_err(column);
        assert!(
            error.to_string().contains("not its organisation's"),
            "{column}: {error}"
        );
    }

    let cross_message = diesel::sql_query(format!(
        "INSERT INTO message_attachments (id, organization_id, message_id, storage_key, content_type, file_name, file_size) \
         VALUES ('{}', '{}', '{}', 'k', 'image/png', 'a.png', 1)",
        uuid::Uuid::now_v7(),
        ours.org.id,
        message["id"].as_str().unwrap()
    ))
    .execute(&mut conn)
    .await;
    assert!(
        cross_message.is_err(),
        "an attachment naming another organisation's message"
    );
}
