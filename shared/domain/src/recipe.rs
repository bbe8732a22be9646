//! The exactly-once step recipe (`docs/architecture.md` §5), written once and generic over the
//! step.
//!
//! 1. Read the order (consistent read).
//! 2. Effect already recorded → re-send the step's downstream messages (deterministic dedup ids)
//!    and acknowledge. This heals a crash between "recorded" and "sent".
//! 3. Claim: conditional `from-state → in-progress` with a deterministic reference and a lease.
//!    A live lease held elsewhere → retry later. An expired lease → take it over and ask the
//!    external system (the step's `reconcile`) before any new effect.
//! 4. Cause the effect, carrying the reference.
//! 5. Record the result, conditional on `in-progress + reference`.
//! 6. Send the downstream messages, then acknowledge.

use crate::ids::OrderId;
use crate::model::Order;
use crate::ports::*;
use crate::state::{OrderState, Transition};
use crate::timeline::TimelineEntry;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// Why a message could not be processed and will not succeed on retry: the DLQ's reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// Input could not be mapped (a field path and value say where).
    Mapping,
    /// Input is well-formed but invalid (amounts, ids, card data).
    Validation,
    /// The external API refused the request for good (400, 401/403, ...).
    TerminalApi,
    /// The order is not in a state this step can start from.
    IllegalTransition,
    /// The order does not exist.
    NotFound,
    /// Retries ran out.
    RetriesExhausted,
    /// A bug or corrupt data.
    Internal,
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        f.write_str(&s)
    }
}

/// What a step's effect or reconcile can fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// Try again later. `effect_may_have_happened` is false only when the request provably
    /// never reached the external system (connection refused, 5xx with no effect per the API).
    #[error("retryable: {reason}")]
    Retryable {
        reason: String,
        effect_may_have_happened: bool,
    },
    /// The request was sent and the answer was lost (timeout, 502): the claim stays, and the
    /// next attempt after the lease reconciles first.
    #[error("outcome unknown: {reason}")]
    OutcomeUnknown { reason: String },
    /// Will never succeed.
    #[error("{class}: {reason}")]
    Terminal { class: FailureClass, reason: String },
}

/// How a message ended, for the batch runner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepFailure {
    /// Report a batch item failure; SQS redelivers after the visibility timeout.
    RetryLater(String),
    /// Dead-letter at once with a classified reason.
    NonRetryable { class: FailureClass, reason: String },
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepFailure::RetryLater(r) => write!(f, "retry later: {r}"),
            StepFailure::NonRetryable { class, reason } => write!(f, "{class}: {reason}"),
        }
    }
}

impl std::error::Error for StepFailure {}

impl From<StoreError> for StepFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt { .. } | StoreError::InvalidChange(_) => {
                StepFailure::NonRetryable {
                    class: FailureClass::Internal,
                    reason: e.to_string(),
                }
            }
            _ => StepFailure::RetryLater(e.to_string()),
        }
    }
}

/// What happened to a message that was handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepDone {
    /// The effect was caused (or found by reconcile) and recorded, messages sent.
    Effected {
        effect_key: String,
        reference: String,
    },
    /// The effect had been recorded before; its messages were sent again.
    AlreadyRecorded { effect_key: String },
    /// The order is in a state where the step is moot (see [`Step::skip_states`]).
    Skipped { state: OrderState },
}

/// One step of the pipeline (authorize, capture, void, refund, ...).
#[async_trait]
pub trait Step: Send + Sync {
    /// The queue message the step consumes.
    type Input: Send + Sync;
    /// What the external system answered; recorded as JSON under the effect key.
    type Outcome: Serialize + DeserializeOwned + Send + Sync;

    /// The step's name, used in claims and the timeline.
    fn name(&self) -> &'static str;

    fn order_id(&self, input: &Self::Input) -> OrderId;

    /// The key the effect is recorded under; one key per distinct effect (`refund-2`).
    fn effect_key(&self, _input: &Self::Input, _record: &OrderRecord) -> String {
        self.name().to_string()
    }

    /// States the step may start from.
    fn start_states(&self) -> &'static [OrderState];

