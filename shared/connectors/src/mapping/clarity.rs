//! Clarity ⇄ canonical.
//!
//! * [`order_to_canonical`]: a Clarity `Order` (§4.4) → [`Order`]. Decimal strings become
//!   [`Money`] exactly in the order's currency; every line and total is checked against the
//!   §4.4 formulas (plus the ASSUMED rule that order-level discount and tax are the sums of the
//!   lines', CLARITY_ASSUMED.md §A5); the ship-to is kept only when it differs from the bill-to;
//!   the payment instrument comes from `payment.instrumentToken` (a transient-token JWT, or a
//!   TMS payment-instrument id with `payment.tmsCustomerId`).
//! * [`order_to_clarity`], [`address_to_clarity`], [`customer_to_clarity`],
//!   [`payment_info`]: canonical → Clarity bodies (E2 payment info, E4 customer).
//! * [`refund_from_return`]: a `return.requested` request → a canonical [`Refund`].
//! * [`STATUS_MAP`]: the **one** Clarity ⇄ domain status table (§4.5).
//! * [`CUSTOMER_REASONS`]: the **one** table of what Clarity's `statusReason` may say (a short
//!   code and a shopper-safe message; the detail stays on our timeline).

use o2c_domain::card::contains_card_number;
use o2c_domain::ids::{CustomerId, ExternalIds, OrderId, RefundId};
use o2c_domain::model::{
    Address, Customer, LineItem, Order, PaymentInstrument, Refund, RefundStatus,
};
use o2c_domain::money::{Currency, Money};
use o2c_domain::pii::Pii;
use o2c_domain::state::OrderState;
use o2c_domain::time::Timestamp;

use super::error::{currency as read_currency, money, MappingError};
use crate::clarity::dto::{
    self as wire, ClarityStatus, CustomerRef, PaymentInfo, PaymentStatus, Totals,
};
use crate::clarity::events::ReturnRequest;

// ---------------------------------------------------------------------------------------------
// Status table
// ---------------------------------------------------------------------------------------------

/// Which way a row of [`STATUS_MAP`] is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Domain → Clarity (what to PATCH) and Clarity → domain.
    Both,
    /// Only what to PATCH when the order is in this domain state.
    ToClarity,
    /// Only how to read this Clarity status.
    FromClarity,
}

use ClarityStatus as C;
use Direction::{Both, FromClarity, ToClarity};
use OrderState as S;

/// The one Clarity ⇄ domain status table (`CLARITY_ASSUMED.md` §A6; CEF keys in its last column).
///
/// Domain states with no `ToClarity`/`Both` row (`Voiding`, `Refunding`, `PartiallyRefunded`,
/// `Refunded`) leave Clarity's status alone: Clarity has no word for them, and the fulfilment
/// statuses (`processing`, `shipped`, `completed`) belong to the merchant. Those fulfilment
/// statuses read as `Captured`: payment is settled.
///
/// Disputes (chargebacks) are `ToClarity` only — Clarity's `on_hold`, `payment_received` and
/// `payment_failed` already read as other states:
/// - `Disputed → on_hold`: stop fulfilment while the issuer holds the funds (the reason text
///   says which chargeback).
/// - `DisputeWon → payment_received`: the funds came back, the payment stands, fulfilment may
///   resume (from `on_hold`, Clarity allows only `payment_received`, not `processing`).
/// - `DisputeLost → payment_failed`: the funds went back to the cardholder, so the order is
///   unpaid. Not `cancelled` (terminal, and wrong for goods already sent) and not `on_hold`
///   forever: `payment_failed` blocks fulfilment and still lets the merchant collect again
///   (`pending_payment`) or cancel.
///
/// Clarity §4.5 allows none of these from `shipped`/`completed`/`cancelled` (see
/// [`clarity_transition_allowed`]): a chargeback on a shipped order cannot move its status.
pub const STATUS_MAP: &[(OrderState, ClarityStatus, Direction)] = &[
    (S::Received, C::PendingPayment, Both),
    (S::Authorizing, C::PendingPayment, ToClarity),
    (S::Authorized, C::PendingPayment, ToClarity),
    (S::Capturing, C::PendingPayment, ToClarity),
    (S::PendingReview, C::OnHold, Both),
    (S::Declined, C::PaymentFailed, Both),
    (S::Rejected, C::PaymentFailed, ToClarity),
    (S::Captured, C::PaymentReceived, Both),
    (S::Captured, C::Processing, FromClarity),
    (S::Captured, C::Shipped, FromClarity),
    (S::Captured, C::Completed, FromClarity),
    (S::Voided, C::Cancelled, Both),
    (S::Disputed, C::OnHold, ToClarity),
    (S::DisputeWon, C::PaymentReceived, ToClarity),
    (S::DisputeLost, C::PaymentFailed, ToClarity),
];

