//! Uploads and MMS: files checked as they arrive, stored, linked once, sent to Twilio as
//! signed URLs that return the exact bytes.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, poll_until, Conversation, TestApp, WsClient};
use crate::twilio_standin::TwilioStandIn;

pub fn png(size: usize) -> Vec<u8> {
    let mut bytes = vec![
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R',
    ];
    bytes.extend((0..size.saturating_sub(16)).map(|i| (i % 251) as u8));
    bytes
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

pub async fn upload(
    app: &TestApp,
    token: &str,
    channel: &str,
    files: Vec<(&str, &str, Vec<u8>)>,
) -> (StatusCode, Value) {
    let mut form = Form::new();
    for (name, content_type, bytes) in files {
        form = form.part(
            "file",
            Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str(content_type)
                .unwrap(),
        );
    }
    let request = app
        .client
        .post(format!(
            "{}/api/messages/upload?channel={channel}",
            app.address
        ))
        .bearer_auth(token)
        .multipart(form);
    app.send(request).await
}

fn stored_files(org_id: &str) -> usize {
    let dir = std::env::temp_dir()
        .join("switchboard-tests")
        .join("attachments")
        .join(org_id);
    walk(&dir)
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|entry| {
                if entry.path().is_dir() {
                    walk(&entry.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

/// A clinic whose Twilio stand-in accepts every send.
pub async fn clinic_with_twilio() -> (TestApp, Conversation, TwilioStandIn) {
    let twilio = TwilioStandIn::start().await;
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |_| {}).await;
    (app, chat, twilio)
}

#[actix_web::test]
async fn an_mms_reaches_twilio_with_one_url_per_file_serving_the_exact_bytes() {
    let (app, chat, twilio) = clinic_with_twilio().await;
    let photo = png(40_000);
    let document = pdf();
    let (status, uploaded) = upload(
        &app,
        &chat.org.token,
        "sms",
        vec![
            ("photo.png", "image/png", photo.clone()),
            ("results.pdf", "application/octet-stream", document.clone()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let attachments = uploaded["attachments"].as_array().unwrap();
    assert_eq!(
        attachments[1]["content_type"], "application/pdf",
        "sniffed, not taken from the label"
    );
    let ids: Vec<Value> = attachments.iter().map(|a| a["id"].clone()).collect();

    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let request =
        json!({"contact_id": chat.contact_id, "channel": "sms", "body": "", "attachment_ids": ids});
    let (status, message) = app
        .post("/api/messages/send", &chat.org.token, request)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(
        message["attachments"].as_array().unwrap().len(),
        2,
        "attachment-only messages are allowed"
    );
    tab.statuses_until(message["id"].as_str().unwrap(), |data| {
        data["external_id"].is_string()
    })
    .await;

    let sent = &twilio.sent()[0];
    let media: Vec<&str> = sent.fields("MediaUrl").collect();
    assert_eq!(media.len(), 2);
    for (url, expected) in media.iter().zip([&photo, &document]) {
        let response = reqwest::get(*url).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert_eq!(
            &response.bytes().await.unwrap().to_vec(),
            expected,
            "{url} returns the exact bytes"
        );
    }

    // Tampered and expired links are refused.
    let tampered = media[0].replace("signature=", "signature=x");
    assert_eq!(
        reqwest::get(&tampered).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let key = media[0]
        .split("/media/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let secrets = switchboard::secrets::SecretKey::from_secret(
        "test-secret-key-that-is-long-enough-0123456789",
    )
    .unwrap();
    let past = chrono::Utc::now().timestamp() - 10;
    let expired = format!(
        "{}/media/{key}?expires={past}&signature={}",
        app.address,
        secrets.sign_media(key, past)
    );
    assert_eq!(
        reqwest::get(&expired).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // A linked attachment cannot be linked again.
    let again = json!({"contact_id": chat.contact_id, "channel": "sms", "body": "again", "attachment_ids": [ids[0]]});
    let (status, body) = app.post("/api/messages/send", &chat.org.token, again).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    // Nor with an idempotency key of its own (not a replay of anything).
    let keyed = json!({"contact_id": chat.contact_id, "channel": "sms", "body": "again",
        "attachment_ids": [ids[0]], "client_id": "fresh-key-for-a-taken-file"});
    let (status, body) = app.post("/api/messages/send", &chat.org.token, keyed).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");

    // The operator's link redirects to a signed URL; another organisation gets a 404.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let attachment_url = format!(
        "{}/api/attachments/{}",
        app.address,
        ids[0].as_str().unwrap()
    );
    let response = no_redirects
        .get(&attachment_url)
        .bearer_auth(&chat.org.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(response.headers()["location"]
        .to_str()
        .unwrap()
        .contains("signature="));
    let outsider = app.create_org("Other").await;
    let response = no_redirects
        .get(&attachment_url)
        .bearer_auth(&outsider.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn oversize_and_wrong_type_uploads_are_refused_and_leave_nothing() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clinic").await;

    let (status, body) = upload(
        &app,
        &org.token,
        "sms",
        vec![("huge.png", "image/png", png(6 * 1024 * 1024))],
    )
    .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert!(
        error["message"].as_str().unwrap().contains("huge.png"),
        "names the file: {error}"
    );

    let (status, body) = upload(
        &app,
        &org.token,
        "sms",
        vec![
            ("fine.png", "image/png", png(1000)),
            (
                "tool.exe",
                "image/png",
                b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".to_vec(),
            ),
        ],
    )
    .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert!(
        error["message"].as_str().unwrap().contains("tool.exe"),
        "{error}"
    );

    let (status, body) = app
        .post("/api/messages/upload", &org.token, json!({}))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    assert_eq!(stored_files(&org.id), 0, "no object is left behind");
    let rows: i64 = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use switchboard::db::schema::message_attachments;
        message_attachments::table
            .count()
            .get_result(&mut app.pool.get().await.unwrap())
            .await
            .unwrap()
    };
    assert_eq!(rows, 0, "and no row");

    // Email allows more than an MMS.
    let (status, body) = upload(
        &app,
        &org.token,
        "email",
        vec![("big.png", "image/png", png(6 * 1024 * 1024))],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[actix_web::test]
async fn housekeeping_removes_stale_pending_uploads_and_keeps_linked_ones() {
    let app = TestApp::spawn_with(|settings| settings.attachments.housekeeping_secs = 1).await;
    let chat = app.conversation().await;
    let (_, uploaded) = upload(
        &app,
        &chat.org.token,
        "sms",
        vec![
            ("kept.png", "image/png", png(500)),
            ("stale.png", "image/png", png(500)),
        ],
    )
    .await;
    let kept = uploaded["attachments"][0]["id"].clone();
    let stale = uploaded["attachments"][1]["id"].clone();
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let request = json!({"contact_id": chat.contact_id, "channel": "sms", "body": "photo", "attachment_ids": [kept]});
    assert_eq!(
        app.post("/api/messages/send", &chat.org.token, request)
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(stored_files(&chat.org.id), 2);

    // Both uploads are two days old; only the one no message took is removed.
    age_uploads(&app).await;
    await_housekeeping(&app, &chat.org.token, &stale, &kept).await;
    assert_eq!(stored_files(&chat.org.id), 1, "its file went with it");
}

/// Makes every upload two days old.
pub async fn age_uploads(app: &TestApp) {
    use diesel_async::RunQueryDsl;
    diesel::sql_query("UPDATE message_attachments SET created_at = now() - interval '2 days'")
        .execute(&mut app.pool.get().await.unwrap())
        .await
        .unwrap();
}

/// Waits (bounded) until housekeeping has removed upload `stale`, then checks that it
/// left upload `kept`.
pub async fn await_housekeeping(app: &TestApp, token: &str, stale: &Value, kept: &Value) {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let status_of = |id: &Value| {
        let request = no_redirects
            .get(format!(
                "{}/api/attachments/{}",
                app.address,
                id.as_str().unwrap()
            ))
            .bearer_auth(token);
        async move { request.send().await.unwrap().status() }
    };
    poll_until(
        "the stale upload is removed",
        std::time::Duration::from_secs(20),
        || async { (status_of(stale).await == StatusCode::NOT_FOUND).then_some(()) },
    )
    .await;
    assert_eq!(
        status_of(kept).await,
        StatusCode::FOUND,
        "the kept upload stays"
    );
}

/// Against a real S3-compatible server on loopback: `scripts/test.sh` starts one (moto)
/// and sets `SWITCHBOARD_TEST_S3_ENDPOINT`.
#[actix_web::test]
async fn the_s3_backend_stores_files_and_hands_out_presigned_urls() {
    let Ok(endpoint) = std::env::var("SWITCHBOARD_TEST_S3_ENDPOINT") else {
        eprintln!(
            "S3 test not run: SWITCHBOARD_TEST_S3_ENDPOINT is unset (scripts/test.sh sets it)"
        );
        return;
    };
    let twilio = TwilioStandIn::start().await;
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |settings| {
        settings.attachments.s3_bucket = Some("switchboard-test".into());
        settings.attachments.s3_endpoint = Some(endpoint.clone());
        settings.attachments.s3_path_style = true;
        settings.attachments.s3_access_key_id = Some("test".into());
        settings.attachments.s3_secret_access_key = Some("test".into());
    })
    .await;
    let photo = png(30_000);
    let (status, uploaded) = upload(
        &app,
        &chat.org.token,
        "sms",
        vec![("scan.png", "image/png", photo.clone())],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    assert_eq!(stored_files(&chat.org.id), 0, "nothing on the local disk");

    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;
    let request = json!({"contact_id": chat.contact_id, "channel": "sms", "body": "scan", "attachment_ids": [uploaded["attachments"][0]["id"]]});
    let (status, message) = app
        .post("/api/messages/send", &chat.org.token, request)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    tab.statuses_until(message["id"].as_str().unwrap(), |data| {
        data["external_id"].is_string()
    })
    .await;
    let sent = &twilio.sent()[0];
    let media_url = sent.field("MediaUrl").unwrap();
    assert!(
        media_url.starts_with(&endpoint) && media_url.contains("X-Amz-Signature="),
        "a presigned S3 URL: {media_url}"
    );
    let fetched = reqwest::get(media_url).await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), photo);
}
