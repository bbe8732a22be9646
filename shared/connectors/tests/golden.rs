//! Golden outbound bodies: every request body the mappings produce for a corpus of Clarity
//! orders (the `events/` sample and the order of every e2e scenario, as the Clarity simulator
//! builds it, plus edge shapes: JPY, KWD, EUR with a separate ship-to and quotes, a TMS token
//! with no ship-to and no postal code, a 64-character id), in every situation that sends one:
//! authorization request, ERP customer / sales order / deposit / refunds / chargebacks (open,
//! won, lost, with and without notes), CRM fraud cases (Decision Manager and reviewer) and
//! dispute cases, Clarity customer / payment info / status reasons, masked and unmasked.
//!
//! `tests/golden/outbound.json` was recorded from the hard-coded Rust mappings before the
//! integration spec replaced them; the default spec must reproduce it byte for byte. Re-record
//! (only for an intended change) with `O2C_GOLDEN_RECORD=1 cargo test -p o2c-connectors --test golden`.

use o2c_connectors::clarity::dto::Order as ClarityOrder;
use o2c_connectors::cybersource::dto::RiskInformation;
use o2c_connectors::cybersource::PaymentOutcome;
use o2c_connectors::mapping::clarity::{
    customer_status_reason, customer_to_clarity, order_to_canonical, payment_info,
};
use o2c_connectors::mapping::cybersource::authorization_request_json;
use o2c_connectors::mapping::netsuite::{
    chargeback_record, customer_deposit_record, customer_record, customer_refund_record,
    sales_order_record, ErpMapping,
};
use o2c_connectors::mapping::salesforce::{dispute_case, fraud_case, CrmMapping, FraudAssessment};
use o2c_connectors::netsuite::ErpRecord;
use o2c_connectors::salesforce::CaseRecord;
use o2c_domain::ids::{ChargebackId, ExternalIds, PaymentId, RefundId};
use o2c_domain::model::{Chargeback, ChargebackStatus, Order, Payment, Refund, RefundStatus};
use o2c_domain::money::Money;
use o2c_domain::pii::MaskPolicy;
use o2c_domain::{OrderState, Timestamp};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

fn erp(r: Result<ErpRecord, impl std::fmt::Display>) -> String {
    match r {
        Ok(r) => serde_json::to_string(&json!({
            "recordType": format!("{:?}", r.record_type),
            "externalId": r.external_id,
            "replace": r.replace_sublists,
            "body": r.body,
        }))
        .unwrap(),
        Err(e) => format!("error: {e}"),
    }
}

fn case(r: Result<CaseRecord, impl std::fmt::Display>) -> String {
    match r {
        Ok(r) => serde_json::to_string(&json!({
            "keyField": r.external_id_field,
            "key": r.external_id,
            "fields": r.fields,
        }))
        .unwrap(),
        Err(e) => format!("error: {e}"),
    }
}

fn with_payment(order: &Order, captured: bool) -> Order {
    let mut o = order.clone();
    o.payment = Some(Payment {
        id: PaymentId::new("pay-1").unwrap(),
        external: ExternalIds {
            cybersource: Some("7012345678901234567890".into()),
            ..ExternalIds::default()
        },
        reference: format!("{}-authorize", o.id),
        authorized: o.total,
        captured: if captured {
            o.total
        } else {
            Money::zero(o.currency())
        },
        capture_id: captured.then(|| "7012345678901234567891".into()),
        card_brand: Some("visa".into()),
        card_last4: Some("1111".into()),
    });
    o
}

fn refund(order: &Order, n: i64, amount: Money) -> Refund {
    Refund {
        id: RefundId::new(format!("rf-{n}")).unwrap(),
        external: ExternalIds {
            cybersource: Some(format!("70999{n}")),
            ..ExternalIds::default()
        },
        reference: format!("{}-refund-{n}", order.id),
        amount,
        reason: if n == 1 {
            "return".into()
        } else {
            "cancel after capture".into()
        },
        status: RefundStatus::Succeeded,
        requested_at: Timestamp::from_millis(1_765_000_000_000 + n * 86_400_000),
    }
}

fn chargeback(order: &Order, status: ChargebackStatus) -> Chargeback {
    Chargeback {
        id: ChargebackId::new("cb-7012345678901234567890").unwrap(),
        external: ExternalIds {
            cybersource: Some("7012345678901234567890".into()),
            ..ExternalIds::default()
        },
        amount: order.total,
        reason_code: "10.4".into(),
        status,
        received_at: Timestamp::from_millis(1_765_300_000_000),
    }
}

fn risk() -> RiskInformation {
    serde_json::from_value(json!({
        "profile": {"name": "Default Profile"},
        "rules": [{"name": "Velocity: 3 cards", "decision": "REJECT"}, {"name": "Geo mismatch", "decision": "REVIEW"}, {"decision": "IGNORE"}],
        "score": {"result": "87"}
    }))
    .unwrap()
}

