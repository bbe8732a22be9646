//! Authorize: Cybersource authorization with Decision Manager, using the order's token.
//!
//! `Received → Authorizing → Authorized | PendingReview | Rejected | Declined`. ACCEPT queues the
//! capture; REVIEW holds the order (Clarity `on_hold`); a fraud reject of an issuer-approved
//! authorization (`AUTHORIZED_RISK_DECLINED`) queues its reversal; every outcome nudges the
//! Clarity and ERP/CRM sync. A transient token is spent once: the authorization asks TMS to
//! create the customer and payment instrument (`TOKEN_CREATE`) and the order keeps the TMS ids.

use super::{attempt, reference, step_error, transaction_id, PaymentContext};
use crate::messages::{PaymentCommand, SyncNudge};
use async_trait::async_trait;
use o2c_connectors::cybersource::{
    classify, AuthorizationInput, AuthorizationResult, IssuedTokens, Operation, PaymentOutcome,
    TimeoutReversalInput,
};
use o2c_domain::ports::{OrderRecord, OutboundMessage};
use o2c_domain::recipe::{Step, StepError};
use o2c_domain::{
    ExternalIds, Money, Order, OrderId, OrderState, Payment, PaymentId, PaymentInstrument,
};
use serde::{Deserialize, Serialize};

pub const EFFECT_KEY: &str = "authorize";

/// What the authorize step records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeOutcome {
    /// The route (merchant id) used; follow-on operations use the same.
    pub route: String,
    /// `clientReferenceInformation.transactionId` of the attempt that got this answer.
    pub transaction_id: String,
    pub result: AuthorizationResult,
}

impl AuthorizeOutcome {
    /// Decision Manager rejected an authorization the issuer approved: the hold must be reversed.
    pub fn needs_reversal(&self) -> bool {
        self.result.outcome == PaymentOutcome::RejectedByFraud
            && self
                .result
                .status
                .eq_ignore_ascii_case("AUTHORIZED_RISK_DECLINED")
    }
}

pub struct AuthorizeStep {
    pub ctx: PaymentContext,
}

fn not_recordable(result: &AuthorizationResult) -> Option<StepError> {
    match &result.outcome {
        PaymentOutcome::Unknown { raw } => Some(StepError::OutcomeUnknown {
            reason: format!(
                "authorization {} answered with unknown status {raw:?}; never treated as approved",
                result.id
            ),
        }),
        _ => None,
    }
}

#[async_trait]
impl Step for AuthorizeStep {
    type Input = OrderId;
    type Outcome = AuthorizeOutcome;

