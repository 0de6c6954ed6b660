//! WebSocket fan-out benchmark: the real server (release build, its own process)
//! against N authenticated subscribers viewing one contact, with messages sent through
//! the HTTP API. Prints:
//! - server memory per idle connection (RSS growth / N),
//! - latency from the API request to the *last* subscriber's receipt (p50/p95/p99, and
//!   the worst against p95: a stall shows as a worst far beyond it),
//! - deliveries per second under a burst (every event frame to every subscriber).
//!
//! Run: `cargo bench --bench ws_fanout -- [--subscribers 10000] [--messages 200] [--burst 100]
//! [--sandbox-delay-ms 50] [--nodes 1|2|both]`. `--nodes 2` runs two nodes sharing the
//! database and a Redis (`SWITCHBOARD_TEST_REDIS_URL`, else the local one), subscribers
//! split between them and sends made on the first, so half the deliveries cross nodes;
//! `both` measures one node and then two in the same run and prints them side by side. With a long sandbox delay the latency phase sees only
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
    nodes: Nodes,
}

/// Which deployments to measure.
#[derive(Clone, Copy, PartialEq)]
enum Nodes {
    One,
    Two,
    Both,
}

impl std::str::FromStr for Nodes {
    type Err = String;

    fn from_str(value: &str) -> Result<Nodes, String> {
        match value {
            "1" => Ok(Nodes::One),
            "2" => Ok(Nodes::Two),
            "both" => Ok(Nodes::Both),
            _ => Err(format!("--nodes takes 1, 2 or both, not {value}")),
        }
    }
}

fn options() -> Options {
    Options {
        subscribers: support::arg("--subscribers", 10_000),
        messages: support::arg("--messages", 200),
        burst: support::arg("--burst", 100),
        sandbox_delay_ms: support::arg("--sandbox-delay-ms", 50),
        nodes: support::arg("--nodes", Nodes::One),
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

/// One deployment's figures.
struct Figures {
    p50: Duration,
    p99: Duration,
    deliveries_per_second: f64,
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        match options.nodes {
            // One deployment prints its own figures; only the comparison needs them back.
            Nodes::One => {
                measure(&options, 1).await;
            }
            Nodes::Two => {
                measure(&options, 2).await;
            }
            Nodes::Both => {
                let one = measure(&options, 1).await;
                let two = measure(&options, 2).await;
                let ms = |d: Duration| d.as_secs_f64() * 1e3;
                println!("\n| | one node | two nodes | two ÷ one |");
                println!("|---|---|---|---|");
                println!(
                    "| deliveries/s | {:.0} | {:.0} | {:.2} |",
                    one.deliveries_per_second,
                    two.deliveries_per_second,
                    two.deliveries_per_second / one.deliveries_per_second
                );
                for (name, a, b) in [("p50", one.p50, two.p50), ("p99", one.p99, two.p99)] {
                    println!(
                        "| {name} to the last subscriber | {:.1} ms | {:.1} ms | {:+.1} ms |",
                        ms(a),
                        ms(b),
                        ms(b) - ms(a)
                    );
                }
            }
        }
    });
}

/// Runs the measurement against a deployment of `nodes` nodes (one, or two joined by
/// Redis) and stops it.
async fn measure(options: &Options, nodes: usize) -> Figures {
    println!("== {nodes} node(s)");
    let mut env = vec![(
        "SWITCHBOARD_SANDBOX_DELAY_MS",
        options.sandbox_delay_ms.to_string(),
    )];
    if nodes > 1 {
        let redis = std::env::var("SWITCHBOARD_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        env.push(("REDIS_URL", redis));
    }
    let first = Server::start(&format!("fanout_bench_{nodes}"), &env).await;
    let mut servers = vec![first];
    while servers.len() < nodes {
        let node = servers[0].join(&env).await;
        servers.push(node);
    }
    let ports: Vec<u16> = servers.iter().map(Server::port).collect();
    let all: Vec<&Server> = servers.iter().collect();
    let http = reqwest::Client::new();
    let base = servers[0].base.clone();
    let token = servers[0].admin_token(&http, "bench@example.com").await;
    let contact_id = servers[0].clinic(&http, &token, 1).await.remove(0);

    let total_messages = options.messages + options.burst;
    let tally = Arc::new(Tally {
        started: Instant::now(),
        frames: AtomicU64::new(0),
        arrivals: (0..total_messages).map(|_| AtomicUsize::new(0)).collect(),
        last_arrival_nanos: (0..total_messages).map(|_| AtomicU64::new(0)).collect(),
        closed: AtomicUsize::new(0),
    });

    if let Ok(path) = std::env::var("SWITCHBOARD_BENCH_PID_FILE") {
        std::fs::write(path, servers[0].child.id().to_string()).unwrap();
    }
    let rss = || -> u64 { servers.iter().map(|s| rss_kib(s.child.id())).sum() };
    let rss_before = rss();
    let opened = Instant::now();
    let mut openers = Vec::new();
    let per_task = options.subscribers.div_ceil(64);
    for task in 0..64 {
        let (token, contact_id, tally, ports) = (
            token.clone(),
            contact_id.clone(),
            tally.clone(),
            ports.clone(),
        );
        let range = task * per_task..((task + 1) * per_task).min(options.subscribers);
        openers.push(tokio::spawn(async move {
            for index in range {
                let source = format!("127.0.0.{}", 1 + index % 8);
                let port = ports[index % ports.len()];
                subscribe(port, &source, &token, &contact_id, tally.clone()).await;
            }
        }));
    }
    for opener in openers {
        opener.await.unwrap();
    }
    let open_time = opened.elapsed();
    // Let the server's allocator settle before reading its memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss();
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
    let cpu_before = support::cpu_seconds(&all);
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
    let cpu_after = support::cpu_seconds(&all);
    latencies.sort();
    let percentile = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    println!(
        "latency, API request -> last of {} subscribers ({} messages): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, worst {:.1} ms ({:.1}x p95)",
        options.subscribers,
        latencies.len(),
        percentile(0.50).as_secs_f64() * 1e3,
        percentile(0.95).as_secs_f64() * 1e3,
        percentile(0.99).as_secs_f64() * 1e3,
        percentile(1.0).as_secs_f64() * 1e3,
        percentile(1.0).as_secs_f64() / percentile(0.95).as_secs_f64(),
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
    let cpu_before = support::cpu_seconds(&all);
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
    let deliveries_per_second = delivered as f64 / elapsed.as_secs_f64();
    println!(
        "throughput: {} sends -> {} deliveries in {:.2} s: {:.0} deliveries/s{}",
        options.burst,
        delivered,
        elapsed.as_secs_f64(),
        deliveries_per_second,
        if complete {
            ""
        } else {
            " (incomplete: timed out)"
        }
    );
    if let (Some(before), Some(after)) = (cpu_before, support::cpu_seconds(&all)) {
        println!(
            "  per delivery, {}",
            before.per_item(after, delivered as usize)
        );
    }
    println!(
        "sockets closed by the server: {}",
        tally.closed.load(Ordering::Relaxed)
    );
    let figures = Figures {
        p50: percentile(0.50),
        p99: percentile(0.99),
        deliveries_per_second,
    };
    // Joined nodes first: the first node drops the database.
    while let Some(server) = servers.pop() {
        server.stop().await;
    }
    figures
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