    /// States in which the step is not refused but must wait (retry later): an earlier step has
    /// not finished yet (a cancellation that arrives while the authorization is still running).
    fn wait_states(&self) -> &'static [OrderState] {
        &[]
    }

    /// States in which the step is moot and the message is acknowledged without an effect
    /// (a capture for an order that was cancelled meanwhile).
    fn skip_states(&self) -> &'static [OrderState] {
        &[]
    }

    /// Does a recorded cancellation intent stop this step from starting? (Authorize and
    /// capture: once the merchant cancelled, no new hold and no charge is made; the message is
    /// acknowledged as skipped and the void/refund consumer converges the order.)
    fn honours_cancel(&self) -> bool {
        false
    }

    /// May the step start on this order at all? `false` acknowledges the message as skipped
    /// (an order recorded as not payable is never authorized, whoever replays its message).
    fn may_start(&self, _record: &OrderRecord) -> bool {
        true
    }

    /// The in-progress state while the effect is under way.
    fn in_progress(&self) -> OrderState;

    /// The deterministic reference sent to the external system.
    fn reference(&self, input: &Self::Input, record: &OrderRecord, effect_key: &str) -> String {
        let _ = input;
        format!("{}-{}", record.order.id, effect_key)
    }

    /// Cause the effect, carrying `reference`.
    async fn effect(
        &self,
        input: &Self::Input,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<Self::Outcome, StepError>;

    /// After a crash: did the effect already happen under `reference`? `Ok(None)` means the
    /// external system knows nothing of it and the effect may be caused.
    async fn reconcile(
        &self,
        input: &Self::Input,
        record: &OrderRecord,
        reference: &str,
    ) -> Result<Option<Self::Outcome>, StepError>;

    /// The state the outcome leads to.
    fn result_state(&self, outcome: &Self::Outcome) -> OrderState;

    /// Fold the outcome into the order document (payment ids, amounts).
    fn apply(&self, order: &mut Order, outcome: &Self::Outcome, reference: &str);

    /// The timeline entry's why and external reference for an outcome.
    fn describe(&self, outcome: &Self::Outcome) -> (String, Option<String>);

    /// The messages to send after recording; dedup ids must be deterministic.
    fn downstream(&self, record: &OrderRecord, outcome: &Self::Outcome) -> Vec<OutboundMessage>;
}

/// Hooks at the step boundaries, for fault injection in tests (no-op in production).
pub trait Checkpoints: Send + Sync {
    fn reached(&self, _step: &str, _point: Checkpoint) -> Result<(), StepFailure> {
        Ok(())
    }
}

/// The step boundaries where a worker can die.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Checkpoint {
    AfterClaim,
    AfterEffect,
    AfterRecord,
    AfterSend,
}

/// No checkpoints.
pub struct NoCheckpoints;
impl Checkpoints for NoCheckpoints {}

/// What the recipe needs.
pub struct Deps<'a> {
    pub store: &'a dyn OrderStore,
    pub publisher: &'a dyn Publisher,
    pub clock: &'a dyn Clock,
    /// How long a claim holds before another worker may take over; longer than the function's
    /// timeout.
    pub lease: Duration,
    pub checkpoints: &'a dyn Checkpoints,
}

/// How many times a lost race (condition failed) is retried in one invocation.
const MAX_ROUNDS: usize = 4;

