//! Transaction Search Service (TSS): `GET /tss/v2/transactions/{id}` and
//! `POST /tss/v2/searches`.

use o2c_domain::{Money, MoneyError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::*;
use super::payments::{
    ProcessorInformation, ResponseOrderInformation, ResponseTokenInformation, RiskInformation,
};

/// `POST /tss/v2/searches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    pub save: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// e.g. `clientReferenceInformation.code:ORDER-123`.
    pub query: String,
    pub offset: u32,
    pub limit: u32,
    /// e.g. `submitTimeUtc:desc`.
    pub sort: String,
}

impl SearchRequest {
    /// All transactions whose `clientReferenceInformation.code` is `code`, newest first.
    pub fn by_reference(code: &str, limit: u32) -> Self {
        Self {
            save: false,
            name: None,
            timezone: None,
            query: format!("clientReferenceInformation.code:{code}"),
            offset: 0,
            limit,
            sort: "submitTimeUtc:desc".to_owned(),
        }
    }
}

/// `applicationInformation.applications[]` (TSS): `ics_auth`, `ics_bill`, `ics_credit`, ...
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Application {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason_code: Option<String>,
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub r_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r_flag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciliation_id: Option<String>,
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub return_code: Option<String>,
}

/// `applicationInformation` (TSS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApplicationInformation {
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason_code: Option<String>,
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub r_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r_flag: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<Application>,
}

/// `GET /tss/v2/transactions/{id}` (`docs/cybersource.md` §2.4). Note `submitTimeUTC` (PTS says
/// `submitTimeUtc`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TransactionDetailsDto {
    #[serde(rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciliation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<String>,
    #[serde(
        rename = "submitTimeUTC",
        alias = "submitTimeUtc",
        skip_serializing_if = "Option::is_none"
    )]
    pub submit_time_utc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_information: Option<ApplicationInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_reference_information: Option<ClientReferenceInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_information: Option<ResponseOrderInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processor_information: Option<ProcessorInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_information: Option<RiskInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_information: Option<ResponseTokenInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fraud_marking_information: Option<Value>,
}

impl TransactionDetailsDto {
    pub fn reference(&self) -> Option<&str> {
        self.client_reference_information.as_ref()?.code.as_deref()
    }

    pub fn risk_decision(&self) -> Option<&str> {
        self.risk_information.as_ref()?.decision()
    }

    /// `orderInformation.amountDetails`: authorized amount, else total.
    pub fn amount(&self) -> Option<Result<Money, MoneyError>> {
        self.order_information
            .as_ref()?
            .amount_details
            .as_ref()?
            .authorized()
    }

    /// Names of the services that ran (`ics_auth`, `ics_bill`, ...).
    pub fn application_names(&self) -> Vec<String> {
        application_names(self.application_information.as_ref())
    }
}

/// Names of the services in `applicationInformation` (`ics_auth`, `ics_bill`, ...).
pub fn application_names(info: Option<&ApplicationInformation>) -> Vec<String> {
    info.map(|a| {
        a.applications
            .iter()
            .filter_map(|x| x.name.clone())
            .collect()
    })
    .unwrap_or_default()
}

/// One `_embedded.transactionSummaries[]` entry of a search.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TransactionSummaryDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(alias = "submitTimeUTC", skip_serializing_if = "Option::is_none")]
    pub submit_time_utc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<String>,
    /// Not in the documented summary shape; read when a server provides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_information: Option<ApplicationInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_reference_information: Option<ClientReferenceInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_information: Option<ResponseOrderInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_information: Option<RiskInformation>,
    #[serde(rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
}

/// `_embedded` of a search response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchEmbedded {
    pub transaction_summaries: Vec<TransactionSummaryDto>,
}

/// `POST /tss/v2/searches` 201.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
    #[serde(rename = "_embedded", skip_serializing_if = "Option::is_none")]
    pub embedded: Option<SearchEmbedded>,
}

impl SearchResponse {
    pub fn summaries(&self) -> &[TransactionSummaryDto] {
        self.embedded
            .as_ref()
            .map_or(&[], |e| e.transaction_summaries.as_slice())
    }
}
