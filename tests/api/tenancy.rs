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
