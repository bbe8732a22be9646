//! The one idempotent `order.created` intake, shared by the Clarity webhook
//! ([`crate::webhook`]) and the catch-up poller ([`crate::pollers::catchup`]):
//!
//! map the Clarity order (a mapping error names the field; nothing stored) → remember the event
//! id (webhook deliveries; the same id with another payload is refused) → create the order in
//! `Received` (conditional put) → queue its authorization with a deterministic dedup id.
//!
//! **Only payable orders start a payment** ([`is_payable`]: Clarity status `pending_payment`).
//! Any other status is recorded — the order is created in `Received` with an `order.not_payable`
//! timeline entry naming the status — and acknowledged; no authorization is queued, then or on
//! any later delivery.
//!
//! **Healing.** When the order already exists (a redelivery, the webhook and the catch-up
//! racing), the authorization is queued again only if the stored order is still `Received`,
//! was recorded payable (no `order.not_payable` entry) and the incoming status is payable: that
//! is an earlier intake that died between creating and queueing. The message is the same one
//! (same dedup id, [`AUTHORIZE_CAUSE`]), and the authorize step is exactly-once anyway.

use crate::cancel::record_cancellation;
use crate::messages::PaymentCommand;
use crate::spec_runtime;
use o2c_connectors::clarity::dto::{ClarityStatus, Order as ClarityOrder};
use o2c_connectors::mapping::clarity::{is_payable, order_to_canonical};
use o2c_connectors::mapping::MappingError;
use o2c_domain::ports::{
    CancelIntent, Clock, IdempotencyRecord, OrderRecord, OrderStore, Publisher, PutOutcome,
    StoreError,
};
use o2c_domain::{OrderId, OrderState, TimelineEntry, Timestamp};
use o2c_spec::Spec;
use std::sync::Arc;
use std::time::Duration;

/// Idempotency scope of Clarity event ids.
pub const SCOPE: &str = "clarity-webhook";

/// The `cause` of the authorization message, whoever took the order in: the webhook and the
/// catch-up send the same message (same dedup id), so racing intakes collapse into one.
pub const AUTHORIZE_CAUSE: &str = "webhook";

/// Timeline entry of every intake.
pub const RECEIVED: &str = "order.received";

/// Timeline entry of an order recorded with a status that may not start a payment.
pub const NOT_PAYABLE: &str = "order.not_payable";

/// Who took the order in.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// A signed `order.created` delivery: its event id and payload hash.
    Webhook {
        event_id: &'a str,
        payload_hash: &'a str,
    },
    /// The catch-up poller found the order in Clarity's list.
    CatchUp { poller: &'a str },
    /// An operator replayed a quarantined `order.created` (same event id, and the hash of the
    /// body as delivered, so a late redelivery of it is a duplicate).
    Replay {
        event_id: &'a str,
        payload_hash: &'a str,
        by: &'a str,
    },
}

/// What the intake did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intook {
    pub order_id: OrderId,
    pub clarity_status: ClarityStatus,
    /// The incoming status may start a payment.
    pub payable: bool,
    /// This call created the order (else it existed already).
    pub created: bool,
    /// The webhook event id was seen before with the same payload.
    pub duplicate_event: bool,
    /// The authorization message was sent (new payable order, or a healed lost enqueue).
    pub authorize_queued: bool,
}

/// Why the intake did not finish.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The order cannot be mapped (field path, value, what is wrong); nothing stored.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// The event id was delivered before with a different payload.
    #[error("this event id was delivered before with a different payload")]
    EventIdReused,
    /// The store or the queue failed; try again later (the intake is idempotent).
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for IntakeError {
    fn from(e: StoreError) -> Self {
        IntakeError::Unavailable(e.to_string())
    }
}

/// Has the stored order been recorded as not payable?
pub fn recorded_not_payable(record: &OrderRecord) -> bool {
    record.timeline.iter().any(|e| e.what == NOT_PAYABLE)
}

/// The `order.not_payable` entry for an order that arrived with `status`.
pub fn not_payable_entry(at: Timestamp, status: ClarityStatus) -> TimelineEntry {
    TimelineEntry::new(
        at,
        NOT_PAYABLE,
        format!(
            "Clarity status {status} is not payable (only pending_payment is): recorded, no payment was started"
        ),
    )
}

/// The order a Clarity order becomes under `spec`, pinned to it, and the `spec.pinned` entry:
/// everything the intake checks before it writes (a replay's dry run runs just this).
pub fn map_order(
    wire: &ClarityOrder,
    spec: &Spec,
    now: Timestamp,
) -> Result<(o2c_domain::Order, TimelineEntry), MappingError> {
    let mut order = order_to_canonical(wire)?;
    let (pinned, _) = spec_runtime::pin(&mut order, spec, now)?;
    Ok((order, pinned))
}

