//! Payments (PTS `/pts/v2/...`): authorization, capture, refund, reversal and void requests,
//! the payments response, and the error bodies every API answers with.

use o2c_domain::{Money, MoneyError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::*;

/// `POST /pts/v2/payments` (`docs/cybersource.md` §2.2).
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
    /// The integration spec's additions (`merchantDefinedInformation`, ...), after the rest.
    #[serde(flatten)]
    pub extras: serde_json::Map<String, Value>,
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

/// `processorInformation` (selection, `docs/cybersource.md` §2.3).
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
/// the union of their fields (`docs/cybersource.md` §2.3, §2.4).
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

/// One `errorInformation.details[]` / `details[]` entry of an error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDetail {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}
