//! Bad input gets a 4xx with a JSON error that names the problem, and writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, TestApp, PASSWORD};

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
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(error["field"], "limit");

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

/// PostgreSQL cannot store a NUL character: one in any text a client sends is refused
/// where the input is parsed, naming the field, and nothing is written.
#[actix_web::test]
async fn a_nul_character_in_any_input_is_refused_by_name() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let token = &chat.org.token;

    let (status, body) = app
        .post("/api/contacts", token, json!({"name": "Ann\u{0}Lee"}))
        .await;
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field");
    assert_eq!(error["field"], "name");
    let (status, body) = app
        .post(
            "/api/contacts",
            token,
            json!({"name": "Ann", "phones": [{"phone_number": "+14155550123", "label": "m\u{0}"}]}),
        )
        .await;
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field");
    assert_eq!(error["field"], "phones[0].label");
    let (status, body) = app
        .post(
            "/api/messages/send",
            token,
            json!({"contact_id": chat.contact_id, "channel": "sms", "body": "Hi\u{0}"}),
        )
        .await;
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field");
    assert_eq!(error["field"], "body");
    // An escaped backslash before `u0000` is text, not a NUL.
    let (status, body) = app
        .post("/api/contacts", token, json!({"name": "C:\\u0000 drive"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = app.get("/api/contacts?search=ann%00", token).await;
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(error["field"], "search");
    let (status, body) = app.get("/api/contacts/%00", token).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_path");

    let mut inbound = crate::helpers::form(&[
        ("AccountSid", crate::helpers::TWILIO_ACCOUNT),
        ("From", "+14155550111"),
        ("To", "+14155550100"),
        ("Body", "STOP\u{0}"),
    ]);
    inbound.push(("MessageSid".into(), "SM1".into()));
    let (status, text) = app
        .post_signed(
            "/webhooks/twilio/inbound",
            &inbound,
            crate::helpers::TWILIO_TOKEN,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field");
    assert_eq!(error["field"], "Body");

    let (_, list) = app.get("/api/contacts", token).await;
    assert_eq!(
        list["contacts"].as_array().unwrap().len(),
        2,
        "only the clinic's contact and the one without a NUL: {list}"
    );
    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            token,
        )
        .await;
    assert_eq!(
        history["messages"],
        json!([]),
        "nothing was sent or received"
    );
}

#[actix_web::test]
async fn the_socket_route_without_a_handshake_answers_json() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let (status, body) = app.get("/ws", &org.token).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "not_a_websocket");
}

#[actix_web::test]
async fn unbounded_or_unprintable_settings_are_refused() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let token = &chat.org.token;

    for host in [
        "smtp.example.com\r\nRCPT TO:<x@y>",
        "mail host",
        "smtp\u{7}.example.com",
    ] {
        let (status, body) = app
            .patch(
                "/api/organization/settings",
                token,
                json!({"smtp_host": host}),
            )
            .await;
        let error = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
        assert_eq!(error["field"], "smtp_host", "{host:?}");
    }
    let (status, body) = app
        .patch(
            "/api/organization/settings",
            token,
            json!({"smtp_host": "smtp.example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = app
        .post(
            "/api/messages/notes",
            token,
            json!({"contact_id": chat.contact_id, "body": "x".repeat(10_001)}),
        )
        .await;
    let error = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert_eq!(error["field"], "body");

    let (status, body) = app
        .patch(
            "/api/phi/policy",
            token,
            json!({"allowed_terms": ["Dr. Patel", "y".repeat(101)]}),
        )
        .await;
    let error = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert_eq!(error["field"], "allowed_terms[1]");
    let many: Vec<String> = (0..501).map(|n| format!("term {n}")).collect();
    let (status, body) = app
        .patch("/api/phi/policy", token, json!({"allowed_terms": many}))
        .await;
    let error = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert_eq!(error["field"], "allowed_terms");
}

#[actix_web::test]
async fn an_oversize_webhook_body_gets_the_json_error() {
    let app = TestApp::spawn().await;
    let huge = vec![("Body".to_string(), "x".repeat(300 * 1024))];
    let (status, text) = app
        .post_webhook("/webhooks/twilio/inbound", &huge, Some("unchecked"))
        .await;
    let body: serde_json::Value = serde_json::from_str(&text).expect("a JSON error");
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

#[actix_web::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/api/me", "/api/no-such-route"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_string())
                .unwrap_or_else(|| panic!("{path} answers without {name}"))
        };
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("referrer-policy"), "same-origin");
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "no HSTS over plain http"
        );
    }
}

/// Behind TLS (the public URL is https), browsers are told to stay on https and the
/// session cookies are never sent over plain http.
#[actix_web::test]
async fn behind_an_https_public_url_answers_carry_hsts_and_cookies_are_secure() {
    let app = TestApp::spawn_with(|settings| {
        settings.server.public_url = Some("https://switchboard.example.org".into());
    })
    .await;
    let org = app.create_org("Clinic").await;
    let response = app
        .request(Method::POST, "/api/auth/login", None)
        .json(&json!({"email": org.admin_email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let hsts = response.headers().get("strict-transport-security");
    assert_eq!(hsts.unwrap(), "max-age=31536000");
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    assert!(!cookies.is_empty(), "a login sets the session cookie");
    for cookie in cookies {
        assert!(cookie.contains("; Secure"), "{cookie}");
    }
}
