//! Bad input gets a 4xx with a JSON error that names the problem, and writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, TestApp};

#[actix_web::test]
async fn malformed_and_mistyped_bodies_are_named() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let post_raw = |body: &'static str| {
        app.send(
            app.request(Method::POST, "/api/contacts", Some(&org.token))
                .header("content-type", "application/json")
                .body(body),
        )
    };

    let (status, body) = post_raw("{\"name\": ").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "malformed_json");
    let (status, body) = post_raw("").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "malformed_json");

    let (status, body) = post_raw(r#"{"name": "Ann", "nickname": "A"}"#).await;
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field");
    assert!(
        error["message"].as_str().unwrap().contains("nickname"),
        "{error}"
    );

    let (status, body) = post_raw(r#"{"name": 42}"#).await;
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field");
    assert_eq!(error["field"], "name");

    let (status, body) = post_raw(r#"{"phones": []}"#).await;
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field");
    assert!(
        error["message"].as_str().unwrap().contains("name"),
        "{error}"
    );

    let (status, body) = post_raw(
        r#"{"name": "Ann", "emails": [{"email": "a@example.com", "is_preferred": "yes"}]}"#,
    )
    .await;
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field");
    assert_eq!(error["field"], "emails[0].is_preferred");

    let (_, list) = app.get("/api/contacts", &org.token).await;
    assert_eq!(list["contacts"], json!([]), "no bad request wrote anything");
}

#[actix_web::test]
async fn oversize_and_non_json_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;

    let huge = json!({ "name": "x".repeat(100 * 1024) });
    let (status, body) = app.post("/api/contacts", &org.token, huge).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );

    let (status, body) = app
        .send(
            app.request(Method::POST, "/api/contacts", Some(&org.token))
                .header("content-type", "text/plain")
                .body("name=Ann"),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    let (_, list) = app.get("/api/contacts", &org.token).await;
    assert_eq!(list["contacts"], json!([]));
}

#[actix_web::test]
async fn bad_ids_queries_and_routes_get_json_errors() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;

    let (status, body) = app.get("/api/contacts/not-a-uuid", &org.token).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_path");

    let (status, body) = app
        .get(
            &format!("/api/contacts/{}", uuid::Uuid::now_v7()),
            &org.token,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let (status, body) = app.get("/api/contacts?limit=lots", &org.token).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");

    let (status, body) = app.get("/api/no-such-thing", &org.token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "unknown_route");

    let (status, body) = app
        .send(app.request(Method::PUT, "/api/me", Some(&org.token)))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "unknown_route");
}

#[actix_web::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let (status, body) = app.send(app.request(Method::GET, "/healthz", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, body) = app.send(app.request(Method::GET, "/readyz", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["database"], "ok");
}
