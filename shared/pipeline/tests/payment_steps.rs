//! The payment steps on in-memory fakes (order store, publisher, clock, Cybersource gateway):
//! outcomes → states and messages, and exactly-once under lost responses and crashes.

use o2c_connectors::cybersource::fake::FakeGateway;
use o2c_domain::fakes::{InMemoryPublisher, InMemoryStore, ManualClock};
use o2c_domain::model::sample;
use o2c_domain::ports::{OrderRecord, QueueName};
use o2c_domain::recipe::{Checkpoint, Checkpoints, NoCheckpoints, StepFailure};
use o2c_domain::{OrderState, PaymentInstrument, TimelineEntry};
use o2c_pipeline::handler::{Accepts, PaymentHandler, Ports};
use o2c_pipeline::messages::PaymentCommand;
use o2c_pipeline::payment::{PaymentContext, Route, SingleRoute};
use o2c_runtime::batch::{MessageHandler, QueueMessage};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct World {
    store: InMemoryStore,
    publisher: InMemoryPublisher,
    clock: ManualClock,
    gateway: Arc<FakeGateway>,
    crash: Arc<CrashOnce>,
}

#[derive(Default)]
struct CrashOnce(Mutex<Option<(String, Checkpoint)>>);
impl Checkpoints for CrashOnce {
    fn reached(&self, step: &str, point: Checkpoint) -> Result<(), StepFailure> {
        let mut at = self.0.lock().unwrap();
        if at.as_ref() == Some(&(step.to_string(), point)) {
            *at = None;
            return Err(StepFailure::RetryLater(format!(
                "crash in {step} at {point:?}"
            )));
        }
        Ok(())
    }
}

const LEASE: Duration = Duration::from_secs(65);

impl World {
    fn new(order: o2c_domain::Order) -> World {
        let store = InMemoryStore::new();
        let clock = ManualClock::at(1_800_000_000_000);
        store.put_raw(OrderRecord::received(
            order,
            TimelineEntry::new(
                o2c_domain::Timestamp::from_millis(0),
                "order.received",
                "test",
            ),
        ));
        World {
            store,
            publisher: InMemoryPublisher::new(),
            clock,
            gateway: Arc::new(FakeGateway::new()),
            crash: Arc::new(CrashOnce::default()),
        }
    }

    fn handler(&self, accepts: Accepts) -> PaymentHandler {
        PaymentHandler {
            ports: Ports {
                store: Arc::new(self.store.clone()),
                publisher: Arc::new(self.publisher.clone()),
                clock: Arc::new(self.clock.clone()),
                lease: LEASE,
                checkpoints: self.crash.clone(),
            },
            ctx: PaymentContext {
                router: Arc::new(SingleRoute(Route {
                    name: "default".into(),
                    gateway: self.gateway.clone(),
                })),
                call_budget: Duration::from_secs(10),
                invocation_deadline: None,
            },
            accepts,
            specs: Some(Arc::new(o2c_spec::Specs::bundled())),
        }
    }

    async fn send(&self, accepts: Accepts, command: PaymentCommand) -> Result<(), StepFailure> {
        let m = command.message("test");
        let msg = QueueMessage {
            message_id: "m".into(),
            body: m.body,
            group_id: Some(m.group_id),
            dedup_id: Some(m.dedup_id),
            receive_count: 1,
            source_arn: None,
            deadline: None,
        };
        self.handler(accepts).handle(&msg).await
    }

    fn state(&self) -> OrderState {
        self.store.snapshot("o1").unwrap().state
    }

    fn record(&self) -> OrderRecord {
        self.store.snapshot("o1").unwrap()
    }

    fn sent(&self, queue: QueueName) -> Vec<String> {
        self.publisher
            .sent()
            .into_iter()
            .filter(|m| m.queue == queue)
            .map(|m| m.body)
            .collect()
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.gateway.transactions().iter().map(|t| t.kind).collect()
    }
}

