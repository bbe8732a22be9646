//! A cancellation is never lost, whatever it races (issue: "a shopper charged for a cancelled
//! order"). One stack, several instances of every function (the bridge's concurrency), and the
//! Cybersource simulator slowed down so that each window is wide: the Clarity `order.cancelled`
//! lands before, during and after the authorization, between authorization and capture, during
//! and after the capture. Whatever the point, the order ends `Voided` (nothing captured) or
//! `Refunded` (captured, then refunded in full), Clarity shows `cancelled`, the Cybersource
//! ledger agrees, and nothing is dead-lettered.

mod common;

use common::invariants::cents;
use common::{Options, Stack};
use o2c_domain::ports::QueueName;
use o2c_domain::OrderState;
use o2c_pipeline::messages::PaymentCommand;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Latency added to each Cybersource authorization and capture: the "during" windows.
const LATENCY_MS: u64 = 1500;

/// Captured and refunded amounts (minor units) and operation counts of an order's ledger rows.
#[derive(Debug, Default)]
struct Money {
    authorizations: usize,
    captures: usize,
    reversals: usize,
    refunds: usize,
    captured: i64,
    refunded: i64,
}

async fn money(s: &Stack, order: &str) -> Money {
    let mut m = Money::default();
    for row in s.ledger().await {
        let code = row["code"].as_str().unwrap_or_default();
        if !code.starts_with(&format!("{order}-")) {
            continue;
        }
        let amount = cents(row["amount"].as_str().unwrap_or("0"));
        match row["type"].as_str().unwrap_or_default() {
            "authorization" => m.authorizations += 1,
            "capture" => {
                m.captures += 1;
                m.captured += amount;
            }
            "reversal" => m.reversals += 1,
            "refund" => {
                m.refunds += 1;
                m.refunded += amount;
            }
            _ => {}
        }
    }
    m
}

async fn order(s: &Stack, id: &str) {
    s.clarity_order(id, "buyer", "USD", json!({})).await;
    assert_eq!(s.state(id).await, OrderState::Received);
}

async fn cancel(s: &Stack, id: &str) -> Value {
    let v = s
        .admin(
            "clarity",
            &format!("orders/{id}/cancel"),
            json!({"reason": "customer_request", "sync": true}),
        )
        .await;
    let answers = v["webhook"]["deliveries"][0]["attempts"].to_string();
    assert!(
        answers.contains("\"status\":202"),
        "{id}: cancellation accepted at once: {answers}"
    );
    v
}

