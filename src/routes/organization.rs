//! `GET/PATCH /api/organization/settings` (admins): carrier and mail settings. Secrets
//! go in, are stored encrypted, and never come out: the API says only whether one is set.

use actix_web::{get, patch, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::organization_settings::{self, OrganizationSettings, SettingsUpdateForm};
use crate::error::AppError;
use crate::extract::ApiJson;
use crate::secrets::SecretKey;
use crate::startup::AppState;
use crate::validate;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(update);
}

#[derive(Serialize)]
struct SettingsView {
    twilio_account_sid: Option<String>,
    twilio_auth_token_set: bool,
    twilio_messaging_service_sid: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<i32>,
    smtp_username: Option<String>,
    smtp_password_set: bool,
    smtp_security: String,
    updated_at: chrono::DateTime<Utc>,
}

impl From<OrganizationSettings> for SettingsView {
    fn from(settings: OrganizationSettings) -> Self {
        SettingsView {
            twilio_account_sid: settings.twilio_account_sid,
            twilio_auth_token_set: settings.twilio_auth_token_encrypted.is_some(),
            twilio_messaging_service_sid: settings.twilio_messaging_service_sid,
            smtp_host: settings.smtp_host,
            smtp_port: settings.smtp_port,
            smtp_username: settings.smtp_username,
            smtp_password_set: settings.smtp_password_encrypted.is_some(),
            smtp_security: settings.smtp_security,
            updated_at: settings.updated_at,
        }
    }
}

/// Every field is optional; `null` clears a setting.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsChanges {
    #[serde(default, deserialize_with = "validate::patch_field")]
    twilio_account_sid: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    twilio_auth_token: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    twilio_messaging_service_sid: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    smtp_host: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    smtp_port: Option<Option<u16>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    smtp_username: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::patch_field")]
    smtp_password: Option<Option<String>>,
    smtp_security: Option<SmtpSecurity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

impl SettingsChanges {
    fn into_form(self, secrets: &SecretKey) -> Result<SettingsUpdateForm, AppError> {
        let sid =
            |value: Option<Option<String>>,
             field: &'static str,
             prefix: &'static str,
             what: &str| {
                value
                    .map(
                        |sid| {
                            match validate::optional_text(sid.as_deref(), field)? {
                    Some(sid) if !validate::is_twilio_sid(&sid, prefix) => Err(AppError::invalid(
                        field,
                        format!("a Twilio {what} SID is `{prefix}` followed by 32 hex digits"),
                    )),
                    sid => Ok(sid),
                }
                        },
                    )
                    .transpose()
            };
        let text = |value: Option<Option<String>>, field: &'static str| {
            value
                .map(|text| validate::optional_text(text.as_deref(), field))
                .transpose()
        };
        let secret = |value: Option<Option<String>>| {
            value.map(|secret| {
                secret
                    .filter(|s| !s.is_empty())
                    .map(|s| secrets.encrypt(&s))
            })
        };
        if self.smtp_port == Some(Some(0)) {
            return Err(AppError::invalid(
                "smtp_port",
                "`smtp_port` must be between 1 and 65535",
            ));
        }
        Ok(SettingsUpdateForm {
            twilio_account_sid: sid(
                self.twilio_account_sid,
                "twilio_account_sid",
                "AC",
                "account",
            )?,
            twilio_auth_token_encrypted: secret(self.twilio_auth_token),
            twilio_messaging_service_sid: sid(
                self.twilio_messaging_service_sid,
                "twilio_messaging_service_sid",
                "MG",
                "messaging service",
            )?,
            smtp_host: text(self.smtp_host, "smtp_host")?,
            smtp_port: self.smtp_port.map(|port| port.map(i32::from)),
            smtp_username: text(self.smtp_username, "smtp_username")?,
            smtp_password_encrypted: secret(self.smtp_password),
            smtp_security: self.smtp_security.map(|security| {
                match security {
                    SmtpSecurity::Starttls => "starttls",
                    SmtpSecurity::Tls => "tls",
                    SmtpSecurity::None => "none",
                }
                .to_string()
            }),
            updated_at: Some(Utc::now()),
        })
    }
}

#[get("/organization/settings")]
async fn show(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let settings =
        organization_settings::get(&mut *state.pool.get().await?, caller.organization_id).await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}

#[patch("/organization/settings")]
async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<SettingsChanges>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let form = body.0.into_form(&state.secrets)?;
    let settings =
        organization_settings::update(&mut *state.pool.get().await?, caller.organization_id, &form)
            .await?;
    state.caches.forget_org(caller.organization_id);
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}
