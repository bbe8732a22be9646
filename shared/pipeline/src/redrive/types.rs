//! The event and what comes back: [`RedriveRequest`] (validated into the queues it selects) and
//! [`RedriveResponse`] with one [`QueueReport`] per DLQ and one [`MessageReport`] per message.

use super::patch::PatchOp;
use super::similarity::nearest;
use o2c_domain::ports::QueueName;
use o2c_domain::recipe::FailureClass;
use serde::{Deserialize, Serialize};

/// Default threshold for `apply_suggested`.
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.5;
/// Default and maximum number of messages one pass takes from one DLQ.
pub const DEFAULT_MAX_MESSAGES: usize = 100;
pub const MAX_MESSAGES: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    List,
    Replay,
}

/// The event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedriveRequest {
    pub action: Action,
    /// `orders`, `captures`, `refunds`, `clarity-sync`, `erp-sync` or `all`.
    pub queue: String,
    /// Only these DLQ message ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_ids: Option<Vec<String>>,
    /// Replay with this RFC 6902 patch (needs `message_ids`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<Vec<PatchOp>>,
    /// Replay with each message's suggested fix (messages without one at `min_confidence` or
    /// more are skipped).
    #[serde(default)]
    pub apply_suggested: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_confidence: Option<f64>,
    /// Default true: report what would happen, change nothing.
    #[serde(default = "yes")]
    pub dry_run: bool,
    /// Per DLQ (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_messages: Option<usize>,
}

fn yes() -> bool {
    true
}

impl RedriveRequest {
    /// A listing of `queue`.
    pub fn list(queue: &str) -> Self {
        RedriveRequest {
            action: Action::List,
            queue: queue.to_string(),
            message_ids: None,
            patch: None,
            apply_suggested: false,
            min_confidence: None,
            dry_run: true,
            max_messages: None,
        }
    }

    /// The queues it selects, or why it is invalid.
    pub fn validate(&self) -> Result<Vec<QueueName>, RedriveError> {
        let queues = parse_queue_selector(&self.queue)?;
        if self.patch.is_some() && self.apply_suggested {
            return Err(RedriveError::BadRequest(
                "give either `patch` or `apply_suggested`, not both".into(),
            ));
        }
        if self.action == Action::List && (self.patch.is_some() || self.apply_suggested) {
            return Err(RedriveError::BadRequest(
                "`patch` and `apply_suggested` belong to `replay`".into(),
            ));
        }
        if self.patch.is_some() && self.message_ids.as_ref().is_none_or(Vec::is_empty) {
            return Err(RedriveError::BadRequest(
                "a `patch` applies to the messages named in `message_ids`; name them".into(),
            ));
        }
        if let Some(c) = self.min_confidence {
            if !(0.0..=1.0).contains(&c) {
                return Err(RedriveError::BadRequest(format!(
                    "min_confidence {c} is not in 0..=1"
                )));
            }
        }
        Ok(queues)
    }
}

/// `all`, or one queue by name (`clarity_sync` is read as `clarity-sync`).
pub fn parse_queue_selector(s: &str) -> Result<Vec<QueueName>, RedriveError> {
    let norm = s.trim().to_ascii_lowercase().replace('_', "-");
    if norm == "all" {
        return Ok(QueueName::ALL.to_vec());
    }
    if let Some(q) = QueueName::ALL.into_iter().find(|q| q.to_string() == norm) {
        return Ok(vec![q]);
    }
    let names: Vec<String> = QueueName::ALL
        .iter()
        .map(ToString::to_string)
        .chain(["all".to_string()])
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let hint = nearest(&norm, &refs)
        .filter(|m| m.score >= 0.7)
        .map(|m| format!("; did you mean `{}`?", m.value))
        .unwrap_or_default();
    Err(RedriveError::BadRequest(format!(
        "unknown queue `{s}` (one of {}){hint}",
        names.join(", ")
    )))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    #[error("invalid request: {0}")]
    BadRequest(String),
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RedriveResponse {
    pub action: Action,
    pub dry_run: bool,
    pub queues: Vec<QueueReport>,
    /// Requested message ids found in no selected DLQ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_found: Vec<String>,
    pub summary: Summary,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub listed: usize,
    pub with_automatic_fix: usize,
    pub replayed: usize,
    pub would_replay: usize,
    pub skipped: usize,
    pub failed: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueReport {
    pub queue: String,
    pub dlq_url: String,
    pub messages: Vec<MessageReport>,
    /// The DLQ could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageReport {
    pub message_id: String,
    /// The FIFO group: our order id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    pub class: FailureClass,
    pub reason: String,
    /// The `source_queue` attribute (an ARN), when the consumer dead-lettered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_queue: Option<String>,
    /// The DLQ's `ApproximateReceiveCount` (includes this pass's own receive).
    pub receive_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_timestamp_ms: Option<u64>,
    /// PII masked, card-number-like digit runs redacted, cut to 512 characters.
    pub body_preview: String,
    /// The order's state now (from the table), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_state: Option<String>,
    /// What to do about it, in words.
    pub hint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Suggestion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayReport>,
}

/// A suggested fix: an RFC 6902 patch and how sure we are (0 = cannot be fixed automatically).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub summary: String,
    pub confidence: f64,
    pub patch: Vec<PatchOp>,
    /// The body after the patch (masked), when the patch makes it valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_body_preview: Option<String>,
}

impl Suggestion {
    /// Can `apply_suggested` use it at this threshold?
    pub fn is_automatic(&self, min_confidence: f64) -> bool {
        !self.patch.is_empty() && self.confidence > 0.0 && self.confidence >= min_confidence
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplayOutcome {
    /// Sent to the source queue (and deleted from the DLQ unless `deleted` is false).
    Replayed,
    /// Dry run: this is what would be sent.
    WouldReplay,
    /// Not sent (no fix, patch failed, body still invalid); still on the DLQ.
    Skipped,
    /// The send failed; still on the DLQ.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayReport {
    pub outcome: ReplayOutcome,
    pub target_queue: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    /// What was (or would be) sent, masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_preview: Option<String>,
    /// The patch that was applied, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patch: Vec<PatchOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_message_id: Option<String>,
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn requests_are_validated() {
        let bad = |v: Value| {
            serde_json::from_value::<RedriveRequest>(v.clone())
                .map_err(|e| e.to_string())
                .and_then(|r| r.validate().map_err(|e| e.to_string()))
                .unwrap_err()
        };
        assert!(
            bad(json!({"action": "list", "queue": "all", "dryrun": false}))
                .contains("unknown field")
        );
        assert!(
            bad(json!({"action": "replay", "queue": "orders", "patch": []}))
                .contains("message_ids")
        );
        assert!(bad(json!({"action": "replay", "queue": "orders", "message_ids": ["m"], "patch": [], "apply_suggested": true})).contains("not both"));
        assert!(
            bad(json!({"action": "list", "queue": "orders", "apply_suggested": true}))
                .contains("replay")
        );
        let r: RedriveRequest =
            serde_json::from_value(json!({"action": "replay", "queue": "orders"})).unwrap();
        assert!(r.dry_run, "dry run by default");
    }
}
