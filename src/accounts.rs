//! Organisations, operators and their sessions: used by the login routes, the CLI and
//! the demo seed alike.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use diesel::OptionalExtension;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;

use crate::auth::{permissions, Caller, Role};
use crate::db::audit_log::{self, AuditEntry};
use crate::db::ids::{ApiTokenId, AuditLogId, OrganizationId, UserId};
use crate::db::organizations::{Organization, OrganizationInsertForm};
use crate::db::users::{User, UserInsertForm};
use crate::db::{api_tokens, login_failures, organization_settings, organizations, users, DbPool};
use crate::error::AppError;
use crate::{secrets, validate};

const MIN_PASSWORD_LEN: usize = 8;

/// An operator as the API shows them (never the password hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub email: String,
    pub name: String,
    pub role: String,
    pub permissions: Vec<String>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        UserView {
            id: user.id,
            organization_id: user.organization_id,
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role.clone(),
            permissions: user.permissions.clone(),
        }
    }
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a str,
    pub role: Role,
    pub permissions: &'a [String],
}

/// A login session: the token goes to the client once and is kept only as a hash.
pub struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// Creates an organisation (with its empty settings) and its first operator, in one
/// transaction.
pub async fn create_organization(
    pool: &DbPool,
    name: &str,
    admin: NewUser<'_>,
) -> Result<(Organization, User), AppError> {
    let name = validate::required_text(name, "name")?;
    let admin = prepare_user(admin).await?;
    let mut conn = pool.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let organization = organizations::insert(
            conn,
            &OrganizationInsertForm {
                id: OrganizationId::generate(),
                name: &name,
            },
        )
        .await?;
        organization_settings::insert_empty(conn, organization.id).await?;
        let user = insert_user(conn, organization.id, &admin).await?;
        Ok((organization, user))
    })
    .await
}

/// Adds an operator to an existing organisation.
pub async fn create_user(
    pool: &DbPool,
    org: OrganizationId,
    user: NewUser<'_>,
) -> Result<User, AppError> {
    let user = prepare_user(user).await?;
    let mut conn = pool.get().await?;
    organizations::get(&mut conn, org)
        .await
        .optional()?
        .ok_or(AppError::NotFound("organization"))?;
    conn.transaction::<_, AppError, _>(async |conn| insert_user(conn, org, &user).await)
        .await
}

/// Where a login attempt comes from, for throttling and the audit log.
pub struct LoginSource<'a> {
    /// The peer's address (behind a proxy, the proxy's: see the README).
    pub address: &'a str,
    pub user_agent: Option<&'a str>,
}

/// Failed logins allowed per account, and per source address, within
/// `login_failures::WINDOW`;
/// one more is refused with `429` until the oldest leaves the window. The address allows
/// more: several operators of one office share it.
const FAILURES_PER_ACCOUNT: i64 = 5;
const FAILURES_PER_ADDRESS: i64 = 20;

/// Checks email and password and opens a session. Unknown email and wrong password give
/// the same answer after the same work, so neither reveals which operators exist; both
/// count towards the throttle alike. Logins, failures and lock-outs of known operators
/// are audited in their organisation.
pub async fn login(
    pool: &DbPool,
    email: &str,
    password: &str,
    ttl: Duration,
    source: &LoginSource<'_>,
) -> Result<Session, AppError> {
    let email = email.trim().to_lowercase();
    // The attempt counts as a failure from before its password is checked (a success
    // forgets it), so a burst of parallel guesses meets the limit as a series would.
    let by_account = pool
        .get()
        .await?
        .transaction::<_, AppError, _>(async |conn| {
            login_failures::lock(conn, &email, source.address).await?;
            let window_start = Utc::now() - login_failures::WINDOW;
            let (by_account, by_address) =
                login_failures::since(conn, &email, source.address, window_start).await?;
            for (recent, limit) in [
                (by_account, FAILURES_PER_ACCOUNT),
                (by_address, FAILURES_PER_ADDRESS),
            ] {
                if recent.count >= limit {
                    let free_at = recent.oldest.unwrap_or_else(Utc::now) + login_failures::WINDOW;
                    return Err(AppError::TooManyRequests {
                        message: "too many failed logins; try again later".into(),
                        retry_after: (free_at - Utc::now()).to_std().unwrap_or_default(),
                    });
                }
            }
            login_failures::record(conn, &email, source.address).await?;
            Ok(by_account)
        })
        .await?;
    let user = users::find_by_email(&mut *pool.get().await?, &email).await?;
    let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
    let password = password.to_owned();
    let verified = actix_web::web::block(move || {
        secrets::verify_password(&password, stored_hash.as_deref().unwrap_or(&DUMMY_HASH))
    })
    .await
    .map_err(AppError::internal)?;
    let details = serde_json::json!({
        "address": source.address,
        "user_agent": source.user_agent,
    });
    let mut conn = pool.get().await?;
    let (Some(user), true) = (&user, verified) else {
        // The failure itself was counted above; a known operator's is audited.
        if let Some(user) = &user {
            conn.transaction::<_, AppError, _>(async |conn| {
                audit_log::record(conn, &user_audit(user, "auth.login_failed", &details)).await?;
                if by_account.count + 1 == FAILURES_PER_ACCOUNT {
                    audit_log::record(conn, &user_audit(user, "auth.locked", &details)).await?;
                }
                Ok(())
            })
            .await?;
        }
        return Err(AppError::Unauthenticated("wrong email or password"));
    };
    let token = secrets::new_token();
    let expires_at = Utc::now() + ttl;
    conn.transaction::<_, AppError, _>(async |conn| {
        api_tokens::insert(
            conn,
            &api_tokens::ApiTokenInsertForm {
                id: ApiTokenId::generate(),
                organization_id: user.organization_id,
                user_id: user.id,
                token_hash: &secrets::hash_token(&token),
                kind: "session",
                expires_at: Some(expires_at),
            },
        )
        .await?;
        login_failures::forget_account(conn, &email).await?;
        audit_log::record(conn, &user_audit(user, "auth.login", &details)).await?;
        Ok(())
    })
    .await?;
    Ok(Session {
        token,
        expires_at,
        user: user.clone(),
    })
}

