//! The input of every expression: the canonical order (and the refund, chargeback or fraud
//! assessment at hand) as JSON, built by code. Amounts are exact decimal strings (`"107.99"`),
//! with integer minor units beside the order total (`total_minor`) for comparisons; absent
//! values are `null`. `crate::catalog::sample_order` shows every field.

use o2c_domain::model::{Address, Chargeback, ChargebackStatus, Order, Refund};
use o2c_domain::money::Money;
use serde_json::{json, Value};

fn money(m: Money) -> Value {
    Value::String(m.to_decimal_string())
}

fn opt_money(m: Option<Money>) -> Value {
    m.map(money).unwrap_or(Value::Null)
}

fn address(a: &Address) -> Value {
    json!({
        "first_name": a.first_name.as_str(),
        "last_name": a.last_name.as_str(),
        "line1": a.line1.as_str(),
        "line2": a.line2.as_ref().map(|l| l.as_str()),
        "city": a.city,
        "region": a.region,
        "postal_code": a.postal_code.as_str(),
        "country": a.country,
        "phone": a.phone.as_ref().map(|p| p.as_str()),
    })
}

/// The order as expressions see it (`.order`).
pub fn order(o: &Order) -> Value {
    let cur = o.currency();
    let zero = Money::zero(cur);
    let mut tax_total = Some(zero);
    let lines: Vec<Value> = o
        .lines
        .iter()
        .map(|l| {
            tax_total = tax_total.and_then(|t| t.checked_add(&l.tax.unwrap_or(zero)).ok());
            let amount = l
                .unit_price
                .checked_mul(l.quantity)
                .and_then(|m| m.checked_sub(&l.discount.unwrap_or(zero)))
                .ok();
            json!({
                "sku": l.sku,
                "name": l.name,
                "quantity": l.quantity,
                "unit_price": money(l.unit_price),
                "discount": opt_money(l.discount),
                "tax": opt_money(l.tax),
                "amount": opt_money(amount),
                "total": opt_money(l.total().ok()),
            })
        })
        .collect();
    let created = o.created_at.to_rfc3339();
    let c = &o.customer;
    json!({
        "id": o.id.as_str(),
        "clarity_id": o.external.clarity.clone().unwrap_or_else(|| o.id.to_string()),
        "currency": cur.code(),
        "created_at": created,
        "created_date": &created[..10.min(created.len())],
        "channel": o.channel,
        "attributes": o.attributes,
        "customer": {
            "id": c.id.as_str(),
            "clarity_id": c.external.clarity.clone().unwrap_or_else(|| c.id.to_string()),
            "first_name": c.first_name.as_str(),
            "last_name": c.last_name.as_str(),
            "email": c.email.as_str(),
            "phone": c.phone.as_ref().map(|p| p.as_str()),
            "erp_id": c.external.erp,
            "crm_id": c.external.crm,
        },
        "bill_to": address(&o.bill_to),
        "ship_to": o.ship_to.as_ref().map(address),
        "lines": lines,
        "shipping": opt_money(o.shipping),
        "total": money(o.total),
        "total_minor": o.total.minor(),
        "tax_total": opt_money(tax_total),
        "payment": o.payment.as_ref().map(|p| json!({
            "reference": p.reference,
            "transaction_id": p.external.cybersource,
            "authorized": money(p.authorized),
            "captured": money(p.captured),
            "card_brand": p.card_brand,
            "card_last4": p.card_last4,
        })),
    })
}

/// A refund (`.refund`).
pub fn refund(r: &Refund) -> Value {
    let requested = r.requested_at.to_rfc3339();
    json!({
        "id": r.id.as_str(),
        "amount": money(r.amount),
        "reason": r.reason,
        "reference": r.reference,
        "transaction_id": r.external.cybersource,
        "requested_date": &requested[..10.min(requested.len())],
    })
}

/// A customer's return (`.return`): the refund it asks for, the event at hand (`requested`,
/// `received`) and how many lines it returns (0: a refund without returned items).
pub fn return_request(r: &Refund, stage: &str, items: usize) -> Value {
    json!({
        "id": r.id.as_str(),
        "stage": stage,
        "amount": money(r.amount),
        "amount_minor": r.amount.minor(),
        "reason": r.reason,
        "items": items,
    })
}

/// `open`, `won`, `lost`.
pub fn dispute_status(status: ChargebackStatus) -> &'static str {
    match status {
        ChargebackStatus::Open => "open",
        ChargebackStatus::Won => "won",
        ChargebackStatus::Lost => "lost",
    }
}

/// A chargeback (`.chargeback`), with the poller's notes when there are any.
pub fn chargeback(c: &Chargeback, notes: Option<&str>) -> Value {
    let received = c.received_at.to_rfc3339();
    json!({
        "id": c.id.as_str(),
        "amount": money(c.amount),
        "currency": c.amount.currency().code(),
        "reason_code": c.reason_code,
        "status": dispute_status(c.status),
        "received_at": c.received_at.to_string(),
        "received_date": &received[..10.min(received.len())],
        "transaction_id": c.external.cybersource,
        "notes": notes.filter(|n| !n.trim().is_empty()),
    })
}