/// The intake's ports.
#[derive(Clone)]
pub struct Intake {
    pub store: Arc<dyn OrderStore>,
    pub publisher: Arc<dyn Publisher>,
    pub clock: Arc<dyn Clock>,
    /// How long event ids are remembered: longer than Clarity's redelivery schedule.
    pub remember: Duration,
}

impl Intake {
    /// Take in one Clarity order (see the module documentation).
    /// `spec` is the version the order pins (the active one when it arrived): its `capture`
    /// rule decides now, and every later mapping and rule of the order uses it.
    pub async fn order_created(
        &self,
        wire: &ClarityOrder,
        spec: &Spec,
        source: Source<'_>,
    ) -> Result<Intook, IntakeError> {
        let (order, pinned) = map_order(wire, spec, self.clock.now())?;
        let duplicate_event = match source {
            Source::Webhook {
                event_id,
                payload_hash,
            }
            | Source::Replay {
                event_id,
                payload_hash,
                ..
            } => self.remember_event(event_id, payload_hash).await?,
            Source::CatchUp { .. } => false,
        };
        let now = self.clock.now();
        let status = wire.status;
        let payable = is_payable(status);
        let id = order.id.clone();
        let entry = match source {
            Source::Webhook { event_id, .. } => {
                TimelineEntry::new(now, RECEIVED, "Clarity order.created webhook")
                    .with_ref(event_id)
            }
            Source::Replay { event_id, by, .. } => TimelineEntry::new(
                now,
                RECEIVED,
                format!("Clarity order.created, replayed from quarantine by {by} (it did not map when it arrived)"),
            )
            .with_ref(event_id),
            Source::CatchUp { poller } => TimelineEntry::new(
                now,
                RECEIVED,
                format!(
                    "Clarity catch-up ({poller}): the order.created webhook never arrived; found in Clarity's order list"
                ),
            ),
        };
        let mut record = OrderRecord::received(order, entry);
        record.timeline.push(pinned);
        if !payable {
            record.timeline.push(not_payable_entry(now, status));
        }
        let created = match self.store.create(&record).await {
            Ok(()) => true,
            Err(StoreError::AlreadyExists(_)) => false,
            Err(e) => return Err(e.into()),
        };
        if status == ClarityStatus::Cancelled {
            // Already cancelled when it reached us: record the cancellation like any other, so
            // the order closes as `Voided` (nothing was ever held) and no step ever starts.
            let event_id = match source {
                Source::Webhook { event_id, .. } | Source::Replay { event_id, .. } => {
                    event_id.to_string()
                }
                Source::CatchUp { poller } => format!("{poller}:{id}"),
            };
            let intent = CancelIntent {
                event_id,
                reason: "already cancelled in Clarity when the order arrived".into(),
                at: now,
            };
            record_cancellation(&*self.store, &*self.publisher, &*self.clock, &id, intent)
                .await
                .map_err(|e| IntakeError::Unavailable(e.to_string()))?;
        }
        let authorize = payable && (created || self.lost_enqueue(&id).await?);
        if authorize {
            let m = PaymentCommand::Authorize {
                order_id: id.clone(),
            }
            .message(AUTHORIZE_CAUSE);
            self.publisher
                .publish(&m)
                .await
                .map_err(|e| IntakeError::Unavailable(e.to_string()))?;
        }
        Ok(Intook {
            order_id: id,
            clarity_status: status,
            payable,
            created,
            duplicate_event,
            authorize_queued: authorize,
        })
    }

    /// The order exists: is it a payable order still waiting for its first authorization (an
    /// intake that died between creating and queueing)?
    async fn lost_enqueue(&self, id: &OrderId) -> Result<bool, IntakeError> {
        let record = self.store.get(id).await?.ok_or_else(|| {
            IntakeError::Unavailable(format!("order {id} exists but could not be read yet"))
        })?;
        Ok(record.state == OrderState::Received && !recorded_not_payable(&record))
    }

