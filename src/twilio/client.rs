//! Twilio's REST API, as far as sending goes: create a message, and find one we may
//! have created already (to reconcile an ambiguous failure before sending again).

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
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

/// Twilio's REST API goes through hyper's pooled client itself: reqwest took twice the
/// instructions per request (a redirect layer that parses every request's URL again, its
/// own request and body types over hyper's), and create-message is the send path's one
/// outside call. Media downloads still use reqwest, which follows their redirects.
type ApiClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<HttpConnector>,
    http_body_util::Full<Bytes>,
>;

/// Larger answers from the API are not Twilio's (its pages of 50 messages are far smaller).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct TwilioClient {
    api: ApiClient,
    media: reqwest::Client,
    /// Parsed once: every send used to parse (and IDNA-check) the whole URL again.
    base: url::Url,
    timeout: Duration,
}

/// What came back from one API request.
struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Bytes,
}

/// Why an API request got no answer.
enum NoAnswer {
    /// No connection was made: nothing was written.
    NotConnected(String),
    /// The request may have been written.
    Lost(String),
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
    /// The next (older) page, as a path on the API's host; absent on the last page.
    next_page_uri: Option<String>,
}

#[derive(Deserialize)]
struct ListedMessage {
    sid: String,
    body: Option<String>,
    /// RFC 2822, as Twilio writes it ("Thu, 24 Aug 2023 05:01:45 +0000").
    date_created: Option<String>,
}

impl ListedMessage {
    fn created(&self) -> Option<DateTime<Utc>> {
        self.date_created
            .as_deref()
            .and_then(|date| DateTime::parse_from_rfc2822(date).ok())
            .map(|created| created.to_utc())
    }

    /// Whether this may be the message with `body` sent since `since`.
    fn may_be(&self, body: &str, since: DateTime<Utc>) -> bool {
        self.body.as_deref() == Some(body)
            // Unknown creation time: it may be ours, and sending again is the worse mistake.
            && self.created().is_none_or(|created| created >= since - CLOCK_SKEW)
    }

    /// Whether this was certainly created before `since`: Twilio lists newest first, so
    /// nothing after it on the list can be a message sent since.
    fn predates(&self, since: DateTime<Utc>) -> bool {
        self.created()
            .is_some_and(|created| created < since - CLOCK_SKEW)
    }
}

/// How many pages of 50 a reconciliation reads at most. A route busier than that since
/// the attempt began cannot be read to the attempt's start, and the message is then
/// not sent again (the look-up counts as failed).
const MAX_PAGES: usize = 40;

/// Where a message stands, as Twilio answers for one message.
#[derive(Debug, Deserialize)]
pub struct FetchedMessage {
    pub status: String,
    /// A number in Twilio's answers; kept as text like a callback's `ErrorCode`.
    pub error_code: Option<serde_json::Value>,
    pub error_message: Option<String>,
}

impl FetchedMessage {
    pub fn error_code(&self) -> Option<String> {
        self.error_code
            .as_ref()
            .filter(|code| !code.is_null())
            .map(|code| code.to_string().trim_matches('"').to_string())
    }
}

/// How far Twilio's clock may be behind ours when telling whether a message it lists
/// was created by this attempt.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// Twilio's media hosts (over https), or the configured API base's origin (stand-ins).
fn is_media_host(base: &url::Url, url: &url::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let twilio = matches!(url.scheme(), "https")
        && (host == "twilio.com"
            || host.ends_with(".twilio.com")
            || host.ends_with(".twiliocdn.com"));
    twilio || base.origin() == url.origin()
}

