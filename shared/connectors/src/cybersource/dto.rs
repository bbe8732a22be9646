//! Cybersource wire DTOs (docs/cybersource.md) and their conversions to and from the domain.
//!
//! * Field names are camelCase exactly as on the wire (`clientReferenceInformation`,
//!   `totalAmount`, TSS's `submitTimeUTC`, TMS's `merchantCustomerID`, ...).
//! * Amounts are decimal strings in major units (`"102.21"`) and convert to and from
//!   [`Money`] exactly: [`AmountDetails::from_money`] / [`parse_amount`]. No floats anywhere.
//! * Request DTOs serialise only what is set (`skip_serializing_if`); response DTOs accept
//!   missing fields (`#[serde(default)]`) and ignore unknown ones.
//! * Card numbers never appear: a payment source is a transient token or TMS ids.
//! * `Debug` of anything holding PII (names, addresses, emails, phones) or a token is redacted.

use std::fmt;

use o2c_domain::{Currency, Money, MoneyError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use secrecy::ExposeSecret;

use super::error::FieldDetail;
use super::gateway::{
    AuthorizationInput, AuthorizationResult, CaptureInput, ChargebackReportEntry, CustomerInput,
    FollowOnResult, IssuedTokens, PaymentSource, RefundInput, ReversalInput, TimeoutReversalInput,
    TimeoutVoidInput, TmsCustomer, TmsPaymentInstrument, TmsTokens, TokenizeInput, VoidInput,
};
use super::outcome::{classify, Operation, PaymentOutcome};

// ---------------------------------------------------------------------------------------------
// Amounts
// ---------------------------------------------------------------------------------------------

/// `{"totalAmount": "102.21", "currency": "USD"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmountDetails {
    pub total_amount: String,
    pub currency: String,
}

impl AmountDetails {
    /// The exact decimal string of `money` with its currency's exponent.
    pub fn from_money(money: &Money) -> Self {
        Self {
            total_amount: money.to_decimal_string(),
            currency: money.currency().code().to_owned(),
        }
    }

    pub fn to_money(&self) -> Result<Money, MoneyError> {
        parse_amount(&self.total_amount, &self.currency)
    }
}

/// Parses a wire amount exactly. Lenient only in what cannot change the value: surrounding
/// whitespace, and trailing zero fraction digits beyond the currency's exponent (`"100.00"` JPY
/// is 100). Anything else (`"1.005"` USD, `"1e3"`) is an error, never rounded.
pub fn parse_amount(amount: &str, currency: &str) -> Result<Money, MoneyError> {
    let currency: Currency = currency.trim().parse()?;
    let amount = amount.trim();
    let exp = currency.exponent() as usize;
    let trimmed = match amount.split_once('.') {
        Some((int, frac)) if frac.len() > exp && frac[exp..].bytes().all(|b| b == b'0') => {
            if exp == 0 {
                int.to_owned()
            } else {
                format!("{int}.{}", &frac[..exp])
            }
        }
        _ => amount.to_owned(),
    };
    Money::parse(&trimmed, currency)
}

/// Response amounts: an authorization carries `authorizedAmount` and `totalAmount`, a capture
/// `totalAmount`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseAmountDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl ResponseAmountDetails {
    /// `authorizedAmount` if present, else `totalAmount`.
    pub fn authorized(&self) -> Option<Result<Money, MoneyError>> {
        let amount = self
            .authorized_amount
            .as_ref()
            .or(self.total_amount.as_ref())?;
        Some(parse_amount(amount, self.currency.as_deref()?))
    }

    pub fn total(&self) -> Option<Result<Money, MoneyError>> {
        Some(parse_amount(
            self.total_amount.as_ref()?,
            self.currency.as_deref()?,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Shared request pieces
// ---------------------------------------------------------------------------------------------

/// `clientReferenceInformation`: `code` is our deterministic reference (the order/effect),
/// `transactionId` our id of this request (needed for timeout reversal/void, §2.6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientReferenceInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
}

impl ClientReferenceInformation {
    pub fn code(code: impl Into<String>) -> Self {
        Self {
            code: Some(code.into()),
            ..Self::default()
        }
    }
}

/// `{"id": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    pub id: String,
}

impl IdRef {
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// `processingInformation` of an authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessingInformation {
    /// Always sent explicitly: `false` = authorization only, `true` = sale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<bool>,
    /// `DECISION_SKIP`, `TOKEN_CREATE`, `CONSUMER_AUTHENTICATION`, ...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub action_list: Vec<String>,
    /// With `TOKEN_CREATE`: `customer`, `paymentInstrument`, `instrumentIdentifier`,
    /// `shippingAddress`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub action_token_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commerce_indicator: Option<String>,
}

/// `paymentInformation` with TMS token ids (never card data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PaymentInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_instrument: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instrument_identifier: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<IdRef>,
}

/// `tokenInformation` of a payment: a Microform / Unified Checkout transient token.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transient_token_jwt: Option<String>,
    /// 64-hex TMS transient token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl fmt::Debug for TokenInformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenInformation")
            .field(
                "transient_token_jwt",
                &self.transient_token_jwt.as_ref().map(|_| "[REDACTED]"),
            )
            .field("jti", &self.jti.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// `orderInformation.billTo`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BillTo {
    pub first_name: String,
    pub last_name: String,
    pub address1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    pub locality: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub administrative_area: Option<String>,
    pub postal_code: String,
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

impl fmt::Debug for BillTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillTo")
            .field("country", &self.country)
            .finish_non_exhaustive()
    }
}

impl BillTo {
    pub fn from_address(a: &o2c_domain::Address, email: Option<&str>) -> Self {
        Self {
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            address1: a.line1.clone(),
            address2: a.line2.clone(),
            locality: a.city.clone(),
            administrative_area: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
            email: email.map(str::to_owned),
            phone_number: a.phone.clone(),
        }
    }
}

/// `orderInformation.shipTo`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ShipTo {
    pub first_name: String,
    pub last_name: String,
    pub address1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    pub locality: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub administrative_area: Option<String>,
    pub postal_code: String,
    pub country: String,
}

