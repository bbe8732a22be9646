//! Token Management Service (TMS): customers, payment instruments and `/tms/v2/tokenize`.

use o2c_domain::pii::{Email, Pii, Token};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::*;
use super::payments::TmsError;

/// `buyerInformation` of a TMS customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuyerInformation {
    #[serde(
        rename = "merchantCustomerID",
        alias = "merchantCustomerId",
        skip_serializing_if = "Option::is_none"
    )]
    pub merchant_customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Pii<Email>>,
}

/// `POST /tms/v2/customers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomerRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_information: Option<BuyerInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_reference_information: Option<ClientReferenceInformation>,
}

/// A TMS customer (`POST` 201 / `GET` 200).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomerResponse {
    #[serde(rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_information: Option<BuyerInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_reference_information: Option<ClientReferenceInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_payment_instrument: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_shipping_address: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// `card` of a TMS payment instrument (expiry and type only; the PAN lives in the instrument
/// identifier and never reaches us).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InstrumentCard {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_month: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_year: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub card_type: Option<String>,
}

/// A TMS payment instrument (request and response).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PaymentInstrumentDto {
    #[serde(rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<InstrumentCard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bill_to: Option<BillTo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instrument_identifier: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// `processingInformation` of `POST /tms/v2/tokenize`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenizeProcessingInformation {
    pub action_list: Vec<String>,
    pub action_token_types: Vec<String>,
}

/// `tokenInformation` of `POST /tms/v2/tokenize`: the transient token plus what to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenizeTokenInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transient_token_jwt: Option<Pii<Token>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<Pii<Token>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_instrument: Option<PaymentInstrumentDto>,
}

/// `POST /tms/v2/tokenize`: create a customer and its payment instrument (and the instrument
/// identifier) from a transient token in one call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenizeRequest {
    pub processing_information: TokenizeProcessingInformation,
    pub token_information: TokenizeTokenInformation,
}

/// One `responses[]` entry of a tokenize answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenizeResourceResponse {
    /// `customer`, `paymentInstrument`, `instrumentIdentifier`, `shippingAddress`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<TmsError>,
}

/// `POST /tms/v2/tokenize` 200.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenizeResponse {
    pub responses: Vec<TokenizeResourceResponse>,
}

impl TokenizeResponse {
    /// The id created for `resource`, if that creation succeeded.
    pub fn id_of(&self, resource: &str) -> Option<&str> {
        self.responses
            .iter()
            .find(|r| {
                r.resource.as_deref() == Some(resource)
                    && r.http_status.is_none_or(|s| (200..300).contains(&s))
            })?
            .id
            .as_deref()
    }
}