/// Every body for one order, keyed by what it is.
fn bodies(order: &Order, out: &mut BTreeMap<String, String>) {
    let id = order.id.as_str().to_string();
    let mut put = |k: &str, v: String| {
        out.insert(format!("{id} {k}"), v);
    };
    put(
        "cybersource.authorization",
        match authorization_request_json(
            order,
            &format!("{id}-authorize"),
            &format!("{id}-authorize-1"),
            &o2c_spec::bundled(),
        ) {
            Ok(v) => v.to_string(),
            Err(e) => format!("error: {e}"),
        },
    );
    for (mask_name, mask) in [("", MaskPolicy::Keep), (" masked", MaskPolicy::Mask)] {
        let cfg = ErpMapping {
            mask,
            ..ErpMapping::default()
        };
        let crm = CrmMapping {
            mask,
            ..CrmMapping::default()
        };
        let authorized = with_payment(order, false);
        let captured = with_payment(order, true);
        put(
            &format!("erp.customer{mask_name}"),
            erp(customer_record(order, &cfg)),
        );
        put(
            &format!("erp.sales_order{mask_name}"),
            erp(sales_order_record(&authorized, &cfg)),
        );
        put(
            &format!("erp.customer_deposit{mask_name}"),
            erp(customer_deposit_record(&captured, &cfg)),
        );
        put(
            &format!("erp.customer_deposit uncaptured{mask_name}"),
            erp(customer_deposit_record(&authorized, &cfg)),
        );
        let cur = order.currency();
        let part = Money::from_minor(order.total.minor() / 3, cur);
        for (n, amount) in [(1, part), (2, order.total)] {
            let r = refund(order, n, amount);
            put(
                &format!("erp.customer_refund {n}{mask_name}"),
                erp(customer_refund_record(&captured, &r, &cfg)),
            );
        }
        for status in [
            ChargebackStatus::Open,
            ChargebackStatus::Won,
            ChargebackStatus::Lost,
        ] {
            let cb = chargeback(order, status);
            put(
                &format!("erp.chargeback {status:?}{mask_name}"),
                erp(chargeback_record(&captured, &cb, &cfg)),
            );
            for notes in [
                None,
                Some("Respond by 2026-12-30.\nNature: fraud."),
                Some("  "),
            ] {
                put(
                    &format!("crm.dispute_case {status:?} {notes:?}{mask_name}"),
                    case(dispute_case(&captured, &cb, notes, &crm)),
                );
            }
        }
        for (name, decision, reason, risk) in [
            (
                "dm",
                "REJECT",
                Some("DECISION_PROFILE_REJECT".to_string()),
                risk(),
            ),
            (
                "reviewer",
                "REJECT (case review)",
                None,
                RiskInformation::default(),
            ),
            (
                "declined",
                "authorized_risk_declined",
                Some("SCORE_EXCEEDS_THRESHOLD".into()),
                risk(),
            ),
            (
                "text score",
                "REVIEW",
                None,
                serde_json::from_value(json!({"score": "high"})).unwrap(),
            ),
        ] {
            let f = FraudAssessment::from_risk("7012345678901234567890", decision, reason, &risk);
            put(
                &format!("crm.fraud_case {name}{mask_name}"),
                case(fraud_case(&authorized, &f, &crm)),
            );
        }
    }
    let spec = o2c_spec::bundled();
    put(
        "clarity.customer",
        serde_json::to_string(&customer_to_clarity(&spec, order).unwrap()).unwrap(),
    );
    let captured = with_payment(order, true);
    for state in [
        OrderState::Received,
        OrderState::Authorized,
        OrderState::PendingReview,
        OrderState::Declined,
        OrderState::Rejected,
        OrderState::Captured,
        OrderState::Voided,
        OrderState::Refunded,
        OrderState::Disputed,
        OrderState::DisputeWon,
        OrderState::DisputeLost,
    ] {
        put(
            &format!("clarity.payment_info {state}"),
            serde_json::to_string(&payment_info(&spec, &captured, state).unwrap()).unwrap(),
        );
        for (name, outcome) in [
            ("none", None),
            (
                "declined",
                Some(PaymentOutcome::Declined {
                    reason: "INSUFFICIENT_FUND".into(),
                }),
            ),
            ("auth", Some(PaymentOutcome::NeedsAuthentication)),
            ("fraud", Some(PaymentOutcome::RejectedByFraud)),
        ] {
            put(
                &format!("clarity.status_reason {state} {name}"),
                format!(
                    "{:?}",
                    customer_status_reason(&o2c_spec::bundled(), state, outcome.as_ref()).unwrap()
                ),
            );
        }
    }
}

#[test]
fn the_mappings_reproduce_the_recorded_outbound_bodies() {
    let orders: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/orders.json")).unwrap())
            .unwrap();
    let mut out = BTreeMap::new();
    for o in &orders {
        let wire: ClarityOrder = serde_json::from_value(o.clone()).unwrap();
        let order = order_to_canonical(&wire).unwrap_or_else(|e| panic!("{}: {e}", wire.id));
        bodies(&order, &mut out);
    }
    let path = format!("{DIR}/outbound.json");
    if std::env::var_os("O2C_GOLDEN_RECORD").is_some() {
        let text = serde_json::to_string_pretty(&out).unwrap();
        std::fs::write(&path, text + "\n").unwrap();
        eprintln!("recorded {} bodies for {} orders", out.len(), orders.len());
        return;
    }
    let recorded: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut differ = Vec::new();
    for (k, want) in &recorded {
        match out.get(k) {
            Some(got) if got == want => {}
            Some(got) => differ.push(format!("{k}\n  recorded: {want}\n  now:      {got}")),
            None => differ.push(format!("{k}: no longer produced")),
        }
    }
    for k in out.keys().filter(|k| !recorded.contains_key(*k)) {
        differ.push(format!("{k}: not recorded"));
    }
    eprintln!(
        "compared {} bodies for {} orders byte for byte: {} differ",
        recorded.len(),
        orders.len(),
        differ.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
