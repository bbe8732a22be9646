//! SQS message handlers: parse a queue message and run the step it asks for under the recipe.

use crate::messages::PaymentCommand;
use crate::payment::authorize::AuthorizeStep;
use crate::payment::capture::CaptureStep;
use crate::payment::refund::{RefundRequest, RefundStep};
use crate::payment::void::{VoidInput, VoidStep};
use crate::payment::PaymentContext;
use async_trait::async_trait;
use o2c_domain::ports::{Clock, OrderStore, Publisher};
use o2c_domain::recipe::{run_step, Checkpoints, Deps, FailureClass, StepDone, StepFailure};
use o2c_runtime::batch::{MessageHandler, QueueMessage};
use std::sync::Arc;
use std::time::Duration;

/// The ports a step handler runs on.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn OrderStore>,
    pub publisher: Arc<dyn Publisher>,
    pub clock: Arc<dyn Clock>,
    /// Claim lease: longer than the function's timeout (see `recipe::lease_for`).
    pub lease: Duration,
    /// Step-boundary hooks (no-op in production; crash points in fault-injection tests).
    pub checkpoints: Arc<dyn Checkpoints>,
}

impl Ports {
    fn deps(&self) -> Deps<'_> {
        Deps {
            store: &*self.store,
            publisher: &*self.publisher,
            clock: &*self.clock,
            lease: self.lease,
            checkpoints: &*self.checkpoints,
        }
    }
}

/// Which commands a function accepts (the commands of the queue it consumes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepts {
    Authorize,
    Capture,
    VoidOrRefund,
}

/// Runs the payment steps for one function.
pub struct PaymentHandler {
    pub ports: Ports,
    pub ctx: PaymentContext,
    pub accepts: Accepts,
}

impl PaymentHandler {
    /// Is the order captured (so a cancellation must become a refund)?
    async fn captured(&self, order_id: &o2c_domain::OrderId) -> Result<bool, StepFailure> {
        let record = self.ports.store.get(order_id).await?;
        Ok(record.is_some_and(|r| {
            matches!(
                r.state,
                o2c_domain::OrderState::Captured | o2c_domain::OrderState::PartiallyRefunded
            )
        }))
    }

    /// A cancellation after capture: one refund of everything still refundable, under the
    /// refund id `cancel` (so a repeated cancellation is the same refund).
    async fn refund_all(
        &self,
        order_id: &o2c_domain::OrderId,
        reason: &str,
        deps: &Deps<'_>,
    ) -> Result<StepDone, StepFailure> {
        let record = self
            .ports
            .store
            .get(order_id)
            .await?
            .ok_or_else(|| StepFailure::RetryLater(format!("order {order_id} vanished")))?;
        let amount = record
            .order
            .refundable()
            .map_err(|e| StepFailure::NonRetryable {
                class: FailureClass::Validation,
                reason: e.to_string(),
            })?;
        let step = RefundStep {
            ctx: self.ctx.clone(),
        };
        let input = RefundRequest {
            order_id: order_id.clone(),
            refund_id: o2c_domain::RefundId::new("cancel").expect("a valid id"),
            amount,
            reason: format!("cancelled after capture: {reason}"),
            requested_at: self.ports.clock.now(),
        };
        run_step(&step, deps, &input).await
    }
}

/// Parse a message body, naming what is wrong.
pub fn parse<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, StepFailure> {
    serde_json::from_str(body).map_err(|e| StepFailure::NonRetryable {
        class: FailureClass::Mapping,
        reason: format!("message body is not a valid command: {e}"),
    })
}

#[async_trait]
impl MessageHandler for PaymentHandler {
    async fn handle(&self, message: &QueueMessage) -> Result<(), StepFailure> {
        let command: PaymentCommand = parse(&message.body)?;
        let deps = self.ports.deps();
        let done: StepDone = match (&command, self.accepts) {
            (PaymentCommand::Authorize { order_id }, Accepts::Authorize) => {
                let step = AuthorizeStep {
                    ctx: self.ctx.clone(),
                };
                run_step(&step, &deps, order_id).await?
            }
            (PaymentCommand::Capture { order_id }, Accepts::Capture) => {
                let step = CaptureStep {
                    ctx: self.ctx.clone(),
                };
                run_step(&step, &deps, order_id).await?
            }
            (PaymentCommand::Void { order_id, reason }, Accepts::VoidOrRefund)
                if self.captured(order_id).await? =>
            {
                // The capture won the race with the cancellation: refund what is refundable.
                self.refund_all(order_id, reason, &deps).await?
            }
            (PaymentCommand::Void { order_id, reason }, Accepts::VoidOrRefund) => {
                let step = VoidStep {
                    ctx: self.ctx.clone(),
                };
                let input = VoidInput {
                    order_id: order_id.clone(),
                    reason: reason.clone(),
                };
                run_step(&step, &deps, &input).await?
            }
            (
                PaymentCommand::Refund {
                    order_id,
                    refund_id,
                    amount,
                    reason,
                },
                Accepts::VoidOrRefund,
            ) => {
                let step = RefundStep {
                    ctx: self.ctx.clone(),
                };
                let input = RefundRequest {
                    order_id: order_id.clone(),
                    refund_id: refund_id.clone(),
                    amount: *amount,
                    reason: reason.clone(),
                    requested_at: self.ports.clock.now(),
                };
                run_step(&step, &deps, &input).await?
            }
            (other, accepts) => {
                return Err(StepFailure::NonRetryable {
                    class: FailureClass::Validation,
                    reason: format!(
                        "command {:?} does not belong to this function ({accepts:?})",
                        serde_json::to_value(other)
                            .ok()
                            .and_then(|v| v.get("type").cloned())
                            .unwrap_or_default()
                    ),
                })
            }
        };
        tracing::info!(order_id = %command.order_id(), outcome = ?done, "step done");
        Ok(())
    }
}
