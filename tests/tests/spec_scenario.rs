//! Issue 14, the merchant scenario: a merchant's integration team changes only the spec —
//! (a) a NetSuite custom field from a Clarity order attribute, (b) capture on shipment, (c) a
//! lookup row for a Clarity status name their instance uses — pushes it, and the next orders
//! follow: the ERP record carries the field, the payment is captured only when NetSuite ships,
//! and the new status name is payable. Then a rollback: the next order follows the old version
//! while an order in flight keeps the one it pinned. No build between the steps: the functions
//! running here are the ones started at the beginning; the spec goes through the same
//! `o2c_spec::ops::push` / `rollback` that `o2c spec push` / `rollback` call.
//!
//!     cargo test -p o2c-e2e --test spec_scenario -- --nocapture

mod common;

use common::{Options, Stack};
use o2c_domain::model::CapturePolicy;
use o2c_domain::OrderState;
use o2c_spec::document::load_dir;
use o2c_spec::ops::{self, Actor, Pushed};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// A Clarity order as the merchant's Clarity sends it: made by the simulator (no webhook),
/// then given the merchant's own status name and a gift message attribute.
async fn merchant_order(s: &Stack, id: &str, status: &str) -> Value {
    s.clarity_order(
        id,
        "buyer",
        "USD",
        json!({"emit": false, "metadata": {"channel": "web", "gift_message": format!("Happy birthday from {id}")}}),
    )
    .await;
    let mut order = s.admin_get("clarity", &format!("orders/{id}")).await["order"].clone();
    order["status"] = json!(status);
    order
}

/// Deliver a signed `order.created` for `order`.
async fn deliver(s: &Stack, order: &Value) -> (u16, Value) {
    let event_id = format!("evt_{}", order["id"].as_str().unwrap());
    let body = serde_json::to_vec(&json!({
        "id": event_id, "type": "order.created", "occurredAt": order["createdAt"],
        "payload": {"order": order},
    }))
    .unwrap();
    s.deliver_clarity(&event_id, "order.created", body).await
}

async fn sales_order(s: &Stack, id: &str) -> Value {
    s.admin_get("netsuite", &format!("records/salesOrder/eid:clr-so-{id}"))
        .await["record"]
        .clone()
}

async fn ship(s: &Stack, id: &str) -> Value {
    s.admin(
        "netsuite",
        "fulfillments",
        json!({"salesOrder": format!("eid:clr-so-{id}"), "trackingNumber": format!("1Z{id}"), "shipMethod": "UPS Ground"}),
    )
    .await;
    let report = s
        .erp_poller()
        .await
        .run(json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}))
        .await
        .unwrap();
    s.drain().await;
    report
}

