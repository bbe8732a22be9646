//! Queue message bodies. Every message names its order (the FIFO group) and is sent with a
//! deterministic deduplication id, so a re-send after a crash is the same message.

use o2c_domain::ports::{CancelIntent, OutboundMessage, QueueName};
use o2c_domain::{Money, OrderId, RefundId};
use serde::{Deserialize, Serialize};

/// Commands for the payment steps (orders, captures and refunds queues).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentCommand {
    /// orders queue → authorize.
    Authorize { order_id: OrderId },
    /// captures queue → capture.
    Capture { order_id: OrderId },
    /// refunds queue → void / authorization reversal (cancel before capture, fraud reject).
    Void { order_id: OrderId, reason: String },
    /// refunds queue → refund after capture.
    Refund {
        order_id: OrderId,
        refund_id: RefundId,
        amount: Money,
        reason: String,
    },
}

impl PaymentCommand {
    pub fn order_id(&self) -> &OrderId {
        match self {
            PaymentCommand::Authorize { order_id }
            | PaymentCommand::Capture { order_id }
            | PaymentCommand::Void { order_id, .. }
            | PaymentCommand::Refund { order_id, .. } => order_id,
        }
    }

    pub fn queue(&self) -> QueueName {
        match self {
            PaymentCommand::Authorize { .. } => QueueName::Orders,
            PaymentCommand::Capture { .. } => QueueName::Captures,
            PaymentCommand::Void { .. } | PaymentCommand::Refund { .. } => QueueName::Refunds,
        }
    }

    /// The outbound message; `cause` names what sent it (`authorize`, `webhook`, ...) and makes
    /// the dedup id deterministic.
    pub fn message(&self, cause: &str) -> OutboundMessage {
        let order = self.order_id();
        let what = match self {
            PaymentCommand::Authorize { .. } => "authorize".to_string(),
            PaymentCommand::Capture { .. } => "capture".to_string(),
            PaymentCommand::Void { .. } => "void".to_string(),
            PaymentCommand::Refund { refund_id, .. } => format!("refund-{refund_id}"),
        };
        OutboundMessage {
            queue: self.queue(),
            group_id: order.to_string(),
            dedup_id: dedup_id(order, cause, &what),
            body: serde_json::to_string(self).expect("a command serialises"),
        }
    }
}

/// The command that carries out a recorded cancellation: a void (reversal) that the refunds
/// consumer turns into a full refund when the order was captured, or into `Received → Voided`
/// when nothing was authorized. Everyone who meets the intent sends the same message (same
/// effect key), so sending it again is harmless. `cause` (who sends it) is part of the dedup
/// id: a copy sent by a step must not be dropped by SQS deduplication because the webhook's
/// copy, sent minutes earlier, was dead-lettered meanwhile.
pub fn cancel_command(order_id: &OrderId, intent: &CancelIntent, cause: &str) -> OutboundMessage {
    PaymentCommand::Void {
        order_id: order_id.clone(),
        reason: intent.reason.clone(),
    }
    .message(&format!(
        "{cause}-cancel-{}",
        // 24 hex digits: the card-data rule reads a hex run that long as an identifier (a
        // 16-hex hash can start with a 13+ digit Luhn-valid run).
        short_hash(&intent.event_id, 24)
    ))
}

/// A nudge for a sync consumer (clarity-sync, erp-sync): "order X changed because of Y". The
/// consumer reads the order and converges the external system to it, so nudges may repeat or
/// arrive out of order without harm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncNudge {
    pub order_id: OrderId,
    /// What happened (`authorize.recorded`, `capture.recorded`, ...).
    pub cause: String,
}

impl SyncNudge {
    pub fn message(order_id: &OrderId, cause: &str, queue: QueueName) -> OutboundMessage {
        let nudge = SyncNudge {
            order_id: order_id.clone(),
            cause: cause.to_string(),
        };
        OutboundMessage {
            queue,
            group_id: order_id.to_string(),
            dedup_id: dedup_id(order_id, cause, &queue.to_string()),
            body: serde_json::to_string(&nudge).expect("a nudge serialises"),
        }
    }

    /// Nudges for both sync consumers.
    pub fn both(order_id: &OrderId, cause: &str) -> Vec<OutboundMessage> {
        vec![
            Self::message(order_id, cause, QueueName::ClaritySync),
            Self::message(order_id, cause, QueueName::ErpSync),
        ]
    }
}

/// `<order>-<cause>-<what>`: at most 128 characters, as SQS requires (long parts are hashed).
pub fn dedup_id(order: &OrderId, cause: &str, what: &str) -> String {
    let id = format!("{order}-{cause}-{what}");
    if id.len() <= 128 {
        id
    } else {
        format!("h-{}", short_hash(&id, 32))
    }
}

/// The first `hex` hex digits of SHA-256.
pub fn short_hash(s: &str, hex: usize) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .chars()
        .take(hex)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_and_dedup_ids_are_deterministic() {
        let id = OrderId::new("ord-1").unwrap();
        let c = PaymentCommand::Capture {
            order_id: id.clone(),
        };
        let m1 = c.message("authorize");
        let m2 = c.message("authorize");
        assert_eq!(m1, m2);
        assert_eq!(m1.queue, QueueName::Captures);
        assert_eq!(m1.group_id, "ord-1");
        assert_eq!(m1.dedup_id, "ord-1-authorize-capture");
        let back: PaymentCommand = serde_json::from_str(&m1.body).unwrap();
        assert_eq!(back, c);
        assert!(m1.body.contains(r#""type":"capture""#));
    }

    #[test]
    fn long_dedup_ids_are_hashed_to_fit() {
        let id = OrderId::new("o".repeat(64)).unwrap();
        let d = dedup_id(&id, &"c".repeat(60), "what");
        assert!(d.len() <= 128);
        assert_eq!(d, dedup_id(&id, &"c".repeat(60), "what"));
    }

    #[test]
    fn nudges_go_to_both_sync_queues() {
        let id = OrderId::new("ord-2").unwrap();
        let m = SyncNudge::both(&id, "capture.recorded");
        assert_eq!(m[0].queue, QueueName::ClaritySync);
        assert_eq!(m[1].queue, QueueName::ErpSync);
        assert_ne!(m[0].dedup_id, m[1].dedup_id);
    }
}
