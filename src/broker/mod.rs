//! How an organisation's events reach every node of a deployment.
//!
//! One seam, two engines. Without `REDIS_URL` each organisation's `OrgStream`
//! (`actors::stream`) numbers, keeps and delivers its events in process, as a single
//! server always did. With it, [`RedisBroker`] numbers them for the whole deployment
//! (one Lua call per batch: the org's sequence, a capped history stream, the publish) and
//! every node delivers what comes back to its own sessions, dropping duplicates and
//! filling gaps by number, as Centrifugo's Redis engine does.

pub mod envelope;
pub mod redis;

pub use self::envelope::{new_epoch, Envelope};
pub use self::redis::{Batch, BrokerSettings, Listener, RedisBroker};
