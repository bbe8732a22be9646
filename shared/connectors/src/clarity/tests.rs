//! Client tests against a small in-test Clarity server (a real HTTP server on loopback) that
//! enforces the contract's rules itself: bearer tokens, `ETag`/`If-Match` versions, the no-op
//! status rule, and `Idempotency-Key` replay by body fingerprint (`CLARITY_ASSUMED.md` §4.7).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use o2c_domain::recipe::{FailureClass, StepError};
use rand::rngs::StdRng;
use rand::SeedableRng;
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::*;
use crate::clarity::dto::{
    ClarityStatus, Customer, InventoryLevelUpdate, OrderPatch, PaymentInfo, PaymentStatus,
    ShipmentCreate, ShipmentLine,
};
use o2c_domain::fakes::ManualClock;

use crate::http::oauth::{ClientAuth, TokenEndpoint};
use crate::http::retry::Retryable;
use crate::http::retry::Sleeper;
use crate::http::test_http::{Request, Response, TestServer, VirtualSleeper};

#[derive(Default)]
struct Sim {
    tokens: Vec<String>,
    revoked: Vec<String>,
    orders: HashMap<String, Value>,
    customers: HashMap<String, Value>,
    shipments: Vec<Value>,
    /// (method, path, key) → (fingerprint, status, body)
    idem: HashMap<(String, String, String), (String, u16, Value)>,
    /// Answer the next N API calls with 429 + this Retry-After.
    throttle: Option<(u32, String)>,
    /// Before the next PATCH, another writer moves the order to this status.
    race_to: Option<String>,
}

fn order(id: &str) -> Value {
    json!({
        "id": id, "orderNumber": "100001", "status": "pending_payment", "currency": "USD",
        "customer": {"id": "CUST-1", "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"},
        "billingAddress": {"firstName": "Ada", "lastName": "Lovelace", "line1": "1 Main St", "city": "Austin",
                           "region": "TX", "postalCode": "78701", "countryCode": "US"},
        "lineItems": [{"id": "L1", "sku": "SKU-1", "name": "Mug", "quantity": 2, "unitPrice": "12.50",
                       "discountTotal": "0.00", "taxTotal": "2.00", "lineTotal": "27.00"}],
        "totals": {"subtotal": "25.00", "discountTotal": "0.00", "shippingTotal": "0.00", "taxTotal": "2.00",
                   "grandTotal": "27.00"},
        "payment": {"processor": "cybersource", "status": "none"},
        "createdAt": "2024-06-01T12:00:00Z", "updatedAt": "2024-06-01T12:00:00Z", "version": 1
    })
}

fn with_etag(r: Response, version: &Value) -> Response {
    r.header("ETag", format!("\"{}\"", version.as_u64().unwrap()))
}

