//! Reporting: the chargeback details report (`GET /reporting/v3/chargeback-details`).

use o2c_domain::{Money, MoneyError};
use serde::{Deserialize, Serialize};

use super::common::*;

/// One `chargebackDetails[]` entry of `GET /reporting/v3/chargeback-details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChargebackDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processor_merchant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_reference_number: Option<String>,
    /// Our `clientReferenceInformation.code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_reference_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nature_of_dispute: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_type: Option<String>,
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_settlement_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_code: Option<String>,
    /// The Cybersource transaction id the chargeback is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_due_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub representment_cp_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applications: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_requested_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_dispute_flag: Option<String>,
}

impl ChargebackDetail {
    /// `amount` in `currencyCode`, exactly (the sign is in `sign`, not in the amount).
    pub fn amount_money(&self) -> Option<Result<Money, MoneyError>> {
        Some(parse_amount(
            self.amount.as_ref()?,
            self.currency_code.as_ref()?,
        ))
    }
}

/// `GET /reporting/v3/chargeback-details` 200.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChargebackDetailsResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    pub chargeback_details: Vec<ChargebackDetail>,
}
