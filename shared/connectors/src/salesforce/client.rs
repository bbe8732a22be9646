//! The Salesforce REST client behind [`CrmApi`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;

use super::{CaseRecord, CaseUpsert, CrmApi, CrmCredentials, CrmError, DEFAULT_API_VERSION};
use crate::http::oauth::{TokenCache, TokenEndpoint};
use crate::http::rest::{BearerClient, ClientParts};
use crate::http::retry::RetryPolicy;
use crate::http::transport::encode_path_segment;

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
            retry: crate::http::rest::bearer_retry_policy(),
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
        Self::with_parts(config, ClientParts::real())
    }

    pub fn from_credentials(credentials: &CrmCredentials) -> Self {
        Self::new(SalesforceConfig::from_credentials(credentials))
    }

    pub fn with_parts(config: SalesforceConfig, parts: ClientParts) -> Self {
        Self {
            api: Arc::new(BearerClient::build(
                &config.instance_url,
                true,
                config.token,
                config.retry,
                config.request_timeout,
                parts,
            )),
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
