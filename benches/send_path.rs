//! The durable send path: accepted sends per second (API → PostgreSQL → outbox →
//! an HTTP server standing in for Twilio), API latency, and signed status callbacks
//! ingested per second. The release server runs as its own process; the clients and the
//! Twilio stand-in (handing out unique SIDs) run on one thread of this one.
//!
//! Run: `cargo bench --bench send_path -- [--sends 5000] [--concurrency 32] [--contacts 200]`

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use support::Server;
use switchboard::twilio::signature;

/// The server's allocator: glibc's malloc took an eighth of this process's CPU, and the
/// machine CPU per send that this bench reports includes its own.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "bench-auth-token";

struct Options {
    /// Sends before measuring, so that PostgreSQL plans against tables with history
    /// (as on a live system) rather than empty ones.
    warmup: usize,
    sends: usize,
    concurrency: usize,
    contacts: usize,
}

fn options() -> Options {
    Options {
        warmup: support::arg("--warmup", 3000),
        sends: support::arg("--sends", 5000),
        concurrency: support::arg("--concurrency", 32),
        contacts: support::arg("--contacts", 200),
    }
}

/// What the Twilio stand-in handed out: a fresh SID per message, kept with the message's
/// `StatusCallback` URL, where its status callback goes. It keeps no other record of
/// requests, which would cost the machine more than the answers.
#[derive(Clone, Default)]
struct UniqueSids {
    handed: Arc<AtomicU64>,
    /// (SID, StatusCallback) of each message handed over.
    callbacks: Arc<Mutex<Vec<(String, String)>>>,
}

impl UniqueSids {
    fn handed(&self) -> usize {
        self.handed.load(Ordering::Relaxed) as usize
    }
}

/// Starts the Twilio stand-in and answers its base URL. Each create-message request gets
/// Twilio's answer with a fresh SID. It is a bare hyper server on the bench's own thread
/// rather than wiremock (which the tests use and which matches every request against its
/// mocks first): the stand-in should cost the machine as little as it can.
async fn start_twilio(sids: UniqueSids) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            let sids = sids.clone();
            let answer =
                hyper::service::service_fn(move |request| create_message(sids.clone(), request));
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), answer),
            );
        }
    });
    base
}

async fn create_message(
    sids: UniqueSids,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = request.into_body().collect().await?.to_bytes();
    let n = sids.handed.fetch_add(1, Ordering::Relaxed) + 1;
    let sid = format!("SM{n:032x}");
    let callback = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "StatusCallback")
        .map(|(_, url)| url.into_owned())
        .expect("every send names its StatusCallback");
    let answer = json!({"sid": sid, "status": "queued"}).to_string();
    sids.callbacks.lock().unwrap().push((sid, callback));
    Ok(Response::builder()
        .status(StatusCode::CREATED)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(answer)))
        .unwrap())
}

/// One keep-alive HTTP/1.1 connection to the server. The clients post through hyper
/// itself: reqwest's pool, URL parsing and header handling cost more per request than
/// a load generator should take from the server's machine.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
}

impl Connection {
    async fn open(base: &str) -> Connection {
        let authority = base.trim_start_matches("http://").to_string();
        let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        Connection { sender, authority }
    }

    /// Posts `body` to `path` (with its query); answers the response's status once its
    /// body is read.
    async fn post(
        &mut self,
        path: &str,
        headers: &[(hyper::header::HeaderName, &str)],
        body: String,
    ) -> StatusCode {
        let mut request = Request::post(path).header(HOST, &self.authority);
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        self.sender.ready().await.unwrap();
        let response = self
            .sender
            .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = response.status();
        response.into_body().collect().await.unwrap();
        status
    }
}

fn main() {
    // One thread drives all the clients: a load generator should take as little of the
    // machine as it can, and a work-stealing pool spent more on handing tasks between its
    // threads than on the requests.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(options()));
}

