//! Short-lived in-process copies of what nearly every request reads and rarely changes:
//! who a session token belongs to, each organisation's configuration (its numbers,
//! addresses, PHI policy and carrier settings), which organisations use a Twilio
//! account, and what a send needs of its recipient (the contact's phones and emails,
//! their opt-outs, the number it last wrote to). Without them a send cost a dozen extra
//! round trips to PostgreSQL.
//!
//! Changes made through this server are seen at once (the routes that make them
//! invalidate the entry). With a shared broker (`REDIS_URL`) every invalidation is also
//! published to the other servers, which drop their entry as it arrives; [`TTL`] stays
//! the backstop for one that is lost (Redis unreachable), and without a broker it is how
//! long another server may keep honouring a revoked token or an older PHI policy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use foldhash::fast::RandomState;

use crate::auth::caller::Caller;
use crate::broker::RedisBroker;
use crate::db::contact_methods::Recipient;
use crate::db::email_addresses::{self, EmailAddress};
use crate::db::ids::{ContactId, OrganizationId, PhoneNumberId};
use crate::db::organization_settings::{self, OrganizationSettings};
use crate::db::phone_numbers::{self, PhoneNumber};
use crate::db::{phi_policies, DbPool};
use crate::error::AppError;
use crate::phi::policy::Policy;
use crate::secrets::SecretKey;

/// How long an entry may be used before it is read again.
pub const TTL: Duration = Duration::from_secs(10);
const MAX_SESSIONS: u64 = 100_000;
const MAX_ORGS: u64 = 10_000;
const MAX_RECIPIENTS: u64 = 100_000;

/// An organisation's configuration as a send or a webhook needs it.
pub struct OrgConfig {
    /// Oldest first: the first is the default sender.
    pub phone_numbers: Vec<PhoneNumber>,
    /// Oldest first: the first is the default sender.
    pub email_addresses: Vec<EmailAddress>,
    pub phi_policy: Policy,
    /// The policy's extra patterns, compiled once.
    pub phi_patterns: Vec<(String, regex::Regex)>,
    pub settings: OrganizationSettings,
    /// The Twilio auth token of `settings`, decrypted as the entry is read rather than
    /// for every send; `None` if there is none, or it does not decrypt with this
    /// server's key.
    pub twilio_auth_token: Option<String>,
}

impl OrgConfig {
    /// The label of the organisation's line with this id ("Front desk").
    pub fn line_label(&self, id: Option<PhoneNumberId>) -> Option<String> {
        self.phone_numbers
            .iter()
            .find(|number| Some(number.id) == id)
            .map(|number| number.label.clone())
    }
}

/// An organisation using a Twilio account, as a webhook's signature is checked against.
#[derive(Clone)]
pub struct TwilioAccountUser {
    pub settings: OrganizationSettings,
    /// As in [`OrgConfig::twilio_auth_token`].
    pub auth_token: Option<String>,
}

#[derive(Clone)]
struct Session {
    caller: Caller,
    expires_at: Option<DateTime<Utc>>,
}

/// The server's in-process caches hash with foldhash rather than the standard SipHash:
/// a send looks up several of them, and SipHash was the larger part of each look-up.
/// foldhash is not built to resist keys chosen to collide, so entries are only made for
/// keys the database vouched for (an authenticated caller's session, organisation and
/// contacts, an account some organisation uses, the numbers of stored messages and of
/// signed webhooks): a caller cannot fill a cache with keys of its choosing.
pub type Cache<K, V> = moka::sync::Cache<K, V, RandomState>;

/// A cache of at most `capacity` entries, each used for at most `ttl`.
pub fn bounded<K, V>(capacity: u64, ttl: Option<Duration>) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let builder = moka::sync::Cache::builder().max_capacity(capacity);
    match ttl {
        Some(ttl) => builder.time_to_live(ttl),
        None => builder,
    }
    .build_with_hasher(RandomState::default())
}

pub struct Caches {
    pool: DbPool,
    secrets: SecretKey,
    sessions: Cache<Vec<u8>, Session>,
    orgs: Cache<OrganizationId, Arc<OrgConfig>>,
    twilio_accounts: Cache<String, Arc<Vec<TwilioAccountUser>>>,
    recipients: Cache<(OrganizationId, ContactId), Arc<Recipient>>,
    /// Bumped by every invalidation, so a load that raced with one is not kept.
    generation: AtomicU64,
    /// Where invalidations are published for the other servers.
    broker: Option<Arc<RedisBroker>>,
}

