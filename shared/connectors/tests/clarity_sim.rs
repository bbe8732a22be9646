//! The Clarity client against the local Clarity simulator
//! (`infra/local/simulators/clarity.py`, see infra/README.md "Clarity, NetSuite and Salesforce
//! simulators"): OAuth token lifecycle, `If-Match` conflicts, the no-op status rule, shipment
//! replay by `Idempotency-Key` (also after a lost answer), `Retry-After`, E6 inventory, and the
//! Clarity → canonical mapping of what the simulator serves.
//!
//! Each test starts its own simulator on a free port (`--port 0`) with the credentials of
//! `infra/local/secrets.local.json`. The interpreter is `$PYTHON`, else
//! `<repo>/infra/.venv/bin/python`; a missing interpreter fails the test (it is part of the dev
//! setup, `infra/bootstrap.sh`), it never skips it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use o2c_connectors::clarity::dto::{
    ClarityStatus, InventoryLevelUpdate, OrderPatch, PaymentInfo, PaymentStatus, ShipmentCreate,
    ShipmentLine,
};
use o2c_connectors::clarity::{
    ClarityApi, ClarityClient, ClarityCredentials, ClarityError, ProblemCode, StatusUpdate,
};
use o2c_connectors::mapping::clarity::order_to_canonical;
use o2c_domain::recipe::StepError;
use o2c_domain::{Currency, Money};
use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let py = match std::env::var_os("PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_root().join("infra/.venv/bin/python"),
    };
    assert!(
        py.exists() || py.components().count() == 1,
        "python interpreter {} not found: run infra/bootstrap.sh or set PYTHON",
        py.display()
    );
    py
}

/// A running Clarity simulator; killed (by its pid) when dropped.
struct Sim {
    child: Child,
    base_url: String,
    admin: reqwest::Client,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    fn start() -> Sim {
        let root = repo_root();
        let mut child = Command::new(python())
            .arg(root.join("infra/local/simulators/clarity.py"))
            .args(["--port", "0", "--quiet", "--secrets-file"])
            .arg(root.join("infra/local/secrets.local.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the Clarity simulator: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("the Clarity simulator did not report its address within 30 s");
            }
        };
        let Some(base_url) = line.trim().strip_prefix("clarity-sim listening on ") else {
            let _ = child.kill();
            panic!("unexpected simulator banner {line:?}");
        };
        Sim {
            base_url: base_url.to_owned(),
            child,
            admin: reqwest::Client::new(),
        }
    }

    fn credentials(&self) -> ClarityCredentials {
        let text = std::fs::read_to_string(repo_root().join("infra/local/secrets.local.json"))
            .expect("secrets.local.json");
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        let mut secret = doc["ClaritySecret"].take();
        secret["base_url"] = json!(self.base_url);
        secret["token_url"] = json!(format!("{}/oauth/token", self.base_url));
        ClarityCredentials::from_json(&secret.to_string()).unwrap()
    }

    fn client(&self) -> ClarityClient {
        ClarityClient::from_credentials(&self.credentials())
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self
            .admin
            .request(method, format!("{}{path}", self.base_url));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "admin {path}: {status} {v}");
        v
    }
}

