//! A correctly signed Cybersource notification about a transaction we do not know (issue 12,
//! item 4) is acknowledged (200, `unknown_transaction`) on its first delivery and recorded in the
//! unknown-notifications list — no retry storm that could get the subscription disabled. Only our
//! own outage (here: Cybersource's transaction details unavailable) answers 503 for a retry.

mod common;

use common::{Options, Stack};
use o2c_domain::ports::{UnknownNotification, UnknownNotifications};
use o2c_domain::Timestamp;
use serde_json::{json, Value};
use std::time::Duration;

async fn stack() -> Stack {
    Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await
}

/// The unknown-notifications list (what the console and reconciliation read).
async fn unknown_list(s: &Stack) -> Vec<UnknownNotification> {
    let table = o2c_aws::DynamoOrderStore::from_conf(&s.sdk, s.aws.var("TABLE_NAME"));
    table
        .unknown_since(Timestamp::from_millis(0), 100)
        .await
        .unwrap()
}

/// The statuses of every delivery attempt of a notification the simulator sent.
fn attempts(v: &Value) -> Vec<u64> {
    v["notification"]["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("no attempts in {v}"))
        .iter()
        .map(|a| a["status"].as_u64().unwrap_or(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_transaction_is_acknowledged_and_recorded_and_an_outage_is_retried() {
    let s = stack().await;
    // Cybersource's retries, quickly (three in all).
    s.admin(
        "cybersource",
        "config",
        json!({"notify_retries": 2, "notify_retry_interval_ms": 50}),
    )
    .await;

    // A signed review decision about a transaction id Cybersource itself has never issued, with
    // no reference code.
    let unknown = s
        .admin(
            "cybersource",
            "notify",
            json!({"eventType": "risk.casemanagement.decision.accept", "sync": true,
                   "payload": {"data": {"id": "7000000000000000888001", "decision": "ACCEPT"}}}),
        )
        .await;
    println!(
        "unknown transaction: {}",
        unknown["notification"]["attempts"]
    );
    assert_eq!(
        attempts(&unknown),
        [200],
        "acknowledged on the first delivery, no retries"
    );
    let listed = unknown_list(&s).await;
    println!("unknown notifications: {listed:#?}");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let entry = &listed[0];
    assert_eq!(
        entry.transaction_id.as_deref(),
        Some("7000000000000000888001")
    );
    assert_eq!(entry.event_type, "risk.casemanagement.decision.accept");
    assert_eq!(entry.reference, None);
    assert!(entry.organization_id.is_some(), "{entry:?}");
    assert!(entry.expires_at > entry.received_at, "{entry:?}");

    // Our outage: the transaction details (TSS) answer 503; the notification is refused with
    // 503 on every attempt (Cybersource retries later) and nothing is recorded as unknown.
    s.admin(
        "cybersource",
        "faults",
        json!({"operation": "details", "error_rate": 1.0, "status": 503}),
    )
    .await;
    let outage = s
        .admin(
            "cybersource",
            "notify",
            json!({"eventType": "risk.casemanagement.decision.accept", "sync": true,
                   "payload": {"data": {"id": "7000000000000000888002", "decision": "ACCEPT"}}}),
        )
        .await;
    println!("details outage: {}", outage["notification"]["attempts"]);
    assert_eq!(
        attempts(&outage),
        [503, 503, 503],
        "retried while we are down"
    );
    let listed = unknown_list(&s).await;
    assert!(
        listed
            .iter()
            .all(|e| e.transaction_id.as_deref() != Some("7000000000000000888002")),
        "an outage is not an unknown transaction: {listed:?}"
    );
}
