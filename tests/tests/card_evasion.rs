//! Issue 12, item 5: a card number the raw-text scan did not see. A signed Clarity
//! `order.created` whose line item name holds a test PAN written (a) with JSON `\u` escapes,
//! (b) with non-breaking spaces between the groups, (c) glued to letters (`PAN4012…`), and a few
//! more disguises, must each be refused with 422 `card_data_refused`: no order in the table,
//! nothing on any queue, nothing sent to NetSuite (or anywhere else) after a drain.
//!
//!     cargo test -p o2c-e2e --test card_evasion -- --nocapture

mod common;

use common::{Options, Stack};
use o2c_domain::OrderId;
use serde_json::json;

/// Replaced, in the serialised body, by the disguised card number (so the JSON escapes reach
/// the receiver exactly as written).
const MARK: &str = "@@CARD@@";

/// `4111111111111111` as `\u0034\u0031…` (JSON escapes of every digit).
fn escaped(pan: &str) -> String {
    pan.chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disguised_card_numbers_in_a_line_item_are_refused() {
    let stack = Stack::start(Options::default()).await;
    let token = stack.transient_token().await;
    let seeded = stack
        .admin(
            "clarity",
            "orders",
            json!({"id": "ORD-CARD-0", "emit": false, "payment": {"instrumentToken": token}}),
        )
        .await;
    let order = seeded["order"].clone();
    assert!(order["lineItems"][0]["name"].is_string(), "{seeded}");

    let cases: Vec<(&str, String)> = vec![
        (
            "json-escaped digits",
            format!("Mug {}", escaped("4111111111111111")),
        ),
        (
            "nbsp between groups",
            "Mug 4111\u{a0}1111\u{a0}1111\u{a0}1111".into(),
        ),
        ("glued to letters", "Mug PAN4012888888881881".into()),
        (
            "escaped nbsp between groups",
            "Mug 5555\\u00a05555\\u00a05555\\u00a04444".into(),
        ),
        (
            "thin spaces",
            "Mug 4111\u{2009}1111\u{2009}1111\u{2009}1111".into(),
        ),
        (
            "en dashes",
            "Mug 4111\u{2013}1111\u{2013}1111\u{2013}1111".into(),
        ),
        (
            "fullwidth digits",
            "Mug ４１１１１１１１１１１１１１１１".into(),
        ),
        (
            "zero-width joiners",
            "Mug 4111\u{200d}1111\u{200d}1111\u{200d}1111".into(),
        ),
    ];

    let before = stack.aws_snapshot().await;
    let mut failures = Vec::new();
    for (n, (case, name)) in cases.iter().enumerate() {
        let id = format!("ORD-CARD-{}", n + 1);
        let event_id = format!("evt_card_{}", n + 1);
        let mut o = order.clone();
        o["id"] = json!(id);
        o["lineItems"][0]["name"] = json!(MARK);
        let body = serde_json::to_string(&json!({
            "id": event_id, "type": "order.created", "occurredAt": "2026-01-20T10:00:00Z",
            "payload": {"order": o}
        }))
        .unwrap()
        .replace(MARK, name)
        .into_bytes();
        let (status, v) = stack
            .deliver_clarity(&event_id, "order.created", body)
            .await;
        let code = v["title"].as_str().unwrap_or_default().to_string();
        let stored = stack
            .store
            .get(&OrderId::new(&id).unwrap())
            .await
            .unwrap()
            .is_some();
        println!("{case:<30} {status} {code:<20} stored={stored}");
        if (status, code.as_str(), stored) != (422, "card_data_refused", false) {
            failures.push(format!(
                "{case}: HTTP {status} {code:?}, order stored: {stored} (expected 422 card_data_refused, not stored)"
            ));
        }
    }
    // Whatever was accepted would now travel on: authorize, capture, ERP and CRM sync.
    stack.drain().await;
    let erp = stack.admin_get("netsuite", "records/salesOrder").await;
    let erp_text = erp.to_string();
    let sent: Vec<usize> = (1..=cases.len())
        .filter(|n| erp_text.contains(&format!("ORD-CARD-{n}")))
        .collect();
    let diff = stack.aws_snapshot().await.diff(&before);

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(sent.is_empty(), "sent to NetSuite: ORD-CARD-{sent:?}");
    assert!(diff.is_empty(), "changed: {diff:#?}");
}
