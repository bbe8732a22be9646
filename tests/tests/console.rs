//! Issue 16, the console's server side on the local stack (the browser drives the same API in
//! `tests/browser/`): the page comes with a strict CSP; every API call needs a session; orders
//! are found by id, e-mail, Cybersource transaction id and state + dates through indexes; a
//! viewer sees PII masked and cannot replay (the server refuses); every state change without
//! the session's CSRF token is refused and changes nothing; an operator's replay is audited.
//!
//!     cargo test -p o2c-e2e --test console -- --nocapture

mod common;

use common::{Options, Stack};
use serde_json::{json, Value};
use std::time::Duration;

struct Client {
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Client {
    fn new(s: &Stack) -> Client {
        Client {
            base: format!("{}/console", s.webhook_base),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            csrf: None,
        }
    }

    async fn login(s: &Stack, user: &str, role: &str) -> Client {
        let mut c = Client::new(s);
        let r = c
            .http
            .post(format!("{}/api/session", c.base))
            .json(&json!({"user": user, "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        c.cookie = Some(set.split(';').next().unwrap().to_string());
        let v: Value = r.json().await.unwrap();
        c.csrf = v["csrf"].as_str().map(str::to_string);
        c
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> (u16, Value) {
        let url = format!("{}/api{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        };
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        if let (true, Some(t)) = (csrf, &self.csrf) {
            req = req.header("x-csrf-token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None, false).await
    }
}

/// The operator's call: replay `evt_c_3` with `patch`, with or without the CSRF token.
async fn replay(c: &Client, patch: &Value, csrf: bool) -> (u16, Value) {
    c.send(
        "POST",
        "/quarantine/evt_c_3/replay",
        Some(patch.clone()),
        csrf,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_finds_orders_masks_for_viewers_and_refuses_unauthorised_changes() {
    let s = Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await;
    s.clarity_order("ORD-C-1", "buyer", "USD", json!({})).await;
    s.clarity_order("ORD-C-2", "buyer", "USD", json!({})).await;
    s.drain().await;

    // The page: a redirect to it, then the page with its security headers.
    let anon = Client::new(&s);
    let r = anon.http.get(&anon.base).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "console/index.html");
    let r = anon
        .http
        .get(format!("{}/index.html", anon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    // No session: nothing.
    assert_eq!(anon.get("/orders?id=ORD-C-1").await.0, 401);
    assert_eq!(anon.get("/quarantine").await.0, 401);

    let viewer = Client::login(&s, "vera", "viewer").await;
    let operator = Client::login(&s, "otto", "operator").await;

    // Search: by id, by e-mail (index), by Cybersource transaction id (reference index), by
    // state and dates (index).
    let (code, found) = viewer.get("/orders?id=ORD-C-1").await;
    assert_eq!(
        (code, found[0]["id"].as_str()),
        (200, Some("ORD-C-1")),
        "{found}"
    );
    let email = s
        .record("ORD-C-1")
        .await
        .order
        .customer
        .email
        .as_str()
        .to_string();
    let (_, by_email) = operator
        .get(&format!("/orders?email={}", email.replace('+', "%2B")))
        .await;
    assert_eq!(by_email.as_array().map(Vec::len), Some(1), "{by_email}");
    assert_eq!(by_email[0]["email"], email.to_lowercase());
    let (_, masked) = viewer
        .get(&format!("/orders?email={}", email.replace('+', "%2B")))
        .await;
    assert_ne!(
        masked[0]["email"],
        email.to_lowercase(),
        "a viewer sees the e-mail masked"
    );
    let (_, captured) = viewer
        .get("/orders?state=Captured&from=2000-01-01&to=2100-01-01")
        .await;
    let ids: Vec<&str> = captured
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"ORD-C-1") && ids.contains(&"ORD-C-2"),
        "{captured}"
    );
    let (_, none) = viewer
        .get("/orders?state=Captured&from=2000-01-01&to=2000-01-02")
        .await;
    assert_eq!(none, json!([]));
    let (code, detail) = viewer.get("/orders/ORD-C-1").await;
    assert_eq!(code, 200);
    assert_eq!(detail["state"], "Captured");
    let txn = detail["ids"]["cybersource"]
        .as_str()
        .expect("a transaction id")
        .to_string();
    assert!(
        detail["timeline"].as_array().unwrap().len() >= 4,
        "{detail}"
    );
    assert!(
        !detail.to_string().contains(&email),
        "a viewer's order is masked"
    );
    println!("ids: {}", detail["ids"]);
    let (_, by_txn) = viewer.get(&format!("/orders?txn={txn}")).await;
    assert_eq!(by_txn[0]["id"], "ORD-C-1", "{by_txn}");

    // A quarantined event (a currency the contract cannot read).
    s.clarity_order("ORD-C-3", "buyer", "USD", json!({"emit": false}))
        .await;
    let mut order = s.admin_get("clarity", "orders/ORD-C-3").await["order"].clone();
    order["currency"] = json!("US$");
    let body = serde_json::to_vec(&json!({"id": "evt_c_3", "type": "order.created",
        "occurredAt": order["createdAt"], "payload": {"order": order}}))
    .unwrap();
    assert_eq!(
        s.deliver_clarity("evt_c_3", "order.created", body).await.0,
        202
    );
    let (_, listed) = viewer.get("/quarantine").await;
    assert_eq!(listed[0]["event_id"], "evt_c_3");
    assert!(listed[0].get("body").is_none());

    // Refused changes change nothing: a viewer (with its CSRF token), an operator without the
    // token, with another session's token, with a forged cookie.
    let patch = json!({"dry_run": false, "patch": [{"op": "replace", "path": "/payload/order/currency", "value": "USD"}]});
    let before = s.aws_snapshot().await;
    let (code, v) = replay(&viewer, &patch, true).await;
    assert_eq!((code, v["title"].as_str()), (403, Some("forbidden")), "{v}");
    let (code, v) = replay(&operator, &patch, false).await;
    assert_eq!((code, v["title"].as_str()), (403, Some("csrf")), "{v}");
    let mut crossed = Client::login(&s, "otto", "operator").await;
    crossed.csrf = viewer.csrf.clone();
    let (code, _) = replay(&crossed, &patch, true).await;
    assert_eq!(code, 403);
    let mut forged = Client::new(&s);
    let cookie = viewer.cookie.clone().unwrap();
    let (name, value) = cookie.split_once('=').unwrap();
    let (claims, sig) = value.split_once('.').unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut c: Value = serde_json::from_slice(&b64.decode(claims).unwrap()).unwrap();
    c["role"] = json!("operator");
    forged.cookie = Some(format!("{name}={}.{sig}", b64.encode(c.to_string())));
    forged.csrf = viewer.csrf.clone();
    let (code, _) = replay(&forged, &patch, true).await;
    assert_eq!(code, 401);
    let after = s.aws_snapshot().await;
    assert!(after.diff(&before).is_empty(), "{:#?}", after.diff(&before));

    // The operator's replay, audited.
    let (code, v) = replay(&operator, &patch, true).await;
    println!("operator replay: {code} {v}");
    assert_eq!(
        (code, v["outcome"].as_str(), v["status"].as_str()),
        (200, Some("replayed"), Some("accepted"))
    );
    s.drain().await;
    assert_eq!(s.state("ORD-C-3").await, o2c_domain::OrderState::Captured);
    let (_, audit) = viewer.get("/audit").await;
    assert_eq!(audit[0]["action"], "quarantine.replay");
    assert_eq!(audit[0]["target"], "evt_c_3");
    assert_eq!(audit[0]["who"], "otto");
    assert_eq!(audit[0]["after"]["outcome"], "replayed");
    // Signing out clears the cookie.
    let (code, _) = operator
        .send("POST", "/logout", Some(json!({})), true)
        .await;
    assert_eq!(code, 204);
}
