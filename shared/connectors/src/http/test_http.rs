//! A real HTTP server on loopback for unit tests of the Clarity, NetSuite and Salesforce
//! clients: `wiremock`'s server with one responder, a synchronous handler closure that keeps
//! whatever state the test needs (token lifetimes, versions, idempotency keys, upserted records).
//! Every request is recorded, in arrival order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use std::time::{Duration, Instant};

/// A throwaway 2048-bit RSA key generated for these tests only (never used anywhere else), and
/// its public half.
pub const TEST_RSA_PRIVATE_PEM: &str = include_str!("../../tests/data/test_rsa_private.pem");
pub const TEST_RSA_PUBLIC_PEM: &str = include_str!("../../tests/data/test_rsa_public.pem");

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent (`/api/v1/orders/ORD-1?x=1`).
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The bearer token, if any.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }
}

/// What the handler answers.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(&value).unwrap(),
        }
    }

    /// An RFC 9457 problem body in Clarity's shape (`CLARITY_ASSUMED.md` §4.6).
    pub fn problem(status: u16, code: &str, detail: &str) -> Self {
        let mut r = Self::json(
            status,
            serde_json::json!({
                "type": format!("https://errors.clarity.example/{code}"),
                "title": code.replace('_', " "),
                "status": status,
                "detail": detail,
                "code": code,
                "requestId": "req-test",
            }),
        );
        r.headers[0].1 = "application/problem+json".into();
        r
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// The server; stops when dropped.
pub struct TestServer {
    server: wiremock::MockServer,
    requests: Arc<Mutex<Vec<Request>>>,
}

/// Every request goes to the handler, after it is recorded.
struct Responder {
    handler: Arc<Handler>,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl wiremock::Respond for Responder {
    fn respond(&self, r: &wiremock::Request) -> wiremock::ResponseTemplate {
        let target = match r.url.query() {
            Some(q) => format!("{}?{q}", r.url.path()),
            None => r.url.path().to_string(),
        };
        let request = Request {
            method: r.method.to_string(),
            target,
            headers: r
                .headers
                .iter()
                .map(|(k, v)| {
                    let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                    (k.as_str().to_ascii_lowercase(), v)
                })
                .collect(),
            body: r.body.clone(),
        };
        self.requests.lock().unwrap().push(request.clone());
        let response = (self.handler)(&request);
        let mut template = wiremock::ResponseTemplate::new(response.status);
        for (k, v) in &response.headers {
            template = template.append_header(k.as_str(), v.as_str());
        }
        template.set_body_raw(response.body, "application/octet-stream")
    }
}

impl TestServer {
    pub async fn start<F>(handler: F) -> Self
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        let server = wiremock::MockServer::start().await;
        let requests = Arc::new(Mutex::new(Vec::new()));
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(Responder {
                handler: Arc::new(handler),
                requests: requests.clone(),
            })
            .mount(&server)
            .await;
        Self { server, requests }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// How many requests had this method and a path starting with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method && r.path().starts_with(prefix))
            .count()
    }
}

/// Sleeps advance a virtual clock and are recorded; nothing really waits.
pub struct VirtualSleeper {
    start: Instant,
    elapsed: Mutex<Duration>,
    pub sleeps: Mutex<Vec<Duration>>,
}

impl VirtualSleeper {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
            sleeps: Mutex::new(Vec::new()),
        })
    }
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

#[async_trait]
impl super::retry::Sleeper for VirtualSleeper {
    fn now(&self) -> Instant {
        self.start + *self.elapsed.lock().unwrap()
    }
    async fn sleep(&self, d: Duration) {
        *self.elapsed.lock().unwrap() += d;
        self.sleeps.lock().unwrap().push(d);
    }
}
