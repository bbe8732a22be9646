//! The chaos run: many orders through the whole integration with the full fault mix —
//! Cybersource 5xx and "effect applied, response lost", a Clarity and ERP outage for a stretch,
//! duplicate webhooks (×3 for a fifth of the orders), review decisions delivered twice and
//! contradicting notifications arriving late, crashes at every step boundary, cancellations and
//! returns mixed in, and cancellations sent at random moments while the pipeline works (racing
//! the authorization, the capture, or landing after it) — then the invariant checker's table.
//! Goal: zeros where zeros belong; no order charged with a cancellation recorded.
//!
//! `O2C_CHAOS_ORDERS` sets the number of orders: CI runs 150; `scripts/chaos.sh` runs 1,000.

mod common;

use common::invariants::{check, Expectation};
use common::{Options, Stack};
use o2c_domain::OrderState;
use o2c_pipeline::faults::RandomCrashes;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Plan {
    Accept,
    AcceptThenCancel,
    /// Cancelled at a random moment while the first wave is processed.
    CancelRacing,
    AcceptThenReturn,
    ReviewAccept,
    ReviewReject,
    FraudReject,
    Decline,
}

fn plan(i: usize) -> Plan {
    match i % 20 {
        0 | 1 => Plan::AcceptThenCancel,
        2 | 3 => Plan::AcceptThenReturn,
        4 => Plan::ReviewAccept,
        5 => Plan::ReviewReject,
        6 | 7 => Plan::FraudReject,
        8 | 9 => Plan::Decline,
        10 | 11 => Plan::CancelRacing,
        _ => Plan::Accept,
    }
}

