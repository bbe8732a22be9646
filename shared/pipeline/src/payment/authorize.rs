//! Authorize: Cybersource authorization with Decision Manager, using the order's token.
//!
//! `Received → Authorizing → Authorized | PendingReview | Rejected | Declined`. ACCEPT queues the
//! capture; REVIEW holds the order (Clarity `on_hold`); a fraud reject of an issuer-approved
//! authorization (`AUTHORIZED_RISK_DECLINED`) queues its reversal; every outcome nudges the
//! Clarity and ERP/CRM sync. A transient token is spent once: the authorization asks TMS to
//! create the customer and payment instrument (`TOKEN_CREATE`) and the order keeps the TMS ids.
//!
//! **Routing and cascading.** Each attempt asks the [`Router`](super::Router) for a route. A
//! soft decline (issuer or processor unavailable, route-level refusal:
//! [`SOFT_DECLINE_REASONS`](o2c_connectors::cybersource::SOFT_DECLINE_REASONS)) with another
//! eligible route left records the attempt, returns the order to `Received` and queues the next
//! attempt. Every attempt is its own run of the step recipe with its own effect key
//! (`authorize`, `authorize-2`, …) and reference (`<order>-auth`, `<order>-auth2`, …), so a
//! crash mid-cascade is reconciled attempt by attempt and never yields two approved
//! authorizations. Hard declines and fraud rejects never cascade.

use super::{attempt, reference, step_error, transaction_id, PaymentContext, Route};
use crate::messages::{cancel_command, PaymentCommand, SyncNudge};
use async_trait::async_trait;
use o2c_connectors::cybersource::card::brand_name;
use o2c_connectors::cybersource::{
    classify, is_soft_decline, AuthorizationInput, AuthorizationResult, CybersourceError,
    IssuedTokens, Operation, PaymentOutcome, RequestExtras, TerminalError, TimeoutReversalInput,
};
use o2c_connectors::mapping::cybersource::authorization_extras;
use o2c_domain::model::CapturePolicy;
use o2c_domain::ports::{OrderRecord, OutboundMessage};
use o2c_domain::recipe::{Step, StepError};
use o2c_domain::routing::{Decision, Observation};
use o2c_domain::{
    ExternalIds, Money, Order, OrderId, OrderState, Payment, PaymentId, PaymentInstrument,
};
use o2c_spec::Specs;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const EFFECT_KEY: &str = "authorize";

/// At most this many routes are tried for one order.
pub const MAX_ATTEMPTS: u32 = 3;

/// The effect key of attempt `n` (1-based): `authorize`, `authorize-2`, ...
pub fn attempt_key(n: u32) -> String {
    if n <= 1 {
        EFFECT_KEY.to_string()
    } else {
        format!("{EFFECT_KEY}-{n}")
    }
}

fn attempt_number(key: &str) -> Option<u32> {
    if key == EFFECT_KEY {
        return Some(1);
    }
    key.strip_prefix("authorize-")?
        .parse()
        .ok()
        .filter(|n| *n >= 2)
}

/// Every recorded authorization attempt, in order.
pub fn attempts(record: &OrderRecord) -> Vec<(u32, AuthorizeOutcome)> {
    let mut out: Vec<(u32, AuthorizeOutcome)> = record
        .effects
        .iter()
        .filter_map(|(k, e)| {
            let n = attempt_number(k)?;
            serde_json::from_value(e.outcome.clone())
                .ok()
                .map(|o| (n, o))
        })
        .collect();
    out.sort_by_key(|(n, _)| *n);
    out
}

/// The last recorded attempt (the authorization that counts), with its effect key.
pub fn final_attempt(record: &OrderRecord) -> Option<(String, AuthorizeOutcome)> {
    attempts(record)
        .pop()
        .map(|(n, outcome)| (attempt_key(n), outcome))
}

