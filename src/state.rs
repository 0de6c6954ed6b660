//! `AppState`: what every request handler can reach, built once by `startup`.

use std::sync::Arc;

use actix::Addr;
use phonenumber::country;

use crate::actors::scheduler::SchedulerActor;
use crate::actors::Realtime;
use crate::batches::load_recipients::LoadRecipients;
use crate::cache::Caches;
use crate::db::batcher::Batcher;
use crate::db::contact_methods::Recipient;
use crate::db::ids::{ContactId, OrganizationId};
use crate::db::run_locks::RunLease;
use crate::db::DbPool;
use crate::error::AppError;
use crate::phi::actor::PhiActor;
use crate::secrets::SecretKey;
use crate::storage::Storage;
use crate::suggestions::SuggestionProvider;
use crate::twilio::client::TwilioClient;

/// What every request handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub caches: Arc<Caches>,
    /// Sends' recipient lookups, done in batches.
    pub recipients: Batcher<LoadRecipients>,
    pub realtime: Arc<Realtime>,
    pub storage: Arc<Storage>,
    /// Vets large drafts on threads of its own.
    pub phi: actix::Addr<PhiActor>,
    pub twilio: TwilioClient,
    /// Largest upload for one email, all files together.
    pub max_email_attachment_bytes: usize,
    /// The base URL the outside world uses (webhook signatures, links, origin checks).
    pub public_url: String,
    pub secrets: SecretKey,
    /// Region for phone numbers written without a country code.
    pub default_region: country::Id,
    pub session_ttl: chrono::Duration,
    /// Mark cookies `Secure` when the public URL is https.
    pub secure_cookies: bool,
    /// Where reply suggestions come from.
    pub suggestions: Arc<dyn SuggestionProvider>,
    /// Fires scheduled messages; told when one is due sooner than it knew.
    pub scheduler: Addr<SchedulerActor>,
    /// This server process's run: whose claims are whose (see `db::run_locks`).
    pub run: Arc<RunLease>,
}

impl AppState {
    /// What a send needs of the organisation's `contact`: cached, else looked up
    /// together with other sends' recipients.
    pub async fn recipient(
        &self,
        org: OrganizationId,
        contact: ContactId,
    ) -> Result<Arc<Recipient>, AppError> {
        self.caches
            .recipient(org, contact, async || {
                let found = self.recipients.submit((org, contact)).await?;
                found.map(Arc::new).ok_or(AppError::NotFound("contact"))
            })
            .await
    }
}
