//! dlq-redrive: inspect the dead-letter queues, classify each message, suggest a fix derived from
//! the data, and replay — as is, with a JSON patch, or with the suggested fix — to the source
//! queue. Dry run by default.
//!
//! Event (the Lambda's, and what the local command `o2c-dlq` builds):
//! `{"action":"list"|"replay","queue":"orders"|"captures"|"refunds"|"clarity-sync"|"erp-sync"|"all",
//!   "message_ids":[..]?,"patch":[..]?,"apply_suggested":bool?,"min_confidence":0.5?,
//!   "dry_run":true?,"max_messages":100?}`.
//!
//! What lives where:
//! - [`types`]: the request (and its validation) and the response;
//! - [`classify`]: the failure class and reason from the message attributes, and a hint;
//! - [`schema`]: the schema of each queue, with the path of the first error;
//! - [`suggest`] (the heuristics in `fixes`): suggested fixes as guarded RFC 6902 patches;
//! - [`similarity`]: nearest known value or field name, and the vocabularies;
//! - [`patch`]: the JSON Patch wire form, applied by the `json-patch` crate;
//! - [`mask`]: previews with PII masked and card numbers redacted (the domain's card rule);
//! - [`service`]: the pass over the DLQs on the [`DeadLetterQueues`] port (its SQS adapter is
//!   `o2c_aws::dlq`); [`replay`]: the replay of one message;
//! - [`render`]: the response as text (the local command `o2c-dlq`, `infra/local/bridge`).

pub mod classify;
mod fixes;
pub mod mask;
pub mod patch;
pub mod render;
pub mod replay;
pub mod schema;
pub mod service;
pub mod similarity;
pub mod suggest;
pub mod types;

#[cfg(test)]
mod tests;

/// Message attribute names, as the dead-letter sink writes them.
pub use o2c_aws::sqs::{ATTR_FAILURE_CLASS, ATTR_FAILURE_REASON, ATTR_SOURCE_QUEUE};
/// The port dlq-redrive works on, and what it receives.
pub use o2c_domain::ports::{DeadLetterQueues, DlqMessage};

pub use classify::{classify, hint, Classified};
pub use mask::{preview, redact_card_like, PREVIEW_CHARS};
pub use patch::{apply_patch, pointer_of, pointer_tokens, PatchError, PatchOp};
pub use render::render_text;
pub use schema::{schema_check, SchemaError};
pub use service::{describe, QueueUrls, Redrive};
pub use similarity::{
    confidence_of, nearest, similarity, vocabulary_for, Nearest, COMMAND_TYPES, FIELD_NAMES,
};
pub use suggest::{suggest, Facts, MAX_FIX_ROUNDS};
pub use types::{
    parse_queue_selector, Action, MessageReport, QueueReport, RedriveError, RedriveRequest,
    RedriveResponse, ReplayOutcome, ReplayReport, Suggestion, Summary, DEFAULT_MAX_MESSAGES,
    DEFAULT_MIN_CONFIDENCE, MAX_MESSAGES,
};