impl TwilioClient {
    /// A client of the API at `base` (`https://api.twilio.com`, or a stand-in). Each
    /// request gets `timeout` in all; a connection not made in half of it counts as not
    /// made (nothing was sent), so a retry is safe.
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        let base = url::Url::parse(base)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base())
            .ok_or_else(|| anyhow::anyhow!("the Twilio API base {base:?} is not an http(s) URL"))?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout / 2));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let api = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(https);
        // Twilio answers a media URL with a redirect to its CDN; every hop is checked
        // like the first, so a redirect cannot lead the server elsewhere (SSRF).
        let allowed_base = base.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if is_media_host(&allowed_base, attempt.url()) {
                attempt.follow()
            } else {
                let host = attempt.url().host_str().unwrap_or_default().to_string();
                attempt.error(format!(
                    "a media redirect to {host} is not followed: not one of Twilio's media hosts"
                ))
            }
        });
        let media = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(redirects)
            .build()
            .expect("the HTTP client builds with static settings");
        Ok(TwilioClient {
            api,
            media,
            base,
            timeout,
        })
    }

    /// Whether `url` is one Twilio serves media from (or the configured API base, for
    /// stand-ins): inbound media is fetched from nowhere else.
    pub fn is_media_url(&self, url: &str) -> bool {
        url::Url::parse(url).is_ok_and(|url| is_media_host(&self.base, &url))
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
            .media
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
        self.api_url(&["2010-04-01", "Accounts", account_sid, "Messages.json"])
    }

    fn api_url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new: the base can have a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// A `next_page_uri` (a path and query on the API's host) under the configured base.
    /// Only its path and query are taken: a page is never fetched from another host.
    fn page_url(&self, uri: &str) -> anyhow::Result<url::Url> {
        let page = url::Url::parse("https://api.twilio.com/")?.join(uri)?;
        let mut url = self.base.clone();
        let prefix = self.base.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}{}", page.path()));
        url.set_query(page.query());
        Ok(url)
    }

    /// One GET of the API that must answer 200 with JSON of type `T`.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        credentials: &Credentials,
        url: url::Url,
    ) -> anyhow::Result<T> {
        let answer = self
            .call(credentials, Method::GET, url, None)
            .await
            .map_err(
                |(NoAnswer::NotConnected(reason) | NoAnswer::Lost(reason))| anyhow::anyhow!(reason),
            )?;
        anyhow::ensure!(
            answer.status.is_success(),
            "Twilio answered {}",
            answer.status
        );
        serde_json::from_slice(&answer.body)
            .map_err(|error| anyhow::anyhow!("Twilio's answer did not parse: {error}"))
    }

    /// Where Twilio says message `sid` stands.
    pub async fn fetch(
        &self,
        credentials: &Credentials,
        sid: &str,
    ) -> anyhow::Result<FetchedMessage> {
        let file = format!("{sid}.json");
        let url = self.api_url(&[
            "2010-04-01",
            "Accounts",
            &credentials.account_sid,
            "Messages",
            &file,
        ]);
        self.get_json(credentials, url).await
    }

    /// One request to the API with the account's credentials, and its whole answer.
    async fn call(
        &self,
        credentials: &Credentials,
        method: Method,
        url: url::Url,
        form: Option<String>,
    ) -> Result<Answer, NoAnswer> {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            credentials.account_sid, credentials.auth_token
        ));
        let mut authorization = HeaderValue::try_from(format!("Basic {basic}"))
            .expect("base64 is visible ASCII, a valid header value");
        authorization.set_sensitive(true);
        let mut request = Request::builder()
            .method(method)
            .uri(url.as_str())
            .header(AUTHORIZATION, authorization);
        if form.is_some() {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let request = request
            .body(Full::new(Bytes::from(form.unwrap_or_default())))
            .map_err(|error| NoAnswer::NotConnected(format!("not a valid request: {error}")))?;
        let exchange = async {
            let response = self.api.request(request).await.map_err(|error| {
                let not_connected = error.is_connect();
                // With its causes: hyper's own message ("client error (Connect)") says
                // little without them.
                let reason = format!("{:#}", anyhow::Error::new(error));
                if not_connected {
                    NoAnswer::NotConnected(format!("could not connect to Twilio: {reason}"))
                } else {
                    NoAnswer::Lost(format!("no answer from Twilio: {reason}"))
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|error| NoAnswer::Lost(format!("Twilio's answer was cut short: {error}")))?
                .to_bytes();
            let retry_after = parts
                .headers
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Ok(Answer {
                status: parts.status,
                retry_after,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(NoAnswer::Lost(format!(
                    "no answer from Twilio within {} s",
                    self.timeout.as_secs_f32()
                )))
            })
    }

    pub async fn send(&self, credentials: &Credentials, sms: &OutgoingSms<'_>) -> SendOutcome {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("To", sms.to)
            .append_pair("From", sms.from)
            .append_pair("Body", sms.body)
            .append_pair("StatusCallback", sms.status_callback);
        if let Some(service) = sms.messaging_service_sid {
            form.append_pair("MessagingServiceSid", service);
        }
        for url in sms.media_urls {
            form.append_pair("MediaUrl", url);
        }
        let url = self.messages_url(&credentials.account_sid);
        let answer = match self
            .call(credentials, Method::POST, url, Some(form.finish()))
            .await
        {
            Ok(answer) => answer,
            // Refused before anything was written: safe to send again.
            Err(NoAnswer::NotConnected(reason)) => {
                return SendOutcome::RetryLater {
                    after: None,
                    reason,
                }
            }
            Err(NoAnswer::Lost(reason)) => return SendOutcome::Ambiguous { reason },
        };
        let status = answer.status;
        if status.is_success() {
            return match serde_json::from_slice::<CreatedMessage>(&answer.body) {
                Ok(created) => SendOutcome::Accepted { sid: created.sid },
                Err(_) => SendOutcome::Ambiguous {
                    reason: format!("Twilio answered {status} without a message SID"),
                },
            };
        }
        let error = serde_json::from_slice::<TwilioError>(&answer.body).ok();
        let code = error
            .as_ref()
            .and_then(|error| error.code.as_ref())
            .map(|code| code.to_string().trim_matches('"').to_string())
            .unwrap_or_else(|| status.as_u16().to_string());
        let message = error
            .and_then(|error| error.message)
            .unwrap_or_else(|| format!("Twilio answered {status}"));
        if status == StatusCode::TOO_MANY_REQUESTS || code == "20429" {
            SendOutcome::RetryLater {
                after: answer.retry_after,
                reason: message,
            }
        } else if status.is_server_error() {
            SendOutcome::Ambiguous { reason: message }
        } else {
            SendOutcome::Rejected { code, message }
        }
    }

    /// The SIDs of the messages Twilio has from `from` to `to` with this body, created
    /// since `since` (Twilio filters by day; the body and creation time decide). Every
    /// page is read, newest first, until one reaches back past `since`: a message that
    /// many newer ones on the same route have pushed off the first page is still found.
    /// A list that cannot be read to there is an error, never "not found".
    pub async fn find_sent(
        &self,
        credentials: &Credentials,
        sms: &OutgoingSms<'_>,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<String>> {
        let day = (since - CLOCK_SKEW).format("%Y-%m-%d").to_string();
        let mut url = self.messages_url(&credentials.account_sid);
        url.query_pairs_mut().extend_pairs([
            ("To", sms.to),
            ("From", sms.from),
            ("DateSent>", &day),
            ("PageSize", "50"),
        ]);
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            let page: MessageList = self.get_json(credentials, url).await?;
            let reached_since = page.messages.iter().any(|message| message.predates(since));
            found.extend(
                page.messages
                    .into_iter()
                    .filter(|message| message.may_be(sms.body, since))
                    .map(|message| message.sid),
            );
            match page.next_page_uri.filter(|_| !reached_since) {
                Some(next) => url = self.page_url(&next)?,
                None => return Ok(found),
            }
        }
        anyhow::bail!(
            "more than {MAX_PAGES} pages of messages on this route since the attempt began"
        )
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
        assert!(!listed(text, Some("Thu, 24 Aug 2023 05:09:00 +0000")).predates(since));
        assert!(listed(text, Some("Thu, 24 Aug 2023 04:50:00 +0000")).predates(since));
        assert!(!listed(text, None).predates(since));
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
    fn a_next_page_stays_on_the_configured_base() {
        let client =
            TwilioClient::new("http://127.0.0.1:4010/twilio/", Duration::from_secs(1)).unwrap();
        let next =
            "/2010-04-01/Accounts/AC123/Messages.json?To=%2B1&PageSize=50&Page=1&PageToken=PA1";
        assert_eq!(
            client.page_url(next).unwrap().to_string(),
            "http://127.0.0.1:4010/twilio/2010-04-01/Accounts/AC123/Messages.json?To=%2B1&PageSize=50&Page=1&PageToken=PA1"
        );
        assert_eq!(
            client
                .page_url("https://elsewhere.example/2010-04-01/x.json?a=1")
                .unwrap()
                .to_string(),
            "http://127.0.0.1:4010/twilio/2010-04-01/x.json?a=1",
            "only the path and query of a page are followed"
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
