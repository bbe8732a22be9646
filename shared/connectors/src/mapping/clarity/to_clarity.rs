//! Canonical → Clarity: customer, addresses, payment info and whole orders.

use super::*;

/// A canonical address → Clarity's (`postalCode` absent when empty).
pub fn address_to_clarity(a: &Address, email: Option<&str>) -> wire::Address {
    wire::Address {
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        company: None,
        line1: a.line1.clone(),
        line2: a.line2.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: Some(a.postal_code.clone()).filter(|p| !p.is_empty()),
        country_code: a.country.clone(),
        phone: a.phone.clone(),
        email: email.map(Pii::from),
    }
}

/// The spec's `clarity.*` fields mapping `name` read as the contract's type `T` (what the code
/// then sends): a body that does not read as one is a mapping error naming the mapping.
fn spec_body<T: serde::de::DeserializeOwned>(
    spec: &Spec,
    name: &str,
    ctx: &serde_json::Value,
) -> Result<T, MappingError> {
    let fields = spec
        .map_fields(name, ctx)
        .map_err(super::super::netsuite::spec_error)?;
    serde_json::from_value(serde_json::Value::Object(fields)).map_err(|e| {
        MappingError::invalid(
            format!("spec {} mappings.{name}", spec.version),
            "",
            format!("does not read as Clarity's body: {e}"),
        )
    })
}

/// The order's customer as a Clarity customer (E4), with the ERP and CRM ids we hold: the
/// spec's `clarity.customer`.
pub fn customer_to_clarity(spec: &Spec, order: &Order) -> Result<wire::Customer, MappingError> {
    let ctx = serde_json::json!({"order": o2c_spec::context::order(order)});
    spec_body(spec, "clarity.customer", &ctx)
}

/// The payment info Clarity shows for an order in `state` (E2), or `None` when the spec's
/// `clarity.payment_info` gives no `status` for it (nothing attempted yet).
pub fn payment_info(
    spec: &Spec,
    order: &Order,
    state: OrderState,
) -> Result<Option<PaymentInfo>, MappingError> {
    let ctx =
        serde_json::json!({"order": o2c_spec::context::order(order), "state": state.as_str()});
    let info: PaymentInfo = spec_body(spec, "clarity.payment_info", &ctx)?;
    Ok(info.status.is_some().then_some(info))
}

/// A canonical order → a Clarity `Order` (fixtures, simulators, round-trip checks). Line ids
/// are `L1`, `L2`, ...; `shippingAddress` is the bill-to when the order has no separate ship-to.
pub fn order_to_clarity(
    order: &Order,
    status: ClarityStatus,
    version: u64,
) -> Result<wire::Order, MappingError> {
    let cur = order.currency();
    let zero = Money::zero(cur);
    let dec = |m: Money| m.to_decimal_string();
    let mut line_items = Vec::with_capacity(order.lines.len());
    let (mut sub, mut disc, mut tax) = (zero, zero, zero);
    for (i, l) in order.lines.iter().enumerate() {
        let path = format!("order.lines[{i}]");
        let net = l
            .unit_price
            .checked_mul(l.quantity)
            .map_err(|e| arith(&path, e))?;
        let d = l.discount.unwrap_or(zero);
        let t = l.tax.unwrap_or(zero);
        let total = l.total().map_err(|e| arith(&path, e))?;
        sub = sub.checked_add(&net).map_err(|e| arith(&path, e))?;
        disc = disc.checked_add(&d).map_err(|e| arith(&path, e))?;
        tax = tax.checked_add(&t).map_err(|e| arith(&path, e))?;
        line_items.push(wire::LineItem {
            id: format!("L{}", i + 1),
            sku: l.sku.clone(),
            name: l.name.clone(),
            quantity: l.quantity,
            unit_price: dec(l.unit_price),
            discount_total: dec(d),
            tax_total: dec(t),
            line_total: dec(total),
        });
    }
    let instrument_token = match &order.instrument {
        PaymentInstrument::TransientToken { jwt } => (jwt.clone(), None),
        PaymentInstrument::Tms {
            customer_id,
            payment_instrument_id,
        } => (Pii::from(payment_instrument_id), Some(customer_id.clone())),
    };
    let created = order.created_at.to_rfc3339();
    let email = order.customer.email.as_str();
    Ok(wire::Order {
        id: order
            .external
            .clarity
            .clone()
            .unwrap_or_else(|| order.id.to_string()),
        order_number: order.id.to_string(),
        status,
        currency: cur.code().to_owned(),
        customer: CustomerRef {
            id: order
                .customer
                .external
                .clarity
                .clone()
                .unwrap_or_else(|| order.customer.id.to_string()),
            email: email.into(),
            first_name: Some(order.customer.first_name.clone()),
            last_name: Some(order.customer.last_name.clone()),
        },
        billing_address: address_to_clarity(&order.bill_to, Some(email)),
        shipping_address: Some(address_to_clarity(
            order.ship_to.as_ref().unwrap_or(&order.bill_to),
            Some(email),
        )),
        line_items,
        totals: Totals {
            subtotal: dec(sub),
            discount_total: dec(disc),
            shipping_total: dec(order.shipping.unwrap_or(zero)),
            tax_total: dec(tax),
            grand_total: dec(order.total),
        },
        payment: Some(PaymentInfo {
            processor: Some("cybersource".into()),
            status: Some(PaymentStatus::None),
            instrument_token: Some(instrument_token.0),
            tms_customer_id: instrument_token.1,
            ..PaymentInfo::default()
        }),
        status_reason: None,
        metadata: None,
        created_at: created.clone(),
        updated_at: created,
        version,
    })
}
