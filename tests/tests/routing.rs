//! Dynamic payment routing through the whole stack: two Cybersource merchant ids (routes) in the
//! simulator, a routing document in the table, orders in through Clarity's signed webhook.
//! A soft decline on the first route cascades to the second with exactly one approved
//! authorization — also when workers crash mid-cascade; hard declines and fraud rejects never
//! cascade.

mod common;

use common::{Options, Stack};
use o2c_domain::recipe::{Checkpoint, Checkpoints, StepFailure};
use o2c_domain::OrderState;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MID_A: &str = "o2c_local_sandbox";
const MID_B: &str = "o2c_local_b";

/// Route `a` (the stack's primary merchant) first, `b` second, in rule order.
fn document() -> String {
    json!({
        "version": 1,
        "routes": [
            {"name": "a", "merchant_id": MID_A, "secret": "primary"},
            {"name": "b", "merchant_id": MID_B, "secret": "b"}
        ],
        "rules": [{"name": "default", "routes": ["a", "b"]}],
        "optimisation": {"mode": "rules"}
    })
    .to_string()
}

async fn stack(checkpoints: Option<Arc<dyn Checkpoints>>) -> Stack {
    let s = Stack::start(Options {
        // With crashes: a failed message comes back after a second, when the crashed worker's
        // one-second lease has run out and the next worker may take over.
        retry_delay: Duration::from_secs(u64::from(checkpoints.is_some())),
        lease: checkpoints.as_ref().map(|_| Duration::from_secs(1)),
        checkpoints,
        routing_document: Some(document()),
    })
    .await;
    // The `soft` buyer: ISSUER_UNAVAILABLE on every merchant but B.
    s.admin_send(
        reqwest::Method::PUT,
        "cybersource",
        "soft-decline-exempt",
        json!({"merchant_ids": [MID_B]}),
    )
    .await;
    s
}

