//! The local SQS → function bridge against moto provisioned from template.yaml: batches,
//! partial batch failures, redelivery, immediate dead-lettering with a reason, and SQS's own
//! redrive to the DLQ after the template's maxReceiveCount.

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use o2c_domain::recipe::{FailureClass, StepFailure};
use o2c_e2e::LocalAws;
use o2c_local_bridge::{drain, Bridge, InProcessInvoker, Mapping};
use o2c_runtime::batch::{MessageHandler, QueueMessage};
use o2c_runtime::wiring::SqsDeadLetterSink;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Acts on the body: "ok", "retry" (always), "dead" (non-retryable).
#[derive(Default)]
struct ByBody {
    calls: Mutex<HashMap<String, u32>>,
}

#[async_trait]
impl MessageHandler for ByBody {
    async fn handle(&self, m: &QueueMessage) -> Result<(), StepFailure> {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(m.body.clone())
            .or_default() += 1;
        match m.body.as_str() {
            "ok" => Ok(()),
            "retry" => Err(StepFailure::RetryLater("downstream unavailable".into())),
            _ => Err(StepFailure::NonRetryable {
                class: FailureClass::Mapping,
                reason: "order.total: \"12.345\" has 3 fraction digits, USD allows 2".into(),
            }),
        }
    }
}

async fn all_messages(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    out.messages.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_acks_successes_retries_failures_and_dead_letters() {
    let aws = LocalAws::start();
    let sdk = aws.moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = aws.var("ORDERS_QUEUE_URL").to_string();
    let dlq = aws.var("ORDERS_DLQ_URL").to_string();
    for (group, body) in [("a", "ok"), ("b", "retry"), ("c", "dead"), ("a", "ok")] {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .message_group_id(group)
            .message_deduplication_id(format!("{group}-{body}-{}", rand_suffix()))
            .send()
            .await
            .unwrap();
    }
    let handler = Arc::new(ByBody::default());
    let invoker = Arc::new(InProcessInvoker {
        handler: handler.clone(),
        sink: Arc::new(SqsDeadLetterSink::new(&sdk, dlq.clone())),
    });
    let mapping = Mapping {
        queue_url: queue.clone(),
        function: "authorize".into(),
        batch_size: 10,
    };
    let mut bridge = Bridge::new(sqs.clone(), mapping, invoker, "us-east-1")
        .await
        .unwrap();
    bridge.retry_delay = Duration::from_secs(0);
    let stats = drain(&[bridge], 8, Duration::from_secs(60)).await;

    let calls = handler.calls.lock().unwrap().clone();
    assert_eq!(calls["ok"], 2, "both ok messages handled once");
    assert_eq!(calls["dead"], 1, "a non-retryable message is not retried");
    assert_eq!(
        calls["retry"], 5,
        "retried up to the template's maxReceiveCount (5)"
    );
    assert_eq!(stats.deleted, 3, "{stats:?}");

    assert!(
        all_messages(&sqs, &queue).await.is_empty(),
        "main queue drained"
    );
    let dead = all_messages(&sqs, &dlq).await;
    assert_eq!(
        dead.len(),
        2,
        "one dead-lettered at once, one after maxReceiveCount"
    );
    let classified: Vec<_> = dead
        .iter()
        .filter_map(|m| {
            m.message_attributes
                .as_ref()
                .and_then(|a| a.get("failure_class"))
                .and_then(|v| v.string_value.clone())
        })
        .collect();
    assert_eq!(
        classified,
        ["mapping"],
        "the immediate one carries its class"
    );
    let reasons: Vec<_> = dead.iter().filter_map(|m| m.body.clone()).collect();
    assert!(reasons.contains(&"dead".to_string()) && reasons.contains(&"retry".to_string()));
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Counts how many invocations run at once, and which FIFO groups overlap.
#[derive(Default)]
struct Concurrency {
    now: Mutex<(usize, HashMap<String, usize>)>,
    max: Mutex<usize>,
    group_overlap: Mutex<usize>,
}

#[async_trait]
impl MessageHandler for Concurrency {
    async fn handle(&self, m: &QueueMessage) -> Result<(), StepFailure> {
        let group = m.group_id.clone().unwrap_or_default();
        {
            let mut now = self.now.lock().unwrap();
            now.0 += 1;
            let g = now.1.entry(group.clone()).or_default();
            *g += 1;
            if *g > 1 {
                *self.group_overlap.lock().unwrap() += 1;
            }
            let mut max = self.max.lock().unwrap();
            *max = (*max).max(now.0);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut now = self.now.lock().unwrap();
        now.0 -= 1;
        *now.1.get_mut(&group).unwrap() -= 1;
        Ok(())
    }
}

/// Lambda runs several execution environments of a function at once; the local bridge does
/// too (at least 4 per queue), one FIFO group at a time — so races happen locally first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drain_runs_several_instances_of_a_function_at_once_one_group_at_a_time() {
    let aws = LocalAws::start();
    let sdk = aws.moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = aws.var("ORDERS_QUEUE_URL").to_string();
    let dlq = aws.var("ORDERS_DLQ_URL").to_string();
    let suffix = rand_suffix();
    // 12 orders, 3 messages each: batches of one message so every invocation is one message.
    for i in 0..3 {
        for g in 0..12 {
            sqs.send_message()
                .queue_url(&queue)
                .message_body("ok")
                .message_group_id(format!("g{g}"))
                .message_deduplication_id(format!("{g}-{i}-{suffix}"))
                .send()
                .await
                .unwrap();
        }
    }
    let handler = Arc::new(Concurrency::default());
    let invoker = Arc::new(InProcessInvoker {
        handler: handler.clone(),
        sink: Arc::new(SqsDeadLetterSink::new(&sdk, dlq)),
    });
    let mapping = Mapping {
        queue_url: queue,
        function: "authorize".into(),
        batch_size: 1,
    };
    let bridge = Bridge::new(sqs, mapping, invoker, "us-east-1")
        .await
        .unwrap();
    assert!(bridge.concurrency >= 4, "{}", bridge.concurrency);
    let stats = drain(std::slice::from_ref(&bridge), 3, Duration::from_secs(60)).await;
    let max = *handler.max.lock().unwrap();
    let overlap = *handler.group_overlap.lock().unwrap();
    println!("36 messages: {stats:?}; at most {max} invocations at once; {overlap} group overlaps");
    assert_eq!(stats.deleted, 36, "{stats:?}");
    assert!(max >= 4, "at least 4 instances at once, saw {max}");
    assert_eq!(overlap, 0, "never two messages of one FIFO group at once");
}
