//! The [`PaymentGateway`] port: what the pipeline asks of Cybersource, in domain terms. The HTTP
//! client ([`super::client::CybersourceClient`]) implements it; unit tests of the pipeline use a
//! fake.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use o2c_domain::pii::{Email, Pii};
use o2c_domain::{Address, Money, MoneyError, Order, PaymentInstrument};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::dto::{ChargebackDetail, RiskInformation};
use super::error::CybersourceError;
use super::outcome::{Operation, PaymentOutcome};

/// `docs/cybersource.md` §2.6: after an authorization timed out, wait this long before the timeout
/// reversal.
pub const TIMEOUT_REVERSAL_WAIT: Duration = Duration::from_secs(60);

/// When a call (all its retries included) must be finished: typically the Lambda's deadline
/// minus a safety margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deadline(pub Option<Instant>);

impl Deadline {
    /// No deadline (the client's per-request timeout and retry policy still apply).
    pub const NONE: Deadline = Deadline(None);

    pub fn at(instant: Instant) -> Self {
        Deadline(Some(instant))
    }

    pub fn within(duration: Duration) -> Self {
        Deadline(Some(Instant::now() + duration))
    }

    pub fn instant(self) -> Option<Instant> {
        self.0
    }
}

impl From<Instant> for Deadline {
    fn from(i: Instant) -> Self {
        Deadline::at(i)
    }
}

/// How the customer pays: a token, never a card number. `Debug` redacts the tokens.
#[derive(Clone, Debug)]
pub enum PaymentSource {
    /// Microform / Unified Checkout transient token (`tokenInformation.transientTokenJwt`).
    TransientToken(SecretString),
    /// 64-hex TMS transient token id (`tokenInformation.jti`).
    TransientTokenId(SecretString),
    /// Stored TMS tokens (`paymentInformation.customer.id` / `.paymentInstrument.id`).
    Tms {
        customer_id: String,
        payment_instrument_id: Option<String>,
    },
}

impl PartialEq for PaymentSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::TransientToken(a), Self::TransientToken(b))
            | (Self::TransientTokenId(a), Self::TransientTokenId(b)) => {
                a.expose_secret() == b.expose_secret()
            }
            (
                Self::Tms {
                    customer_id: a,
                    payment_instrument_id: b,
                },
                Self::Tms {
                    customer_id: c,
                    payment_instrument_id: d,
                },
            ) => a == c && b == d,
            _ => false,
        }
    }
}

impl From<&PaymentInstrument> for PaymentSource {
    fn from(p: &PaymentInstrument) -> Self {
        match p {
            PaymentInstrument::TransientToken { jwt } => {
                PaymentSource::TransientToken(SecretString::from(jwt.as_str()))
            }
            PaymentInstrument::Tms {
                customer_id,
                payment_instrument_id,
            } => PaymentSource::Tms {
                customer_id: customer_id.clone(),
                payment_instrument_id: Some(payment_instrument_id.clone()),
            },
        }
    }
}

/// An authorization (or sale) with Decision Manager screening. `Debug` masks PII ([`Pii`]).
#[derive(Clone, Debug, PartialEq)]
pub struct AuthorizationInput {
    /// `clientReferenceInformation.code`: our deterministic reference; what
    /// [`PaymentGateway::reconcile_by_reference`] searches for.
    pub reference: String,
    /// `clientReferenceInformation.transactionId`: unique per request (180 days); what a
    /// timeout reversal names.
    pub transaction_id: String,
    pub amount: Money,
    pub source: PaymentSource,
    pub bill_to: Option<Address>,
    pub email: Option<Pii<Email>>,
    pub ship_to: Option<Address>,
    pub lines: Vec<o2c_domain::LineItem>,
    /// `processingInformation.capture`: false (default) = authorization only; true = sale.
    pub capture: bool,
    /// Screen with Decision Manager (default). False sends `DECISION_SKIP`.
    pub decision_manager: bool,
    /// `TOKEN_CREATE` with `customer` + `paymentInstrument` (store the card in TMS).
    pub create_tokens: bool,
    /// `processingInformation.commerceIndicator` (default `internet`).
    pub commerce_indicator: Option<String>,
    /// Request parts the integration spec adds (`cybersource.authorization`): only the
    /// top-level objects in [`RequestExtras::ALLOWED`]; never amounts, tokens or actions.
    pub extras: RequestExtras,
}