/// Revokes the caller's session, audited.
pub async fn logout(pool: &DbPool, caller: &Caller) -> Result<(), AppError> {
    let mut conn = pool.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        api_tokens::revoke(conn, caller.organization_id, caller.token_id).await?;
        let entry = AuditEntry {
            id: AuditLogId::generate(),
            organization_id: caller.organization_id,
            user_id: Some(caller.user_id),
            action: "auth.logout",
            subject_type: "user",
            subject_id: caller.user_id.0,
            details: serde_json::json!({}),
        };
        audit_log::record(conn, &entry).await?;
        Ok(())
    })
    .await
}

/// An audit entry of something `user` did to their own account.
fn user_audit<'a>(user: &User, action: &'a str, details: &serde_json::Value) -> AuditEntry<'a> {
    AuditEntry {
        id: AuditLogId::generate(),
        organization_id: user.organization_id,
        user_id: Some(user.id),
        action,
        subject_type: "user",
        subject_id: user.id.0,
        details: details.clone(),
    }
}

/// A hash of a random password, verified against when the email is unknown.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    secrets::hash_password(&secrets::new_token()).expect("hashing a random password")
});

struct PreparedUser {
    email: String,
    name: String,
    password_hash: String,
    role: Role,
    permissions: Vec<String>,
}

async fn prepare_user(user: NewUser<'_>) -> Result<PreparedUser, AppError> {
    let email = validate::email(user.email, "email")?;
    let name = validate::required_text(user.name, "name")?;
    if user.password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::invalid(
            "password",
            format!("the password must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if let Some(unknown) = user
        .permissions
        .iter()
        .find(|p| !permissions::ALL.contains(&p.as_str()))
    {
        return Err(AppError::invalid(
            "permissions",
            format!(
                "unknown permission {unknown:?}; known: {}",
                permissions::ALL.join(", ")
            ),
        ));
    }
    let password = user.password.to_owned();
    let password_hash = actix_web::web::block(move || secrets::hash_password(&password))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    Ok(PreparedUser {
        email,
        name,
        password_hash,
        role: user.role,
        permissions: user.permissions.to_vec(),
    })
}

/// Inserts the operator and audits it (who they are, their role and permissions; never
/// the password), in the caller's transaction. Operators are made from the command line
/// and the demo seed, so the entry names no actor.
async fn insert_user(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    user: &PreparedUser,
) -> Result<User, AppError> {
    let created = users::insert(
        conn,
        &UserInsertForm {
            id: UserId::generate(),
            organization_id: org,
            email: &user.email,
            name: &user.name,
            password_hash: &user.password_hash,
            role: user.role.as_str(),
            permissions: &user.permissions,
        },
    )
    .await?;
    let entry = AuditEntry {
        id: AuditLogId::generate(),
        organization_id: org,
        user_id: None,
        action: "user.created",
        subject_type: "user",
        subject_id: created.id.0,
        details: serde_json::json!({
            "email": created.email,
            "name": created.name,
            "role": created.role,
            "permissions": created.permissions,
        }),
    };
    audit_log::record(conn, &entry).await?;
    Ok(created)
}
