//! The test harness: each test gets the real server on port 0, against a fresh
//! PostgreSQL database that is dropped when the test ends (pass or fail).

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use switchboard::accounts::{self, NewUser};
use switchboard::auth::Role;
use switchboard::config::{
    AttachmentSettings, ClusterSettings, DatabaseSettings, DeliverySettings, LogFormat,
    RealtimeSettings, ServerSettings, Settings,
};
use switchboard::db::{self, DbPool};
use switchboard::startup::{Application, Stopper};

use crate::twilio_standin::TwilioStandIn;

pub const PASSWORD: &str = "correct horse battery";

/// The Twilio account of the tests' clinics, and its auth token (webhooks are signed
/// with it).
pub const TWILIO_ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub const TWILIO_TOKEN: &str = "twilio-auth-token-of-the-clinic";

/// The server a test talks to, and its database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: DbPool,
    pub database_url: String,
    /// Stops this server (and its scheduler), as SIGTERM would.
    pub stopper: Stopper,
    /// `None` for a second server on another's database (see `spawn_beside`, `through`).
    _database: Option<DatabaseGuard>,
}

/// An organisation with an admin signed in.
pub struct Org {
    pub id: String,
    pub admin_email: String,
    pub token: String,
}

/// Where the test databases live: `SWITCHBOARD_TEST_DATABASE_URL`, else `DATABASE_URL`,
/// else the local server. The path is replaced by a fresh database name per test.
pub fn server_url() -> String {
    std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn fresh_database_url() -> String {
    let mut url = url::Url::parse(&server_url()).expect("test database URL");
    url.set_path(&format!(
        "/switchboard_test_{}",
        uuid::Uuid::new_v4().simple()
    ));
    url.to_string()
}

pub fn settings(database_url: &str) -> Settings {
    Settings {
        database: DatabaseSettings {
            database_url: database_url.to_string(),
            db_pool_size: 4,
        },
        server: ServerSettings {
            addr: "127.0.0.1:0".into(),
            public_url: None,
            workers: Some(1),
            listen_backlog: 1024,
            static_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/static").into(),
            max_json_bytes: 64 * 1024,
            session_hours: 12,
            metrics_token: None,
        },
        data_dir: std::env::temp_dir().join("switchboard-tests"),
        secret_key: Some("test-secret-key-that-is-long-enough-0123456789".into()),
        log_format: LogFormat::Pretty,
        default_region: "US".into(),
        suggestions: switchboard::suggestions::SuggestionSource::Canned,
        realtime: RealtimeSettings {
            ws_outbox_frames: 1024,
            ws_resume_window_secs: 300,
            ws_heartbeat_secs: 15,
        },
        cluster: ClusterSettings {
            redis_url: None,
            position_check_ms: 5000,
            redis_timeout_ms: 1000,
        },
        delivery: DeliverySettings {
            // Nothing in the tests talks to the real Twilio; tests that send point this
            // at their own stand-in.
            twilio_api_base: "http://127.0.0.1:9".into(),
            twilio_timeout_secs: 15,
            sends_per_second_per_number: 1000.0,
            delivery_attempts: 3,
            delivery_retry_base_ms: 10,
            outbox_sweep_secs: 30,
            status_check_after_secs: 900,
            // Fast enough that status changes arrive within a test, slow enough to be
            // steps.
            sandbox_delay_ms: 20,
            sandbox_replies: false,
        },
        attachments: AttachmentSettings {
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_path_style: false,
            media_url_ttl_secs: 3600,
            max_email_attachment_bytes: 25 * 1024 * 1024,
            pending_upload_ttl_hours: 24,
            housekeeping_secs: 3600,
        },
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns the server with some settings changed.
    pub async fn spawn_with(change: impl FnOnce(&mut Settings)) -> TestApp {
        let database_url = fresh_database_url();
        let guard = DatabaseGuard(database_url.clone());
        let mut settings = settings(&database_url);
        change(&mut settings);
        Self::start(&settings, Some(guard)).await
    }

    /// Another server on this one's database: a second node of one deployment, or this
    /// server started again after `stopper.stop()`. Drop it before this one.
    pub async fn spawn_beside(&self) -> TestApp {
        Self::start(&settings(&self.database_url), None).await
    }

    /// The same database through the server at `address`: another process serving it,
    /// such as a `Node` (`stopper` still stops this test's own server).
    pub fn through(&self, address: &str) -> TestApp {
        TestApp {
            address: address.to_string(),
            client: self.client.clone(),
            pool: self.pool.clone(),
            database_url: self.database_url.clone(),
            stopper: self.stopper.clone(),
            _database: None,
        }
    }

    async fn start(settings: &Settings, guard: Option<DatabaseGuard>) -> TestApp {
        let app = Application::build(settings).await.expect("server starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let pool = app.pool().clone();
        let stopper = app.stopper();
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            address,
            client: reqwest::Client::new(),
            pool,
            database_url: settings.database.database_url.clone(),
            stopper,
            _database: guard,
        }
    }

    /// Creates an organisation and signs its admin in.
    pub async fn create_org(&self, name: &str) -> Org {
        let admin_email = format!("admin-{}@example.com", uuid::Uuid::new_v4().simple());
        let admin = NewUser {
            email: &admin_email,
            name: "Admin",
            password: PASSWORD,
            role: Role::Admin,
            permissions: &[],
        };
        let (organization, _) = accounts::create_organization(&self.pool, name, admin)
            .await
            .expect("organisation created");
        let token = self.login(&admin_email, PASSWORD).await;
        Org {
            id: organization.id.to_string(),
            admin_email,
            token,
        }
    }

    /// Adds an agent to an organisation and signs them in.
    pub async fn create_agent(&self, org: &Org) -> String {
        self.create_agent_with(org, &[]).await
    }

    /// Adds an agent holding `permissions` to an organisation and signs them in.
    pub async fn create_agent_with(&self, org: &Org, permissions: &[String]) -> String {
        let email = format!("agent-{}@example.com", uuid::Uuid::new_v4().simple());
        let agent = NewUser {
            email: &email,
            name: "Agent",
            password: PASSWORD,
            role: Role::Agent,
            permissions,
        };
        accounts::create_user(
            &self.pool,
            org.id
                .parse()
                .map(switchboard::db::ids::OrganizationId)
                .unwrap(),
            agent,
        )
        .await
        .expect("agent created");
        self.login(&email, PASSWORD).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .send(
                self.request(Method::POST, "/api/auth/login", None)
                    .json(&json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login failed: {body}");
        body["token"].as_str().expect("token").to_string()
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self
            .client
            .request(method, format!("{}{}", self.address, path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends a request and returns its status and JSON body (`null` when empty).
    pub async fn send(&self, request: RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap_or_default().to_string());
        let text = response.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            assert_eq!(
                content_type.as_deref(),
                Some("application/json"),
                "a JSON answer says so ({status}): {text}"
            );
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, body)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(self.request(Method::GET, path, Some(token)))
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.request(Method::POST, path, Some(token)).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.request(Method::PATCH, path, Some(token)).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(self.request(Method::DELETE, path, Some(token)))
            .await
    }

    /// The organisation's audit entries with `action`, newest first (`token`: an admin's).
    pub async fn audit_entries(&self, token: &str, action: &str) -> Vec<Value> {
        let (status, page) = self
            .get(&format!("/api/audit-log?action={action}&limit=200"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["entries"].as_array().unwrap().clone()
    }

    /// Creates a contact and returns it, asserting success.
    pub async fn create_contact(&self, token: &str, body: Value) -> Value {
        let (status, contact) = self.post("/api/contacts", token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{contact}");
        contact
    }
}

/// An organisation ready to message: a sending number and one contact with a phone.
pub struct Conversation {
    pub org: Org,
    pub contact_id: String,
    pub phone_number_id: String,
}

impl TestApp {
    pub async fn conversation(&self) -> Conversation {
        let org = self.create_org("Clinic").await;
        let (status, number) = self
            .post(
                "/api/phone-numbers",
                &org.token,
                json!({"phone_number": "+14155550100", "label": "Front desk"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{number}");
        let contact = self
            .create_contact(
                &org.token,
                json!({"name": "Maria Garcia", "phones": [{"phone_number": "+14155550111"}]}),
            )
            .await;
        Conversation {
            contact_id: contact["id"].as_str().unwrap().to_string(),
            phone_number_id: number["id"].as_str().unwrap().to_string(),
            org,
        }
    }

    /// The conversation's messages as its history shows them, oldest first.
    pub async fn history(&self, chat: &Conversation) -> Vec<Value> {
        let (status, history) = self
            .get(
                &format!("/api/messages?contact_id={}&limit=200", chat.contact_id),
                &chat.org.token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{history}");
        history["messages"].as_array().unwrap().clone()
    }

    /// Sends an SMS to the contact and returns the message, asserting success.
    pub async fn send_sms(&self, token: &str, contact_id: &str, body: &str) -> Value {
        let (status, message) = self.try_send_sms(token, contact_id, body).await;
        assert_eq!(status, StatusCode::CREATED, "{message}");
        message
    }

    /// Asks to send an SMS to the contact, from its default number; answers the reply.
    pub async fn try_send_sms(
        &self,
        token: &str,
        contact_id: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        self.post(
            "/api/messages/send",
            token,
            json!({"contact_id": contact_id, "channel": "sms", "body": body}),
        )
        .await
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket client, as a browser tab would be.
pub struct WsClient {
    socket: Socket,
}

/// How long a test waits for a frame before failing (a bound, not a synchronisation).
const FRAME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl WsClient {
    pub async fn connect(http_address: &str, path: &str) -> WsClient {
        let url = format!("{}{}", http_address.replacen("http://", "ws://", 1), path);
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("socket opens");
        WsClient { socket }
    }

    /// Connects with a tiny receive buffer, so that a client that stops reading backs up
    /// quickly instead of parking megabytes in the kernel.
    pub async fn connect_with_small_buffer(app: &TestApp, token: &str) -> WsClient {
        let address: std::net::SocketAddr =
            app.address.trim_start_matches("http://").parse().unwrap();
        let tcp = tokio::net::TcpSocket::new_v4().unwrap();
        tcp.set_recv_buffer_size(4096).unwrap();
        let stream = tcp.connect(address).await.expect("tcp connects");
        let url = format!("ws://{address}/ws?token={token}");
        let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
        let (socket, _) = tokio_tungstenite::client_async(url, stream)
            .await
            .expect("socket opens");
        let mut client = WsClient { socket };
        assert_eq!(client.next().await["type"], "hello");
        client
    }

    /// Connects, reads the `hello`, and returns the client.
    pub async fn connect_authenticated(app: &TestApp, token: &str, query: &str) -> WsClient {
        let mut client =
            WsClient::connect(&app.address, &format!("/ws?token={token}{query}")).await;
        let hello = client.next().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        client
    }

    pub async fn send(&mut self, frame: Value) {
        use futures_util::SinkExt;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::text(
                frame.to_string(),
            ))
            .await
            .expect("frame sent");
    }

    /// The next JSON frame (control frames such as pings are answered and skipped).
    pub async fn next(&mut self) -> Value {
        self.try_next()
            .await
            .expect("the socket closed while a frame was expected")
    }

    /// The next JSON frame, or `None` once the server has closed the socket.
    pub async fn try_next(&mut self) -> Option<Value> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let frame = tokio::time::timeout(FRAME_TIMEOUT, self.socket.next())
                .await
                .expect("a frame within the timeout");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).expect("JSON frame"))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Subscribes to a contact and returns the `subscribed` acknowledgement.
    pub async fn subscribe(&mut self, contact_id: &str) -> Value {
        self.send(json!({"type": "subscribe", "contact_id": contact_id}))
            .await;
        let ack = self.next().await;
        assert_eq!(ack["type"], "subscribed", "{ack}");
        assert_eq!(ack["contact_id"], contact_id);
        ack
    }

    /// Every frame the server sent before answering a ping sent now: what this client
    /// has been sent so far, without guessing how long to wait.
    pub async fn drain(&mut self) -> Vec<Value> {
        self.send(json!({"type": "ping"})).await;
        let mut frames = Vec::new();
        loop {
            let frame = self.next().await;
            if frame["type"] == "pong" {
                return frames;
            }
            frames.push(frame);
        }
    }

    /// Reads status events of message `id` until `done` holds for one, returning the
    /// statuses seen (other frames are skipped).
    pub async fn statuses_until(&mut self, id: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let frame = self.next().await;
            if frame["type"] != "messaging.message.status" || frame["data"]["id"] != id {
                continue;
            }
            let finished = done(&frame["data"]);
            seen.push(frame["data"].clone());
            if finished {
                return seen;
            }
        }
    }

    /// Reads frames until message `id`'s status event says `status`, returning everything
    /// read including it.
    pub async fn until_status(&mut self, id: &str, status: &str) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let frame = self.next().await;
            let done = frame["type"] == "messaging.message.status"
                && frame["data"]["id"] == id
                && frame["data"]["status"] == status;
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }

    /// Reads frames until one of type `kind` (for message `id`, when given) arrives,
    /// returning everything read including it.
    pub async fn until(&mut self, kind: &str, id: Option<&str>) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let frame = self.next().await;
            let done = frame["type"] == kind && id.is_none_or(|id| frame["data"]["id"] == id);
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }
}

/// Asks `check` again and again until it answers `Some`, failing with `what` once
/// `within` has passed: a test waits for a condition, never for a guessed time.
pub async fn poll_until<T, F, Fut>(what: &str, within: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} (waited {within:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// Asserts the documented error shape and returns the error object.
pub fn assert_error(
    status: StatusCode,
    body: &Value,
    expected_status: StatusCode,
    expected_code: &str,
) -> Value {
    assert_eq!(status, expected_status, "unexpected status; body: {body}");
    let error = &body["error"];
    assert_eq!(
        error["code"], expected_code,
        "unexpected code; body: {body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "an error needs a message: {body}"
    );
    error.clone()
}

/// Drops the test database when the test ends, even when it panicked.
struct DatabaseGuard(String);

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        let url = self.0.clone();
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(db::drop_database(&url))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.0);
        }
    }
}

impl TestApp {
    /// A clinic sending through the Twilio stand-in `twilio` (settings changed by
    /// `change` too), with the tests' Twilio account configured.
    pub async fn clinic_with_twilio(
        twilio: &TwilioStandIn,
        change: impl FnOnce(&mut Settings),
    ) -> (TestApp, Conversation) {
        let base = twilio.uri();
        let app = TestApp::spawn_with(|settings| {
            settings.delivery.twilio_api_base = base;
            change(settings);
        })
        .await;
        let chat = app.conversation().await;
        app.use_twilio(&chat.org).await;
        (app, chat)
    }

    /// Gives the organisation the tests' Twilio account.
    pub async fn use_twilio(&self, org: &Org) {
        let (status, body) = self
            .patch(
                "/api/organization/settings",
                &org.token,
                json!({"twilio_account_sid": TWILIO_ACCOUNT, "twilio_auth_token": TWILIO_TOKEN}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Posts a webhook signed with `token` for the URL it is posted to.
    pub async fn post_signed(
        &self,
        path: &str,
        params: &[(String, String)],
        token: &str,
    ) -> (StatusCode, String) {
        let url = format!("{}{}", self.address, path);
        let signature = switchboard::twilio::signature::sign(token, &url, params);
        self.post_webhook(path, params, Some(&signature)).await
    }

    pub async fn post_webhook(
        &self,
        path: &str,
        params: &[(String, String)],
        signature: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = self
            .client
            .post(format!("{}{}", self.address, path))
            .form(params);
        if let Some(signature) = signature {
            request = request.header("X-Twilio-Signature", signature);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

/// Form parameters from pairs of strings.
pub fn form(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Twilio's status callback for message `sid` of the tests' account.
pub fn status_callback(sid: &str, status: &str) -> Vec<(String, String)> {
    form(&[
        ("AccountSid", TWILIO_ACCOUNT),
        ("MessageSid", sid),
        ("MessageStatus", status),
    ])
}