/// Top-level request objects from the integration spec. `Debug` shows their names only (they
/// may hold customer data).
#[derive(Clone, Default, PartialEq)]
pub struct RequestExtras(pub serde_json::Map<String, serde_json::Value>);

impl RequestExtras {
    /// The objects a spec may add (the spec catalog's list, which `validate` checks too).
    pub const ALLOWED: &'static [&'static str] = o2c_spec::catalog::CYBERSOURCE_AUTHORIZATION_PARTS;
}

impl std::fmt::Debug for RequestExtras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl AuthorizationInput {
    /// Authorization only, Decision Manager on, no token creation.
    pub fn new(
        reference: impl Into<String>,
        transaction_id: impl Into<String>,
        amount: Money,
        source: PaymentSource,
    ) -> Self {
        Self {
            reference: reference.into(),
            transaction_id: transaction_id.into(),
            amount,
            source,
            bill_to: None,
            email: None,
            ship_to: None,
            lines: Vec::new(),
            capture: false,
            decision_manager: true,
            create_tokens: false,
            commerce_indicator: Some("internet".to_owned()),
            extras: RequestExtras::default(),
        }
    }

    /// The order's total, addresses, lines and instrument. A transient token also asks TMS to
    /// store the card (`TOKEN_CREATE`), so later payments use TMS ids.
    pub fn from_order(
        order: &Order,
        reference: impl Into<String>,
        transaction_id: impl Into<String>,
    ) -> Self {
        let source = PaymentSource::from(&order.instrument);
        let create_tokens = matches!(source, PaymentSource::TransientToken(_));
        Self {
            bill_to: Some(order.bill_to.clone()),
            email: Some(order.customer.email.clone()),
            ship_to: order.ship_to.clone(),
            lines: order.lines.clone(),
            create_tokens,
            ..Self::new(reference, transaction_id, order.total, source)
        }
    }

    /// Authorize and capture in one call.
    pub fn sale(mut self) -> Self {
        self.capture = true;
        self
    }

    /// The operation whose statuses apply to the answer.
    pub fn operation(&self) -> Operation {
        if self.capture {
            Operation::Sale
        } else {
            Operation::Authorization
        }
    }
}

/// TMS tokens an authorization created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedTokens {
    pub customer_id: Option<String>,
    pub payment_instrument_id: Option<String>,
    pub instrument_identifier_id: Option<String>,
    pub shipping_address_id: Option<String>,
}

/// What an authorization (or sale) answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationResult {
    /// Cybersource transaction id (follow-on paths use it).
    pub id: String,
    /// The raw `status`.
    pub status: String,
    pub outcome: PaymentOutcome,
    pub reference: Option<String>,
    pub reconciliation_id: Option<String>,
    pub authorized_amount: Option<Money>,
    pub error_reason: Option<String>,
    pub error_message: Option<String>,
    pub risk_decision: Option<String>,
    pub approval_code: Option<String>,
    pub tokens: IssuedTokens,
    pub submit_time_utc: Option<String>,
    /// Card brand code (`001` Visa, `002` Mastercard, ...), when returned.
    #[serde(default)]
    pub card_type: Option<String>,
    /// Last four digits, when returned. Never more of the PAN.
    #[serde(default)]
    pub card_last4: Option<String>,
    /// Decision Manager's `riskInformation` (score, rules, profile), for the CRM fraud case.
    #[serde(default)]
    pub risk: Option<RiskInformation>,
}

/// A capture of (part of) an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureInput {
    /// `clientReferenceInformation.code` of this capture (e.g. `{order}-cap-1`).
    pub reference: String,
    pub amount: Money,
}

/// A refund of (part of) a payment or capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundInput {
    pub reference: String,
    pub amount: Money,
}

/// A reversal of (part of) an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalInput {
    pub reference: String,
    pub amount: Money,
    pub reason: Option<String>,
}

/// A void of a payment, capture, refund or credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidInput {
    pub reference: String,
}

/// What a void is about: `/pts/v2/{payments|captures|refunds|credits}/{id}/voids`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidTarget {
    Payment,
    Capture,
    Refund,
    Credit,
}

impl VoidTarget {
    pub fn path_segment(self) -> &'static str {
        match self {
            VoidTarget::Payment => "payments",
            VoidTarget::Capture => "captures",
            VoidTarget::Refund => "refunds",
            VoidTarget::Credit => "credits",
        }
    }
}