fn fingerprint(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn handle(sim: &Mutex<Sim>, r: &Request) -> Response {
    let mut s = sim.lock().unwrap();
    if r.path() == "/oauth/token" {
        let tok = format!("tok-{}", s.tokens.len() + 1);
        s.tokens.push(tok.clone());
        return Response::json(
            200,
            json!({"access_token": tok, "token_type": "Bearer", "expires_in": 3600}),
        );
    }
    let live = r
        .bearer()
        .is_some_and(|b| s.tokens.iter().any(|t| t == b) && !s.revoked.iter().any(|t| t == b));
    if !live {
        return Response::problem(401, "unauthorized", "invalid or expired token")
            .header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    }
    if let Some((n, after)) = s.throttle.clone() {
        s.throttle = (n > 1).then(|| (n - 1, after.clone()));
        return Response::problem(429, "rate_limited", "slow down").header("Retry-After", after);
    }
    // Idempotency-Key replay (`CLARITY_ASSUMED.md` §4.7), for every method that carries one.
    let key = r.header("idempotency-key").map(str::to_owned);
    let fp = fingerprint(&r.body);
    if let Some(k) = &key {
        let id = (r.method.clone(), r.path().to_owned(), k.clone());
        if let Some((f, status, body)) = s.idem.get(&id) {
            if *f != fp {
                return Response::problem(
                    422,
                    "idempotency_key_reuse",
                    "key used with another body",
                );
            }
            return Response::json(*status, body.clone()).header("Idempotent-Replayed", "true");
        }
    }
    let segs: Vec<&str> = r.path().trim_start_matches('/').split('/').collect();
    let (status, body, headers): (u16, Value, Vec<(String, String)>) = match (
        r.method.as_str(),
        segs.as_slice(),
    ) {
        ("GET", ["api", "v1", "orders", id]) => match s.orders.get(*id) {
            Some(o) => return with_etag(Response::json(200, o.clone()), &o["version"]),
            None => return Response::problem(404, "not_found", "no such order"),
        },
        ("PATCH", ["api", "v1", "orders", id]) => {
            let id = (*id).to_owned();
            if let Some(to) = s.race_to.take() {
                let o = s.orders.get_mut(&id).unwrap();
                o["status"] = json!(to);
                o["version"] = json!(o["version"].as_u64().unwrap() + 1);
            }
            let Some(o) = s.orders.get(&id).cloned() else {
                return Response::problem(404, "not_found", "no such order");
            };
            if let Some(m) = r.header("if-match") {
                if m != format!("\"{}\"", o["version"]) {
                    return Response::problem(412, "precondition_failed", "version mismatch");
                }
            }
            let patch = r.json();
            let mut new = o.clone();
            if let Some(st) = patch.get("status") {
                let allowed = matches!(
                    (o["status"].as_str().unwrap(), st.as_str().unwrap()),
                    (
                        "pending_payment",
                        "payment_received" | "payment_failed" | "on_hold" | "cancelled"
                    ) | (
                        "on_hold",
                        "payment_received" | "payment_failed" | "cancelled" | "pending_payment"
                    ) | ("payment_received", "processing" | "on_hold" | "cancelled")
                );
                if o["status"] != *st && !allowed {
                    return Response::problem(409, "invalid_status_transition", "not allowed");
                }
                new["status"] = st.clone();
            }
            if let Some(p) = patch.get("payment").and_then(Value::as_object) {
                for (k, v) in p {
                    new["payment"][k] = v.clone();
                }
            }
            if new != o {
                new["version"] = json!(o["version"].as_u64().unwrap() + 1);
                s.orders.insert(id, new.clone());
            }
            let etag = format!("\"{}\"", new["version"]);
            (200, new, vec![("ETag".into(), etag)])
        }
        ("PUT", ["api", "v1", "customers", id]) => {
            let mut c = r.json();
            let created = !s.customers.contains_key(*id);
            let version = s
                .customers
                .get(*id)
                .map_or(1, |c| c["version"].as_u64().unwrap() + 1);
            c["version"] = json!(version);
            c["createdAt"] = json!("2024-06-01T12:00:00Z");
            c["updatedAt"] = json!("2024-06-01T12:00:00Z");
            s.customers.insert((*id).to_owned(), c.clone());
            (
                if created { 201 } else { 200 },
                c,
                vec![("ETag".into(), format!("\"{version}\""))],
            )
        }
        ("POST", ["api", "v1", "orders", id, "shipments"]) => {
            if key.is_none() {
                return Response::problem(400, "validation_failed", "Idempotency-Key required");
            }
            let n = s.shipments.len() + 1;
            let mut sh = r.json();
            sh["id"] = json!(format!("SHP-{n}"));
            sh["orderId"] = json!(id);
            sh["createdAt"] = json!("2024-06-03T08:00:00Z");
            s.shipments.push(sh.clone());
            let loc = format!("/api/v1/orders/{id}/shipments/SHP-{n}");
            (201, sh, vec![("Location".into(), loc)])
        }
        ("PUT", ["api", "v1", "inventory", sku, "locations", loc]) => {
            let b = r.json();
            let level = json!({"sku": sku, "locationId": loc, "quantityOnHand": b["quantityOnHand"],
                               "quantityAvailable": b.get("quantityAvailable").cloned().unwrap_or(b["quantityOnHand"].clone()),
                               "updatedAt": "2024-06-03T08:00:00Z", "version": 1});
            (201, level, vec![])
        }
        _ => return Response::problem(404, "not_found", "no route"),
    };
    if let Some(k) = key {
        s.idem.insert(
            (r.method.clone(), r.path().to_owned(), k),
            (fp, status, body.clone()),
        );
    }
    let mut resp = Response::json(status, body);
    resp.headers.extend(headers);
    resp
}

struct Fixture {
    server: TestServer,
    sim: Arc<Mutex<Sim>>,
    sleeper: Arc<VirtualSleeper>,
    client: ClarityClient,
}

async fn fixture() -> Fixture {
    let sim = Arc::new(Mutex::new(Sim::default()));
    sim.lock()
        .unwrap()
        .orders
        .insert("ORD-1".into(), order("ORD-1"));
    let s = sim.clone();
    let server = TestServer::start(move |r: &Request| handle(&s, r)).await;
    let sleeper = VirtualSleeper::new();
    let config = ClarityConfig {
        base_url: server.url(),
        token: TokenEndpoint::new(
            format!("{}/oauth/token", server.url()),
            ClientAuth::SecretBasic {
                client_id: "o2c".into(),
                client_secret: SecretString::from("secret"),
            },
        ),
        retry: retry_policy(),
        request_timeout: Duration::from_secs(5),
    };
    let client = ClarityClient::with_parts(
        config,
        crate::http::rest::ClientParts {
            http: reqwest::Client::new(),
            clock: Arc::new(ManualClock::at_unix(1_717_243_200)),
            sleeper: sleeper.clone(),
            rng: StdRng::seed_from_u64(9),
        },
    );
    Fixture {
        server,
        sim,
        sleeper,
        client,
    }
}

fn status_patch(status: ClarityStatus) -> OrderPatch {
    OrderPatch {
        status: Some(status),
        ..OrderPatch::default()
    }
}

#[tokio::test]
async fn if_match_conflict_is_a_typed_error() {
    let f = fixture().await;
    let o = f.client.get_order("ORD-1").await.unwrap();
    assert_eq!(o.version, 1);
    assert_eq!(o.value.status, ClarityStatus::PendingPayment);

    let v2 = f
        .client
        .patch_order("ORD-1", &status_patch(ClarityStatus::OnHold), Some(1), None)
        .await
        .unwrap();
    assert_eq!((v2.version, v2.value.status), (2, ClarityStatus::OnHold));
    let sent = f
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(sent.header("if-match"), Some("\"1\""));
    assert_eq!(sent.json(), json!({"status": "on_hold"}));

    // A stale version → 412 → VersionConflict, not retried.
    let err = f
        .client
        .patch_order(
            "ORD-1",
            &status_patch(ClarityStatus::PaymentReceived),
            Some(1),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert!(matches!(err, ClarityError::VersionConflict { .. }));
    assert_eq!(f.server.count("PATCH", "/api/v1/orders"), 2);
    assert!(matches!(
        StepError::from(err),
        StepError::Retryable {
            effect_may_have_happened: false,
            ..
        }
    ));

    // An illegal transition is terminal.
    let err = f
        .client
        .patch_order("ORD-1", &status_patch(ClarityStatus::Shipped), None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.problem_code(),
        Some(ProblemCode::InvalidStatusTransition)
    );
    assert_eq!(err.failure_class(), Some(FailureClass::IllegalTransition));

    // An empty patch never leaves the client.
    let err = f
        .client
        .patch_order("ORD-1", &OrderPatch::default(), None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ClarityError::InvalidRequest { .. }));
    assert_eq!(f.server.count("PATCH", "/api/v1/orders"), 3);
}

#[tokio::test]
async fn set_status_applies_once_skips_a_no_op_and_heals_a_race() {
    let f = fixture().await;
    let payment = PaymentInfo {
        status: Some(PaymentStatus::Captured),
        amount: Some("27.00".into()),
        currency: Some("USD".into()),
        transaction_id: Some("7000000000000000001".into()),
        ..PaymentInfo::default()
    };
    let r = f
        .client
        .set_status(
            "ORD-1",
            ClarityStatus::PaymentReceived,
            Some("captured"),
            Some(&payment),
        )
        .await
        .unwrap();
    assert!(matches!(&r, StatusUpdate::Applied(o) if o.version == 2));
    let patch = f
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(patch.header("if-match"), Some("\"1\""));
    assert_eq!(
        patch.header("idempotency-key"),
        Some("o2c:status:ORD-1:v1:payment_received")
    );
    assert_eq!(
        r.order()
            .value
            .payment
            .as_ref()
            .unwrap()
            .transaction_id
            .as_deref(),
        Some("7000000000000000001")
    );

    // Again: already there → nothing is sent.
    let r = f
        .client
        .set_status(
            "ORD-1",
            ClarityStatus::PaymentReceived,
            Some("captured"),
            Some(&payment),
        )
        .await
        .unwrap();
    assert!(matches!(r, StatusUpdate::Unchanged(_)));
    assert_eq!(f.server.count("PATCH", "/api/v1/orders"), 1);

    // Another writer gets there first: our PATCH meets 412, the re-read shows the status.
    f.sim.lock().unwrap().race_to = Some("processing".into());
    let r = f
        .client
        .set_status("ORD-1", ClarityStatus::Processing, None, None)
        .await
        .unwrap();
    assert!(
        matches!(&r, StatusUpdate::AlreadyApplied(o) if o.value.status == ClarityStatus::Processing)
    );

    // A race to another status stays a conflict.
    f.sim.lock().unwrap().race_to = Some("on_hold".into());
    let e = f
        .client
        .set_status("ORD-1", ClarityStatus::Cancelled, None, None)
        .await
        .unwrap_err();
    assert!(e.is_conflict());
}

#[tokio::test]
async fn shipment_replay_with_the_same_key_creates_one_shipment() {
    let f = fixture().await;
    let shipment = ShipmentCreate {
        carrier: "UPS".into(),
        service: Some("Ground".into()),
        tracking_number: "1Z999AA10123456784".into(),
        tracking_url: None,
        shipped_at: "2024-06-03T08:00:00Z".into(),
        lines: vec![ShipmentLine {
            line_item_id: "L1".into(),
            quantity: 2,
        }],
    };
    let key = "ship:ORD-1:1Z999AA10123456784";
    let first = f
        .client
        .create_shipment("ORD-1", &shipment, key)
        .await
        .unwrap();
    assert!(!first.replayed);
    assert_eq!(first.shipment.id, "SHP-1");
    assert_eq!(
        first.location.as_deref(),
        Some("/api/v1/orders/ORD-1/shipments/SHP-1")
    );
    let second = f
        .client
        .create_shipment("ORD-1", &shipment, key)
        .await
        .unwrap();
    assert!(second.replayed);
    assert_eq!(second.shipment, first.shipment);
    assert_eq!(
        f.sim.lock().unwrap().shipments.len(),
        1,
        "one shipment on the server"
    );
    for r in f
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path().contains("shipments"))
    {
        assert_eq!(r.header("idempotency-key"), Some(key));
    }

    // The same key with another body → 422 idempotency_key_reuse, terminal.
    let mut other = shipment.clone();
    other.lines[0].quantity = 1;
    let e = f
        .client
        .create_shipment("ORD-1", &other, key)
        .await
        .unwrap_err();
    assert_eq!(e.problem_code(), Some(ProblemCode::IdempotencyKeyReuse));
    assert_eq!(e.failure_class(), Some(FailureClass::Validation));

    // An unusable key never leaves the client.
    let e = f
        .client
        .create_shipment("ORD-1", &shipment, "")
        .await
        .unwrap_err();
    assert!(matches!(e, ClarityError::InvalidRequest { .. }));
    let e = f
        .client
        .create_shipment("ORD-1", &shipment, "has space")
        .await
        .unwrap_err();
    assert!(matches!(e, ClarityError::InvalidRequest { .. }));
    assert_eq!(f.sim.lock().unwrap().shipments.len(), 1);
}

