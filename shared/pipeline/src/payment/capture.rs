//! Capture: `Authorized → Capturing → Captured`, then Clarity `payment_received` and the ERP
//! deposit through the sync nudges.

use super::{attempt, reference, step_error, transaction_id, PaymentContext};
use crate::messages::{cancel_command, SyncNudge};
use async_trait::async_trait;
use o2c_connectors::cybersource::{CaptureInput, FollowOnResult, Operation, TimeoutVoidInput};
use o2c_domain::ports::{OrderRecord, OutboundMessage};
use o2c_domain::recipe::{FailureClass, Step, StepError};
use o2c_domain::{Order, OrderId, OrderState};

pub const EFFECT_KEY: &str = "capture";

pub struct CaptureStep {
    pub ctx: PaymentContext,
}

fn payment_id(record: &OrderRecord) -> Result<String, StepError> {
    record
        .order
        .payment
        .as_ref()
        .and_then(|p| p.external.cybersource.clone())
        .ok_or_else(|| StepError::Terminal {
            class: FailureClass::Validation,
            reason: format!("order {} has no authorized payment", record.order.id),
        })
}

/// A follow-on found by reference search, as the result the step records.
pub(crate) async fn found_follow_on(
    ctx: &PaymentContext,
    record: &OrderRecord,
    reference: &str,
    operation: Operation,
    cleanup_void: bool,
) -> Result<Option<FollowOnResult>, StepError> {
    let route = ctx.route_of(record)?;
    if let Some(found) = route
        .gateway
        .reconcile_by_reference(reference, ctx.deadline())
        .await
        .map_err(step_error)?
    {
        return Ok(Some(FollowOnResult {
            operation,
            id: found.id,
            status: found.status.unwrap_or_else(|| "FOUND_BY_SEARCH".into()),
            reference: found.reference,
            amount: found.amount,
            reconciliation_id: None,
            submit_time_utc: found.submit_time_utc,
        }));
    }
    if cleanup_void {
        // Not visible (yet): void whatever the earlier attempt may have created
        // (`docs/cybersource.md` §2.6).
        let previous = transaction_id(reference, attempt(record).saturating_sub(1).max(1));
        let input = TimeoutVoidInput {
            transaction_id: previous.clone(),
            reference: Some(reference.to_string()),
            comments: Some("timeout: no answer".into()),
        };
        match route.gateway.timeout_void(&input, ctx.deadline()).await {
            Ok(_) => {
                tracing::warn!(transaction_id = %previous, "timeout void voided an unseen transaction")
            }
            Err(e) if e.is_terminal() => {
                tracing::info!(transaction_id = %previous, error = %e, "timeout void found nothing")
            }
            Err(e) => return Err(step_error(e)),
        }
    }
    Ok(None)
}

#[async_trait]
impl Step for CaptureStep {
    type Input = OrderId;
    type Outcome = FollowOnResult;

    fn name(&self) -> &'static str {
        EFFECT_KEY
    }

    fn order_id(&self, input: &OrderId) -> OrderId {
        input.clone()
    }

    fn start_states(&self) -> &'static [OrderState] {
        &[OrderState::Authorized]
    }

    /// Cancelled or rejected meanwhile: nothing to capture.
    fn skip_states(&self) -> &'static [OrderState] {
        &[
            OrderState::Voiding,
            OrderState::Voided,
            OrderState::Rejected,
            OrderState::Declined,
        ]
    }

    /// No capture starts once the merchant cancelled (the void reverses the authorization).
    fn honours_cancel(&self) -> bool {
        true
    }

    fn in_progress(&self) -> OrderState {
        OrderState::Capturing
    }

    fn reference(&self, _input: &OrderId, record: &OrderRecord, _key: &str) -> String {
        reference(&record.order, "cap")
    }

    async fn effect(
        &self,
        _input: &OrderId,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<FollowOnResult, StepError> {
        let route = self.ctx.route_of(record)?;
        let payment = payment_id(record)?;
        let amount = record
            .order
            .payment
            .as_ref()
            .map(|p| p.authorized)
            .unwrap_or(record.order.total);
        let input = CaptureInput {
            reference: reference.to_string(),
            amount,
        };
        route
            .gateway
            .capture(&payment, &input, self.ctx.deadline())
            .await
            .map_err(step_error)
    }

    async fn reconcile(
        &self,
        _input: &OrderId,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<Option<FollowOnResult>, StepError> {
        // A second capture of the same authorization would be refused (capture ≤ authorized),
        // so no clean-up void is needed before retrying.
        found_follow_on(&self.ctx, record, reference, Operation::Capture, false).await
    }

    fn result_state(&self, _outcome: &FollowOnResult) -> OrderState {
        OrderState::Captured
    }

    fn apply(&self, order: &mut Order, outcome: &FollowOnResult, _reference: &str) {
        if let Some(p) = order.payment.as_mut() {
            p.captured = outcome.amount.unwrap_or(p.authorized);
            p.capture_id = Some(outcome.id.clone());
        }
    }

    fn describe(&self, outcome: &FollowOnResult) -> (String, Option<String>) {
        let amount = outcome
            .amount
            .map(|m| m.to_string())
            .unwrap_or_else(|| "the authorized amount".into());
        (
            format!("captured {amount} (status {})", outcome.status),
            Some(outcome.id.clone()),
        )
    }

    /// A capture that completed after a cancellation was recorded is refunded in full: the
    /// cancellation command goes to the refunds consumer, which turns it into that refund.
    fn downstream(&self, record: &OrderRecord, _outcome: &FollowOnResult) -> Vec<OutboundMessage> {
        let mut out = Vec::new();
        if let Some(intent) = &record.cancel {
            out.push(cancel_command(&record.order.id, intent, EFFECT_KEY));
        }
        out.extend(SyncNudge::both(&record.order.id, "capture.recorded"));
        out
    }
}
