//! The schema a replayed body must pass: [`PaymentCommand`] on orders / captures / refunds,
//! [`SyncNudge`] on the sync queues. A failure says what serde said and *where* in the body
//! (`serde_path_to_error`), so the fix heuristics read the value at that path instead of
//! searching the body for what the message quotes.

use crate::messages::{PaymentCommand, SyncNudge};
use o2c_domain::ports::QueueName;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a body fails its queue's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaError {
    /// serde's message (without the line/column suffix) and where: RFC 6901 tokens of the value
    /// that failed (empty: the body itself, or a place serde could not tell).
    Parse { path: Vec<String>, message: String },
    /// A valid command for another queue.
    WrongQueue {
        command: String,
        belongs_on: QueueName,
    },
}

impl SchemaError {
    /// The failure in words (for a replay that is refused).
    pub fn describe(&self) -> String {
        match self {
            SchemaError::Parse { message, .. } => message.clone(),
            SchemaError::WrongQueue {
                command,
                belongs_on,
            } => format!("a `{command}` command belongs on the {belongs_on} queue"),
        }
    }
}

/// Check a body against the schema of the queue it is replayed to.
pub fn schema_check(queue: QueueName, body: &Value) -> Result<(), SchemaError> {
    match queue {
        QueueName::Orders | QueueName::Captures | QueueName::Refunds => {
            let c: PaymentCommand = deserialize(body).map_err(|mut e| {
                if let SchemaError::Parse { path, message } = &mut e {
                    if path.is_empty() {
                        *path = variant_path(body, message).unwrap_or_default();
                    }
                }
                e
            })?;
            if c.queue() != queue {
                return Err(SchemaError::WrongQueue {
                    command: body
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string(),
                    belongs_on: c.queue(),
                });
            }
            Ok(())
        }
        QueueName::ClaritySync | QueueName::ErpSync => deserialize::<SyncNudge>(body).map(|_| ()),
    }
}

fn deserialize<T: DeserializeOwned>(body: &Value) -> Result<T, SchemaError> {
    serde_path_to_error::deserialize(body).map_err(|e| SchemaError::Parse {
        path: tokens(e.path()),
        message: strip_position(&e.inner().to_string()),
    })
}

/// The path as pointer tokens (up to a segment serde could not name).
fn tokens(path: &serde_path_to_error::Path) -> Vec<String> {
    use serde_path_to_error::Segment;
    let mut out = Vec::new();
    for s in path.iter() {
        match s {
            Segment::Seq { index } => out.push(index.to_string()),
            Segment::Map { key } => out.push(key.clone()),
            Segment::Enum { .. } => {}
            Segment::Unknown => break,
        }
    }
    out
}

/// The fields of each [`PaymentCommand`] variant, for locating an error inside one: serde
/// buffers an internally tagged enum's fields before it reads them, so `serde_path_to_error`
/// sees only the tag. [`PaymentCommand`] stays the schema; a path found here is used only when
/// the variant gives the very same error (so a drift between the two costs a location, never a
/// verdict).
mod variants {
    #![allow(dead_code)]
    use o2c_domain::{Money, OrderId, RefundId};
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct OrderOnly {
        order_id: OrderId,
    }
    #[derive(Deserialize)]
    pub struct Void {
        order_id: OrderId,
        reason: String,
    }
    #[derive(Deserialize)]
    pub struct Refund {
        order_id: OrderId,
        refund_id: RefundId,
        amount: Money,
        reason: String,
    }
}

/// Where inside the command's variant `message` arises, when the variant's own fields say so.
fn variant_path(body: &Value, message: &str) -> Option<Vec<String>> {
    let result = match body.get("type")?.as_str()? {
        "authorize" | "capture" => deserialize::<variants::OrderOnly>(body).map(|_| ()),
        "void" => deserialize::<variants::Void>(body).map(|_| ()),
        "refund" => deserialize::<variants::Refund>(body).map(|_| ()),
        _ => return None,
    };
    match result {
        Err(SchemaError::Parse { path, message: m }) if m == message => Some(path),
        _ => None,
    }
}

/// serde_json's message without its ` at line L column C` suffix.
pub fn strip_position(e: &str) -> String {
    match e.rfind(" at line ") {
        Some(i) if e[i..].contains(" column ") => e[..i].to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_error(queue: QueueName, body: Value) -> (Vec<String>, String) {
        match schema_check(queue, &body) {
            Err(SchemaError::Parse { path, message }) => (path, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_path_inside_the_command() {
        let (path, m) = parse_error(QueueName::Captures, json!({"type": "captur"}));
        assert_eq!(path, ["type"]);
        assert!(m.starts_with("unknown variant"), "{m}");
        let (path, _) = parse_error(
            QueueName::Refunds,
            json!({"type": "refund", "order_id": "O-1", "refund_id": "r", "reason": "x",
                   "amount": {"amount": "1", "currency": "usd"}}),
        );
        assert_eq!(path, ["amount", "currency"]);
        let (path, m) = parse_error(
            QueueName::Refunds,
            json!({"type": "refund", "order_id": "O-1", "refund_id": "r", "reason": "x",
                   "amount": {"amount": "1"}}),
        );
        assert_eq!(
            (path, m.as_str()),
            (vec!["amount".to_string()], "missing field `currency`")
        );
        let (path, _) = parse_error(
            QueueName::Captures,
            json!({"type": "capture", "order_id": 5}),
        );
        assert_eq!(path, ["order_id"]);
        let (path, _) = parse_error(
            QueueName::ErpSync,
            json!({"order_id": "O-1", "cause": null}),
        );
        assert_eq!(path, ["cause"]);
        let (path, m) = parse_error(QueueName::Captures, json!({"order_id": "O-1"}));
        assert_eq!((path.len(), m.as_str()), (0, "missing field `type`"));
        assert_eq!(
            schema_check(
                QueueName::Orders,
                &json!({"type": "capture", "order_id": "O-1"})
            ),
            Err(SchemaError::WrongQueue {
                command: "capture".into(),
                belongs_on: QueueName::Captures
            })
        );
    }
}
