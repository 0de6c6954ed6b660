//! Real `switchboard serve` processes beside a test: nodes of one deployment (the test's
//! database, and Redis when given) that a test can kill with SIGKILL.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::TWILIO_TOKEN;

/// A `switchboard serve` process.
pub struct Node {
    process: Child,
    pub address: String,
}

impl Node {
    /// Starts a node on a free port against `database_url`, sending through `twilio`,
    /// with `env` on top of the tests' settings; returns once it is ready.
    pub async fn start(database_url: &str, twilio: &str, env: &[(&str, &str)]) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data_dir = std::env::temp_dir().join(format!("switchboard-node-{port}"));
        let process = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("SWITCHBOARD_ADDR", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_DATA_DIR", data_dir)
            .env(
                "SWITCHBOARD_SECRET_KEY",
                "test-secret-key-that-is-long-enough-0123456789",
            )
            .env("SWITCHBOARD_TWILIO_API_BASE", twilio)
            .env("SWITCHBOARD_SENDS_PER_SECOND_PER_NUMBER", "1000")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server starts");
        let node = Node {
            process,
            address: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client
                .get(format!("{}/readyz", node.address))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if ready {
                return node;
            }
            assert!(Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no goodbye to PostgreSQL, Redis or Twilio.
    pub fn kill(&mut self) {
        self.process.kill().unwrap();
        self.process.wait().unwrap();
    }

    /// Posts a Twilio webhook to this node, signed for its URL with the tests' token.
    pub async fn post_signed(&self, path: &str, params: &[(String, String)]) -> StatusCode {
        let url = format!("{}{}", self.address, path);
        let signature = switchboard::twilio::signature::sign(TWILIO_TOKEN, &url, params);
        reqwest::Client::new()
            .post(url)
            .header("X-Twilio-Signature", signature)
            .form(params)
            .send()
            .await
            .unwrap()
            .status()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