fn authorize() -> PaymentCommand {
    PaymentCommand::Authorize {
        order_id: o2c_domain::OrderId::new("o1").unwrap(),
    }
}
fn capture() -> PaymentCommand {
    PaymentCommand::Capture {
        order_id: o2c_domain::OrderId::new("o1").unwrap(),
    }
}

/// Follow the queued payment commands the way the bridge would.
async fn drain_payments(w: &World) {
    let mut done = 0;
    loop {
        let pending: Vec<_> = w
            .publisher
            .sent()
            .into_iter()
            .filter(|m| matches!(m.queue, QueueName::Captures | QueueName::Refunds))
            .collect();
        if done >= pending.len() {
            break;
        }
        for m in &pending[done..] {
            let cmd: PaymentCommand = serde_json::from_str(&m.body).unwrap();
            let accepts = match m.queue {
                QueueName::Captures => Accepts::Capture,
                _ => Accepts::VoidOrRefund,
            };
            w.send(accepts, cmd).await.unwrap();
        }
        done = pending.len();
    }
}

#[tokio::test]
async fn accept_authorizes_then_captures_once() {
    let w = World::new(sample::order("o1"));
    w.send(Accepts::Authorize, authorize()).await.unwrap();
    assert_eq!(w.state(), OrderState::Authorized);
    assert_eq!(w.sent(QueueName::Captures).len(), 1);
    drain_payments(&w).await;
    assert_eq!(w.state(), OrderState::Captured);
    assert_eq!(w.kinds(), ["authorization", "capture"]);
    let r = w.record();
    let p = r.order.payment.unwrap();
    assert_eq!(p.captured, r.order.total);
    assert_eq!(p.card_brand.as_deref(), Some("visa"));
    assert_eq!(p.card_last4.as_deref(), Some("1111"));
    // Clarity and ERP hear about both steps.
    assert_eq!(w.sent(QueueName::ClaritySync).len(), 2);
    assert_eq!(w.sent(QueueName::ErpSync).len(), 2);
    // Redelivering everything changes nothing at Cybersource.
    w.send(Accepts::Authorize, authorize()).await.unwrap();
    w.send(Accepts::Capture, capture()).await.unwrap();
    assert_eq!(w.kinds(), ["authorization", "capture"]);
}

#[tokio::test]
async fn review_holds_the_order_without_capture() {
    let w = World::new(sample::order("o1"));
    w.gateway.next_authorization(
        "AUTHORIZED_PENDING_REVIEW",
        Some("DECISION_PROFILE_REVIEW"),
        Some("REVIEW"),
    );
    w.send(Accepts::Authorize, authorize()).await.unwrap();
    assert_eq!(w.state(), OrderState::PendingReview);
    assert!(w.sent(QueueName::Captures).is_empty());
    assert_eq!(w.sent(QueueName::ClaritySync).len(), 1);
}

#[tokio::test]
async fn fraud_reject_after_issuer_approval_is_reversed() {
    let w = World::new(sample::order("o1"));
    w.gateway.next_authorization(
        "AUTHORIZED_RISK_DECLINED",
        Some("DECISION_PROFILE_REJECT"),
        Some("REJECT"),
    );
    w.send(Accepts::Authorize, authorize()).await.unwrap();
    assert_eq!(w.state(), OrderState::Rejected);
    assert!(w.sent(QueueName::Captures).is_empty());
    assert_eq!(w.sent(QueueName::Refunds).len(), 1);
    drain_payments(&w).await;
    assert_eq!(w.state(), OrderState::Voided);
    assert_eq!(w.kinds(), ["authorization", "reversal"]);
}

#[tokio::test]
async fn decline_ends_the_order_with_its_reason() {
    let w = World::new(sample::order("o1"));
    w.gateway
        .next_authorization("DECLINED", Some("INSUFFICIENT_FUND"), None);
    w.send(Accepts::Authorize, authorize()).await.unwrap();
    assert_eq!(w.state(), OrderState::Declined);
    assert!(w.sent(QueueName::Captures).is_empty() && w.sent(QueueName::Refunds).is_empty());
    let r = w.record();
    assert!(
        r.timeline.last().unwrap().why.contains("INSUFFICIENT_FUND"),
        "{:?}",
        r.timeline.last()
    );
}

