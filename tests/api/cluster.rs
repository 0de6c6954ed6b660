//! Several nodes, one organisation: two real server processes (`switchboard serve`) on
//! the test's PostgreSQL database and one Redis, which `scripts/test.sh` starts and
//! names in `SWITCHBOARD_TEST_REDIS_URL` (without it these tests say so and pass); the
//! test that restarts Redis starts a `redis-server` of its own instead.
//! The test's own in-process server (on the same Redis) only sets the clinic up.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    form, poll_until, status_callback, Conversation, TestApp, WsClient, TWILIO_ACCOUNT,
};
use crate::nodes::{Node, RedisServer};
use crate::twilio_standin::{Create, TwilioStandIn};

/// The cluster tests run one at a time: each runs several servers on two cores, and
/// some break every node's Redis connections on purpose.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn redis_url() -> Option<String> {
    let url = std::env::var("SWITCHBOARD_TEST_REDIS_URL").ok();
    if url.is_none() {
        eprintln!(
            "cluster test not run: SWITCHBOARD_TEST_REDIS_URL is unset (scripts/test.sh sets it)"
        );
    }
    url
}

/// A clinic, and two nodes serving it through one Redis.
struct Cluster {
    app: TestApp,
    chat: Conversation,
    agent: String,
    twilio: TwilioStandIn,
    nodes: [Node; 2],
    redis: redis::Client,
}

impl Cluster {
    async fn start(redis: &str, env: &[(&str, &str)]) -> Cluster {
        let twilio = TwilioStandIn::start().await;
        let base = twilio.uri();
        let app = TestApp::spawn_with(|settings| {
            settings.cluster.redis_url = Some(redis.to_string());
            settings.delivery.twilio_api_base = base;
            // Its sweep would take part in sending (see below).
            settings.delivery.outbox_sweep_secs = 24 * 3600;
        })
        .await;
        let chat = app.conversation().await;
        app.use_twilio(&chat.org).await;
        let agent = app.create_agent(&chat.org).await;
        // It only sets the clinic up: the nodes do the work, and only they.
        app.stopper.stop().await;
        let mut node_env = vec![
            ("REDIS_URL", redis),
            ("SWITCHBOARD_POSITION_CHECK_MS", "300"),
            ("SWITCHBOARD_REDIS_TIMEOUT_MS", "500"),
        ];
        node_env.extend_from_slice(env);
        let twilio_uri = twilio.uri();
        let (a, b) = tokio::join!(
            Node::start(&app.database_url, &twilio_uri, &node_env),
            Node::start(&app.database_url, &twilio_uri, &node_env),
        );
        Cluster {
            app,
            chat,
            agent,
            twilio,
            nodes: [a, b],
            redis: redis::Client::open(redis).unwrap(),
        }
    }

    async fn redis(&self) -> redis::aio::MultiplexedConnection {
        self.redis
            .get_multiplexed_async_connection()
            .await
            .expect("the test's Redis answers")
    }

