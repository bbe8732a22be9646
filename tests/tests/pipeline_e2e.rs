//! End-to-end scenarios through the whole integration (moto + the four simulators + every
//! handler behind the bridge): a signed Clarity `order.created` webhook in, Cybersource,
//! Clarity, NetSuite and Salesforce in step at the end.

mod common;

use common::{ledger_counts, Options, Stack};
use o2c_domain::OrderState;
use serde_json::json;
use std::time::Duration;

async fn stack() -> Stack {
    Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accept_review_reject_decline_and_jpy() {
    let s = stack().await;
    s.clarity_order("ORD-ACC", "buyer", "USD", json!({})).await;
    s.clarity_order("ORD-REV", "review", "USD", json!({})).await;
    s.clarity_order("ORD-REJ", "reject", "USD", json!({})).await;
    s.clarity_order("ORD-DEC", "decline", "USD", json!({}))
        .await;
    s.clarity_order(
        "ORD-JPY",
        "buyer",
        "JPY",
        json!({"lineItems": [{"sku": "SKU-TEA", "name": "抹茶", "quantity": 3, "unitPrice": "1500"}]}),
    )
    .await;
    let stats = s.drain().await;
    println!("bridge: {stats:?}");

    let expect = [
        ("ORD-ACC", OrderState::Captured, "payment_received"),
        ("ORD-REV", OrderState::PendingReview, "on_hold"),
        ("ORD-REJ", OrderState::Voided, "cancelled"),
        ("ORD-DEC", OrderState::Declined, "payment_failed"),
        ("ORD-JPY", OrderState::Captured, "payment_received"),
    ];
    let ledger = s.ledger().await;
    for (id, state, clarity) in expect {
        let r = s.record(id).await;
        let timeline: Vec<_> = r
            .timeline
            .iter()
            .map(|e| format!("{} ({})", e.what, e.why))
            .collect();
        println!("{id}: {} — {}", r.state, timeline.join(" → "));
        assert_eq!(r.state, state, "{id}");
        assert_eq!(s.clarity_status(id).await, clarity, "{id} in Clarity");
        let counts = ledger_counts(&ledger, id);
        let captures = counts.get("capture").copied().unwrap_or(0);
        let auths = counts.get("authorization").copied().unwrap_or(0);
        assert_eq!(auths, 1, "{id}: one authorization, {counts:?}");
        assert_eq!(
            captures,
            usize::from(state == OrderState::Captured),
            "{id}: {counts:?}"
        );
    }
    // The fraud-rejected authorization was reversed.
    assert_eq!(ledger_counts(&ledger, "ORD-REJ").get("reversal"), Some(&1));
    // The JPY amount went out exactly (4500 yen, no fraction).
    let jpy = s.record("ORD-JPY").await;
    assert_eq!(
        jpy.order.payment.unwrap().captured.to_decimal_string(),
        "4500"
    );

    // ERP: one customer per buyer, one sales order per authorized order, one deposit per capture.
    let erp = s.admin_get("netsuite", "records").await;
    println!(
        "netsuite: {}",
        serde_json::to_string(&erp)
            .unwrap()
            .chars()
            .take(400)
            .collect::<String>()
    );
    // CRM: a fraud case for the rejected order.
    let cases = s.admin_get("salesforce", "cases").await;
    println!(
        "salesforce: {}",
        serde_json::to_string(&cases)
            .unwrap()
            .chars()
            .take(300)
            .collect::<String>()
    );
    let acc = s.record("ORD-ACC").await;
    assert!(
        acc.order.external.erp.is_some(),
        "sales order linked: {:?}",
        acc.order.external
    );
    assert!(acc.order.customer.external.erp.is_some());
    assert!(
        acc.order.customer.external.cybersource.is_some(),
        "TMS customer linked"
    );
    let rej = s.record("ORD-REJ").await;
    assert!(
        rej.order.external.crm.is_some(),
        "fraud case linked: {:?}",
        rej.order.external
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_webhooks_change_nothing() {
    let s = stack().await;
    let created = s
        .admin(
            "clarity",
            "orders",
            json!({"id": "ORD-DUP", "repeat": 3, "sync": true,
                   "payment": {"instrumentToken": s.transient_token().await}}),
        )
        .await;
    let answers: Vec<u64> = created["webhook"]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["attempts"][0]["status"].as_u64().unwrap())
        .collect();
    assert_eq!(
        answers,
        [202, 200, 200],
        "first accepted, duplicates acknowledged"
    );
    s.drain().await;
    let r = s.record("ORD-DUP").await;
    assert_eq!(r.state, OrderState::Captured);
    assert_eq!(
        r.timeline
            .iter()
            .filter(|e| e.what == "order.received")
            .count(),
        1,
        "one order record"
    );
    let counts = ledger_counts(&s.ledger().await, "ORD-DUP");
    assert_eq!(counts.get("authorization"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("capture"), Some(&1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_the_same_message_charge_once() {
    use o2c_domain::ports::QueueName;
    use o2c_runtime::batch::QueueMessage;
    let s = stack().await;
    // The webhook creates the order and queues its authorization; instead of the bridge, two
    // workers get the same message at the same time.
    s.clarity_order("ORD-TWO", "buyer", "USD", json!({})).await;
    let message = QueueMessage {
        message_id: "m-1".into(),
        body: r#"{"type":"authorize","order_id":"ORD-TWO"}"#.into(),
        group_id: Some("ORD-TWO".into()),
        dedup_id: Some("ORD-TWO-webhook-authorize".into()),
        receive_count: 1,
        source_arn: None,
        deadline: None,
    };
    let h = s.handlers[&QueueName::Orders].clone();
    let (a, b) = tokio::join!(h.handle(&message), h.handle(&message));
    println!("worker A: {a:?}\nworker B: {b:?}");
    assert!(a.is_ok() || b.is_ok());
    s.drain().await;
    assert_eq!(s.state("ORD-TWO").await, OrderState::Captured);
    let counts = ledger_counts(&s.ledger().await, "ORD-TWO");
    assert_eq!(counts.get("authorization"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("capture"), Some(&1), "{counts:?}");
}
