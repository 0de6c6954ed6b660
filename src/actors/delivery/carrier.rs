//! Which way a message leaves: the organisation's carrier for its channel, or the
//! sandbox when it has none.

use crate::cache::OrgConfig;
use crate::db::message_fields::Channel;
use crate::db::messages::Message;
use crate::db::organization_settings::OrganizationSettings;
use crate::error::AppError;
use crate::mail::SmtpServer;
use crate::secrets::SecretKey;
use crate::twilio::client::Credentials;

/// The organisation's Twilio account, if it has one.
pub(super) fn twilio_credentials(config: &OrgConfig) -> Result<Option<Credentials>, AppError> {
    let settings = &config.settings;
    let (Some(account_sid), Some(_)) = (
        &settings.twilio_account_sid,
        &settings.twilio_auth_token_encrypted,
    ) else {
        return Ok(None);
    };
    let auth_token = config.twilio_auth_token.clone().ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "the stored Twilio auth token does not decrypt with this server's key"
        ))
    })?;
    Ok(Some(Credentials {
        account_sid: account_sid.clone(),
        auth_token,
    }))
}

/// Whether the organisation has a carrier for `channel`; without one its messages go to
/// the sandbox.
pub fn has_carrier(settings: &OrganizationSettings, channel: Channel) -> bool {
    match channel {
        Channel::Sms => {
            settings.twilio_account_sid.is_some() && settings.twilio_auth_token_encrypted.is_some()
        }
        Channel::Email => settings.smtp_host.is_some(),
        _ => false,
    }
}

/// Where a message goes.
pub(super) enum Carrier {
    /// The account, and the messaging service its messages belong to, if any.
    Twilio(Credentials, Option<String>),
    /// The organisation's mail server and the sender's display name.
    Smtp(SmtpServer, Option<String>),
}

impl Carrier {
    /// The organisation's carrier for the message's channel; `None` sends it to the
    /// sandbox.
    pub(super) fn for_message(
        config: &OrgConfig,
        secrets: &SecretKey,
        message: &Message,
    ) -> Result<Option<Carrier>, AppError> {
        let settings = &config.settings;
        Ok(Some(match (message.channel, settings) {
            (Channel::Sms, _) => match twilio_credentials(config)? {
                Some(credentials) => {
                    Carrier::Twilio(credentials, settings.twilio_messaging_service_sid.clone())
                }
                None => return Ok(None),
            },
            (
                Channel::Email,
                OrganizationSettings {
                    smtp_host: Some(host),
                    ..
                },
            ) => {
                let password = match &settings.smtp_password_encrypted {
                    Some(stored) => Some(secrets.decrypt(stored).map_err(AppError::internal)?),
                    None => None,
                };
                let from_name = config
                    .email_addresses
                    .iter()
                    .find(|address| Some(address.id) == message.email_address_id)
                    .and_then(|address| address.display_name.clone());
                Carrier::Smtp(
                    SmtpServer {
                        host: host.clone(),
                        port: settings.smtp_port.and_then(|port| u16::try_from(port).ok()),
                        username: settings.smtp_username.clone(),
                        password,
                        security: settings.smtp_security.clone(),
                    },
                    from_name,
                )
            }
            _ => return Ok(None),
        }))
    }
}
