//! Replay of one dead letter (moto has no `StartMessageMoveTask`): the message was received
//! (hidden while the pass runs); it is sent to the source queue with the same `MessageGroupId`
//! and the deterministic dedup id `redrive-<message id>` (`redrive-<message id>-<hash of the new
//! body>` when patched), and deleted from the DLQ only after the send succeeded. Correctness
//! never relies on SQS deduplication: the consumers' step recipe makes a repeated command
//! harmless. A body that would be dead-lettered again (it still fails its queue's schema) or
//! that holds a card number is not sent.

use super::mask::preview;
use super::patch::{apply_patch, PatchOp};
use super::schema::{schema_check, strip_position};
use super::service::{QueueUrls, Redrive};
use super::types::{
    MessageReport, RedriveRequest, ReplayOutcome, ReplayReport, DEFAULT_MIN_CONFIDENCE,
};
use crate::messages::short_hash;
use o2c_domain::card;
use o2c_domain::ports::DlqMessage;
use o2c_domain::ports::QueueName;
use serde_json::Value;

impl Redrive {
    pub(super) async fn replay_one(
        &self,
        queue: QueueName,
        urls: &QueueUrls,
        m: &DlqMessage,
        item: &MessageReport,
        request: &RedriveRequest,
    ) -> ReplayReport {
        let mut r = ReplayReport {
            outcome: ReplayOutcome::Skipped,
            target_queue: queue.to_string(),
            group_id: None,
            dedup_id: None,
            body_preview: None,
            patch: Vec::new(),
            sent_message_id: None,
            deleted: false,
            detail: None,
        };
        let min = request.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE);
        let patch: Option<Vec<PatchOp>> = if let Some(p) = &request.patch {
            Some(p.clone())
        } else if request.apply_suggested {
            match &item.suggestion {
                Some(s) if s.is_automatic(min) => Some(s.patch.clone()),
                Some(s) => {
                    r.detail = Some(format!(
                        "no automatic fix at confidence ≥ {min} (the suggestion's is {}); see \
                         the suggestion",
                        s.confidence
                    ));
                    return r;
                }
                None => {
                    r.detail = Some(
                        "no suggested fix for this class; replay without apply_suggested to send it as is"
                            .into(),
                    );
                    return r;
                }
            }
        } else {
            None
        };
        let body = match &patch {
            None => m.body.clone(),
            Some(ops) => {
                let doc: Value = match serde_json::from_str(&m.body) {
                    Ok(d) => d,
                    Err(e) => {
                        r.detail = Some(format!("the body is not JSON, cannot patch: {e}"));
                        return r;
                    }
                };
                match apply_patch(&doc, ops) {
                    Ok(v) => v.to_string(),
                    Err(e) => {
                        r.detail = Some(e.to_string());
                        return r;
                    }
                }
            }
        };
        r.patch = patch.unwrap_or_default();
        r.body_preview = Some(preview(&body));
        if card::contains_card_number(&body) {
            r.detail = Some("the body holds a card-number-like value; never sent".into());
            return r;
        }
        let parsed: Result<Value, _> = serde_json::from_str(&body);
        let check = match &parsed {
            Ok(v) => schema_check(queue, v).map_err(|e| e.describe()),
            Err(e) => Err(strip_position(&e.to_string())),
        };
        if let Err(e) = check {
            r.detail = Some(format!(
                "not sent: the {queue} consumer would dead-letter it again ({e})"
            ));
            return r;
        }
        let group = m.group_id.clone().or_else(|| {
            parsed.ok().and_then(|v| {
                v.get("order_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
        });
        let Some(group) = group else {
            r.detail = Some("no MessageGroupId and no order_id: cannot pick the FIFO group".into());
            return r;
        };
        let dedup = if body == m.body {
            format!("redrive-{}", m.message_id)
        } else {
            format!("redrive-{}-{}", m.message_id, short_hash(&body, 12))
        };
        let dedup: String = dedup.chars().take(128).collect();
        r.group_id = Some(group.clone());
        r.dedup_id = Some(dedup.clone());
        if request.dry_run {
            r.outcome = ReplayOutcome::WouldReplay;
            return r;
        }
        match self.port.send(&urls.source, &body, &group, &dedup).await {
            Err(e) => {
                r.outcome = ReplayOutcome::Failed;
                r.detail = Some(format!("send failed; left on the DLQ: {e}"));
                tracing::warn!(queue = %queue, message_id = %m.message_id, error = %e, "replay send failed");
            }
            Ok(id) => {
                r.outcome = ReplayOutcome::Replayed;
                r.sent_message_id = id;
                match self.port.delete(&urls.dlq, &m.receipt_handle).await {
                    Ok(()) => r.deleted = true,
                    Err(e) => {
                        r.detail = Some(format!(
                            "sent, but the delete from the DLQ failed ({e}): it will be listed \
                             again; replaying it again is harmless (same dedup id, idempotent steps)"
                        ))
                    }
                }
                tracing::info!(queue = %queue, message_id = %m.message_id, order_id = %group, dedup_id = %dedup, deleted = r.deleted, "replayed");
            }
        }
        r
    }
}