    /// Record a Clarity event id; `true` when it was seen before with the same payload.
    pub async fn remember_event(&self, event_id: &str, hash: &str) -> Result<bool, IntakeError> {
        let now = self.clock.now();
        let record = IdempotencyRecord {
            scope: SCOPE.into(),
            key: event_id.to_string(),
            payload_hash: hash.to_string(),
            created_at: now,
            expires_at: now.plus(self.remember),
            result: None,
        };
        match self.store.put_idempotency(&record).await? {
            PutOutcome::Created => Ok(false),
            PutOutcome::Exists(prev) if prev.payload_hash == hash => Ok(true),
            PutOutcome::Exists(_) => Err(IntakeError::EventIdReused),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use o2c_domain::fakes::{InMemoryPublisher, InMemoryStore, ManualClock};

    fn wire(id: &str, status: &str) -> ClarityOrder {
        serde_json::from_value(o2c_connectors::clarity::sample::order_json(
            id,
            status,
            "2024-06-01T12:00:00Z",
        ))
        .unwrap()
    }

    fn intake() -> (Intake, Arc<InMemoryStore>, Arc<InMemoryPublisher>) {
        let store = Arc::new(InMemoryStore::new());
        let publisher = Arc::new(InMemoryPublisher::new());
        let intake = Intake {
            store: store.clone(),
            publisher: publisher.clone(),
            clock: Arc::new(ManualClock::at(1_717_243_200_000)),
            remember: Duration::from_secs(3600),
        };
        (intake, store, publisher)
    }

    const HOOK: Source<'static> = Source::Webhook {
        event_id: "evt_1",
        payload_hash: "h1",
    };

    #[tokio::test]
    async fn a_payable_order_is_created_and_queued_once_and_a_lost_enqueue_is_healed() {
        let (intake, store, publisher) = intake();
        let o = wire("ORD-1", "pending_payment");
        let first = intake
            .order_created(&o, &o2c_spec::bundled(), HOOK)
            .await
            .unwrap();
        assert!(first.created && first.payable && first.authorize_queued);
        let again = intake
            .order_created(&o, &o2c_spec::bundled(), HOOK)
            .await
            .unwrap();
        assert!(!again.created && again.duplicate_event);
        // Still `Received`: the redelivery re-sends the same message (healing).
        assert!(again.authorize_queued);
        let sent = publisher.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0], sent[1]);
        assert_eq!(sent[0].dedup_id, "ORD-1-webhook-authorize");
        // The catch-up finds it known: same message again at most.
        let cu = intake
            .order_created(&o, &o2c_spec::bundled(), Source::CatchUp { poller: "p" })
            .await
            .unwrap();
        assert!(!cu.created);
        let r = store.get(&OrderId::new("ORD-1").unwrap()).await.unwrap();
        assert!(!recorded_not_payable(&r.unwrap()));
    }

    #[tokio::test]
    async fn a_not_payable_order_is_recorded_and_never_queued_even_on_redelivery() {
        for status in [
            "cancelled",
            "completed",
            "on_hold",
            "payment_failed",
            "payment_received",
            "processing",
            "shipped",
            "something_new",
        ] {
            let (intake, store, publisher) = intake();
            let o = wire("ORD-2", status);
            let first = intake
                .order_created(&o, &o2c_spec::bundled(), HOOK)
                .await
                .unwrap();
            assert!(first.created && !first.payable && !first.authorize_queued);
            let again = intake
                .order_created(&o, &o2c_spec::bundled(), HOOK)
                .await
                .unwrap();
            assert!(!again.created && !again.authorize_queued, "{status}");
            // No authorization, ever; an order already cancelled gets its cancellation recorded
            // and queued (it closes as `Voided`: nothing was held).
            let cancelled = status == "cancelled";
            assert!(
                publisher
                    .sent()
                    .iter()
                    .all(|m| m.queue == o2c_domain::ports::QueueName::Refunds && cancelled),
                "{status}: {:?}",
                publisher.sent()
            );
            let r = store
                .get(&OrderId::new("ORD-2").unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(r.state, OrderState::Received);
            assert!(recorded_not_payable(&r));
            assert_eq!(r.timeline.len(), 3 + usize::from(cancelled), "{status}");
            assert_eq!(r.cancel.is_some(), cancelled, "{status}");
            assert_eq!(r.timeline[1].what, crate::spec_runtime::PINNED, "{status}");
            assert!(r.timeline[2].why.contains("not payable"), "{status}");
            // A later payable event for the same order does not heal it either.
            let later = intake
                .order_created(
                    &wire("ORD-2", "pending_payment"),
                    &o2c_spec::bundled(),
                    Source::CatchUp { poller: "p" },
                )
                .await
                .unwrap();
            assert!(!later.authorize_queued, "{status}");
        }
    }

    #[tokio::test]
    async fn the_same_event_id_with_another_payload_is_refused_and_mapping_errors_name_the_field() {
        let (intake, _, _) = intake();
        let o = wire("ORD-3", "pending_payment");
        intake
            .order_created(&o, &o2c_spec::bundled(), HOOK)
            .await
            .unwrap();
        let other = Source::Webhook {
            event_id: "evt_1",
            payload_hash: "h2",
        };
        assert!(matches!(
            intake.order_created(&o, &o2c_spec::bundled(), other).await,
            Err(IntakeError::EventIdReused)
        ));
        let mut bad = wire("ORD-4", "pending_payment");
        bad.currency = "EURO".into();
        match intake
            .order_created(&bad, &o2c_spec::bundled(), Source::CatchUp { poller: "p" })
            .await
        {
            Err(IntakeError::Mapping(e)) => assert_eq!(e.path, "order.currency"),
            other => panic!("{other:?}"),
        }
    }
}
