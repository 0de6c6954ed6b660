//! Vetting a draft for an operator: what counts as allowed for this organisation and
//! recipient, where the scan runs, and whether the findings block sending.

use diesel::OptionalExtension;
use serde::Serialize;

use super::{scan, Allowed, Finding, PhiKind};
use crate::db::contact_methods::{self, MethodKind};
use crate::db::ids::{ContactId, OrganizationId};
use crate::db::{contacts, email_addresses, phone_numbers};
use crate::error::AppError;
use crate::startup::AppState;

/// Drafts up to this size are scanned inline (a few microseconds); larger ones, such as
/// long emails, on the blocking pool so they never hold up a request thread.
const INLINE_BYTES: usize = 4 * 1024;

#[derive(Debug, Serialize)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    /// True when a finding's kind is one the policy blocks.
    pub blocked: bool,
}

/// The default policy for a healthcare organisation: identifiers that single a patient
/// out block the send; contact details and sensitive words only warn (an operator
/// writes "call us at ..." or "diabetes class" all day).
pub fn blocks_by_default(kind: PhiKind) -> bool {
    !matches!(
        kind,
        PhiKind::Phone
            | PhiKind::Email
            | PhiKind::StreetAddress
            | PhiKind::ZipCode
            | PhiKind::Url
            | PhiKind::IpAddress
            | PhiKind::Age
            | PhiKind::Diagnosis
    )
}

/// Vets `body` as a message from `org` to `contact` (if known): the organisation's own
/// numbers and addresses, and the recipient's own, are not findings.
pub async fn vet(
    state: &AppState,
    org: OrganizationId,
    body: String,
    contact: Option<ContactId>,
) -> Result<Verdict, AppError> {
    let allowed = allowed(state, org, contact).await?;
    let findings = if body.len() <= INLINE_BYTES {
        scan(&body, &allowed)
    } else {
        actix_web::web::block(move || scan(&body, &allowed))
            .await
            .map_err(AppError::internal)?
    };
    let blocked = findings
        .iter()
        .any(|finding| blocks_by_default(finding.kind));
    Ok(Verdict { findings, blocked })
}

async fn allowed(
    state: &AppState,
    org: OrganizationId,
    contact: Option<ContactId>,
) -> Result<Allowed, AppError> {
    let mut conn = state.pool.get().await?;
    let mut allowed = Allowed {
        phones: phone_numbers::list(&mut conn, org)
            .await?
            .into_iter()
            .map(|n| n.phone_number)
            .collect(),
        emails: email_addresses::list(&mut conn, org)
            .await?
            .into_iter()
            .map(|a| a.address.to_ascii_lowercase())
            .collect(),
    };
    if let Some(contact) = contact {
        contacts::get(&mut conn, org, contact)
            .await
            .optional()?
            .ok_or(AppError::NotFound("contact"))?;
        for method in contact_methods::list_for_contacts(&mut conn, org, &[contact]).await? {
            if method.kind == MethodKind::Phone.as_str() {
                allowed.phones.push(method.value);
            } else {
                allowed.emails.push(method.value.to_ascii_lowercase());
            }
        }
    }
    Ok(allowed)
}
