//! Recipient lookups of concurrent sends, done in batches (see `db::batcher`).

use std::collections::HashMap;

use crate::db::batcher::Batched;
use crate::db::contact_methods::{recipients, Recipient};
use crate::db::ids::{ContactId, OrganizationId};
use crate::db::DbConn;
use crate::error::AppError;

/// Recipient lookups of concurrent sends, done together (see `batcher`).
pub struct LoadRecipients;

impl Batched for LoadRecipients {
    type Request = (OrganizationId, ContactId);
    type Response = Option<Recipient>;

    async fn run(
        &self,
        conn: &mut DbConn,
        batch: Vec<(OrganizationId, ContactId)>,
    ) -> Vec<Result<Option<Recipient>, AppError>> {
        let mut by_org: HashMap<OrganizationId, Vec<ContactId>> = HashMap::new();
        for (org, contact) in &batch {
            by_org.entry(*org).or_default().push(*contact);
        }
        let mut found: HashMap<OrganizationId, HashMap<ContactId, Recipient>> = HashMap::new();
        let mut failed: HashMap<OrganizationId, diesel::result::Error> = HashMap::new();
        for (org, contacts) in by_org {
            match recipients(conn, org, &contacts).await {
                Ok(recipients) => {
                    found.insert(org, recipients);
                }
                Err(error) => {
                    failed.insert(org, error);
                }
            }
        }
        batch
            .into_iter()
            .map(|(org, contact)| match failed.get(&org) {
                Some(error) => Err(AppError::of_batch(error, "looking up recipients")),
                None => Ok(found
                    .get(&org)
                    .and_then(|recipients| recipients.get(&contact))
                    .cloned()),
            })
            .collect()
    }
}
