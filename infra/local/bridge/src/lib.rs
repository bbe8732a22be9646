//! The local SQS → function bridge: what Lambda's event source mapping does in AWS, for moto
//! (which runs no mappings).
//!
//! For each mapping (queue → function) it receives up to `batch_size` messages, builds the same
//! `SqsEvent` Lambda would (FIFO attributes, receive count, source ARN), invokes the function, and
//! deletes exactly the messages not listed in `batchItemFailures`. A failed message stays on the
//! queue: it becomes visible again after the retry delay (the bridge shortens the visibility
//! timeout so local runs need not wait the template's 180 s), and SQS's own redrive policy moves
//! it to the DLQ after `maxReceiveCount` receives. A function error fails the whole batch, as in
//! Lambda.

pub mod gateway;
pub mod quarantine_cli;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use o2c_runtime::batch::{run_batch, DeadLetterSink, MessageHandler};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// One queue feeding one function.
#[derive(Clone, Debug)]
pub struct Mapping {
    pub queue_url: String,
    pub function: String,
    /// Lambda's `BatchSize` (FIFO: at most 10).
    pub batch_size: i32,
}

/// Invokes a function with an SQS event.
#[async_trait]
pub trait Invoker: Send + Sync {
    async fn invoke(&self, function: &str, event: SqsEvent) -> Result<SqsBatchResponse, String>;
}

/// Invokes functions served by `cargo lambda watch` (the Lambda Invoke API on loopback).
pub struct HttpInvoker {
    base: String,
    http: reqwest::Client,
}

impl HttpInvoker {
    /// `base` like `http://127.0.0.1:9000`.
    pub fn new(base: impl Into<String>) -> Self {
        HttpInvoker {
            base: base.into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap_or_default(),
        }
    }
}

#[async_trait]
impl Invoker for HttpInvoker {
    async fn invoke(&self, function: &str, event: SqsEvent) -> Result<SqsBatchResponse, String> {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base);
        let resp = self
            .http
            .post(&url)
            .json(&event)
            .send()
            .await
            .map_err(|e| format!("invoke {function}: {e}"))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("invoke {function}: HTTP {status}: {body}"));
        }
        serde_json::from_str(&body)
            .map_err(|e| format!("invoke {function}: bad response {e}: {body}"))
    }
}

/// Runs a handler in this process through the same batch runner the Lambda binary uses.
pub struct InProcessInvoker {
    pub handler: Arc<dyn MessageHandler>,
    pub sink: Arc<dyn DeadLetterSink>,
}

#[async_trait]
impl Invoker for InProcessInvoker {
    async fn invoke(&self, _function: &str, event: SqsEvent) -> Result<SqsBatchResponse, String> {
        Ok(run_batch(&*self.handler, &*self.sink, event).await)
    }
}

/// What one poll did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollStats {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
}

/// The bridge for one mapping.
pub struct Bridge {
    sqs: Client,
    mapping: Mapping,
    invoker: Arc<dyn Invoker>,
    queue_arn: String,
    region: String,
    /// How long a failed message stays invisible before redelivery.
    pub retry_delay: Duration,
    /// How many consumers [`drain`] runs on this queue at once.
    pub concurrency: usize,
}

/// Consumers per queue locally: Lambda runs several execution environments of a function at
/// once, so the local stack does too (at least 4), and races happen here first.
pub const DEFAULT_CONCURRENCY: usize = 4;

