//! Vetting a draft for an operator: the organisation's policy, what counts as allowed for
//! this organisation and recipient, where the scan runs, and whether it blocks sending.

use actix::Addr;
use serde::Serialize;

use super::actor::{PhiActor, Scan};
use super::policy::{Action, Policy};
use super::{photos, scan, scan_custom, Allowed, Finding, PhiKind};
use crate::cache::OrgConfig;
use crate::db::contact_methods::{ContactMethod, MethodKind, Recipient};
use crate::db::ids::OrganizationId;
use crate::db::message_attachments::Attachment;
use crate::db::{phi_policies, DbPool};
use crate::error::AppError;

/// Drafts up to this size are scanned inline (a few microseconds); larger ones, such as
/// long emails, by the PhiActor so they never hold up a request thread.
const INLINE_BYTES: usize = 4 * 1024;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VettedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    /// What the organisation's policy does about it: `block` or `warn`.
    pub action: Action,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verdict {
    pub findings: Vec<VettedFinding>,
    /// True when a finding is of a kind the policy blocks.
    pub blocked: bool,
}

pub async fn policy(pool: &DbPool, org: OrganizationId) -> Result<Policy, AppError> {
    Ok(Policy::from_stored(
        phi_policies::get(&mut *pool.get().await?, org).await?,
    ))
}

/// Vets `body` and `attachments` as a message from the organisation `config` describes
/// to `recipient` (if known).
pub async fn vet(
    phi: &Addr<PhiActor>,
    config: &OrgConfig,
    recipient: Option<&Recipient>,
    body: String,
    attachments: &[Attachment],
) -> Result<Verdict, AppError> {
    let methods = recipient.map_or(&[][..], |r| &r.methods[..]);
    vet_with(phi, config, allowed(config, methods), body, attachments).await
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
        domains: config
            .email_addresses
            .iter()
            .filter_map(|address| address.address.rsplit_once('@'))
            .map(|(_, domain)| domain.to_ascii_lowercase())
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

/// Vets `body` and `attachments` under the organisation's policy.
pub async fn vet_with(
    phi: &Addr<PhiActor>,
    config: &OrgConfig,
    allowed: Allowed,
    body: String,
    attachments: &[Attachment],
) -> Result<Verdict, AppError> {
    let mut findings = if body.len() <= INLINE_BYTES {
        let mut findings = scan(&body, &allowed);
        findings.extend(scan_custom(&body, &config.phi_patterns));
        findings
    } else {
        let draft = Scan {
            text: body,
            allowed,
            custom: config.phi_patterns.clone(),
        };
        phi.send(draft).await?
    };
    findings.extend(photos(attachments));
    Ok(judge(&config.phi_policy, findings))
}

/// What the policy does about each finding; kinds the policy turns off are dropped.
pub fn judge(policy: &Policy, findings: Vec<Finding>) -> Verdict {
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
    Verdict { findings, blocked }
}
