//! Refund after capture: `Captured | PartiallyRefunded → Refunding → PartiallyRefunded |
//! Refunded`, one effect per refund id.
//!
//! Refunds never exceed captured minus refunded. The domain checks it (`Order::check_refund`)
//! on the record read for the claim, and the claim is a conditional write on that record's state
//! and version, so two refund requests racing cannot both pass the check: the loser finds the
//! order `Refunding` (busy) and retries later against the new refundable amount.

use super::capture::found_follow_on;
use super::{reference, step_error, PaymentContext};
use crate::messages::{cancel_command, short_hash, SyncNudge};
use async_trait::async_trait;
use o2c_connectors::cybersource::{FollowOnResult, Operation, RefundInput as CybsRefund};
use o2c_domain::ports::{OrderRecord, OutboundMessage};
use o2c_domain::recipe::{FailureClass, Step, StepError};
use o2c_domain::{
    ExternalIds, Money, Order, OrderId, OrderState, Refund, RefundId, RefundStatus, Timestamp,
};
use serde::{Deserialize, Serialize};

/// The refund command's input.
#[derive(Clone, Debug)]
pub struct RefundRequest {
    pub order_id: OrderId,
    pub refund_id: RefundId,
    pub amount: Money,
    pub reason: String,
    pub requested_at: Timestamp,
}

/// What the refund step records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOutcome {
    pub refund_id: RefundId,
    pub amount: Money,
    pub reason: String,
    /// What stays refundable after this refund.
    pub remaining: Money,
    pub requested_at: Timestamp,
    pub result: FollowOnResult,
}

pub struct RefundStep {
    pub ctx: PaymentContext,
}

/// The effect key of one refund.
pub fn effect_key(refund_id: &RefundId) -> String {
    format!("refund-{refund_id}")
}

#[async_trait]
impl Step for RefundStep {
    type Input = RefundRequest;
    type Outcome = RefundOutcome;

    fn name(&self) -> &'static str {
        "refund"
    }

    fn order_id(&self, input: &RefundRequest) -> OrderId {
        input.order_id.clone()
    }

    fn effect_key(&self, input: &RefundRequest, _record: &OrderRecord) -> String {
        effect_key(&input.refund_id)
    }

    fn start_states(&self) -> &'static [OrderState] {
        &[OrderState::Captured, OrderState::PartiallyRefunded]
    }

    /// A return can be requested while the capture is still being recorded.
    fn wait_states(&self) -> &'static [OrderState] {
        &[OrderState::Authorized, OrderState::Capturing]
    }

    fn in_progress(&self) -> OrderState {
        OrderState::Refunding
    }

    fn reference(&self, input: &RefundRequest, record: &OrderRecord, _key: &str) -> String {
        reference(
            &record.order,
            &format!("rf{}", short_hash(input.refund_id.as_str(), 8)),
        )
    }

    async fn effect(
        &self,
        input: &RefundRequest,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<RefundOutcome, StepError> {
        let order = &record.order;
        order
            .check_refund(&input.amount)
            .map_err(|e| StepError::Terminal {
                class: FailureClass::Validation,
                reason: format!("refund {} of order {}: {e}", input.refund_id, order.id),
            })?;
        let remaining = order
            .refundable()
            .and_then(|r| Ok(r.checked_sub(&input.amount)?))
            .map_err(|e| StepError::Terminal {
                class: FailureClass::Validation,
                reason: e.to_string(),
            })?;
        let capture_id = order
            .payment
            .as_ref()
            .and_then(|p| p.capture_id.clone())
            .ok_or_else(|| StepError::Terminal {
                class: FailureClass::Validation,
                reason: format!("order {} has no capture to refund", order.id),
            })?;
        let route = self.ctx.route_of(record)?;
        let result = route
            .gateway
            .refund_capture(
                &capture_id,
                &CybsRefund {
                    reference: reference.to_string(),
                    amount: input.amount,
                },
                self.ctx.deadline(),
            )
            .await
            .map_err(step_error)?;
        Ok(RefundOutcome {
            refund_id: input.refund_id.clone(),
            amount: input.amount,
            reason: input.reason.clone(),
            remaining,
            requested_at: input.requested_at,
            result,
        })
    }

    /// A second refund would go through (refunds are not bounded by the first one), so when
    /// the earlier attempt is not visible it is voided by `transactionId` before retrying.
    async fn reconcile(
        &self,
        input: &RefundRequest,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<Option<RefundOutcome>, StepError> {
        let Some(result) =
            found_follow_on(&self.ctx, record, reference, Operation::Refund, true).await?
        else {
            return Ok(None);
        };
        let remaining = record
            .order
            .refundable()
            .and_then(|r| Ok(r.checked_sub(&input.amount)?))
            .map_err(|e| StepError::Terminal {
                class: FailureClass::Validation,
                reason: e.to_string(),
            })?;
        Ok(Some(RefundOutcome {
            refund_id: input.refund_id.clone(),
            amount: input.amount,
            reason: input.reason.clone(),
            remaining,
            requested_at: input.requested_at,
            result,
        }))
    }

    fn result_state(&self, outcome: &RefundOutcome) -> OrderState {
        if outcome.remaining.is_zero() {
            OrderState::Refunded
        } else {
            OrderState::PartiallyRefunded
        }
    }

    fn apply(&self, order: &mut Order, outcome: &RefundOutcome, reference: &str) {
        order.refunds.push(Refund {
            id: outcome.refund_id.clone(),
            external: ExternalIds {
                cybersource: Some(outcome.result.id.clone()),
                ..ExternalIds::default()
            },
            reference: reference.to_string(),
            amount: outcome.amount,
            reason: outcome.reason.clone(),
            status: RefundStatus::Succeeded,
            requested_at: outcome.requested_at,
        });
    }

    fn describe(&self, outcome: &RefundOutcome) -> (String, Option<String>) {
        (
            format!(
                "refunded {} ({}); {} still refundable (status {})",
                outcome.amount, outcome.reason, outcome.remaining, outcome.result.status
            ),
            Some(outcome.result.id.clone()),
        )
    }

    /// A cancellation recorded while a partial refund (a return) ran: the rest is refunded too.
    fn downstream(&self, record: &OrderRecord, outcome: &RefundOutcome) -> Vec<OutboundMessage> {
        let mut out = Vec::new();
        if let Some(intent) = record
            .cancel
            .as_ref()
            .filter(|_| !outcome.remaining.is_zero())
        {
            out.push(cancel_command(&record.order.id, intent, "refund"));
        }
        out.extend(SyncNudge::both(
            &record.order.id,
            &format!("refund.recorded.{}", outcome.refund_id),
        ));
        out
    }
}