impl Bridge {
    pub async fn new(
        sqs: Client,
        mapping: Mapping,
        invoker: Arc<dyn Invoker>,
        region: impl Into<String>,
    ) -> Result<Bridge, String> {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&mapping.queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| format!("queue {}: {e}", mapping.queue_url))?;
        let queue_arn = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .unwrap_or_default();
        Ok(Bridge {
            sqs,
            mapping,
            invoker,
            queue_arn,
            region: region.into(),
            retry_delay: Duration::from_secs(1),
            concurrency: DEFAULT_CONCURRENCY,
        })
    }

    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Receive one batch, invoke, delete the successes. `wait` is the long-poll time.
    pub async fn poll_once(&self, wait: Duration) -> Result<PollStats, String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.mapping.queue_url)
            .max_number_of_messages(self.mapping.batch_size.clamp(1, 10))
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| format!("receive {}: {e}", self.mapping.queue_url))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(PollStats::default());
        }
        let mut event = SqsEvent::default();
        event.records = messages.iter().map(|m| self.to_lambda(m)).collect();
        let failed: HashSet<String> = match self.invoker.invoke(&self.mapping.function, event).await
        {
            Ok(resp) => resp
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            Err(e) => {
                tracing::warn!(function = %self.mapping.function, error = %e, "invocation failed; whole batch retried");
                messages
                    .iter()
                    .filter_map(|m| m.message_id.clone())
                    .collect()
            }
        };
        let mut stats = PollStats {
            received: messages.len(),
            ..Default::default()
        };
        for m in &messages {
            let (Some(id), Some(handle)) = (m.message_id.as_deref(), m.receipt_handle.as_deref())
            else {
                continue;
            };
            if failed.contains(id) {
                stats.failed += 1;
                let _ = self
                    .sqs
                    .change_message_visibility()
                    .queue_url(&self.mapping.queue_url)
                    .receipt_handle(handle)
                    .visibility_timeout(self.retry_delay.as_secs() as i32)
                    .send()
                    .await;
            } else {
                self.sqs
                    .delete_message()
                    .queue_url(&self.mapping.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| format!("delete {id}: {e}"))?;
                stats.deleted += 1;
            }
        }
        Ok(stats)
    }

    fn to_lambda(&self, m: &aws_sdk_sqs::types::Message) -> SqsMessage {
        let mut out = SqsMessage::default();
        out.message_id = m.message_id.clone();
        out.receipt_handle = m.receipt_handle.clone();
        out.body = m.body.clone();
        out.md5_of_body = m.md5_of_body.clone();
        if let Some(attrs) = &m.attributes {
            for (k, v) in attrs {
                out.attributes.insert(k.as_str().to_string(), v.clone());
            }
        }
        out.event_source = Some("aws:sqs".into());
        out.event_source_arn = Some(self.queue_arn.clone());
        out.aws_region = Some(self.region.clone());
        out
    }
}

/// Run every bridge with `concurrency` consumers each (as Lambda runs several execution
/// environments of a function at once) until all queues have been quiet for `idle_rounds`
/// rounds of 250 ms and hold no message in flight (a failed message waiting out its retry delay
/// counts), or until `deadline` passes. Returns the totals.
pub async fn drain(bridges: &[Bridge], idle_rounds: usize, deadline: Duration) -> PollStats {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    let start = std::time::Instant::now();
    let stop = AtomicBool::new(false);
    let total = Mutex::new(PollStats::default());
    let last_activity = Mutex::new(std::time::Instant::now());
    let round = Duration::from_millis(250);
    let workers = futures::future::join_all(
        bridges
            .iter()
            .flat_map(|b| (0..b.concurrency.max(1)).map(move |_| b))
            .map(|b| consume(b, &stop, &total, &last_activity, round)),
    );
    let monitor = async {
        loop {
            tokio::time::sleep(round).await;
            if start.elapsed() >= deadline {
                break;
            }
            let quiet = last_activity.lock().expect("clock").elapsed();
            if quiet >= round * idle_rounds.max(1) as u32 {
                let pending = futures::future::join_all(bridges.iter().map(Bridge::pending)).await;
                if pending.iter().all(|p| *p == 0) {
                    break;
                }
            }
        }
        stop.store(true, Ordering::SeqCst);
    };
    futures::future::join(workers, monitor).await;
    let t = *total.lock().expect("stats");
    t
}

/// One consumer of [`drain`]: poll, invoke, repeat, until told to stop.
async fn consume(
    b: &Bridge,
    stop: &std::sync::atomic::AtomicBool,
    total: &std::sync::Mutex<PollStats>,
    last_activity: &std::sync::Mutex<std::time::Instant>,
    pause: Duration,
) {
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        match b.poll_once(Duration::from_secs(0)).await {
            Ok(s) if s.received > 0 => {
                let mut t = total.lock().expect("stats");
                t.received += s.received;
                t.deleted += s.deleted;
                t.failed += s.failed;
                *last_activity.lock().expect("clock") = std::time::Instant::now();
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => {
                tracing::warn!(error = %e, "poll failed");
                tokio::time::sleep(pause).await;
            }
        }
    }
}

impl Bridge {
    /// Messages on the queue: visible, in flight (e.g. waiting out a retry delay) and delayed.
    pub async fn pending(&self) -> i64 {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.mapping.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await;
        match attrs {
            Ok(a) => a
                .attributes()
                .map(|m| m.values().filter_map(|v| v.parse::<i64>().ok()).sum())
                .unwrap_or(0),
            Err(_) => 1,
        }
    }
}
