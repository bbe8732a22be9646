//! Clarity → canonical: orders (with the amount consistency rules of `CLARITY_ASSUMED.md` §A5),
//! customers, addresses, the payment instrument, and return requests → refunds.

use super::*;

fn required<'a>(path: &str, value: &'a str) -> Result<&'a str, MappingError> {
    if value.trim().is_empty() {
        Err(MappingError::missing(path))
    } else {
        Ok(value)
    }
}

fn nonblank<T: Clone + std::ops::Deref<Target = str>>(v: &Option<T>) -> Option<T> {
    v.as_ref().filter(|s| !s.trim().is_empty()).cloned()
}

/// A Clarity address → canonical (company and email are not part of the canonical address).
pub fn address_to_canonical(path: &str, a: &wire::Address) -> Result<Address, MappingError> {
    let country = required(&format!("{path}.countryCode"), &a.country_code)?;
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(MappingError::invalid(
            format!("{path}.countryCode"),
            country,
            "is not an ISO 3166-1 alpha-2 code",
        ));
    }
    Ok(Address {
        first_name: required(&format!("{path}.firstName"), &a.first_name)?.into(),
        last_name: required(&format!("{path}.lastName"), &a.last_name)?.into(),
        line1: required(&format!("{path}.line1"), &a.line1)?.into(),
        line2: nonblank(&a.line2),
        city: required(&format!("{path}.city"), &a.city)?.to_owned(),
        region: nonblank(&a.region),
        postal_code: a.postal_code.clone().unwrap_or_default(),
        country: country.to_owned(),
        phone: nonblank(&a.phone),
    })
}

fn nonzero(m: Money) -> Option<Money> {
    (!m.is_zero()).then_some(m)
}

fn check_sum(
    path: &str,
    stated: &str,
    stated_m: Money,
    computed: Money,
    formula: &str,
) -> Result<(), MappingError> {
    if stated_m == computed {
        Ok(())
    } else {
        Err(MappingError::inconsistent(
            path,
            stated,
            format!(
                "does not equal {formula} = {}",
                computed.to_decimal_string()
            ),
        ))
    }
}

/// Is `token` shaped like a JWT (three non-empty base64url segments)?
pub fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

/// The payment instrument of an order: `instrumentToken` is a transient token (JWT) or a TMS
/// payment-instrument id, which then needs `tmsCustomerId` (CLARITY_ASSUMED.md §A2).
pub fn instrument_from_payment(
    path: &str,
    payment: Option<&PaymentInfo>,
) -> Result<PaymentInstrument, MappingError> {
    let token_path = format!("{path}.instrumentToken");
    let token = payment
        .and_then(|p| nonblank(&p.instrument_token))
        .ok_or_else(|| MappingError::missing(&token_path))?;
    if contains_card_number(&token) {
        return Err(MappingError::card_data(token_path));
    }
    if looks_like_jwt(&token) {
        return Ok(PaymentInstrument::TransientToken { jwt: token });
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(MappingError::invalid(
            token_path,
            "[token]",
            "is neither a transient-token JWT nor a TMS id",
        ));
    }
    let customer_path = format!("{path}.tmsCustomerId");
    let customer_id = payment
        .and_then(|p| nonblank(&p.tms_customer_id))
        .ok_or_else(|| MappingError::missing(&customer_path))?;
    if contains_card_number(&customer_id) {
        return Err(MappingError::card_data(customer_path));
    }
    Ok(PaymentInstrument::Tms {
        customer_id,
        payment_instrument_id: token.into_inner(),
    })
}

fn customer(o: &wire::Order, bill_to: &Address) -> Result<Customer, MappingError> {
    let c: &CustomerRef = &o.customer;
    let id = CustomerId::new(c.id.clone()).map_err(|_| {
        MappingError::invalid(
            "order.customer.id",
            &c.id,
            "is not a usable id (1-64 of A-Z a-z 0-9 - _ .)",
        )
    })?;
    let email = required("order.customer.email", &c.email)?;
    if !email.contains('@') {
        return Err(MappingError::invalid(
            "order.customer.email",
            email,
            "is not an email address",
        ));
    }
    Ok(Customer {
        id,
        external: ExternalIds {
            clarity: Some(c.id.clone()),
            ..ExternalIds::default()
        },
        email: email.into(),
        first_name: nonblank(&c.first_name).unwrap_or_else(|| bill_to.first_name.clone()),
        last_name: nonblank(&c.last_name).unwrap_or_else(|| bill_to.last_name.clone()),
        phone: bill_to.phone.clone(),
    })
}

