//! Secrets Manager: [`SecretsManagerSource`] implements [`SecretSource`] with an in-memory TTL
//! cache — AWS's own `aws_secretsmanager_caching::SecretsManagerCachingClient`, built from an
//! `aws_sdk_secretsmanager` client or config, so it honours `AWS_ENDPOINT_URL` / a custom
//! endpoint (the local moto server) like every other client.
//!
//! Within the TTL a read is served from memory with no call to Secrets Manager. After it, the
//! caching client asks `DescribeSecret` whether the cached version is still `AWSCURRENT` and
//! fetches the value again only if it is not.
//!
//! Errors carry the secret id and the service's error code/message, never the value.

use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::Client;
use aws_secretsmanager_caching::SecretsManagerCachingClient;
use o2c_domain::ports::{SecretError, SecretSource};
use secrecy::SecretString;
use std::error::Error;
use std::fmt;
use std::num::NonZeroUsize;
use std::time::Duration;

/// The default TTL of a cached secret.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// At most this many secrets are cached (least recently used are evicted).
pub const MAX_CACHED: usize = 100;

/// Secrets from Secrets Manager, cached in memory for a TTL.
pub struct SecretsManagerSource {
    cache: SecretsManagerCachingClient,
    ttl: Duration,
}

impl fmt::Debug for SecretsManagerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The caching client's Debug would print cached values.
        f.debug_struct("SecretsManagerSource")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SecretsManagerSource {
    /// A source on an existing client (its endpoint, region and credentials are used as they
    /// are).
    pub fn new(client: Client, ttl: Duration) -> Self {
        let cache = SecretsManagerCachingClient::new(client, max_cached(), ttl, false)
            .expect("the in-memory caching client cannot fail to build");
        SecretsManagerSource { cache, ttl }
    }

    /// A source with a client built from `config` (adds the caching library's user agent).
    pub async fn from_conf(config: &aws_config::SdkConfig, ttl: Duration) -> Self {
        let builder = aws_sdk_secretsmanager::config::Builder::from(config);
        let cache = SecretsManagerCachingClient::from_builder(builder, max_cached(), ttl, false)
            .await
            .expect("the in-memory caching client cannot fail to build");
        SecretsManagerSource { cache, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

fn max_cached() -> NonZeroUsize {
    NonZeroUsize::new(MAX_CACHED).unwrap_or(NonZeroUsize::MIN)
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn secret(&self, id: &str) -> Result<SecretString, SecretError> {
        // The caching client's error is `Box<dyn Error>` (not `Send`): classify it before any
        // other await.
        let result = self
            .cache
            .get_secret_value(id, None, None, false)
            .await
            .map_err(|e| secret_error(id, e.as_ref()));
        let output = result?;
        match (output.secret_string, output.secret_binary) {
            (Some(value), _) => Ok(SecretString::from(value)),
            (None, Some(blob)) => String::from_utf8(blob.into_inner())
                .map(SecretString::from)
                .map_err(|_| SecretError::Malformed {
                    id: id.to_string(),
                    detail: "binary secret is not UTF-8".into(),
                }),
            (None, None) => Err(SecretError::Malformed {
                id: id.to_string(),
                detail: "secret has no value".into(),
            }),
        }
    }
}

/// Classify the caching client's error. Only codes and service messages are kept; the value
/// never appears (the caching client's own errors are formatted with `Display`, which holds no
/// value, never `Debug`).
fn secret_error(id: &str, e: &(dyn Error + 'static)) -> SecretError {
    let not_found = || SecretError::NotFound(id.to_string());
    let unavailable = |detail: String| SecretError::Unavailable {
        id: id.to_string(),
        detail,
    };
    if let Some(e) = e.downcast_ref::<SdkError<GetSecretValueError>>() {
        if e.as_service_error()
            .is_some_and(GetSecretValueError::is_resource_not_found_exception)
        {
            return not_found();
        }
        return unavailable(classify(e).detail);
    }
    if let Some(e) = e.downcast_ref::<SdkError<DescribeSecretError>>() {
        if e.as_service_error()
            .is_some_and(DescribeSecretError::is_resource_not_found_exception)
        {
            return not_found();
        }
        return unavailable(classify(e).detail);
    }
    unavailable(format!("secret cache: {e}"))
}