#[tokio::test]
async fn throttling_is_retried_honouring_retry_after() {
    let f = fixture().await;
    f.sim.lock().unwrap().throttle = Some((2, "2".into()));
    let o = f.client.get_order("ORD-1").await.unwrap();
    assert_eq!(o.value.id, "ORD-1");
    assert_eq!(f.server.count("GET", "/api/v1/orders/ORD-1"), 3);
    // Each retry waited the policy's jitter and then the full Retry-After.
    let sleeps = f.sleeper.sleeps();
    assert_eq!(
        sleeps
            .iter()
            .filter(|d| **d == Duration::from_secs(2))
            .count(),
        2,
        "{sleeps:?}"
    );
    for (n, d) in sleeps
        .iter()
        .filter(|d| **d != Duration::from_secs(2))
        .enumerate()
    {
        assert!(*d <= retry_policy().ceiling(n as u32), "{sleeps:?}");
    }

    // Throttled on every attempt: 5 attempts, then the typed error.
    f.sim.lock().unwrap().throttle = Some((100, "1".into()));
    let e = f.client.get_order("ORD-1").await.unwrap_err();
    assert!(
        matches!(e, ClarityError::Throttled { status: 429, retry_after: Some(d), .. } if d == Duration::from_secs(1))
    );
    assert_eq!(f.server.count("GET", "/api/v1/orders/ORD-1"), 3 + 5);

    // A Retry-After beyond the policy's cap (30 s) is not waited for in-process.
    f.sim.lock().unwrap().throttle = Some((100, "120".into()));
    let e = f.client.get_order("ORD-1").await.unwrap_err();
    assert!(matches!(e, ClarityError::Throttled { .. }));
    assert_eq!(f.server.count("GET", "/api/v1/orders/ORD-1"), 3 + 5 + 1);
    f.sim.lock().unwrap().throttle = None;

    // Nor past the deadline.
    f.sim.lock().unwrap().throttle = Some((100, "10".into()));
    let bounded = f
        .client
        .with_deadline(f.sleeper.now() + Duration::from_secs(5));
    bounded.get_order("ORD-1").await.unwrap_err();
    assert_eq!(f.server.count("GET", "/api/v1/orders/ORD-1"), 3 + 5 + 1 + 1);
}

