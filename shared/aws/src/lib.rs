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

pub mod alerts;
pub mod audit;
pub mod dlq;
pub mod quarantine;
pub mod references;
pub mod routing;
pub mod search;
pub mod secrets;
pub mod specs;
pub mod sqs;
pub mod store;

mod errors;

pub use secrets::SecretsManagerSource;
pub use sqs::{DeadLetterError, SqsDeadLetter, SqsPublisher};
pub use store::DynamoOrderStore;

/// The SDK configuration of a function on Lambda: credentials from the environment variables
/// Lambda sets (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`; the local stack
/// sets dummy ones), then the container credentials endpoint; the region from `AWS_REGION` /
/// `AWS_DEFAULT_REGION`; the endpoint from `endpoint` or `AWS_ENDPOINT_URL` (the local moto
/// server). Nothing else of the standard chain (profile files, web identity and STS, IMDS):
/// a function never needs it, and leaving it out takes ~0.7 MB off every binary
/// (BENCHMARKS.md §6). Tools run by people use [`aws_config`].
pub fn lambda_config(region: Option<String>, endpoint: Option<String>) -> ::aws_config::SdkConfig {
    use ::aws_config::meta::credentials::CredentialsProviderChain;
    let credentials = CredentialsProviderChain::first_try(
        "Environment",
        ::aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "EcsContainer",
        ::aws_config::ecs::EcsCredentialsProvider::builder().build(),
    );
    let mut builder = ::aws_config::SdkConfig::builder()
        .behavior_version(::aws_config::BehaviorVersion::latest())
        .region(region.map(::aws_config::Region::new))
        .credentials_provider(
            ::aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        );
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn a_functions_config_takes_region_endpoint_and_an_environment_credentials_chain() {
        let c = super::lambda_config(
            Some("eu-west-1".into()),
            Some("http://127.0.0.1:4566".into()),
        );
        assert_eq!(c.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(c.endpoint_url(), Some("http://127.0.0.1:4566"));
        assert!(c.credentials_provider().is_some());
        // Without them, the SDK's own defaults apply (no region: every call fails loudly).
        let bare = super::lambda_config(None, None);
        assert!(bare.region().is_none() && bare.endpoint_url().is_none());
    }
}