impl fmt::Debug for ShipTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShipTo")
            .field("country", &self.country)
            .finish_non_exhaustive()
    }
}

impl ShipTo {
    pub fn from_address(a: &o2c_domain::Address) -> Self {
        Self {
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            address1: a.line1.clone(),
            address2: a.line2.clone(),
            locality: a.city.clone(),
            administrative_area: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

/// `orderInformation.lineItems[]`. The SKU is sent as `productSKU`, the name the official SDK
/// puts on the wire (its model field is `productSku`, renamed after serialisation, §2.2); both
/// spellings are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    #[serde(rename = "productSKU", alias = "productSku")]
    pub product_sku: String,
    pub product_name: String,
    pub quantity: u32,
    pub unit_price: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<String>,
}

impl LineItem {
    pub fn from_domain(line: &o2c_domain::LineItem) -> Result<Self, MoneyError> {
        Ok(Self {
            product_sku: line.sku.clone(),
            product_name: line.name.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price.to_decimal_string(),
            tax_amount: line.tax.map(|t| t.to_decimal_string()),
            total_amount: Some(line.total()?.to_decimal_string()),
        })
    }
}

/// `orderInformation` of an authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderInformation {
    pub amount_details: AmountDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_to: Option<BillTo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<ShipTo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItem>,
}

/// `orderInformation` carrying only an amount (capture, refund).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmountOrderInformation {
    pub amount_details: AmountDetails,
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// `POST /pts/v2/payments` (§2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    pub client_reference_information: ClientReferenceInformation,
    pub processing_information: ProcessingInformation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_information: Option<PaymentInformation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_information: Option<TokenInformation>,
    pub order_information: OrderInformation,
}

/// `POST /pts/v2/payments/{id}/captures`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureRequest {
    pub client_reference_information: ClientReferenceInformation,
    pub order_information: AmountOrderInformation,
}

/// `POST /pts/v2/payments/{id}/refunds`, `POST /pts/v2/captures/{id}/refunds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    pub client_reference_information: ClientReferenceInformation,
    pub order_information: AmountOrderInformation,
}

/// `reversalInformation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReversalInformation {
    pub amount_details: AmountDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /pts/v2/payments/{id}/reversals`, and the timeout reversal `POST /pts/v2/reversals`
/// (then `clientReferenceInformation.transactionId` names the lost authorization).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReversalRequest {
    pub client_reference_information: ClientReferenceInformation,
    pub reversal_information: ReversalInformation,
}

/// `POST /pts/v2/{payments|captures|refunds|credits}/{id}/voids`, and the timeout void
/// `POST /pts/v2/voids` (by `clientReferenceInformation.transactionId`, with `comments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoidRequest {
    pub client_reference_information: ClientReferenceInformation,
}

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

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// `errorInformation` of a 201 that is not approved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldDetail>,
}

/// `{code, codeRaw}` pairs (AVS, merchant advice).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CodeInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_raw: Option<String>,
}

/// `processorInformation` (selection, §2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessorInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avs: Option<CodeInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_advice: Option<CodeInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrieval_reference_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_trace_audit_number: Option<String>,
}

/// `orderInformation` in a response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseOrderInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_details: Option<ResponseAmountDetails>,
}

/// `tokenInformation` in a payment response (tokens created with `TOKEN_CREATE`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseTokenInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_instrument: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instrument_identifier: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<IdRef>,
    #[serde(
        rename = "instrumentidentifierNew",
        skip_serializing_if = "Option::is_none"
    )]
    pub instrument_identifier_new: Option<bool>,
}

/// `riskInformation.profile`. PTS spells the queue `desinationQueue` (sic); TSS adds
/// `decision` (`ACCEPT`, `REVIEW`, `REJECT`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RiskProfile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(
        rename = "desinationQueue",
        alias = "destinationQueue",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_queue: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector_rule: Option<String>,
}

/// `riskInformation.rules[]`: decision `IGNORE|REVIEW|REJECT|ACCEPT`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RiskRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

/// `riskInformation` (selection).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RiskInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<RiskProfile>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RiskRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_codes: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_priority: Option<Value>,
}

impl RiskInformation {
    /// The Decision Manager decision: `profile.decision` when present (TSS).
    pub fn decision(&self) -> Option<&str> {
        self.profile.as_ref()?.decision.as_deref()
    }
}

/// `refundAmountDetails` of a refund response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RefundAmountDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// `reversalAmountDetails` of a reversal response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReversalAmountDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversed_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_transaction_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// `voidAmountDetails` of a void response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VoidAmountDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub void_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_transaction_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// `paymentInformation` of a response: the card's brand code and last four digits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponsePaymentInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<ResponseCard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokenized_card: Option<ResponseCard>,
}

/// Brand (`type`, e.g. `001` = Visa) and `suffix` (last four) of a card in a response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseCard {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub card_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

impl ResponsePaymentInformation {
    /// (brand code, last four) from `card`, falling back to `tokenizedCard`. A suffix that is
    /// not exactly four digits is dropped.
    pub fn brand_and_last4(&self) -> (Option<String>, Option<String>) {
        let cards = [self.card.as_ref(), self.tokenized_card.as_ref()];
        let brand = cards.iter().flatten().find_map(|c| c.card_type.clone());
        let last4 = cards
            .iter()
            .flatten()
            .find_map(|c| c.suffix.clone())
            .filter(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()));
        (brand, last4)
    }
}

/// The 201 body of every PTS call (payment, capture, refund, reversal, void): one struct with
/// the union of their fields (§2.3, §2.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PaymentResponse {
    #[serde(rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submit_time_utc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciliation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_reference_information: Option<ClientReferenceInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processor_information: Option<ProcessorInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_information: Option<ResponseOrderInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_information: Option<ResponseTokenInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_information: Option<RiskInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_information: Option<ErrorInformation>,
    /// Card brand and last four digits (never the PAN: Cybersource returns the suffix only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_information: Option<ResponsePaymentInformation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_amount_details: Option<RefundAmountDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversal_amount_details: Option<ReversalAmountDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub void_amount_details: Option<VoidAmountDetails>,
}