/// An entry (or entries) every server must drop, as published between servers.
#[derive(Debug, PartialEq, Eq)]
enum Invalidation {
    Session(Vec<u8>),
    Org(OrganizationId),
    Recipient(OrganizationId, ContactId),
    Recipients,
}

impl Invalidation {
    fn encode(&self) -> String {
        match self {
            Invalidation::Session(hash) => format!("session {}", hex::encode(hash)),
            Invalidation::Org(org) => format!("org {org}"),
            Invalidation::Recipient(org, contact) => format!("recipient {org} {contact}"),
            Invalidation::Recipients => "recipients".into(),
        }
    }

    fn decode(message: &str) -> Option<Invalidation> {
        let mut words = message.split(' ');
        let invalidation = match (words.next()?, words.next(), words.next()) {
            ("session", Some(hash), None) => Invalidation::Session(hex::decode(hash).ok()?),
            ("org", Some(org), None) => Invalidation::Org(OrganizationId(org.parse().ok()?)),
            ("recipient", Some(org), Some(contact)) => Invalidation::Recipient(
                OrganizationId(org.parse().ok()?),
                ContactId(contact.parse().ok()?),
            ),
            ("recipients", None, None) => Invalidation::Recipients,
            _ => return None,
        };
        words.next().is_none().then_some(invalidation)
    }
}

impl Caches {
    pub fn new(pool: DbPool, secrets: SecretKey, broker: Option<Arc<RedisBroker>>) -> Caches {
        Caches {
            pool,
            secrets,
            sessions: bounded(MAX_SESSIONS, Some(TTL)),
            orgs: bounded(MAX_ORGS, Some(TTL)),
            twilio_accounts: bounded(MAX_ORGS, Some(TTL)),
            recipients: bounded(MAX_RECIPIENTS, Some(TTL)),
            generation: AtomicU64::new(0),
            broker,
        }
    }

    /// Drops the entry here and has every other server drop it.
    fn invalidate(&self, invalidation: Invalidation) {
        if let Some(broker) = &self.broker {
            broker.invalidate(invalidation.encode());
        }
        self.apply(invalidation);
    }

    /// Another server changed something (see `broker::RedisBroker::invalidate`).
    pub fn apply_remote(&self, message: &str) {
        match Invalidation::decode(message) {
            Some(invalidation) => self.apply(invalidation),
            None => tracing::warn!(message, "an unreadable cache invalidation"),
        }
    }

