//! Audit entries for what an operator did through the API. Each is written in the same
//! transaction as the change it records (see `db::audit_log`).

use crate::auth::Caller;
use crate::db::audit_log::AuditEntry;
use crate::db::ids::AuditLogId;

/// An entry saying the caller did `action` to the subject.
pub fn by<'a>(
    caller: &Caller,
    action: &'a str,
    subject_type: &'a str,
    subject_id: uuid::Uuid,
    details: serde_json::Value,
) -> AuditEntry<'a> {
    AuditEntry {
        id: AuditLogId::generate(),
        organization_id: caller.organization_id,
        user_id: Some(caller.user_id),
        action,
        subject_type,
        subject_id,
        details,
    }
}