/// Copy `config/` to a temporary directory the merchant edits.
fn spec_copy(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(o2c_e2e::repo_root().join("config")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{file}: no {from:?}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merchant_changes_mappings_rules_and_lookups_by_spec_alone_then_rolls_back() {
    let s = Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await;
    let table = o2c_aws::DynamoOrderStore::from_conf(&s.sdk, s.aws.var("TABLE_NAME"));
    let actor = Actor {
        by: "merchant".into(),
        at: "2026-12-07T12:00:00.000Z".into(),
    };

    // The default spec as the stage's first version.
    let (doc, sources) = load_dir(&o2c_e2e::repo_root().join("config")).unwrap();
    let v1 = ops::push(&table, &doc, &sources, &actor, "default")
        .await
        .unwrap();
    assert_eq!(
        v1,
        Pushed::Activated {
            version: "v1".into(),
            previous: None
        }
    );

    // Under it, the merchant's status name is unknown: recorded, never charged.
    let before = merchant_order(&s, "ORD-SPEC-BEFORE", "awaiting_payment").await;
    let (code, body) = deliver(&s, &before).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("not_payable")),
        "{body}"
    );

    // The merchant edits the spec only.
    let dir = std::env::temp_dir().join(format!("o2c-spec-scenario-{}", std::process::id()));
    spec_copy(&dir);
    edit(&dir, "mappings.yaml", "      custbody_o2c_order_id: .order.id\n      custbody_o2c_currency: .order.currency\n      custbody_o2c_tax_total",
        "      custbody_o2c_order_id: .order.id\n      custbody_gift_message: .order.attributes.gift_message // empty\n      custbody_o2c_currency: .order.currency\n      custbody_o2c_tax_total");
    edit(
        &dir,
        "spec.yaml",
        "    default: on_accept",
        "    default: on_shipment",
    );
    edit(
        &dir,
        "spec.yaml",
        "    default: on_request",
        "    default: on_receipt",
    );
    edit(
        &dir,
        "mappings.yaml",
        "    expr: '{}'",
        "    expr: '{merchantDefinedInformation: [{key: \"1\", value: .order.channel}, {key: \"2\", value: .order.ship_to.country // .order.bill_to.country | country_name}]}'",
    );
    edit(
        &dir,
        "spec.yaml",
        "\nrules:\n",
        "\nrates:\n  as_of: \"2026-12-01\"\n  source: ECB\n  pairs:\n    USD/EUR: \"0.9231\"\n\nrules:\n",
    );
    edit(
        &dir,
        "lookups.yaml",
        "      pending_payment: pending_payment\n",
        "      pending_payment: pending_payment\n      awaiting_payment: pending_payment\n",
    );
    let (doc, sources) = load_dir(&dir).unwrap();
    let v2 = ops::push(
        &table,
        &doc,
        &sources,
        &actor,
        "gift message, capture on shipment, awaiting_payment, refund on receipt, MDD",
    )
    .await
    .unwrap();
    assert_eq!(
        v2,
        Pushed::Activated {
            version: "v2".into(),
            previous: Some("v1".into())
        }
    );

    // (c) the new status name is payable; (a) the sales order carries the attribute; (b) the
    // authorization is not captured until NetSuite ships.
    let a = merchant_order(&s, "ORD-SPEC-A", "awaiting_payment").await;
    let (code, body) = deliver(&s, &a).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (202, Some("accepted")),
        "{body}"
    );
    let inflight = merchant_order(&s, "ORD-SPEC-INFLIGHT", "pending_payment").await;
    assert_eq!(deliver(&s, &inflight).await.0, 202);
    s.drain().await;
    for id in ["ORD-SPEC-A", "ORD-SPEC-INFLIGHT"] {
        let r = s.record(id).await;
        assert_eq!(
            r.state,
            OrderState::Authorized,
            "{id}: authorized, waiting for the shipment"
        );
        assert_eq!(r.order.spec_version.as_deref(), Some("v2"));
        assert_eq!(r.order.capture_policy, Some(CapturePolicy::OnShipment));
        assert!(
            r.timeline.iter().any(|e| e.what == "spec.pinned"
                && e.why.contains("on_shipment")
                && e.why
                    .contains("rates as of 2026-12-01 (ECB): USD/EUR 0.9231")),
            "{id}"
        );
        let so = sales_order(&s, id).await;
        assert_eq!(
            so["custbody_gift_message"],
            format!("Happy birthday from {id}"),
            "{id}: {so}"
        );
    }
    assert_eq!(s.clarity_status("ORD-SPEC-A").await, "pending_payment");
    // (e) the authorization request carries the merchant-defined data the spec added.
    let state = s.admin_get("cybersource", "state").await;
    let auth = state["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["kind"] == "payment"
                && t["code"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("ORD-SPEC-A-"))
        })
        .unwrap_or_else(|| panic!("no authorization for ORD-SPEC-A: {state}"));
    assert_eq!(
        auth["merchantDefinedInformation"],
        json!([{"key": "1", "value": "web"}, {"key": "2", "value": "United States"}]),
        "{auth}"
    );
    let report = ship(&s, "ORD-SPEC-A").await;
    println!("erp poll: {report}");
    assert_eq!(
        report["capturesQueued"],
        json!([{"order": "ORD-SPEC-A"}]),
        "{report}"
    );
    assert_eq!(s.state("ORD-SPEC-A").await, OrderState::Captured);
    assert_eq!(s.clarity_status("ORD-SPEC-A").await, "payment_received");

    // (d) refund on receipt: the return request refunds nothing (noted on the timeline); the
    // receipt of the items refunds, once, however often Clarity says so.
    let ret = s
        .admin(
            "clarity",
            "orders/ORD-SPEC-A/returns",
            json!({"reason": "damaged", "sync": true}),
        )
        .await;
    let ret_id = ret["return"]["id"].as_str().unwrap().to_string();
    s.drain().await;
    assert_eq!(
        s.state("ORD-SPEC-A").await,
        OrderState::Captured,
        "no refund on request"
    );
    let r = s.record("ORD-SPEC-A").await;
    assert!(
        r.timeline
            .iter()
            .any(|e| e.what == "return.requested" && e.why.contains("refund: on_receipt")),
        "{:?}",
        r.timeline
    );
    for _ in 0..2 {
        s.admin(
            "clarity",
            &format!("orders/ORD-SPEC-A/returns/{ret_id}/receive"),
            json!({"sync": true}),
        )
        .await;
        s.drain().await;
    }
    assert_eq!(
        s.state("ORD-SPEC-A").await,
        OrderState::Refunded,
        "refunded on receipt"
    );
    assert_eq!(
        common::ledger_counts(&s.ledger().await, "ORD-SPEC-A").get("refund"),
        Some(&1),
        "one refund for two receipts"
    );

    // Rollback: the next order follows v1 again (captured at once, no gift field); the order in
    // flight keeps v2 (captured when it ships).
    assert_eq!(ops::rollback(&table, None, &actor).await.unwrap(), "v1");
    let after = merchant_order(&s, "ORD-SPEC-AFTER", "pending_payment").await;
    assert_eq!(deliver(&s, &after).await.0, 202);
    s.drain().await;
    let r = s.record("ORD-SPEC-AFTER").await;
    assert_eq!(r.order.spec_version.as_deref(), Some("v1"));
    assert_eq!(r.state, OrderState::Captured, "v1 captures on accept");
    assert!(sales_order(&s, "ORD-SPEC-AFTER")
        .await
        .get("custbody_gift_message")
        .is_none());
    assert_eq!(
        s.state("ORD-SPEC-INFLIGHT").await,
        OrderState::Authorized,
        "in flight: still v2, not captured on accept"
    );
    let report = ship(&s, "ORD-SPEC-INFLIGHT").await;
    assert_eq!(
        report["capturesQueued"],
        json!([{"order": "ORD-SPEC-INFLIGHT"}]),
        "{report}"
    );
    let r = s.record("ORD-SPEC-INFLIGHT").await;
    assert_eq!(r.state, OrderState::Captured);
    assert_eq!(r.order.spec_version.as_deref(), Some("v2"));
    let so = sales_order(&s, "ORD-SPEC-INFLIGHT").await;
    assert_eq!(
        so["custbody_gift_message"], "Happy birthday from ORD-SPEC-INFLIGHT",
        "in flight keeps its mapping: {so}"
    );
    // The unknown status name under v1 is still not payable.
    assert_eq!(s.state("ORD-SPEC-BEFORE").await, OrderState::Received);
    for id in ["ORD-SPEC-A", "ORD-SPEC-INFLIGHT", "ORD-SPEC-AFTER"] {
        let r = s.record(id).await;
        println!(
            "{id} (spec {}):",
            r.order.spec_version.as_deref().unwrap_or("-")
        );
        for e in &r.timeline {
            println!("  {:<22} {}", e.what, e.why);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