    fn apply(&self, invalidation: Invalidation) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        match invalidation {
            Invalidation::Session(token_hash) => self.sessions.invalidate(&token_hash),
            Invalidation::Org(org) => {
                self.orgs.invalidate(&org);
                // The account an organisation uses may have changed: every lookup by
                // account must see it.
                self.twilio_accounts.invalidate_all();
            }
            Invalidation::Recipient(org, contact) => self.recipients.invalidate(&(org, contact)),
            Invalidation::Recipients => self.recipients.invalidate_all(),
        }
    }

    /// The operator a token hash belongs to, if it is live.
    pub async fn session(
        &self,
        token_hash: &[u8],
        load: impl AsyncFnOnce() -> Result<Option<(Caller, Option<DateTime<Utc>>)>, AppError>,
    ) -> Result<Option<Caller>, AppError> {
        if let Some(session) = self.sessions.get(token_hash) {
            if session.expires_at.is_none_or(|at| at > Utc::now()) {
                return Ok(Some(session.caller));
            }
            self.sessions.invalidate(token_hash);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some((caller, expires_at)) = load().await? else {
            return Ok(None);
        };
        if generation == self.generation.load(Ordering::Acquire) {
            let session = Session {
                caller: caller.clone(),
                expires_at,
            };
            self.sessions.insert(token_hash.to_vec(), session);
        }
        Ok(Some(caller))
    }

    /// Forgets a revoked token.
    pub fn forget_session(&self, token_hash: &[u8]) {
        self.invalidate(Invalidation::Session(token_hash.to_vec()));
    }

    /// The cached value for `key`, else what `load` reads; that is kept if `keep` says
    /// so, unless an invalidation ran while it was being read (it may predate the
    /// change).
    async fn get_or_load<K, V>(
        &self,
        cache: &Cache<K, V>,
        key: K,
        load: impl AsyncFnOnce() -> Result<V, AppError>,
        keep: impl FnOnce(&V) -> bool,
    ) -> Result<V, AppError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if let Some(value) = cache.get(&key) {
            return Ok(value);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let value = load().await?;
        if keep(&value) && generation == self.generation.load(Ordering::Acquire) {
            cache.insert(key, value.clone());
        }
        Ok(value)
    }

    /// The organisation's configuration.
    pub async fn org(&self, org: OrganizationId) -> Result<Arc<OrgConfig>, AppError> {
        self.get_or_load(
            &self.orgs,
            org,
            async || {
                let mut conn = self.pool.get().await?;
                let phi_policy = Policy::from_stored(phi_policies::get(&mut conn, org).await?);
                let phi_patterns = phi_policy.compiled_patterns();
                let settings = organization_settings::get(&mut conn, org).await?;
                Ok(Arc::new(OrgConfig {
                    phone_numbers: phone_numbers::list(&mut conn, org).await?,
                    email_addresses: email_addresses::list(&mut conn, org).await?,
                    phi_policy,
                    phi_patterns,
                    twilio_auth_token: self.twilio_auth_token(&settings),
                    settings,
                }))
            },
            |_| true,
        )
        .await
    }

    /// Call after changing the organisation's numbers, addresses, policy or settings.
    pub fn forget_org(&self, org: OrganizationId) {
        self.invalidate(Invalidation::Org(org));
    }

    /// Every organisation using this Twilio account (usually one). An account no
    /// organisation uses is not kept: its id comes from a webhook whose signature has
    /// not been checked yet, and anyone can send those.
    pub async fn twilio_account(
        &self,
        account_sid: &str,
    ) -> Result<Arc<Vec<TwilioAccountUser>>, AppError> {
        self.get_or_load(
            &self.twilio_accounts,
            account_sid.to_string(),
            async || {
                let conn = &mut *self.pool.get().await?;
                let users = organization_settings::with_twilio_account(conn, account_sid).await?;
                Ok(Arc::new(
                    users
                        .into_iter()
                        .map(|settings| TwilioAccountUser {
                            auth_token: self.twilio_auth_token(&settings),
                            settings,
                        })
                        .collect(),
                ))
            },
            |users| !users.is_empty(),
        )
        .await
    }

    fn twilio_auth_token(&self, settings: &OrganizationSettings) -> Option<String> {
        let stored = settings.twilio_auth_token_encrypted.as_deref()?;
        self.secrets.decrypt(stored).ok()
    }

    /// What a send needs of the organisation's `contact`, else what `load` reads (an
    /// error, such as an unknown contact, is not kept).
    pub async fn recipient(
        &self,
        org: OrganizationId,
        contact: ContactId,
        load: impl AsyncFnOnce() -> Result<Arc<Recipient>, AppError>,
    ) -> Result<Arc<Recipient>, AppError> {
        self.get_or_load(&self.recipients, (org, contact), load, |_| true)
            .await
    }

    /// Call after changing the contact's phones or emails, deleting it, or recording a
    /// message from it (the number it last wrote to).
    pub fn forget_recipient(&self, org: OrganizationId, contact: ContactId) {
        self.invalidate(Invalidation::Recipient(org, contact));
    }

    /// Call after recording or removing an opt-out. It is kept by number, and any
    /// contact may have that number; opt-outs are rare enough that forgetting every
    /// recipient costs less than finding the ones concerned.
    pub fn forget_recipients(&self) {
        self.invalidate(Invalidation::Recipients);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidations_read_back_as_written() {
        let org = OrganizationId::generate();
        for invalidation in [
            Invalidation::Session(vec![0, 1, 254, 255]),
            Invalidation::Org(org),
            Invalidation::Recipient(org, ContactId::generate()),
            Invalidation::Recipients,
        ] {
            assert_eq!(
                Invalidation::decode(&invalidation.encode()),
                Some(invalidation)
            );
        }
        assert_eq!(Invalidation::decode("org not-a-uuid"), None);
        assert_eq!(Invalidation::decode("recipients extra"), None);
    }
}