/// Wait (at most 20 s) until the order is in `state`.
async fn until_state(s: &Stack, id: &str, state: OrderState) {
    let start = Instant::now();
    while s.state(id).await != state {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{id} never reached {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// While every function drains (concurrently), wait until the order is in `state`, then cancel.
async fn cancel_when(s: &Stack, id: &str, state: OrderState) {
    tokio::join!(s.drain_within(Duration::from_secs(60)), async {
        until_state(s, id, state).await;
        cancel(s, id).await;
    });
}

/// The promise, for every scenario: `Err` says how it was broken (every scenario runs, so one
/// run shows each point that fails).
async fn cancelled(s: &Stack, id: &str, want: OrderState) -> Result<Money, String> {
    s.drain().await;
    let r = s.record(id).await;
    let timeline: Vec<&str> = r.timeline.iter().map(|e| e.what.as_str()).collect();
    let m = money(s, id).await;
    let clarity = s.clarity_status(id).await;
    let mut broken = Vec::new();
    if r.cancel.is_none() {
        broken.push("no cancellation intent recorded".to_string());
    }
    if r.state != want {
        broken.push(format!("state {} (want {want})", r.state));
    }
    if clarity != "cancelled" {
        broken.push(format!("Clarity {clarity}"));
    }
    if m.captured != m.refunded {
        broken.push("captured money not all refunded".into());
    }
    if m.captures > 1 || m.refunds > 1 {
        broken.push("more than one capture or refund".into());
    }
    if want == OrderState::Voided && (m.captures != 0 || m.reversals != m.authorizations) {
        broken.push("not voided: a capture, or an authorization left unreversed".into());
    }
    if broken.is_empty() {
        Ok(m)
    } else {
        Err(format!(
            "{id}: {} — {timeline:?} ledger {m:?}",
            broken.join("; ")
        ))
    }
}

async fn no_dead_letters(s: &Stack) {
    for q in QueueName::ALL {
        let dead = s.dlq(q).await;
        assert!(
            dead.is_empty(),
            "{q}: {:?}",
            dead.iter().map(|m| m.body()).collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancellation_at_any_point_of_the_payment_path_ends_voided_or_refunded() {
    let s = Stack::start(Options {
        retry_delay: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    for op in ["authorize", "capture"] {
        s.admin(
            "cybersource",
            "faults",
            json!({"operation": op, "latency_ms": LATENCY_MS}),
        )
        .await;
    }

    let mut failures: Vec<String> = Vec::new();
    let mut check = |r: Result<Money, String>, extra: &dyn Fn(&Money) -> Option<String>| match r {
        Ok(m) => {
            if let Some(e) = extra(&m) {
                failures.push(e);
            }
        }
        Err(e) => failures.push(e),
    };

    // Before the authorization: nothing is ever authorized.
    order(&s, "ORD-CR-BEFORE").await;
    cancel(&s, "ORD-CR-BEFORE").await;
    check(
        cancelled(&s, "ORD-CR-BEFORE", OrderState::Voided).await,
        &|m| (m.authorizations != 0).then(|| format!("ORD-CR-BEFORE authorized: {m:?}")),
    );

    // During the authorization: it completes, then is reversed; no capture.
    order(&s, "ORD-CR-AUTHORIZING").await;
    cancel_when(&s, "ORD-CR-AUTHORIZING", OrderState::Authorizing).await;
    check(
        cancelled(&s, "ORD-CR-AUTHORIZING", OrderState::Voided).await,
        &|m| {
            ((m.authorizations, m.reversals) != (1, 1))
                .then(|| format!("ORD-CR-AUTHORIZING: {m:?}"))
        },
    );

    // Just after the authorization, with its capture queued: the capture and the reversal race
    // on their queues.
    order(&s, "ORD-CR-AUTHORIZED").await;
    o2c_local_bridge::drain(&s.bridges[0..1], 3, Duration::from_secs(30)).await;
    assert_eq!(s.state("ORD-CR-AUTHORIZED").await, OrderState::Authorized);
    cancel(&s, "ORD-CR-AUTHORIZED").await;
    check(
        cancelled(&s, "ORD-CR-AUTHORIZED", OrderState::Voided).await,
        &|_| None,
    );

    // Between authorization and capture, the reversal first: the capture finds the intent.
    order(&s, "ORD-CR-BETWEEN").await;
    o2c_local_bridge::drain(&s.bridges[0..1], 3, Duration::from_secs(30)).await;
    cancel(&s, "ORD-CR-BETWEEN").await;
    o2c_local_bridge::drain(&s.bridges[2..3], 3, Duration::from_secs(30)).await;
    check(
        cancelled(&s, "ORD-CR-BETWEEN", OrderState::Voided).await,
        &|_| None,
    );

    // During the capture: it completes after the cancellation and is refunded in full.
    order(&s, "ORD-CR-CAPTURING").await;
    cancel_when(&s, "ORD-CR-CAPTURING", OrderState::Capturing).await;
    check(
        cancelled(&s, "ORD-CR-CAPTURING", OrderState::Refunded).await,
        &|m| ((m.captures, m.refunds) != (1, 1)).then(|| format!("ORD-CR-CAPTURING: {m:?}")),
    );

    // After the capture: a full refund.
    order(&s, "ORD-CR-CAPTURED").await;
    s.drain().await;
    assert_eq!(s.state("ORD-CR-CAPTURED").await, OrderState::Captured);
    cancel(&s, "ORD-CR-CAPTURED").await;
    check(
        cancelled(&s, "ORD-CR-CAPTURED", OrderState::Refunded).await,
        &|m| ((m.captures, m.refunds) != (1, 1)).then(|| format!("ORD-CR-CAPTURED: {m:?}")),
    );

    // The same cancellation delivered again: nothing more.
    cancel(&s, "ORD-CR-CAPTURED").await;
    check(
        cancelled(&s, "ORD-CR-CAPTURED", OrderState::Refunded).await,
        &|m| ((m.captures, m.refunds) != (1, 1)).then(|| format!("ORD-CR-CAPTURED, again: {m:?}")),
    );

    assert!(
        failures.is_empty(),
        "{} cancellation(s) broken:\n{}",
        failures.len(),
        failures.join("\n")
    );
    no_dead_letters(&s).await;
}

/// The second path to the same harm: a void command already queued while the order was
/// `Authorized` reaches the refunds consumer while (or after) the capture records. It must
/// become a refund, never a dead letter ("illegal transition Captured → Voiding").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_void_that_meets_a_capture_becomes_a_refund_not_a_dead_letter() {
    let s = Stack::start(Options {
        retry_delay: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    s.admin(
        "cybersource",
        "faults",
        json!({"operation": "capture", "latency_ms": LATENCY_MS}),
    )
    .await;
    for (i, id) in ["ORD-VC-1", "ORD-VC-2", "ORD-VC-3"].iter().enumerate() {
        order(&s, id).await;
        o2c_local_bridge::drain(&s.bridges[0..1], 3, Duration::from_secs(30)).await;
        assert_eq!(s.state(id).await, OrderState::Authorized);
        // 1: the capture is under way when the void arrives; 2: it has recorded; 3: both race.
        match i {
            0 => {
                tokio::join!(
                    o2c_local_bridge::drain(&s.bridges[1..2], 3, Duration::from_secs(30)),
                    async {
                        until_state(&s, id, OrderState::Capturing).await;
                        send_void(&s, id).await;
                        o2c_local_bridge::drain(&s.bridges[2..3], 3, Duration::from_secs(30)).await;
                    }
                );
            }
            1 => {
                o2c_local_bridge::drain(&s.bridges[1..2], 3, Duration::from_secs(30)).await;
                assert_eq!(s.state(id).await, OrderState::Captured);
                send_void(&s, id).await;
            }
            _ => send_void(&s, id).await,
        }
        s.drain().await;
        let r = s.record(id).await;
        let m = money(&s, id).await;
        assert!(
            matches!(r.state, OrderState::Refunded | OrderState::Voided),
            "{id}: {} {m:?}",
            r.state
        );
        assert_eq!(m.captured, m.refunded, "{id}: {m:?}");
        if i < 2 {
            assert_eq!(r.state, OrderState::Refunded, "{id}: {m:?}");
        }
    }
    no_dead_letters(&s).await;
}

/// A void command as an older version (or an operator's replay) queues it: no intent recorded.
async fn send_void(s: &Stack, id: &str) {
    let void = PaymentCommand::Void {
        order_id: o2c_domain::OrderId::new(id).unwrap(),
        reason: "cancelled".into(),
    }
    .message("test");
    aws_sdk_sqs::Client::new(&s.sdk)
        .send_message()
        .queue_url(s.aws.var("REFUNDS_QUEUE_URL"))
        .message_group_id(&void.group_id)
        .message_deduplication_id(&void.dedup_id)
        .message_body(&void.body)
        .send()
        .await
        .unwrap();
}
