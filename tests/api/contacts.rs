use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard::db::schema::contacts;

use crate::helpers::{assert_error, TestApp};

fn ids(list: &Value) -> Vec<String> {
    list["contacts"]
        .as_array()
        .expect("contacts array")
        .iter()
        .map(|contact| contact["id"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn a_contact_is_created_with_normalised_phones_and_emails() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let contact = app
        .create_contact(
            &org.token,
            json!({
                "name": "  Maria Garcia ",
                "lead_id": "L-42",
                "phones": [
                    {"phone_number": "(415) 555-0111", "label": "mobile"},
                    {"phone_number": "+44 20 7946 0958", "label": "work", "is_preferred": true}
                ],
                "emails": [{"email": " maria@example.com ", "label": "personal"}]
            }),
        )
        .await;
    assert_eq!(contact["name"], "Maria Garcia");
    assert_eq!(contact["lead_id"], "L-42");
    assert_eq!(contact["last_contacted_at"], Value::Null);
    let phones = contact["phones"].as_array().unwrap();
    assert_eq!(phones.len(), 2);
    assert_eq!(
        phones[0]["phone_number"], "+442079460958",
        "preferred comes first"
    );
    assert_eq!(phones[0]["is_preferred"], true);
    assert_eq!(phones[1]["phone_number"], "+14155550111");
    assert_eq!(phones[1]["is_preferred"], false);
    assert_eq!(contact["emails"][0]["email"], "maria@example.com");
    assert_eq!(
        contact["emails"][0]["is_preferred"], true,
        "a lone entry is preferred"
    );

    let (status, fetched) = app
        .get(
            &format!("/api/contacts/{}", contact["id"].as_str().unwrap()),
            &org.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, contact);
}

#[actix_web::test]
async fn invalid_phone_numbers_are_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    for bad in ["12", "not a phone", "+1 415 555", "+999 12345678"] {
        let (status, body) = app
            .post(
                "/api/contacts",
                &org.token,
                json!({"name": "Ann", "phones": [{"phone_number": "+14155550111"}, {"phone_number": bad}]}),
            )
            .await;
        let error = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
        assert_eq!(error["field"], "phones[1].phone_number", "{bad}");
    }
    let (_, list) = app.get("/api/contacts", &org.token).await;
    assert!(ids(&list).is_empty(), "no contact was half-created");
}

#[actix_web::test]
async fn only_one_entry_of_a_kind_can_be_preferred() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let (status, body) = app
        .post(
            "/api/contacts",
            &org.token,
            json!({"name": "Ann", "phones": [
                {"phone_number": "+14155550111", "is_preferred": true},
                {"phone_number": "+14155550122", "is_preferred": true}
            ]}),
        )
        .await;
    let error = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert_eq!(error["field"], "phones");

    let contact = app
        .create_contact(
            &org.token,
            json!({"name": "Ann", "phones": [{"phone_number": "+14155550111"}]}),
        )
        .await;
    let id = contact["id"].as_str().unwrap();
    let first_phone = contact["phones"][0]["id"].as_str().unwrap().to_string();

    // Adding a preferred phone moves the preference.
    let (status, added) = app
        .post(
            &format!("/api/contacts/{id}/phones"),
            &org.token,
            json!({"phone_number": "415-555-0122", "label": "work", "is_preferred": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["phone_number"], "+14155550122");
    assert_eq!(added["is_preferred"], true);
    let (_, contact) = app.get(&format!("/api/contacts/{id}"), &org.token).await;
    let preferred: Vec<&Value> = contact["phones"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["is_preferred"] == true)
        .collect();
    assert_eq!(preferred.len(), 1);
    assert_eq!(preferred[0]["id"], added["id"]);

    // The preference cannot simply be removed...
    let added_id = added["id"].as_str().unwrap();
    let (status, body) = app
        .patch(
            &format!("/api/contacts/{id}/phones/{added_id}"),
            &org.token,
            json!({"is_preferred": false}),
        )
        .await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");

    // ...but moves back when another entry is marked preferred.
    let (status, body) = app
        .patch(
            &format!("/api/contacts/{id}/phones/{first_phone}"),
            &org.token,
            json!({"is_preferred": true, "label": "home"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_preferred"], true);
    assert_eq!(body["label"], "home");

    // Removing the preferred entry promotes the remaining one.
    let (status, _) = app
        .delete(
            &format!("/api/contacts/{id}/phones/{first_phone}"),
            &org.token,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, contact) = app.get(&format!("/api/contacts/{id}"), &org.token).await;
    assert_eq!(contact["phones"].as_array().unwrap().len(), 1);
    assert_eq!(contact["phones"][0]["id"], added["id"]);
    assert_eq!(contact["phones"][0]["is_preferred"], true);
}

#[actix_web::test]
async fn phones_and_emails_are_added_edited_and_removed() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let contact = app.create_contact(&org.token, json!({"name": "Ann"})).await;
    let id = contact["id"].as_str().unwrap();

    let (status, email) = app
        .post(
            &format!("/api/contacts/{id}/emails"),
            &org.token,
            json!({"email": "ann@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{email}");
    assert_eq!(
        email["is_preferred"], true,
        "the first email becomes preferred"
    );
    let email_id = email["id"].as_str().unwrap();

    let (status, edited) = app
        .patch(
            &format!("/api/contacts/{id}/emails/{email_id}"),
            &org.token,
            json!({"email": "ann@work.example", "label": "work"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["email"], "ann@work.example");
    assert_eq!(edited["label"], "work");

    let (status, body) = app
        .patch(
            &format!("/api/contacts/{id}/emails/{email_id}"),
            &org.token,
            json!({"email": "not-an-email"}),
        )
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
        "email"
    );

    let (status, body) = app
        .post(
            &format!("/api/contacts/{id}/emails"),
            &org.token,
            json!({"email": "ANN@work.example"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");

    // An email id is not a phone id.
    let (status, body) = app
        .delete(&format!("/api/contacts/{id}/phones/{email_id}"), &org.token)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let (status, _) = app
        .delete(&format!("/api/contacts/{id}/emails/{email_id}"), &org.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, contact) = app.get(&format!("/api/contacts/{id}"), &org.token).await;
    assert_eq!(contact["emails"], json!([]));
}

#[actix_web::test]
async fn a_contact_is_edited_and_deleted() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let contact = app
        .create_contact(&org.token, json!({"name": "Ann", "lead_id": "L-1", "partner_id": "P-1", "phones": [{"phone_number": "+14155550111"}]}))
        .await;
    let id = contact["id"].as_str().unwrap();

    let (status, edited) = app
        .patch(
            &format!("/api/contacts/{id}"),
            &org.token,
            json!({"name": "Ann Lee", "lead_id": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["name"], "Ann Lee");
    assert_eq!(edited["lead_id"], Value::Null, "null clears");
    assert_eq!(edited["partner_id"], "P-1", "absent leaves alone");

    let (status, body) = app
        .patch(
            &format!("/api/contacts/{id}"),
            &org.token,
            json!({"name": "  "}),
        )
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
        "name"
    );

    let (status, _) = app.delete(&format!("/api/contacts/{id}"), &org.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get(&format!("/api/contacts/{id}"), &org.token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.delete(&format!("/api/contacts/{id}"), &org.token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[actix_web::test]
async fn search_matches_name_phone_and_email() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let maria = app
        .create_contact(&org.token, json!({"name": "Maria Garcia", "phones": [{"phone_number": "+14155550111"}], "emails": [{"email": "mg@example.com"}]}))
        .await;
    let james = app
        .create_contact(&org.token, json!({"name": "James Chen", "phones": [{"phone_number": "+14155550122"}], "emails": [{"email": "jchen@clinic.example"}]}))
        .await;
    app.create_contact(&org.token, json!({"name": "100% Real_Name"}))
        .await;

    let search = |q: &str| {
        let app = &app;
        let token = org.token.clone();
        let q = q.to_string();
        async move {
            let url = reqwest::Url::parse_with_params(
                &format!("{}/api/contacts", app.address),
                &[("search", q.as_str())],
            )
            .unwrap();
            let (status, body) = app.send(app.client.get(url).bearer_auth(token)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            ids(&body)
        }
    };
    let maria_id = maria["id"].as_str().unwrap().to_string();
    let james_id = james["id"].as_str().unwrap().to_string();
    assert_eq!(
        search("garc").await,
        vec![maria_id.clone()],
        "by part of the name, any case"
    );
    assert_eq!(
        search("CLINIC.example").await,
        vec![james_id.clone()],
        "by email"
    );
    assert_eq!(
        search("5550122").await,
        vec![james_id.clone()],
        "by phone digits"
    );
    assert_eq!(
        search("(415) 555-0111").await,
        vec![maria_id.clone()],
        "by a formatted phone"
    );
    assert_eq!(
        search("%").await.len(),
        1,
        "LIKE wildcards match only themselves"
    );
    assert!(search("nobody").await.is_empty());
}

#[actix_web::test]
async fn the_list_is_ordered_by_last_contact_and_paginates_without_gaps() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let mut created = Vec::new();
    for index in 0..7 {
        let contact = app
            .create_contact(&org.token, json!({"name": format!("Contact {index}")}))
            .await;
        created.push(contact["id"].as_str().unwrap().to_string());
    }
    // Contacts 1, 3 and 5 were contacted (5 most recently, 3 and 1 at the same moment);
    // the rest never were.
    let now = Utc::now();
    let mut conn = app.pool.get().await.unwrap();
    for (index, at) in [
        (5, now),
        (3, now - Duration::hours(1)),
        (1, now - Duration::hours(1)),
    ] {
        let id: uuid::Uuid = created[index].parse().unwrap();
        diesel::update(
            contacts::table.filter(contacts::id.eq(switchboard::db::ids::ContactId(id))),
        )
        .set(contacts::last_contacted_at.eq(Some(at)))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    // Same time: newest id first. Never contacted: last, newest first.
    let expected: Vec<String> = [5, 3, 1, 6, 4, 2, 0]
        .iter()
        .map(|&i| created[i].clone())
        .collect();

    let (_, all) = app.get("/api/contacts", &org.token).await;
    assert_eq!(ids(&all), expected);
    assert_eq!(all["next_cursor"], Value::Null);

    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/contacts?limit=2&cursor={cursor}"),
            None => "/api/contacts?limit=2".to_string(),
        };
        let (status, page) = app.get(&path, &org.token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let page_ids = ids(&page);
        assert!(page_ids.len() <= 2);
        paged.extend(page_ids);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(paged.len() <= expected.len(), "pagination must end");
    }
    assert_eq!(paged, expected, "every contact exactly once, in order");

    let (status, body) = app.get("/api/contacts?cursor=garbage", &org.token).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query")["field"],
        "cursor"
    );
    let (status, body) = app.get("/api/contacts?limit=0", &org.token).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query")["field"],
        "limit"
    );
}
