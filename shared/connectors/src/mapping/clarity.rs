//! Clarity ⇄ canonical.
//!
//! * [`order_to_canonical`]: a Clarity `Order` (`CLARITY_ASSUMED.md` §4.4) → [`Order`]. Decimal
//!   strings become [`Money`] exactly in the order's currency; every line and total is checked
//!   against the §4.4 formulas (plus the ASSUMED rule that order-level discount and tax are the
//!   sums of the lines', CLARITY_ASSUMED.md §A5); the ship-to is kept only when it differs from
//!   the bill-to; the payment instrument comes from `payment.instrumentToken` (a transient-token
//!   JWT, or a TMS payment-instrument id with `payment.tmsCustomerId`).
//! * [`order_to_clarity`], [`address_to_clarity`], [`customer_to_clarity`],
//!   [`payment_info`]: canonical → Clarity bodies (E2 payment info, E4 customer).
//! * [`refund_from_return`]: a `return.requested` request → a canonical [`Refund`].
//! * [`clarity_status_for`], [`domain_state_for`]: the Clarity ⇄ domain status table, the
//!   spec's `clarity_status_out` / `clarity_status_in` lookups (`CLARITY_ASSUMED.md` §4.5).
//! * [`CUSTOMER_REASONS`]: the **one** table of what Clarity's `statusReason` may speak of (a
//!   short code; the shopper-safe message is the spec's; the detail stays on our timeline).

use o2c_domain::card::contains_card_number;
use o2c_domain::ids::{CustomerId, ExternalIds, OrderId, RefundId};
use o2c_domain::model::{
    Address, Customer, LineItem, Order, PaymentInstrument, Refund, RefundStatus,
};
use o2c_domain::money::{Currency, Money};
use o2c_domain::pii::Pii;
use o2c_domain::state::OrderState;
use o2c_domain::time::Timestamp;
use o2c_spec::Spec;

use super::error::{currency as read_currency, money, MappingError};
use crate::clarity::dto::{
    self as wire, ClarityStatus, CustomerRef, PaymentInfo, PaymentStatus, Totals,
};
use crate::clarity::events::ReturnRequest;

// ---------------------------------------------------------------------------------------------
// Status table
// ---------------------------------------------------------------------------------------------

use ClarityStatus as C;
use OrderState as S;

// The Clarity ⇄ domain status table is the spec's (`config/lookups.yaml`):
// `clarity_status_out` (the status an order in each domain state should show, `null` = leave
// Clarity's alone) and `clarity_status_in` (the domain state each Clarity status means). The
// bundled rows (CLARITY_ASSUMED.md §A6):
//
// - `Voiding`, `Refunding`, `PartiallyRefunded`, `Refunded` leave Clarity's status alone:
//   Clarity has no word for them, and the fulfilment statuses (`processing`, `shipped`,
//   `completed`) belong to the merchant; those read as `Captured`: payment is settled.
// - Disputes are out only: `Disputed → on_hold` (stop fulfilment while the issuer holds the
//   funds), `DisputeWon → payment_received` (from `on_hold` Clarity allows only that),
//   `DisputeLost → payment_failed` (unpaid; not `cancelled`, terminal and wrong for goods sent).
//   §4.5 allows none of these from `shipped`/`completed`/`cancelled` (see
//   [`clarity_transition_allowed`]): a chargeback on a shipped order cannot move its status.

fn spec_lookup_error(e: o2c_spec::EvalError) -> MappingError {
    super::netsuite::spec_error(e)
}

/// A Clarity status name as the contract knows it (not `other`).
fn known_status(table: &str, v: &serde_json::Value) -> Result<ClarityStatus, MappingError> {
    let s = v.as_str().unwrap_or_default();
    ClarityStatus::ALL
        .into_iter()
        .find(|c| c.to_string() == s)
        .ok_or_else(|| {
            MappingError::invalid(
                format!("spec lookups.{table}"),
                &v.to_string(),
                "is not a Clarity status",
            )
        })
}

/// The Clarity status an order in `state` should show (lookup `clarity_status_out`), or `None`
/// to leave it alone.
pub fn clarity_status_for(
    spec: &Spec,
    state: OrderState,
) -> Result<Option<ClarityStatus>, MappingError> {
    let v = spec
        .lookup("clarity_status_out", state.as_str())
        .map_err(spec_lookup_error)?;
    if v.is_null() {
        return Ok(None);
    }
    known_status("clarity_status_out", &v).map(Some)
}

