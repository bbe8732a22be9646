//! o2c-aws: the AWS adapters for the domain's ports (`docs/architecture.md` §3).
//!
//! - [`store::DynamoOrderStore`] implements [`o2c_domain::ports::OrderStore`] on one DynamoDB
//!   table (key schema documented in [`store`]).
//! - [`sqs::SqsPublisher`] implements [`o2c_domain::ports::Publisher`] on FIFO queues, and
//!   [`sqs::SqsDeadLetter`] sends a message to a dead-letter queue with a classified reason.
//! - [`secrets::SecretsManagerSource`] implements [`o2c_domain::ports::SecretSource`] with an
//!   in-memory TTL cache (the refresh protocol of AWS's caching client, without its TLS stack).
//! - [`dlq::SqsDeadLetterQueues`] implements [`o2c_domain::ports::DeadLetterQueues`], the port dlq-redrive
//!   reads, fixes and replays dead letters through (receive hidden, send, delete, release).
//! - [`references`]: the Cybersource reference index and the unknown-notifications list
//!   ([`o2c_domain::ports::ReferenceIndex`], [`o2c_domain::ports::UnknownNotifications`]) on the
//!   same table.
//! - [`aws_config`] loads the SDK configuration (standard chain, optional endpoint override for
//!   the local moto server).

pub mod dlq;
pub mod references;
pub mod routing;
pub mod secrets;
pub mod sqs;
pub mod store;

mod errors;

pub use secrets::SecretsManagerSource;
pub use sqs::{DeadLetterError, SqsDeadLetter, SqsPublisher};
pub use store::DynamoOrderStore;

/// Load the AWS SDK configuration from the standard chain (environment, profile, container /
/// instance credentials; the chain already honours `AWS_ENDPOINT_URL`). `endpoint`, when given,
/// overrides the endpoint for every service (a local moto server: `http://127.0.0.1:5000`).
pub async fn aws_config(endpoint: Option<&str>) -> ::aws_config::SdkConfig {
    let mut loader = ::aws_config::defaults(::aws_config::BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}