/// Run one step for one message, exactly once.
pub async fn run_step<S: Step>(
    step: &S,
    deps: &Deps<'_>,
    input: &S::Input,
) -> Result<StepDone, StepFailure> {
    let id = step.order_id(input);
    for _ in 0..MAX_ROUNDS {
        // 1. Consistent read.
        let record = deps
            .store
            .get(&id)
            .await?
            .ok_or_else(|| StepFailure::NonRetryable {
                class: FailureClass::NotFound,
                reason: format!("order {id} not found"),
            })?;
        let key = step.effect_key(input, &record);

        // 2. Already recorded → re-emit and acknowledge.
        if let Some(effect) = record.effects.get(&key) {
            let outcome: S::Outcome =
                serde_json::from_value(effect.outcome.clone()).map_err(|e| {
                    StepFailure::NonRetryable {
                        class: FailureClass::Internal,
                        reason: format!("recorded outcome of {key} unreadable: {e}"),
                    }
                })?;
            emit(step, deps, &record, &outcome).await?;
            return Ok(StepDone::AlreadyRecorded { effect_key: key });
        }

        let now = deps.clock.now();
        // 3. Claim, or take over an expired claim (reconciling first).
        let (record, reference, reconciled) = match &record.claim {
            Some(c) if record.state == step.in_progress() && c.effect_key == key => {
                if c.lease_until > now {
                    return Err(StepFailure::RetryLater(format!(
                        "order {id} is claimed by another worker for {key} until {}",
                        c.lease_until
                    )));
                }
                let taken = Claim {
                    lease_until: now.plus(deps.lease),
                    attempt: c.attempt + 1,
                    ..c.clone()
                };
                let entry = TimelineEntry::new(
                    now,
                    format!("{}.takeover", step.name()),
                    format!(
                        "lease of attempt {} expired at {}; reconciling before any new effect",
                        c.attempt, c.lease_until
                    ),
                )
                .with_ref(c.reference.clone());
                let expect = Expect::LeaseExpired {
                    state: record.state,
                    reference: c.reference.clone(),
                    now,
                };
                let change = Change {
                    claim: ClaimChange::Set(taken),
                    ..Change::note(entry)
                };
                let record = match deps.store.update(&id, expect, change).await {
                    Ok(r) => r,
                    Err(StoreError::ConditionFailed { .. }) => continue,
                    Err(e) => return Err(e.into()),
                };
                let reference = c.reference.clone();
                let found = step
                    .reconcile(input, &record, &reference)
                    .await
                    .map_err(|e| classify(step, &record, &reference, e))?;
                (record, reference, found)
            }
            Some(c) if record.state.is_in_progress() => {
                return Err(StepFailure::RetryLater(format!(
                    "order {id} is busy: {} holds a claim for {} (state {})",
                    c.step, c.effect_key, record.state
                )));
            }
            _ => {
                if (step.honours_cancel() && record.cancel.is_some()) || !step.may_start(&record) {
                    return Ok(StepDone::Skipped {
                        state: record.state,
                    });
                }
                if step.skip_states().contains(&record.state) {
                    return Ok(StepDone::Skipped {
                        state: record.state,
                    });
                }
                if step.wait_states().contains(&record.state) {
                    return Err(StepFailure::RetryLater(format!(
                        "{} waits: order {id} is still {}",
                        step.name(),
                        record.state
                    )));
                }
                if !step.start_states().contains(&record.state) {
                    return Err(StepFailure::NonRetryable {
                        class: FailureClass::IllegalTransition,
                        reason: format!(
                            "{} cannot start from state {} (allowed: {:?})",
                            step.name(),
                            record.state,
                            step.start_states()
                        ),
                    });
                }
                let transition =
                    Transition::new(record.state, step.in_progress()).map_err(|e| {
                        StepFailure::NonRetryable {
                            class: FailureClass::IllegalTransition,
                            reason: e.to_string(),
                        }
                    })?;
                let reference = step.reference(input, &record, &key);
                let claim = Claim {
                    step: step.name().to_string(),
                    effect_key: key.clone(),
                    reference: reference.clone(),
                    from: record.state,
                    lease_until: now.plus(deps.lease),
                    attempt: 1,
                };
                let entry = TimelineEntry::new(
                    now,
                    format!("{}.claimed", step.name()),
                    format!("{} started", step.name()),
                )
                .with_ref(reference.clone());
                match deps
                    .store
                    .claim(&id, transition, record.version, claim, entry)
                    .await
                {
                    Ok(r) => (r, reference, None),
                    Err(StoreError::ConditionFailed { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        deps.checkpoints
            .reached(step.name(), Checkpoint::AfterClaim)?;

        // A cancellation recorded before this worker's claim or takeover (the record is the
        // one the conditional write returned): no new effect. One recorded later is honoured by
        // the step's downstream (the hold reversed, the capture refunded). An effect that
        // reconcile found did happen is recorded as usual.
        if reconciled.is_none() && step.honours_cancel() && record.cancel.is_some() {
            release(step, deps, &record, &reference, "cancellation recorded").await;
            return Ok(StepDone::Skipped {
                state: record.state,
            });
        }

        // 4. Cause the effect (unless reconcile found it).
        let outcome = match reconciled {
            Some(o) => o,
            None => match step.effect(input, &record, &reference).await {
                Ok(o) => o,
                Err(e) => return Err(fail_effect(step, deps, &record, &reference, e).await),
            },
        };
        deps.checkpoints
            .reached(step.name(), Checkpoint::AfterEffect)?;

        // 5. Record, conditional on in-progress + reference.
        let recorded = match record_outcome(step, deps, &record, &key, &reference, &outcome).await {
            Ok(r) => r,
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        deps.checkpoints
            .reached(step.name(), Checkpoint::AfterRecord)?;

        // 6. Send, then acknowledge.
        emit(step, deps, &recorded, &outcome).await?;
        deps.checkpoints
            .reached(step.name(), Checkpoint::AfterSend)?;
        return Ok(StepDone::Effected {
            effect_key: key,
            reference,
        });
    }
    Err(StepFailure::RetryLater(format!(
        "order {id}: lost {MAX_ROUNDS} races in a row"
    )))
}

async fn emit<S: Step>(
    step: &S,
    deps: &Deps<'_>,
    record: &OrderRecord,
    outcome: &S::Outcome,
) -> Result<(), StepFailure> {
    let messages = step.downstream(record, outcome);
    deps.publisher
        .publish_all(&messages)
        .await
        .map_err(|e| StepFailure::RetryLater(e.to_string()))
}

async fn record_outcome<S: Step>(
    step: &S,
    deps: &Deps<'_>,
    record: &OrderRecord,
    key: &str,
    reference: &str,
    outcome: &S::Outcome,
) -> Result<OrderRecord, StoreError> {
    let to = step.result_state(outcome);
    let transition = Transition::new(step.in_progress(), to)
        .map_err(|e| StoreError::InvalidChange(format!("{}: {e}", step.name())))?;
    let mut order = record.order.clone();
    step.apply(&mut order, outcome, reference);
    let (why, external_ref) = step.describe(outcome);
    let now = deps.clock.now();
    let mut entry = TimelineEntry::new(now, format!("{}.recorded", step.name()), why)
        .with_states(step.in_progress(), to);
    entry.external_ref = external_ref.or_else(|| Some(reference.to_string()));
    let effect = EffectRecord {
        reference: reference.to_string(),
        outcome: serde_json::to_value(outcome)
            .map_err(|e| StoreError::InvalidChange(format!("outcome not serialisable: {e}")))?,
        at: now,
    };
    let change = Change {
        transition: Some(transition),
        claim: ClaimChange::Clear,
        effect: Some((key.to_string(), effect)),
        order: Some(order),
        cancel: None,
        entry,
    };
    let expect = Expect::Claimed {
        state: step.in_progress(),
        reference: reference.to_string(),
    };
    deps.store.update(&record.order.id, expect, change).await
}

fn classify<S: Step>(step: &S, record: &OrderRecord, reference: &str, e: StepError) -> StepFailure {
    match e {
        StepError::Terminal { class, reason } => StepFailure::NonRetryable {
            class,
            reason: format!(
                "{} {} ({reference}): {reason}",
                step.name(),
                record.order.id
            ),
        },
        other => StepFailure::RetryLater(format!("{} ({reference}): {other}", step.name())),
    }
}

/// The effect failed. If it provably did not happen, release the claim so a retry can start
/// cleanly; otherwise keep the claim so the next attempt after the lease reconciles first.
async fn fail_effect<S: Step>(
    step: &S,
    deps: &Deps<'_>,
    record: &OrderRecord,
    reference: &str,
    e: StepError,
) -> StepFailure {
    let definitely_not_applied = match &e {
        StepError::Retryable {
            effect_may_have_happened,
            ..
        } => !effect_may_have_happened,
        StepError::Terminal { .. } => true,
        StepError::OutcomeUnknown { .. } => false,
    };
    if definitely_not_applied {
        release(
            step,
            deps,
            record,
            reference,
            &format!("effect not applied: {e}"),
        )
        .await;
    }
    classify(step, record, reference, e)
}

/// Undo this worker's claim (`in-progress → from`): the effect did not happen. If the release
/// fails, the lease expires and the next worker reconciles.
async fn release<S: Step>(
    step: &S,
    deps: &Deps<'_>,
    record: &OrderRecord,
    reference: &str,
    why: &str,
) {
    let Some(claim) = &record.claim else { return };
    let Ok(t) = Transition::release(step.in_progress(), claim.from) else {
        return;
    };
    let entry = TimelineEntry::new(
        deps.clock.now(),
        format!("{}.released", step.name()),
        why.to_string(),
    )
    .with_ref(reference.to_string())
    .with_states(t.from(), t.to());
    let change = Change {
        transition: Some(t),
        claim: ClaimChange::Clear,
        ..Change::note(entry)
    };
    let expect = Expect::Claimed {
        state: step.in_progress(),
        reference: reference.to_string(),
    };
    let _ = deps.store.update(&record.order.id, expect, change).await;
}

/// A lease for a function with `timeout`: the claim must outlive any invocation that holds it.
pub fn lease_for(timeout: Duration) -> Duration {
    timeout * 2 + Duration::from_secs(5)
}

#[cfg(test)]
mod tests;
