//! A Twilio stand-in for delivery tests: a real HTTP server (wiremock) that keeps the
//! messages it is asked to create and lists them as Twilio does (newest first, 50 a
//! page, `next_page_uri`), answers for one message by SID, and misbehaves on demand:
//! it answers slowly or stalls past the server's timeout, calls back before it answers,
//! buries a message under newer ones on its route, refuses (429, 5xx), loses its answer,
//! lags or fails its list.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use switchboard::twilio::signature;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{status_callback, TWILIO_TOKEN};

/// What the stand-in does with one create request. Whatever it answers, it has the
/// message (as Twilio does once a create request reached it).
#[derive(Clone, Debug)]
pub enum Create {
    /// 201 with the new SID.
    Accept,
    /// The answer comes only after this long: a slow carrier, or one past the server's
    /// timeout.
    Stall(Duration),
    /// A signed status callback (`status`) reaches the server before the answer, which
    /// then stalls for this long.
    CallBackThenStall(&'static str, Duration),
    /// `newer` other messages on the same route come right after this one (a busy
    /// line), and the answer stalls for this long.
    BuryThenStall { newer: usize, stall: Duration },
    /// Refused with this HTTP status (429 too many requests, 503): the message is not
    /// kept.
    Refuse(u16),
    /// The message is kept, but the answer is a 500 (lost on its way back).
    KeepButAnswer500,
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
    /// Whether the server asked to create it (not traffic the stand-in made up).
    pub created_by_server: bool,
}

#[derive(Default)]
struct State {
    /// Oldest first.
    messages: Vec<Sent>,
    /// What the next create requests do; `Accept` once empty.
    creates: VecDeque<Create>,
    /// What every create does once `creates` is empty.
    default_create: Option<Create>,
    list_fails: bool,
    /// Messages younger than this are not listed yet.
    list_lag: Duration,
    /// Status asked of each SID (`GET …/Messages/{sid}.json`).
    fetched: Vec<String>,
    next_sid: u64,
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

    pub fn server(&self) -> &MockServer {
        &self.server
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

    pub fn fail_list(&self, fails: bool) -> &Self {
        self.state.lock().unwrap().list_fails = fails;
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
}

struct Responder {
    state: Arc<Mutex<State>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_string();
        let Some(after_account) = path
            .strip_prefix("/2010-04-01/Accounts/")
            .and_then(|rest| rest.split_once('/'))
            .map(|(_, rest)| rest.to_string())
        else {
            return ResponseTemplate::new(404);
        };
        match (request.method.as_str(), after_account.as_str()) {
            ("POST", "Messages.json") => self.create(request),
            ("GET", "Messages.json") => self.list(request),
            ("GET", one) => match one
                .strip_prefix("Messages/")
                .and_then(|file| file.strip_suffix(".json"))
            {
                Some(sid) => self.fetch(sid),
                None => ResponseTemplate::new(404),
            },
            _ => ResponseTemplate::new(405),
        }
    }
}

fn field(body: &[u8], name: &str) -> String {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn created(sid: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"sid": sid, "status": "queued"}))
}

impl Responder {
    fn create(&self, request: &Request) -> ResponseTemplate {
        let body = &request.body;
        let (to, from) = (field(body, "To"), field(body, "From"));
        let (behaviour, sid) = {
            let mut state = self.state.lock().unwrap();
            let behaviour = state
                .creates
                .pop_front()
                .or_else(|| state.default_create.clone())
                .unwrap_or(Create::Accept);
            if let Create::Refuse(status) = behaviour {
                return ResponseTemplate::new(status).set_body_json(
                    json!({"code": 20000 + u32::from(status), "message": "refused"}),
                );
            }
            state.next_sid += 1;
            let sid = format!("SM{:032x}", state.next_sid);
            state.messages.push(Sent {
                sid: sid.clone(),
                to: to.clone(),
                from: from.clone(),
                body: field(body, "Body"),
                created: Utc::now(),
                status: "queued".into(),
                created_by_server: true,
            });
            if let Create::BuryThenStall { newer, .. } = behaviour {
                for n in 0..newer {
                    state.next_sid += 1;
                    let filler = format!("SM{:032x}", state.next_sid);
                    state.messages.push(Sent {
                        sid: filler,
                        to: to.clone(),
                        from: from.clone(),
                        body: format!("Other traffic {n}"),
                        created: Utc::now(),
                        status: "delivered".into(),
                        created_by_server: false,
                    });
                }
            }
            (behaviour, sid)
        };
        match behaviour {
            Create::Accept => created(&sid),
            Create::Stall(stall) | Create::BuryThenStall { stall, .. } => {
                created(&sid).set_delay(stall)
            }
            Create::CallBackThenStall(status, stall) => {
                let callback = field(body, "StatusCallback");
                call_back(&callback, &sid, status);
                created(&sid).set_delay(stall)
            }
            Create::KeepButAnswer500 => ResponseTemplate::new(500),
            Create::Refuse(_) => unreachable!("answered above"),
        }
    }

    fn list(&self, request: &Request) -> ResponseTemplate {
        let state = self.state.lock().unwrap();
        if state.list_fails {
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
            None => ResponseTemplate::new(404)
                .set_body_json(json!({"code": 20404, "message": "not found"})),
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