#[tokio::test]
async fn other_4xx_are_not_retried_and_a_revoked_token_is_refreshed_once() {
    let f = fixture().await;
    let e = f.client.get_order("NOPE").await.unwrap_err();
    assert_eq!(e.failure_class(), Some(FailureClass::NotFound));
    assert_eq!(f.server.count("GET", "/api/v1/orders/NOPE"), 1);

    // The server revokes our token: one refresh, one retry, success.
    f.sim.lock().unwrap().revoked.push("tok-1".into());
    f.client.get_order("ORD-1").await.unwrap();
    assert_eq!(f.server.count("POST", "/oauth/token"), 2);
    let bearers: Vec<_> = f
        .server
        .requests()
        .iter()
        .filter(|r| r.path() == "/api/v1/orders/ORD-1")
        .map(|r| r.bearer().unwrap().to_owned())
        .collect();
    assert_eq!(bearers, ["tok-1", "tok-2"]);
}

#[tokio::test]
async fn customer_upsert_and_inventory_level() {
    let f = fixture().await;
    let c = Customer {
        id: "CUST-1".into(),
        email: "zoë@example.com".into(),
        first_name: "Zoë".into(),
        last_name: "Ñandú".into(),
        company: None,
        phone: None,
        billing_address: None,
        shipping_address: None,
        external_ids: None,
        created_at: None,
        updated_at: None,
        version: None,
    };
    let first = f.client.put_customer(&c, None).await.unwrap();
    assert!(first.created);
    assert_eq!(first.version, Some(1));
    let second = f.client.put_customer(&c, Some(1)).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.customer.first_name, "Zoë");
    let put = f
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .nth(1)
        .unwrap();
    assert_eq!(put.header("if-match"), Some("\"1\""));
    assert!(
        put.json().get("version").is_none(),
        "read-only fields are not sent"
    );

    let level = f
        .client
        .put_inventory(
            "SKU 1/ä",
            "WH-1",
            &InventoryLevelUpdate {
                quantity_on_hand: 7,
                quantity_available: Some(5),
            },
        )
        .await
        .unwrap();
    assert_eq!((level.quantity_on_hand, level.quantity_available), (7, 5));
    let put = f
        .server
        .requests()
        .into_iter()
        .rfind(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(
        put.path(),
        "/api/v1/inventory/SKU%201%2F%C3%A4/locations/WH-1"
    );
}

/// Issue 12/5: a Clarity body holding a card number (here `\u`-free but glued to letters and
/// with zero-width joiners) is refused before anything is sent.
#[tokio::test]
async fn a_body_holding_a_card_number_is_never_sent() {
    let f = fixture().await;
    let c = Customer {
        id: "CUST-1".into(),
        email: "zoe@example.com".into(),
        first_name: "Zoë".into(),
        last_name: "card4111\u{200d}1111\u{200d}1111\u{200d}1111".into(),
        company: None,
        phone: None,
        billing_address: None,
        shipping_address: None,
        external_ids: None,
        created_at: None,
        updated_at: None,
        version: None,
    };
    let e = f.client.put_customer(&c, None).await.unwrap_err();
    assert!(matches!(e, ClarityError::InvalidRequest { .. }), "{e}");
    assert!(!e.is_retryable());
    assert_eq!(e.failure_class(), Some(FailureClass::Validation));
    assert!(e.to_string().contains("$.lastName"), "{e}");
    assert!(!e.to_string().contains("1111"), "{e}");
    assert!(f.server.requests().is_empty(), "nothing was sent");
}
