//! The service on an in-memory port: listing, dry runs, replays, failed sends, refused bodies.

use super::*;
use async_trait::async_trait;
use o2c_domain::ports::QueueName;
use o2c_domain::recipe::FailureClass;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

fn attrs(class: &str, reason: &str) -> BTreeMap<String, String> {
    [
        (ATTR_FAILURE_CLASS, class),
        (ATTR_FAILURE_REASON, reason),
        (
            ATTR_SOURCE_QUEUE,
            "arn:aws:sqs:us-east-1:123456789012:o2c-captures.fifo",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn op_replace(path: &str, value: Value) -> PatchOp {
    PatchOp::Replace {
        path: path.into(),
        value,
    }
}

#[derive(Default)]
struct FakeQueues {
    /// url → (message, hidden)
    dlqs: Mutex<BTreeMap<String, Vec<(DlqMessage, bool)>>>,
    sent: Mutex<Vec<(String, String, String, String)>>,
    deleted: Mutex<Vec<String>>,
    fail_send: bool,
}

#[async_trait]
impl DeadLetterQueues for FakeQueues {
    async fn receive(
        &self,
        url: &str,
        max: usize,
        _hide: u32,
        _wait: u32,
    ) -> Result<Vec<DlqMessage>, String> {
        let mut d = self.dlqs.lock().unwrap();
        let q = d.entry(url.to_string()).or_default();
        let mut out = Vec::new();
        for (m, hidden) in q.iter_mut().filter(|(_, h)| !*h).take(max) {
            *hidden = true;
            m.receive_count += 1;
            out.push(m.clone());
        }
        Ok(out)
    }
    async fn send(
        &self,
        url: &str,
        body: &str,
        group: &str,
        dedup: &str,
    ) -> Result<Option<String>, String> {
        if self.fail_send {
            return Err("throttled".into());
        }
        self.sent
            .lock()
            .unwrap()
            .push((url.into(), body.into(), group.into(), dedup.into()));
        Ok(Some("new-1".into()))
    }
    async fn delete(&self, url: &str, receipt: &str) -> Result<(), String> {
        let mut d = self.dlqs.lock().unwrap();
        d.get_mut(url)
            .unwrap()
            .retain(|(m, _)| m.receipt_handle != receipt);
        self.deleted.lock().unwrap().push(receipt.into());
        Ok(())
    }
    async fn release(&self, url: &str, receipt: &str) -> Result<(), String> {
        let mut d = self.dlqs.lock().unwrap();
        for (m, hidden) in d.get_mut(url).unwrap().iter_mut() {
            if m.receipt_handle == receipt {
                *hidden = false;
            }
        }
        Ok(())
    }
}

fn dlq_message(
    id: &str,
    group: &str,
    body: &str,
    attributes: BTreeMap<String, String>,
) -> DlqMessage {
    DlqMessage {
        message_id: id.into(),
        receipt_handle: format!("rh-{id}"),
        body: body.into(),
        group_id: Some(group.into()),
        receive_count: 0,
        sent_timestamp_ms: Some(1),
        attributes,
    }
}

fn service(fake: Arc<FakeQueues>) -> Redrive {
    Redrive {
        port: fake,
        queues: QueueName::ALL
            .into_iter()
            .map(|q| {
                (
                    q,
                    QueueUrls {
                        source: format!("src/{q}"),
                        dlq: format!("dlq/{q}"),
                    },
                )
            })
            .collect(),
        store: None,
        hide_secs: 30,
        wait_secs: 0,
    }
}

fn seeded(fail_send: bool) -> Arc<FakeQueues> {
    let fake = FakeQueues {
        fail_send,
        ..FakeQueues::default()
    };
    fake.dlqs.lock().unwrap().insert(
        "dlq/captures".into(),
        vec![
            (
                dlq_message(
                    "m1",
                    "ORD-1",
                    r#"{"type":"captur","order_id":"ORD-1"}"#,
                    attrs("mapping", "unknown variant `captur`"),
                ),
                false,
            ),
            (
                dlq_message(
                    "m2",
                    "ORD-2",
                    r#"{"type":"capture","order_id":"ORD-2"}"#,
                    BTreeMap::new(),
                ),
                false,
            ),
        ],
    );
    Arc::new(fake)
}

fn run(r: &Redrive, event: Value) -> RedriveResponse {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let v = rt.block_on(r.handle_json(event)).unwrap();
    serde_json::from_value(v).unwrap()
}

fn visible(fake: &FakeQueues, url: &str) -> usize {
    fake.dlqs.lock().unwrap()[url]
        .iter()
        .filter(|(_, h)| !*h)
        .count()
}

#[test]
fn list_classifies_suggests_and_leaves_every_message_visible() {
    let fake = seeded(false);
    let r = service(fake.clone());
    let out = run(&r, json!({"action": "list", "queue": "all"}));
    assert_eq!(out.queues.len(), 5);
    let msgs = &out
        .queues
        .iter()
        .find(|q| q.queue == "captures")
        .unwrap()
        .messages;
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].class, FailureClass::Mapping);
    assert_eq!(
        msgs[0].suggestion.as_ref().unwrap().patch[1],
        op_replace("/type", json!("capture"))
    );
    assert_eq!(msgs[1].class, FailureClass::RetriesExhausted);
    assert!(msgs[1].suggestion.is_none());
    assert_eq!(out.summary.listed, 2);
    assert_eq!(out.summary.with_automatic_fix, 1);
    assert_eq!(visible(&fake, "dlq/captures"), 2, "released after the pass");
    assert!(fake.sent.lock().unwrap().is_empty());
}

#[test]
fn replay_is_a_dry_run_by_default() {
    let fake = seeded(false);
    let r = service(fake.clone());
    let out = run(
        &r,
        json!({"action": "replay", "queue": "captures", "apply_suggested": true}),
    );
    let msgs = &out.queues[0].messages;
    assert_eq!(
        msgs[0].replay.as_ref().unwrap().outcome,
        ReplayOutcome::WouldReplay
    );
    assert!(msgs[0]
        .replay
        .as_ref()
        .unwrap()
        .body_preview
        .as_ref()
        .unwrap()
        .contains(r#""type":"capture""#));
    assert_eq!(
        msgs[1].replay.as_ref().unwrap().outcome,
        ReplayOutcome::Skipped,
        "no suggestion for it"
    );
    assert!(fake.sent.lock().unwrap().is_empty());
    assert!(fake.deleted.lock().unwrap().is_empty());
    assert_eq!(visible(&fake, "dlq/captures"), 2);
}

#[test]
fn replay_sends_with_the_group_and_a_deterministic_dedup_id_then_deletes() {
    let fake = seeded(false);
    let r = service(fake.clone());
    let out = run(
        &r,
        json!({"action": "replay", "queue": "captures", "message_ids": ["m1"], "apply_suggested": true, "dry_run": false}),
    );
    let rep = out.queues[0].messages[0].replay.clone().unwrap();
    assert_eq!(rep.outcome, ReplayOutcome::Replayed);
    assert!(rep.deleted);
    let sent = fake.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let (url, body, group, dedup) = &sent[0];
    assert_eq!(url, "src/captures");
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap(),
        json!({"type": "capture", "order_id": "ORD-1"})
    );
    assert_eq!(group, "ORD-1");
    assert!(dedup.starts_with("redrive-m1-"), "{dedup}");
    assert_eq!(out.queues[0].messages.len(), 1, "only the named message");
    assert_eq!(visible(&fake, "dlq/captures"), 1, "m2 released, m1 gone");

    // As is: `redrive-<message id>`.
    let out = run(
        &r,
        json!({"action": "replay", "queue": "captures", "message_ids": ["m2"], "dry_run": false}),
    );
    assert_eq!(
        out.queues[0].messages[0].replay.as_ref().unwrap().outcome,
        ReplayOutcome::Replayed
    );
    assert_eq!(fake.sent.lock().unwrap()[1].3, "redrive-m2");
    assert!(fake.dlqs.lock().unwrap()["dlq/captures"].is_empty());
    let out = run(
        &r,
        json!({"action": "list", "queue": "captures", "message_ids": ["m2"]}),
    );
    assert_eq!(out.not_found, ["m2"]);
}

#[test]
fn a_failed_send_deletes_nothing() {
    let fake = seeded(true);
    let r = service(fake.clone());
    let out = run(
        &r,
        json!({"action": "replay", "queue": "captures", "apply_suggested": true, "dry_run": false}),
    );
    let rep = out.queues[0].messages[0].replay.clone().unwrap();
    assert_eq!(rep.outcome, ReplayOutcome::Failed);
    assert!(!rep.deleted);
    assert!(fake.deleted.lock().unwrap().is_empty());
    assert_eq!(visible(&fake, "dlq/captures"), 2);
    assert_eq!(out.summary.failed, 1);
}

#[test]
fn a_patch_that_leaves_the_body_invalid_is_not_sent() {
    let fake = seeded(false);
    let r = service(fake.clone());
    let out = run(
        &r,
        json!({"action": "replay", "queue": "captures", "message_ids": ["m1"], "dry_run": false,
               "patch": [{"op": "replace", "path": "/type", "value": "caption"}]}),
    );
    let rep = out.queues[0].messages[0].replay.clone().unwrap();
    assert_eq!(rep.outcome, ReplayOutcome::Skipped);
    assert!(rep.detail.unwrap().contains("dead-letter it again"));
    // As is, the poisoned body is refused the same way.
    let out = run(
        &r,
        json!({"action": "replay", "queue": "captures", "message_ids": ["m1"], "dry_run": false}),
    );
    assert_eq!(
        out.queues[0].messages[0].replay.as_ref().unwrap().outcome,
        ReplayOutcome::Skipped
    );
    // An explicit patch that fixes it is sent.
    let out = run(
        &r,
        json!({"action": "replay", "queue": "captures", "message_ids": ["m1"], "dry_run": false,
               "patch": [{"op": "replace", "path": "/type", "value": "capture"}]}),
    );
    assert_eq!(
        out.queues[0].messages[0].replay.as_ref().unwrap().outcome,
        ReplayOutcome::Replayed
    );
    assert_eq!(fake.sent.lock().unwrap().len(), 1);
}
