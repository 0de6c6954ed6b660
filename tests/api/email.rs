//! Email through the organisation's SMTP server, played by a small SMTP listener in the
//! test that keeps what it is sent.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::{TestApp, WsClient};

#[derive(Clone, Default)]
struct Sink {
    mails: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    /// Listens on a free port; refuses recipients containing `reject` with a 550.
    async fn start(reject: Option<&'static str>) -> (Sink, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = Sink::default();
        let mails = sink.mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let mails = mails.clone();
                tokio::spawn(async move {
                    let (reader, mut writer) = stream.into_split();
                    let mut lines = BufReader::new(reader).lines();
                    writer.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let command = line.to_ascii_uppercase();
                        let reply: &[u8] = if command.starts_with("EHLO") {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if command.starts_with("RCPT")
                            && reject.is_some_and(|r| line.contains(r))
                        {
                            b"550 5.1.1 mailbox unavailable\r\n"
                        } else if command.starts_with("DATA") {
                            writer.write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut data = String::new();
                            while let Ok(Some(line)) = lines.next_line().await {
                                if line == "." {
                                    break;
                                }
                                data.push_str(&line);
                                data.push('\n');
                            }
                            mails.lock().unwrap().push(data);
                            b"250 2.0.0 queued\r\n"
                        } else if command.starts_with("QUIT") {
                            writer.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        } else {
                            b"250 OK\r\n"
                        };
                        writer.write_all(reply).await.unwrap();
                    }
                });
            }
        });
        (sink, port)
    }
}

/// A clinic with an SMTP server, a sending address and a contact with an email.
async fn clinic(port: u16) -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    let org = app.create_org("Clinic").await;
    let settings = json!({"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"});
    assert_eq!(
        app.patch("/api/organization/settings", &org.token, settings)
            .await
            .0,
        StatusCode::OK
    );
    let sender = json!({"address": "desk@clinic.example", "display_name": "Clinic Desk"});
    assert_eq!(
        app.post("/api/email-addresses", &org.token, sender).await.0,
        StatusCode::CREATED
    );
    let contact = app
        .create_contact(&org.token, json!({"name": "Ann", "emails": [{"email": "ann@example.com"}, {"email": "blocked@example.com"}]}))
        .await;
    (app, org.token, contact["id"].as_str().unwrap().to_string())
}

async fn final_status(tab: &mut WsClient, id: &str, last: &str) -> Value {
    let seen = tab.statuses_until(id, |data| data["status"] == last).await;
    seen.last().unwrap().clone()
}

#[actix_web::test]
async fn email_arrives_with_subject_html_and_text_parts() {
    let (sink, port) = Sink::start(None).await;
    let (app, token, contact_id) = clinic(port).await;
    let mut tab = WsClient::connect_authenticated(&app, &token, "").await;
    tab.subscribe(&contact_id).await;

    let request = json!({"contact_id": contact_id, "channel": "email", "subject": "Your results", "body": "**Good news**: all clear.\n\n<script>x()</script>"});
    let (status, message) = app.post("/api/messages/send", &token, request).await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    let sent = final_status(&mut tab, message["id"].as_str().unwrap(), "sent").await;
    assert!(
        sent["external_id"]
            .as_str()
            .unwrap()
            .contains("@clinic.example"),
        "the Message-ID: {sent}"
    );

    let mails = sink.mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.contains("Subject: Your results"), "{mail}");
    assert!(
        mail.contains("From: \"Clinic Desk\" <desk@clinic.example>")
            || mail.contains("From: Clinic Desk <desk@clinic.example>"),
        "{mail}"
    );
    assert!(mail.contains("To: ann@example.com"), "{mail}");
    assert!(mail.contains("Content-Type: text/plain"), "{mail}");
    assert!(mail.contains("Content-Type: text/html"), "{mail}");
    let html_part = &mail[mail.find("Content-Type: text/html").unwrap()..];
    assert!(html_part.contains("<strong>Good news</strong>"), "{mail}");
    assert!(
        !html_part.contains("<script>"),
        "raw HTML is not passed into the HTML part: {mail}"
    );
}

#[actix_web::test]
async fn a_refused_recipient_fails_the_message_with_the_servers_reply() {
    let (_sink, port) = Sink::start(Some("blocked@")).await;
    let (app, token, contact_id) = clinic(port).await;
    let (_, contact) = app
        .get(&format!("/api/contacts/{contact_id}"), &token)
        .await;
    let blocked = contact["emails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["email"] == "blocked@example.com")
        .unwrap()["id"]
        .clone();
    let mut tab = WsClient::connect_authenticated(&app, &token, "").await;
    tab.subscribe(&contact_id).await;

    let request = json!({"contact_id": contact_id, "channel": "email", "subject": "Hi", "body": "Hello", "contact_email_id": blocked});
    let (_, message) = app.post("/api/messages/send", &token, request).await;
    let failed = final_status(&mut tab, message["id"].as_str().unwrap(), "failed").await;
    assert_eq!(failed["error_code"], "smtp_rejected");
    assert!(
        failed["error_message"]
            .as_str()
            .unwrap()
            .contains("mailbox unavailable"),
        "{failed}"
    );
}

#[actix_web::test]
async fn an_email_carries_its_attachments() {
    let (sink, port) = Sink::start(None).await;
    let (app, token, contact_id) = clinic(port).await;
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".to_vec();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(pdf)
            .file_name("results.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let request = app
        .client
        .post(format!("{}/api/messages/upload?channel=email", app.address))
        .bearer_auth(&token)
        .multipart(form);
    let (status, uploaded) = app.send(request).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let mut tab = WsClient::connect_authenticated(&app, &token, "").await;
    tab.subscribe(&contact_id).await;

    let request = json!({"contact_id": contact_id, "channel": "email", "subject": "Your results", "body": "Attached.", "attachment_ids": [uploaded["attachments"][0]["id"]]});
    let (_, message) = app.post("/api/messages/send", &token, request).await;
    final_status(&mut tab, message["id"].as_str().unwrap(), "sent").await;
    let mail = sink.mails.lock().unwrap()[0].clone();
    assert!(mail.contains("multipart/mixed"), "{mail}");
    assert!(mail.contains("Content-Type: application/pdf"), "{mail}");
    assert!(mail.contains("filename=\"results.pdf\""), "{mail}");
}
