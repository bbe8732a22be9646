//! Customer-safe Clarity reasons (issue 13/1): Clarity may show an order's `statusReason` to the
//! shopper, so no status reason we send may name a merchant id, a payment route, a Decision
//! Manager or processor reason code, Decision Manager itself, or fraud. The detail stays on our
//! timeline.
//!
//! Every outcome that carries a reason runs through the whole stack — an issuer decline, a
//! 3-D Secure decline, a Decision Manager reject, a review left on hold, a review rejected by a
//! reviewer, a chargeback (nature "Fraud") won and one lost — and every status reason in the
//! Clarity simulator's status history of each order is checked.

mod common;

use common::{Options, Stack};
use o2c_domain::OrderState;
use serde_json::{json, Value};
use std::time::Duration;

/// Two payment routes whose names are not their merchant ids, so both can be looked for.
const ROUTES: [(&str, &str); 2] = [
    ("northwind", "o2c_local_sandbox"),
    ("southwind", "o2c_local_b"),
];

fn routing_document() -> String {
    json!({
        "version": 1,
        "routes": [
            {"name": ROUTES[0].0, "merchant_id": ROUTES[0].1, "secret": "primary"},
            {"name": ROUTES[1].0, "merchant_id": ROUTES[1].1, "secret": "b"}
        ],
        "rules": [{"name": "default", "routes": [ROUTES[0].0, ROUTES[1].0]}],
        "optimisation": {"mode": "rules"}
    })
    .to_string()
}

/// Every Cybersource merchant id of the local secrets.
fn merchant_ids() -> Vec<String> {
    let path = o2c_e2e::repo_root().join("infra/local/secrets.local.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v.as_object()
        .unwrap()
        .values()
        .filter_map(|s| s["merchant_id"].as_str().map(str::to_string))
        .collect()
}

/// A run of at least six of `A-Z` and `_`: what Cybersource / Decision Manager reason codes
/// look like (`PROCESSOR_DECLINED`, `DECISION_PROFILE_REJECT`, `CONSUMER_AUTHENTICATION_…`).
fn reason_code_like(text: &str) -> Option<String> {
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_uppercase() || c == '_' {
            run.push(c);
        } else {
            if run.len() >= 6 {
                return Some(run);
            }
            run.clear();
        }
    }
    None
}

