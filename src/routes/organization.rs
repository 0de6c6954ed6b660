//! `GET/PATCH /api/organization/settings` (admins): carrier and mail settings, and quiet
//! hours. Secrets
//! go in, are stored encrypted, and never come out: the API says only whether one is set.

use actix_web::{get, patch, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use diesel_async::AsyncConnection;

use crate::audit;
use crate::auth::Caller;
use crate::db::audit_log;
use crate::db::organization_settings::{self, OrganizationSettings, SettingsUpdateForm};
use crate::error::{AppError, ErrorBody};
use crate::extract::{parse_value, ApiJson};
use crate::quiet_hours::{QuietHours, QuietHoursJson};
use crate::secrets::SecretKey;
use crate::state::AppState;
use crate::validate;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(update);
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SettingsView {
    twilio_account_sid: Option<String>,
    twilio_auth_token_set: bool,
    twilio_messaging_service_sid: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<i32>,
    smtp_username: Option<String>,
    smtp_password_set: bool,
    /// `starttls`, `tls` or `none`.
    smtp_security: String,
    /// `null` when the organisation has none.
    quiet_hours: Option<QuietHoursJson>,
    updated_at: chrono::DateTime<Utc>,
}

impl From<OrganizationSettings> for SettingsView {
    fn from(settings: OrganizationSettings) -> Self {
        SettingsView {
            quiet_hours: QuietHours::from_settings(&settings).map(QuietHours::to_json),
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

/// Every field is optional; `null` clears a setting. Secrets are write-only.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SettingsChanges {
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
    #[serde(default, deserialize_with = "validate::patch_field")]
    quiet_hours: Option<Option<QuietHoursJson>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
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
        // A host name or address, nothing else: the mail transport would otherwise meet
        // control characters or spaces only when the first email goes out.
        let host = |value: Option<Option<String>>| match &value {
            Some(Some(host))
                if host.chars().any(|c| c.is_control() || c.is_whitespace())
                    || url::Host::parse(host).is_err() =>
            {
                Err(AppError::invalid(
                    "smtp_host",
                    "`smtp_host` must be a host name or IP address, such as smtp.example.com",
                ))
            }
            _ => Ok(value),
        };
        if self.smtp_port == Some(Some(0)) {
            return Err(AppError::invalid(
                "smtp_port",
                "`smtp_port` must be between 1 and 65535",
            ));
        }
        let quiet_hours = self
            .quiet_hours
            .map(|quiet| quiet.as_ref().map(QuietHours::parse).transpose())
            .transpose()?;
        Ok(SettingsUpdateForm {
            quiet_hours_timezone: quiet_hours
                .map(|quiet| quiet.map(|quiet| quiet.timezone.name().to_string())),
            quiet_hours_start: quiet_hours.map(|quiet| quiet.map(|quiet| quiet.start)),
            quiet_hours_end: quiet_hours.map(|quiet| quiet.map(|quiet| quiet.end)),
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
            smtp_host: host(text(self.smtp_host, "smtp_host")?)?,
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

#[utoipa::path(
    get,
    path = "/organization/settings",
    tag = "organization",
    responses(
        (status = 200, description = "The settings (secrets only as `*_set`)", body = SettingsView),
        (status = 403, description = "Admins only", body = ErrorBody),
    )
)]
#[get("/organization/settings")]
pub(super) async fn show(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let settings =
        organization_settings::get(&mut *state.pool.get().await?, caller.organization_id).await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}

/// Audited with the names of the settings changed, never their values.
#[utoipa::path(
    patch,
    path = "/organization/settings",
    tag = "organization",
    request_body = SettingsChanges,
    responses((status = 200, description = "The settings as changed", body = SettingsView))
)]
#[patch("/organization/settings")]
pub(super) async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let changed: Vec<String> = body.0.keys().cloned().collect();
    let changes: SettingsChanges = parse_value(serde_json::Value::Object(body.0))?;
    let form = changes.into_form(&state.secrets)?;
    let org = caller.organization_id;
    let entry = audit::by(
        &caller,
        "settings.changed",
        "organization",
        org.0,
        serde_json::json!({ "changed": changed }),
    );
    let settings = state
        .pool
        .get()
        .await?
        .transaction::<_, AppError, _>(async |conn| {
            let settings = organization_settings::update(conn, org, &form).await?;
            audit_log::record(conn, &entry).await?;
            Ok(settings)
        })
        .await?;
    state.caches.forget_org(caller.organization_id);
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}
