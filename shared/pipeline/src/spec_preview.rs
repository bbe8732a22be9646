//! `o2c spec preview`: every outbound request the pipeline would make for a Clarity event under
//! a spec, and each rule decision with its reason, computed by the code the functions run (the
//! same mapping functions, the same compiled spec). The payment outcome is not known before
//! Cybersource answers, so the outcome-dependent parts are shown per outcome: `accepted`
//! (authorized and captured) and `rejected` (Decision Manager reject).

use crate::payment::reference;
use crate::spec_runtime;
use o2c_connectors::clarity::dto::Order as ClarityOrder;
use o2c_connectors::cybersource::PaymentOutcome;
use o2c_connectors::mapping::clarity::{
    customer_status_reason, customer_to_clarity, order_to_canonical, payment_info, status_to_push,
};
use o2c_connectors::mapping::cybersource::authorization_request_json;
use o2c_connectors::mapping::netsuite::{
    customer_deposit_record, customer_record, sales_order_record, ErpMapping,
};
use o2c_connectors::mapping::salesforce::{fraud_case, CrmMapping, FraudAssessment};
use o2c_connectors::netsuite::ErpRecord;
use o2c_domain::ids::{ExternalIds, PaymentId, RefundId};
use o2c_domain::model::{Payment, Refund, RefundStatus};
use o2c_domain::pii::MaskPolicy;
use o2c_domain::{Money, Order, OrderState, Timestamp};
use o2c_spec::Spec;
use serde_json::{json, Value};
use std::sync::Arc;

/// The Cybersource transaction id the preview pretends the authorization got.
pub const PREVIEW_TRANSACTION: &str = "7000000000000000000000";

/// The Clarity order inside an event file: an API Gateway event (`body`), a webhook envelope
/// (`payload.order`) or the order itself.
pub fn order_of_event(event: &Value) -> Result<Value, String> {
    let event = match event.get("body").and_then(Value::as_str) {
        Some(body) => serde_json::from_str(body).map_err(|e| format!("body is not JSON: {e}"))?,
        None => event.clone(),
    };
    if let Some(order) = event.pointer("/payload/order") {
        return Ok(order.clone());
    }
    if event.get("lineItems").is_some() {
        return Ok(event);
    }
    Err("no Clarity order in the event (expected an API Gateway event, an envelope with payload.order, or an order)".into())
}

fn erp(r: ErpRecord) -> Value {
    let mut path = format!("/record/v1/{}/eid:{}", r.record_type.path(), r.external_id);
    if !r.replace_sublists.is_empty() {
        path.push_str(&format!("?replace={}", r.replace_sublists.join(",")));
    }
    json!({"system": "netsuite", "method": "PUT", "path": path, "body": r.body})
}

