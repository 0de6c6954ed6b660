//! The `switchboard` binary's commands, run as a deployer would.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{fresh_database_url, TestApp};

/// The binary with `args`, on `database_url`, as a deployer's shell would run it.
fn command(database_url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(args)
        .env("DATABASE_URL", database_url)
        .env(
            "SWITCHBOARD_SECRET_KEY",
            "test-secret-key-that-is-long-enough-0123456789",
        )
        .env("RUST_LOG", "warn");
    command
}

fn switchboard(database_url: &str, args: &[&str]) -> Value {
    let output = command(database_url, args)
        .output()
        .expect("switchboard runs");
    assert!(
        output.status.success(),
        "switchboard {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {stdout}"))
}

#[actix_web::test]
async fn org_and_user_create_make_operators_who_can_log_in() {
    let app = TestApp::spawn().await;
    let created = switchboard(
        &app.database_url,
        &[
            "org",
            "create",
            "--name",
            "Harbor Health",
            "--admin-email",
            "boss@harbor.example",
            "--admin-password",
            "s3cret-pass",
        ],
    );
    let org_id = created["organization_id"]
        .as_str()
        .expect("organization_id")
        .to_string();
    assert!(created["user_id"].is_string());

    let agent = switchboard(
        &app.database_url,
        &[
            "user",
            "create",
            "--org",
            &org_id,
            "--email",
            "desk@harbor.example",
            "--password",
            "desk-pass-1",
            "--name",
            "Front Desk",
            "--permission",
            "sms.admin",
        ],
    );
    assert_eq!(agent["organization_id"], org_id.as_str());

    let token = app.login("desk@harbor.example", "desk-pass-1").await;
    let (status, me) = app.get("/api/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["organization"]["name"], "Harbor Health");
    assert_eq!(me["user"]["role"], "agent");
    assert_eq!(me["user"]["permissions"], serde_json::json!(["sms.admin"]));
}

#[actix_web::test]
async fn migrate_creates_a_missing_database() {
    let url = fresh_database_url();
    let result = switchboard(&url, &["migrate"]);
    let applied = result["applied"].as_array().expect("applied list");
    assert!(!applied.is_empty(), "a new database gets every migration");
    let again = switchboard(&url, &["migrate"]);
    assert_eq!(
        again["applied"].as_array().unwrap().len(),
        0,
        "nothing left to apply"
    );
    switchboard::db::drop_database(&url).await.unwrap();
}

#[actix_web::test]
async fn serve_without_its_pages_stops_with_an_error_naming_the_file() {
    let app = TestApp::spawn().await;
    let output = command(&app.database_url, &["serve"])
        .env("SWITCHBOARD_ADDR", "127.0.0.1:0")
        .env("SWITCHBOARD_STATIC_DIR", "/nonexistent/static")
        .output()
        .expect("switchboard runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it must not start: {stderr}");
    assert!(
        stderr.contains("/nonexistent/static/app.html"),
        "the error names the missing file: {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a deployer sees the error, not a panic: {stderr}"
    );
}
