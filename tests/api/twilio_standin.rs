//! A Twilio stand-in for the tests: a real HTTP server (wiremock) that, like Twilio,
//! answers only the tests' account (Basic auth, and its SID in the path), keeps the
//! messages it is asked to create and lists them as Twilio does (newest first, 50 a
//! page, `next_page_uri`), answers for one message by SID, serves inbound media, and
//! misbehaves on demand: it answers slowly or stalls past the server's timeout, calls
//! back before it answers, buries a message under newer ones on its route, refuses (400
//! with Twilio's error code, 429, 5xx), loses its answer, lags or fails its list.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use switchboard::twilio::signature;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{status_callback, TWILIO_ACCOUNT, TWILIO_TOKEN};

/// What the stand-in does with one create request. Unless it refuses or rejects it, it
/// has the message, whatever it answers (as Twilio does once a create reached it).
#[derive(Clone, Debug)]
pub enum Create {
    /// 201 with a new SID.
    Accept,
    /// 201 with this SID (a test that names the SID its webhooks will carry).
    AcceptAs(&'static str),
    /// The answer comes only after this long: a slow carrier, or one past the server's
    /// timeout.
    Stall(Duration),
    /// A signed status callback (`status`) reaches the server before the answer (it
    /// can), and the answer follows once the callback has been answered.
    CallBackFirst(&'static str),
    /// As [`Create::CallBackFirst`], and the answer then stalls for this long.
    CallBackThenStall(&'static str, Duration),
    /// Refused with this HTTP status (429 too many requests, 503): the message is not
    /// kept.
    Refuse(u16),
    /// Rejected for good, as Twilio rejects a bad request: a 400 with Twilio's error
    /// `code` and `message`. The message is not kept.
    Reject(u32, &'static str),
    /// The message is kept, but the answer is a 500 (lost on its way back).
    KeepButAnswer500,
    /// `newer` other messages on the same route come right after this one (a busy
    /// line); the create is then answered as `then` says.
    Buried { newer: usize, then: Box<Create> },
}

impl Create {
    /// This create, with `newer` other messages on its route right after it.
    pub fn buried_under(self, newer: usize) -> Create {
        Create::Buried {
            newer,
            then: Box::new(self),
        }
    }
}

/// What the stand-in serves at one media URL of an inbound message.
pub enum Media {
    /// The file's bytes, with their content type.
    File(Vec<u8>, &'static str),
    /// A redirect to this URL (Twilio redirects media to its CDN).
    RedirectTo(String),
}

/// A message the stand-in has.
#[derive(Clone, Debug)]
pub struct Sent {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub created: DateTime<Utc>,
    /// Where Twilio says it stands (`GET …/Messages/{sid}.json`).
    pub status: String,
    /// Whether the server asked to create it (not traffic the stand-in made up, nor a
    /// message it had before the test's server started).
    pub created_by_server: bool,
    /// The create request's form, as sent.
    pub form: Vec<(String, String)>,
}

impl Sent {
    /// The value of form field `name` of the create request.
    pub fn field<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.fields(name).next()
    }

    /// Every value of form field `name` (`MediaUrl` comes once per file).
    pub fn fields<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.form
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Default)]
struct State {
    /// Oldest first.
    messages: Vec<Sent>,
    /// What the next create requests do; `Accept` once empty.
    creates: VecDeque<Create>,
    /// What every create does once `creates` is empty.
    default_create: Option<Create>,
    /// Create requests that reached the stand-in, refused ones included.
    create_requests: usize,
    /// List requests that reached the stand-in, failed ones included.
    list_requests: usize,
    /// How many list requests are still to fail.
    list_failures: usize,
    /// Messages younger than this are not listed yet.
    list_lag: Duration,
    /// Status asked of each SID (`GET …/Messages/{sid}.json`).
    fetched: Vec<String>,
    /// Inbound media, by path under the account (`Messages/{sid}/Media/{media}`).
    media: HashMap<String, Media>,
    next_sid: u64,
}

impl State {
    fn new_sid(&mut self) -> String {
        self.next_sid += 1;
        format!("SM{:032x}", self.next_sid)
    }
}

#[derive(Clone)]
pub struct TwilioStandIn {
    server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
}

impl TwilioStandIn {
    pub async fn start() -> TwilioStandIn {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(any())
            .respond_with(Responder {
                state: state.clone(),
            })
            .mount(&server)
            .await;
        TwilioStandIn {
            server: Arc::new(server),
            state,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The next creates do these, in order.
    pub fn then(&self, creates: impl IntoIterator<Item = Create>) -> &Self {
        self.state.lock().unwrap().creates.extend(creates);
        self
    }

    /// Every create does this once the queue of `then` is empty.
    pub fn always(&self, create: Create) -> &Self {
        self.state.lock().unwrap().default_create = Some(create);
        self
    }

    /// Every list request fails (503) from now on, or none does.
    pub fn fail_list(&self, fails: bool) -> &Self {
        self.fail_next_lists(if fails { usize::MAX } else { 0 })
    }

    /// The next `count` list requests fail (503).
    pub fn fail_next_lists(&self, count: usize) -> &Self {
        self.state.lock().unwrap().list_failures = count;
        self
    }

    pub fn lag_list(&self, lag: Duration) -> &Self {
        self.state.lock().unwrap().list_lag = lag;
        self
    }

    /// Twilio's status of message `sid` changes (its callback is not sent).
    pub fn set_status(&self, sid: &str, status: &str) {
        let mut state = self.state.lock().unwrap();
        if let Some(message) = state.messages.iter_mut().find(|m| m.sid == sid) {
            message.status = status.into();
        }
    }

    /// Twilio already has a message from `from` to `to` saying `body` (sent by a server
    /// that stopped since); answers its SID.
    pub fn already_has(&self, to: &str, from: &str, body: &str) -> String {
        let mut state = self.state.lock().unwrap();
        let sid = state.new_sid();
        state.messages.push(Sent {
            sid: sid.clone(),
            to: to.into(),
            from: from.into(),
            body: body.into(),
            created: Utc::now(),
            status: "sent".into(),
            created_by_server: false,
            form: Vec::new(),
        });
        sid
    }

    /// Serves `media` as item `media_sid` of inbound message `message_sid`; answers its
    /// URL.
    pub fn add_media(&self, message_sid: &str, media_sid: &str, media: Media) -> String {
        let under_account = format!("Messages/{message_sid}/Media/{media_sid}");
        let url = format!(
            "{}/2010-04-01/Accounts/{TWILIO_ACCOUNT}/{under_account}",
            self.uri()
        );
        self.state
            .lock()
            .unwrap()
            .media
            .insert(under_account, media);
        url
    }

    /// The messages the server asked to create, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        let state = self.state.lock().unwrap();
        state
            .messages
            .iter()
            .filter(|m| m.created_by_server)
            .cloned()
            .collect()
    }

    /// The SIDs whose status the server asked for.
    pub fn fetched(&self) -> Vec<String> {
        self.state.lock().unwrap().fetched.clone()
    }

    /// How many create requests reached the stand-in, refused ones included.
    pub fn create_requests(&self) -> usize {
        self.state.lock().unwrap().create_requests
    }

    /// How many times the server asked for the list of messages.
    pub fn list_requests(&self) -> usize {
        self.state.lock().unwrap().list_requests
    }
}

struct Responder {
    state: Arc<Mutex<State>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if !signed_in(request) {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"code": 20003, "message": "Authenticate", "status": 401}));
        }
        let path = request.url.path().to_string();
        let Some(after_account) = path
            .strip_prefix("/2010-04-01/Accounts/")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(account, _)| *account == TWILIO_ACCOUNT)
            .map(|(_, rest)| rest.to_string())
        else {
            return not_found();
        };
        match (request.method.as_str(), after_account.as_str()) {
            ("POST", "Messages.json") => self.create(request),
            ("GET", "Messages.json") => self.list(request),
            ("GET", one) => match one
                .strip_prefix("Messages/")
                .and_then(|file| file.strip_suffix(".json"))
            {
                Some(sid) => self.fetch(sid),
                None => self.media(one),
            },
            _ => ResponseTemplate::new(405),
        }
    }
}

