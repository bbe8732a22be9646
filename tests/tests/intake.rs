//! Issue 12, item 2: only payable Clarity statuses start a payment. An `order.created` whose
//! order is already `cancelled` (or `completed`) is recorded and acknowledged, never authorized —
//! and a redelivery of the same event does not queue an authorization either.
//!
//!     cargo test -p o2c-e2e --test intake -- --nocapture

mod common;

use common::{ledger_counts, Options, Stack};
use o2c_domain::OrderState;
use serde_json::{json, Value};
use std::time::Duration;

/// Send a signed `order.created` (a fresh timestamp and signature each time, as Clarity does
/// on a redelivery); answers the status and the body.
async fn deliver(s: &Stack, event_id: &str, order: &Value) -> (u16, Value) {
    let body = serde_json::to_vec(&json!({
        "id": event_id,
        "type": "order.created",
        "occurredAt": order["createdAt"],
        "payload": {"order": order},
    }))
    .unwrap();
    s.deliver_clarity(event_id, "order.created", body).await
}

async fn clarity_doc(s: &Stack, id: &str, status: &str) -> Value {
    s.clarity_order(id, "buyer", "USD", json!({"status": status, "emit": false}))
        .await;
    let v = s.admin_get("clarity", &format!("orders/{id}")).await;
    assert_eq!(v["order"]["status"], status, "{v}");
    v["order"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_created_that_is_not_payable_is_recorded_and_never_charged() {
    let s = Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await;

    // A payable control order goes the whole way.
    let payable = clarity_doc(&s, "ORD-INTAKE-PAY", "pending_payment").await;
    let (code, body) = deliver(&s, "evt_intake_pay", &payable).await;
    assert_eq!((code, body["status"].as_str()), (202, Some("accepted")));

    let cases = [
        ("ORD-INTAKE-CANCELLED", "cancelled"),
        ("ORD-INTAKE-COMPLETED", "completed"),
    ];
    let mut answers = Vec::new();
    for (id, status) in cases {
        let doc = clarity_doc(&s, id, status).await;
        let first = deliver(&s, &format!("evt_{id}"), &doc).await;
        answers.push((id, status, doc, first));
    }
    s.drain().await;
    // Redeliveries of the same events while the orders are still `Received` (the path that heals
    // a lost enqueue for payable orders).
    let mut redeliveries = Vec::new();
    for (id, _, doc, _) in &answers {
        redeliveries.push(deliver(&s, &format!("evt_{id}"), doc).await);
    }
    s.drain().await;

    let ledger = s.ledger().await;
    assert_eq!(s.state("ORD-INTAKE-PAY").await, OrderState::Captured);
    assert_eq!(
        ledger_counts(&ledger, "ORD-INTAKE-PAY").get("authorization"),
        Some(&1),
        "control order authorized once: {:?}",
        ledger_counts(&ledger, "ORD-INTAKE-PAY")
    );
    for ((id, status, _, (code, body)), (again, again_body)) in answers.iter().zip(&redeliveries) {
        println!("{id} ({status}): first {code} {body}, redelivery {again} {again_body}");
        let counts = ledger_counts(&ledger, id);
        assert!(
            counts.is_empty(),
            "{id} (Clarity status {status}) reached Cybersource: {counts:?}"
        );
        let r = s.record(id).await;
        for e in &r.timeline {
            println!("  {} {:<20} {}", e.at, e.what, e.why);
        }
        // Recorded, never paid; one already cancelled closes as `Voided` (nothing held) through
        // the same cancellation path as an `order.cancelled`.
        let want = if *status == "cancelled" {
            OrderState::Voided
        } else {
            OrderState::Received
        };
        assert_eq!(r.state, want, "{id} recorded, not paid");
        assert_eq!(r.cancel.is_some(), *status == "cancelled", "{id}");
        assert!(
            r.effects.is_empty(),
            "{id}: no payment effect: {:?}",
            r.effects
        );
        assert!(
            (200..300).contains(code) && (200..300).contains(again),
            "{id}: acknowledged ({code}, then {again})"
        );
        assert_eq!(body["status"], "not_payable", "{id}: {body}");
        assert_eq!(again_body["status"], "not_payable", "{id}: {again_body}");
        let np: Vec<_> = r
            .timeline
            .iter()
            .filter(|e| e.what == "order.not_payable")
            .collect();
        assert_eq!(np.len(), 1, "{id}: one order.not_payable entry");
        assert!(
            np[0].why.contains(status) && np[0].why.contains("no payment"),
            "{id}: {}",
            np[0].why
        );
    }
    assert!(
        s.dlq(o2c_domain::ports::QueueName::Orders).await.is_empty(),
        "nothing dead-lettered on the orders queue"
    );
}