fn totals(
    o: &wire::Order,
    cur: Currency,
    lines: &[(LineItem, Money)],
) -> Result<(Option<Money>, Money), MappingError> {
    let t: &Totals = &o.totals;
    let subtotal = money("order.totals.subtotal", &t.subtotal, cur)?;
    let discount = money("order.totals.discountTotal", &t.discount_total, cur)?;
    let shipping = money("order.totals.shippingTotal", &t.shipping_total, cur)?;
    let tax = money("order.totals.taxTotal", &t.tax_total, cur)?;
    let grand = money("order.totals.grandTotal", &t.grand_total, cur)?;
    let sum = |f: &dyn Fn(&LineItem) -> Result<Money, o2c_domain::MoneyError>, path: &str| {
        lines
            .iter()
            .map(|(l, _)| f(l))
            .try_fold(Money::zero(cur), |acc, m| acc.checked_add(&m?))
            .map_err(|e| arith(path, e))
    };
    let computed_sub = sum(
        &|l| l.unit_price.checked_mul(l.quantity),
        "order.totals.subtotal",
    )?;
    check_sum(
        "order.totals.subtotal",
        &t.subtotal,
        subtotal,
        computed_sub,
        "the sum of quantity × unitPrice",
    )?;
    let computed_disc = sum(
        &|l| Ok(l.discount.unwrap_or(Money::zero(cur))),
        "order.totals.discountTotal",
    )?;
    check_sum(
        "order.totals.discountTotal",
        &t.discount_total,
        discount,
        computed_disc,
        "the sum of the lines' discountTotal",
    )?;
    let computed_tax = sum(
        &|l| Ok(l.tax.unwrap_or(Money::zero(cur))),
        "order.totals.taxTotal",
    )?;
    check_sum(
        "order.totals.taxTotal",
        &t.tax_total,
        tax,
        computed_tax,
        "the sum of the lines' taxTotal",
    )?;
    if shipping.is_negative() {
        return Err(MappingError::invalid(
            "order.totals.shippingTotal",
            &t.shipping_total,
            "is negative",
        ));
    }
    let computed_grand = subtotal
        .checked_sub(&discount)
        .and_then(|m| m.checked_add(&shipping))
        .and_then(|m| m.checked_add(&tax))
        .map_err(|e| arith("order.totals.grandTotal", e))?;
    check_sum(
        "order.totals.grandTotal",
        &t.grand_total,
        grand,
        computed_grand,
        "subtotal − discountTotal + shippingTotal + taxTotal",
    )?;
    if grand.minor() <= 0 {
        return Err(MappingError::inconsistent(
            "order.totals.grandTotal",
            &t.grand_total,
            "must be positive",
        ));
    }
    Ok((nonzero(shipping), grand))
}

/// A Clarity order → the canonical [`Order`]. Our order id is the Clarity order id (it must be
/// 1–64 of `A-Z a-z 0-9 - _ .`); `external.clarity` keeps it too.
pub fn order_to_canonical(o: &wire::Order) -> Result<Order, MappingError> {
    let id = OrderId::new(o.id.clone()).map_err(|_| {
        MappingError::invalid(
            "order.id",
            &o.id,
            "is not a usable id (1-64 of A-Z a-z 0-9 - _ .)",
        )
    })?;
    let cur = read_currency("order.currency", &o.currency)?;
    let bill_to = address_to_canonical("order.billingAddress", &o.billing_address)?;
    let ship_to = match &o.shipping_address {
        Some(a) => {
            Some(address_to_canonical("order.shippingAddress", a)?).filter(|s| *s != bill_to)
        }
        None => None,
    };
    if o.line_items.is_empty() {
        return Err(MappingError::missing("order.lineItems"));
    }
    let mut lines = Vec::with_capacity(o.line_items.len());
    for (i, l) in o.line_items.iter().enumerate() {
        let p = |f: &str| format!("order.lineItems[{i}].{f}");
        if l.quantity == 0 {
            return Err(MappingError::invalid(
                p("quantity"),
                "0",
                "must be at least 1",
            ));
        }
        let unit_price = money(&p("unitPrice"), &l.unit_price, cur)?;
        let discount = money(&p("discountTotal"), &l.discount_total, cur)?;
        let tax = money(&p("taxTotal"), &l.tax_total, cur)?;
        let stated = money(&p("lineTotal"), &l.line_total, cur)?;
        for (f, m, raw) in [
            ("unitPrice", unit_price, &l.unit_price),
            ("discountTotal", discount, &l.discount_total),
            ("taxTotal", tax, &l.tax_total),
        ] {
            if m.is_negative() {
                return Err(MappingError::invalid(p(f), raw, "is negative"));
            }
        }
        let line = LineItem {
            sku: required(&p("sku"), &l.sku)?.to_owned(),
            name: l.name.clone(),
            quantity: l.quantity,
            unit_price,
            tax: nonzero(tax),
            discount: nonzero(discount),
        };
        let computed = line.total().map_err(|e| arith(&p("lineTotal"), e))?;
        check_sum(
            &p("lineTotal"),
            &l.line_total,
            stated,
            computed,
            "quantity × unitPrice − discountTotal + taxTotal",
        )?;
        lines.push((line, stated));
    }
    let (shipping, total) = totals(o, cur, &lines)?;
    let instrument = instrument_from_payment("order.payment", o.payment.as_ref())?;
    let created_at = Timestamp::parse_rfc3339(&o.created_at).ok_or_else(|| {
        MappingError::invalid("order.createdAt", &o.created_at, "is not an RFC 3339 time")
    })?;
    let customer = customer(o, &bill_to)?;
    let order = Order {
        id,
        external: ExternalIds {
            clarity: Some(o.id.clone()),
            ..ExternalIds::default()
        },
        customer,
        bill_to,
        ship_to,
        lines: lines.into_iter().map(|(l, _)| l).collect(),
        shipping,
        total,
        instrument,
        channel: o
            .metadata
            .as_ref()
            .and_then(|m| m.get("channel"))
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty()),
        attributes: o.metadata.clone().unwrap_or_default(),
        spec_version: None,
        capture_policy: None,
        payment: None,
        refunds: Vec::new(),
        chargebacks: Vec::new(),
        created_at,
    };
    // Holds by construction; a failure here is a bug in the checks above.
    order.validate_amounts().map_err(|e| {
        MappingError::inconsistent(
            "order.totals.grandTotal",
            &o.totals.grand_total,
            e.to_string(),
        )
    })?;
    Ok(order)
}