/// The domain state a Clarity status means (lookup `clarity_status_in`), if any.
pub fn domain_state_for(
    spec: &Spec,
    status: ClarityStatus,
) -> Result<Option<OrderState>, MappingError> {
    let v = spec
        .lookup("clarity_status_in", &status.to_string())
        .map_err(spec_lookup_error)?;
    if v.is_null() {
        return Ok(None);
    }
    let name = v.as_str().unwrap_or_default();
    OrderState::ALL
        .into_iter()
        .find(|s| s.as_str() == name)
        .map(Some)
        .ok_or_else(|| {
            MappingError::invalid(
                "spec lookups.clarity_status_in",
                &v.to_string(),
                "is not an order state",
            )
        })
}

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

/// May a Clarity order move from `from` to `to` (`CLARITY_ASSUMED.md` §4.5)? Staying put is always
/// allowed.
pub fn clarity_transition_allowed(from: ClarityStatus, to: ClarityStatus) -> bool {
    from == to
        || CLARITY_TRANSITIONS
            .iter()
            .any(|(f, tos)| *f == from && tos.contains(&to))
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
pub fn status_to_push(
    spec: &Spec,
    state: OrderState,
    current: ClarityStatus,
) -> Result<Option<ClarityStatus>, MappingError> {
    let Some(wanted) = clarity_status_for(spec, state)? else {
        return Ok(None);
    };
    Ok((wanted != current && domain_state_for(spec, current)? != Some(state)).then_some(wanted))
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
    /// Short, stable, `snake_case`: for Clarity-side rules and templates, and the row of the
    /// spec's `customer_reasons` lookup that holds the text.
    pub code: &'static str,
}

impl CustomerReason {
    /// What goes into Clarity's `statusReason`: `"<code>: <message>"` (a storefront shows the
    /// text after the first `": "`), the message from the spec's `customer_reasons` lookup
    /// (which validation holds to shopper-safe text: no digits, no word of how we know).
    pub fn status_reason(&self, spec: &Spec) -> Result<String, MappingError> {
        let message = spec
            .lookup("customer_reasons", self.code)
            .map_err(super::netsuite::spec_error)?;
        let message = message.as_str().ok_or_else(|| {
            MappingError::invalid(
                format!("spec lookups.customer_reasons.{}", self.code),
                &message.to_string(),
                "must be a text",
            )
        })?;
        Ok(format!("{}: {message}", self.code))
    }
}

/// The **one** table of the situations Clarity (and so the shopper) is told of with a status,
/// and their codes; nothing else ever goes into `statusReason`. The texts are the spec's
/// (`customer_reasons` in `config/lookups.yaml`).
pub const CUSTOMER_REASONS: &[CustomerReason] = &[
    CustomerReason {
        case: ReasonCase::Declined,
        code: "payment_declined",
    },
    CustomerReason {
        case: ReasonCase::AuthenticationRequired,
        code: "payment_authentication_required",
    },
    CustomerReason {
        case: ReasonCase::NotCompleted,
        code: "payment_not_completed",
    },
    CustomerReason {
        case: ReasonCase::UnderReview,
        code: "order_review",
    },
    CustomerReason {
        case: ReasonCase::Cancelled,
        code: "order_cancelled",
    },
    CustomerReason {
        case: ReasonCase::Disputed,
        code: "payment_disputed",
    },
    CustomerReason {
        case: ReasonCase::DisputeWon,
        code: "payment_dispute_closed",
    },
    CustomerReason {
        case: ReasonCase::DisputeLost,
        code: "payment_reversed",
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

/// Clarity's `statusReason` for an order in `state` (see [`reason_case_for`]), in the words of
/// `spec`.
pub fn customer_status_reason(
    spec: &Spec,
    state: OrderState,
    authorization: Option<&crate::cybersource::PaymentOutcome>,
) -> Result<Option<String>, MappingError> {
    reason_case_for(state, authorization)
        .map(|c| customer_reason(c).status_reason(spec))
        .transpose()
}

fn arith(path: &str, e: o2c_domain::MoneyError) -> MappingError {
    MappingError::invalid(path, "", format!("cannot be computed: {e}"))
}

mod to_canonical;
mod to_clarity;

pub use to_canonical::*;
pub use to_clarity::*;

#[cfg(test)]
pub(crate) mod tests;