/// The authorization rows of one order, as (merchant id, status).
fn authorizations(ledger: &[Value], order: &str) -> Vec<(String, String)> {
    ledger
        .iter()
        .filter(|r| {
            r["type"] == "authorization"
                && r["code"]
                    .as_str()
                    .is_some_and(|c| c.starts_with(&format!("{order}-")))
        })
        .map(|r| {
            (
                r["merchant_id"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn rows(ledger: &[Value], order: &str, kind: &str) -> Vec<Value> {
    ledger
        .iter()
        .filter(|r| {
            r["type"] == kind
                && r["code"]
                    .as_str()
                    .is_some_and(|c| c.starts_with(&format!("{order}-")))
        })
        .cloned()
        .collect()
}

async fn timeline(s: &Stack, id: &str) -> String {
    let r = s.record(id).await;
    r.timeline
        .iter()
        .map(|e| format!("{} ({})", e.what, e.why))
        .collect::<Vec<_>>()
        .join("\n  ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_soft_decline_cascades_to_the_second_route_with_one_approval() {
    let s = stack(None).await;
    s.clarity_order("ORD-SOFT", "soft", "USD", json!({})).await;
    s.drain().await;
    let ledger = s.ledger().await;
    let tl = timeline(&s, "ORD-SOFT").await;
    println!("ORD-SOFT:\n  {tl}");
    assert_eq!(s.state("ORD-SOFT").await, OrderState::Captured, "{tl}");
    assert_eq!(
        authorizations(&ledger, "ORD-SOFT"),
        vec![
            (MID_A.to_string(), "DECLINED".to_string()),
            (MID_B.to_string(), "AUTHORIZED".to_string())
        ]
    );
    let captures = rows(&ledger, "ORD-SOFT", "capture");
    assert_eq!(captures.len(), 1, "{captures:?}");
    assert_eq!(
        captures[0]["merchant_id"], MID_B,
        "captured on the approving route"
    );
    assert_eq!(s.clarity_status("ORD-SOFT").await, "payment_received");
    // Explained on the timeline: the cascade and both decisions.
    assert!(
        tl.contains("soft decline: cascading to the next eligible route"),
        "{tl}"
    );
    assert!(
        tl.contains("routing: route a: first eligible route in rule order"),
        "{tl}"
    );
    assert!(
        tl.contains("routing: route b: first eligible route in rule order"),
        "{tl}"
    );
    assert!(tl.contains("excluded: AlreadyTried"), "{tl}");
    let rec = s.record("ORD-SOFT").await;
    assert!(rec.effects.contains_key("authorize") && rec.effects.contains_key("authorize-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hard_declines_and_fraud_rejects_never_cascade() {
    let s = stack(None).await;
    s.clarity_order("ORD-HARD", "nsf", "USD", json!({})).await;
    s.clarity_order("ORD-FRAUD", "dmdecline", "USD", json!({}))
        .await;
    s.drain().await;
    let ledger = s.ledger().await;
    assert_eq!(s.state("ORD-HARD").await, OrderState::Declined);
    assert_eq!(
        authorizations(&ledger, "ORD-HARD"),
        vec![(MID_A.to_string(), "DECLINED".to_string())],
        "INSUFFICIENT_FUND is the card's answer: one attempt only"
    );
    assert_eq!(s.state("ORD-FRAUD").await, OrderState::Rejected);
    assert_eq!(authorizations(&ledger, "ORD-FRAUD").len(), 1);
    assert_eq!(s.clarity_status("ORD-HARD").await, "payment_failed");
}

/// Crash on the first effect of each attempt: after attempt 1's soft decline at route a and
/// after attempt 2's approval at route b, before either is recorded.
struct CrashAfterEachAttempt {
    hits: AtomicU32,
    crashes: AtomicU32,
}

impl Checkpoints for CrashAfterEachAttempt {
    fn reached(&self, step: &str, point: Checkpoint) -> Result<(), StepFailure> {
        if step != "authorize" || point != Checkpoint::AfterEffect {
            return Ok(());
        }
        // Hits 1 and 3 are the first runs of attempts 1 and 2; 2 and 4 their reconciled
        // re-runs after the lease expired.
        let n = self.hits.fetch_add(1, Ordering::SeqCst) + 1;
        if n == 1 || n == 3 {
            self.crashes.fetch_add(1, Ordering::SeqCst);
            return Err(StepFailure::RetryLater(format!(
                "injected crash after authorize effect (hit {n})"
            )));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_mid_cascade_never_yields_two_approvals() {
    let crashes = Arc::new(CrashAfterEachAttempt {
        hits: AtomicU32::new(0),
        crashes: AtomicU32::new(0),
    });
    let s = stack(Some(crashes.clone())).await;
    s.clarity_order("ORD-CRASH", "soft", "USD", json!({})).await;
    s.drain().await;
    let ledger = s.ledger().await;
    let tl = timeline(&s, "ORD-CRASH").await;
    println!("ORD-CRASH:\n  {tl}");
    assert_eq!(crashes.crashes.load(Ordering::SeqCst), 2);
    assert_eq!(s.state("ORD-CRASH").await, OrderState::Captured, "{tl}");
    let auths = authorizations(&ledger, "ORD-CRASH");
    let approved: Vec<_> = auths.iter().filter(|(_, st)| st == "AUTHORIZED").collect();
    assert_eq!(
        approved.len(),
        1,
        "exactly one approved authorization: {auths:?}"
    );
    assert_eq!(approved[0].0, MID_B);
    assert_eq!(
        auths.len(),
        2,
        "the reconciled attempts found their answers; nothing was sent twice: {auths:?}"
    );
    assert!(tl.contains("authorize.takeover"), "{tl}");
    assert!(tl.contains("reconciled after a worker died"), "{tl}");
    assert_eq!(rows(&ledger, "ORD-CRASH", "capture").len(), 1);
}
