//! SQS message handlers: parse a queue message and run the step it asks for under the recipe.

use crate::cancel::NOTHING_TO_CANCEL;
use crate::messages::{cancel_command, PaymentCommand, SyncNudge};
use crate::payment::authorize::AuthorizeStep;
use crate::payment::capture::CaptureStep;
use crate::payment::refund::{self, RefundRequest, RefundStep};
use crate::payment::void::{VoidInput, VoidStep};
use crate::payment::PaymentContext;
use async_trait::async_trait;
use o2c_domain::ports::{Clock, OrderRecord, OrderStore, Publisher, StoreError};
use o2c_domain::recipe::{run_step, Checkpoints, Deps, FailureClass, StepDone, StepFailure};
use o2c_domain::{OrderId, OrderState, RefundId, TimelineEntry, Transition};
use o2c_runtime::batch::{MessageHandler, QueueMessage};
use o2c_spec::Specs;
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
    /// The integration spec (the authorize function's: the request parts it adds); `None` for
    /// the steps that map nothing.
    pub specs: Option<Arc<Specs>>,
}

impl PaymentHandler {
    /// A void command (a cancellation, or a fraud reject's reversal), converged whatever state
    /// it meets:
    /// - nothing held or charged any more (`Voided`, `Declined`, `Refunded`, a dispute): done;
    /// - captured (`Captured`, `PartiallyRefunded`): one refund of everything still refundable;
    /// - a cancellation recorded while nothing was authorized (`Received`, no claim):
    ///   `Received → Voided`, nothing to reverse;
    /// - otherwise the void step (which waits while an authorization runs). A capture that
    ///   records between our look and the void's claim makes the void wait; we look again and
    ///   refund at once.
    async fn void_or_refund(
        &self,
        order_id: &OrderId,
        reason: &str,
        deps: &Deps<'_>,
    ) -> Result<StepDone, StepFailure> {
        for _ in 0..3 {
            let record = self.read(order_id).await?;
            // Already done: let the recipe re-send what the recording step sent (a worker that
            // died between recording and sending left Clarity and the ERP unnudged).
            if let Some(done) = self.heal(&record, reason, deps).await? {
                return Ok(done);
            }
            match record.state {
                s if NOTHING_TO_CANCEL.contains(&s) => {
                    return Ok(StepDone::Skipped { state: s });
                }
                OrderState::Captured | OrderState::PartiallyRefunded => {
                    return self.refund_all(&record, reason, deps).await;
                }
                // Our own full refund was claimed and its worker died (or is still working):
                // only this message drives it, so run it again — the recipe waits for a live
                // lease and takes over an expired one, reconciling before any new refund.
                OrderState::Refunding
                    if record.claim.as_ref().is_some_and(|c| {
                        c.effect_key == refund::effect_key(&cancel_refund_id())
                    }) =>
                {
                    return self.refund_all(&record, reason, deps).await;
                }
                OrderState::Received if record.cancel.is_some() && record.claim.is_none() => {
                    match self.close_unauthorized(&record).await {
                        Ok(done) => return Ok(done),
                        Err(StoreError::ConditionFailed { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => {}
            }
            let step = VoidStep {
                ctx: self.ctx.clone(),
            };
            let input = VoidInput {
                order_id: order_id.clone(),
                reason: reason.to_string(),
            };
            match run_step(&step, deps, &input).await {
                Err(StepFailure::RetryLater(why)) => {
                    let now = self.read(order_id).await?.state;
                    if !matches!(now, OrderState::Captured | OrderState::PartiallyRefunded) {
                        return Err(StepFailure::RetryLater(why));
                    }
                }
                other => return other,
            }
        }
        Err(StepFailure::RetryLater(format!(
            "order {order_id} kept changing under its cancellation"
        )))
    }

    /// A cancellation (or reversal) whose effect is recorded: run its step once more, which
    /// finds the effect recorded and re-sends its downstream messages (same dedup ids). A
    /// `Received → Voided` close has no effect record: its nudges are sent again.
    async fn heal(
        &self,
        record: &OrderRecord,
        reason: &str,
        deps: &Deps<'_>,
    ) -> Result<Option<StepDone>, StepFailure> {
        let id = &record.order.id;
        let refund_key = refund::effect_key(&cancel_refund_id());
        if record.effects.contains_key(&refund_key) {
            let step = RefundStep {
                ctx: self.ctx.clone(),
            };
            let input = RefundRequest {
                order_id: id.clone(),
                refund_id: cancel_refund_id(),
                amount: o2c_domain::Money::zero(record.order.currency()),
                reason: reason.to_string(),
                requested_at: self.ports.clock.now(),
            };
            return run_step(&step, deps, &input).await.map(Some);
        }
        if record
            .effects
            .contains_key(crate::payment::void::EFFECT_KEY)
        {
            let step = VoidStep {
                ctx: self.ctx.clone(),
            };
            let input = VoidInput {
                order_id: id.clone(),
                reason: reason.to_string(),
            };
            return run_step(&step, deps, &input).await.map(Some);
        }
        if record.state == OrderState::Voided {
            self.ports
                .publisher
                .publish_all(&SyncNudge::both(id, "void.recorded"))
                .await
                .map_err(|e| StepFailure::RetryLater(e.to_string()))?;
            return Ok(Some(StepDone::Skipped {
                state: record.state,
            }));
        }
        Ok(None)
    }

    async fn read(&self, order_id: &OrderId) -> Result<OrderRecord, StepFailure> {
        self.ports
            .store
            .get(order_id)
            .await?
            .ok_or_else(|| StepFailure::NonRetryable {
                class: FailureClass::NotFound,
                reason: format!("order {order_id} not found"),
            })
    }

    /// A cancellation recorded before any authorization: `Received → Voided` (nothing held),
    /// then Clarity and the ERP hear of it.
    async fn close_unauthorized(&self, record: &OrderRecord) -> Result<StepDone, StoreError> {
        let t = Transition::new(OrderState::Received, OrderState::Voided)
            .map_err(|e| StoreError::InvalidChange(e.to_string()))?;
        let entry = TimelineEntry::new(
            self.ports.clock.now(),
            "void.recorded",
            "cancelled before any authorization: nothing held, nothing to reverse",
        );
        let id = &record.order.id;
        self.ports
            .store
            .transition(id, t, record.version, None, entry)
            .await?;
        self.ports
            .publisher
            .publish_all(&SyncNudge::both(id, "void.recorded"))
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(StepDone::Effected {
            effect_key: "void".into(),
            reference: String::new(),
        })
    }

    /// A cancellation after capture: one refund of everything still refundable, under the
    /// refund id `cancel` (so a repeated cancellation is the same refund). Nothing refundable
    /// left (returns refunded it all): done.
    async fn refund_all(
        &self,
        record: &OrderRecord,
        reason: &str,
        deps: &Deps<'_>,
    ) -> Result<StepDone, StepFailure> {
        let amount = record
            .order
            .refundable()
            .map_err(|e| StepFailure::NonRetryable {
                class: FailureClass::Validation,
                reason: e.to_string(),
            })?;
        if amount.is_zero() {
            return Ok(StepDone::Skipped {
                state: record.state,
            });
        }
        let step = RefundStep {
            ctx: self.ctx.clone(),
        };
        let input = RefundRequest {
            order_id: record.order.id.clone(),
            refund_id: cancel_refund_id(),
            amount,
            reason: format!("cancelled after capture: {reason}"),
            requested_at: self.ports.clock.now(),
        };
        run_step(&step, deps, &input).await
    }

    /// A step skipped because a cancellation is recorded: make sure the cancellation is under
    /// way (the webhook queued it too; the same dedup id and effect key make this harmless).
    async fn after_skip(&self, order_id: &OrderId, done: &StepDone) -> Result<(), StepFailure> {
        let StepDone::Skipped { .. } = done else {
            return Ok(());
        };
        let record = self.read(order_id).await?;
        if let Some(intent) = &record.cancel {
            if !NOTHING_TO_CANCEL.contains(&record.state) {
                self.ports
                    .publisher
                    .publish(&cancel_command(order_id, intent, "skip"))
                    .await
                    .map_err(|e| StepFailure::RetryLater(e.to_string()))?;
            }
        }
        Ok(())
    }
}

/// The refund id of a cancellation's full refund: one per order, so a repeated cancellation is
/// the same refund.
fn cancel_refund_id() -> RefundId {
    RefundId::new("cancel").expect("a valid id")
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
    /// Every Cybersource call of this message (and its retries) ends before the invocation's
    /// deadline less [`crate::payment::CALL_SAFETY_MARGIN`] (see [`PaymentContext::deadline`]).
    async fn handle(&self, message: &QueueMessage) -> Result<(), StepFailure> {
        PaymentHandler {
            ports: self.ports.clone(),
            ctx: self.ctx.for_invocation(message.deadline),
            accepts: self.accepts,
            specs: self.specs.clone(),
        }
        .handle_within(message)
        .await
    }
}

impl PaymentHandler {
    /// One message, `self.ctx` already bounded by the invocation's deadline.
    async fn handle_within(&self, message: &QueueMessage) -> Result<(), StepFailure> {
        let command: PaymentCommand = parse(&message.body)?;
        let deps = self.ports.deps();
        let done: StepDone = match (&command, self.accepts) {
            (PaymentCommand::Authorize { order_id }, Accepts::Authorize) => {
                let specs = self
                    .specs
                    .clone()
                    .ok_or_else(|| StepFailure::NonRetryable {
                        class: FailureClass::Internal,
                        reason: "this function has no integration spec to authorize with".into(),
                    })?;
                let step = AuthorizeStep {
                    ctx: self.ctx.clone(),
                    specs,
                };
                let done = run_step(&step, &deps, order_id).await?;
                self.after_skip(order_id, &done).await?;
                done
            }
            (PaymentCommand::Capture { order_id }, Accepts::Capture) => {
                let step = CaptureStep {
                    ctx: self.ctx.clone(),
                };
                let done = run_step(&step, &deps, order_id).await?;
                self.after_skip(order_id, &done).await?;
                done
            }
            (PaymentCommand::Void { order_id, reason }, Accepts::VoidOrRefund) => {
                self.void_or_refund(order_id, reason, &deps).await?
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
