//! Canned responses: saved replies with placeholders, found by short code or words, and
//! filled in for a contact. A placeholder the server cannot fill is refused when the
//! response is saved, so a send never goes out with a blank where a name should be.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel_async::AsyncPgConnection;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::canned_responses::{
    self as db_canned, CannedResponse, CannedResponseInsertForm, CannedResponseUpdateForm,
};
use crate::db::contacts::{self, Contact};
use crate::db::ids::{CannedResponseId, ContactId};
use crate::db::organizations;
use crate::error::AppError;
use crate::validate;

const MAX_CONTENT_CHARS: usize = 5000;

/// What a canned response can say about the conversation it is used in.
const PLACEHOLDERS: [&str; 4] = [
    "contact.first_name",
    "contact.name",
    "org.name",
    "operator.name",
];

/// `{{ name }}`: what sits between double braces (spaces around the name allowed).
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{\s*([^{}]*?)\s*\}\}").expect("a valid pattern"));
static SHORT_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9_-]{1,32}$").expect("a valid pattern"));

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CannedView {
    pub id: CannedResponseId,
    pub short_code: String,
    pub title: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CannedResponse> for CannedView {
    fn from(canned: CannedResponse) -> Self {
        CannedView {
            id: canned.id,
            short_code: canned.short_code,
            title: canned.title,
            content: canned.content,
            created_at: canned.created_at,
            updated_at: canned.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCanned {
    pub short_code: String,
    pub title: String,
    pub content: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedChanges {
    pub short_code: Option<String>,
    pub title: Option<String>,
    pub content: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    pub contact_id: ContactId,
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    new: NewCanned,
) -> Result<CannedView, AppError> {
    caller.require_admin()?;
    let form = CannedResponseInsertForm {
        id: CannedResponseId::generate(),
        organization_id: caller.organization_id,
        short_code: short_code(&new.short_code)?,
        title: validate::required_text(&new.title, "title")?,
        content: content(&new.content)?,
    };
    Ok(db_canned::insert(conn, &form)
        .await
        .map_err(duplicate)?
        .into())
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: CannedResponseId,
    changes: CannedChanges,
) -> Result<CannedView, AppError> {
    caller.require_admin()?;
    let form = CannedResponseUpdateForm {
        short_code: changes.short_code.as_deref().map(short_code).transpose()?,
        title: changes
            .title
            .as_deref()
            .map(|title| validate::required_text(title, "title"))
            .transpose()?,
        content: changes.content.as_deref().map(content).transpose()?,
        updated_at: Utc::now(),
    };
    let updated = db_canned::update(conn, caller.organization_id, id, &form)
        .await
        .optional()
        .map_err(duplicate)?;
    Ok(updated.ok_or(AppError::NotFound("canned response"))?.into())
}

pub async fn delete(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: CannedResponseId,
) -> Result<(), AppError> {
    caller.require_admin()?;
    match db_canned::delete(conn, caller.organization_id, id).await? {
        0 => Err(AppError::NotFound("canned response")),
        _ => Ok(()),
    }
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: CannedResponseId,
) -> Result<CannedResponse, AppError> {
    db_canned::get(conn, caller.organization_id, id)
        .await
        .optional()?
        .ok_or(AppError::NotFound("canned response"))
}

/// The organisation's canned responses; with `search`, those that match it, short-code
/// prefix matches first, then other short-code matches, then title or content matches.
pub async fn list(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    search: Option<&str>,
) -> Result<Vec<CannedView>, AppError> {
    let search = search
        .map(|search| search.trim().trim_start_matches('/'))
        .filter(|search| !search.is_empty());
    let mut found = db_canned::list(conn, caller.organization_id, search).await?;
    if let Some(search) = search {
        let search = search.to_lowercase();
        // Stable: within a rank, short-code order (the query's) stays.
        found.sort_by_key(|canned| match canned.short_code.find(&search) {
            Some(0) => 0,
            Some(_) => 1,
            None => 2,
        });
    }
    Ok(found.into_iter().map(CannedView::from).collect())
}

/// Who a canned response is being used for, and by whom.
pub struct RenderContext {
    pub contact: Contact,
    pub org_name: String,
    pub operator_name: String,
}

impl RenderContext {
    pub async fn load(
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        contact: ContactId,
    ) -> Result<RenderContext, AppError> {
        let org = caller.organization_id;
        let contact = contacts::get(conn, org, contact)
            .await
            .optional()?
            .ok_or(AppError::NotFound("contact"))?;
        Ok(RenderContext {
            contact,
            org_name: organizations::get(conn, org).await?.name,
            operator_name: caller.user.name.clone(),
        })
    }

    fn value(&self, placeholder: &str) -> Option<&str> {
        match placeholder {
            "contact.first_name" => self.contact.name.split_whitespace().next(),
            "contact.name" => Some(&self.contact.name),
            "org.name" => Some(&self.org_name),
            "operator.name" => Some(&self.operator_name),
            _ => None,
        }
    }
}

/// `content` with its placeholders filled (saved content holds only known ones).
pub fn render(content: &str, context: &RenderContext) -> String {
    PLACEHOLDER
        .replace_all(content, |captures: &regex::Captures| {
            context.value(&captures[1]).unwrap_or_default().to_string()
        })
        .into_owned()
}

/// `content` with its placeholders taken out.
pub fn without_placeholders(content: &str) -> String {
    PLACEHOLDER.replace_all(content, " ").into_owned()
}

fn short_code(raw: &str) -> Result<String, AppError> {
    let code = raw.trim().trim_start_matches('/');
    if !SHORT_CODE.is_match(code) {
        return Err(AppError::invalid(
            "short_code",
            "`short_code` is 1 to 32 lowercase letters, digits, `_` or `-`",
        ));
    }
    Ok(code.to_string())
}

fn content(raw: &str) -> Result<String, AppError> {
    let content = raw.trim();
    if content.is_empty() {
        return Err(AppError::invalid("content", "`content` must not be empty"));
    }
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(AppError::invalid(
            "content",
            format!("`content` is at most {MAX_CONTENT_CHARS} characters"),
        ));
    }
    for captures in PLACEHOLDER.captures_iter(content) {
        if !PLACEHOLDERS.contains(&&captures[1]) {
            return Err(AppError::invalid(
                "content",
                format!(
                    "unknown placeholder {}; the known ones are {}",
                    &captures[0],
                    PLACEHOLDERS
                        .map(|name| format!("{{{{{name}}}}}"))
                        .join(", ")
                ),
            ));
        }
    }
    if PLACEHOLDER.replace_all(content, "").contains("{{") {
        return Err(AppError::invalid(
            "content",
            "a placeholder is not closed: write it as {{contact.first_name}}",
        ));
    }
    Ok(content.to_string())
}

/// A short code the organisation already uses is a conflict that names the field.
fn duplicate(error: diesel::result::Error) -> AppError {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, ref info)
            if info.constraint_name() == Some("canned_responses_short_code_key") =>
        {
            AppError::Conflict("`short_code` is already used by another canned response".into())
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_placeholders_are_accepted_and_unknown_or_unclosed_refused() {
        assert!(content("Hi {{contact.first_name}}, {{ operator.name }} here").is_ok());
        for bad in ["Hi {{contact.ssn}}", "Hi {{contact.first_name", "{{}}"] {
            let error = content(bad).unwrap_err();
            assert!(
                matches!(error, AppError::Invalid { field: Some(ref f), .. } if f == "content"),
                "{bad}"
            );
        }
    }

    #[test]
    fn short_codes_are_lowercase_words() {
        assert_eq!(short_code("/hours").unwrap(), "hours");
        assert_eq!(short_code("late_fee-2").unwrap(), "late_fee-2");
        for bad in ["", "Hours", "two words", &"x".repeat(33)] {
            assert!(short_code(bad).is_err(), "{bad}");
        }
    }
}
