//! WebSocket fan-out benchmark: the real server (release build, its own process)
//! against N authenticated subscribers viewing one contact, with messages sent through
//! the HTTP API. Prints:
//! - server memory per idle connection (RSS growth / N),
//! - latency from the API request to the *last* subscriber's receipt (p50/p95/p99),
//! - deliveries per second under a burst (every event frame to every subscriber).
//!
//! Run: `cargo bench --bench ws_fanout -- [--subscribers 10000] [--messages 200] [--burst 100]
//! [--sandbox-delay-ms 50]`. With a long sandbox delay the latency phase sees only
//! `messaging.message.new` events; with the default each send also brings two status
//! events to every subscriber while later messages are measured.
//! Needs PostgreSQL (as `scripts/test.sh` sets up; `SWITCHBOARD_TEST_DATABASE_URL`
//! overrides). Sockets are spread over 127.0.0.1-8 as source addresses, so the
//! ephemeral port range is never the limit; the file-descriptor limit of this process
//! and the server's is (one each per socket).

mod support;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use support::Server;
use tokio_tungstenite::tungstenite::Message;

struct Options {
    subscribers: usize,
    messages: usize,
    burst: usize,
    /// The sandbox carrier's step delay: each send also brings `sent` and `delivered`
    /// events this long apart.
    sandbox_delay_ms: u64,
}

fn options() -> Options {
    Options {
        subscribers: support::arg("--subscribers", 10_000),
        messages: support::arg("--messages", 200),
        burst: support::arg("--burst", 100),
        sandbox_delay_ms: support::arg("--sandbox-delay-ms", 50),
    }
}

/// What every subscriber task reports into.
struct Tally {
    started: Instant,
    frames: AtomicU64,
    /// Per message index: how many subscribers have it, and when the last one got it.
    arrivals: Vec<AtomicUsize>,
    last_arrival_nanos: Vec<AtomicU64>,
    closed: AtomicUsize,
}

