//! Recording a cancellation (Clarity `order.cancelled`, or an order that arrives already
//! cancelled) so that it is never lost, whatever state it meets.
//!
//! The intent is written onto the order in any state (one conditional write that needs only
//! the order to exist; the first intent wins, a repeat changes nothing) and the cancellation
//! command is queued. From then on every payment step honours it (see
//! [`o2c_domain::ports::CancelIntent`]): authorize and capture do not start, an authorization
//! or capture that completes anyway queues the reversal or the full refund, and the refunds
//! consumer converges the order to `Voided` or `Refunded`.

use crate::messages::cancel_command;
use o2c_domain::ports::{
    CancelIntent, Change, Clock, Expect, OrderStore, PublishError, Publisher, StoreError,
};
use o2c_domain::{OrderId, OrderState, TimelineEntry};

/// States in which a cancellation has nothing left to do: nothing is held or charged (or a
/// chargeback owns the money now).
pub const NOTHING_TO_CANCEL: &[OrderState] = &[
    OrderState::Voided,
    OrderState::Declined,
    OrderState::Refunded,
    OrderState::Disputed,
    OrderState::DisputeWon,
    OrderState::DisputeLost,
];

/// What recording a cancellation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancelled {
    /// The order's state when the intent was recorded (or found recorded).
    pub state: OrderState,
    /// `false` when an intent was already recorded (a repeat, or another cancellation event).
    pub newly_recorded: bool,
    /// Whether the cancellation command was queued.
    pub queued: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// Record `intent` on order `id` and queue its command. `Ok(None)`: no such order.
pub async fn record_cancellation(
    store: &dyn OrderStore,
    publisher: &dyn Publisher,
    clock: &dyn Clock,
    id: &OrderId,
    intent: CancelIntent,
) -> Result<Option<Cancelled>, CancelError> {
    for _ in 0..4 {
        let Some(record) = store.get(id).await? else {
            return Ok(None);
        };
        let (record, newly_recorded) = match &record.cancel {
            Some(_) => (record, false),
            None => {
                let entry = TimelineEntry::new(
                    clock.now(),
                    "order.cancel_requested",
                    format!(
                        "cancellation recorded in state {}: {}",
                        record.state, intent.reason
                    ),
                )
                .with_ref(intent.event_id.clone());
                let change = Change {
                    cancel: Some(intent.clone()),
                    ..Change::note(entry)
                };
                match store.update(id, Expect::Exists, change).await {
                    Ok(r) => (r, true),
                    // Another cancellation landed first, or the order vanished: look again.
                    Err(StoreError::ConditionFailed { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let recorded = record.cancel.as_ref().unwrap_or(&intent);
        let queued = !NOTHING_TO_CANCEL.contains(&record.state);
        if queued {
            publisher
                .publish(&cancel_command(id, recorded, "webhook"))
                .await?;
        }
        return Ok(Some(Cancelled {
            state: record.state,
            newly_recorded,
            queued,
        }));
    }
    Err(StoreError::Unavailable(format!("order {id}: cancellation kept losing races")).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use o2c_domain::fakes::{InMemoryPublisher, InMemoryStore};
    use o2c_domain::ports::OrderRecord;
    use o2c_domain::Timestamp;

    fn intent(event: &str) -> CancelIntent {
        CancelIntent {
            event_id: event.into(),
            reason: "customer asked".into(),
            at: Timestamp::from_millis(0),
        }
    }

    #[tokio::test]
    async fn an_intent_is_recorded_in_any_state_once_and_queued_unless_moot() {
        for state in OrderState::ALL {
            let store = InMemoryStore::default();
            let publisher = InMemoryPublisher::default();
            let clock = o2c_domain::fakes::ManualClock::at(0);
            let mut record = OrderRecord::received(
                o2c_domain::model::sample::order("ord-c"),
                TimelineEntry::new(Timestamp::from_millis(0), "order.received", "test"),
            );
            record.state = state;
            store.create(&record).await.unwrap();
            let id = OrderId::new("ord-c").unwrap();
            let first = record_cancellation(&store, &publisher, &clock, &id, intent("e1"))
                .await
                .unwrap()
                .unwrap();
            assert!(first.newly_recorded, "{state}");
            assert_eq!(first.queued, !NOTHING_TO_CANCEL.contains(&state), "{state}");
            let again = record_cancellation(&store, &publisher, &clock, &id, intent("e2"))
                .await
                .unwrap()
                .unwrap();
            assert!(!again.newly_recorded);
            let stored = store.get(&id).await.unwrap().unwrap();
            assert_eq!(
                stored.state, state,
                "recording an intent never moves the state"
            );
            assert_eq!(
                stored.cancel.unwrap().event_id,
                "e1",
                "the first intent wins"
            );
            // Both sends name the first intent: the same message.
            let sent = publisher.sent();
            if first.queued {
                assert_eq!(sent.len(), 2);
                assert_eq!(sent[0], sent[1]);
            } else {
                assert!(sent.is_empty());
            }
        }
    }

    #[tokio::test]
    async fn an_unknown_order_is_reported_not_invented() {
        let store = InMemoryStore::default();
        let publisher = InMemoryPublisher::default();
        let clock = o2c_domain::fakes::ManualClock::at(0);
        let id = OrderId::new("nope").unwrap();
        let out = record_cancellation(&store, &publisher, &clock, &id, intent("e1"))
            .await
            .unwrap();
        assert_eq!(out, None);
        assert!(publisher.sent().is_empty());
    }
}
