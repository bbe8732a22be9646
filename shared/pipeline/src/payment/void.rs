//! Void: reverse an authorization that must not be captured (cancellation before capture, fraud
//! reject after issuer approval, a review rejected). `Authorized | PendingReview | Rejected →
//! Voiding → Voided`.

use super::capture::found_follow_on;
use super::{reference, step_error, PaymentContext};
use crate::messages::SyncNudge;
use async_trait::async_trait;
use o2c_connectors::cybersource::{FollowOnResult, Operation, ReversalInput};
use o2c_domain::ports::{OrderRecord, OutboundMessage};
use o2c_domain::recipe::{FailureClass, Step, StepError};
use o2c_domain::{Order, OrderId, OrderState};

pub const EFFECT_KEY: &str = "void";

/// The void command's input: the order and why.
#[derive(Clone, Debug)]
pub struct VoidInput {
    pub order_id: OrderId,
    pub reason: String,
}

pub struct VoidStep {
    pub ctx: PaymentContext,
}

#[async_trait]
impl Step for VoidStep {
    type Input = VoidInput;
    type Outcome = FollowOnResult;

    fn name(&self) -> &'static str {
        EFFECT_KEY
    }

    fn order_id(&self, input: &VoidInput) -> OrderId {
        input.order_id.clone()
    }

    fn start_states(&self) -> &'static [OrderState] {
        &[
            OrderState::Authorized,
            OrderState::PendingReview,
            OrderState::Rejected,
        ]
    }

    /// A cancellation can arrive while the authorization is still running: wait for it. And a
    /// capture can record between the consumer's look at the order and this claim: then the
    /// cancellation is retried, and the consumer turns it into a refund (never a dead letter).
    fn wait_states(&self) -> &'static [OrderState] {
        &[
            OrderState::Received,
            OrderState::Authorizing,
            OrderState::Captured,
            OrderState::PartiallyRefunded,
        ]
    }

    /// Nothing held any more.
    fn skip_states(&self) -> &'static [OrderState] {
        &[OrderState::Voided, OrderState::Declined]
    }

    fn in_progress(&self) -> OrderState {
        OrderState::Voiding
    }

    fn reference(&self, _input: &VoidInput, record: &OrderRecord, _key: &str) -> String {
        reference(&record.order, "rev")
    }

    async fn effect(
        &self,
        input: &VoidInput,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<FollowOnResult, StepError> {
        let route = self.ctx.route_of(record)?;
        let payment = record.order.payment.as_ref();
        let (Some(id), Some(amount)) = (
            payment.and_then(|p| p.external.cybersource.clone()),
            payment.map(|p| p.authorized).filter(|a| a.minor() > 0),
        ) else {
            return Err(StepError::Terminal {
                class: FailureClass::Validation,
                reason: format!(
                    "order {} holds no authorization to reverse",
                    record.order.id
                ),
            });
        };
        let reversal = ReversalInput {
            reference: reference.to_string(),
            amount,
            reason: Some(input.reason.clone()),
        };
        route
            .gateway
            .reverse_authorization(&id, &reversal, self.ctx.deadline())
            .await
            .map_err(step_error)
    }

    async fn reconcile(
        &self,
        _input: &VoidInput,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<Option<FollowOnResult>, StepError> {
        found_follow_on(&self.ctx, record, reference, Operation::Reversal, false).await
    }

    fn result_state(&self, _outcome: &FollowOnResult) -> OrderState {
        OrderState::Voided
    }

    fn apply(&self, order: &mut Order, _outcome: &FollowOnResult, _reference: &str) {
        if let Some(p) = order.payment.as_mut() {
            p.authorized = o2c_domain::Money::zero(p.authorized.currency());
        }
    }

    fn describe(&self, outcome: &FollowOnResult) -> (String, Option<String>) {
        (
            format!("authorization reversed (status {})", outcome.status),
            Some(outcome.id.clone()),
        )
    }

    fn downstream(&self, record: &OrderRecord, _outcome: &FollowOnResult) -> Vec<OutboundMessage> {
        SyncNudge::both(&record.order.id, "void.recorded")
    }
}
