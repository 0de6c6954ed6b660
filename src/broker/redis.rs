//! The Redis broker: one numbering per organisation for every node of a deployment.
//!
//! Per organisation Redis holds a hash (`epoch`, `seq`), a capped stream of recent
//! events whose entry ids are their sequence numbers (`{seq}-0`, so a range of numbers
//! is one `XRANGE`), and a channel. One Lua call per batch of an organisation's events
//! increments the sequence, appends each event (`XADD … MAXLEN ~`), renews the keys'
//! expiry and publishes the batch: numbering, history and delivery cannot disagree.
//! The epoch is random and made when the hash is missing, so when Redis loses its data
//! every client's old numbers are recognisably from another epoch (`resync`).
//!
//! Each node subscribes to the channels of the organisations it has actors for and
//! hands what arrives to its [`Listener`] (the organisations' actors), which drop what
//! they already have and read gaps back from the stream. PUB/SUB drops messages silently when a connection
//! breaks, so nodes also compare positions periodically and after every reconnect.
//!
//! Redis trouble degrades, never blocks: every call is bounded by a timeout, an
//! organisation whose events cannot be published numbers them on its node (under an
//! epoch of that node's own) until Redis answers again, and `/readyz` says why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ProtocolVersion, PushInfo, PushKind, Script, Value};
use tokio::sync::mpsc;

use super::envelope::{new_epoch, Envelope};
use crate::db::ids::OrganizationId;

/// The channel cache invalidations travel on (see `cache::Caches`).
const INVALIDATIONS: &str = "switchboard:invalidate";
/// An organisation's epoch and sequence outlive its history by far: an organisation
/// quiet for longer than the resume window keeps its numbering (its live clients need no
/// resync), only the events themselves expire.
const POSITION_TTL_SECS: u64 = 7 * 24 * 3600;
/// Events published in one call at most.
const BATCH: usize = 512;
/// While the pub/sub connection is down, how often the connections are tried again.
const REVIVE_EVERY: Duration = Duration::from_secs(1);

/// The start of both scripts (KEYS: position hash, history stream; `new_epoch` the
/// argument holding a fresh epoch): the organisation's epoch, made (with an empty
/// history) when Redis has none, as after it lost its data.
fn script(new_epoch: usize, body: &str) -> Script {
    Script::new(&format!(
        "local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[{new_epoch}]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
{body}"
    ))
}

/// ARGV: channel, history length, history TTL, position TTL, an epoch to use if there is
/// none, then the events.
const PUBLISH: &str = r"
local count = #ARGV - 5
local last = redis.call('HINCRBY', KEYS[1], 'seq', count)
local first = last - count + 1
for i = 1, count do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], (first + i - 1) .. '-0', 'e', ARGV[5 + i])
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[1], epoch .. ' ' .. first .. '\n' .. table.concat(ARGV, '\n', 6))
return first
";

/// ARGV: an epoch to use if there is none, position TTL. Returns the epoch and the
/// latest sequence number.
const POSITION: &str = r"
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {epoch, redis.call('HGET', KEYS[1], 'seq')}
";

/// What a node does with what the broker hears. The realtime core implements it: the
/// broker sits below the actors and reaches them only through this.
pub trait Listener: Send + Sync {
    /// A batch of the organisation's events, as the broker numbered them.
    fn incoming(&self, org: OrganizationId, batch: Batch);
    /// Events Redis could not take: the organisation delivers them on this node alone.
    fn undelivered(&self, org: OrganizationId, events: Vec<Envelope>);
    /// Another node changed something this node may have cached.
    fn invalidated(&self, message: &str);
    /// The pub/sub connection is back: what was published meanwhile never arrived.
    fn reconnected(&self);
}

/// A batch of an organisation's events: `first`, then one more for each event.
pub struct Batch {
    pub epoch: String,
    pub first: u64,
    pub events: Vec<Envelope>,
}

#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub url: String,
    /// Events kept per organisation for resuming clients...
    pub history: usize,
    /// ...and for how long.
    pub history_ttl: Duration,
    /// The longest any call to Redis may take.
    pub timeout: Duration,
    /// How often each organisation's position is compared with Redis's.
    pub position_check: Duration,
}

type Outgoing = (OrganizationId, Envelope);

