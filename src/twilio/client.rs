//! Twilio's REST API, as far as sending goes: create a message, and find one we may
//! have created already (to reconcile an ambiguous failure before sending again).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// An account's credentials (decrypted from the organisation's settings).
pub struct Credentials {
    pub account_sid: String,
    pub auth_token: String,
}

pub struct OutgoingSms<'a> {
    pub to: &'a str,
    pub from: &'a str,
    /// The organisation's messaging service: the message belongs to it (A2P 10DLC
    /// campaigns, the service's own features) and still goes from `from`, a sender of
    /// its pool, so the conversation keeps its number.
    pub messaging_service_sid: Option<&'a str>,
    pub body: &'a str,
    pub media_urls: &'a [String],
    pub status_callback: &'a str,
}

/// What became of one attempt.
#[derive(Debug)]
pub enum SendOutcome {
    /// Twilio took it: its SID.
    Accepted { sid: String },
    /// Twilio refused it for good (bad number, opted out, ...).
    Rejected { code: String, message: String },
    /// Not sent: try again later (rate limited, or the connection was refused).
    RetryLater {
        after: Option<Duration>,
        reason: String,
    },
    /// Maybe sent: the request went out but no clear answer came back (timeout, 5xx).
    Ambiguous { reason: String },
}

#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    /// Parsed once: every send used to parse (and IDNA-check) the whole URL again.
    base: url::Url,
}

