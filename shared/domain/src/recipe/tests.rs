//! The recipe on the fakes: a capture-like step against a fake payment service that counts
//! effects by reference.

use super::*;
use crate::fakes::{InMemoryPublisher, InMemoryStore, ManualClock};
use crate::model::sample;
use futures::executor::block_on;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Captured {
    transaction_id: String,
}

/// A fake payment service: effects keyed by reference, with scripted failures.
#[derive(Default)]
struct FakeGateway {
    effects: Mutex<HashMap<String, u32>>,
    effect_calls: Mutex<u32>,
    reconcile_calls: Mutex<Vec<String>>,
    /// Errors to return from the next effect calls, in order. `apply_anyway` = the effect
    /// happened although the caller sees an error.
    script: Mutex<Vec<(StepError, bool)>>,
}

/// Yield once to the executor, so concurrent workers interleave at the external call.
struct YieldNow(bool);
impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

impl FakeGateway {
    fn effects_total(&self) -> u32 {
        self.effects.lock().unwrap().values().sum()
    }
}

struct CaptureStep<'a> {
    gateway: &'a FakeGateway,
}

struct Msg {
    order: &'static str,
}

#[async_trait]
impl Step for CaptureStep<'_> {
    type Input = Msg;
    type Outcome = Captured;

    fn name(&self) -> &'static str {
        "capture"
    }
    fn order_id(&self, input: &Msg) -> OrderId {
        OrderId::new(input.order).unwrap()
    }
    fn start_states(&self) -> &'static [OrderState] {
        &[OrderState::Authorized]
    }
    fn in_progress(&self) -> OrderState {
        OrderState::Capturing
    }
    async fn effect(
        &self,
        _: &Msg,
        _: &OrderRecord,
        reference: &str,
    ) -> Result<Captured, StepError> {
        YieldNow(false).await;
        *self.gateway.effect_calls.lock().unwrap() += 1;
        let scripted = {
            let mut s = self.gateway.script.lock().unwrap();
            if s.is_empty() {
                None
            } else {
                Some(s.remove(0))
            }
        };
        if let Some((err, apply_anyway)) = scripted {
            if apply_anyway {
                *self
                    .gateway
                    .effects
                    .lock()
                    .unwrap()
                    .entry(reference.into())
                    .or_default() += 1;
            }
            return Err(err);
        }
        *self
            .gateway
            .effects
            .lock()
            .unwrap()
            .entry(reference.into())
            .or_default() += 1;
        Ok(Captured {
            transaction_id: format!("tx-{reference}"),
        })
    }
    async fn reconcile(
        &self,
        _: &Msg,
        _: &OrderRecord,
        reference: &str,
    ) -> Result<Option<Captured>, StepError> {
        self.gateway
            .reconcile_calls
            .lock()
            .unwrap()
            .push(reference.into());
        Ok(self
            .gateway
            .effects
            .lock()
            .unwrap()
            .get(reference)
            .map(|_| Captured {
                transaction_id: format!("tx-{reference}"),
            }))
    }
    fn result_state(&self, _: &Captured) -> OrderState {
        OrderState::Captured
    }
    fn apply(&self, order: &mut Order, outcome: &Captured, _: &str) {
        order.external.cybersource = Some(outcome.transaction_id.clone());
    }
    fn describe(&self, outcome: &Captured) -> (String, Option<String>) {
        ("captured".into(), Some(outcome.transaction_id.clone()))
    }
    fn downstream(&self, record: &OrderRecord, outcome: &Captured) -> Vec<OutboundMessage> {
        let id = record.order.id.to_string();
        vec![
            OutboundMessage {
                queue: QueueName::ClaritySync,
                group_id: id.clone(),
                dedup_id: format!("{id}-capture-clarity"),
                body: format!(r#"{{"tx":"{}"}}"#, outcome.transaction_id),
            },
            OutboundMessage {
                queue: QueueName::ErpSync,
                group_id: id.clone(),
                dedup_id: format!("{id}-capture-erp"),
                body: format!(r#"{{"tx":"{}"}}"#, outcome.transaction_id),
            },
        ]
    }
}

/// Crash (fail the invocation) at one checkpoint, once.
#[derive(Default)]
struct CrashAt(Mutex<Option<Checkpoint>>);
impl Checkpoints for CrashAt {
    fn reached(&self, _: &str, point: Checkpoint) -> Result<(), StepFailure> {
        let mut at = self.0.lock().unwrap();
        if *at == Some(point) {
            *at = None;
            return Err(StepFailure::RetryLater(format!("crash at {point:?}")));
        }
        Ok(())
    }
}

struct World {
    store: InMemoryStore,
    publisher: InMemoryPublisher,
    clock: ManualClock,
    gateway: FakeGateway,
    crash: CrashAt,
}

const LEASE: Duration = Duration::from_secs(60);

impl World {
    fn with_order_in(state: OrderState) -> World {
        let store = InMemoryStore::new();
        let clock = ManualClock::at(1_800_000_000_000);
        let mut rec = OrderRecord::received(
            sample::order("o1"),
            TimelineEntry::new(clock.now(), "order.received", "webhook"),
        );
        rec.state = state;
        store.put_raw(rec);
        World {
            store,
            publisher: InMemoryPublisher::new(),
            clock,
            gateway: FakeGateway::default(),
            crash: CrashAt::default(),
        }
    }

    fn run(&self) -> Result<StepDone, StepFailure> {
        let deps = Deps {
            store: &self.store,
            publisher: &self.publisher,
            clock: &self.clock,
            lease: LEASE,
            checkpoints: &self.crash,
        };
        block_on(run_step(
            &CaptureStep {
                gateway: &self.gateway,
            },
            &deps,
            &Msg { order: "o1" },
        ))
    }

    fn crash_at(&self, p: Checkpoint) {
        *self.crash.0.lock().unwrap() = Some(p);
    }

    fn record(&self) -> OrderRecord {
        self.store.snapshot("o1").unwrap()
    }

    fn dedup_ids(&self) -> Vec<String> {
        self.publisher
            .sent()
            .into_iter()
            .map(|m| m.dedup_id)
            .collect()
    }
}

#[test]
fn first_run_claims_effects_records_and_emits() {
    let w = World::with_order_in(OrderState::Authorized);
    let done = w.run().unwrap();
    assert_eq!(
        done,
        StepDone::Effected {
            effect_key: "capture".into(),
            reference: "o1-capture".into()
        }
    );
    let r = w.record();
    assert_eq!(r.state, OrderState::Captured);
    assert_eq!(r.claim, None);
    assert_eq!(r.effects["capture"].reference, "o1-capture");
    assert_eq!(
        r.order.external.cybersource.as_deref(),
        Some("tx-o1-capture")
    );
    let whats: Vec<_> = r.timeline.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(
        whats,
        ["order.received", "capture.claimed", "capture.recorded"]
    );
    assert_eq!(r.timeline[2].from, Some(OrderState::Capturing));
    assert_eq!(r.timeline[2].to, Some(OrderState::Captured));
    assert_eq!(w.gateway.effects_total(), 1);
    assert_eq!(w.dedup_ids(), ["o1-capture-clarity", "o1-capture-erp"]);
    assert!(w.publisher.sent().iter().all(|m| m.group_id == "o1"));
}

#[test]
fn redelivery_after_success_reemits_same_dedup_ids_without_second_effect() {
    let w = World::with_order_in(OrderState::Authorized);
    w.run().unwrap();
    let version = w.record().version;
    let done = w.run().unwrap();
    assert_eq!(
        done,
        StepDone::AlreadyRecorded {
            effect_key: "capture".into()
        }
    );
    assert_eq!(w.gateway.effects_total(), 1);
    assert_eq!(*w.gateway.effect_calls.lock().unwrap(), 1);
    assert_eq!(
        w.dedup_ids(),
        [
            "o1-capture-clarity",
            "o1-capture-erp",
            "o1-capture-clarity",
            "o1-capture-erp"
        ]
    );
    assert_eq!(w.record().version, version, "a redelivery writes nothing");
}

#[test]
fn crash_after_recording_heals_by_resending() {
    let w = World::with_order_in(OrderState::Authorized);
    w.crash_at(Checkpoint::AfterRecord);
    assert!(matches!(w.run(), Err(StepFailure::RetryLater(_))));
    assert_eq!(w.record().state, OrderState::Captured);
    assert!(w.publisher.sent().is_empty(), "crashed before sending");
    assert!(matches!(w.run(), Ok(StepDone::AlreadyRecorded { .. })));
    assert_eq!(w.dedup_ids(), ["o1-capture-clarity", "o1-capture-erp"]);
    assert_eq!(w.gateway.effects_total(), 1);
}

#[test]
fn crash_after_claim_with_expired_lease_reconciles_before_any_new_effect() {
    let w = World::with_order_in(OrderState::Authorized);
    w.crash_at(Checkpoint::AfterClaim);
    assert!(matches!(w.run(), Err(StepFailure::RetryLater(_))));
    let r = w.record();
    assert_eq!(r.state, OrderState::Capturing);
    assert_eq!(r.claim.as_ref().unwrap().attempt, 1);
    assert_eq!(*w.gateway.effect_calls.lock().unwrap(), 0);

    // The lease is still live: another delivery must wait.
    assert!(
        matches!(w.run(), Err(StepFailure::RetryLater(m)) if m.contains("claimed by another worker"))
    );
    assert!(w.gateway.reconcile_calls.lock().unwrap().is_empty());

    // Lease expired: takeover reconciles (nothing found), then causes the effect once.
    w.clock.advance_ms(LEASE.as_millis() as i64 + 1);
    assert!(matches!(w.run(), Ok(StepDone::Effected { .. })));
    assert_eq!(*w.gateway.reconcile_calls.lock().unwrap(), ["o1-capture"]);
    assert_eq!(w.gateway.effects_total(), 1);
    let r = w.record();
    assert_eq!(r.state, OrderState::Captured);
    assert!(r.timeline.iter().any(|e| e.what == "capture.takeover"));
}

#[test]
fn crash_after_effect_is_found_by_reconcile_and_never_repeated() {
    let w = World::with_order_in(OrderState::Authorized);
    w.crash_at(Checkpoint::AfterEffect);
    assert!(w.run().is_err());
    assert_eq!(w.gateway.effects_total(), 1);
    w.clock.advance_ms(LEASE.as_millis() as i64 + 1);
    assert!(matches!(w.run(), Ok(StepDone::Effected { .. })));
    assert_eq!(
        *w.gateway.effect_calls.lock().unwrap(),
        1,
        "no second effect"
    );
    assert_eq!(w.gateway.effects_total(), 1);
    assert_eq!(w.record().state, OrderState::Captured);
    assert_eq!(w.dedup_ids(), ["o1-capture-clarity", "o1-capture-erp"]);
}

#[test]
fn outcome_unknown_keeps_the_claim_and_reconciles_later() {
    let w = World::with_order_in(OrderState::Authorized);
    w.gateway.script.lock().unwrap().push((
        StepError::OutcomeUnknown {
            reason: "timeout".into(),
        },
        true,
    ));
    assert!(matches!(w.run(), Err(StepFailure::RetryLater(_))));
    assert_eq!(w.record().state, OrderState::Capturing);
    w.clock.advance_ms(LEASE.as_millis() as i64 + 1);
    w.run().unwrap();
    assert_eq!(w.gateway.effects_total(), 1);
    assert_eq!(*w.gateway.effect_calls.lock().unwrap(), 1);
}

#[test]
fn retryable_without_effect_releases_the_claim() {
    let w = World::with_order_in(OrderState::Authorized);
    w.gateway.script.lock().unwrap().push((
        StepError::Retryable {
            reason: "503".into(),
            effect_may_have_happened: false,
        },
        false,
    ));
    assert!(matches!(w.run(), Err(StepFailure::RetryLater(_))));
    let r = w.record();
    assert_eq!(r.state, OrderState::Authorized);
    assert_eq!(r.claim, None);
    assert!(r.timeline.iter().any(|e| e.what == "capture.released"));
    // An immediate retry goes through without waiting for a lease.
    w.run().unwrap();
    assert_eq!(w.gateway.effects_total(), 1);
}

#[test]
fn terminal_error_is_classified_non_retryable() {
    let w = World::with_order_in(OrderState::Authorized);
    w.gateway.script.lock().unwrap().push((
        StepError::Terminal {
            class: FailureClass::TerminalApi,
            reason: "400 INVALID_REQUEST".into(),
        },
        false,
    ));
    match w.run() {
        Err(StepFailure::NonRetryable { class, reason }) => {
            assert_eq!(class, FailureClass::TerminalApi);
            assert!(reason.contains("INVALID_REQUEST"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.record().state, OrderState::Authorized);
}

#[test]
fn live_lease_held_elsewhere_means_retry_later() {
    let w = World::with_order_in(OrderState::Authorized);
    let mut r = w.record();
    r.state = OrderState::Capturing;
    r.claim = Some(Claim {
        step: "capture".into(),
        effect_key: "capture".into(),
        reference: "o1-capture".into(),
        from: OrderState::Authorized,
        lease_until: w.clock.now().plus(Duration::from_secs(30)),
        attempt: 1,
    });
    w.store.put_raw(r.clone());
    assert!(matches!(w.run(), Err(StepFailure::RetryLater(_))));
    assert_eq!(*w.gateway.effect_calls.lock().unwrap(), 0);
    assert!(w.gateway.reconcile_calls.lock().unwrap().is_empty());
    assert_eq!(w.record(), r, "nothing written");
}

#[test]
fn illegal_transition_is_a_classified_non_retryable_failure() {
    for state in [
        OrderState::Declined,
        OrderState::Received,
        OrderState::Voided,
    ] {
        let w = World::with_order_in(state);
        let before = w.record();
        match w.run() {
            Err(StepFailure::NonRetryable { class, reason }) => {
                assert_eq!(class, FailureClass::IllegalTransition);
                assert!(reason.contains(state.as_str()), "{reason}");
            }
            other => panic!("{state}: {other:?}"),
        }
        assert_eq!(w.record(), before, "nothing written");
        assert_eq!(*w.gateway.effect_calls.lock().unwrap(), 0);
        assert!(w.publisher.sent().is_empty());
    }
}

#[test]
fn missing_order_is_classified_not_found() {
    let w = World::with_order_in(OrderState::Authorized);
    let deps = Deps {
        store: &w.store,
        publisher: &w.publisher,
        clock: &w.clock,
        lease: LEASE,
        checkpoints: &NoCheckpoints,
    };
    let r = block_on(run_step(
        &CaptureStep {
            gateway: &w.gateway,
        },
        &deps,
        &Msg { order: "nope" },
    ));
    assert!(matches!(
        r,
        Err(StepFailure::NonRetryable {
            class: FailureClass::NotFound,
            ..
        })
    ));
}

#[test]
fn two_workers_on_the_same_message_cause_one_effect() {
    let w = World::with_order_in(OrderState::Authorized);
    let deps = Deps {
        store: &w.store,
        publisher: &w.publisher,
        clock: &w.clock,
        lease: LEASE,
        checkpoints: &NoCheckpoints,
    };
    let step = CaptureStep {
        gateway: &w.gateway,
    };
    let (a, b) = block_on(futures::future::join(
        run_step(&step, &deps, &Msg { order: "o1" }),
        run_step(&step, &deps, &Msg { order: "o1" }),
    ));
    assert_eq!(w.gateway.effects_total(), 1);
    assert_eq!(*w.gateway.effect_calls.lock().unwrap(), 1);
    // One worker did it; the other found a live claim and will retry later.
    let (ok, retry) = if a.is_ok() { (a, b) } else { (b, a) };
    assert!(matches!(ok, Ok(StepDone::Effected { .. })), "{ok:?}");
    assert!(
        matches!(retry, Err(StepFailure::RetryLater(_))),
        "{retry:?}"
    );
    assert_eq!(w.record().state, OrderState::Captured);
}

#[test]
fn publish_failure_after_recording_is_retried_and_heals() {
    let w = World::with_order_in(OrderState::Authorized);
    w.publisher.set_failing(true);
    assert!(matches!(w.run(), Err(StepFailure::RetryLater(_))));
    assert_eq!(w.record().state, OrderState::Captured);
    w.publisher.set_failing(false);
    assert!(matches!(w.run(), Ok(StepDone::AlreadyRecorded { .. })));
    assert_eq!(w.dedup_ids(), ["o1-capture-clarity", "o1-capture-erp"]);
}

/// A step that waits while the order is still being authorized.
struct WaitingCapture<'a>(CaptureStep<'a>);

#[async_trait]
impl Step for WaitingCapture<'_> {
    type Input = Msg;
    type Outcome = Captured;
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn order_id(&self, input: &Msg) -> OrderId {
        self.0.order_id(input)
    }
    fn start_states(&self) -> &'static [OrderState] {
        self.0.start_states()
    }
    fn wait_states(&self) -> &'static [OrderState] {
        &[OrderState::Received, OrderState::Authorizing]
    }
    fn in_progress(&self) -> OrderState {
        self.0.in_progress()
    }
    async fn effect(
        &self,
        i: &Msg,
        r: &OrderRecord,
        reference: &str,
    ) -> Result<Captured, StepError> {
        self.0.effect(i, r, reference).await
    }
    async fn reconcile(
        &self,
        i: &Msg,
        r: &OrderRecord,
        reference: &str,
    ) -> Result<Option<Captured>, StepError> {
        self.0.reconcile(i, r, reference).await
    }
    fn result_state(&self, o: &Captured) -> OrderState {
        self.0.result_state(o)
    }
    fn apply(&self, order: &mut Order, o: &Captured, reference: &str) {
        self.0.apply(order, o, reference)
    }
    fn describe(&self, o: &Captured) -> (String, Option<String>) {
        self.0.describe(o)
    }
    fn downstream(&self, r: &OrderRecord, o: &Captured) -> Vec<OutboundMessage> {
        self.0.downstream(r, o)
    }
}

#[test]
fn a_step_waits_in_its_wait_states_and_runs_once_the_order_gets_there() {
    let w = World::with_order_in(OrderState::Received);
    let step = WaitingCapture(CaptureStep {
        gateway: &w.gateway,
    });
    let deps = Deps {
        store: &w.store,
        publisher: &w.publisher,
        clock: &w.clock,
        lease: LEASE,
        checkpoints: &NoCheckpoints,
    };
    let r = block_on(run_step(&step, &deps, &Msg { order: "o1" }));
    assert!(matches!(r, Err(StepFailure::RetryLater(m)) if m.contains("waits")));
    let mut rec = w.record();
    rec.state = OrderState::Authorized;
    w.store.put_raw(rec);
    block_on(run_step(&step, &deps, &Msg { order: "o1" })).unwrap();
    assert_eq!(w.record().state, OrderState::Captured);
}