    fn name(&self) -> &'static str {
        EFFECT_KEY
    }

    fn order_id(&self, input: &OrderId) -> OrderId {
        input.clone()
    }

    fn start_states(&self) -> &'static [OrderState] {
        &[OrderState::Received]
    }

    fn in_progress(&self) -> OrderState {
        OrderState::Authorizing
    }

    fn reference(&self, _input: &OrderId, record: &OrderRecord, _key: &str) -> String {
        reference(&record.order, "auth")
    }

    async fn effect(
        &self,
        _input: &OrderId,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<AuthorizeOutcome, StepError> {
        let route = self.ctx.router.choose(&record.order);
        let transaction_id = transaction_id(reference, attempt(record));
        let input = AuthorizationInput::from_order(&record.order, reference, &transaction_id);
        let result = route
            .gateway
            .authorize(&input, self.ctx.deadline())
            .await
            .map_err(step_error)?;
        if let Some(e) = not_recordable(&result) {
            return Err(e);
        }
        Ok(AuthorizeOutcome {
            route: route.name,
            transaction_id,
            result,
        })
    }

    /// Did an earlier attempt authorize? Search by reference; if found, read its status. If
    /// not, the earlier attempt may still be in flight or invisible to search: send a timeout
    /// reversal for its `transactionId` (reference §2.6) so that no hold survives, then allow a
    /// new attempt (with a new `transactionId`).
    async fn reconcile(
        &self,
        _input: &OrderId,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<Option<AuthorizeOutcome>, StepError> {
        let route = self.ctx.router.choose(&record.order);
        let gateway = &route.gateway;
        if let Some(found) = gateway
            .reconcile_by_reference(reference, self.ctx.deadline())
            .await
            .map_err(step_error)?
        {
            let details = gateway
                .transaction_details(&found.id, self.ctx.deadline())
                .await
                .map_err(step_error)?;
            let status = details
                .status
                .clone()
                .or(found.status.clone())
                .unwrap_or_default();
            let outcome = classify(
                Operation::Authorization,
                &status,
                details.risk_decision().or(found.risk_decision.as_deref()),
                None,
            );
            let result = AuthorizationResult {
                id: found.id.clone(),
                status,
                outcome,
                reference: Some(reference.to_string()),
                reconciliation_id: details.reconciliation_id.clone(),
                authorized_amount: found.amount,
                error_reason: None,
                error_message: None,
                risk_decision: found.risk_decision.clone(),
                approval_code: None,
                tokens: IssuedTokens {
                    customer_id: details
                        .token_information
                        .as_ref()
                        .and_then(|t| t.customer.as_ref().map(|c| c.id.clone())),
                    payment_instrument_id: details
                        .token_information
                        .as_ref()
                        .and_then(|t| t.payment_instrument.as_ref().map(|c| c.id.clone())),
                    ..IssuedTokens::default()
                },
                submit_time_utc: found.submit_time_utc.clone(),
                card_type: None,
                card_last4: None,
                risk: details.risk_information.clone(),
            };
            if let Some(e) = not_recordable(&result) {
                return Err(StepError::Terminal {
                    class: o2c_domain::recipe::FailureClass::TerminalApi,
                    reason: e.to_string(),
                });
            }
            let transaction_id = found
                .transaction_id
                .clone()
                .unwrap_or_else(|| transaction_id(reference, attempt(record).saturating_sub(1)));
            return Ok(Some(AuthorizeOutcome {
                route: route.name,
                transaction_id,
                result,
            }));
        }
        let previous = transaction_id(reference, attempt(record).saturating_sub(1).max(1));
        let cleanup = TimeoutReversalInput {
            transaction_id: previous.clone(),
            reference: Some(reference.to_string()),
            amount: record.order.total,
            reason: "timeout: no answer to the authorization".into(),
        };
        match gateway
            .timeout_reversal(&cleanup, self.ctx.deadline())
            .await
        {
            Ok(_) => {
                tracing::warn!(transaction_id = %previous, "timeout reversal reversed an unseen authorization")
            }
            Err(e) if e.is_terminal() => {
                tracing::info!(transaction_id = %previous, error = %e, "timeout reversal found nothing to reverse")
            }
            Err(e) => return Err(step_error(e)),
        }
        Ok(None)
    }

    fn result_state(&self, outcome: &AuthorizeOutcome) -> OrderState {
        match outcome.result.outcome {
            PaymentOutcome::Approved => OrderState::Authorized,
            PaymentOutcome::Review => OrderState::PendingReview,
            PaymentOutcome::RejectedByFraud => OrderState::Rejected,
            PaymentOutcome::Declined { .. }
            | PaymentOutcome::Invalid { .. }
            | PaymentOutcome::NeedsAuthentication
            | PaymentOutcome::Unknown { .. } => OrderState::Declined,
        }
    }

    fn apply(&self, order: &mut Order, outcome: &AuthorizeOutcome, reference: &str) {
        let r = &outcome.result;
        let zero = Money::zero(order.currency());
        let held = matches!(r.outcome, PaymentOutcome::Approved | PaymentOutcome::Review)
            || outcome.needs_reversal();
        order.payment = Some(Payment {
            id: PaymentId::new(format!("{}-pay", order.id))
                .unwrap_or_else(|_| PaymentId::new("payment").expect("valid")),
            external: ExternalIds {
                cybersource: Some(r.id.clone()),
                ..ExternalIds::default()
            },
            reference: reference.to_string(),
            authorized: if held {
                r.authorized_amount.unwrap_or(order.total)
            } else {
                zero
            },
            captured: zero,
            capture_id: None,
            card_brand: r.card_type.as_deref().map(card_brand),
            card_last4: r.card_last4.clone(),
        });
        // A transient token is spent once: keep the TMS ids the authorization created.
        if let (Some(customer), Some(instrument)) =
            (&r.tokens.customer_id, &r.tokens.payment_instrument_id)
        {
            order.customer.external.cybersource = Some(customer.clone());
            order.instrument = PaymentInstrument::Tms {
                customer_id: customer.clone(),
                payment_instrument_id: instrument.clone(),
            };
        }
    }

    fn describe(&self, outcome: &AuthorizeOutcome) -> (String, Option<String>) {
        let r = &outcome.result;
        let why = match &r.outcome {
            PaymentOutcome::Approved => "authorized; Decision Manager accepted".to_string(),
            PaymentOutcome::Review => "Decision Manager review: order held".to_string(),
            PaymentOutcome::RejectedByFraud => format!(
                "Decision Manager rejected ({}){}",
                r.error_reason.as_deref().unwrap_or(&r.status),
                if outcome.needs_reversal() {
                    "; the authorization will be reversed"
                } else {
                    ""
                }
            ),
            PaymentOutcome::Declined { reason } => format!("declined: {reason}"),
            PaymentOutcome::Invalid { reason } => format!("refused as invalid: {reason}"),
            PaymentOutcome::NeedsAuthentication => {
                "declined: payer authentication (3-D Secure) required".to_string()
            }
            PaymentOutcome::Unknown { raw } => format!("unknown status {raw}"),
        };
        (
            format!("{why} (route {}, status {})", outcome.route, r.status),
            Some(r.id.clone()),
        )
    }

    fn downstream(&self, record: &OrderRecord, outcome: &AuthorizeOutcome) -> Vec<OutboundMessage> {
        let id = &record.order.id;
        let mut out = Vec::new();
        match outcome.result.outcome {
            PaymentOutcome::Approved => out.push(
                PaymentCommand::Capture {
                    order_id: id.clone(),
                }
                .message(EFFECT_KEY),
            ),
            PaymentOutcome::RejectedByFraud if outcome.needs_reversal() => out.push(
                PaymentCommand::Void {
                    order_id: id.clone(),
                    reason: "fraud reject".into(),
                }
                .message(EFFECT_KEY),
            ),
            _ => {}
        }
        out.extend(SyncNudge::both(id, "authorize.recorded"));
        out
    }
}

/// Cybersource card type code → brand name (codes from the Cybersource card-type table).
pub fn card_brand(code: &str) -> String {
    match code {
        "001" => "visa",
        "002" => "mastercard",
        "003" => "amex",
        "004" => "discover",
        "005" => "diners",
        "007" => "jcb",
        "036" => "cartes_bancaires",
        "042" => "maestro",
        "062" => "unionpay",
        other => other,
    }
    .to_string()
}
