//! Organisations, operators and their sessions: used by the login routes, the CLI and
//! the demo seed alike.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use diesel::OptionalExtension;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;

use crate::auth::{permissions, Role};
use crate::db::ids::{ApiTokenId, OrganizationId, UserId};
use crate::db::organizations::{Organization, OrganizationInsertForm};
use crate::db::users::{User, UserInsertForm};
use crate::db::{api_tokens, organization_settings, organizations, users, DbPool};
use crate::error::AppError;
use crate::{secrets, validate};

const MIN_PASSWORD_LEN: usize = 8;

/// An operator as the API shows them (never the password hash).
#[derive(Debug, Clone, Serialize)]
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
    insert_user(&mut conn, org, &user).await
}

/// Checks email and password and opens a session. Unknown email and wrong password give
/// the same answer after the same work, so neither reveals which operators exist.
pub async fn login(
    pool: &DbPool,
    email: &str,
    password: &str,
    ttl: Duration,
) -> Result<Session, AppError> {
    let user = users::find_by_email(&mut *pool.get().await?, email.trim()).await?;
    let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
    let password = password.to_owned();
    let verified = actix_web::web::block(move || {
        secrets::verify_password(&password, stored_hash.as_deref().unwrap_or(&DUMMY_HASH))
    })
    .await
    .map_err(AppError::internal)?;
    let user = user
        .filter(|_| verified)
        .ok_or(AppError::Unauthenticated("wrong email or password"))?;
    let token = secrets::new_token();
    let expires_at = Utc::now() + ttl;
    api_tokens::insert(
        &mut *pool.get().await?,
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
    Ok(Session {
        token,
        expires_at,
        user,
    })
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

async fn insert_user(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    user: &PreparedUser,
) -> Result<User, AppError> {
    Ok(users::insert(
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
    .await?)
}
