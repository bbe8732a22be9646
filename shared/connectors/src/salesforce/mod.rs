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
//! | module | what |
//! |---|---|
//! | this module | the [`CrmApi`] port, [`CaseRecord`], [`CaseUpsert`] |
//! | `client` | [`SalesforceClient`], its HTTP implementation |
//! | `credentials` | the Secrets Manager JSON |
//! | `error` | [`CrmError`] and its mapping to the domain's `StepError` |
//!
//! The case itself is built by [`crate::mapping::salesforce`].

mod client;
mod credentials;
mod error;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub use client::{SalesforceClient, SalesforceConfig};
pub use credentials::CrmCredentials;
pub use error::CrmError;

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

#[cfg(test)]
mod tests;