// Returns → refunds

/// A `return.requested` request → a canonical [`Refund`] (status `Requested`). The refund id is
/// the return id; `reference` is the deterministic reference sent to Cybersource
/// (`<order>-refund-<return>`). `order_currency` must match the return's currency.
pub fn refund_from_return(request: &ReturnRequest, order: &Order) -> Result<Refund, MappingError> {
    let cur = read_currency("return.currency", &request.currency)?;
    if cur != order.currency() {
        return Err(MappingError::inconsistent(
            "return.currency",
            &request.currency,
            format!("differs from the order's currency {}", order.currency()),
        ));
    }
    if order
        .external
        .clarity
        .as_deref()
        .is_some_and(|c| c != request.order_id)
    {
        return Err(MappingError::inconsistent(
            "return.orderId",
            &request.order_id,
            format!("is not order {}", order.id),
        ));
    }
    let amount = money("return.refundAmount", &request.refund_amount, cur)?;
    if amount.minor() <= 0 {
        return Err(MappingError::invalid(
            "return.refundAmount",
            &request.refund_amount,
            "must be positive",
        ));
    }
    let mut lines_sum = Money::zero(cur);
    for (i, l) in request.lines.iter().enumerate() {
        let m = money(&format!("return.lines[{i}].amount"), &l.amount, cur)?;
        lines_sum = lines_sum
            .checked_add(&m)
            .map_err(|e| arith("return.lines", e))?;
    }
    let shipping = match &request.shipping_refund {
        Some(s) => money("return.shippingRefund", s, cur)?,
        None => Money::zero(cur),
    };
    if !request.lines.is_empty()
        && amount.minor() > lines_sum.minor().saturating_add(shipping.minor())
    {
        return Err(MappingError::inconsistent(
            "return.refundAmount",
            &request.refund_amount,
            "exceeds the returned lines plus shipping refund",
        ));
    }
    let id = RefundId::new(request.id.clone()).map_err(|_| {
        MappingError::invalid(
            "return.id",
            &request.id,
            "is not a usable id (1-64 of A-Z a-z 0-9 - _ .)",
        )
    })?;
    let requested_at = Timestamp::parse_rfc3339(&request.requested_at).ok_or_else(|| {
        MappingError::invalid(
            "return.requestedAt",
            &request.requested_at,
            "is not an RFC 3339 time",
        )
    })?;
    Ok(Refund {
        reference: format!("{}-refund-{}", order.id, id),
        id,
        external: ExternalIds {
            clarity: Some(request.id.clone()),
            ..ExternalIds::default()
        },
        amount,
        reason: request.reason.clone().unwrap_or_else(|| "return".into()),
        status: RefundStatus::Requested,
        requested_at,
    })
}