impl PaymentResponse {
    pub fn error_reason(&self) -> Option<&str> {
        self.error_information.as_ref()?.reason.as_deref()
    }

    pub fn error_message(&self) -> Option<&str> {
        self.error_information.as_ref()?.message.as_deref()
    }

    pub fn risk_decision(&self) -> Option<&str> {
        self.risk_information.as_ref()?.decision()
    }

    pub fn reference(&self) -> Option<&str> {
        self.client_reference_information.as_ref()?.code.as_deref()
    }

    fn amount_details(&self) -> Option<&ResponseAmountDetails> {
        self.order_information.as_ref()?.amount_details.as_ref()
    }

    /// The amount this response is about: authorized, captured (`totalAmount`), refunded,
    /// reversed or voided.
    pub fn amount(&self) -> Option<Result<Money, MoneyError>> {
        if let Some(r) = &self.refund_amount_details {
            if let (Some(a), Some(c)) = (&r.refund_amount, &r.currency) {
                return Some(parse_amount(a, c));
            }
        }
        if let Some(r) = &self.reversal_amount_details {
            if let (Some(a), Some(c)) = (&r.reversed_amount, &r.currency) {
                return Some(parse_amount(a, c));
            }
        }
        if let Some(r) = &self.void_amount_details {
            if let (Some(a), Some(c)) = (&r.void_amount, &r.currency) {
                return Some(parse_amount(a, c));
            }
        }
        self.amount_details()?.authorized()
    }
}

/// The body of a 4xx/5xx answer. PTS: `{status, reason, message, details[]}` (400
/// `INVALID_REQUEST`, 502 `SERVER_ERROR`); authentication: `{"response": {"rmsg": "..."}}`;
/// TMS: `{"errors": [{"type", "message", "details"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submit_time_utc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<AuthErrorBody>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<TmsError>,
}

/// `{"rmsg": "Authentication Failed"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthErrorBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rmsg: Option<String>,
}

/// One TMS `errors[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TmsError {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Value>,
}

impl ErrorResponse {
    /// `reason`, else the first TMS error type.
    pub fn reason_code(&self) -> Option<&str> {
        self.reason
            .as_deref()
            .or_else(|| self.errors.first()?.kind.as_deref())
    }

    /// The most specific human-readable message available.
    pub fn message_text(&self) -> Option<&str> {
        self.message
            .as_deref()
            .or_else(|| self.response.as_ref()?.rmsg.as_deref())
            .or_else(|| self.errors.first()?.message.as_deref())
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

/// `GET /tss/v2/transactions/{id}` (§2.4). Note `submitTimeUTC` (PTS says `submitTimeUtc`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TransactionDetails {
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

impl TransactionDetails {
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

    /// A declined authorization's reason in `errorInformation.reason` terms, read from the
    /// TSS reason code (`applicationInformation.reasonCode`, else `ics_auth`'s); see
    /// [`crate::cybersource::outcome::reason_of_code`].
    pub fn decline_reason(&self) -> Option<&'static str> {
        let info = self.application_information.as_ref()?;
        let auth = info
            .applications
            .iter()
            .find(|a| a.name.as_deref() == Some("ics_auth"))
            .and_then(|a| a.reason_code.as_deref());
        info.reason_code
            .as_deref()
            .and_then(super::outcome::reason_of_code)
            .or_else(|| auth.and_then(super::outcome::reason_of_code))
    }
}

fn application_names(info: Option<&ApplicationInformation>) -> Vec<String> {
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

/// A transaction found by search, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionSummary {
    /// Cybersource transaction id.
    pub id: String,
    /// `clientReferenceInformation.code`.
    pub reference: Option<String>,
    /// `clientReferenceInformation.transactionId`, when the server echoes it.
    pub transaction_id: Option<String>,
    pub submit_time_utc: Option<String>,
    /// A status when the server provides one (the documented summary has none; use
    /// `transaction_details` for it).
    pub status: Option<String>,
    /// Services that ran (`ics_auth`, `ics_bill`, ...).
    pub applications: Vec<String>,
    pub amount: Option<Money>,
    pub risk_decision: Option<String>,
}

impl TryFrom<&TransactionSummaryDto> for TransactionSummary {
    type Error = String;

