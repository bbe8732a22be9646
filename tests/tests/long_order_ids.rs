//! Long order ids (issue 12, item 3). An order id over 45 characters does not fit a Cybersource
//! reference (`<order>-<suffix>`, at most 50 characters), so it goes out hashed
//! (`o2c<hash>-<suffix>`). Every Cybersource id that comes back — a Decision Manager review
//! decision (notification), a chargeback (report row) — must still find its order: through the
//! reference index written when the request was made. Ids of exactly 46 and 64 characters (the
//! first hashed length and `OrderId`'s maximum), through review accept, review reject and a
//! chargeback.

mod common;

use common::{Options, Stack};
use o2c_domain::{OrderId, OrderState};
use serde_json::{json, Value};
use std::time::Duration;

async fn stack() -> Stack {
    Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await
}

/// A valid order id of exactly `len` characters.
fn long_id(tag: &str, len: usize) -> String {
    let mut id = format!("ORD-{tag}-{len}-");
    while id.len() < len {
        id.push(char::from(b'a' + (id.len() % 26) as u8));
    }
    assert_eq!(id.len(), len);
    OrderId::new(id.as_str()).expect("a valid order id");
    id
}

/// A buyer e-mail whose local part picks the simulator's Decision Manager outcome (the
/// harness's default `<outcome>+<order id>` would make the local part longer than 64).
fn buyer(outcome: &str, n: usize) -> Value {
    json!({"customer": {"email": format!("{outcome}+long{n}@example.test")}})
}

fn schedule() -> Value {
    json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn long_order_ids_get_their_review_decisions_and_chargebacks() {
    let s = stack().await;
    let mut accept = Vec::new();
    let mut reject = Vec::new();
    let mut disputed = Vec::new();
    for (n, len) in [46usize, 64].into_iter().enumerate() {
        let (ra, rr, cb) = (long_id("RA", len), long_id("RR", len), long_id("CB", len));
        s.clarity_order(&ra, "review", "USD", buyer("review", 3 * n))
            .await;
        s.clarity_order(&rr, "review", "USD", buyer("review", 3 * n + 1))
            .await;
        s.clarity_order(&cb, "buyer", "USD", buyer("buyer", 3 * n + 2))
            .await;
        accept.push(ra);
        reject.push(rr);
        disputed.push(cb);
    }
    s.drain().await;

    // The setup: reviews held, the others captured, and every reference hashed.
    for id in accept.iter().chain(&reject) {
        assert_eq!(s.state(id).await, OrderState::PendingReview, "{id}");
    }
    for id in &disputed {
        assert_eq!(s.state(id).await, OrderState::Captured, "{id}");
    }
    for id in accept.iter().chain(&reject).chain(&disputed) {
        let r = s.record(id).await;
        let reference = &r.order.payment.as_ref().unwrap().reference;
        assert!(
            reference.starts_with("o2c") && !reference.contains(id.as_str()),
            "{id} ({} chars) goes out hashed, got {reference}",
            id.len()
        );
    }

    // The reviewers decide in Decision Manager; Cybersource notifies us.
    for (ids, decision) in [(&accept, "accept"), (&reject, "reject")] {
        for id in ids {
            let r = s.record(id).await;
            let txn = r.order.payment.unwrap().external.cybersource.unwrap();
            let v = s
                .admin(
                    "cybersource",
                    &format!("reviews/{txn}"),
                    json!({"decision": decision, "sync": true}),
                )
                .await;
            println!("{id}: review {decision}: {}", v["notification"]["attempts"]);
        }
    }
    s.drain().await;

    // A chargeback on each long id's capture appears in the report.
    for id in &disputed {
        let r = s.record(id).await;
        let capture = r.order.payment.unwrap().capture_id.unwrap();
        s.admin(
            "cybersource",
            "chargebacks",
            json!({"transactionId": capture, "reasonCode": "10.4", "natureOfDispute": "Fraud"}),
        )
        .await;
    }
    let poll = s.chargeback_poller().await.run(schedule()).await.unwrap();
    println!("chargeback poll: {poll}");
    s.drain().await;

    let mut failures = Vec::new();
    let expect = accept
        .iter()
        .map(|id| {
            (
                id,
                OrderState::Captured,
                "payment_received",
                "review accept",
            )
        })
        .chain(
            reject
                .iter()
                .map(|id| (id, OrderState::Voided, "cancelled", "review reject")),
        )
        .chain(
            disputed
                .iter()
                .map(|id| (id, OrderState::Disputed, "on_hold", "chargeback")),
        );
    for (id, state, clarity, what) in expect {
        let r = s.record(id).await;
        let have = s.clarity_status(id).await;
        println!(
            "{id} ({} chars, {what}): {} / Clarity {have} — {:?}",
            id.len(),
            r.state,
            r.timeline
                .iter()
                .map(|e| e.what.as_str())
                .collect::<Vec<_>>()
        );
        if r.state != state || have != clarity {
            failures.push(format!(
                "{what} on a {}-char id: {} / Clarity {have}, expected {state} / {clarity}",
                id.len(),
                r.state
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(poll["applied"].as_array().map(Vec::len), Some(2), "{poll}");
}
