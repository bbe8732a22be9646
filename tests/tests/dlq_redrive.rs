//! dlq-redrive end to end (moto + the simulators + every handler behind the bridge): a poisoned
//! message reaches its DLQ with a classified reason, the listing suggests a fix derived from the
//! data, the replay with that fix puts it back on its source queue (deleting it from the DLQ only
//! after the send), and the pipeline then processes it — the order moves on. A dry run changes
//! nothing; a message SQS itself moved after maxReceiveCount is classified `retries-exhausted`.

mod common;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use common::{drain_only, ledger_counts, Options, Stack};
use o2c_domain::ports::QueueName;
use o2c_domain::OrderState;
use o2c_e2e::LocalAws;
use o2c_pipeline::redrive::{Redrive, RedriveResponse};
use o2c_pipeline::specs;
use o2c_runtime::config::{Env, FunctionConfig};
use o2c_runtime::wiring::Adapters;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

async fn stack() -> Stack {
    Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await
}

/// The dlq-redrive handler, built exactly as the Lambda builds it, from the stack's environment.
async fn redrive_for(env: &HashMap<String, String>, sdk: &aws_config::SdkConfig) -> Redrive {
    let env = Env::from_pairs(env.clone());
    let spec = &specs::DLQ_REDRIVE;
    let config = FunctionConfig::load(&env, spec.sends_to, spec.consumes, spec.secrets).unwrap();
    let adapters = Adapters::with_sdk(sdk.clone(), &config, &env)
        .await
        .unwrap();
    Redrive::from_config(&config, &adapters).unwrap()
}

/// Invoke with a JSON event, as the Lambda is invoked.
async fn invoke(r: &Redrive, event: Value) -> RedriveResponse {
    let out = r.handle_json(event.clone()).await.unwrap();
    println!(
        "{event}\n→ {}",
        serde_json::to_string_pretty(&out).unwrap_or_default()
    );
    serde_json::from_value(out).unwrap()
}

/// Take (receive and delete) every message on a queue; their bodies.
async fn take_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .send()
            .await
            .unwrap();
        let msgs = out.messages.unwrap_or_default();
        if msgs.is_empty() {
            return bodies;
        }
        for m in msgs {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle.unwrap_or_default())
                .send()
                .await
                .unwrap();
            bodies.push(m.body.unwrap_or_default());
        }
    }
}

async fn send(sqs: &aws_sdk_sqs::Client, url: &str, body: &str, group: &str, dedup: &str) {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .message_group_id(group)
        .message_deduplication_id(dedup)
        .send()
        .await
        .unwrap();
}

/// (body, group id) of the messages on a queue, left where they are.
async fn peek(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, String)> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    out.messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let group = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned()
                .unwrap_or_default();
            (m.body.unwrap_or_default(), group)
        })
        .collect()
}

fn attr(m: &aws_sdk_sqs::types::Message, name: &str) -> Option<String> {
    m.message_attributes
        .as_ref()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value.clone())
}