    /// `node`'s `/readyz`: `200` while it serves, degraded or not.
    async fn readyz(&self, node: usize) -> Value {
        let url = format!("{}/readyz", self.nodes[node].address);
        let response = self.app.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Reads `node`'s `/readyz` until it says `status`; returns what it said.
    async fn readyz_says(&self, node: usize, status: &str) -> Value {
        let what = format!("node {node}'s /readyz says {status}");
        poll_until(&what, Duration::from_secs(10), || async {
            let ready = self.readyz(node).await;
            (ready["status"] == status).then_some(ready)
        })
        .await
    }

    /// Sends an SMS through `node`; returns the message.
    async fn send(&self, node: usize, body: &str) -> Value {
        let response = self
            .app
            .client
            .post(format!("{}/api/messages/send", self.nodes[node].address))
            .bearer_auth(&self.chat.org.token)
            .json(&json!({"contact_id": self.chat.contact_id, "channel": "sms", "body": body}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// An operator on `node` following the organisation and the contact; `query` is
    /// added to the socket's URL (`&since=…&epoch=…`).
    async fn operator(&self, node: usize, token: &str, query: &str) -> Operator {
        self.operator_at(&self.nodes[node].address, token, query)
            .await
    }

    /// The same on the server at `address`.
    async fn operator_at(&self, address: &str, token: &str, query: &str) -> Operator {
        let path = format!("/ws?token={token}{query}");
        let mut socket = WsClient::connect(address, &path).await;
        assert_eq!(socket.next().await["type"], "hello");
        socket.send(json!({"type": "subscribe_org"})).await;
        let mut replayed = Vec::new();
        let org_ack = loop {
            let frame = socket.next().await;
            if frame["type"] == "subscribed" {
                break frame;
            }
            replayed.push(frame);
        };
        socket
            .send(json!({"type": "subscribe", "contact_id": self.chat.contact_id}))
            .await;
        loop {
            let frame = socket.next().await;
            if frame["type"] == "subscribed" {
                break;
            }
            replayed.push(frame);
        }
        Operator {
            socket,
            epoch: org_ack["epoch"].as_str().unwrap().to_string(),
            events: Vec::new(),
            resyncs: 0,
            resynced_at: 0,
            resync_index: 0,
        }
        .with(replayed)
    }
}

/// An operator's tab: the events it received, in order.
struct Operator {
    socket: WsClient,
    epoch: String,
    events: Vec<Value>,
    resyncs: usize,
    /// The number the last `resync` said to carry on from, and how many events had
    /// arrived before it.
    resynced_at: u64,
    resync_index: usize,
}

impl Operator {
    fn with(mut self, frames: Vec<Value>) -> Self {
        for frame in frames {
            self.take(frame);
        }
        self
    }

    fn take(&mut self, frame: Value) {
        match frame["type"].as_str().unwrap_or_default() {
            "resync" => {
                self.resyncs += 1;
                self.epoch = frame["epoch"].as_str().unwrap().to_string();
                self.resynced_at = seq(&frame);
                self.resync_index = self.events.len();
            }
            kind if kind.starts_with("messaging.") => self.events.push(frame),
            _ => {}
        }
    }

    /// Reads until `done` holds for what was received.
    async fn until(&mut self, done: impl Fn(&Operator) -> bool) {
        while !done(self) {
            let frame = self.socket.next().await;
            self.take(frame);
        }
    }

    async fn until_seq(&mut self, seq: u64) {
        self.until(|op| op.last_seq() >= seq).await
    }

    /// The events received in the current numbering: since the last `resync`, or all.
    fn current(&self) -> &[Value] {
        &self.events[self.resync_index..]
    }

    fn last_seq(&self) -> u64 {
        self.current().last().map_or(self.resynced_at, seq)
    }

    fn seqs(&self) -> Vec<u64> {
        self.current().iter().map(seq).collect()
    }

    fn saw(&self, kind: &str, id: &str, status: Option<&str>) -> bool {
        self.events.iter().any(|event| {
            event["type"] == kind
                && event["data"]["id"] == id
                && status.is_none_or(|status| event["data"]["status"] == status)
        })
    }

    /// Whether the message's carrier id arrived (the last event of a send).
    fn saw_handed_over(&self, id: &str) -> bool {
        self.events.iter().any(|event| {
            event["type"] == "messaging.message.status"
                && event["data"]["id"] == id
                && event["data"]["external_id"].is_string()
        })
    }
}

fn seq(event: &Value) -> u64 {
    event["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq in {event}"))
}

/// Both operators read until `done` holds for each and each has what the other has;
/// then they must have received one sequence.
async fn both_until(a: &mut Operator, b: &mut Operator, done: impl Fn(&Operator) -> bool) {
    a.until(&done).await;
    b.until(&done).await;
    let last = a.last_seq().max(b.last_seq());
    a.until_seq(last).await;
    b.until_seq(last).await;
    assert_one_sequence(a, b);
}

/// Both operators received the same events in the current numbering, in one gap-free
/// order (after a `resync`, from where it said to carry on), each once.
fn assert_one_sequence(a: &Operator, b: &Operator) {
    let seqs = a.seqs();
    assert!(!seqs.is_empty());
    assert!(
        seqs.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "gap-free and in order: {seqs:?}"
    );
    if a.resyncs > 0 {
        assert_eq!(seqs[0], a.resynced_at + 1, "carried on from the resync");
    }
    assert_eq!(seqs, b.seqs(), "both operators saw the same numbers");
    assert_eq!(
        a.current(),
        b.current(),
        "both operators saw the same events"
    );
}

#[actix_web::test]
async fn operators_on_two_nodes_see_every_event_once_in_order_whichever_node_took_it() {
    let Some(redis) = redis_url() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start(&redis, &[]).await;
    let mut a = cluster.operator(0, &cluster.chat.org.token, "").await;
    let mut b = cluster.operator(1, &cluster.agent, "").await;
    assert_eq!(a.epoch, b.epoch, "one numbering for the organisation");

    // A send through node A; its carrier's status report reaches node B.
    let first = cluster.send(0, "Your appointment is confirmed").await;
    let first_id = first["id"].as_str().unwrap();
    a.until(|op| op.saw_handed_over(first_id)).await;
    let sid = cluster.twilio.sent()[0].sid.clone();
    let delivered = format!(
        "/webhooks/twilio/status?message_id={first_id}&contact_id={}",
        cluster.chat.contact_id
    );
    let status = cluster.nodes[1]
        .post_signed(&delivered, &status_callback(&sid, "delivered"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The contact answers through node A; the agent replies through node B.
    let inbound = form(&[
        ("AccountSid", TWILIO_ACCOUNT),
        ("MessageSid", "SM00000000000000000000000000000077"),
        ("From", "+14155550111"),
        ("To", "+14155550100"),
        ("Body", "Thank you, see you then"),
    ]);
    let status = cluster.nodes[0]
        .post_signed("/webhooks/twilio/inbound", &inbound)
        .await;
    assert_eq!(status, StatusCode::OK);
    let reply = cluster.send(1, "You're welcome").await;
    let reply_id = reply["id"].as_str().unwrap();

    both_until(&mut a, &mut b, |op| {
        op.saw("messaging.message.status", first_id, Some("delivered"))
            && op.events.iter().any(|e| e["type"] == "messaging.inbound")
            && op.saw_handed_over(reply_id)
    })
    .await;
    assert_eq!((a.resyncs, b.resyncs), (0, 0));

    // Both nodes take sends at once: still one gap-free sequence for everyone.
    const EACH: usize = 15;
    let cluster = &cluster;
    let sends =
        (0..EACH * 2).map(|n| async move { cluster.send(n % 2, &format!("Reminder {n}")).await });
    let sent: Vec<Value> = futures_util::future::join_all(sends).await;
    let ids: Vec<&str> = sent.iter().map(|m| m["id"].as_str().unwrap()).collect();
    both_until(&mut a, &mut b, |op| {
        ids.iter().all(|id| op.saw_handed_over(id))
    })
    .await;
    let news: Vec<&Value> = a
        .events
        .iter()
        .filter(|e| e["type"] == "messaging.message.new")
        .collect();
    let unique: HashSet<&str> = news
        .iter()
        .map(|e| e["data"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(news.len(), unique.len(), "each message announced once");
    assert!(ids.iter().all(|id| unique.contains(id)));

    // Operator A drops; what happens meanwhile goes through node B; A resumes on node
    // B and gets exactly what it missed.
    let (since, epoch) = (a.last_seq(), a.epoch.clone());
    drop(a);
    let missed = cluster.send(1, "One more thing").await;
    let missed_id = missed["id"].as_str().unwrap();
    b.until(|op| op.saw_handed_over(missed_id)).await;
    let expected: Vec<Value> = b
        .events
        .iter()
        .filter(|e| seq(e) > since)
        .cloned()
        .collect();
    // On node B, which delivered them, and on a node started since, which never saw
    // them and reads them back from Redis.
    let query = format!("&since={since}&epoch={epoch}");
    let latecomer = Node::start(
        &cluster.app.database_url,
        &cluster.twilio.uri(),
        &[("REDIS_URL", redis.as_str())],
    )
    .await;
    for address in [&cluster.nodes[1].address, &latecomer.address] {
        let mut resumed = cluster
            .operator_at(address, &cluster.chat.org.token, &query)
            .await;
        resumed.until(|op| op.events.len() >= expected.len()).await;
        assert_eq!(resumed.resyncs, 0);
        // Each subscription replays its own events in order (the organisation's, then
        // the contact's): together, exactly what was missed.
        resumed.events.sort_by_key(seq);
        assert_eq!(resumed.events, expected, "exactly the missed events");
    }

    // A number from another epoch is answered `resync`.
    let query = format!("&since={since}&epoch=0000000000000000");
    let mut stranger = cluster.operator(0, &cluster.chat.org.token, &query).await;
    stranger.until(|op| op.resyncs > 0).await;
    assert!(stranger.events.is_empty());
}

/// Polls `holds` until it does, for at most a second: far less than the caches' 10 s
/// lifetime, so it holds because the change reached this node, not because its cache
/// expired.
async fn within_a_second<F: std::future::Future<Output = bool>>(what: &str, holds: impl Fn() -> F) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while !holds().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_revoked_session_and_a_tightened_phi_policy_reach_the_other_node_at_once() {
    let Some(redis) = redis_url() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start(&redis, &[]).await;
    let client = &cluster.app.client;
    let at = |node: usize, path: &str| format!("{}{path}", cluster.nodes[node].address);
    let me = || async {
        let response = client
            .get(at(1, "/api/me"))
            .bearer_auth(&cluster.agent)
            .send();
        response.await.unwrap().status()
    };
    // Node B has the session cached...
    assert_eq!(me().await, StatusCode::OK);
    let logout = client
        .post(at(0, "/api/auth/logout"))
        .bearer_auth(&cluster.agent)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    // ...and drops it as soon as node A's word arrives.
    within_a_second("node B still honours the revoked session", || async {
        me().await == StatusCode::UNAUTHORIZED
    })
    .await;

    // The same for the organisation's configuration: a PHI policy tightened on node A.
    let blocked = || async {
        let draft = json!({"body": "Your result for STUDY-1234 is in", "contact_id": cluster.chat.contact_id});
        let response = client
            .post(at(1, "/api/phi/check"))
            .bearer_auth(&cluster.chat.org.token)
            .json(&draft)
            .send();
        let verdict: Value = response.await.unwrap().json().await.unwrap();
        verdict["blocked"] == true
    };
    assert!(!blocked().await);
    let change = json!({"extra_patterns": [{"name": "study id", "pattern": "STUDY-\\d{4}", "action": "block"}]});
    let response = client
        .patch(at(0, "/api/phi/policy"))
        .bearer_auth(&cluster.chat.org.token)
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    within_a_second("node B still vets with the old policy", blocked).await;
}

#[actix_web::test]
async fn dropped_pubsub_messages_are_repaired_by_the_position_check() {
    let Some(redis) = redis_url() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start(&redis, &[]).await;
    let mut a = cluster.operator(0, &cluster.chat.org.token, "").await;
    let mut b = cluster.operator(1, &cluster.agent, "").await;
    let mut redis = cluster.redis().await;

    // Every node's pub/sub connection breaks as sends go through both nodes: what was
    // published meanwhile never arrives over PUB/SUB, and the position checks bring it.
    let _: () = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "pubsub"])
        .query_async(&mut redis)
        .await
        .unwrap();
    let (first, second) = tokio::join!(
        cluster.send(0, "Sent while PUB/SUB was down"),
        cluster.send(1, "This one too")
    );
    let ids = [
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    ];
    both_until(&mut a, &mut b, |op| {
        ids.iter().all(|id| op.saw_handed_over(id))
    })
    .await;
    assert_eq!((a.resyncs, b.resyncs), (0, 0), "repaired, not resynced");
}

/// Redis is killed (SIGKILL) and a new, empty one starts on its port a few seconds
/// later: its epoch and history are gone, so the operators' numbers mean nothing any more.
#[actix_web::test]
async fn a_redis_restarted_without_its_data_means_resync_then_live_events_again() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    // No periodic position check within the test: what reaches the other node comes
    // through PUB/SUB and the check after the reconnect.
    let cluster = Cluster::start(&redis.url(), &[("SWITCHBOARD_POSITION_CHECK_MS", "60000")]).await;
    let mut a = cluster.operator(0, &cluster.chat.org.token, "").await;
    let mut b = cluster.operator(1, &cluster.agent, "").await;
    let before = cluster.send(0, "Before the restart").await;
    let before_id = before["id"].as_str().unwrap();
    both_until(&mut a, &mut b, |op| op.saw_handed_over(before_id)).await;
    assert_eq!((a.resyncs, b.resyncs), (0, 0));
    let old_epoch = a.epoch.clone();

    redis.kill();
    let killed = tokio::time::Instant::now();
    for node in 0..2 {
        let ready = cluster.readyz_says(node, "degraded").await;
        assert!(
            ready["redis"].as_str().is_some_and(|why| !why.is_empty()),
            "{ready}"
        );
    }

    // Down as long as a restart takes: longer than the nodes' own first attempts to
    // reconnect (the length of the outage, not a wait for something to happen).
    tokio::time::sleep_until(killed + Duration::from_secs(3)).await;
    redis.start_again().await;
    // Every operator is told to refetch, in the new epoch (one `resync` per
    // subscription: the organisation's and the contact's)...
    for operator in [&mut a, &mut b] {
        operator.until(|op| op.resyncs == 2).await;
        assert_ne!(operator.epoch, old_epoch);
    }
    assert_eq!(a.epoch, b.epoch, "one new numbering for the organisation");
    for node in 0..2 {
        cluster.readyz_says(node, "ready").await;
    }
    // ...then gets live events again, whichever node took the send, carrying on from
    // where the resync said.
    let (first, second) = tokio::join!(
        cluster.send(1, "Live again"),
        cluster.send(0, "And through the other node")
    );
    let ids = [
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    ];
    both_until(&mut a, &mut b, |op| {
        ids.iter().all(|id| op.saw_handed_over(id))
    })
    .await;
    assert_eq!((a.resyncs, b.resyncs), (2, 2));
}

#[actix_web::test]
async fn while_redis_does_not_answer_a_node_serves_its_own_clients_and_says_it_is_degraded() {
    let Some(redis) = redis_url() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start(&redis, &[]).await;
    let mut a = cluster.operator(0, &cluster.chat.org.token, "").await;
    let mut b = cluster.operator(1, &cluster.agent, "").await;
    let mut redis = cluster.redis().await;
    assert_eq!(cluster.readyz(0).await["status"], "ready");

    // Redis stops answering anyone for a few seconds.
    let _: () = redis::cmd("CLIENT")
        .arg(&["PAUSE", "4000", "ALL"])
        .query_async(&mut redis)
        .await
        .unwrap();
    let started = Instant::now();
    let during = cluster.send(0, "Sent while Redis was away").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a send does not wait on Redis"
    );
    let during_id = during["id"].as_str().unwrap();
    // The node's own operator still gets it (after a resync into the node's own
    // numbering), and the node says why it is degraded.
    a.until(|op| op.saw_handed_over(during_id)).await;
    assert!(a.resyncs >= 1);
    let ready = cluster.readyz(0).await;
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert!(ready["redis"]
        .as_str()
        .is_some_and(|reason| !reason.is_empty()));

    // Redis is back: operators on both nodes resync (B's never saw that send), then
    // everything is live again, for everyone.
    b.until(|op| op.resyncs > 0).await;
    cluster.readyz_says(0, "ready").await;
    let after = cluster.send(1, "Redis is back").await;
    let after_id = after["id"].as_str().unwrap();
    for operator in [&mut a, &mut b] {
        operator.until(|op| op.saw_handed_over(after_id)).await;
    }
    assert_eq!(a.epoch, b.epoch);
}

/// `(outbound messages, those without the carrier's id yet)` in the test's database.
async fn outbox(app: &TestApp) -> (i64, i64) {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        unsent: i64,
    }
    let counts: Counts = diesel::sql_query(
        "SELECT count(*) AS total, count(*) FILTER (WHERE external_id IS NULL) AS unsent \
         FROM messages WHERE direction = 'outbound'",
    )
    .get_result(&mut *app.pool.get().await.unwrap())
    .await
    .unwrap();
    (counts.total, counts.unsent)
}

/// Polls `done` every 100 ms until it holds, answering how long after `since` that was,
/// or `None` once `within` of `since` has passed (the caller prints what it measured
/// before failing).
async fn time_until<F: std::future::Future<Output = bool>>(
    since: Instant,
    within: Duration,
    done: impl Fn() -> F,
) -> Option<Duration> {
    while !done().await {
        if since.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(since.elapsed())
}

#[actix_web::test]
async fn a_node_killed_mid_burst_leaves_every_accepted_message_sent_exactly_once() {
    use futures_util::StreamExt;
    const SENDS: usize = 1000;
    /// Sends asked at once, alternating between the nodes.
    const AT_ONCE: usize = 300;
    const SCHEDULED: usize = 20;
    /// The Twilio stand-in answers each send this late. Each node has 32 requests to
    /// carriers at a time, so accepted messages queue up in the outbox faster than they
    /// leave: hundreds are between the API and Twilio when the kill lands, some of them
    /// at Twilio already without its answer.
    const TWILIO_ANSWERS_AFTER: Duration = Duration::from_millis(500);
    let Some(redis) = redis_url() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let mut cluster = Cluster::start(&redis, &[("SWITCHBOARD_OUTBOX_SWEEP_SECS", "1")]).await;
    cluster.twilio.always(Create::Stall(TWILIO_ANSWERS_AFTER));
    let client = cluster.app.client.clone();
    let addresses = [
        cluster.nodes[0].address.clone(),
        cluster.nodes[1].address.clone(),
    ];
    let (token, contact) = (
        cluster.chat.org.token.clone(),
        cluster.chat.contact_id.clone(),
    );
    let post = |node: usize, path: &'static str, body: Value| {
        let request = client
            .post(format!("{}{path}", addresses[node]))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let response = request.send().await.ok()?;
            (response.status() == StatusCode::CREATED)
                .then_some(response.json::<Value>().await.ok()?)
        }
    };

    // Scheduled messages on both nodes, due one after another over the second in which
    // node A dies.
    let due = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let mut scheduled = Vec::new();
    for n in 0..SCHEDULED {
        let send_at = due + chrono::Duration::milliseconds(50 * n as i64);
        let body = json!({"contact_id": contact, "channel": "sms", "body": format!("Scheduled {n}"),
                          "send_at": send_at.to_rfc3339()});
        let row = post(n % 2, "/api/scheduled-messages", body)
            .await
            .expect("scheduled");
        scheduled.push(row["id"].as_str().unwrap().to_string());
    }

    // A burst of sends through both nodes; node A is killed once a quarter of them were
    // accepted and the scheduled messages are falling due.
    let mut sends = futures_util::stream::iter(0..SENDS)
        .map(|n| {
            let body =
                json!({"contact_id": contact, "channel": "sms", "body": format!("Burst {n}")});
            let sent = post(n % 2, "/api/messages/send", body);
            async move { (n % 2, sent.await) }
        })
        .buffer_unordered(AT_ONCE);
    let mut accepted = Vec::new();
    let mut at_kill = None;
    while let Some((node, sent)) = sends.next().await {
        if let Some(message) = sent {
            accepted.push(message["body"].as_str().unwrap().to_string());
        }
        let due_now = chrono::Utc::now() >= due;
        if at_kill.is_none() && node == 0 && accepted.len() >= SENDS / 4 && due_now {
            cluster.nodes[0].kill();
            at_kill = Some((Instant::now(), accepted.len(), cluster.twilio.sent().len()));
        }
    }
    drop(sends);
    let (killed, accepted_then, at_twilio_then) = at_kill.expect("node A was killed");
    assert!(accepted.len() > SENDS / 2, "accepted {}", accepted.len());

    // Node B takes over what node A claimed or left queued, and fires what was due.
    let app = &cluster.app;
    let settled = time_until(killed, Duration::from_secs(60), || async {
        let (total, unsent) = outbox(app).await;
        unsent == 0 && total as usize >= accepted.len() + SCHEDULED
    })
    .await;
    let (recorded, unsent) = outbox(app).await;
    let sent = cluster.twilio.sent();
    let bodies: HashSet<&str> = sent.iter().map(|m| m.body.as_str()).collect();
    let expected: Vec<String> = accepted
        .iter()
        .cloned()
        .chain((0..SCHEDULED).map(|n| format!("Scheduled {n}")))
        .collect();
    let lost = expected
        .iter()
        .filter(|body| !bodies.contains(body.as_str()))
        .count();
    let duplicates = sent.len() - bodies.len();
    println!(
        "kill -9 of one node of two: {SENDS} sends, {AT_ONCE} at a time, and {SCHEDULED} scheduled; \
         Twilio answers after {TWILIO_ANSWERS_AFTER:?}\n\
         at the kill: {accepted_then} accepted, {at_twilio_then} at Twilio, {} in flight\n\
         in all: {} accepted, {recorded} recorded, {} reached Twilio, {duplicates} duplicates, \
         {lost} lost, {unsent} recorded without the carrier's id; settled {} after the kill",
        accepted_then.saturating_sub(at_twilio_then),
        accepted.len(),
        sent.len(),
        settled.map_or("not".into(), |took| format!("{:.1} s", took.as_secs_f64())),
    );
    assert!(settled.is_some(), "not settled within a minute");
    assert_eq!(duplicates, 0, "no message reached Twilio twice");
    assert_eq!(lost, 0, "every accepted message reached Twilio");
    assert_eq!(
        sent.len() as i64,
        recorded,
        "every recorded message reached Twilio"
    );
    // A row node A was firing when it died is finished by node B's next round (it
    // finds the message A made, by its client id, and sends nothing more).
    let through_b = app.through(&cluster.nodes[1].address);
    let deadline = Instant::now() + Duration::from_secs(45);
    for id in &scheduled {
        loop {
            let (status, row) = through_b
                .get(
                    &format!("/api/scheduled-messages/{id}"),
                    &cluster.chat.org.token,
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            if row["status"] == "sent" {
                break;
            }
            assert!(Instant::now() < deadline, "not finished: {row}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(
        cluster.twilio.sent().len(),
        sent.len(),
        "and nothing more was sent"
    );
}