#[tokio::test]
async fn unknown_status_is_never_approved() {
    let w = World::new(sample::order("o1"));
    w.gateway.next_authorization("SOMETHING_NEW", None, None);
    let r = w.send(Accepts::Authorize, authorize()).await;
    assert!(matches!(r, Err(StepFailure::RetryLater(_))), "{r:?}");
    assert_eq!(
        w.state(),
        OrderState::Authorizing,
        "claim kept for reconcile"
    );
    assert!(w.sent(QueueName::Captures).is_empty());
}

#[tokio::test]
async fn lost_authorization_response_is_reconciled_without_a_second_charge() {
    let w = World::new(sample::order("o1"));
    w.gateway.lose_next_response("authorize");
    assert!(w.send(Accepts::Authorize, authorize()).await.is_err());
    assert_eq!(w.state(), OrderState::Authorizing);
    assert_eq!(w.kinds(), ["authorization"], "the effect happened");
    // Redelivery while the lease is live waits.
    assert!(w.send(Accepts::Authorize, authorize()).await.is_err());
    w.clock.advance_ms(LEASE.as_millis() as i64 + 1);
    w.send(Accepts::Authorize, authorize()).await.unwrap();
    assert_eq!(w.state(), OrderState::Authorized);
    assert_eq!(
        w.kinds(),
        ["authorization"],
        "reconcile found it: no second authorization"
    );
    drain_payments(&w).await;
    assert_eq!(w.kinds(), ["authorization", "capture"]);
}

#[tokio::test]
async fn crash_after_capture_effect_is_reconciled_without_a_second_capture() {
    let w = World::new(sample::order("o1"));
    w.send(Accepts::Authorize, authorize()).await.unwrap();
    *w.crash.0.lock().unwrap() = Some(("capture".into(), Checkpoint::AfterEffect));
    assert!(w.send(Accepts::Capture, capture()).await.is_err());
    assert_eq!(w.state(), OrderState::Capturing);
    w.clock.advance_ms(LEASE.as_millis() as i64 + 1);
    w.send(Accepts::Capture, capture()).await.unwrap();
    assert_eq!(w.state(), OrderState::Captured);
    assert_eq!(w.kinds(), ["authorization", "capture"]);
}

#[tokio::test]
async fn transient_token_is_spent_once_and_replaced_by_tms_ids() {
    let mut order = sample::order("o1");
    order.instrument = PaymentInstrument::TransientToken {
        jwt: "eyJ.transient.token".into(),
    };
    let w = World::new(order);
    w.send(Accepts::Authorize, authorize()).await.unwrap();
    let r = w.record();
    assert!(matches!(r.order.instrument, PaymentInstrument::Tms { .. }));
    assert!(r.order.customer.external.cybersource.is_some());
    assert!(!serde_json::to_string(&r).unwrap().contains("eyJ.transient"));
}

#[tokio::test]
async fn wrong_queue_and_malformed_bodies_are_classified() {
    let w = World::new(sample::order("o1"));
    let r = w.send(Accepts::Capture, authorize()).await;
    assert!(matches!(r, Err(StepFailure::NonRetryable { .. })), "{r:?}");
    let bad = QueueMessage {
        message_id: "m".into(),
        body: r#"{"type":"teleport","order_id":"o1"}"#.into(),
        group_id: Some("o1".into()),
        dedup_id: None,
        receive_count: 1,
        source_arn: None,
        deadline: None,
    };
    let r = w.handler(Accepts::Authorize).handle(&bad).await;
    match r {
        Err(StepFailure::NonRetryable { class, reason }) => {
            assert_eq!(class, o2c_domain::recipe::FailureClass::Mapping);
            assert!(reason.contains("teleport"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.state(), OrderState::Received);
    let _ = NoCheckpoints;
}