    fn try_from(d: &TransactionSummaryDto) -> Result<Self, String> {
        let id =
            d.id.clone()
                .filter(|s| !s.is_empty())
                .ok_or("transaction summary without id")?;
        let amount = d
            .order_information
            .as_ref()
            .and_then(|o| o.amount_details.as_ref())
            .and_then(ResponseAmountDetails::authorized)
            .transpose()
            .map_err(|e| format!("transaction {id}: {e}"))?;
        Ok(Self {
            reference: d
                .client_reference_information
                .as_ref()
                .and_then(|c| c.code.clone()),
            transaction_id: d
                .client_reference_information
                .as_ref()
                .and_then(|c| c.transaction_id.clone()),
            submit_time_utc: d.submit_time_utc.clone(),
            status: d.status.clone(),
            applications: application_names(d.application_information.as_ref()),
            amount,
            risk_decision: d
                .risk_information
                .as_ref()
                .and_then(|r| r.decision().map(str::to_owned)),
            id,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// TMS
// ---------------------------------------------------------------------------------------------

/// `buyerInformation` of a TMS customer.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuyerInformation {
    #[serde(
        rename = "merchantCustomerID",
        alias = "merchantCustomerId",
        skip_serializing_if = "Option::is_none"
    )]
    pub merchant_customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl fmt::Debug for BuyerInformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuyerInformation")
            .field("merchant_customer_id", &self.merchant_customer_id)
            .field("email", &self.email.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
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
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenizeTokenInformation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transient_token_jwt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_instrument: Option<PaymentInstrumentDto>,
}

impl fmt::Debug for TokenizeTokenInformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenizeTokenInformation")
            .field(
                "transient_token_jwt",
                &self.transient_token_jwt.as_ref().map(|_| "[REDACTED]"),
            )
            .field("jti", &self.jti.as_ref().map(|_| "[REDACTED]"))
            .field("customer", &self.customer)
            .field("payment_instrument", &self.payment_instrument)
            .finish()
    }
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

// ---------------------------------------------------------------------------------------------
// Reporting: chargebacks
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Conversions: gateway inputs → requests, responses → gateway results
// ---------------------------------------------------------------------------------------------

/// Why an input cannot become a request (nothing is sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

impl From<MoneyError> for InputError {
    fn from(e: MoneyError) -> Self {
        InputError(e.to_string())
    }
}

fn positive(what: &str, m: &Money) -> Result<AmountDetails, InputError> {
    if m.minor() <= 0 {
        return Err(InputError(format!("{what} must be positive, got {m}")));
    }
    Ok(AmountDetails::from_money(m))
}

/// A `clientReferenceInformation.code` / `transactionId`: 1–50 visible ASCII characters (the
/// Cybersource field limit), no quotes or backslashes.
pub fn check_reference(what: &str, value: &str) -> Result<(), InputError> {
    let ok = !value.is_empty()
        && value.len() <= 50
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    if ok {
        Ok(())
    } else {
        Err(InputError(format!(
            "{what} must be 1-50 visible ASCII characters without quotes"
        )))
    }
}

impl PaymentRequest {
    /// `POST /pts/v2/payments` body for an authorization (or sale).
    pub fn from_input(input: &AuthorizationInput) -> Result<Self, InputError> {
        check_reference("reference", &input.reference)?;
        check_reference("transaction id", &input.transaction_id)?;
        let amount = positive("authorization amount", &input.amount)?;
        let mut action_list = Vec::new();
        let mut action_token_types = Vec::new();
        if !input.decision_manager {
            action_list.push("DECISION_SKIP".to_owned());
        }
        if input.create_tokens {
            action_list.push("TOKEN_CREATE".to_owned());
            action_token_types = vec!["customer".to_owned(), "paymentInstrument".to_owned()];
        }
        let (payment_information, token_information) = match &input.source {
            PaymentSource::TransientToken(jwt) => (
                None,
                Some(TokenInformation {
                    transient_token_jwt: Some(jwt.expose_secret().to_owned()),
                    jti: None,
                }),
            ),
            PaymentSource::TransientTokenId(jti) => (
                None,
                Some(TokenInformation {
                    transient_token_jwt: None,
                    jti: Some(jti.expose_secret().to_owned()),
                }),
            ),
            PaymentSource::Tms {
                customer_id,
                payment_instrument_id,
            } => (
                Some(PaymentInformation {
                    customer: Some(IdRef::new(customer_id.clone())),
                    payment_instrument: payment_instrument_id.clone().map(IdRef::new),
                    ..PaymentInformation::default()
                }),
                None,
            ),
        };
        let line_items = input
            .lines
            .iter()
            .map(LineItem::from_domain)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(l) = input
            .lines
            .iter()
            .find(|l| l.unit_price.currency() != input.amount.currency())
        {
            return Err(InputError(format!(
                "line {} is in {}, the authorization in {}",
                l.sku,
                l.unit_price.currency(),
                input.amount.currency()
            )));
        }
        Ok(Self {
            client_reference_information: ClientReferenceInformation {
                code: Some(input.reference.clone()),
                transaction_id: Some(input.transaction_id.clone()),
                comments: None,
            },
            processing_information: ProcessingInformation {
                capture: Some(input.capture),
                action_list,
                action_token_types,
                commerce_indicator: input.commerce_indicator.clone(),
            },
            payment_information,
            token_information,
            order_information: OrderInformation {
                amount_details: amount,
                bill_to: input
                    .bill_to
                    .as_ref()
                    .map(|a| BillTo::from_address(a, input.email.as_deref())),
                ship_to: input.ship_to.as_ref().map(ShipTo::from_address),
                line_items,
            },
        })
    }
}

impl CaptureRequest {
    pub fn from_input(input: &CaptureInput) -> Result<Self, InputError> {
        check_reference("reference", &input.reference)?;
        Ok(Self {
            client_reference_information: ClientReferenceInformation::code(&input.reference),
            order_information: AmountOrderInformation {
                amount_details: positive("capture amount", &input.amount)?,
            },
        })
    }
}

impl RefundRequest {
    pub fn from_input(input: &RefundInput) -> Result<Self, InputError> {
        check_reference("reference", &input.reference)?;
        Ok(Self {
            client_reference_information: ClientReferenceInformation::code(&input.reference),
            order_information: AmountOrderInformation {
                amount_details: positive("refund amount", &input.amount)?,
            },
        })
    }
}

impl ReversalRequest {
    pub fn from_input(input: &ReversalInput) -> Result<Self, InputError> {
        check_reference("reference", &input.reference)?;
        Ok(Self {
            client_reference_information: ClientReferenceInformation::code(&input.reference),
            reversal_information: ReversalInformation {
                amount_details: positive("reversal amount", &input.amount)?,
                reason: input.reason.clone(),
            },
        })
    }

    /// §2.6 timeout reversal: names the lost authorization by its `transactionId`.
    pub fn from_timeout_input(input: &TimeoutReversalInput) -> Result<Self, InputError> {
        check_reference("transaction id", &input.transaction_id)?;
        if let Some(r) = &input.reference {
            check_reference("reference", r)?;
        }
        Ok(Self {
            client_reference_information: ClientReferenceInformation {
                code: input.reference.clone(),
                transaction_id: Some(input.transaction_id.clone()),
                comments: None,
            },
            reversal_information: ReversalInformation {
                amount_details: positive("reversal amount", &input.amount)?,
                reason: Some(input.reason.clone()),
            },
        })
    }
}

impl VoidRequest {
    pub fn from_input(input: &VoidInput) -> Result<Self, InputError> {
        check_reference("reference", &input.reference)?;
        Ok(Self {
            client_reference_information: ClientReferenceInformation::code(&input.reference),
        })
    }

