//! Real processes beside a test, which it can kill with SIGKILL: `switchboard serve`
//! nodes of one deployment (the test's database, and Redis when given), and a Redis of
//! the test's own.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::TWILIO_TOKEN;

/// A loopback port nobody listens on (the caller's process binds it next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `switchboard serve` process.
pub struct Node {
    process: Child,
    pub address: String,
}

impl Node {
    /// Starts a node on a free port against `database_url`, sending through `twilio`,
    /// with `env` on top of the tests' settings; returns once it is ready.
    pub async fn start(database_url: &str, twilio: &str, env: &[(&str, &str)]) -> Node {
        let port = free_port();
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

/// A `redis-server` of the test's own on a loopback port, keeping nothing on disk: killed
/// and started again, it comes back empty, as a Redis that lost its data does.
pub struct RedisServer {
    process: Child,
    port: u16,
}

impl RedisServer {
    /// Starts Debian's `redis-server` (which `scripts/redis.sh` installs) on a free port;
    /// `None`, said on stderr, when it is not installed.
    pub async fn start() -> Option<RedisServer> {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            eprintln!("test not run: redis-server is not installed (scripts/test.sh installs it)");
            return None;
        }
        Some(Self::start_on(free_port()).await)
    }

    /// Starts it on `port`; returns once it answers.
    async fn start_on(port: u16) -> RedisServer {
        let process = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let mut redis = RedisServer { process, port };
        let client = redis::Client::open(redis.url()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answered = match client.get_multiplexed_async_connection().await {
                Ok(mut conn) => redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if answered {
                return redis;
            }
            if let Some(exit) = redis.process.try_wait().unwrap() {
                panic!("redis-server on port {port} exited: {exit}");
            }
            assert!(Instant::now() < deadline, "redis-server did not answer");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// SIGKILL: every connection drops, and everything it held is gone.
    pub fn kill(&mut self) {
        self.process.kill().unwrap();
        self.process.wait().unwrap();
    }

    /// After `kill`: a new, empty Redis on the same port, as after a restart.
    pub async fn start_again(&mut self) {
        *self = Self::start_on(self.port).await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
