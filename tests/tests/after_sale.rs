//! After the sale, end to end: Decision Manager review decisions arriving as signed Cybersource
//! notifications, a Clarity cancellation before capture, partial refunds up to exactly the
//! captured amount, a refused over-refund, and two refunds racing.

mod common;

use common::{ledger_counts, Options, Stack};
use o2c_domain::ports::QueueName;
use o2c_domain::OrderState;
use o2c_pipeline::messages::PaymentCommand;
use o2c_runtime::batch::QueueMessage;
use serde_json::{json, Value};
use std::time::Duration;

async fn stack() -> Stack {
    Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await
}

fn txn(r: &o2c_domain::ports::OrderRecord) -> String {
    r.order
        .payment
        .as_ref()
        .and_then(|p| p.external.cybersource.clone())
        .expect("an authorization id")
}

fn sum_of(ledger: &[Value], order: &str, kind: &str) -> String {
    let cents: i64 = ledger
        .iter()
        .filter(|r| r["type"] == kind)
        .filter(|r| {
            r["code"]
                .as_str()
                .unwrap_or("")
                .starts_with(&format!("{order}-"))
        })
        .map(|r| {
            let s = r["amount"].as_str().unwrap();
            let (a, b) = s.split_once('.').unwrap();
            a.parse::<i64>().unwrap() * 100 + b.parse::<i64>().unwrap()
        })
        .sum();
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn review_accepted_is_captured_and_review_rejected_is_voided() {
    let s = stack().await;
    s.clarity_order("ORD-RA", "review", "USD", json!({})).await;
    s.clarity_order("ORD-RR", "review", "USD", json!({})).await;
    s.drain().await;
    assert_eq!(s.state("ORD-RA").await, OrderState::PendingReview);
    assert_eq!(s.clarity_status("ORD-RA").await, "on_hold");

    let accept = txn(&s.record("ORD-RA").await);
    let reject = txn(&s.record("ORD-RR").await);
    s.admin(
        "cybersource",
        &format!("reviews/{accept}"),
        json!({"decision": "accept", "sync": true}),
    )
    .await;
    s.admin(
        "cybersource",
        &format!("reviews/{reject}"),
        json!({"decision": "reject", "sync": true}),
    )
    .await;
    s.drain().await;
    // Cybersource redelivers the accept notification (twice): nothing changes.
    s.admin(
        "cybersource",
        "notify",
        json!({"eventType": "risk.casemanagement.decision.accept", "repeat": 2, "sync": true,
               "payload": {"data": {"id": accept, "decision": "ACCEPT",
                                    "clientReferenceInformation": {"code": "ORD-RA-auth"}}}}),
    )
    .await;
    s.drain().await;

    let ra = s.record("ORD-RA").await;
    let rr = s.record("ORD-RR").await;
    for r in [&ra, &rr] {
        println!(
            "{}: {} — {:?}",
            r.order.id,
            r.state,
            r.timeline
                .iter()
                .map(|e| e.what.as_str())
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(ra.state, OrderState::Captured);
    assert_eq!(s.clarity_status("ORD-RA").await, "payment_received");
    assert_eq!(rr.state, OrderState::Voided);
    assert_eq!(s.clarity_status("ORD-RR").await, "cancelled");
    assert!(
        rr.order.external.crm.is_some(),
        "a CRM fraud case for the rejected review"
    );
    let ledger = s.ledger().await;
    let a = ledger_counts(&ledger, "ORD-RA");
    let r = ledger_counts(&ledger, "ORD-RR");
    assert_eq!(
        (a.get("authorization"), a.get("capture")),
        (Some(&1), Some(&1)),
        "{a:?}"
    );
    assert_eq!(
        (r.get("authorization"), r.get("capture"), r.get("reversal")),
        (Some(&1), None, Some(&1)),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancellation_before_capture_reverses_the_authorization() {
    let s = stack().await;
    s.clarity_order("ORD-CX", "buyer", "USD", json!({})).await;
    // Only the authorization runs; the capture waits on its queue.
    o2c_local_bridge::drain(&s.bridges[0..1], 3, Duration::from_secs(30)).await;
    assert_eq!(s.state("ORD-CX").await, OrderState::Authorized);
    let cancel = s
        .admin(
            "clarity",
            "orders/ORD-CX/cancel",
            json!({"reason": "customer_request", "sync": true}),
        )
        .await;
    let answers = cancel["webhook"]["deliveries"][0]["attempts"].to_string();
    assert!(
        answers.contains("\"status\":202"),
        "cancellation accepted: {answers}"
    );
    // The reversal goes first, then everything else (the queued capture finds a voided order).
    o2c_local_bridge::drain(&s.bridges[2..3], 3, Duration::from_secs(30)).await;
    s.drain().await;
    let r = s.record("ORD-CX").await;
    println!(
        "{:?}",
        r.timeline
            .iter()
            .map(|e| e.what.as_str())
            .collect::<Vec<_>>()
    );
    assert_eq!(r.state, OrderState::Voided);
    assert_eq!(s.clarity_status("ORD-CX").await, "cancelled");
    let c = ledger_counts(&s.ledger().await, "ORD-CX");
    assert_eq!(
        (c.get("capture"), c.get("reversal")),
        (None, Some(&1)),
        "{c:?}"
    );
    assert!(
        s.dlq(QueueName::Captures).await.is_empty(),
        "the moot capture is acknowledged, not dead-lettered"
    );
}

async fn send_refund(s: &Stack, order: &str, refund_id: &str, amount: &str) {
    let m = PaymentCommand::Refund {
        order_id: o2c_domain::OrderId::new(order).unwrap(),
        refund_id: o2c_domain::RefundId::new(refund_id).unwrap(),
        amount: o2c_domain::Money::parse(amount, o2c_domain::Currency::USD).unwrap(),
        reason: "goodwill".into(),
    }
    .message("test");
    aws_sdk_sqs::Client::new(&s.sdk)
        .send_message()
        .queue_url(s.aws.var("REFUNDS_QUEUE_URL"))
        .message_body(m.body)
        .message_group_id(m.group_id)
        .message_deduplication_id(m.dedup_id)
        .send()
        .await
        .unwrap();
}

async fn dlq_classes(s: &Stack, queue: QueueName) -> Vec<String> {
    s.dlq(queue)
        .await
        .iter()
        .filter_map(|m| {
            m.message_attributes()?
                .get("failure_class")?
                .string_value()
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partial_refunds_sum_exactly_to_the_capture_and_more_is_refused() {
    let s = stack().await;
    s.clarity_order("ORD-RF", "buyer", "USD", json!({})).await;
    s.drain().await;
    assert_eq!(s.state("ORD-RF").await, OrderState::Captured);
    let order = s.admin_get("clarity", "orders/ORD-RF").await;
    let line = order["order"]["lineItems"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ret = |amount: &str| json!({"lines": [{"lineItemId": line, "quantity": 1, "amount": amount}], "sync": true});

    // A return of 10.00 through Clarity's signed webhook: a partial refund.
    let first = s
        .admin("clarity", "orders/ORD-RF/returns", ret("10.00"))
        .await;
    s.drain().await;
    assert_eq!(s.state("ORD-RF").await, OrderState::PartiallyRefunded);
    // The default spec refunds on the request: the items' receipt later refunds nothing more.
    let rid = first["return"]["id"].as_str().unwrap();
    s.admin(
        "clarity",
        &format!("orders/ORD-RF/returns/{rid}/receive"),
        json!({"sync": true}),
    )
    .await;
    s.drain().await;
    assert_eq!(
        ledger_counts(&s.ledger().await, "ORD-RF").get("refund"),
        Some(&1)
    );
    let r = s.record("ORD-RF").await;
    assert!(
        r.timeline
            .iter()
            .any(|e| e.what == "return.received" && e.why.contains("refund: on_request")),
        "{:?}",
        r.timeline
    );

    // 17.01 more would exceed what is left (17.00): refused by the domain, dead-lettered with
    // the reason, nothing sent to Cybersource.
    send_refund(&s, "ORD-RF", "over", "17.01").await;
    s.drain().await;
    assert_eq!(dlq_classes(&s, QueueName::Refunds).await, ["validation"]);
    assert_eq!(s.state("ORD-RF").await, OrderState::PartiallyRefunded);

    // The rest, exactly: fully refunded.
    s.admin("clarity", "orders/ORD-RF/returns", ret("17.00"))
        .await;
    s.drain().await;
    let r = s.record("ORD-RF").await;
    assert_eq!(r.state, OrderState::Refunded);
    let ledger = s.ledger().await;
    assert_eq!(sum_of(&ledger, "ORD-RF", "refund"), "27.00");
    assert_eq!(sum_of(&ledger, "ORD-RF", "capture"), "27.00");
    assert_eq!(ledger_counts(&ledger, "ORD-RF").get("refund"), Some(&2));
    // ERP: one customerRefund record per refund.
    let refunds = s.admin_get("netsuite", "records/customerRefund").await;
    let n = refunds["records"].as_array().map_or(0, Vec::len);
    assert_eq!(n, 2, "{refunds}");

    // Nothing refundable any more: one cent is refused too (the order cannot refund again).
    send_refund(&s, "ORD-RF", "extra", "0.01").await;
    s.drain().await;
    assert_eq!(
        dlq_classes(&s, QueueName::Refunds).await,
        ["validation", "illegal-transition"]
    );
    assert_eq!(
        sum_of(&s.ledger().await, "ORD-RF", "refund"),
        "27.00",
        "no over-refund"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_refunds_racing_cannot_over_refund() {
    let s = stack().await;
    s.clarity_order("ORD-RACE", "buyer", "USD", json!({})).await;
    s.drain().await;
    let h = s.handlers[&QueueName::Refunds].clone();
    let msg = |rid: &str| {
        let c = PaymentCommand::Refund {
            order_id: o2c_domain::OrderId::new("ORD-RACE").unwrap(),
            refund_id: o2c_domain::RefundId::new(rid).unwrap(),
            amount: o2c_domain::Money::parse("20.00", o2c_domain::Currency::USD).unwrap(),
            reason: "race".into(),
        }
        .message("test");
        QueueMessage {
            message_id: rid.into(),
            body: m_body(&c),
            group_id: Some(c.group_id.clone()),
            dedup_id: Some(c.dedup_id.clone()),
            receive_count: 1,
            source_arn: None,
            deadline: None,
        }
    };
    fn m_body(c: &o2c_domain::ports::OutboundMessage) -> String {
        c.body.clone()
    }
    let (a, b) = (msg("r-a"), msg("r-b"));
    let (ra, rb) = tokio::join!(h.handle(&a), h.handle(&b));
    println!("refund A: {ra:?}\nrefund B: {rb:?}");
    // Whoever lost retries later (the order was busy) and is then refused: 20 + 20 > 27.
    let loser = if ra.is_ok() { &b } else { &a };
    let again = h.handle(loser).await;
    println!("retry: {again:?}");
    assert!(
        matches!(
            again,
            Err(o2c_domain::recipe::StepFailure::NonRetryable {
                class: o2c_domain::recipe::FailureClass::Validation,
                ..
            })
        ),
        "{again:?}"
    );
    let r = s.record("ORD-RACE").await;
    assert_eq!(r.state, OrderState::PartiallyRefunded);
    assert_eq!(sum_of(&s.ledger().await, "ORD-RACE", "refund"), "20.00");
}