/// Whether the request carries the tests' account and token (Basic auth), as every
/// request to Twilio's API must.
fn signed_in(request: &Request) -> bool {
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{TWILIO_ACCOUNT}:{TWILIO_TOKEN}"));
    request
        .headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        == Some(expected.as_str())
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"code": 20404, "message": "not found"}))
}

fn created(sid: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"sid": sid, "status": "queued"}))
}

impl Responder {
    fn create(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let field = |name: &str| {
            form.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        };
        let (to, from) = (field("To"), field("From"));
        let (answer, sid) = {
            let mut state = self.state.lock().unwrap();
            state.create_requests += 1;
            let mut answer = state
                .creates
                .pop_front()
                .or_else(|| state.default_create.clone())
                .unwrap_or(Create::Accept);
            let mut newer = 0;
            while let Create::Buried { newer: more, then } = answer {
                newer += more;
                answer = *then;
            }
            match answer {
                Create::Refuse(status) => {
                    return ResponseTemplate::new(status).set_body_json(
                        json!({"code": 20000 + u32::from(status), "message": "refused"}),
                    )
                }
                Create::Reject(code, message) => {
                    return ResponseTemplate::new(400)
                        .set_body_json(json!({"code": code, "message": message, "status": 400}))
                }
                _ => {}
            }
            let sid = match answer {
                Create::AcceptAs(sid) => sid.to_string(),
                _ => state.new_sid(),
            };
            state.messages.push(Sent {
                sid: sid.clone(),
                to: to.clone(),
                from: from.clone(),
                body: field("Body"),
                created: Utc::now(),
                status: "queued".into(),
                created_by_server: true,
                form: form.clone(),
            });
            for n in 0..newer {
                let filler = state.new_sid();
                state.messages.push(Sent {
                    sid: filler,
                    to: to.clone(),
                    from: from.clone(),
                    body: format!("Other traffic {n}"),
                    created: Utc::now(),
                    status: "delivered".into(),
                    created_by_server: false,
                    form: Vec::new(),
                });
            }
            (answer, sid)
        };
        match answer {
            Create::Accept | Create::AcceptAs(_) => created(&sid),
            Create::Stall(stall) => created(&sid).set_delay(stall),
            Create::CallBackFirst(status) => {
                call_back(&field("StatusCallback"), &sid, status);
                created(&sid)
            }
            Create::CallBackThenStall(status, stall) => {
                call_back(&field("StatusCallback"), &sid, status);
                created(&sid).set_delay(stall)
            }
            Create::KeepButAnswer500 => ResponseTemplate::new(500),
            Create::Refuse(_) | Create::Reject(..) | Create::Buried { .. } => {
                unreachable!("answered or unwrapped above")
            }
        }
    }

