//! `POST /api/phi/check`: findings for a draft, with the organisation's and the
//! recipient's own details allowed.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, TestApp};

#[actix_web::test]
async fn a_draft_is_vetted_with_the_organisations_and_recipients_details_allowed() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;

    let draft =
        "Hi Maria, your DOB 04/12/1961 and SSN 123-45-6788 are on file. Call us at (415) 555-0100.";
    let (status, verdict) = app
        .post(
            "/api/phi/check",
            &chat.org.token,
            json!({"body": draft, "contact_id": chat.contact_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    let kinds: Vec<&str> = verdict["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["date_of_birth", "ssn"],
        "the clinic's own number is not PHI"
    );
    assert_eq!(verdict["blocked"], true);
    assert_eq!(verdict["findings"][1]["excerpt"], "•••-••-••88");
    assert_eq!(verdict["findings"][1]["rule"], "ssn_with_context");

    let (_, verdict) = app
        .post("/api/phi/check", &chat.org.token, json!({"body": "See you at 3pm! Text (415) 555-0111 if late.", "contact_id": chat.contact_id}))
        .await;
    assert_eq!(
        verdict["findings"],
        json!([]),
        "the recipient's own number is not PHI either"
    );
    assert_eq!(verdict["blocked"], false);

    let (_, verdict) = app
        .post(
            "/api/phi/check",
            &chat.org.token,
            json!({"body": "Ask for Dr. Lee at 415-555-0199"}),
        )
        .await;
    assert_eq!(verdict["findings"][0]["kind"], "phone");
    assert_eq!(verdict["blocked"], false, "a phone number only warns");

    let outsider = app.create_org("Other").await;
    let (status, body) = app
        .post(
            "/api/phi/check",
            &outsider.token,
            json!({"body": "hi", "contact_id": chat.contact_id}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}
