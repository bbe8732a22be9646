//! SQS: [`SqsPublisher`] implements [`Publisher`] on the pipeline's FIFO queues;
//! [`SqsDeadLetter`] puts a message on a dead-letter queue with its classified failure.

use crate::errors::{classify, truncate_bytes, SdkFailure};
use async_trait::async_trait;
use aws_sdk_sqs::types::MessageAttributeValue;
use aws_sdk_sqs::Client;
use o2c_domain::ports::{OutboundMessage, PublishError, Publisher, QueueName};
use std::collections::HashMap;

/// Message attribute: the failure class (`validation`, `permanent`, `retries-exhausted`, ...).
pub const ATTR_FAILURE_CLASS: &str = "failure_class";
/// Message attribute: the failure reason in words (at most [`MAX_REASON_BYTES`]).
pub const ATTR_FAILURE_REASON: &str = "failure_reason";
/// Message attribute: the queue the message failed on.
pub const ATTR_SOURCE_QUEUE: &str = "source_queue";
/// `failure_reason` is truncated to this many bytes (on a char boundary).
pub const MAX_REASON_BYTES: usize = 1024;

/// The start of a [`PublishError`]'s detail when a retry may succeed (throttling, 5xx, network).
pub const RETRYABLE: &str = "retryable";
/// The start of a [`PublishError`]'s detail when a retry will not help (missing queue URL,
/// queue does not exist, invalid parameters, access denied).
pub const REJECTED: &str = "rejected";

/// Is this publish failure worth retrying? (Reads the class [`SqsPublisher`] puts first in the
/// detail.)
pub fn is_retryable(error: &PublishError) -> bool {
    error.detail.starts_with(RETRYABLE)
}

fn class(failure: &SdkFailure) -> &'static str {
    if failure.retryable {
        RETRYABLE
    } else {
        REJECTED
    }
}

/// Publishes to FIFO queues, one URL per [`QueueName`], with `MessageGroupId` and
/// `MessageDeduplicationId` from the message.
#[derive(Clone, Debug)]
pub struct SqsPublisher {
    client: Client,
    urls: HashMap<QueueName, String>,
}

impl SqsPublisher {
    pub fn new(client: Client, urls: HashMap<QueueName, String>) -> Self {
        SqsPublisher { client, urls }
    }

    /// A publisher with a client built from `config`.
    pub fn from_conf(config: &aws_config::SdkConfig, urls: HashMap<QueueName, String>) -> Self {
        Self::new(Client::new(config), urls)
    }

    pub fn url(&self, queue: QueueName) -> Option<&str> {
        self.urls.get(&queue).map(String::as_str)
    }
}

#[async_trait]
impl Publisher for SqsPublisher {
    async fn publish(&self, message: &OutboundMessage) -> Result<(), PublishError> {
        let url = self.url(message.queue).ok_or_else(|| PublishError {
            queue: message.queue,
            detail: format!("{REJECTED}: no queue URL configured for {}", message.queue),
        })?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(&message.body)
            .message_group_id(&message.group_id)
            .message_deduplication_id(&message.dedup_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let failure = classify(&e);
                PublishError {
                    queue: message.queue,
                    detail: format!("{}: {}", class(&failure), failure.detail),
                }
            })
    }
}

/// A failure to put a message on a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dead-letter send to {dlq_url} failed ({}): {detail}", if *.retryable { RETRYABLE } else { REJECTED })]
pub struct DeadLetterError {
    pub dlq_url: String,
    pub retryable: bool,
    pub detail: String,
}

/// Sends messages to dead-letter queues with the failure in message attributes.
#[derive(Clone, Debug)]
pub struct SqsDeadLetter {
    client: Client,
}

impl SqsDeadLetter {
    pub fn new(client: Client) -> Self {
        SqsDeadLetter { client }
    }

    pub fn from_conf(config: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    /// Put `body` on the (FIFO) dead-letter queue at `dlq_url` with message attributes
    /// `failure_class`, `failure_reason` (digit runs of 13+ redacted, truncated to 1 KiB) and
    /// `source_queue`.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_to_dlq(
        &self,
        dlq_url: &str,
        body: &str,
        group_id: &str,
        dedup_id: &str,
        reason_class: &str,
        reason_text: &str,
        source_queue: &str,
    ) -> Result<(), DeadLetterError> {
        // SQS refuses empty string attribute values.
        let non_empty = |v: &str| {
            if v.is_empty() {
                "(none)".to_string()
            } else {
                v.to_string()
            }
        };
        // The one card rule (o2c_domain::card): a reason never carries a card number.
        let reason = o2c_domain::card::redact_card_numbers(reason_text, "[digits redacted]");
        let reason = truncate_bytes(&reason, MAX_REASON_BYTES);
        let attr = |v: String| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| DeadLetterError {
                    dlq_url: dlq_url.to_string(),
                    retryable: false,
                    detail: e.to_string(),
                })
        };
        self.client
            .send_message()
            .queue_url(dlq_url)
            .message_body(body)
            .message_group_id(group_id)
            .message_deduplication_id(dedup_id)
            .message_attributes(ATTR_FAILURE_CLASS, attr(non_empty(reason_class))?)
            .message_attributes(ATTR_FAILURE_REASON, attr(non_empty(reason))?)
            .message_attributes(ATTR_SOURCE_QUEUE, attr(non_empty(source_queue))?)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let failure = classify(&e);
                DeadLetterError {
                    dlq_url: dlq_url.to_string(),
                    retryable: failure.retryable,
                    detail: failure.detail,
                }
            })
    }
}