async fn assert_all_dlqs_empty(s: &Stack) {
    for q in QueueName::ALL {
        let left = s.dlq(q).await;
        assert!(
            left.is_empty(),
            "{q} DLQ: {:?}",
            left.iter().map(|m| m.body.clone()).collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poisoned_capture_is_classified_fixed_replayed_and_processed() {
    let s = stack().await;
    let sqs = aws_sdk_sqs::Client::new(&s.sdk);
    let captures = s.aws.var("CAPTURES_QUEUE_URL").to_string();
    let id = "ORD-DLQ-CAP";

    // Authorize only; then swap the capture command authorize sent for a poisoned one.
    s.clarity_order(id, "buyer", "USD", json!({})).await;
    drain_only(&s, "authorize").await;
    assert_eq!(s.state(id).await, OrderState::Authorized);
    let taken = take_all(&sqs, &captures).await;
    assert!(
        taken.iter().any(|b| b.contains(r#""type":"capture""#)),
        "{taken:?}"
    );
    let poisoned = json!({"type": "captur", "order_id": id}).to_string();
    send(&sqs, &captures, &poisoned, id, "poisoned-capture").await;

    // The capture consumer dead-letters it at once, with a classified reason.
    s.drain().await;
    assert_eq!(
        s.state(id).await,
        OrderState::Authorized,
        "nothing captured"
    );
    let dead = s.dlq(QueueName::Captures).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(attr(&dead[0], "failure_class").as_deref(), Some("mapping"));
    let reason = attr(&dead[0], "failure_reason").unwrap_or_default();
    assert!(reason.contains("unknown variant `captur`"), "{reason}");
    let message_id = dead[0].message_id.clone().unwrap();

    // The listing classifies it and suggests the fix, derived from the data.
    let r = redrive_for(&s.aws.env, &s.sdk).await;
    let list = invoke(&r, json!({"action": "list", "queue": "all"})).await;
    assert_eq!(list.summary.listed, 1);
    let q = list.queues.iter().find(|q| q.queue == "captures").unwrap();
    let m = &q.messages[0];
    assert_eq!(m.message_id, message_id);
    assert_eq!(
        serde_json::to_value(m.class).unwrap(),
        json!("mapping"),
        "{m:?}"
    );
    assert!(m.reason.contains("captur"));
    assert_eq!(m.order_id.as_deref(), Some(id));
    assert_eq!(m.order_state.as_deref(), Some("Authorized"));
    assert!(m.body_preview.contains("captur"));
    let fix = m.suggestion.as_ref().expect("a suggested fix");
    assert!(fix.confidence >= 0.9, "{fix:?}");
    let patch = serde_json::to_value(&fix.patch).unwrap();
    assert!(
        patch
            .as_array()
            .unwrap()
            .contains(&json!({"op": "replace", "path": "/type", "value": "capture"})),
        "{patch}"
    );
    assert_eq!(
        s.dlq(QueueName::Captures).await.len(),
        1,
        "listing keeps it"
    );

    // Replay with the suggestion: back on the captures queue, gone from the DLQ.
    let replay = invoke(
        &r,
        json!({"action": "replay", "queue": "captures", "message_ids": [message_id],
               "apply_suggested": true, "dry_run": false}),
    )
    .await;
    let rep = replay.queues[0].messages[0].replay.clone().unwrap();
    assert_eq!(
        serde_json::to_value(rep.outcome).unwrap(),
        json!("replayed")
    );
    assert!(rep.deleted);
    assert!(rep
        .dedup_id
        .as_deref()
        .unwrap()
        .starts_with(&format!("redrive-{message_id}")));
    assert!(s.dlq(QueueName::Captures).await.is_empty());
    let queued = peek(&sqs, &captures).await;
    assert_eq!(queued.len(), 1);
    let body: Value = serde_json::from_str(&queued[0].0).unwrap();
    assert_eq!(body, json!({"type": "capture", "order_id": id}));
    assert_eq!(queued[0].1, id, "same FIFO group: the order id");

    // Processed: the order is captured, once, and Clarity knows.
    s.drain().await;
    assert_eq!(s.state(id).await, OrderState::Captured);
    assert_eq!(s.clarity_status(id).await, "payment_received");
    let counts = ledger_counts(&s.ledger().await, id);
    assert_eq!(counts.get("capture").copied(), Some(1), "{counts:?}");
    assert_all_dlqs_empty(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dry_run_changes_nothing_then_an_explicit_patch_replays() {
    let s = stack().await;
    let sqs = aws_sdk_sqs::Client::new(&s.sdk);
    let orders = s.aws.var("ORDERS_QUEUE_URL").to_string();
    let id = "ORD-DLQ-AUTH";

    // Swap the webhook's authorize command for a misspelt one.
    s.clarity_order(id, "buyer", "USD", json!({})).await;
    assert_eq!(take_all(&sqs, &orders).await.len(), 1);
    let poisoned = json!({"type": "authorise", "order_id": id}).to_string();
    send(&sqs, &orders, &poisoned, id, "poisoned-authorize").await;
    s.drain().await;
    assert_eq!(s.state(id).await, OrderState::Received);
    let dead = s.dlq(QueueName::Orders).await;
    assert_eq!(dead.len(), 1);
    let message_id = dead[0].message_id.clone().unwrap();

    let r = redrive_for(&s.aws.env, &s.sdk).await;
    // dry_run omitted: a dry run. With the suggestion, then with an explicit patch.
    let patch = json!([{"op": "replace", "path": "/type", "value": "authorize"}]);
    for event in [
        json!({"action": "replay", "queue": "orders", "apply_suggested": true}),
        json!({"action": "replay", "queue": "orders", "message_ids": [message_id], "patch": patch, "dry_run": true}),
    ] {
        let out = invoke(&r, event).await;
        assert!(out.dry_run);
        let rep = out.queues[0].messages[0].replay.clone().unwrap();
        assert_eq!(
            serde_json::to_value(rep.outcome).unwrap(),
            json!("would-replay")
        );
        assert!(!rep.deleted);
        assert!(rep.body_preview.unwrap().contains(r#""type":"authorize""#));
        assert_eq!((out.summary.replayed, out.summary.would_replay), (0, 1));
    }
    let still = s.dlq(QueueName::Orders).await;
    assert_eq!(still.len(), 1, "still dead-lettered");
    assert_eq!(still[0].message_id.as_deref(), Some(message_id.as_str()));
    assert_eq!(
        still[0].body.as_deref(),
        Some(poisoned.as_str()),
        "unchanged"
    );
    assert!(peek(&sqs, &orders).await.is_empty(), "nothing sent");
    assert_eq!(s.state(id).await, OrderState::Received);

    // For real, with the operator's own patch.
    let out = invoke(
        &r,
        json!({"action": "replay", "queue": "orders", "message_ids": [message_id], "patch": patch, "dry_run": false}),
    )
    .await;
    assert_eq!(out.summary.replayed, 1);
    assert!(s.dlq(QueueName::Orders).await.is_empty());
    s.drain().await;
    assert_eq!(s.state(id).await, OrderState::Captured);
    assert_all_dlqs_empty(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sqs_moved_after_max_receives_is_retries_exhausted() {
    let aws = LocalAws::start();
    let sdk = aws.moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = aws.var("ERP_SYNC_QUEUE_URL").to_string();
    let dlq = aws.var("ERP_SYNC_DLQ_URL").to_string();
    let nudge = json!({"order_id": "ORD-RX", "cause": "capture.recorded"}).to_string();
    send(
        &sqs,
        &queue,
        &nudge,
        "ORD-RX",
        "ORD-RX-capture.recorded-erp-sync",
    )
    .await;

    // Received and never deleted, as a consumer that fails retryably every time: SQS's own
    // redrive policy (maxReceiveCount 5) moves it to the DLQ, without failure attributes.
    for _ in 0..10 {
        if peek(&sqs, &queue).await.is_empty() {
            break;
        }
    }
    assert!(peek(&sqs, &queue).await.is_empty());
    assert_eq!(peek(&sqs, &dlq).await.len(), 1, "moved to the DLQ");

    let r = redrive_for(&aws.env, &sdk).await;
    let list = invoke(&r, json!({"action": "list", "queue": "erp-sync"})).await;
    let m = &list.queues[0].messages[0];
    assert_eq!(
        serde_json::to_value(m.class).unwrap(),
        json!("retries-exhausted")
    );
    assert!(m.reason.contains("maxReceiveCount"), "{}", m.reason);
    assert!(
        m.suggestion.is_none(),
        "no body fix for a retryable failure"
    );
    assert!(m.hint.contains("replay as is"), "{}", m.hint);
    assert_eq!(m.order_id.as_deref(), Some("ORD-RX"));
    assert!(m.receive_count >= 1);

    // A dry run changes nothing; then as is, with `redrive-<message id>`.
    let dry = invoke(&r, json!({"action": "replay", "queue": "erp-sync"})).await;
    assert_eq!(dry.summary.would_replay, 1);
    assert!(peek(&sqs, &queue).await.is_empty());
    assert_eq!(peek(&sqs, &dlq).await.len(), 1);
    let out = invoke(
        &r,
        json!({"action": "replay", "queue": "erp-sync", "message_ids": [m.message_id], "dry_run": false}),
    )
    .await;
    let rep = out.queues[0].messages[0].replay.clone().unwrap();
    assert_eq!(rep.dedup_id, Some(format!("redrive-{}", m.message_id)));
    assert!(rep.deleted);
    assert!(peek(&sqs, &dlq).await.is_empty());
    assert_eq!(
        peek(&sqs, &queue).await,
        vec![(nudge, "ORD-RX".to_string())]
    );
}