/// `docs/cybersource.md` §2.6 timeout authorization reversal (`POST /pts/v2/reversals`): names the
/// lost authorization by the `transactionId` it was sent with. Wait [`TIMEOUT_REVERSAL_WAIT`] after
/// the timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutReversalInput {
    /// The `clientReferenceInformation.transactionId` of the lost authorization.
    pub transaction_id: String,
    /// Our reference for the original request (sent as `clientReferenceInformation.code`).
    pub reference: Option<String>,
    pub amount: Money,
    pub reason: String,
}

/// `docs/cybersource.md` §2.6 timeout void (`POST /pts/v2/voids`) of a payment, capture, refund or
/// credit sent with `transaction_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutVoidInput {
    pub transaction_id: String,
    pub reference: Option<String>,
    pub comments: Option<String>,
}

/// What a capture, refund, reversal or void answered (only ever a success: a decline comes
/// back as `CybersourceError::Terminal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowOnResult {
    pub operation: Operation,
    /// Cybersource id of the new capture / refund / reversal / void.
    pub id: String,
    pub status: String,
    pub reference: Option<String>,
    pub amount: Option<Money>,
    pub reconciliation_id: Option<String>,
    pub submit_time_utc: Option<String>,
}

/// A TMS customer to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerInput {
    /// `buyerInformation.merchantCustomerID`: our customer id.
    pub merchant_customer_id: String,
    pub email: Option<Pii<Email>>,
    /// `clientReferenceInformation.code`.
    pub reference: Option<String>,
}

/// Create a TMS customer and its default payment instrument from a transient token. `Debug`
/// redacts the token and masks PII.
#[derive(Clone, Debug)]
pub struct TokenizeInput {
    pub customer: CustomerInput,
    /// Microform / Unified Checkout transient token.
    pub transient_token: SecretString,
    pub bill_to: Option<Address>,
}

/// Ids of the TMS tokens created from a transient token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmsTokens {
    pub customer_id: String,
    pub payment_instrument_id: String,
    pub instrument_identifier_id: Option<String>,
}

/// A TMS customer as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmsCustomer {
    pub id: String,
    pub merchant_customer_id: Option<String>,
    pub default_payment_instrument_id: Option<String>,
}

/// A TMS payment instrument as read back (no card number: expiry and type only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmsPaymentInstrument {
    pub id: String,
    pub default: bool,
    pub state: Option<String>,
    pub card_type: Option<String>,
    pub expiration_month: Option<String>,
    pub expiration_year: Option<String>,
    pub instrument_identifier_id: Option<String>,
}

/// One row of the chargeback details report, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargebackReportEntry {
    /// The Cybersource transaction id the chargeback is about (`requestId`).
    pub transaction_id: Option<String>,
    /// Our reference (`merchantReferenceNumber`).
    pub reference: Option<String>,
    pub amount: Option<Money>,
    pub reason_code: Option<String>,
    pub action: Option<String>,
    pub time: Option<String>,
    pub response_due_time: Option<String>,
    /// The row as received.
    pub raw: ChargebackDetail,
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

/// A transaction as `GET /tss/v2/transactions/{id}` reports it, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDetails {
    /// Cybersource transaction id.
    pub id: Option<String>,
    pub status: Option<String>,
    pub reconciliation_id: Option<String>,
    pub submit_time_utc: Option<String>,
    /// `clientReferenceInformation.code`.
    pub reference: Option<String>,
    /// Decision Manager's decision, when the transaction carries one.
    pub risk_decision: Option<String>,
    /// A declined authorization's reason in `errorInformation.reason` terms, read from the
    /// TSS reason code (`applicationInformation.reasonCode`, else `ics_auth`'s); see
    /// [`super::outcome::reason_of_code`].
    pub decline_reason: Option<&'static str>,
    /// Services that ran (`ics_auth`, `ics_bill`, ...).
    pub applications: Vec<String>,
    /// `orderInformation.amountDetails`: authorized amount, else total; `Err` when the answer
    /// holds one that cannot be read exactly.
    pub amount: Option<Result<Money, MoneyError>>,
    /// TMS tokens the transaction created, when it reports them.
    pub tokens: IssuedTokens,
    /// Decision Manager's `riskInformation`, as in [`AuthorizationResult::risk`].
    pub risk: Option<RiskInformation>,
}

impl TransactionDetails {
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }

    pub fn risk_decision(&self) -> Option<&str> {
        self.risk_decision.as_deref()
    }

    pub fn decline_reason(&self) -> Option<&'static str> {
        self.decline_reason
    }

    /// The amount, as read.
    pub fn amount(&self) -> Option<Result<Money, MoneyError>> {
        self.amount.clone()
    }

    /// Names of the services that ran.
    pub fn application_names(&self) -> Vec<String> {
        self.applications.clone()
    }
}