/// Clarity's allowed status changes (`CLARITY_ASSUMED.md` §A6); any other change answers 409
/// `invalid_status_transition`, and setting the current status again is a no-op.
pub const CLARITY_TRANSITIONS: &[(ClarityStatus, &[ClarityStatus])] = &[
    (
        C::PendingPayment,
        &[
            C::PaymentReceived,
            C::PaymentFailed,
            C::OnHold,
            C::Cancelled,
        ],
    ),
    (
        C::PaymentFailed,
        &[C::PendingPayment, C::OnHold, C::Cancelled],
    ),
    (
        C::OnHold,
        &[
            C::PaymentReceived,
            C::PaymentFailed,
            C::Cancelled,
            C::PendingPayment,
        ],
    ),
    (
        C::PaymentReceived,
        &[C::Processing, C::OnHold, C::Cancelled],
    ),
    (C::Processing, &[C::Shipped, C::OnHold, C::Cancelled]),
    (C::Shipped, &[C::Completed]),
    (C::Completed, &[]),
    (C::Cancelled, &[]),
];

/// May a Clarity order move from `from` to `to` (§4.5)? Staying put is always allowed.
pub fn clarity_transition_allowed(from: ClarityStatus, to: ClarityStatus) -> bool {
    from == to
        || CLARITY_TRANSITIONS
            .iter()
            .any(|(f, tos)| *f == from && tos.contains(&to))
}

/// The Clarity status an order in `state` should show, or `None` to leave it alone.
pub fn clarity_status_for(state: OrderState) -> Option<ClarityStatus> {
    STATUS_MAP
        .iter()
        .find(|(s, _, d)| *s == state && *d != FromClarity)
        .map(|(_, c, _)| *c)
}

/// The domain state a Clarity status means.
pub fn domain_state_for(status: ClarityStatus) -> Option<OrderState> {
    STATUS_MAP
        .iter()
        .find(|(_, c, d)| *c == status && *d != ToClarity)
        .map(|(s, _, _)| *s)
}

/// May an order that arrives with this Clarity status start a payment (`order.created`, the
/// catch-up)? The **one** rule; everything else is recorded and acknowledged, never charged.
///
/// Only `pending_payment`: a new order awaiting payment, the one status that reads as our
/// `Received` (nothing attempted yet). Not `payment_received`, `processing`, `shipped`,
/// `completed` (already paid: charging again is a double charge); not `cancelled` (nothing to
/// charge); not `on_hold` (the merchant or a fraud review stopped the order: charging would
/// override that decision; a release comes back as `pending_payment`); not `payment_failed`
/// (a payment was tried and failed: retrying the same instrument would repeat the decline, and
/// a new attempt is the merchant's move back to `pending_payment` with a new instrument); not a
/// status this version does not know (`other`: fail safe).
pub fn is_payable(status: ClarityStatus) -> bool {
    matches!(status, C::PendingPayment)
}

/// What to PATCH for an order in `state` whose Clarity status is `current`: `None` when
/// nothing should change (no mapping, or Clarity already shows something that means the same
/// domain state, e.g. `shipped` for `Captured`; pushing `payment_received` then would move the
/// order backwards).
pub fn status_to_push(state: OrderState, current: ClarityStatus) -> Option<ClarityStatus> {
    let wanted = clarity_status_for(state)?;
    if wanted == current || domain_state_for(current) == Some(state) {
        None
    } else {
        Some(wanted)
    }
}

