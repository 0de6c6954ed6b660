//! Who did what: the audit log an admin reads, and the login throttle that stops
//! password guessing.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp, PASSWORD};

async fn try_login(
    app: &TestApp,
    email: &str,
    password: &str,
) -> (StatusCode, Option<String>, Value) {
    let response = app
        .request(Method::POST, "/api/auth/login", None)
        .header("user-agent", "front-desk-browser")
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_string());
    (status, retry_after, response.json().await.unwrap())
}

#[actix_web::test]
async fn guessing_a_password_is_throttled_alike_for_known_and_unknown_accounts() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clinic").await;

    for email in [org.admin_email.as_str(), "nobody@example.com"] {
        for _ in 0..5 {
            let (status, retry_after, body) = try_login(&app, email, "not the password").await;
            assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
            assert_eq!(retry_after, None);
        }
        // The right password no longer helps, and an unknown account reads the same.
        let (status, retry_after, body) = try_login(&app, email, PASSWORD).await;
        let error = assert_error(
            status,
            &body,
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
        );
        assert!(!error["message"].as_str().unwrap().contains(email));
        let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((1..=15 * 60).contains(&seconds), "{seconds}");
    }

    let failed = app.audit_entries(&org.token, "auth.login_failed").await;
    assert_eq!(failed.len(), 5, "{failed:#?}");
    assert_eq!(failed[0]["details"]["user_agent"], "front-desk-browser");
    assert_eq!(failed[0]["details"]["address"], "127.0.0.1");
    let locked = app.audit_entries(&org.token, "auth.locked").await;
    assert_eq!(locked.len(), 1, "the lock-out is audited once: {locked:#?}");
}

#[actix_web::test]
async fn a_successful_login_clears_the_accounts_failures() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clinic").await;
    for _ in 0..4 {
        try_login(&app, &org.admin_email, "typo").await;
    }
    let (status, _, body) = try_login(&app, &org.admin_email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for _ in 0..4 {
        try_login(&app, &org.admin_email, "typo again").await;
    }
    let (status, _, body) = try_login(&app, &org.admin_email, PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "four failures after a success are not five: {body}"
    );
}

/// Guesses sent all at once meet the same limit as guesses sent one after another: an
/// attacker cannot outrun the count by asking in parallel.
#[actix_web::test]
async fn parallel_guesses_are_throttled_like_serial_ones() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clinic").await;
    let guesses = (0..12).map(|i| {
        let (app, email) = (&app, org.admin_email.as_str());
        async move { try_login(app, email, &format!("guess {i}")).await.0 }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|status| **status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (checked, refused),
        (5, 7),
        "five passwords checked, the rest refused: {statuses:?}"
    );
}

/// Operators come from the command line (`org create`, `user create`); each one made is
/// in the audit log with the role and permissions it was given, never its password.
#[actix_web::test]
async fn every_operator_created_is_audited_with_role_and_permissions() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clinic").await;
    app.create_agent_with(&org, &["sms.admin".to_string()])
        .await;

    let created = app.audit_entries(&org.token, "user.created").await;
    assert_eq!(created.len(), 2, "the admin and the agent: {created:#?}");
    let agent = &created[0]["details"];
    assert_eq!(agent["role"], "agent");
    assert_eq!(agent["permissions"], json!(["sms.admin"]));
    assert!(agent["email"].as_str().unwrap().starts_with("agent-"));
    let admin = &created[1]["details"];
    assert_eq!(admin["role"], "admin");
    assert_eq!(admin["email"], org.admin_email.as_str());
    let log = serde_json::to_string(&created).unwrap();
    assert!(!log.contains(PASSWORD) && !log.contains("argon2"), "{log}");
}

#[actix_web::test]
async fn the_audit_log_records_changes_with_their_actor_and_never_secrets() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let token = &chat.org.token;

    let (status, body) = app
        .patch(
            "/api/organization/settings",
            token,
            json!({"smtp_host": "smtp.example.com", "smtp_password": "hunter2-secret"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .patch(
            "/api/phi/policy",
            token,
            json!({"allowed_terms": ["Dr. Patel"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, message) = app
        .post(
            "/api/messages/send",
            token,
            json!({
                "contact_id": chat.contact_id, "channel": "sms",
                "body": "Confirming your SSN 123-45-6788 for billing",
                "phi_override": {"reason": "Patient asked in writing"},
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    let (status, _) = app
        .delete(&format!("/api/contacts/{}", chat.contact_id), token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, page) = app.get("/api/audit-log", token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let all = page["entries"].as_array().unwrap();
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "contact.deleted",
            "phi.override",
            "phi.policy_changed",
            "settings.changed",
            "auth.login",
            "user.created"
        ],
        "newest first: {page:#}"
    );
    let settings = &all[3];
    assert_eq!(
        settings["details"]["changed"],
        json!(["smtp_host", "smtp_password"])
    );
    assert!(!page.to_string().contains("hunter2"), "no secret's value");
    assert!(!page.to_string().contains("6788"), "no message text");
    assert_eq!(all[1]["subject_id"], message["id"]);
    // Each change names who made it; the operator's creation came from the command line.
    assert!(all[..5].iter().all(|e| e["user_id"].is_string()));
    assert!(all[5]["user_id"].is_null());

    // Paged, and filtered by actor.
    let (_, first) = app.get("/api/audit-log?limit=2", token).await;
    assert_eq!(first["entries"].as_array().unwrap().len(), 2);
    let before = first["next_before"].as_str().unwrap();
    let (_, second) = app
        .get(&format!("/api/audit-log?limit=2&before={before}"), token)
        .await;
    assert_eq!(second["entries"][0]["action"], "phi.policy_changed");
    let actor = all[0]["user_id"].as_str().unwrap();
    let (_, mine) = app
        .get(&format!("/api/audit-log?actor={actor}"), token)
        .await;
    assert_eq!(
        mine["entries"].as_array().unwrap().len(),
        all.len() - 1,
        "all but the creation, which no operator made"
    );

    // Admins only, their own organisation only, and bad filters are named.
    let agent = app.create_agent(&chat.org).await;
    let (status, body) = app.get("/api/audit-log", &agent).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let other = app.create_org("Elsewhere").await;
    let (_, theirs) = app.get("/api/audit-log", &other.token).await;
    let theirs: Vec<&str> = theirs["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(theirs, ["auth.login", "user.created"]);
    let (status, body) = app.get("/api/audit-log?since=yesterday", token).await;
    let error = assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(error["field"], "since");

    let (status, _) = app
        .send(app.request(Method::POST, "/api/auth/logout", Some(token)))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let admin = app.login(&chat.org.admin_email, PASSWORD).await;
    let logouts = app.audit_entries(&admin, "auth.logout").await;
    assert_eq!(logouts.len(), 1);
}
