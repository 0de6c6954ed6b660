//! Who an authenticated request acts for: the operator, their role and permissions.

use serde::Serialize;

use crate::db::ids::{ApiTokenId, OrganizationId, UserId};
use crate::db::users::User;
use crate::error::AppError;

/// Permissions an operator can hold besides their role. Admins hold all of them.
pub mod permissions {
    /// Work the SMS operator queue.
    pub const SMS_ADMIN: &str = "sms.admin";
    /// Send a draft that the PHI policy would block, giving a reason.
    pub const PHI_OVERRIDE: &str = "phi.override";
    pub const ALL: &[&str] = &[SMS_ADMIN, PHI_OVERRIDE];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    pub(super) fn from_db(role: &str) -> Role {
        if role == "admin" {
            Role::Admin
        } else {
            Role::Agent
        }
    }
}

/// An authenticated operator making this request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub token_id: ApiTokenId,
    pub role: Role,
    pub permissions: Vec<String>,
    pub user: User,
}

impl Caller {
    pub fn has_permission(&self, permission: &str) -> bool {
        self.role == Role::Admin || self.permissions.iter().any(|held| held == permission)
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Agent => Err(AppError::Forbidden(
                "this action needs the admin role".into(),
            )),
        }
    }
}
