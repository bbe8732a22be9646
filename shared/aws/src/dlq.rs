//! Dead-letter queues for dlq-redrive: the SQS adapter [`SqsDeadLetterQueues`] of the domain's
//! port [`DeadLetterQueues`] (receive / send / delete / release, no SDK type in it). The redrive
//! logic (`o2c_pipeline::redrive`) works on the port only; its tests use an in-memory fake.

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageSystemAttributeName as Sys;
use aws_sdk_sqs::Client;
pub use o2c_domain::ports::{DeadLetterQueues, DlqMessage};

/// [`DeadLetterQueues`] on SQS.
#[derive(Clone, Debug)]
pub struct SqsDeadLetterQueues {
    client: Client,
}

impl SqsDeadLetterQueues {
    pub fn new(client: Client) -> Self {
        SqsDeadLetterQueues { client }
    }

    /// With a client built from `config`.
    pub fn from_conf(config: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }
}

fn sdk_error<E: std::error::Error + 'static>(what: &str, e: E) -> String {
    format!("{what}: {}", aws_sdk_sqs::error::DisplayErrorContext(e))
}

#[async_trait]
impl DeadLetterQueues for SqsDeadLetterQueues {
    async fn receive(
        &self,
        dlq_url: &str,
        max: usize,
        hide_secs: u32,
        wait_secs: u32,
    ) -> Result<Vec<DlqMessage>, String> {
        let out = self
            .client
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .visibility_timeout(hide_secs.min(43_200) as i32)
            .wait_time_seconds(wait_secs.min(20) as i32)
            .message_system_attribute_names(Sys::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sdk_error("receive", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let sys = m.attributes.unwrap_or_default();
                let get = |k: Sys| sys.get(&k).cloned();
                DlqMessage {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    group_id: get(Sys::MessageGroupId),
                    receive_count: get(Sys::ApproximateReceiveCount)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(1),
                    sent_timestamp_ms: get(Sys::SentTimestamp).and_then(|t| t.parse().ok()),
                    attributes: m
                        .message_attributes
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                        .collect(),
                }
            })
            .collect())
    }

    async fn send(
        &self,
        queue_url: &str,
        body: &str,
        group_id: &str,
        dedup_id: &str,
    ) -> Result<Option<String>, String> {
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .message_group_id(group_id)
            .message_deduplication_id(dedup_id)
            .send()
            .await
            .map(|o| o.message_id)
            .map_err(|e| sdk_error("send", e))
    }

    async fn delete(&self, dlq_url: &str, receipt_handle: &str) -> Result<(), String> {
        self.client
            .delete_message()
            .queue_url(dlq_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("delete", e))
    }

    async fn release(&self, dlq_url: &str, receipt_handle: &str) -> Result<(), String> {
        self.client
            .change_message_visibility()
            .queue_url(dlq_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("release", e))
    }
}
