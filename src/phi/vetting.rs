//! Vetting a draft for an operator: the organisation's policy, what counts as allowed for
//! this organisation and recipient, where the scan runs, and whether it blocks sending.

use serde::Serialize;

use super::policy::{Action, Policy};
use super::{scan, scan_custom, Allowed, Finding, PhiKind};
use crate::actors::phi::Scan;
use crate::cache::OrgConfig;
use crate::db::contact_methods::{ContactMethod, MethodKind};
use crate::db::ids::{ContactId, OrganizationId};
use crate::db::phi_policies;
use crate::error::AppError;
use crate::startup::AppState;

/// Drafts up to this size are scanned inline (a few microseconds); larger ones, such as
/// long emails, by the PhiActor so they never hold up a request thread.
const INLINE_BYTES: usize = 4 * 1024;

#[derive(Debug, Clone, Serialize)]
pub struct VettedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    /// What the organisation's policy does about it: `block` or `warn`.
    pub action: Action,
}

#[derive(Debug, Serialize)]
pub struct Verdict {
    pub findings: Vec<VettedFinding>,
    /// True when a finding is of a kind the policy blocks.
    pub blocked: bool,
}

pub async fn policy(state: &AppState, org: OrganizationId) -> Result<Policy, AppError> {
    Ok(Policy::from_stored(
        phi_policies::get(&mut *state.pool.get().await?, org).await?,
    ))
}

/// Vets `body` as a message from `org` to `contact` (if known).
pub async fn vet(
    state: &AppState,
    org: OrganizationId,
    body: String,
    contact: Option<ContactId>,
) -> Result<Verdict, AppError> {
    let config = state.caches.org(org).await?;
    let recipient = match contact {
        Some(contact) => Some(state.recipient(org, contact).await?),
        None => None,
    };
    let methods = recipient.as_ref().map_or(&[][..], |r| &r.methods[..]);
    vet_with(state, &config, allowed(&config, methods), body).await
}

/// What is never a finding in a message from the organisation to a contact: the
/// organisation's own numbers and addresses, the recipient's own, and the policy's
/// allowed terms.
pub fn allowed(config: &OrgConfig, recipient: &[ContactMethod]) -> Allowed {
    let mut allowed = Allowed {
        phones: config
            .phone_numbers
            .iter()
            .map(|number| number.phone_number.clone())
            .collect(),
        emails: config
            .email_addresses
            .iter()
            .map(|address| address.address.to_ascii_lowercase())
            .collect(),
        terms: config
            .phi_policy
            .allowed_terms
            .iter()
            .map(|term| term.to_lowercase())
            .collect(),
    };
    for method in recipient {
        if method.kind == MethodKind::Phone.as_str() {
            allowed.phones.push(method.value.clone());
        } else {
            allowed.emails.push(method.value.to_ascii_lowercase());
        }
    }
    allowed
}

/// Vets `body` under the organisation's policy; kinds the policy turns off are dropped.
pub async fn vet_with(
    state: &AppState,
    config: &OrgConfig,
    allowed: Allowed,
    body: String,
) -> Result<Verdict, AppError> {
    let policy = &config.phi_policy;
    let findings = if body.len() <= INLINE_BYTES {
        let mut findings = scan(&body, &allowed);
        findings.extend(scan_custom(&body, &config.phi_patterns));
        findings
    } else {
        let draft = Scan {
            text: body,
            allowed,
            custom: config.phi_patterns.clone(),
        };
        state
            .phi
            .send(draft)
            .await
            .map_err(crate::actors::mailbox_error)?
    };
    let findings: Vec<VettedFinding> = findings
        .into_iter()
        .filter_map(|finding| {
            let action = match finding.kind {
                PhiKind::Custom => policy
                    .extra_patterns
                    .iter()
                    .find(|extra| extra.name == finding.rule)
                    .map_or(Action::Warn, |extra| extra.action),
                kind => policy.action(kind),
            };
            (action != Action::Off).then_some(VettedFinding { finding, action })
        })
        .collect();
    let blocked = findings
        .iter()
        .any(|finding| finding.action == Action::Block);
    Ok(Verdict { findings, blocked })
}
