//! One order through every outbound mapping, through the connectors' public mapping functions
//! (the same calls on a build with hard-coded mappings and on one with the integration spec):
//! authorization request, NetSuite customer / sales order / deposit / refund / chargeback,
//! Salesforce fraud and dispute cases (8 calls; the Clarity bodies changed signature with the
//! spec and are measured by the engine bench). Prints JSON;
//! scripts/bench-spec.sh runs it on two commits side by side.
//!
//!     cargo bench -p o2c-connectors --bench mappings [-- ROUNDS]

use o2c_connectors::clarity::dto::Order as ClarityOrder;
use o2c_connectors::cybersource::dto::RiskInformation;
use o2c_connectors::mapping::clarity::order_to_canonical;
use o2c_connectors::mapping::cybersource::authorization_request_json;
use o2c_connectors::mapping::netsuite::{
    chargeback_record, customer_deposit_record, customer_record, customer_refund_record,
    sales_order_record, ErpMapping,
};
use o2c_connectors::mapping::salesforce::{dispute_case, fraud_case, CrmMapping, FraudAssessment};
use o2c_domain::ids::{ChargebackId, ExternalIds, PaymentId, RefundId};
use o2c_domain::model::{Chargeback, ChargebackStatus, Payment, Refund, RefundStatus};
use o2c_domain::Timestamp;
use std::hint::black_box;
use std::time::Instant;

const EVENT: &str = include_str!("../../../events/apigw-clarity-order-webhook.json");

/// The authorization request: with the spec's request parts, or (built with
/// `--cfg o2c_bench_before`, scripts/bench-spec.sh's hard-coded side) as before the spec.
#[cfg(not(o2c_bench_before))]
fn authorization(order: &o2c_domain::Order) -> serde_json::Value {
    static SPEC: std::sync::OnceLock<std::sync::Arc<o2c_spec::Spec>> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(o2c_spec::bundled);
    authorization_request_json(order, "ORD-1001-authorize", "ORD-1001-authorize-1", spec).unwrap()
}

#[cfg(o2c_bench_before)]
fn authorization(order: &o2c_domain::Order) -> serde_json::Value {
    authorization_request_json(order, "ORD-1001-authorize", "ORD-1001-authorize-1").unwrap()
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(9);
    let event: serde_json::Value = serde_json::from_str(EVENT).unwrap();
    let body: serde_json::Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    let wire: ClarityOrder = serde_json::from_value(body["payload"]["order"].clone()).unwrap();
    let mut order = order_to_canonical(&wire).unwrap();
    let txn = Some("7012345678901234567890".to_string());
    order.payment = Some(Payment {
        id: PaymentId::new("pay-1").unwrap(),
        external: ExternalIds {
            cybersource: txn.clone(),
            ..ExternalIds::default()
        },
        reference: "ORD-1001-authorize".into(),
        authorized: order.total,
        captured: order.total,
        capture_id: None,
        card_brand: Some("visa".into()),
        card_last4: Some("1111".into()),
    });
    let refund = Refund {
        id: RefundId::new("rf-1").unwrap(),
        external: ExternalIds {
            cybersource: txn.clone(),
            ..ExternalIds::default()
        },
        reference: "ORD-1001-refund-1".into(),
        amount: order.total,
        reason: "return".into(),
        status: RefundStatus::Succeeded,
        requested_at: Timestamp::from_millis(1_765_000_000_000),
    };
    let chargeback = Chargeback {
        id: ChargebackId::new("cb-7012345678901234567890").unwrap(),
        external: ExternalIds {
            cybersource: txn,
            ..ExternalIds::default()
        },
        amount: order.total,
        reason_code: "10.4".into(),
        status: ChargebackStatus::Open,
        received_at: Timestamp::from_millis(1_765_300_000_000),
    };
    let risk: RiskInformation = serde_json::from_value(serde_json::json!({
        "profile": {"name": "Default"}, "rules": [{"name": "Velocity", "decision": "REJECT"}],
        "score": {"result": "87"}
    }))
    .unwrap();
    let fraud = FraudAssessment::from_risk(
        "7012345678901234567890",
        "REJECT",
        Some("DECISION_PROFILE_REJECT".into()),
        &risk,
    );
    let erp = ErpMapping::default();
    let crm = CrmMapping::default();
    let per_round = 2000;
    let mut us = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..per_round {
            black_box(authorization(&order));
            black_box(customer_record(&order, &erp).unwrap());
            black_box(sales_order_record(&order, &erp).unwrap());
            black_box(customer_deposit_record(&order, &erp).unwrap());
            black_box(customer_refund_record(&order, &refund, &erp).unwrap());
            black_box(chargeback_record(&order, &chargeback, &erp).unwrap());
            black_box(fraud_case(&order, &fraud, &crm).unwrap());
            black_box(
                dispute_case(&order, &chargeback, Some("Respond by 2026-12-30."), &crm).unwrap(),
            );
        }
        us.push(t.elapsed().as_secs_f64() * 1e6 / per_round as f64);
    }
    us.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{}",
        serde_json::json!({"bench": "mappings", "rounds": rounds, "mappings": 8,
                           "order_all_mappings_us_median": us[us.len() / 2], "order_all_mappings_us_min": us[0]})
    );
}