pub struct RedisBroker {
    /// This node, as typing notices name their typist's node.
    node: u64,
    settings: BrokerSettings,
    commands: ConnectionManager,
    pubsub: ConnectionManager,
    publish: Script,
    position: Script,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    /// Taken by `run`.
    receivers: Mutex<
        Option<(
            mpsc::UnboundedReceiver<Outgoing>,
            mpsc::UnboundedReceiver<PushInfo>,
        )>,
    >,
    /// Why the node is degraded, if it is.
    problem: Mutex<Option<String>>,
    /// The pub/sub connection broke: until it is subscribed again `revive` tries it, and
    /// then every organisation checks what it missed meanwhile.
    reconnecting: AtomicBool,
}

impl RedisBroker {
    /// Prepares the connections; they connect on first use and reconnect by themselves,
    /// so a node starts (degraded) while Redis is down.
    pub fn new(settings: BrokerSettings) -> anyhow::Result<Arc<RedisBroker>> {
        let info = redis::IntoConnectionInfo::into_connection_info(settings.url.as_str())
            .context("REDIS_URL is not a Redis URL")?;
        // Pub/sub pushes arrive on a multiplexed connection only with RESP3.
        let redis_settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(redis_settings))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let (push_sender, pushes) = mpsc::unbounded_channel();
        let commands = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?;
        let pubsub = ConnectionManager::new_lazy_with_config(
            client,
            config
                .set_push_sender(push_sender)
                .set_automatic_resubscription(),
        )?;
        let (outgoing, to_publish) = mpsc::unbounded_channel();
        Ok(Arc::new(RedisBroker {
            node: rand::thread_rng().gen(),
            settings,
            commands,
            pubsub,
            publish: script(5, PUBLISH),
            position: script(1, POSITION),
            outgoing,
            receivers: Mutex::new(Some((to_publish, pushes))),
            problem: Mutex::new(None),
            reconnecting: AtomicBool::new(false),
        }))
    }

    /// Starts publishing and receiving for `listener`. Call once, from within the actix
    /// system.
    pub fn run(self: &Arc<Self>, listener: Weak<dyn Listener>) {
        let receivers = self.receivers.lock().expect("never poisoned").take();
        let Some((to_publish, pushes)) = receivers else {
            return;
        };
        actix::spawn(self.clone().publish_loop(to_publish, listener.clone()));
        actix::spawn(self.clone().push_loop(pushes, listener));
        let broker = self.clone();
        actix::spawn(async move {
            // Redis may be away as the node starts. The connection resubscribes by itself
            // only to what it once subscribed to, so keep asking until it has: meanwhile
            // the caches fall back to their short lifetime.
            while let Err(error) = broker.subscribe(INVALIDATIONS).await {
                broker.degraded(format!("subscribing to cache invalidations: {error}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    pub fn node(&self) -> u64 {
        self.node
    }

    pub fn position_check(&self) -> Duration {
        self.settings.position_check
    }

    /// Why this node is degraded, or `None` when Redis answers.
    pub fn problem(&self) -> Option<String> {
        self.problem.lock().expect("never poisoned").clone()
    }

    pub fn degraded(&self, problem: String) {
        let mut current = self.problem.lock().expect("never poisoned");
        if current.is_none() {
            tracing::warn!(%problem, "Redis broker degraded");
        }
        *current = Some(problem);
    }

    pub fn healthy(&self) {
        if self
            .problem
            .lock()
            .expect("never poisoned")
            .take()
            .is_some()
        {
            tracing::info!("Redis broker answers again");
        }
    }

    /// Queues an event for numbering and delivery to every node.
    pub fn publish(&self, org: OrganizationId, envelope: Envelope) {
        // Fails only once the publisher is gone, as the server stops.
        let _ = self.outgoing.send((org, envelope));
    }

    /// Tells the other nodes to drop a cache entry (see `cache::Invalidation`).
    pub fn invalidate(self: &Arc<Self>, message: String) {
        let broker = self.clone();
        tokio::spawn(async move {
            let mut conn = broker.commands.clone();
            let sent = broker
                .bounded(
                    redis::cmd("PUBLISH")
                        .arg(INVALIDATIONS)
                        .arg(&message)
                        .query_async::<i64>(&mut conn),
                )
                .await;
            if let Err(error) = sent {
                // The other nodes' caches expire it within their TTL.
                broker.degraded(format!("publishing a cache invalidation: {error}"));
            }
        });
    }

    /// Receives the organisation's events from now on.
    pub async fn subscribe_org(&self, org: OrganizationId) -> anyhow::Result<()> {
        self.subscribe(&channel(org)).await
    }

    async fn subscribe(&self, channel: &str) -> anyhow::Result<()> {
        let mut conn = self.pubsub.clone();
        self.bounded(conn.subscribe(channel)).await
    }

    /// The organisation's epoch and latest sequence number (made if Redis has none).
    pub async fn position(&self, org: OrganizationId) -> anyhow::Result<(String, u64)> {
        let mut conn = self.commands.clone();
        let mut call = self.position.prepare_invoke();
        call.key(position_key(org))
            .key(history_key(org))
            .arg(new_epoch())
            .arg(POSITION_TTL_SECS);
        let (epoch, seq): (String, u64) = self.bounded(call.invoke_async(&mut conn)).await?;
        Ok((epoch, seq))
    }

    /// The retained events numbered `from..=through`, in order; fewer (or from later)
    /// when some expired or were trimmed.
    pub async fn range(
        &self,
        org: OrganizationId,
        from: u64,
        through: u64,
    ) -> anyhow::Result<Vec<(u64, Envelope)>> {
        let mut conn = self.commands.clone();
        let entries: Vec<(String, Vec<String>)> = self
            .bounded(
                redis::cmd("XRANGE")
                    .arg(history_key(org))
                    .arg(format!("{from}-0"))
                    .arg(format!("{through}-0"))
                    .query_async(&mut conn),
            )
            .await?;
        entries
            .into_iter()
            .map(|(id, fields)| {
                let seq = id
                    .split_once('-')
                    .and_then(|(seq, _)| seq.parse().ok())
                    .with_context(|| format!("a history entry id {id:?}"))?;
                let event = fields.get(1).context("a history entry without its event")?;
                Ok((seq, serde_json::from_str(event)?))
            })
            .collect()
    }

    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.settings.timeout, call).await {
            Ok(answer) => Ok(answer?),
            Err(_) => anyhow::bail!("Redis did not answer within {:?}", self.settings.timeout),
        }
    }

    /// Publishes what the organisations queued, one call per organisation per batch
    /// (in order; the organisations' calls run side by side). Events that could not be
    /// published go back to their organisation, which delivers them on this node alone.
    async fn publish_loop(
        self: Arc<Self>,
        mut queued: mpsc::UnboundedReceiver<Outgoing>,
        listener: Weak<dyn Listener>,
    ) {
        let mut taken = Vec::with_capacity(BATCH);
        while queued.recv_many(&mut taken, BATCH).await > 0 {
            let mut batches: Vec<(OrganizationId, Vec<Envelope>)> = Vec::new();
            for (org, envelope) in taken.drain(..) {
                match batches.iter_mut().find(|(batch_org, _)| *batch_org == org) {
                    Some((_, events)) => events.push(envelope),
                    None => batches.push((org, vec![envelope])),
                }
            }
            let broker = &self;
            let published = futures_util::future::join_all(batches.into_iter().map(
                |(org, events)| async move {
                    let result = broker.publish_batch(org, &events).await;
                    (org, events, result)
                },
            ))
            .await;
            for (org, events, result) in published {
                match result {
                    Ok(()) => self.healthy(),
                    Err(error) => {
                        self.degraded(format!("publishing events: {error}"));
                        if let Some(listener) = listener.upgrade() {
                            listener.undelivered(org, events);
                        }
                    }
                }
            }
        }
    }

    async fn publish_batch(&self, org: OrganizationId, events: &[Envelope]) -> anyhow::Result<()> {
        let mut conn = self.commands.clone();
        let mut call = self.publish.prepare_invoke();
        call.key(position_key(org))
            .key(history_key(org))
            .arg(channel(org))
            .arg(self.settings.history)
            .arg(self.settings.history_ttl.as_secs().max(1))
            .arg(POSITION_TTL_SECS)
            .arg(new_epoch());
        for event in events {
            call.arg(serde_json::to_string(event)?);
        }
        let _first: u64 = self.bounded(call.invoke_async(&mut conn)).await?;
        Ok(())
    }

    /// Hands what arrives on the pub/sub connection to its organisation (or the caches).
    async fn push_loop(
        self: Arc<Self>,
        mut pushes: mpsc::UnboundedReceiver<PushInfo>,
        listener: Weak<dyn Listener>,
    ) {
        while let Some(push) = pushes.recv().await {
            let Some(listener) = listener.upgrade() else {
                return;
            };
            match push.kind {
                PushKind::Message => {
                    let Ok((channel, payload)) =
                        redis::from_redis_value::<(String, String)>(Value::Array(push.data))
                    else {
                        continue;
                    };
                    if channel == INVALIDATIONS {
                        listener.invalidated(&payload);
                        continue;
                    }
                    let Some(org) = org_of(&channel) else {
                        continue;
                    };
                    match parse_batch(&payload) {
                        Ok(batch) => listener.incoming(org, batch),
                        Err(error) => {
                            tracing::warn!(%error, "an unreadable event batch from Redis")
                        }
                    }
                }
                PushKind::Subscribe if self.reconnecting.swap(false, Ordering::AcqRel) => {
                    self.healthy();
                    listener.reconnected();
                }
                PushKind::Disconnection => {
                    self.degraded("the pub/sub connection to Redis broke".into());
                    if !self.reconnecting.swap(true, Ordering::AcqRel) {
                        actix::spawn(self.clone().revive());
                    }
                }
                _ => {}
            }
        }
    }

    /// A connection manager reconnects by itself right after its connection drops, but
    /// when Redis is still down then (a restart takes seconds), only when it is next
    /// used, and that use fails. Nothing else uses the pub/sub connection: without this,
    /// other nodes' events would reach this node only through the periodic position
    /// checks, late, for good. So both connections are used here until the pub/sub
    /// connection is subscribed again (its `Subscribe` push ends this).
    async fn revive(self: Arc<Self>) {
        while self.reconnecting.load(Ordering::Acquire) {
            tokio::time::sleep(REVIVE_EVERY).await;
            for connection in [&self.commands, &self.pubsub] {
                let mut conn = connection.clone();
                // A failure is expected while Redis is away; the next round tries again.
                let _ = self
                    .bounded(redis::cmd("PING").query_async::<Value>(&mut conn))
                    .await;
            }
        }
    }
}

fn position_key(org: OrganizationId) -> String {
    format!("switchboard:{{{org}}}:position")
}

fn history_key(org: OrganizationId) -> String {
    format!("switchboard:{{{org}}}:history")
}

fn channel(org: OrganizationId) -> String {
    format!("switchboard:{{{org}}}:events")
}

fn org_of(channel: &str) -> Option<OrganizationId> {
    let org = channel
        .strip_prefix("switchboard:{")?
        .strip_suffix("}:events")?;
    org.parse().ok().map(OrganizationId)
}

/// `"{epoch} {first seq}\n{event}\n{event}…"`, as the publish script writes it.
fn parse_batch(payload: &str) -> anyhow::Result<Batch> {
    let mut lines = payload.split('\n');
    let header = lines.next().unwrap_or_default();
    let (epoch, first) = header
        .split_once(' ')
        .context("a batch without its header")?;
    Ok(Batch {
        epoch: epoch.to_string(),
        first: first.parse()?,
        events: lines.map(serde_json::from_str).collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_reads_back_as_the_publish_script_writes_it() {
        let payload = "0123456789abcdef 41\n\
            {\"k\":\"messaging.message.new\",\"c\":\"01a2422b-5f41-765e-927a-782e72a72a7b\",\"r\":true,\"t\":1,\"d\":{\"id\":1}}\n\
            {\"k\":\"messaging.typing\",\"c\":\"01a2422b-5f41-765e-927a-782e72a72a7b\",\"r\":false,\"s\":[7,3],\"t\":2,\"d\":{}}";
        let batch = parse_batch(payload).unwrap();
        assert_eq!(
            (batch.epoch.as_str(), batch.first),
            ("0123456789abcdef", 41)
        );
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.events[1].skip_on(7), Some(3));
        assert_eq!(batch.events[1].skip_on(8), None);
        assert!(parse_batch("no header").is_err());
    }

    #[test]
    fn channels_name_their_organisation() {
        let org = OrganizationId::generate();
        assert_eq!(org_of(&channel(org)), Some(org));
        assert_eq!(org_of(INVALIDATIONS), None);
    }
}