const TOKEN: &str = "eyJraWQiOiJ0ZXN0In0.eyJqdGkiOiJpdC0xIn0.c2lnbmF0dXJl";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_if_match_and_shipment_replay_against_the_simulator() {
    let sim = Sim::start();
    sim.admin(
        reqwest::Method::POST,
        "/__admin/orders",
        Some(
            json!({"id": "ORD-IT-1", "emit": false, "shippingTotal": "4.99",
                    "customer": {"firstName": "Zoë", "lastName": "Ñandú"},
                    "payment": {"instrumentToken": TOKEN}}),
        ),
    )
    .await;
    let client = sim.client();

    // Token: fetched once, then cached.
    let o = client.get_order("ORD-IT-1").await.unwrap();
    assert_eq!(
        (o.version, o.value.status),
        (1, ClarityStatus::PendingPayment)
    );
    client.get_order("ORD-IT-1").await.unwrap();
    assert_eq!(client.tokens().fetch_count(), 1);

    // What the simulator serves maps onto the canonical model exactly.
    let canonical = order_to_canonical(&o.value).unwrap();
    assert_eq!(canonical.currency(), Currency::USD);
    assert_eq!(
        canonical.total,
        Money::from_minor(2 * 1250 + 200 + 499, Currency::USD)
    );
    assert_eq!(canonical.ship_to, None, "shipping = billing");
    assert_eq!(canonical.customer.first_name, "Zoë");
    canonical.validate_amounts().unwrap();

    // If-Match: the current version applies, the stale one is a typed conflict.
    let hold = OrderPatch {
        status: Some(ClarityStatus::OnHold),
        status_reason: Some("Decision Manager review".into()),
        ..OrderPatch::default()
    };
    let v2 = client
        .patch_order("ORD-IT-1", &hold, Some(1), None)
        .await
        .unwrap();
    assert_eq!((v2.version, v2.value.status), (2, ClarityStatus::OnHold));
    let stale = OrderPatch {
        status: Some(ClarityStatus::PaymentReceived),
        ..OrderPatch::default()
    };
    let e = client
        .patch_order("ORD-IT-1", &stale, Some(1), None)
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e}");
    assert!(matches!(e, ClarityError::VersionConflict { .. }));
    assert!(matches!(StepError::from(e), StepError::Retryable { .. }));

    // The status rule: set_status applies once, then is a no-op that sends nothing.
    let payment = PaymentInfo {
        status: Some(PaymentStatus::Captured),
        amount: Some(canonical.total.to_decimal_string()),
        currency: Some("USD".into()),
        transaction_id: Some("7000000000000000001".into()),
        ..PaymentInfo::default()
    };
    let r = client
        .set_status(
            "ORD-IT-1",
            ClarityStatus::PaymentReceived,
            Some("captured"),
            Some(&payment),
        )
        .await
        .unwrap();
    assert!(
        matches!(&r, StatusUpdate::Applied(o) if o.version == 3),
        "{r:?}"
    );
    let r = client
        .set_status(
            "ORD-IT-1",
            ClarityStatus::PaymentReceived,
            Some("captured"),
            Some(&payment),
        )
        .await
        .unwrap();
    assert!(matches!(r, StatusUpdate::Unchanged(_)), "{r:?}");
    // An illegal transition is terminal.
    let e = client
        .set_status("ORD-IT-1", ClarityStatus::Completed, None, None)
        .await
        .unwrap_err();
    assert_eq!(e.problem_code(), Some(ProblemCode::InvalidStatusTransition));

    // Token expiry on the server: one refresh, one retry.
    sim.admin(
        reqwest::Method::POST,
        "/__admin/tokens/expire",
        Some(json!({})),
    )
    .await;
    client.get_order("ORD-IT-1").await.unwrap();
    assert_eq!(client.tokens().fetch_count(), 2);

    // Shipment replay: the same Idempotency-Key twice → one shipment.
    let line_id = o.value.line_items[0].id.clone();
    let shipment = ShipmentCreate {
        carrier: "UPS".into(),
        service: Some("Ground".into()),
        tracking_number: "1Z999AA10123456784".into(),
        tracking_url: None,
        shipped_at: "2024-06-03T08:00:00Z".into(),
        lines: vec![ShipmentLine {
            line_item_id: line_id.clone(),
            quantity: 1,
        }],
    };
    let key = "ship:ORD-IT-1:1Z999AA10123456784";
    let first = client
        .create_shipment("ORD-IT-1", &shipment, key)
        .await
        .unwrap();
    assert!(!first.replayed);
    let again = client
        .create_shipment("ORD-IT-1", &shipment, key)
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.shipment.id, first.shipment.id);
    let state = sim
        .admin(reqwest::Method::GET, "/__admin/orders/ORD-IT-1", None)
        .await;
    assert_eq!(state["shipments"].as_array().unwrap().len(), 1, "{state}");

    // A lost answer (effect applied, 502 back): the retry with the same key replays it.
    sim.admin(
        reqwest::Method::POST,
        "/__admin/faults",
        Some(json!({"route": "create_shipment", "lost_response_rate": 1, "lost_mode": "502", "times": 1})),
    )
    .await;
    let second = ShipmentCreate {
        tracking_number: "1Z999AA10123456785".into(),
        ..shipment.clone()
    };
    let key2 = "ship:ORD-IT-1:1Z999AA10123456785";
    let e = client
        .create_shipment("ORD-IT-1", &second, key2)
        .await
        .unwrap_err();
    assert!(
        matches!(
            StepError::from(e.clone()),
            StepError::Retryable {
                effect_may_have_happened: true,
                ..
            }
        ),
        "{e}"
    );
    let healed = client
        .create_shipment("ORD-IT-1", &second, key2)
        .await
        .unwrap();
    assert!(healed.replayed);
    let state = sim
        .admin(reqwest::Method::GET, "/__admin/orders/ORD-IT-1", None)
        .await;
    assert_eq!(state["shipments"].as_array().unwrap().len(), 2, "{state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_inventory_against_the_simulator() {
    let sim = Sim::start();
    sim.admin(
        reqwest::Method::POST,
        "/__admin/orders",
        Some(json!({"id": "ORD-IT-2", "emit": false, "payment": {"instrumentToken": TOKEN}})),
    )
    .await;
    let client = sim.client();
    // Two 429s with Retry-After: 1, then success (CLARITY_ASSUMED.md §4.8).
    sim.admin(
        reqwest::Method::POST,
        "/__admin/faults",
        Some(json!({"route": "get_order", "error_rate": 1, "status": 429, "retry_after_s": 1, "times": 2})),
    )
    .await;
    let started = std::time::Instant::now();
    client.get_order("ORD-IT-2").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After honoured"
    );
    let faults = sim
        .admin(reqwest::Method::GET, "/__admin/faults", None)
        .await;
    assert!(faults.to_string().contains("429"), "{faults}");

    // E6 inventory (ASSUMED): absolute levels, created then replaced.
    let level = client
        .put_inventory(
            "SKU-MUG-RED",
            "WH-1",
            &InventoryLevelUpdate {
                quantity_on_hand: 12,
                quantity_available: Some(9),
            },
        )
        .await
        .unwrap();
    assert_eq!((level.quantity_on_hand, level.quantity_available), (12, 9));
    let level = client
        .put_inventory(
            "SKU-MUG-RED",
            "WH-1",
            &InventoryLevelUpdate {
                quantity_on_hand: 11,
                quantity_available: None,
            },
        )
        .await
        .unwrap();
    assert_eq!((level.quantity_on_hand, level.quantity_available), (11, 11));
}