// ---------------------------------------------------------------------------------------------
// Customer-safe status reasons
// ---------------------------------------------------------------------------------------------

/// A situation Clarity's `statusReason` speaks of. Clarity may show the reason to the shopper,
/// so it is told the situation only, never why we know it: the detail (route and merchant id,
/// Decision Manager and processor reason codes, the chargeback's reason code and transaction)
/// stays on our timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonCase {
    /// The issuer or processor declined the payment.
    Declined,
    /// The issuer wants payer authentication (3-D Secure) before it authorizes.
    AuthenticationRequired,
    /// The payment ended otherwise: a Decision Manager reject (at once or by a reviewer), a
    /// request Cybersource refused, an answer we could not read. One neutral message for all:
    /// a buyer is never told they were screened.
    NotCompleted,
    /// Decision Manager opened a case; the order waits for a reviewer.
    UnderReview,
    /// We cancelled the order (the authorization was reversed).
    Cancelled,
    /// A chargeback was opened; the order is on hold while it runs.
    Disputed,
    /// The chargeback was reversed: the payment stands.
    DisputeWon,
    /// The chargeback was final: the funds went back to the cardholder.
    DisputeLost,
}

/// One row of [`CUSTOMER_REASONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerReason {
    pub case: ReasonCase,
    /// Short, stable, `snake_case`: for Clarity-side rules and templates.
    pub code: &'static str,
    /// Neutral, shopper-safe text.
    pub message: &'static str,
}

impl CustomerReason {
    /// What goes into Clarity's `statusReason`: `"<code>: <message>"` (a storefront shows the
    /// text after the first `": "`; the code is never more than `[a-z_]`).
    pub fn status_reason(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }
}

/// The **one** table of what Clarity (and so the shopper) is told with a status; nothing else
/// ever goes into `statusReason`. Messages carry no digits, no ids, no reason codes, and never
/// name fraud screening, Decision Manager or a payment route.
pub const CUSTOMER_REASONS: &[CustomerReason] = &[
    CustomerReason {
        case: ReasonCase::Declined,
        code: "payment_declined",
        message: "The payment was declined. Please use another payment method.",
    },
    CustomerReason {
        case: ReasonCase::AuthenticationRequired,
        code: "payment_authentication_required",
        message:
            "The card issuer needs the payment verified. Please try again or use another card.",
    },
    CustomerReason {
        case: ReasonCase::NotCompleted,
        code: "payment_not_completed",
        message: "The payment could not be completed.",
    },
    CustomerReason {
        case: ReasonCase::UnderReview,
        code: "order_review",
        message: "The order is under review.",
    },
    CustomerReason {
        case: ReasonCase::Cancelled,
        code: "order_cancelled",
        message: "The order was cancelled and the payment released.",
    },
    CustomerReason {
        case: ReasonCase::Disputed,
        code: "payment_disputed",
        message: "The payment is disputed with the card issuer. The order is on hold.",
    },
    CustomerReason {
        case: ReasonCase::DisputeWon,
        code: "payment_dispute_closed",
        message: "The payment dispute is closed and the payment stands.",
    },
    CustomerReason {
        case: ReasonCase::DisputeLost,
        code: "payment_reversed",
        message: "The payment was reversed by the card issuer. The order is unpaid.",
    },
];

/// The row of `case`.
pub fn customer_reason(case: ReasonCase) -> &'static CustomerReason {
    CUSTOMER_REASONS
        .iter()
        .find(|r| r.case == case)
        .expect("every ReasonCase has a row in CUSTOMER_REASONS")
}