    /// §2.6 timeout void: names the lost request by its `transactionId`.
    pub fn from_timeout_input(input: &TimeoutVoidInput) -> Result<Self, InputError> {
        check_reference("transaction id", &input.transaction_id)?;
        if let Some(r) = &input.reference {
            check_reference("reference", r)?;
        }
        Ok(Self {
            client_reference_information: ClientReferenceInformation {
                code: input.reference.clone(),
                transaction_id: Some(input.transaction_id.clone()),
                comments: input.comments.clone(),
            },
        })
    }
}

impl TokenizeRequest {
    /// Customer + default payment instrument (+ instrument identifier) from a transient token.
    pub fn from_input(input: &TokenizeInput) -> Result<Self, InputError> {
        if let Some(r) = &input.customer.reference {
            check_reference("reference", r)?;
        }
        Ok(Self {
            processing_information: TokenizeProcessingInformation {
                action_list: vec!["TOKEN_CREATE".to_owned()],
                action_token_types: vec![
                    "customer".to_owned(),
                    "paymentInstrument".to_owned(),
                    "instrumentIdentifier".to_owned(),
                ],
            },
            token_information: TokenizeTokenInformation {
                transient_token_jwt: Some(input.transient_token.expose_secret().to_owned()),
                jti: None,
                customer: Some(CustomerRequest::from_input(&input.customer)),
                payment_instrument: Some(PaymentInstrumentDto {
                    default: Some(true),
                    bill_to: input
                        .bill_to
                        .as_ref()
                        .map(|a| BillTo::from_address(a, input.customer.email.as_deref())),
                    ..PaymentInstrumentDto::default()
                }),
            },
        })
    }
}

impl CustomerRequest {
    pub fn from_input(input: &CustomerInput) -> Self {
        Self {
            buyer_information: Some(BuyerInformation {
                merchant_customer_id: Some(input.merchant_customer_id.clone()),
                email: input.email.clone(),
            }),
            client_reference_information: input
                .reference
                .as_ref()
                .map(ClientReferenceInformation::code),
        }
    }
}

/// Why a 2xx answer could not be read as a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResponseError(pub String);

fn required_id(id: &Option<String>, what: &str) -> Result<String, ResponseError> {
    id.clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ResponseError(format!("{what} response without id")))
}

fn amount_of(r: &PaymentResponse) -> Result<Option<Money>, ResponseError> {
    r.amount()
        .transpose()
        .map_err(|e| ResponseError(format!("bad amount in response: {e}")))
}

impl AuthorizationResult {
    /// Reads a payments 201 (any status) and classifies it.
    pub fn from_response(operation: Operation, r: &PaymentResponse) -> Result<Self, ResponseError> {
        let id = required_id(&r.id, "payment")?;
        let status = r
            .status
            .clone()
            .ok_or_else(|| ResponseError(format!("payment {id} without status")))?;
        let outcome = classify(operation, &status, r.risk_decision(), r.error_reason());
        let card = r
            .payment_information
            .as_ref()
            .map(ResponsePaymentInformation::brand_and_last4)
            .unwrap_or_default();
        let tokens = r
            .token_information
            .as_ref()
            .map(|t| IssuedTokens {
                customer_id: t.customer.as_ref().map(|x| x.id.clone()),
                payment_instrument_id: t.payment_instrument.as_ref().map(|x| x.id.clone()),
                instrument_identifier_id: t.instrument_identifier.as_ref().map(|x| x.id.clone()),
                shipping_address_id: t.shipping_address.as_ref().map(|x| x.id.clone()),
            })
            .unwrap_or_default();
        Ok(Self {
            authorized_amount: amount_of(r)?,
            id,
            status,
            outcome,
            reference: r.reference().map(str::to_owned),
            reconciliation_id: r.reconciliation_id.clone(),
            error_reason: r.error_reason().map(str::to_owned),
            error_message: r.error_message().map(str::to_owned),
            risk_decision: r.risk_decision().map(str::to_owned),
            approval_code: r
                .processor_information
                .as_ref()
                .and_then(|p| p.approval_code.clone()),
            tokens,
            submit_time_utc: r.submit_time_utc.clone(),
            card_type: card.0,
            card_last4: card.1,
            risk: r.risk_information.clone(),
        })
    }
}

impl FollowOnResult {
    /// Reads a follow-on 201. Only a success status of `operation` is `Ok(Ok(..))`; any other
    /// status is `Ok(Err(outcome))` so the caller can turn it into a terminal error.
    pub fn from_response(
        operation: Operation,
        r: &PaymentResponse,
    ) -> Result<Result<Self, PaymentOutcome>, ResponseError> {
        let id = required_id(&r.id, "follow-on")?;
        let status = r
            .status
            .clone()
            .ok_or_else(|| ResponseError(format!("transaction {id} without status")))?;
        let outcome = classify(operation, &status, None, r.error_reason());
        if !outcome.is_approved() {
            return Ok(Err(outcome));
        }
        Ok(Ok(Self {
            operation,
            amount: amount_of(r)?,
            id,
            status,
            reference: r.reference().map(str::to_owned),
            reconciliation_id: r.reconciliation_id.clone(),
            submit_time_utc: r.submit_time_utc.clone(),
        }))
    }
}

impl TryFrom<&CustomerResponse> for TmsCustomer {
    type Error = ResponseError;
    fn try_from(r: &CustomerResponse) -> Result<Self, ResponseError> {
        Ok(Self {
            id: required_id(&r.id, "customer")?,
            merchant_customer_id: r
                .buyer_information
                .as_ref()
                .and_then(|b| b.merchant_customer_id.clone()),
            default_payment_instrument_id: r
                .default_payment_instrument
                .as_ref()
                .map(|p| p.id.clone()),
        })
    }
}

impl TryFrom<&PaymentInstrumentDto> for TmsPaymentInstrument {
    type Error = ResponseError;
    fn try_from(r: &PaymentInstrumentDto) -> Result<Self, ResponseError> {
        let card = r.card.clone().unwrap_or_default();
        Ok(Self {
            id: required_id(&r.id, "payment instrument")?,
            default: r.default.unwrap_or(false),
            state: r.state.clone(),
            card_type: card.card_type,
            expiration_month: card.expiration_month,
            expiration_year: card.expiration_year,
            instrument_identifier_id: r.instrument_identifier.as_ref().map(|i| i.id.clone()),
        })
    }
}

impl TryFrom<&TokenizeResponse> for TmsTokens {
    type Error = ResponseError;
    fn try_from(r: &TokenizeResponse) -> Result<Self, ResponseError> {
        let need = |res: &str| {
            r.id_of(res).map(str::to_owned).ok_or_else(|| {
                let why = r
                    .responses
                    .iter()
                    .find(|x| x.resource.as_deref() == Some(res))
                    .and_then(|x| x.errors.first())
                    .and_then(|e| e.message.clone())
                    .unwrap_or_else(|| "not created".to_owned());
                ResponseError(format!("tokenize: {res}: {why}"))
            })
        };
        Ok(Self {
            customer_id: need("customer")?,
            payment_instrument_id: need("paymentInstrument")?,
            instrument_identifier_id: r.id_of("instrumentIdentifier").map(str::to_owned),
        })
    }
}

impl TryFrom<&ChargebackDetail> for ChargebackReportEntry {
    type Error = ResponseError;
    fn try_from(d: &ChargebackDetail) -> Result<Self, ResponseError> {
        Ok(Self {
            transaction_id: d.request_id.clone(),
            reference: d.merchant_reference_number.clone(),
            amount: d
                .amount_money()
                .transpose()
                .map_err(|e| ResponseError(format!("chargeback amount: {e}")))?,
            reason_code: d.reason_code.clone(),
            action: d.action.clone(),
            time: d.time.clone(),
            response_due_time: d.response_due_time.clone(),
            raw: d.clone(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Reads a string, a number or null as `Option<String>` (TSS codes come as either).
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(other) => Some(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_convert_exactly_both_ways() {
        for (s, cur, minor) in [
            ("102.21", "USD", 10_221),
            ("0.01", "USD", 1),
            ("1500", "JPY", 1_500),
            ("12.345", "KWD", 12_345),
            ("0.10", "EUR", 10),
        ] {
            let m = parse_amount(s, cur).unwrap();
            assert_eq!(m.minor(), minor, "{s} {cur}");
            assert_eq!(AmountDetails::from_money(&m).total_amount, s);
            assert_eq!(AmountDetails::from_money(&m).currency, cur);
        }
        // Lenient only where the value cannot change.
        assert_eq!(parse_amount("100.00", "JPY").unwrap().minor(), 100);
        assert_eq!(parse_amount(" 5.5 ", "USD").unwrap().minor(), 550);
        assert_eq!(parse_amount("5.500", "USD").unwrap().minor(), 550);
        assert!(parse_amount("1.005", "USD").is_err());
        assert!(parse_amount("100.5", "JPY").is_err());
        assert!(parse_amount("1e3", "USD").is_err());
        assert!(parse_amount("1.00", "XXX").is_err());
        // Large values stay exact (no float).
        let big = parse_amount("92233720368547758.07", "USD").unwrap();
        assert_eq!(big.minor(), i64::MAX);
        assert_eq!(
            AmountDetails::from_money(&big).total_amount,
            "92233720368547758.07"
        );
    }

    #[test]
    fn payment_request_wire_shape() {
        let req = PaymentRequest {
            client_reference_information: ClientReferenceInformation {
                code: Some("ORDER-123".into()),
                transaction_id: Some("ORDER-123-auth-1".into()),
                comments: None,
            },
            processing_information: ProcessingInformation {
                capture: Some(false),
                action_list: vec!["TOKEN_CREATE".into()],
                action_token_types: vec!["customer".into(), "paymentInstrument".into()],
                commerce_indicator: Some("internet".into()),
            },
            payment_information: Some(PaymentInformation {
                customer: Some(IdRef::new("C1")),
                payment_instrument: Some(IdRef::new("PI1")),
                ..Default::default()
            }),
            token_information: None,
            order_information: OrderInformation {
                amount_details: AmountDetails {
                    total_amount: "102.21".into(),
                    currency: "USD".into(),
                },
                bill_to: Some(BillTo {
                    first_name: "Ada".into(),
                    country: "US".into(),
                    email: Some("ada@example.com".into()),
                    ..Default::default()
                }),
                ship_to: None,
                line_items: vec![LineItem {
                    product_sku: "SKU-1".into(),
                    product_name: "Widget".into(),
                    quantity: 1,
                    unit_price: "50.00".into(),
                    tax_amount: None,
                    total_amount: Some("50.00".into()),
                }],
            },
        };
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v["clientReferenceInformation"],
            json!({"code": "ORDER-123", "transactionId": "ORDER-123-auth-1"})
        );
        assert_eq!(
            v["processingInformation"],
            json!({"capture": false, "actionList": ["TOKEN_CREATE"],
                   "actionTokenTypes": ["customer", "paymentInstrument"], "commerceIndicator": "internet"})
        );
        assert_eq!(
            v["paymentInformation"],
            json!({"customer": {"id": "C1"}, "paymentInstrument": {"id": "PI1"}})
        );
        assert_eq!(
            v["orderInformation"]["amountDetails"],
            json!({"totalAmount": "102.21", "currency": "USD"})
        );
        assert_eq!(v["orderInformation"]["billTo"]["firstName"], "Ada");
        assert_eq!(v["orderInformation"]["billTo"]["email"], "ada@example.com");
        assert_eq!(
            v["orderInformation"]["lineItems"][0],
            json!({"productSKU": "SKU-1", "productName": "Widget", "quantity": 1,
                   "unitPrice": "50.00", "totalAmount": "50.00"})
        );
        assert!(v.get("tokenInformation").is_none());
        let back: PaymentRequest = serde_json::from_value(v).unwrap();
        assert_eq!(back, req);
        // The model spelling is read too.
        let li: LineItem = serde_json::from_value(json!({"productSku": "S", "productName": "n",
            "quantity": 2, "unitPrice": "1.00"}))
        .unwrap();
        assert_eq!(li.product_sku, "S");
    }

    #[test]
    fn follow_on_request_shapes() {
        let amount = AmountDetails::from_money(&Money::from_minor(5_000, Currency::USD));
        let cap = CaptureRequest {
            client_reference_information: ClientReferenceInformation::code("O-cap-1"),
            order_information: AmountOrderInformation {
                amount_details: amount.clone(),
            },
        };
        assert_eq!(
            serde_json::to_value(&cap).unwrap(),
            json!({"clientReferenceInformation": {"code": "O-cap-1"},
                   "orderInformation": {"amountDetails": {"totalAmount": "50.00", "currency": "USD"}}})
        );
        let rev = ReversalRequest {
            client_reference_information: ClientReferenceInformation {
                transaction_id: Some("O-auth-1".into()),
                ..Default::default()
            },
            reversal_information: ReversalInformation {
                amount_details: amount,
                reason: Some("timeout".into()),
            },
        };
        assert_eq!(
            serde_json::to_value(&rev).unwrap(),
            json!({"clientReferenceInformation": {"transactionId": "O-auth-1"},
                   "reversalInformation": {"amountDetails": {"totalAmount": "50.00", "currency": "USD"},
                                           "reason": "timeout"}})
        );
        let void = VoidRequest {
            client_reference_information: ClientReferenceInformation {
                transaction_id: Some("O-cap-1".into()),
                comments: Some("timeout void".into()),
                ..Default::default()
            },
        };
        assert_eq!(
            serde_json::to_value(&void).unwrap(),
            json!({"clientReferenceInformation": {"transactionId": "O-cap-1", "comments": "timeout void"}})
        );
        assert_eq!(
            serde_json::to_value(SearchRequest::by_reference("O-auth-1", 20)).unwrap(),
            json!({"save": false, "query": "clientReferenceInformation.code:O-auth-1",
                   "offset": 0, "limit": 20, "sort": "submitTimeUtc:desc"})
        );
    }

    #[test]
    fn payment_response_parses_documented_shape() {
        let body = json!({
            "_links": {"self": {"href": "/pts/v2/payments/7000000000000000000001", "method": "GET"}},
            "id": "7000000000000000000001",
            "status": "AUTHORIZED_PENDING_REVIEW",
            "submitTimeUtc": "2026-01-20T10:00:00Z",
            "reconciliationId": "R1",
            "clientReferenceInformation": {"code": "ORDER-1"},
            "processorInformation": {"approvalCode": "888888", "responseCode": "100",
                                     "avs": {"code": "Y", "codeRaw": "Y"}},
            "orderInformation": {"amountDetails": {"authorizedAmount": "107.99", "totalAmount": "107.99", "currency": "USD"}},
            "tokenInformation": {"customer": {"id": "C1"}, "paymentInstrument": {"id": "PI1"},
                                 "instrumentidentifierNew": false},
            "riskInformation": {"profile": {"name": "p", "desinationQueue": "q", "selectorRule": "r"},
                                "rules": [{"name": "velocity", "decision": "REVIEW"}],
                                "score": {"result": "42"}},
            "errorInformation": {"reason": "DECISION_PROFILE_REVIEW", "message": "review"},
            "somethingNew": 1
        });
        let r: PaymentResponse = serde_json::from_value(body).unwrap();
        assert_eq!(r.id.as_deref(), Some("7000000000000000000001"));
        assert_eq!(r.error_reason(), Some("DECISION_PROFILE_REVIEW"));
        assert_eq!(r.reference(), Some("ORDER-1"));
        assert_eq!(r.amount().unwrap().unwrap().minor(), 10_799);
        let t = r.token_information.as_ref().unwrap();
        assert_eq!(t.payment_instrument.as_ref().unwrap().id, "PI1");
        assert_eq!(t.instrument_identifier_new, Some(false));
        let risk = r.risk_information.as_ref().unwrap();
        assert_eq!(
            risk.profile.as_ref().unwrap().destination_queue.as_deref(),
            Some("q")
        );
        assert_eq!(risk.rules[0].decision.as_deref(), Some("REVIEW"));
        assert_eq!(r.risk_decision(), None);

        let refund: PaymentResponse =
            serde_json::from_value(json!({"id": "9", "status": "PENDING",
            "refundAmountDetails": {"refundAmount": "10.00", "currency": "USD"}}))
            .unwrap();
        assert_eq!(refund.amount().unwrap().unwrap().minor(), 1_000);
        let rev: PaymentResponse = serde_json::from_value(json!({"id": "9", "status": "REVERSED",
            "reversalAmountDetails": {"reversedAmount": "1500", "currency": "JPY"}}))
        .unwrap();
        assert_eq!(rev.amount().unwrap().unwrap().minor(), 1_500);
    }

    #[test]
    fn error_bodies() {
        let e: ErrorResponse = serde_json::from_value(json!({"submitTimeUtc": "x", "status": "INVALID_REQUEST",
            "reason": "MISSING_FIELD", "message": "Declined - The request is missing one or more fields",
            "details": [{"field": "orderInformation.amountDetails.totalAmount", "reason": "MISSING_FIELD"}]}))
        .unwrap();
        assert_eq!(e.reason_code(), Some("MISSING_FIELD"));
        assert_eq!(
            e.details[0].field.as_deref(),
            Some("orderInformation.amountDetails.totalAmount")
        );
        let a: ErrorResponse =
            serde_json::from_value(json!({"response": {"rmsg": "Authentication Failed"}})).unwrap();
        assert_eq!(a.message_text(), Some("Authentication Failed"));
        let t: ErrorResponse = serde_json::from_value(json!({"errors": [{"type": "notFound",
            "message": "Token not found", "details": [{"name": "id"}]}]}))
        .unwrap();
        assert_eq!(t.reason_code(), Some("notFound"));
        assert_eq!(t.message_text(), Some("Token not found"));
    }

    #[test]
    fn tss_details_and_search() {
        let d: TransactionDetails = serde_json::from_value(json!({
            "id": "70001", "rootId": "70001", "submitTimeUTC": "2026-01-20T10:00:00Z",
            "status": "TRANSMITTED",
            "applicationInformation": {"reasonCode": 100, "rCode": "1", "rFlag": "SOK",
                "applications": [{"name": "ics_auth", "reasonCode": "100", "rCode": 1, "returnCode": 1010000},
                                 {"name": "ics_bill", "rFlag": "SOK"}]},
            "clientReferenceInformation": {"code": "O-auth-1"},
            "orderInformation": {"amountDetails": {"totalAmount": "10.00", "authorizedAmount": "10.00", "currency": "USD"}},
            "riskInformation": {"profile": {"name": "default", "decision": "ACCEPT"}}
        }))
        .unwrap();
        assert_eq!(d.submit_time_utc.as_deref(), Some("2026-01-20T10:00:00Z"));
        assert_eq!(d.application_names(), ["ics_auth", "ics_bill"]);
        assert_eq!(
            d.application_information
                .as_ref()
                .unwrap()
                .reason_code
                .as_deref(),
            Some("100")
        );
        assert_eq!(d.risk_decision(), Some("ACCEPT"));
        assert_eq!(d.amount().unwrap().unwrap().minor(), 1_000);
        assert_eq!(d.reference(), Some("O-auth-1"));

        let s: SearchResponse = serde_json::from_value(json!({
            "id": "s1", "count": 1, "totalCount": 1,
            "_embedded": {"transactionSummaries": [{
                "id": "70001", "submitTimeUtc": "2026-01-20T10:00:00Z",
                "applicationInformation": {"applications": [{"name": "ics_auth", "rFlag": "SOK"}]},
                "clientReferenceInformation": {"code": "O-auth-1", "transactionId": "O-auth-1"},
                "orderInformation": {"amountDetails": {"totalAmount": "10.00", "currency": "USD"}}
            }]}
        }))
        .unwrap();
        let sum = TransactionSummary::try_from(&s.summaries()[0]).unwrap();
        assert_eq!(sum.id, "70001");
        assert_eq!(sum.reference.as_deref(), Some("O-auth-1"));
        assert_eq!(sum.transaction_id.as_deref(), Some("O-auth-1"));
        assert_eq!(sum.applications, ["ics_auth"]);
        assert_eq!(sum.amount, Some(Money::from_minor(1_000, Currency::USD)));
        assert!(TransactionSummary::try_from(&TransactionSummaryDto::default()).is_err());
        assert!(SearchResponse::default().summaries().is_empty());
    }

    #[test]
    fn tms_shapes() {
        let c = CustomerRequest {
            buyer_information: Some(BuyerInformation {
                merchant_customer_id: Some("cust-1".into()),
                email: Some("ada@example.com".into()),
            }),
            client_reference_information: Some(ClientReferenceInformation::code("O-1")),
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"buyerInformation": {"merchantCustomerID": "cust-1", "email": "ada@example.com"},
                   "clientReferenceInformation": {"code": "O-1"}})
        );
        let tok = TokenizeRequest {
            processing_information: TokenizeProcessingInformation {
                action_list: vec!["TOKEN_CREATE".into()],
                action_token_types: vec!["customer".into(), "paymentInstrument".into()],
            },
            token_information: TokenizeTokenInformation {
                transient_token_jwt: Some("eyJ.jwt".into()),
                customer: Some(c),
                ..Default::default()
            },
        };
        let v = serde_json::to_value(&tok).unwrap();
        assert_eq!(v["tokenInformation"]["transientTokenJwt"], "eyJ.jwt");
        assert_eq!(
            v["processingInformation"]["actionTokenTypes"],
            json!(["customer", "paymentInstrument"])
        );
        let dbg = format!("{tok:?}");
        assert!(!dbg.contains("eyJ") && !dbg.contains("ada@"), "{dbg}");

        let r: TokenizeResponse = serde_json::from_value(json!({"responses": [
            {"resource": "customer", "httpStatus": 201, "id": "C1"},
            {"resource": "paymentInstrument", "httpStatus": 201, "id": "PI1"},
            {"resource": "shippingAddress", "httpStatus": 400, "id": null,
             "errors": [{"type": "invalidRequest", "message": "bad"}]}
        ]}))
        .unwrap();
        assert_eq!(r.id_of("customer"), Some("C1"));
        assert_eq!(r.id_of("paymentInstrument"), Some("PI1"));
        assert_eq!(r.id_of("shippingAddress"), None);

        let pi: PaymentInstrumentDto = serde_json::from_value(json!({"id": "PI1", "default": true,
            "state": "ACTIVE", "card": {"expirationMonth": "12", "expirationYear": "2031", "type": "001"},
            "instrumentIdentifier": {"id": "II1"}}))
        .unwrap();
        assert_eq!(pi.card.unwrap().card_type.as_deref(), Some("001"));
    }

    #[test]
    fn chargeback_report() {
        let r: ChargebackDetailsResponse = serde_json::from_value(json!({
            "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-02T00:00:00Z",
            "chargebackDetails": [{"requestId": "70001", "merchantReferenceNumber": "O-auth-1",
                "amount": "10.50", "currencyCode": "USD", "sign": "-", "reasonCode": "10.4",
                "action": "Chargeback", "time": "2026-01-01T10:00:00Z"}]
        }))
        .unwrap();
        let c = &r.chargeback_details[0];
        assert_eq!(c.amount_money().unwrap().unwrap().minor(), 1_050);
        assert_eq!(c.reason_code.as_deref(), Some("10.4"));
        // A numeric amount is read as its decimal text.
        let n: ChargebackDetail =
            serde_json::from_value(json!({"amount": 10.5, "currencyCode": "USD"})).unwrap();
        assert_eq!(n.amount_money().unwrap().unwrap().minor(), 1_050);
    }

    #[test]
    fn pii_is_redacted_in_debug() {
        let b = BillTo {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: Some("ada@example.com".into()),
            country: "GB".into(),
            ..Default::default()
        };
        let dbg = format!(
            "{b:?} {:?}",
            TokenInformation {
                transient_token_jwt: Some("eyJsecret".into()),
                jti: None
            }
        );
        assert!(!dbg.contains("Ada") && !dbg.contains("Lovelace") && !dbg.contains("ada@"));
        assert!(!dbg.contains("eyJsecret"));
        assert!(dbg.contains("GB"));
    }
}