    fn list(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        state.list_requests += 1;
        if state.list_failures > 0 {
            state.list_failures -= 1;
            return ResponseTemplate::new(503)
                .set_body_json(json!({"code": 20500, "message": "unavailable"}));
        }
        let query = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        let (to, from) = (query("To"), query("From"));
        let page: usize = query("Page").and_then(|p| p.parse().ok()).unwrap_or(0);
        let size: usize = query("PageSize").and_then(|p| p.parse().ok()).unwrap_or(50);
        let listed_before = Utc::now() - state.list_lag;
        let mut route: Vec<&Sent> = state
            .messages
            .iter()
            .filter(|m| to.as_ref().is_none_or(|to| &m.to == to))
            .filter(|m| from.as_ref().is_none_or(|from| &m.from == from))
            .filter(|m| m.created <= listed_before)
            .collect();
        route.reverse();
        let items: Vec<Value> = route
            .iter()
            .skip(page * size)
            .take(size)
            .map(|m| {
                json!({
                    "sid": m.sid, "to": m.to, "from": m.from, "body": m.body,
                    "status": m.status, "date_created": m.created.to_rfc2822(),
                })
            })
            .collect();
        let next_page_uri = ((page + 1) * size < route.len()).then(|| {
            let mut next = request.url.clone();
            next.query_pairs_mut()
                .clear()
                .extend_pairs(request.url.query_pairs().filter(|(k, _)| k != "Page"))
                .append_pair("Page", &(page + 1).to_string())
                .append_pair("PageToken", &format!("PA{}", page + 1));
            format!("{}?{}", next.path(), next.query().unwrap_or_default())
        });
        ResponseTemplate::new(200).set_body_json(json!({
            "messages": items,
            "page": page,
            "page_size": size,
            "next_page_uri": next_page_uri,
        }))
    }

    fn fetch(&self, sid: &str) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        state.fetched.push(sid.to_string());
        match state.messages.iter().find(|m| m.sid == sid) {
            Some(m) => ResponseTemplate::new(200).set_body_json(json!({
                "sid": m.sid, "status": m.status, "error_code": null, "error_message": null,
            })),
            None => not_found(),
        }
    }

    fn media(&self, under_account: &str) -> ResponseTemplate {
        match self.state.lock().unwrap().media.get(under_account) {
            Some(Media::File(bytes, content_type)) => {
                ResponseTemplate::new(200).set_body_raw(bytes.clone(), content_type)
            }
            Some(Media::RedirectTo(url)) => {
                ResponseTemplate::new(302).insert_header("location", url.as_str())
            }
            None => not_found(),
        }
    }
}

/// Posts a signed status callback to `url` and waits for its answer, from a thread of
/// its own (the stand-in answers from its own).
fn call_back(url: &str, sid: &str, status: &str) {
    let params = status_callback(sid, status);
    let signed = signature::sign(TWILIO_TOKEN, url, &params);
    let url = url.to_string();
    let answered = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                reqwest::Client::new()
                    .post(&url)
                    .header("X-Twilio-Signature", signed)
                    .form(&params)
                    .send()
                    .await
                    .map(|response| response.status())
            })
    })
    .join()
    .unwrap();
    assert!(
        answered.as_ref().is_ok_and(|status| status.is_success()),
        "the callback was refused: {answered:?}"
    );
}