async fn run(options: Options) {
    let stand_in = UniqueSids::default();
    let twilio = start_twilio(stand_in.clone()).await;

    let server = Server::start(
        "send_bench",
        &[
            ("SWITCHBOARD_TWILIO_API_BASE", twilio),
            ("SWITCHBOARD_SENDS_PER_SECOND_PER_NUMBER", "1000000".into()),
            ("SWITCHBOARD_DB_POOL_SIZE", "32".into()),
        ],
    )
    .await;
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .build()
        .unwrap();
    let token = server.admin_token(&http, "send-bench@example.com").await;
    let contacts = server.clinic(&http, &token, options.contacts).await;
    let settings = json!({"twilio_account_sid": ACCOUNT, "twilio_auth_token": TOKEN});
    let response = http
        .patch(format!("{base}/api/organization/settings"))
        .bearer_auth(&token)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let contacts = Arc::new(contacts);

    // Warm-up, drained, then the tables analysed as autovacuum would on a live system.
    let send = |count: usize| {
        send_all(
            base.clone(),
            token.clone(),
            contacts.clone(),
            count,
            options.concurrency,
        )
    };
    send(options.warmup).await;
    wait_for_handover(&stand_in, options.warmup).await;
    analyze(&server.database_url).await;

    let cpu_before = support::cpu_seconds(&[&server]);
    let started = Instant::now();
    let mut latencies = send(options.sends).await;
    let accepted_in = started.elapsed();
    latencies.sort();
    let percentile = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    println!(
        "sends: {} accepted in {:.2} s: {:.0} accepted/s; API latency p50 {:.1} ms, p99 {:.1} ms ({} clients, {} contacts)",
        options.sends,
        accepted_in.as_secs_f64(),
        options.sends as f64 / accepted_in.as_secs_f64(),
        percentile(0.50).as_secs_f64() * 1e3,
        percentile(0.99).as_secs_f64() * 1e3,
        options.concurrency,
        options.contacts
    );

    // The outbox drains into the Twilio stand-in.
    let handed =
        wait_for_handover(&stand_in, options.warmup + options.sends).await - options.warmup;
    let drained_in = started.elapsed();
    println!(
        "outbox: {handed} of {} handed to the Twilio stand-in {:.2} s after the first send: {:.0} sends/s end to end",
        options.sends,
        drained_in.as_secs_f64(),
        handed as f64 / drained_in.as_secs_f64()
    );
    if let (Some(before), Some(after)) = (cpu_before, support::cpu_seconds(&[&server])) {
        println!("  per send, {}", before.per_item(after, options.sends));
    }

    // Signed status callbacks, one per message to the URL it named, from `concurrency`
    // clients.
    let callbacks: Arc<Vec<(String, String)>> =
        Arc::new(stand_in.callbacks.lock().unwrap().clone());
    let cpu_before = support::cpu_seconds(&[&server]);
    let started = Instant::now();
    let mut lanes = Vec::new();
    for lane in 0..options.concurrency {
        let (base, callbacks, concurrency) = (base.clone(), callbacks.clone(), options.concurrency);
        lanes.push(tokio::spawn(async move {
            let mut connection = Connection::open(&base).await;
            for index in (lane..callbacks.len()).step_by(concurrency) {
                let (sid, url) = &callbacks[index];
                let params = vec![
                    ("AccountSid".to_string(), ACCOUNT.to_string()),
                    ("MessageSid".to_string(), sid.clone()),
                    ("MessageStatus".to_string(), "delivered".to_string()),
                ];
                let signed = signature::sign(TOKEN, url, &params);
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&params)
                    .finish();
                let path = url
                    .strip_prefix(base.as_str())
                    .expect("a callback to the server");
                let status = connection
                    .post(
                        path,
                        &[
                            (
                                hyper::header::HeaderName::from_static("x-twilio-signature"),
                                &signed,
                            ),
                            (CONTENT_TYPE, "application/x-www-form-urlencoded"),
                        ],
                        form,
                    )
                    .await;
                assert_eq!(status, StatusCode::NO_CONTENT);
            }
        }));
    }
    for lane in lanes {
        lane.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "status callbacks: {} signed callbacks ingested in {:.2} s: {:.0} callbacks/s",
        callbacks.len(),
        elapsed.as_secs_f64(),
        callbacks.len() as f64 / elapsed.as_secs_f64()
    );
    if let (Some(before), Some(after)) = (cpu_before, support::cpu_seconds(&[&server])) {
        println!(
            "  per callback, {}",
            before.per_item(after, callbacks.len())
        );
    }
    let delivered = count_delivered(&server.database_url).await;
    assert_eq!(
        delivered,
        callbacks.len(),
        "every callback's status is recorded"
    );

    server.stop().await;
}

/// `count` sends from `concurrency` clients, each on its own connection sending its share
/// back to back; the API latency of each.
async fn send_all(
    base: String,
    token: String,
    contacts: Arc<Vec<String>>,
    count: usize,
    concurrency: usize,
) -> Vec<Duration> {
    let bearer = format!("Bearer {token}");
    let mut lanes = Vec::new();
    for lane in 0..concurrency {
        let (base, bearer, contacts) = (base.clone(), bearer.clone(), contacts.clone());
        lanes.push(tokio::spawn(async move {
            let mut connection = Connection::open(&base).await;
            let mut latencies = Vec::new();
            for index in (lane..count).step_by(concurrency) {
                let contact = &contacts[index % contacts.len()];
                let body = json!({"contact_id": contact, "channel": "sms", "body": format!("bench {index}")});
                let sent_at = Instant::now();
                let status = connection
                    .post(
                        "/api/messages/send",
                        &[(AUTHORIZATION, &bearer), (CONTENT_TYPE, "application/json")],
                        body.to_string(),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED);
                latencies.push(sent_at.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for lane in lanes {
        latencies.extend(lane.await.unwrap());
    }
    latencies
}

/// Waits (up to five minutes) until the Twilio stand-in has `count` messages; answers
/// how many it has.
async fn wait_for_handover(sids: &UniqueSids, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(300);
    while sids.handed() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sids.handed()
}

/// How many messages the server's database has as delivered.
async fn count_delivered(database_url: &str) -> usize {
    use diesel::sql_types::BigInt;
    use diesel_async::{AsyncConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let mut conn = diesel_async::AsyncPgConnection::establish(database_url)
        .await
        .expect("connecting to the bench database");
    let counted: Count =
        diesel::sql_query("SELECT count(*) AS count FROM messages WHERE status = 'delivered'")
            .get_result(&mut conn)
            .await
            .expect("counting delivered messages");
    counted.count as usize
}

/// Refreshes the planner's statistics of the server's database.
async fn analyze(database_url: &str) {
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};
    let mut conn = diesel_async::AsyncPgConnection::establish(database_url)
        .await
        .expect("connecting to the bench database");
    conn.batch_execute("ANALYZE").await.expect("ANALYZE");
}