/// Why `reason` must not reach a shopper (empty when it may).
fn leaks(reason: &str, secrets: &[String]) -> Vec<String> {
    let lower = reason.to_lowercase();
    let mut why: Vec<String> = secrets
        .iter()
        .filter(|s| lower.contains(&s.to_lowercase()))
        .map(|s| format!("names {s:?}"))
        .collect();
    for word in ["route", "decision manager", "fraud"] {
        if lower.contains(word) {
            why.push(format!("says {word:?}"));
        }
    }
    why.extend(reason_code_like(reason).map(|code| format!("carries the reason code {code:?}")));
    why
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_clarity_status_reason_names_a_merchant_route_decision_manager_or_fraud() {
    let s = Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        routing_document: Some(routing_document()),
        ..Options::default()
    })
    .await;
    let orders = [
        ("ORD-SR-DEC", "decline"),
        ("ORD-SR-3DS", "3ds"),
        ("ORD-SR-REJ", "reject"),
        ("ORD-SR-DMD", "dmdecline"),
        ("ORD-SR-REV", "review"),
        ("ORD-SR-RR", "review"),
        ("ORD-SR-CBW", "buyer"),
        ("ORD-SR-CBL", "buyer"),
    ];
    for (id, who) in orders {
        s.clarity_order(id, who, "USD", json!({})).await;
    }
    s.drain().await;

    // A reviewer rejects one of the two reviews; the other stays on hold.
    let rr = s.record("ORD-SR-RR").await;
    let txn = rr
        .order
        .payment
        .as_ref()
        .unwrap()
        .external
        .cybersource
        .clone();
    s.admin(
        "cybersource",
        &format!("reviews/{}", txn.unwrap()),
        json!({"decision": "reject", "sync": true}),
    )
    .await;
    s.drain().await;

    // Fraud chargebacks on two captured orders: one won, one lost.
    let capture = |r: &o2c_domain::ports::OrderRecord| {
        r.order
            .payment
            .as_ref()
            .unwrap()
            .capture_id
            .clone()
            .unwrap()
    };
    let won = capture(&s.record("ORD-SR-CBW").await);
    let lost = capture(&s.record("ORD-SR-CBL").await);
    for txn in [&won, &lost] {
        s.admin(
            "cybersource",
            "chargebacks",
            json!({"transactionId": txn, "reasonCode": "10.4", "natureOfDispute": "Fraud"}),
        )
        .await;
    }
    let poller = s.chargeback_poller().await;
    let opened = poller.run(json!({})).await.unwrap();
    println!("chargebacks opened: {opened}");
    s.admin(
        "cybersource",
        "chargebacks",
        json!({"transactionId": won, "action": "Chargeback Reversal", "sign": "+", "reasonCode": "10.4"}),
    )
    .await;
    s.admin(
        "cybersource",
        "chargebacks",
        json!({"transactionId": lost, "action": "Second Chargeback", "reasonCode": "10.4"}),
    )
    .await;
    let decided = poller.run(json!({})).await.unwrap();
    println!("chargebacks decided: {decided}");
    s.drain().await;

    // What must never reach a shopper: merchant ids, route names (the document's and every
    // route an order used), the Cybersource transaction ids.
    let mut secrets = merchant_ids();
    secrets.extend(ROUTES.iter().map(|(name, _)| name.to_string()));
    let expect = [
        ("ORD-SR-DEC", OrderState::Declined, "payment_failed"),
        ("ORD-SR-3DS", OrderState::Declined, "payment_failed"),
        ("ORD-SR-REJ", OrderState::Voided, "cancelled"),
        ("ORD-SR-DMD", OrderState::Rejected, "payment_failed"),
        ("ORD-SR-REV", OrderState::PendingReview, "on_hold"),
        ("ORD-SR-RR", OrderState::Voided, "cancelled"),
        ("ORD-SR-CBW", OrderState::DisputeWon, "payment_received"),
        ("ORD-SR-CBL", OrderState::DisputeLost, "payment_failed"),
    ];
    let mut reasons: Vec<(String, String)> = Vec::new();
    for (id, state, clarity) in expect {
        let r = s.record(id).await;
        println!("{id}: {}", r.state);
        for e in &r.timeline {
            println!("  {:<22} {}", e.what, e.why);
        }
        if let Some(auth) = o2c_pipeline::sync::authorization(&r) {
            secrets.push(auth.route.clone());
            if !auth.result.id.is_empty() {
                secrets.push(auth.result.id.clone());
            }
        }
        if let Some(p) = &r.order.payment {
            secrets.extend(p.capture_id.clone());
        }
        let v = s.admin_get("clarity", &format!("orders/{id}")).await;
        let history = v["statusHistory"].as_array().cloned().unwrap_or_default();
        let mut mine: Vec<String> = history
            .iter()
            .filter_map(|h| h["reason"].as_str().map(str::to_string))
            .collect();
        mine.extend(v["order"]["statusReason"].as_str().map(str::to_string));
        mine.sort();
        mine.dedup();
        for h in &history {
            println!("  clarity {} → {}: {}", h["from"], h["to"], h["reason"]);
        }
        assert_eq!(r.state, state, "{id}");
        assert_eq!(v["order"]["status"], clarity, "{id} in Clarity");
        reasons.extend(mine.into_iter().map(|m| (id.to_string(), m)));
    }
    secrets.sort();
    secrets.dedup();

    let unfit: Vec<String> = reasons
        .iter()
        .filter_map(|(id, reason)| {
            let why = leaks(reason, &secrets);
            (!why.is_empty()).then(|| format!("{id}: {reason:?}\n    {}", why.join(", ")))
        })
        .collect();
    assert!(
        unfit.is_empty(),
        "{} of {} Clarity status reasons not fit for a shopper:\n{}",
        unfit.len(),
        reasons.len(),
        unfit.join("\n")
    );

    // The detail stays on our timeline.
    let dec = s.record("ORD-SR-DEC").await;
    assert!(
        dec.timeline
            .iter()
            .any(|e| e.why.contains("PROCESSOR_DECLINED") && e.why.contains(ROUTES[0].0)),
        "the decline's detail is on the timeline"
    );
    for (id, _, _) in expect {
        assert!(
            reasons.iter().any(|(o, _)| o == id),
            "{id}: Clarity got no status reason at all"
        );
    }
    // The reasons come from the one table: "<code>: <message>".
    let code_of = |id: &str| -> Vec<String> {
        reasons
            .iter()
            .filter(|(o, _)| o == id)
            .filter_map(|(_, r)| r.split_once(": ").map(|(c, _)| c.to_string()))
            .collect()
    };
    assert!(code_of("ORD-SR-DEC").contains(&"payment_declined".to_string()));
    assert!(code_of("ORD-SR-3DS").contains(&"payment_authentication_required".to_string()));
    assert!(code_of("ORD-SR-DMD").contains(&"payment_not_completed".to_string()));
    assert!(code_of("ORD-SR-REV").contains(&"order_review".to_string()));
    assert!(code_of("ORD-SR-CBW").contains(&"payment_disputed".to_string()));
    assert!(code_of("ORD-SR-CBL").contains(&"payment_reversed".to_string()));
}
