//! Secrets Manager: [`SecretsManagerSource`] implements [`SecretSource`] with an in-memory TTL
//! cache over an `aws_sdk_secretsmanager` client, so it honours `AWS_ENDPOINT_URL` / a custom
//! endpoint (the local moto server) like every other client.
//!
//! Within the TTL a read is served from memory with no call to Secrets Manager. After it, the
//! cache asks `DescribeSecret` whether the cached version is still `AWSCURRENT` and fetches the
//! value again only if it is not (the refresh protocol of AWS's `aws_secretsmanager_caching`).
//! That crate is not used: it turns on the SDK's default features, which bring the SDK's legacy
//! TLS stack (rustls 0.21, hyper 0.14, ring) into every function beside rustls 0.23 / aws-lc
//! (README "Function binaries").
//!
//! Errors carry the secret id and the service's error code/message, never the value.

use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::Client;
use o2c_domain::ports::{SecretError, SecretSource};
use secrecy::SecretString;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The default TTL of a cached secret.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// At most this many secrets are cached (the least recently used is evicted).
pub const MAX_CACHED: usize = 100;

/// One cached secret: its value, the version it came from, when it was last confirmed current
/// and when it was last read (for eviction).
struct Cached {
    value: SecretString,
    version: Option<String>,
    confirmed: Instant,
    used: Instant,
}

/// Secrets from Secrets Manager, cached in memory for a TTL.
pub struct SecretsManagerSource {
    client: Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl fmt::Debug for SecretsManagerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the cached values.
        f.debug_struct("SecretsManagerSource")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SecretsManagerSource {
    /// A source on an existing client (its endpoint, region and credentials are used as they
    /// are).
    pub fn new(client: Client, ttl: Duration) -> Self {
        SecretsManagerSource {
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A source with a client built from `config`.
    pub async fn from_conf(config: &aws_config::SdkConfig, ttl: Duration) -> Self {
        Self::new(Client::new(config), ttl)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        // A poisoned lock only means a panic elsewhere while holding it; the map is still sound.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value if it was confirmed within the TTL; otherwise the cached version id (to
    /// ask whether it is still current), if any.
    fn lookup(&self, id: &str, now: Instant) -> Result<SecretString, Option<String>> {
        let mut cache = self.cache();
        match cache.get_mut(id) {
            Some(c) if now.duration_since(c.confirmed) < self.ttl => {
                c.used = now;
                Ok(c.value.clone())
            }
            Some(c) => Err(c.version.clone()),
            None => Err(None),
        }
    }

    fn store(&self, id: &str, value: SecretString, version: Option<String>) {
        let now = Instant::now();
        let mut cache = self.cache();
        if cache.len() >= MAX_CACHED && !cache.contains_key(id) {
            if let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, c)| c.used)
                .map(|(k, _)| k.clone())
            {
                cache.remove(&oldest);
            }
        }
        cache.insert(
            id.to_string(),
            Cached {
                value,
                version,
                confirmed: now,
                used: now,
            },
        );
    }

    /// After the TTL: is `version` still the secret's `AWSCURRENT` version? Then it is confirmed
    /// for another TTL and its value returned.
    async fn still_current(
        &self,
        id: &str,
        version: &str,
    ) -> Result<Option<SecretString>, SecretError> {
        let described = self
            .client
            .describe_secret()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                let not_found = e
                    .as_service_error()
                    .is_some_and(DescribeSecretError::is_resource_not_found_exception);
                secret_error(id, not_found, classify(&e).detail)
            })?;
        let current = described
            .version_ids_to_stages()
            .and_then(|m| m.get(version))
            .is_some_and(|stages| stages.iter().any(|s| s == "AWSCURRENT"));
        if !current {
            return Ok(None);
        }
        let now = Instant::now();
        let mut cache = self.cache();
        Ok(cache.get_mut(id).map(|c| {
            c.confirmed = now;
            c.used = now;
            c.value.clone()
        }))
    }

    async fn fetch(&self, id: &str) -> Result<SecretString, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                let not_found = e
                    .as_service_error()
                    .is_some_and(GetSecretValueError::is_resource_not_found_exception);
                secret_error(id, not_found, classify(&e).detail)
            })?;
        let version = output.version_id().map(str::to_string);
        let value = match (output.secret_string, output.secret_binary) {
            (Some(value), _) => SecretString::from(value),
            (None, Some(blob)) => String::from_utf8(blob.into_inner())
                .map(SecretString::from)
                .map_err(|_| SecretError::Malformed {
                    id: id.to_string(),
                    detail: "binary secret is not UTF-8".into(),
                })?,
            (None, None) => {
                return Err(SecretError::Malformed {
                    id: id.to_string(),
                    detail: "secret has no value".into(),
                })
            }
        };
        self.store(id, value.clone(), version);
        Ok(value)
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn secret(&self, id: &str) -> Result<SecretString, SecretError> {
        match self.lookup(id, Instant::now()) {
            Ok(value) => Ok(value),
            Err(Some(version)) => match self.still_current(id, &version).await? {
                Some(value) => Ok(value),
                None => self.fetch(id).await,
            },
            Err(None) => self.fetch(id).await,
        }
    }
}

/// A failed call: the secret does not exist, or Secrets Manager is unavailable (code and message
/// only, never a value).
fn secret_error(id: &str, not_found: bool, detail: String) -> SecretError {
    if not_found {
        SecretError::NotFound(id.to_string())
    } else {
        SecretError::Unavailable {
            id: id.to_string(),
            detail,
        }
    }
}