/// What the authorize step records, per attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuthorizeOutcome {
    /// The route (merchant id) used; follow-on operations use the same.
    pub route: String,
    /// `clientReferenceInformation.transactionId` of the attempt that got this answer.
    pub transaction_id: String,
    pub result: AuthorizationResult,
    /// The routing decision that chose the route (absent with a single fixed route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// A soft decline with another route left: the order goes back to `Received` and the next
    /// attempt is queued.
    #[serde(default)]
    pub cascade: bool,
    /// Found by reconciliation after a worker died: the routing decision was made (and logged)
    /// by the lost invocation; this attempt's route is where its reference was found.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reconciled: bool,
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
    /// The integration spec: the order's pinned version adds its request parts
    /// (`cybersource.authorization`).
    pub specs: Arc<Specs>,
}

impl AuthorizeStep {
    /// The pinned spec's additions to the request; a spec that cannot map this order is a
    /// validation failure (dead letter with the field), nothing is sent.
    async fn request_extras(&self, order: &Order) -> Result<RequestExtras, StepError> {
        let spec = crate::spec_runtime::for_order(&self.specs, order)
            .await
            .map_err(|e| match e {
                o2c_domain::recipe::StepFailure::RetryLater(reason) => StepError::Retryable {
                    reason,
                    effect_may_have_happened: false,
                },
                o2c_domain::recipe::StepFailure::NonRetryable { class, reason } => {
                    StepError::Terminal { class, reason }
                }
            })?;
        authorization_extras(&spec, order).map_err(|e| StepError::Terminal {
            class: o2c_domain::recipe::FailureClass::Validation,
            reason: format!("order {}: {e}", order.id),
        })
    }
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

    /// No authorization starts once the merchant cancelled.
    fn honours_cancel(&self) -> bool {
        true
    }

    /// An order recorded as not payable (its Clarity status said so on arrival) is never
    /// authorized, even from a replayed or redriven message.
    fn may_start(&self, record: &OrderRecord) -> bool {
        !crate::intake::recorded_not_payable(record)
    }

    fn in_progress(&self) -> OrderState {
        OrderState::Authorizing
    }

    /// The attempt this message is about: the claimed one; the next one when the order is back
    /// in `Received` after a cascading soft decline; otherwise the last recorded one (so a
    /// redelivery finds it recorded and only re-emits).
    fn effect_key(&self, _input: &OrderId, record: &OrderRecord) -> String {
        if let Some(c) = record.claim.as_ref().filter(|c| c.step == EFFECT_KEY) {
            return c.effect_key.clone();
        }
        let done = attempts(record);
        let last = done.last().map_or(0, |(n, _)| *n);
        let cascading = done.last().is_some_and(|(_, o)| o.cascade);
        if record.state == OrderState::Received && (last == 0 || cascading) {
            attempt_key(last + 1)
        } else {
            attempt_key(last.max(1))
        }
    }

    fn reference(&self, _input: &OrderId, record: &OrderRecord, key: &str) -> String {
        match attempt_number(key) {
            Some(n) if n >= 2 => reference(&record.order, &format!("auth{n}")),
            _ => reference(&record.order, "auth"),
        }
    }