/// Cybersource, as the pipeline uses it. Every method takes a [`Deadline`] that bounds all of
/// its retries.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// `POST /pts/v2/payments`. Any 201 is `Ok`, with its [`PaymentOutcome`] (approved,
    /// review, rejected by fraud, declined, ...).
    async fn authorize(
        &self,
        input: &AuthorizationInput,
        deadline: Deadline,
    ) -> Result<AuthorizationResult, CybersourceError>;

    /// `POST /pts/v2/payments/{payment_id}/captures`.
    async fn capture(
        &self,
        payment_id: &str,
        input: &CaptureInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError>;

    /// `POST /pts/v2/payments/{payment_id}/refunds`.
    async fn refund_payment(
        &self,
        payment_id: &str,
        input: &RefundInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError>;

    /// `POST /pts/v2/captures/{capture_id}/refunds`.
    async fn refund_capture(
        &self,
        capture_id: &str,
        input: &RefundInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError>;

    /// `POST /pts/v2/payments/{payment_id}/reversals`.
    async fn reverse_authorization(
        &self,
        payment_id: &str,
        input: &ReversalInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError>;

    /// `POST /pts/v2/{target}/{id}/voids`.
    async fn void(
        &self,
        target: VoidTarget,
        id: &str,
        input: &VoidInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError>;

    /// `POST /pts/v2/reversals` (`docs/cybersource.md` §2.6 timeout reversal, by `transactionId`).
    async fn timeout_reversal(
        &self,
        input: &TimeoutReversalInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError>;

    /// `POST /pts/v2/voids` (`docs/cybersource.md` §2.6 timeout void, by `transactionId`).
    async fn timeout_void(
        &self,
        input: &TimeoutVoidInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError>;

    /// `GET /tss/v2/transactions/{id}`.
    async fn transaction_details(
        &self,
        id: &str,
        deadline: Deadline,
    ) -> Result<TransactionDetails, CybersourceError>;

    /// `POST /tss/v2/searches` for `clientReferenceInformation.code:{reference}`, newest
    /// first; only exact matches of the reference are returned.
    async fn search_by_reference(
        &self,
        reference: &str,
        deadline: Deadline,
    ) -> Result<Vec<TransactionSummary>, CybersourceError>;

    /// `docs/cybersource.md` §2.6: after an `OutcomeUnknown`, did the request sent under
    /// `reference` create a transaction? `Some` (the newest match) means it did: record it instead
    /// of sending again. `None` means Cybersource knows nothing of it (yet: TSS can lag, so a
    /// caller that must be sure follows up with a timeout reversal/void by `transactionId`).
    async fn reconcile_by_reference(
        &self,
        reference: &str,
        deadline: Deadline,
    ) -> Result<Option<TransactionSummary>, CybersourceError> {
        Ok(self
            .search_by_reference(reference, deadline)
            .await?
            .into_iter()
            .next())
    }

    /// `POST /tms/v2/tokenize`: a TMS customer + default payment instrument (+ instrument
    /// identifier) from a transient token.
    async fn create_customer_from_token(
        &self,
        input: &TokenizeInput,
        deadline: Deadline,
    ) -> Result<TmsTokens, CybersourceError>;

    /// `POST /tms/v2/customers` (no payment instrument).
    async fn create_customer(
        &self,
        input: &CustomerInput,
        deadline: Deadline,
    ) -> Result<TmsCustomer, CybersourceError>;

    /// `GET /tms/v2/customers/{customer_id}`.
    async fn get_customer(
        &self,
        customer_id: &str,
        deadline: Deadline,
    ) -> Result<TmsCustomer, CybersourceError>;

    /// `GET /tms/v2/customers/{customer_id}/payment-instruments/{payment_instrument_id}`.
    async fn get_payment_instrument(
        &self,
        customer_id: &str,
        payment_instrument_id: &str,
        deadline: Deadline,
    ) -> Result<TmsPaymentInstrument, CybersourceError>;

    /// `GET /reporting/v3/chargeback-details?startTime=&endTime=`.
    async fn chargeback_details(
        &self,
        start: OffsetDateTime,
        end: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Vec<ChargebackReportEntry>, CybersourceError>;
}
