//! Conversions between the gateway's inputs and results ([`super::gateway`], domain terms) and
//! the wire DTOs ([`super::dto`]): inputs → requests (checked, nothing is sent on failure),
//! responses → results (classified through [`super::outcome`]).

use o2c_domain::{Money, MoneyError};
use secrecy::ExposeSecret;

use super::dto::*;
use super::gateway::{
    AuthorizationInput, AuthorizationResult, CaptureInput, ChargebackReportEntry, CustomerInput,
    FollowOnResult, IssuedTokens, PaymentSource, RefundInput, RequestExtras, ReversalInput,
    TimeoutReversalInput, TimeoutVoidInput, TmsCustomer, TmsPaymentInstrument, TmsTokens,
    TokenizeInput, TransactionDetails, TransactionSummary, VoidInput,
};
use super::outcome::{classify, reason_of_code, Operation, PaymentOutcome};

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
                    transient_token_jwt: Some(jwt.expose_secret().into()),
                    jti: None,
                }),
            ),
            PaymentSource::TransientTokenId(jti) => (
                None,
                Some(TokenInformation {
                    transient_token_jwt: None,
                    jti: Some(jti.expose_secret().into()),
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
            extras: checked_extras(&input.extras)?,
        })
    }
}

/// The spec's additions: only the allowed objects, `merchantDefinedInformation` as Cybersource
/// reads it (`[{key: "0".."100", value: text}]`), and never a card number.
fn checked_extras(
    extras: &RequestExtras,
) -> Result<serde_json::Map<String, serde_json::Value>, InputError> {
    for (k, v) in &extras.0 {
        if !RequestExtras::ALLOWED.contains(&k.as_str()) {
            return Err(InputError(format!(
                "the spec may not set {k} (only {})",
                RequestExtras::ALLOWED.join(", ")
            )));
        }
        if !v.is_object() && k != "merchantDefinedInformation" {
            return Err(InputError(format!("{k} must be an object")));
        }
    }
    if let Some(mdd) = extras.0.get("merchantDefinedInformation") {
        let items = mdd.as_array().ok_or_else(|| {
            InputError("merchantDefinedInformation must be a list of {key, value}".into())
        })?;
        for (i, item) in items.iter().enumerate() {
            let key = item.get("key").and_then(|k| k.as_str());
            let ok_key = key
                .and_then(|k| k.parse::<u8>().ok())
                .is_some_and(|n| n <= 100);
            let ok_value = item.get("value").is_some_and(|v| v.is_string());
            let only = item.as_object().is_some_and(|o| o.len() == 2);
            if !(ok_key && ok_value && only) {
                return Err(InputError(format!(
                    "merchantDefinedInformation[{i}] must be {{key: \"0\"..\"100\", value: text}}"
                )));
            }
        }
    }
    let text = serde_json::to_string(&extras.0).unwrap_or_default();
    if o2c_domain::card::payload_holds_card_number(text.as_bytes()) {
        return Err(InputError(
            "the spec's request additions hold a card-number-like value; never sent".into(),
        ));
    }
    Ok(extras.0.clone())
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

    /// `docs/cybersource.md` §2.6 timeout reversal: names the lost authorization by its
    /// `transactionId`.
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

    /// `docs/cybersource.md` §2.6 timeout void: names the lost request by its `transactionId`.
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
                transient_token_jwt: Some(input.transient_token.expose_secret().into()),
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
            .map(IssuedTokens::from)
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

impl From<&ResponseTokenInformation> for IssuedTokens {
    fn from(t: &ResponseTokenInformation) -> Self {
        IssuedTokens {
            customer_id: t.customer.as_ref().map(|x| x.id.clone()),
            payment_instrument_id: t.payment_instrument.as_ref().map(|x| x.id.clone()),
            instrument_identifier_id: t.instrument_identifier.as_ref().map(|x| x.id.clone()),
            shipping_address_id: t.shipping_address.as_ref().map(|x| x.id.clone()),
        }
    }
}

impl From<&TransactionDetailsDto> for TransactionDetails {
    fn from(d: &TransactionDetailsDto) -> Self {
        let info = d.application_information.as_ref();
        let auth_code = info.and_then(|i| {
            i.applications
                .iter()
                .find(|a| a.name.as_deref() == Some("ics_auth"))
                .and_then(|a| a.reason_code.as_deref())
        });
        let decline_reason = info
            .and_then(|i| i.reason_code.as_deref())
            .and_then(reason_of_code)
            .or_else(|| auth_code.and_then(reason_of_code));
        Self {
            id: d.id.clone(),
            status: d.status.clone(),
            reconciliation_id: d.reconciliation_id.clone(),
            submit_time_utc: d.submit_time_utc.clone(),
            reference: d.reference().map(str::to_owned),
            risk_decision: d.risk_decision().map(str::to_owned),
            decline_reason,
            applications: d.application_names(),
            amount: d.amount(),
            tokens: d
                .token_information
                .as_ref()
                .map(IssuedTokens::from)
                .unwrap_or_default(),
            risk: d.risk_information.clone(),
        }
    }
}