fn expectation(p: Plan) -> Expectation {
    use OrderState::*;
    match p {
        Plan::Accept | Plan::ReviewAccept => Box::new(|s| s == Captured),
        Plan::AcceptThenCancel | Plan::CancelRacing => Box::new(|s| matches!(s, Voided | Refunded)),
        Plan::AcceptThenReturn => Box::new(|s| s == PartiallyRefunded),
        Plan::ReviewReject | Plan::FraudReject => Box::new(|s| s == Voided),
        Plan::Decline => Box::new(|s| s == Declined),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_run_keeps_every_invariant() {
    let n: usize = std::env::var("O2C_CHAOS_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let started = Instant::now();
    // Every function's JSON log lines (as Lambda would ship them to CloudWatch) go to one file,
    // which the card-data scan reads at the end with the table, the queues and the DLQs.
    let log_path = std::env::temp_dir().join(format!("o2c-chaos-{}.log", std::process::id()));
    let log_file = std::fs::File::create(&log_path).unwrap();
    // Global (this binary runs one test): the handlers log from every runtime worker thread.
    tracing::subscriber::set_global_default(o2c_runtime::logging::json_subscriber(
        std::sync::Mutex::new(log_file),
        o2c_runtime::logging::filter_from(None),
    ))
    .expect("one subscriber per test binary");
    let crashes = Arc::new(RandomCrashes::new(0.04, 7));
    // Each drain returns once every queue is idle; the cap only has to outlast the work (the
    // 1,000-order first wave takes minutes).
    let budget = Duration::from_secs((n as u64).max(200) * 3 / 5);
    let s = Stack::start(Options {
        checkpoints: Some(crashes.clone()),
        retry_delay: Duration::from_secs(2),
        lease: Some(Duration::from_secs(2)),
        ..Options::default()
    })
    .await;
    for op in ["authorize", "capture", "refund", "reversal"] {
        s.admin(
            "cybersource",
            "faults",
            json!({"operation": op, "error_rate": 0.06, "status": 503,
                   "lost_response_rate": 0.06, "lost_mode": "502"}),
        )
        .await;
    }

    // Orders arrive (a fifth of them three times).
    let mut orders = Vec::new();
    for i in 0..n {
        let p = plan(i);
        let email = match p {
            Plan::ReviewAccept | Plan::ReviewReject => "review",
            Plan::FraudReject => "reject",
            Plan::Decline => "decline",
            _ => "buyer",
        };
        let id = format!("CH-{i:05}");
        let token = s.transient_token().await;
        s.admin(
            "clarity",
            "orders",
            json!({"id": id, "repeat": if i % 5 == 0 { 3 } else { 1 }, "sync": true,
                   "customer": {"email": format!("{email}+{id}@example.test")},
                   "payment": {"instrumentToken": token}}),
        )
        .await;
        if p == Plan::AcceptThenCancel {
            // Cancelled right away: races the authorization and the capture.
            s.admin(
                "clarity",
                &format!("orders/{id}/cancel"),
                json!({"sync": true}),
            )
            .await;
        }
        orders.push((id, p));
    }

    // A Clarity and ERP outage for a stretch, while the first wave is processed.
    for sim in ["clarity", "netsuite", "salesforce"] {
        s.admin(
            sim,
            "faults",
            json!({"route": "*", "error_rate": 1.0, "status": 503}),
        )
        .await;
    }
    // Cancellations at random moments (seeded) while the first wave drains: some land before
    // the authorization, some during it, some between, during or after the capture.
    let racing: Vec<(String, Duration)> = orders
        .iter()
        .enumerate()
        .filter(|(_, (_, p))| *p == Plan::CancelRacing)
        .map(|(i, (id, _))| {
            let spread_ms = (n as u64 * 25).max(4000);
            let at = (i as u64).wrapping_mul(2_654_435_761) % spread_ms;
            (id.clone(), Duration::from_millis(at))
        })
        .collect();
    let cancel_wave = async {
        let t0 = Instant::now();
        let mut by_time = racing.clone();
        by_time.sort_by_key(|(_, at)| *at);
        for (id, at) in &by_time {
            tokio::time::sleep(at.saturating_sub(t0.elapsed())).await;
            s.admin(
                "clarity",
                &format!("orders/{id}/cancel"),
                json!({"sync": true}),
            )
            .await;
        }
    };
    let outage = o2c_local_bridge::drain(&s.bridges, 3, Duration::from_secs(4)).await;
    for sim in ["clarity", "netsuite", "salesforce"] {
        s.http
            .delete(format!("{}/__admin/faults", s.sandbox.url(sim)))
            .send()
            .await
            .unwrap();
        s.admin(
            sim,
            "faults",
            json!({"route": "*", "error_rate": 0.05, "status": 503}),
        )
        .await;
    }
    tokio::join!(s.drain_within(budget), cancel_wave);
    s.drain_within(budget).await;

    // Review decisions (each delivered twice more), and returns.
    let mut decided = Vec::new();
    for (id, p) in &orders {
        let rec = s.record(id).await;
        let txn = rec
            .order
            .payment
            .as_ref()
            .and_then(|p| p.external.cybersource.clone());
        match (p, txn) {
            (Plan::ReviewAccept | Plan::ReviewReject, Some(txn))
                if rec.state == OrderState::PendingReview =>
            {
                let (yes, no) = if *p == Plan::ReviewAccept {
                    ("accept", "reject")
                } else {
                    ("reject", "accept")
                };
                s.admin(
                    "cybersource",
                    &format!("reviews/{txn}"),
                    json!({"decision": yes, "sync": true}),
                )
                .await;
                s.admin(
                    "cybersource",
                    "notify",
                    json!({"eventType": format!("risk.casemanagement.decision.{yes}"), "repeat": 2, "sync": true,
                           "payload": {"data": {"id": txn, "clientReferenceInformation": {"code": format!("{id}-auth")}}}}),
                )
                .await;
                decided.push((id.clone(), txn, no));
            }
            (Plan::AcceptThenReturn, _) if rec.state == OrderState::Captured => {
                let order = s.admin_get("clarity", &format!("orders/{id}")).await;
                let line = order["order"]["lineItems"][0]["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                s.admin(
                    "clarity",
                    &format!("orders/{id}/returns"),
                    json!({"lines": [{"lineItemId": line, "quantity": 1, "amount": "5.00"}], "sync": true}),
                )
                .await;
            }
            _ => {}
        }
    }
    s.drain_within(budget).await;
    // Late and contradicting notifications: they must not undo a decision.
    for (id, txn, no) in &decided {
        s.admin(
            "cybersource",
            "notify",
            json!({"eventType": format!("risk.casemanagement.decision.{no}"), "sync": true,
                   "payload": {"data": {"id": txn, "clientReferenceInformation": {"code": format!("{id}-auth")}}}}),
        )
        .await;
    }
    let stats = s.drain_within(budget).await;
    for sim in ["cybersource", "clarity", "netsuite", "salesforce"] {
        s.http
            .delete(format!("{}/__admin/faults", s.sandbox.url(sim)))
            .send()
            .await
            .unwrap();
    }
    s.drain_within(budget).await;
    // The operator replays what ended in a DLQ (the outage exhausted some retries), then the
    // queues drain again.
    let redrive = s.redrive_all().await;
    println!("redrive: {}", redrive["summary"]);
    s.drain_within(budget).await;

    let expectations: Vec<(String, Expectation)> = orders
        .iter()
        .map(|(id, p)| (id.clone(), expectation(*p)))
        .collect();
    let report = check(&s, &expectations).await;
    println!(
        "chaos: {n} orders in {:.0?}; outage wave {outage:?}; last wave {stats:?}; injected crashes {}",
        started.elapsed(),
        crashes.crashes()
    );
    println!("{}", report.table());
    let log_lines = std::fs::read_to_string(&log_path)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    // EMF metric lines carry a 13-digit epoch-ms `Timestamp`, which is not card data.
    let scan = s.card_scan_with(
        std::slice::from_ref(&log_path),
        &["--ignore-field", "Timestamp"],
    );
    println!(
        "card-data scan (table items, queue and DLQ messages, {log_lines} log lines): {} hits",
        scan.hits
    );
    assert_eq!(scan.hits, 0, "{}", scan.report);
    assert!(log_lines > n, "the functions logged ({log_lines} lines)");
    assert!(crashes.crashes() > 0);
    assert!(
        report.clean(),
        "{report:?} (function logs kept in {})",
        log_path.display()
    );
    assert!(report.captured > n / 3, "{report:?}");
    let _ = std::fs::remove_file(&log_path);
}