#[derive(Deserialize)]
struct CreatedMessage {
    sid: String,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct MessageList {
    messages: Vec<ListedMessage>,
}

#[derive(Deserialize)]
struct ListedMessage {
    sid: String,
    body: Option<String>,
    /// RFC 2822, as Twilio writes it ("Thu, 24 Aug 2023 05:01:45 +0000").
    date_created: Option<String>,
}

impl ListedMessage {
    /// Whether this may be the message with `body` sent since `since`.
    fn may_be(&self, body: &str, since: DateTime<Utc>) -> bool {
        let created = self
            .date_created
            .as_deref()
            .and_then(|date| DateTime::parse_from_rfc2822(date).ok());
        self.body.as_deref() == Some(body)
            // Unknown creation time: it may be ours, and sending again is the worse mistake.
            && created.is_none_or(|created| created >= since - CLOCK_SKEW)
    }
}

/// How far Twilio's clock may be behind ours when telling whether a message it lists
/// was created by this attempt.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

impl TwilioClient {
    /// `base` is `https://api.twilio.com` in production (overridable for tests).
    /// A client of the API at `base` (`https://api.twilio.com`, or a stand-in).
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        let base = url::Url::parse(base)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base())
            .ok_or_else(|| anyhow::anyhow!("the Twilio API base {base:?} is not an http(s) URL"))?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .expect("the HTTP client builds with static settings");
        Ok(TwilioClient { http, base })
    }

    /// Whether `url` is one Twilio serves media from (or the configured API base, for
    /// stand-ins): inbound media is fetched from nowhere else.
    pub fn is_media_url(&self, url: &str) -> bool {
        let Ok(url) = url::Url::parse(url) else {
            return false;
        };
        let host = url.host_str().unwrap_or_default();
        let twilio = matches!(url.scheme(), "https")
            && (host == "twilio.com"
                || host.ends_with(".twilio.com")
                || host.ends_with(".twiliocdn.com"));
        twilio || self.base.origin() == url.origin()
    }

    /// Downloads a media item of an inbound message (Basic auth; redirects followed),
    /// refusing anything over `max_bytes`.
    pub async fn fetch_media(
        &self,
        credentials: &Credentials,
        url: &str,
        max_bytes: usize,
    ) -> anyhow::Result<bytes::Bytes> {
        let mut response = self
            .http
            .get(url)
            .basic_auth(&credentials.account_sid, Some(&credentials.auth_token))
            .send()
            .await?
            .error_for_status()?;
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await? {
            body.extend_from_slice(&chunk);
            anyhow::ensure!(
                body.len() <= max_bytes,
                "the media item is larger than {max_bytes} bytes"
            );
        }
        Ok(body.freeze())
    }

    fn messages_url(&self, account_sid: &str) -> url::Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new: the base can have a path")
            .pop_if_empty()
            .extend(["2010-04-01", "Accounts", account_sid, "Messages.json"]);
        url
    }

    pub async fn send(&self, credentials: &Credentials, sms: &OutgoingSms<'_>) -> SendOutcome {
        let mut form: Vec<(&str, &str)> = vec![
            ("To", sms.to),
            ("From", sms.from),
            ("Body", sms.body),
            ("StatusCallback", sms.status_callback),
        ];
        form.extend(
            sms.messaging_service_sid
                .map(|service| ("MessagingServiceSid", service)),
        );
        form.extend(sms.media_urls.iter().map(|url| ("MediaUrl", url.as_str())));
        let response = self
            .http
            .post(self.messages_url(&credentials.account_sid))
            .basic_auth(&credentials.account_sid, Some(&credentials.auth_token))
            .form(&form)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            // Refused before anything was written: safe to send again.
            Err(error) if error.is_connect() => {
                return SendOutcome::RetryLater {
                    after: None,
                    reason: format!("could not connect to Twilio: {error}"),
                }
            }
            Err(error) => {
                return SendOutcome::Ambiguous {
                    reason: format!("no answer from Twilio: {error}"),
                }
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            return match serde_json::from_str::<CreatedMessage>(&text) {
                Ok(created) => SendOutcome::Accepted { sid: created.sid },
                Err(_) => SendOutcome::Ambiguous {
                    reason: format!("Twilio answered {status} without a message SID"),
                },
            };
        }
        let error = serde_json::from_str::<TwilioError>(&text).ok();
        let code = error
            .as_ref()
            .and_then(|error| error.code.as_ref())
            .map(|code| code.to_string().trim_matches('"').to_string())
            .unwrap_or_else(|| status.as_u16().to_string());
        let message = error
            .and_then(|error| error.message)
            .unwrap_or_else(|| format!("Twilio answered {status}"));
        if status.as_u16() == 429 || code == "20429" {
            SendOutcome::RetryLater {
                after: retry_after,
                reason: message,
            }
        } else if status.is_server_error() {
            SendOutcome::Ambiguous { reason: message }
        } else {
            SendOutcome::Rejected { code, message }
        }
    }

    /// The SIDs of the messages Twilio has from `from` to `to` with this body, created
    /// since `since` (Twilio filters by day; the body and creation time decide), as
    /// Twilio lists them.
    pub async fn find_sent(
        &self,
        credentials: &Credentials,
        sms: &OutgoingSms<'_>,
        since: DateTime<Utc>,
    ) -> Result<Vec<String>, reqwest::Error> {
        let day = (since - CLOCK_SKEW).format("%Y-%m-%d").to_string();
        let list: MessageList = self
            .http
            .get(self.messages_url(&credentials.account_sid))
            .basic_auth(&credentials.account_sid, Some(&credentials.auth_token))
            .query(&[
                ("To", sms.to),
                ("From", sms.from),
                ("DateSent>", &day),
                ("PageSize", "50"),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(list
            .messages
            .into_iter()
            .filter(|message| message.may_be(sms.body, since))
            .map(|message| message.sid)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_message_is_a_candidate_only_with_the_same_text_since_the_attempt() {
        let since = DateTime::parse_from_rfc2822("Thu, 24 Aug 2023 05:10:00 +0000")
            .unwrap()
            .to_utc();
        let listed = |body: &str, date_created: Option<&str>| ListedMessage {
            sid: "SM1".into(),
            body: Some(body.into()),
            date_created: date_created.map(str::to_string),
        };
        let text = "See you at 9";
        assert!(listed(text, Some("Thu, 24 Aug 2023 05:10:03 +0000")).may_be(text, since));
        assert!(
            listed(text, Some("Thu, 24 Aug 2023 05:09:00 +0000")).may_be(text, since),
            "Twilio's clock may be a little behind"
        );
        assert!(!listed(text, Some("Thu, 24 Aug 2023 04:50:00 +0000")).may_be(text, since));
        assert!(listed(text, None).may_be(text, since));
        assert!(!listed("Other", Some("Thu, 24 Aug 2023 05:10:03 +0000")).may_be(text, since));
    }

    #[test]
    fn the_messages_url_extends_the_configured_base() {
        let url = |base: &str| {
            TwilioClient::new(base, Duration::from_secs(1))
                .unwrap()
                .messages_url("AC123")
                .to_string()
        };
        assert_eq!(
            url("https://api.twilio.com"),
            "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
        );
        assert_eq!(
            url("http://127.0.0.1:4010/twilio/"),
            "http://127.0.0.1:4010/twilio/2010-04-01/Accounts/AC123/Messages.json"
        );
    }

    #[test]
    fn a_base_that_is_not_an_http_url_is_refused_at_start() {
        for base in [
            "api.twilio.com",
            "mailto:ops@example.com",
            "ftp://example.com",
        ] {
            assert!(
                TwilioClient::new(base, Duration::from_secs(1)).is_err(),
                "{base}"
            );
        }
    }
}
