//! Salesforce (the CRM): fraud cases (the assumed contract:
//! `shared/connectors/ERP_CRM_ASSUMED.md`).
//!
//! * OAuth 2.0 client credentials (`client_id` / `client_secret` form fields) through the shared
//!   [`crate::http::oauth`] cache. Salesforce's token answer has no `expires_in`: the cache assumes
//!   15 minutes and refreshes once on a 401 `INVALID_SESSION_ID`. Calls go to the token's
//!   `instance_url` when it has one.
//! * A Case is **upserted by an external-id field**:
//!   `PATCH /services/data/vXX.X/sobjects/Case/<ExtIdField>__c/<value>` creates (201,
//!   `created: true`) or updates (200 `created: false`, or 204 before API v46.0), so a replay
//!   never opens a second case.
//!
//! The case itself is built by [`crate::mapping::salesforce`].

mod error;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::SeedableRng;
use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value};

pub use error::CrmError;

use o2c_domain::ports::{Clock, SystemClock};

use crate::http::oauth::{ClientAuth, TokenCache, TokenEndpoint};
use crate::http::rest::BearerClient;
use crate::http::retry::{Retrier, RetryPolicy, Sleeper, TokioSleeper};
use crate::http::transport::{encode_path_segment, parse_secret, SecretFormatError};

/// The REST API version used (v46.0+ reports `created` on upserts).
pub const DEFAULT_API_VERSION: &str = "v60.0";

/// A Case to upsert by an external-id field.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRecord {
    /// The custom external-id field (`Fraud_Case_Key__c`).
    pub external_id_field: String,
    /// Its value (`cybs-<transactionId>`).
    pub external_id: String,
    /// Field values (the external-id field itself is in the path, not here).
    pub fields: Map<String, Value>,
}

/// What an upsert answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseUpsert {
    /// The Case id (absent on a pre-v46.0 204 update).
    pub id: Option<String>,
    pub created: bool,
}

/// The CRM port.
#[async_trait]
pub trait CrmApi: Send + Sync {
    /// `PATCH /services/data/vXX.X/sobjects/Case/<field>/<value>`.
    async fn upsert_case(&self, case: &CaseRecord) -> Result<CaseUpsert, CrmError>;
}

/// The `CrmSecret` JSON (infra/README.md).
#[derive(Clone, Deserialize)]
pub struct CrmCredentials {
    /// `https://<MyDomain>.my.salesforce.com`.
    pub instance_url: String,
    /// `<instance>/services/oauth2/token`.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
}

impl fmt::Debug for CrmCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrmCredentials")
            .field("instance_url", &self.instance_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

impl CrmCredentials {
    pub fn from_json(json: &str) -> Result<Self, SecretFormatError> {
        parse_secret("crm", json)
    }

    pub fn token_endpoint(&self) -> TokenEndpoint {
        let mut t = TokenEndpoint::new(
            self.token_url.clone(),
            ClientAuth::SecretPost {
                client_id: self.client_id.clone(),
                client_secret: self.client_secret.clone(),
            },
        );
        t.default_lifetime = Duration::from_secs(15 * 60);
        t
    }
}

/// How to reach Salesforce.
#[derive(Debug, Clone)]
pub struct SalesforceConfig {
    pub instance_url: String,
    pub api_version: String,
    pub token: TokenEndpoint,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
}

impl SalesforceConfig {
    pub fn from_credentials(credentials: &CrmCredentials) -> Self {
        Self {
            instance_url: credentials.instance_url.trim_end_matches('/').to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            token: credentials.token_endpoint(),
            retry: crate::clarity::retry_policy(),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The Salesforce client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SalesforceClient {
    api: Arc<BearerClient>,
    api_version: String,
    deadline: Option<Instant>,
}

impl SalesforceClient {
    pub fn new(config: SalesforceConfig) -> Self {
        Self::with_parts(
            config,
            reqwest::Client::new(),
            Arc::new(SystemClock),
            Arc::new(TokioSleeper),
            StdRng::from_entropy(),
        )
    }

    pub fn from_credentials(credentials: &CrmCredentials) -> Self {
        Self::new(SalesforceConfig::from_credentials(credentials))
    }

    pub fn with_parts(
        config: SalesforceConfig,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
        rng: StdRng,
    ) -> Self {
        let tokens = TokenCache::new(http.clone(), config.token, clock);
        Self {
            api: Arc::new(BearerClient {
                http,
                base_url: config.instance_url.trim_end_matches('/').to_owned(),
                base_from_token: true,
                tokens,
                retrier: Retrier::with_parts(config.retry, sleeper.clone(), rng),
                sleeper,
                request_timeout: config.request_timeout,
            }),
            api_version: config.api_version,
            deadline: None,
        }
    }

    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Self {
            api: self.api.clone(),
            api_version: self.api_version.clone(),
            deadline: Some(deadline),
        }
    }

    pub fn tokens(&self) -> &TokenCache {
        &self.api.tokens
    }
}

#[derive(Deserialize)]
struct UpsertBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    created: Option<bool>,
}

fn valid_field_name(f: &str) -> bool {
    f.ends_with("__c")
        && f.len() > 3
        && f.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[async_trait]
impl CrmApi for SalesforceClient {
    async fn upsert_case(&self, case: &CaseRecord) -> Result<CaseUpsert, CrmError> {
        const OP: &str = "upsert case";
        if !valid_field_name(&case.external_id_field) {
            return Err(CrmError::InvalidRequest {
                operation: OP,
                reason: format!("{:?} is not a custom field name", case.external_id_field),
            });
        }
        if case.external_id.is_empty() || case.external_id.len() > 255 {
            return Err(CrmError::InvalidRequest {
                operation: OP,
                reason: "the external id must be 1-255 characters".into(),
            });
        }
        let mut fields = case.fields.clone();
        fields.remove(&case.external_id_field);
        let body = serde_json::to_vec(&fields).map_err(|e| CrmError::InvalidRequest {
            operation: OP,
            reason: format!("cannot serialise the body: {e}"),
        })?;
        let path = format!(
            "/services/data/{}/sobjects/Case/{}/{}",
            self.api_version,
            case.external_id_field,
            encode_path_segment(&case.external_id)
        );
        let reply = self
            .api
            .send::<CrmError>(self.deadline, OP, Method::PATCH, &path, Some(body), &[])
            .await?;
        if reply.status == 204 || reply.body.is_empty() {
            return Ok(CaseUpsert {
                id: None,
                created: reply.status == 201,
            });
        }
        let b: UpsertBody = reply.json().map_err(|reason| CrmError::Protocol {
            operation: OP,
            status: reply.status,
            reason,
        })?;
        Ok(CaseUpsert {
            id: b.id,
            created: b.created.unwrap_or(reply.status == 201),
        })
    }
}

#[cfg(test)]
mod tests;