/// The situation of an order in `state`, given the outcome of its (last) authorization; `None`:
/// the status speaks for itself and goes without a reason.
pub fn reason_case_for(
    state: OrderState,
    authorization: Option<&crate::cybersource::PaymentOutcome>,
) -> Option<ReasonCase> {
    use crate::cybersource::PaymentOutcome as P;
    Some(match state {
        S::Declined => match authorization {
            Some(P::Declined { .. }) => ReasonCase::Declined,
            Some(P::NeedsAuthentication) => ReasonCase::AuthenticationRequired,
            _ => ReasonCase::NotCompleted,
        },
        S::Rejected => ReasonCase::NotCompleted,
        S::PendingReview => ReasonCase::UnderReview,
        S::Voided => ReasonCase::Cancelled,
        S::Disputed => ReasonCase::Disputed,
        S::DisputeWon => ReasonCase::DisputeWon,
        S::DisputeLost => ReasonCase::DisputeLost,
        _ => return None,
    })
}

/// Clarity's `statusReason` for an order in `state` (see [`reason_case_for`]).
pub fn customer_status_reason(
    state: OrderState,
    authorization: Option<&crate::cybersource::PaymentOutcome>,
) -> Option<String> {
    reason_case_for(state, authorization).map(|c| customer_reason(c).status_reason())
}

// ---------------------------------------------------------------------------------------------
// Clarity → canonical
// ---------------------------------------------------------------------------------------------

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

fn arith(path: &str, e: o2c_domain::MoneyError) -> MappingError {
    MappingError::invalid(path, "", format!("cannot be computed: {e}"))
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

// ---------------------------------------------------------------------------------------------
// Canonical → Clarity
// ---------------------------------------------------------------------------------------------

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

/// The E4 body for an order's customer (full replacement).
pub fn customer_to_clarity(order: &Order) -> wire::Customer {
    let c = &order.customer;
    wire::Customer {
        id: c
            .external
            .clarity
            .clone()
            .unwrap_or_else(|| c.id.to_string()),
        email: c.email.clone(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        company: None,
        phone: c.phone.clone(),
        billing_address: Some(address_to_clarity(&order.bill_to, Some(&c.email))),
        shipping_address: order
            .ship_to
            .as_ref()
            .map(|a| address_to_clarity(a, Some(&c.email))),
        external_ids: (c.external.erp.is_some() || c.external.crm.is_some()).then(|| {
            wire::CustomerExternalIds {
                erp: c.external.erp.clone(),
                crm: c.external.crm.clone(),
            }
        }),
        created_at: None,
        updated_at: None,
        version: None,
    }
}

/// The E2 `payment` member for an order in `state`: status, amount (captured once captured,
/// else authorized), Cybersource transaction id, card brand and last four. `None` before any
/// payment exists.
pub fn payment_info(order: &Order, state: OrderState) -> Option<PaymentInfo> {
    let status = match state {
        S::Received | S::Authorizing => return None,
        S::Authorized | S::Capturing | S::Voiding => PaymentStatus::Authorized,
        S::PendingReview => PaymentStatus::Review,
        S::Declined | S::Rejected => PaymentStatus::Declined,
        S::Voided => PaymentStatus::Voided,
        S::Captured
        | S::Refunding
        | S::PartiallyRefunded
        | S::Refunded
        | S::Disputed
        | S::DisputeWon
        | S::DisputeLost => PaymentStatus::Captured,
    };
    let p = order.payment.as_ref();
    let amount = p.map(|p| {
        if p.captured.is_zero() {
            p.authorized
        } else {
            p.captured
        }
    });
    Some(PaymentInfo {
        processor: Some("cybersource".into()),
        status: Some(status),
        amount: amount.map(|m| m.to_decimal_string()),
        currency: Some(order.currency().code().to_owned()),
        transaction_id: p.and_then(|p| p.external.cybersource.clone()),
        card_brand: p.and_then(|p| p.card_brand.clone()),
        card_last4: p.and_then(|p| p.card_last4.clone()),
        ..PaymentInfo::default()
    })
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

// ---------------------------------------------------------------------------------------------
// Returns → refunds
// ---------------------------------------------------------------------------------------------

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

#[cfg(test)]
pub(crate) mod tests;