    async fn effect(
        &self,
        _input: &OrderId,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<AuthorizeOutcome, StepError> {
        let previous = attempts(record);
        let tried: Vec<String> = previous.iter().map(|(_, o)| o.route.clone()).collect();
        let choice = self.ctx.router.choose(&record.order, &tried).await;
        let Some(route) = choice.route else {
            let why = choice
                .decision
                .as_ref()
                .map_or_else(|| "no route".to_string(), Decision::summary);
            // Mid-cascade: the last soft decline stands as the answer.
            if let Some((_, last)) = previous.last() {
                return Ok(AuthorizeOutcome {
                    decision: choice.decision,
                    cascade: false,
                    reconciled: false,
                    ..last.clone()
                });
            }
            return Err(StepError::Terminal {
                class: o2c_domain::recipe::FailureClass::Validation,
                reason: format!("no payment route accepts order {}: {why}", record.order.id),
            });
        };
        let transaction_id = transaction_id(reference, attempt(record));
        let mut input = AuthorizationInput::from_order(&record.order, reference, &transaction_id);
        input.extras = self.request_extras(&record.order).await?;
        let answer = route.gateway.authorize(&input, self.ctx.deadline()).await;
        let result = match answer {
            Ok(result) => result,
            // A route-level refusal (400 with a soft reason): nothing was created; record it
            // like a soft decline so the cascade can go on.
            Err(CybersourceError::Terminal {
                error:
                    TerminalError::InvalidRequest {
                        reason, message, ..
                    },
                ..
            }) if is_soft_decline(&PaymentOutcome::Invalid {
                reason: reason.clone(),
            }) =>
            {
                refused(reference, reason, message)
            }
            Err(e) => {
                if !e.is_terminal() {
                    self.ctx
                        .router
                        .observe(&record.order, &route.name, Observation::Error)
                        .await;
                }
                return Err(step_error(e));
            }
        };
        if let Some(e) = not_recordable(&result) {
            return Err(e);
        }
        if let Some(o) = observation(&result.outcome) {
            self.ctx.router.observe(&record.order, &route.name, o).await;
        }
        Ok(self.outcome(
            record,
            route,
            transaction_id,
            result,
            choice.decision,
            &tried,
        ))
    }

    /// Did an earlier attempt authorize? Search by reference; if found, read its status. If
    /// not, the earlier attempt may still be in flight or invisible to search: send a timeout
    /// reversal for its `transactionId` (`docs/cybersource.md` §2.6) so that no hold survives,
    /// then allow a new attempt (with a new `transactionId`).
    async fn reconcile(
        &self,
        _input: &OrderId,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<Option<AuthorizeOutcome>, StepError> {
        // The attempt's route was a routing decision made in the lost invocation: look for the
        // reference on every route (a reference names one attempt, so at most one has it).
        let routes = self.ctx.router.all();
        let mut hit = None;
        for route in &routes {
            if let Some(found) = route
                .gateway
                .reconcile_by_reference(reference, self.ctx.deadline())
                .await
                .map_err(step_error)?
            {
                hit = Some((route.clone(), found));
                break;
            }
        }
        if let Some((route, found)) = hit {
            let gateway = &route.gateway;
            let details = gateway
                .transaction_details(&found.id, self.ctx.deadline())
                .await
                .map_err(step_error)?;
            let status = details
                .status
                .clone()
                .or(found.status.clone())
                .unwrap_or_default();
            let decline_reason = details.decline_reason();
            let outcome = classify(
                Operation::Authorization,
                &status,
                details.risk_decision().or(found.risk_decision.as_deref()),
                decline_reason,
            );
            let result = AuthorizationResult {
                id: found.id.clone(),
                status,
                outcome,
                reference: Some(reference.to_string()),
                reconciliation_id: details.reconciliation_id.clone(),
                authorized_amount: found.amount,
                error_reason: decline_reason.map(str::to_string),
                error_message: None,
                risk_decision: found.risk_decision.clone(),
                approval_code: None,
                tokens: IssuedTokens {
                    customer_id: details.tokens.customer_id.clone(),
                    payment_instrument_id: details.tokens.payment_instrument_id.clone(),
                    ..IssuedTokens::default()
                },
                submit_time_utc: found.submit_time_utc.clone(),
                card_type: None,
                card_last4: None,
                risk: details.risk.clone(),
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
            let tried: Vec<String> = attempts(record).into_iter().map(|(_, o)| o.route).collect();
            let mut outcome = self.outcome(record, route, transaction_id, result, None, &tried);
            outcome.reconciled = true;
            return Ok(Some(outcome));
        }
        let previous = transaction_id(reference, attempt(record).saturating_sub(1).max(1));
        let cleanup = TimeoutReversalInput {
            transaction_id: previous.clone(),
            reference: Some(reference.to_string()),
            amount: record.order.total,
            reason: "timeout: no answer to the authorization".into(),
        };
        for route in &routes {
            match route
                .gateway
                .timeout_reversal(&cleanup, self.ctx.deadline())
                .await
            {
                Ok(_) => {
                    tracing::warn!(transaction_id = %previous, route = %route.name, "timeout reversal reversed an unseen authorization")
                }
                Err(e) if e.is_terminal() => {
                    tracing::info!(transaction_id = %previous, route = %route.name, error = %e, "timeout reversal found nothing to reverse")
                }
                Err(e) => return Err(step_error(e)),
            }
        }
        Ok(None)
    }

    fn result_state(&self, outcome: &AuthorizeOutcome) -> OrderState {
        if outcome.cascade {
            return OrderState::Received;
        }
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
        if outcome.cascade {
            // No hold, no token spent: the next route gets the order as it is.
            return;
        }
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
            card_brand: r.card_type.as_deref().map(brand_name),
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
        let mut text = format!("{why} (route {}, status {})", outcome.route, r.status);
        if outcome.cascade {
            text.push_str("; soft decline: cascading to the next eligible route");
        }
        if let Some(d) = &outcome.decision {
            text.push_str("; routing: ");
            text.push_str(&d.summary());
        } else if outcome.reconciled {
            text.push_str(
                "; reconciled after a worker died: found by its reference on this route (the \
                 routing decision is in the lost invocation's log)",
            );
        }
        (text, (!r.id.is_empty()).then(|| r.id.clone()))
    }

    fn downstream(&self, record: &OrderRecord, outcome: &AuthorizeOutcome) -> Vec<OutboundMessage> {
        let id = &record.order.id;
        let mut out = Vec::new();
        // Cancelled while this attempt ran: no capture and no next attempt; reverse the hold
        // (or, with nothing held, close the order).
        if let Some(intent) = &record.cancel {
            out.push(cancel_command(id, intent, EFFECT_KEY));
            out.extend(SyncNudge::both(id, "authorize.recorded"));
            return out;
        }
        if outcome.cascade {
            let next = attempts(record).last().map_or(2, |(n, _)| n + 1);
            out.push(
                PaymentCommand::Authorize {
                    order_id: id.clone(),
                }
                .message(&attempt_key(next)),
            );
            return out;
        }
        match outcome.result.outcome {
            // Captured now only under the capture policy pinned at intake (the spec's
            // `capture` rule); on shipment the ERP poller sends it, manual an operator.
            PaymentOutcome::Approved
                if record.order.capture_policy() == CapturePolicy::OnAccept =>
            {
                out.push(
                    PaymentCommand::Capture {
                        order_id: id.clone(),
                    }
                    .message(EFFECT_KEY),
                )
            }
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

/// How an answer counts in the route's statistics (fraud verdicts are not the route's doing).
fn observation(outcome: &PaymentOutcome) -> Option<Observation> {
    match outcome {
        PaymentOutcome::Approved | PaymentOutcome::Review => Some(Observation::Approved),
        o if is_soft_decline(o) => Some(Observation::SoftDecline),
        PaymentOutcome::Declined { .. } | PaymentOutcome::NeedsAuthentication => {
            Some(Observation::HardDecline)
        }
        PaymentOutcome::RejectedByFraud
        | PaymentOutcome::Invalid { .. }
        | PaymentOutcome::Unknown { .. } => None,
    }
}

/// A route's 400 refusal as an authorization answer (nothing was created at Cybersource).
fn refused(reference: &str, reason: String, message: String) -> AuthorizationResult {
    AuthorizationResult {
        id: String::new(),
        status: "INVALID_REQUEST".into(),
        outcome: PaymentOutcome::Invalid {
            reason: reason.clone(),
        },
        reference: Some(reference.to_string()),
        reconciliation_id: None,
        authorized_amount: None,
        error_reason: Some(reason),
        error_message: Some(message),
        risk_decision: None,
        approval_code: None,
        tokens: IssuedTokens::default(),
        submit_time_utc: None,
        card_type: None,
        card_last4: None,
        risk: None,
    }
}

impl AuthorizeStep {
    fn outcome(
        &self,
        record: &OrderRecord,
        route: Route,
        transaction_id: String,
        result: AuthorizationResult,
        decision: Option<Decision>,
        tried: &[String],
    ) -> AuthorizeOutcome {
        let mut after: Vec<String> = tried.to_vec();
        after.push(route.name.clone());
        let attempt_no = u32::try_from(after.len()).unwrap_or(u32::MAX);
        let cascade = is_soft_decline(&result.outcome)
            && attempt_no < MAX_ATTEMPTS
            && self.ctx.router.has_alternative(&record.order, &after);
        AuthorizeOutcome {
            route: route.name,
            transaction_id,
            result,
            decision,
            cascade,
            reconciled: false,
        }
    }
}
