//! `GET /metrics`: what a deployer's Prometheus scrapes, behind its token.
//!
//! The recorder is one per process and the tests run side by side, so a value is read
//! before and after what this test does, and the test asserts at least its own share.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, status_callback, TestApp, WsClient, TWILIO_TOKEN};
use crate::twilio_standin::TwilioStandIn;

const SCRAPE_TOKEN: &str = "scrape-token-for-the-tests";

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(format!("{}/metrics", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// The metrics page, scraped with the right token.
async fn page(app: &TestApp) -> String {
    let response = scrape(app, Some(SCRAPE_TOKEN)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    response.text().await.unwrap()
}

/// The value of the sample `name` whose labels include `labels`, summed over the rest.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((series_name, rest)) => (series_name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            (series_name == name).then_some(())?;
            let found: HashMap<&str, &str> = series_labels
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(key, value)| (key, value.trim_matches('"')))
                .collect();
            labels
                .iter()
                .all(|(key, value)| found.get(key) == Some(value))
                .then(|| value.parse::<f64>().unwrap())
        })
        .sum()
}

#[actix_web::test]
async fn metrics_need_their_token_and_are_off_without_one() {
    let off = TestApp::spawn().await;
    let response = scrape(&off, Some(SCRAPE_TOKEN)).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("SWITCHBOARD_METRICS_TOKEN"));

    let app =
        TestApp::spawn_with(|settings| settings.server.metrics_token = Some(SCRAPE_TOKEN.into()))
            .await;
    for token in [None, Some("not-the-token"), Some("")] {
        let response = scrape(&app, token).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    let before = page(&app).await;
    let refused = [("route", "/metrics"), ("status", "401")];
    assert!(sample(&before, "switchboard_http_requests_total", &refused) >= 3.0);
}

#[actix_web::test]
async fn a_send_its_webhooks_and_its_viewers_show_in_the_metrics() {
    let twilio = TwilioStandIn::start().await;
    let (app, chat) = TestApp::clinic_with_twilio(&twilio, |settings| {
        settings.server.metrics_token = Some(SCRAPE_TOKEN.into())
    })
    .await;
    let before = page(&app).await;
    let mut tab = WsClient::connect_authenticated(&app, &chat.org.token, "").await;
    tab.subscribe(&chat.contact_id).await;

    let message = app
        .send_sms(&chat.org.token, &chat.contact_id, "Your paperwork is ready")
        .await;
    let id = message["id"].as_str().unwrap();
    let seen = tab
        .statuses_until(id, |data| data["external_id"].is_string())
        .await;
    let sid = seen.last().unwrap()["external_id"].as_str().unwrap();
    let (status, _) = app
        .post_signed(
            "/webhooks/twilio/status",
            &status_callback(sid, "delivered"),
            TWILIO_TOKEN,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    tab.statuses_until(id, |data| data["status"] == "delivered")
        .await;
    let (status, _) = app
        .post_signed(
            "/webhooks/twilio/status",
            &status_callback(sid, "delivered"),
            "not-the-token",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .try_send_sms(&chat.org.token, &chat.contact_id, "Her SSN is 123-45-6789")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown_path = format!("/no/such/page/{}", uuid::Uuid::new_v4());
    app.client
        .get(format!("{}{unknown_path}", app.address))
        .send()
        .await
        .unwrap();

    let after = page(&app).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    let sent = [
        ("method", "POST"),
        ("route", "/api/messages/send"),
        ("status", "201"),
    ];
    assert!(grew("switchboard_http_requests_total", &sent) >= 1.0);
    assert!(
        grew(
            "switchboard_http_request_duration_seconds_count",
            &sent[..2]
        ) >= 1.0
    );
    assert!(grew("switchboard_handover_seconds_count", &[("channel", "sms")]) >= 1.0);
    assert!(grew("switchboard_delivery_seconds_count", &[]) >= 1.0);
    let webhook = |outcome| [("kind", "status"), ("outcome", outcome)];
    assert!(grew("switchboard_webhooks_total", &webhook("accepted")) >= 1.0);
    assert!(grew("switchboard_webhooks_total", &webhook("refused_signature")) >= 1.0);
    assert!(grew("switchboard_phi_blocks_total", &[("kind", "ssn")]) >= 1.0);
    assert!(grew("switchboard_ws_frames_sent_total", &[]) >= 3.0);
    assert!(sample(&after, "switchboard_ws_connections", &[]) >= 1.0);
    assert!(
        sample(
            &after,
            "switchboard_db_pool_connections",
            &[("state", "idle")]
        ) >= 0.0
    );
    assert!(after.contains("switchboard_db_pool_waiting"));
    // Paths nobody routes are one series, not one per path.
    assert!(!after.contains(&unknown_path));
    let missing_file = [("route", "static"), ("status", "404")];
    assert!(grew("switchboard_http_requests_total", &missing_file) >= 1.0);
}
