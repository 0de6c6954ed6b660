//! Scheduled messages against plain sends, on one server in one run: `--rows` rows due in
//! the same second, the time until the last one's message is recorded and each row's
//! firing lag (message recorded − `send_at`), beside the throughput of as many plain
//! API sends. The ratio is the figure: firing should cost no more than a send.
//!
//! Both go through the sandbox carrier (no Twilio), which is told to wait a minute
//! before reporting statuses, so what is measured is the send path up to the recorded
//! message. The release server runs as its own process; the clients run on one thread
//! of this one.
//!
//! Run: `cargo bench --bench scheduler -- [--rows 10000] [--concurrency 64] [--contacts 200]`

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Double, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Value};
use support::Server;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    rows: usize,
    concurrency: usize,
    contacts: usize,
}

fn main() {
    let options = Options {
        rows: support::arg("--rows", 10_000),
        concurrency: support::arg("--concurrency", 64),
        contacts: support::arg("--contacts", 200),
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(options));
}

async fn run(options: Options) {
    let server = Server::start(
        "scheduler_bench",
        &[
            ("SWITCHBOARD_SANDBOX_DELAY_MS", "60000".into()),
            ("SWITCHBOARD_DB_POOL_SIZE", "32".into()),
        ],
    )
    .await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .build()
        .unwrap();
    let token = server
        .admin_token(&http, "scheduler-bench@example.com")
        .await;
    let contacts = server.clinic(&http, &token, options.contacts).await;
    let contacts = Arc::new(contacts);
    let post_all = |path: &'static str, count: usize, body: fn(&str, usize) -> Value| {
        post_all(
            http.clone(),
            server.base.clone(),
            token.clone(),
            contacts.clone(),
            path,
            count,
            options.concurrency,
            body,
        )
    };

    // Plain sends: a warm-up, then the measured run.
    let send = |contact: &str, index: usize| json!({"contact_id": contact, "channel": "sms", "body": format!("send {index}")});
    post_all("/api/messages/send", options.rows / 5, send).await;
    let cpu_before = support::cpu_seconds(&[&server]);
    let started = Instant::now();
    post_all("/api/messages/send", options.rows, send).await;
    let sends_in = started.elapsed().as_secs_f64();
    let send_rate = options.rows as f64 / sends_in;
    println!(
        "plain sends: {} recorded in {sends_in:.2} s: {send_rate:.0}/s ({} clients)",
        options.rows, options.concurrency
    );
    if let (Some(before), Some(after)) = (cpu_before, support::cpu_seconds(&[&server])) {
        println!("  per send, {}", before.per_item(after, options.rows));
    }

    // Scheduled: every row made an hour ahead, then all moved to the same instant (the
    // last through the API, which wakes the scheduler for it).
    let later = |contact: &str, index: usize| {
        let send_at = Utc::now() + chrono::Duration::hours(1);
        json!({"contact_id": contact, "channel": "sms", "body": format!("scheduled {index}"),
               "send_at": send_at.to_rfc3339()})
    };
    let last = post_all("/api/scheduled-messages", options.rows, later).await;
    let mut conn = AsyncPgConnection::establish(&server.database_url)
        .await
        .unwrap();
    let due = DateTime::from_timestamp(Utc::now().timestamp() + 2, 0).unwrap();
    let cpu_before = support::cpu_seconds(&[&server]);
    diesel::sql_query("UPDATE scheduled_messages SET send_at = $1, due_at = $1")
        .bind::<Timestamptz, _>(due)
        .execute(&mut conn)
        .await
        .unwrap();
    let response = http
        .patch(format!(
            "{}/api/scheduled-messages/{}",
            server.base,
            last["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .json(&json!({"send_at": due.to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());

    let deadline = Instant::now() + Duration::from_secs(600);
    while waiting(&mut conn).await > 0 {
        assert!(
            Instant::now() < deadline,
            "rows still waiting after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lag: Lag = diesel::sql_query(
        "SELECT count(*) AS sent,
                extract(epoch FROM max(m.created_at) - s_due.at)::float8 AS last_s,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM m.created_at - s.send_at)::float8) AS p50_s,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM m.created_at - s.send_at)::float8) AS p99_s
         FROM scheduled_messages s
         JOIN messages m ON m.organization_id = s.organization_id AND m.id = s.message_id
         CROSS JOIN (SELECT min(send_at) AS at FROM scheduled_messages) s_due
         WHERE s.status = 'sent'
         GROUP BY s_due.at",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(lag.sent as usize, options.rows, "every row sent");
    let fire_rate = options.rows as f64 / lag.last_s;
    println!(
        "scheduled: {} rows due in one second, the last recorded {:.2} s after: {fire_rate:.0}/s; firing lag p50 {:.0} ms, p99 {:.0} ms",
        options.rows,
        lag.last_s,
        lag.p50_s * 1e3,
        lag.p99_s * 1e3
    );
    if let (Some(before), Some(after)) = (cpu_before, support::cpu_seconds(&[&server])) {
        println!("  per row fired, {}", before.per_item(after, options.rows));
    }
    println!(
        "firing / plain sends: {:.2} (throughput ratio, same server, same run)",
        fire_rate / send_rate
    );
    server.stop().await;
}

#[derive(diesel::QueryableByName)]
struct Lag {
    #[diesel(sql_type = BigInt)]
    sent: i64,
    #[diesel(sql_type = Double)]
    last_s: f64,
    #[diesel(sql_type = Double)]
    p50_s: f64,
    #[diesel(sql_type = Double)]
    p99_s: f64,
}

/// Rows not yet sent or failed.
async fn waiting(conn: &mut AsyncPgConnection) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let counted: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM scheduled_messages WHERE status IN ('pending', 'firing')",
    )
    .get_result(conn)
    .await
    .unwrap();
    counted.count
}

/// Posts `count` bodies from `concurrency` clients, each sending its share back to back;
/// answers the last answer's body.
#[allow(clippy::too_many_arguments)]
async fn post_all(
    http: reqwest::Client,
    base: String,
    token: String,
    contacts: Arc<Vec<String>>,
    path: &'static str,
    count: usize,
    concurrency: usize,
    body: fn(&str, usize) -> Value,
) -> Value {
    let mut lanes = Vec::new();
    for lane in 0..concurrency {
        let (http, base, token, contacts) =
            (http.clone(), base.clone(), token.clone(), contacts.clone());
        lanes.push(tokio::spawn(async move {
            let mut last = Value::Null;
            for index in (lane..count).step_by(concurrency) {
                let contact = &contacts[index % contacts.len()];
                let response = http
                    .post(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .json(&body(contact, index))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), reqwest::StatusCode::CREATED, "{path}");
                last = response.json().await.unwrap();
            }
            last
        }));
    }
    let mut last = Value::Null;
    for lane in lanes {
        let answer = lane.await.unwrap();
        if !answer.is_null() {
            last = answer;
        }
    }
    last
}