fn captured(order: &Order) -> Order {
    let mut o = order.clone();
    o.payment = Some(Payment {
        id: PaymentId::new("preview").expect("valid id"),
        external: ExternalIds {
            cybersource: Some(PREVIEW_TRANSACTION.into()),
            ..ExternalIds::default()
        },
        reference: reference(order, "authorize"),
        authorized: o.total,
        captured: o.total,
        capture_id: None,
        card_brand: Some("visa".into()),
        card_last4: Some("1111".into()),
    });
    o
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The preview of `event` under `spec` (see the module documentation).
pub fn preview(spec: &Arc<Spec>, event: &Value, now: Timestamp) -> Result<Value, String> {
    let raw = order_of_event(event)?;
    let inbound = spec_runtime::inbound_order(spec, &raw).map_err(err)?;
    let wire: ClarityOrder = serde_json::from_value(inbound.clone())
        .map_err(|e| format!("the mapped order does not read as a Clarity order: {e}"))?;
    let mut order = order_to_canonical(&wire).map_err(err)?;
    let (_, capture) = spec_runtime::pin(&mut order, spec, now).map_err(err)?;
    let payable = o2c_connectors::mapping::clarity::is_payable(wire.status);
    let erp_cfg = ErpMapping {
        spec: spec.clone(),
        mask: MaskPolicy::Keep,
    };
    let crm_cfg = CrmMapping {
        spec: spec.clone(),
        mask: MaskPolicy::Keep,
    };
    let clarity_id = wire.id.clone();
    let mut intake = vec![];
    if payable {
        let r = reference(&order, "authorize");
        intake.push(json!({
            "system": "cybersource", "method": "POST", "path": "/pts/v2/payments",
            "body": authorization_request_json(&order, &r, &format!("{r}-1"), spec).map_err(err)?,
        }));
    }
    let mut rules =
        vec![json!({"rule": "capture", "policy": capture.policy, "reason": capture.reason})];
    let erp_skip = spec_runtime::erp_skip(spec, &order).map_err(err)?;
    rules.push(match &erp_skip {
        Some(d) => json!({"rule": "erp", "policy": d.policy, "reason": d.reason}),
        None => json!({"rule": "erp", "policy": "sync"}),
    });

    // Accepted: authorized, then captured (per the capture policy).
    let paid = captured(&order);
    let mut accepted = vec![json!({
        "system": "clarity", "method": "PUT", "path": format!("/api/v1/customers/{}", order.customer.external.clarity.clone().unwrap_or_else(|| order.customer.id.to_string())),
        "body": customer_to_clarity(spec, &order).map_err(err)?,
    })];
    let state = OrderState::Captured;
    if let Some(status) = status_to_push(spec, state, wire.status).map_err(err)? {
        accepted.push(json!({
            "system": "clarity", "method": "PATCH", "path": format!("/api/v1/orders/{clarity_id}"),
            "body": {"status": status, "payment": payment_info(spec, &paid, state).map_err(err)?},
            "when": format!("after the capture ({})", order.capture_policy().as_str()),
        }));
    }
    if erp_skip.is_none() {
        accepted.push(erp(customer_record(&order, &erp_cfg).map_err(err)?));
        accepted.push(erp(sales_order_record(&paid, &erp_cfg).map_err(err)?));
        let mut deposit = erp(customer_deposit_record(&paid, &erp_cfg).map_err(err)?);
        deposit["when"] = json!("after the capture");
        accepted.push(deposit);
    }

    // Rejected by Decision Manager: Clarity told, the CRM case if the rule opens one.
    let mut rejected = vec![];
    let reason = customer_status_reason(
        spec,
        OrderState::Rejected,
        Some(&PaymentOutcome::RejectedByFraud),
    )
    .map_err(err)?;
    if let Some(status) = status_to_push(spec, OrderState::Rejected, wire.status).map_err(err)? {
        rejected.push(json!({
            "system": "clarity", "method": "PATCH", "path": format!("/api/v1/orders/{clarity_id}"),
            "body": {"status": status, "statusReason": reason},
        }));
    }
    let record = o2c_domain::ports::OrderRecord::received(
        order.clone(),
        o2c_domain::TimelineEntry::new(now, "preview", "preview"),
    );
    let d = spec_runtime::crm_case(
        spec,
        &record,
        "AUTHORIZED_RISK_DECLINED",
        "REJECT",
        true,
        false,
    )
    .map_err(err)?;
    rules.push(
        json!({"rule": "crm_case", "outcome": "rejected", "policy": d.policy, "reason": d.reason}),
    );
    if d.policy == "open" {
        let fraud = FraudAssessment {
            transaction_id: PREVIEW_TRANSACTION.into(),
            decision: "REJECT".into(),
            reason: Some("DECISION_PROFILE_REJECT".into()),
            score: None,
            rules: vec![],
            profile: None,
        };
        let case = fraud_case(&order, &fraud, &crm_cfg).map_err(err)?;
        rejected.push(json!({
            "system": "salesforce", "method": "PATCH",
            "path": format!("/sobjects/Case/{}/{}", case.external_id_field, case.external_id),
            "body": case.fields,
        }));
    }
    // A full return of the order: which of its events refunds.
    let full_return = Refund {
        id: RefundId::new("RET-preview").expect("valid id"),
        external: ExternalIds::default(),
        reference: reference(&order, "refund-RET-preview"),
        amount: order.total,
        reason: "return".into(),
        status: RefundStatus::Requested,
        requested_at: now,
    };
    let d = spec_runtime::refund_trigger(spec, &paid, &full_return, "requested", order.lines.len())
        .map_err(err)?;
    rules.push(json!({"rule": "refund", "return": "full", "policy": d.policy, "reason": d.reason}));
    let zero = Money::zero(order.currency());
    Ok(json!({
        "spec": {"version": spec.version, "hash": spec.hash, "label": spec.document.version},
        "order": {
            "id": order.id.as_str(), "clarity_id": clarity_id, "clarity_status": wire.status,
            "payable": payable, "total": order.total.to_decimal_string(),
            "currency": order.currency().code(), "attributes": order.attributes,
            "shipping": order.shipping.unwrap_or(zero).to_decimal_string(),
        },
        "rules": rules,
        "requests": {"intake": intake, "accepted": accepted, "rejected": rejected},
    }))
}