impl Tally {
    fn record(&self, frame: &str) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        // Cheap matching instead of parsing: this process shares the cores with the server.
        if !frame.starts_with(r#"{"type":"messaging.message.new""#) {
            return;
        }
        let Some(start) = frame.find(r#""body":"bench-"#) else {
            return;
        };
        let digits: String = frame[start + 14..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(index) = digits.parse::<usize>() {
            let now = self.started.elapsed().as_nanos() as u64;
            self.last_arrival_nanos[index].fetch_max(now, Ordering::Relaxed);
            self.arrivals[index].fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(options));
}

async fn run(options: Options) {
    let server = Server::start(
        "fanout_bench",
        &[(
            "SWITCHBOARD_SANDBOX_DELAY_MS",
            options.sandbox_delay_ms.to_string(),
        )],
    )
    .await;
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let token = server.admin_token(&http, "bench@example.com").await;
    server
        .post(
            &http,
            "/api/phone-numbers",
            Some(&token),
            json!({"phone_number": "+14155550100"}),
        )
        .await;
    let contact = server
        .post(
            &http,
            "/api/contacts",
            Some(&token),
            json!({"name": "Bench", "phones": [{"phone_number": "+14155550111"}]}),
        )
        .await;
    let contact_id = contact["id"].as_str().unwrap().to_string();

    let total_messages = options.messages + options.burst;
    let tally = Arc::new(Tally {
        started: Instant::now(),
        frames: AtomicU64::new(0),
        arrivals: (0..total_messages).map(|_| AtomicUsize::new(0)).collect(),
        last_arrival_nanos: (0..total_messages).map(|_| AtomicU64::new(0)).collect(),
        closed: AtomicUsize::new(0),
    });

    if let Ok(path) = std::env::var("SWITCHBOARD_BENCH_PID_FILE") {
        std::fs::write(path, server.child.id().to_string()).unwrap();
    }
    let rss_before = rss_kib(server.child.id());
    let opened = Instant::now();
    let subscribed = Arc::new(AtomicUsize::new(0));
    let mut openers = Vec::new();
    let per_task = options.subscribers.div_ceil(64);
    for task in 0..64 {
        let (token, contact_id, tally, subscribed) = (
            token.clone(),
            contact_id.clone(),
            tally.clone(),
            subscribed.clone(),
        );
        let range = task * per_task..((task + 1) * per_task).min(options.subscribers);
        openers.push(tokio::spawn(async move {
            for index in range {
                let source = format!("127.0.0.{}", 1 + index % 8);
                subscribe(port, &source, &token, &contact_id, tally.clone()).await;
                subscribed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for opener in openers {
        opener.await.unwrap();
    }
    let open_time = opened.elapsed();
    // Let the server's allocator settle before reading its memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib(server.child.id());
    let per_connection =
        (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / options.subscribers as f64;
    println!(
        "subscribers: {} opened and subscribed in {:.1} s; server RSS {} -> {} KiB: {:.0} bytes per idle connection",
        options.subscribers,
        open_time.as_secs_f64(),
        rss_before,
        rss_after,
        per_connection
    );

    // Latency: one message at a time, from the API request to the last subscriber.
    let cpu_before = support::cpu_seconds(&server);
    let latency_started = Instant::now();
    let mut latencies = Vec::new();
    for index in 0..options.messages {
        let sent_at = tally.started.elapsed().as_nanos() as u64;
        send(&http, &base, &token, &contact_id, index).await;
        wait_for(
            || tally.arrivals[index].load(Ordering::Relaxed) >= options.subscribers,
            Duration::from_secs(30),
        )
        .await;
        let last = tally.last_arrival_nanos[index].load(Ordering::Relaxed);
        latencies.push(Duration::from_nanos(last.saturating_sub(sent_at)));
    }
    let wall = latency_started.elapsed().as_secs_f64();
    let cpu_after = support::cpu_seconds(&server);
    latencies.sort();
    let percentile = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    println!(
        "latency, API request -> last of {} subscribers ({} messages): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        options.subscribers,
        latencies.len(),
        percentile(0.50).as_secs_f64() * 1e3,
        percentile(0.95).as_secs_f64() * 1e3,
        percentile(0.99).as_secs_f64() * 1e3,
    );
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        println!(
            "  CPU during that phase ({wall:.1} s wall, 2 cores): server {:.1} s, load generator {:.1} s",
            after.server - before.server,
            after.bench - before.bench
        );
    }

    // Throughput: a burst of sends from several concurrent clients; counts every event
    // frame delivered (new, and the statuses that land meanwhile) until each
    // subscriber has at least the burst's `new` events.
    wait_for(|| false, Duration::from_millis(500)).await;
    let frames_before = tally.frames.load(Ordering::Relaxed);
    let cpu_before = support::cpu_seconds(&server);
    let burst_started = Instant::now();
    let mut senders = Vec::new();
    for lane in 0..8 {
        let (http, base, token, contact_id) = (
            http.clone(),
            base.clone(),
            token.clone(),
            contact_id.clone(),
        );
        let (messages, burst) = (options.messages, options.burst);
        senders.push(tokio::spawn(async move {
            for index in (messages + lane..messages + burst).step_by(8) {
                send(&http, &base, &token, &contact_id, index).await;
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    let burst_range = options.messages..options.messages + options.burst;
    let complete = wait_for(
        || {
            burst_range
                .clone()
                .all(|index| tally.arrivals[index].load(Ordering::Relaxed) >= options.subscribers)
        },
        Duration::from_secs(120),
    )
    .await;
    let elapsed = burst_started.elapsed();
    let delivered = tally.frames.load(Ordering::Relaxed) - frames_before;
    println!(
        "throughput: {} sends -> {} deliveries in {:.2} s: {:.0} deliveries/s{}",
        options.burst,
        delivered,
        elapsed.as_secs_f64(),
        delivered as f64 / elapsed.as_secs_f64(),
        if complete {
            ""
        } else {
            " (incomplete: timed out)"
        }
    );
    if let (Some(before), Some(after)) = (cpu_before, support::cpu_seconds(&server)) {
        println!(
            "  per delivery, {}",
            before.per_item(after, delivered as usize)
        );
    }
    println!(
        "sockets closed by the server: {}",
        tally.closed.load(Ordering::Relaxed)
    );

    server.stop().await;
}

async fn subscribe(port: u16, source: &str, token: &str, contact_id: &str, tally: Arc<Tally>) {
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let stream = tcp
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .expect("connect");
    let url = format!("ws://127.0.0.1:{port}/ws?token={token}");
    let (mut socket, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .expect("handshake");
    socket
        .send(Message::text(
            json!({"type": "subscribe", "contact_id": contact_id}).to_string(),
        ))
        .await
        .unwrap();
    // hello, then the subscription's acknowledgement
    for _ in 0..2 {
        socket.next().await.expect("frame").expect("frame");
    }
    tokio::spawn(async move {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Message::Text(text)) => tally.record(&text),
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        tally.closed.fetch_add(1, Ordering::Relaxed);
    });
}

async fn send(http: &reqwest::Client, base: &str, token: &str, contact_id: &str, index: usize) {
    let body =
        json!({"contact_id": contact_id, "channel": "sms", "body": format!("bench-{index}")});
    let response = http
        .post(format!("{base}/api/messages/send"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
}

/// Polls a condition (this is a measuring tool, not a test); false on timeout.
async fn wait_for(condition: impl Fn() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    condition()
}

/// A process's resident memory, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}
