//! The organisation's phone numbers, email addresses and carrier settings.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard::db::schema::organization_settings;

use crate::helpers::{assert_error, TestApp};

#[actix_web::test]
async fn admins_manage_phone_numbers_and_agents_read_them() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let agent = app.create_agent(&org).await;

    let (status, number) = app
        .post("/api/phone-numbers", &org.token, json!({"phone_number": "(415) 555-0100", "label": "Front desk", "twilio_sid": "PN0123456789abcdef0123456789abcdef"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{number}");
    assert_eq!(number["phone_number"], "+14155550100");
    let path = format!("/api/phone-numbers/{}", number["id"].as_str().unwrap());

    let (status, list) = app.get("/api/phone-numbers", &agent).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["phone_numbers"], json!([number]));

    let (status, body) = app
        .post(
            "/api/phone-numbers",
            &agent,
            json!({"phone_number": "+14155550101"}),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app.patch(&path, &agent, json!({"label": "Mine"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app.delete(&path, &agent).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    let (status, body) = app
        .post(
            "/api/phone-numbers",
            &org.token,
            json!({"phone_number": "+1 415 555 0100"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = app
        .post(
            "/api/phone-numbers",
            &org.token,
            json!({"phone_number": "+14155550102", "twilio_sid": "nope"}),
        )
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
        "twilio_sid"
    );

    let (status, edited) = app
        .patch(
            &path,
            &org.token,
            json!({"label": "Main line", "twilio_sid": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["label"], "Main line");
    assert_eq!(edited["twilio_sid"], Value::Null);

    assert_eq!(
        app.delete(&path, &org.token).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&path, &org.token).await.0, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn admins_manage_email_addresses_and_agents_read_them() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let agent = app.create_agent(&org).await;

    let (status, address) = app
        .post(
            "/api/email-addresses",
            &org.token,
            json!({"address": "desk@acme.example", "display_name": "Acme Front Desk"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{address}");
    let path = format!("/api/email-addresses/{}", address["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &agent).await.1, address);

    let (status, body) = app
        .post(
            "/api/email-addresses",
            &agent,
            json!({"address": "x@acme.example"}),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .post(
            "/api/email-addresses",
            &org.token,
            json!({"address": "DESK@acme.example"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = app
        .post(
            "/api/email-addresses",
            &org.token,
            json!({"address": "desk"}),
        )
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
        "address"
    );

    let (status, edited) = app
        .patch(&path, &org.token, json!({"display_name": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edited["display_name"], Value::Null);
    assert_eq!(
        app.delete(&path, &org.token).await.0,
        StatusCode::NO_CONTENT
    );
}

#[actix_web::test]
async fn settings_keep_secrets_encrypted_and_never_return_them() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme").await;
    let agent = app.create_agent(&org).await;

    let (status, body) = app.get("/api/organization/settings", &agent).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    let (status, settings) = app
        .patch(
            "/api/organization/settings",
            &org.token,
            json!({
                "twilio_account_sid": "AC0123456789abcdef0123456789abcdef",
                "twilio_auth_token": "super-secret-auth-token",
                "smtp_host": "smtp.example.com",
                "smtp_port": 587,
                "smtp_username": "mailer",
                "smtp_password": "smtp-secret-password",
                "smtp_security": "starttls"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(
        settings["twilio_account_sid"],
        "AC0123456789abcdef0123456789abcdef"
    );
    assert_eq!(settings["twilio_auth_token_set"], true);
    assert_eq!(settings["smtp_password_set"], true);
    let text = settings.to_string();
    assert!(
        !text.contains("super-secret-auth-token") && !text.contains("smtp-secret-password"),
        "{text}"
    );
    assert_eq!(
        app.get("/api/organization/settings", &org.token).await.1,
        settings
    );

    let mut conn = app.pool.get().await.unwrap();
    let stored: Vec<u8> = organization_settings::table
        .select(organization_settings::twilio_auth_token_encrypted.assume_not_null())
        .first(&mut conn)
        .await
        .unwrap();
    assert!(
        !stored.windows(10).any(|w| w == b"super-secr"),
        "the token is stored encrypted"
    );

    let (status, body) = app
        .patch(
            "/api/organization/settings",
            &org.token,
            json!({"twilio_account_sid": "AC123", "smtp_host": "other.example"}),
        )
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
        "twilio_account_sid"
    );
    let (status, body) = app
        .patch(
            "/api/organization/settings",
            &org.token,
            json!({"smtp_security": "ssl"}),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_field");
    assert_eq!(
        app.get("/api/organization/settings", &org.token).await.1,
        settings,
        "refused changes wrote nothing"
    );

    let (status, cleared) = app
        .patch(
            "/api/organization/settings",
            &org.token,
            json!({"twilio_auth_token": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cleared["twilio_auth_token_set"], false);
    assert_eq!(cleared["smtp_password_set"], true);
}
