//! An in-memory [`PaymentGateway`] for unit tests of the pipeline (feature `fakes`).
//!
//! It keeps a ledger with Cybersource's money rules (captures ≤ authorized − reversed, refunds
//! ≤ captured, no reversal after a capture), answers search/details from it, and lets a test
//! script failures per operation name (`"authorize"`, `"capture"`, `"refund_payment"`,
//! `"refund_capture"`, `"reverse_authorization"`, `"void"`, `"timeout_reversal"`,
//! `"timeout_void"`, `"transaction_details"`, `"search_by_reference"`, `"tokenize"`,
//! `"create_customer"`, `"get_customer"`, `"get_payment_instrument"`, `"chargeback_details"`):
//! * [`FakeGateway::fail_next`]: the next call fails with that error and changes nothing;
//! * [`FakeGateway::lose_next_response`]: the next call takes effect, then answers
//!   `OutcomeUnknown` (a lost response);
//! * [`FakeGateway::next_authorization`]: the status/reason/risk decision of the next
//!   authorization (default `AUTHORIZED`, `ACCEPT`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use o2c_domain::Money;
use time::OffsetDateTime;

use super::dto::{
    ClientReferenceInformation, ResponseAmountDetails, ResponseOrderInformation, RiskInformation,
    RiskProfile, TransactionDetailsDto,
};
use super::error::{CybersourceError, TerminalError};
use super::gateway::{
    AuthorizationInput, AuthorizationResult, CaptureInput, ChargebackReportEntry, CustomerInput,
    Deadline, FollowOnResult, IssuedTokens, PaymentGateway, RefundInput, ReversalInput,
    TimeoutReversalInput, TimeoutVoidInput, TmsCustomer, TmsPaymentInstrument, TmsTokens,
    TokenizeInput, TransactionDetails, TransactionSummary, VoidInput, VoidTarget,
};
use super::outcome::{classify, Operation};

/// One transaction in the fake's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeTransaction {
    pub id: String,
    /// `authorization`, `sale`, `capture`, `refund`, `reversal`, `void`.
    pub kind: &'static str,
    pub parent_id: Option<String>,
    pub reference: Option<String>,
    pub transaction_id: Option<String>,
    pub amount: Money,
    pub status: String,
    pub risk_decision: Option<String>,
    pub voided: bool,
}

#[derive(Debug, Clone)]
struct NextAuth {
    status: String,
    reason: Option<String>,
    risk_decision: Option<String>,
}

#[derive(Default)]
struct State {
    seq: u64,
    txns: Vec<FakeTransaction>,
    fail: HashMap<String, VecDeque<CybersourceError>>,
    lose: HashSet<String>,
    next_auth: VecDeque<NextAuth>,
    customers: HashMap<String, TmsCustomer>,
    instruments: HashMap<String, (String, TmsPaymentInstrument)>,
    chargebacks: Vec<ChargebackReportEntry>,
    calls: Vec<String>,
}

/// See the module docs.
#[derive(Default)]
pub struct FakeGateway {
    state: Mutex<State>,
}

fn invalid(op: &'static str, reason: &str) -> CybersourceError {
    CybersourceError::terminal(
        op,
        TerminalError::InvalidRequest {
            http_status: 400,
            reason: reason.to_owned(),
            message: format!("fake: {reason}"),
            details: vec![],
        },
    )
}

fn lost(op: &'static str) -> CybersourceError {
    CybersourceError::OutcomeUnknown {
        operation: op,
        reason: "fake: response lost after the effect".to_owned(),
        http_status: None,
    }
}

impl State {
    fn new_id(&mut self) -> String {
        self.seq += 1;
        format!("7{:021}", self.seq)
    }

    fn begin(&mut self, op: &'static str) -> Result<bool, CybersourceError> {
        self.calls.push(op.to_owned());
        if let Some(e) = self.fail.get_mut(op).and_then(VecDeque::pop_front) {
            return Err(e);
        }
        Ok(self.lose.remove(op))
    }

    fn get(&self, id: &str) -> Option<&FakeTransaction> {
        self.txns.iter().find(|t| t.id == id)
    }

    fn children(&self, id: &str, kind: &str) -> Money {
        let parent = self.get(id).map(|t| t.amount.currency());
        let currency = parent.unwrap_or(o2c_domain::Currency::USD);
        Money::sum(
            currency,
            self.txns
                .iter()
                .filter(|t| t.parent_id.as_deref() == Some(id) && t.kind == kind && !t.voided)
                .map(|t| &t.amount),
        )
        .unwrap_or(Money::zero(currency))
    }

    /// Captured under a payment (its captures, or the sale itself).
    fn captured(&self, payment: &FakeTransaction) -> Money {
        if payment.kind == "sale" {
            return if payment.voided {
                Money::zero(payment.amount.currency())
            } else {
                payment.amount
            };
        }
        self.children(&payment.id, "capture")
    }

    fn refunded(&self, payment_id: &str) -> Money {
        let mut total = self.children(payment_id, "refund");
        let capture_ids: Vec<String> = self
            .txns
            .iter()
            .filter(|t| t.parent_id.as_deref() == Some(payment_id) && t.kind == "capture")
            .map(|t| t.id.clone())
            .collect();
        for c in capture_ids {
            total = total
                .checked_add(&self.children(&c, "refund"))
                .unwrap_or(total);
        }
        total
    }

    fn root_of(&self, id: &str) -> Option<FakeTransaction> {
        let mut t = self.get(id)?.clone();
        while let Some(p) = t.parent_id.clone().and_then(|p| self.get(&p).cloned()) {
            t = p;
        }
        Some(t)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        kind: &'static str,
        parent: Option<&str>,
        reference: Option<&str>,
        transaction_id: Option<&str>,
        amount: Money,
        status: &str,
        risk_decision: Option<String>,
    ) -> FakeTransaction {
        let t = FakeTransaction {
            id: self.new_id(),
            kind,
            parent_id: parent.map(str::to_owned),
            reference: reference.map(str::to_owned),
            transaction_id: transaction_id.map(str::to_owned),
            amount,
            status: status.to_owned(),
            risk_decision,
            voided: false,
        };
        self.txns.push(t.clone());
        t
    }
}

fn follow_on(op: Operation, t: &FakeTransaction) -> FollowOnResult {
    FollowOnResult {
        operation: op,
        id: t.id.clone(),
        status: t.status.clone(),
        reference: t.reference.clone(),
        amount: Some(t.amount),
        reconciliation_id: None,
        submit_time_utc: None,
    }
}

impl FakeGateway {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next call of `operation` fails with `error` and changes nothing.
    pub fn fail_next(&self, operation: &str, error: CybersourceError) {
        self.lock()
            .fail
            .entry(operation.to_owned())
            .or_default()
            .push_back(error);
    }

    /// The next call of `operation` takes effect, then answers `OutcomeUnknown`.
    pub fn lose_next_response(&self, operation: &str) {
        self.lock().lose.insert(operation.to_owned());
    }

    /// Status, `errorInformation.reason` and risk decision of the next authorization.
    pub fn next_authorization(&self, status: &str, reason: Option<&str>, risk: Option<&str>) {
        self.lock().next_auth.push_back(NextAuth {
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
            risk_decision: risk.map(str::to_owned),
        });
    }

    /// Adds a row to the chargeback report.
    pub fn add_chargeback(&self, entry: ChargebackReportEntry) {
        self.lock().chargebacks.push(entry);
    }

    /// The ledger, oldest first.
    pub fn transactions(&self) -> Vec<FakeTransaction> {
        self.lock().txns.clone()
    }

    /// Operation names called, in order (failed calls included).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    fn reverse(
        st: &mut State,
        op: &'static str,
        payment_id: &str,
        reference: Option<&str>,
        transaction_id: Option<&str>,
        amount: Money,
    ) -> Result<FakeTransaction, CybersourceError> {
        let p = st
            .get(payment_id)
            .cloned()
            .filter(|t| t.kind == "authorization" || t.kind == "sale")
            .ok_or_else(|| invalid(op, "INVALID_PAYMENT_ID"))?;
        if !st.captured(&p).is_zero() {
            return Err(invalid(op, "TRANSACTION_ALREADY_REVERSED_OR_SETTLED"));
        }
        let held = p
            .amount
            .checked_sub(&st.children(&p.id, "reversal"))
            .map_err(|e| invalid(op, &e.to_string()))?;
        if held.is_zero() {
            return Err(invalid(op, "AUTH_ALREADY_REVERSED"));
        }
        if amount
            .checked_cmp(&held)
            .map_err(|_| invalid(op, "INVALID_DATA"))?
            == std::cmp::Ordering::Greater
        {
            return Err(invalid(op, "INVALID_AMOUNT"));
        }
        Ok(st.record(
            "reversal",
            Some(&p.id),
            reference,
            transaction_id,
            amount,
            "REVERSED",
            None,
        ))
    }

    fn void_txn(
        st: &mut State,
        op: &'static str,
        id: &str,
        reference: Option<&str>,
        transaction_id: Option<&str>,
    ) -> Result<FakeTransaction, CybersourceError> {
        let t = st
            .get(id)
            .cloned()
            .ok_or_else(|| invalid(op, "INVALID_PAYMENT_ID"))?;
        if t.voided || !matches!(t.kind, "sale" | "capture" | "refund") {
            return Err(invalid(op, "NOT_VOIDABLE"));
        }
        if let Some(x) = st.txns.iter_mut().find(|x| x.id == id) {
            x.voided = true;
            x.status = "VOIDED".to_owned();
        }
        Ok(st.record(
            "void",
            Some(id),
            reference,
            transaction_id,
            t.amount,
            "VOIDED",
            None,
        ))
    }
}

#[async_trait]
impl PaymentGateway for FakeGateway {
    async fn authorize(
        &self,
        input: &AuthorizationInput,
        _deadline: Deadline,
    ) -> Result<AuthorizationResult, CybersourceError> {
        const OP: &str = "authorize";
        let mut st = self.lock();
        let lose = st.begin(OP)?;
        let next = st.next_auth.pop_front().unwrap_or(NextAuth {
            status: "AUTHORIZED".to_owned(),
            reason: None,
            risk_decision: input.decision_manager.then(|| "ACCEPT".to_owned()),
        });
        let kind = if input.capture {
            "sale"
        } else {
            "authorization"
        };
        let t = st.record(
            kind,
            None,
            Some(&input.reference),
            Some(&input.transaction_id),
            input.amount,
            &next.status,
            next.risk_decision.clone(),
        );
        if lose {
            return Err(lost(OP));
        }
        let outcome = classify(
            input.operation(),
            &next.status,
            next.risk_decision.as_deref(),
            next.reason.as_deref(),
        );
        let tokens = if input.create_tokens {
            IssuedTokens {
                customer_id: Some(format!("C{}", t.id)),
                payment_instrument_id: Some(format!("PI{}", t.id)),
                ..IssuedTokens::default()
            }
        } else {
            IssuedTokens::default()
        };
        Ok(AuthorizationResult {
            id: t.id,
            status: next.status,
            outcome,
            reference: Some(input.reference.clone()),
            reconciliation_id: None,
            authorized_amount: Some(input.amount),
            error_reason: next.reason,
            error_message: None,
            risk_decision: next.risk_decision,
            approval_code: None,
            tokens,
            submit_time_utc: None,
            card_type: Some("001".into()),
            card_last4: Some("1111".into()),
            risk: None,
        })
    }

    async fn capture(
        &self,
        payment_id: &str,
        input: &CaptureInput,
        _deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "capture";
        let mut st = self.lock();
        let lose = st.begin(OP)?;
        let p = st
            .get(payment_id)
            .cloned()
            .filter(|t| t.kind == "authorization")
            .ok_or_else(|| invalid(OP, "INVALID_PAYMENT_ID"))?;
        if !matches!(p.status.as_str(), "AUTHORIZED" | "PARTIAL_AUTHORIZED") {
            return Err(invalid(OP, "NOT_SUPPORTED"));
        }
        let used = st
            .captured(&p)
            .checked_add(&st.children(&p.id, "reversal"))
            .and_then(|u| u.checked_add(&input.amount))
            .map_err(|_| invalid(OP, "INVALID_DATA"))?;
        if used
            .checked_cmp(&p.amount)
            .map_err(|_| invalid(OP, "INVALID_DATA"))?
            == std::cmp::Ordering::Greater
        {
            return Err(invalid(OP, "EXCEEDS_AUTH_AMOUNT"));
        }
        let t = st.record(
            "capture",
            Some(&p.id),
            Some(&input.reference),
            None,
            input.amount,
            "PENDING",
            None,
        );
        if lose {
            return Err(lost(OP));
        }
        Ok(follow_on(Operation::Capture, &t))
    }

    async fn refund_payment(
        &self,
        payment_id: &str,
        input: &RefundInput,
        _deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        self.refund("refund_payment", payment_id, input).await
    }

    async fn refund_capture(
        &self,
        capture_id: &str,
        input: &RefundInput,
        _deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        self.refund("refund_capture", capture_id, input).await
    }

    async fn reverse_authorization(
        &self,
        payment_id: &str,
        input: &ReversalInput,
        _deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "reverse_authorization";
        let mut st = self.lock();
        let lose = st.begin(OP)?;
        let t = Self::reverse(
            &mut st,
            OP,
            payment_id,
            Some(&input.reference),
            None,
            input.amount,
        )?;
        if lose {
            return Err(lost(OP));
        }
        Ok(follow_on(Operation::Reversal, &t))
    }

    async fn void(
        &self,
        _target: VoidTarget,
        id: &str,
        input: &VoidInput,
        _deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "void";
        let mut st = self.lock();
        let lose = st.begin(OP)?;
        let t = Self::void_txn(&mut st, OP, id, Some(&input.reference), None)?;
        if lose {
            return Err(lost(OP));
        }
        Ok(follow_on(Operation::Void, &t))
    }

    async fn timeout_reversal(
        &self,
        input: &TimeoutReversalInput,
        _deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "timeout_reversal";
        let mut st = self.lock();
        let lose = st.begin(OP)?;
        let pid = st
            .txns
            .iter()
            .rev()
            .find(|t| {
                t.kind == "authorization"
                    && t.transaction_id.as_deref() == Some(&input.transaction_id)
            })
            .map(|t| t.id.clone())
            .ok_or_else(|| invalid(OP, "INVALID_DATA"))?;
        let t = Self::reverse(
            &mut st,
            OP,
            &pid,
            input.reference.as_deref(),
            Some(&input.transaction_id),
            input.amount,
        )?;
        if lose {
            return Err(lost(OP));
        }
        Ok(follow_on(Operation::Reversal, &t))
    }

    async fn timeout_void(
        &self,
        input: &TimeoutVoidInput,
        _deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "timeout_void";
        let mut st = self.lock();
        let lose = st.begin(OP)?;
        let id = st
            .txns
            .iter()
            .rev()
            .find(|t| {
                !t.voided
                    && matches!(t.kind, "sale" | "capture" | "refund")
                    && t.transaction_id.as_deref() == Some(&input.transaction_id)
            })
            .map(|t| t.id.clone())
            .ok_or_else(|| invalid(OP, "INVALID_DATA"))?;
        let t = Self::void_txn(
            &mut st,
            OP,
            &id,
            input.reference.as_deref(),
            Some(&input.transaction_id),
        )?;
        if lose {
            return Err(lost(OP));
        }
        Ok(follow_on(Operation::Void, &t))
    }

    async fn transaction_details(
        &self,
        id: &str,
        _deadline: Deadline,
    ) -> Result<TransactionDetails, CybersourceError> {
        const OP: &str = "transaction_details";
        let mut st = self.lock();
        st.begin(OP)?;
        let t = st.get(id).cloned().ok_or_else(|| {
            CybersourceError::terminal(
                OP,
                TerminalError::NotFound {
                    message: format!("fake: transaction {id} not found"),
                },
            )
        })?;
        let root = st.root_of(id).unwrap_or_else(|| t.clone());
        let fully_reversed =
            matches!(t.kind, "authorization") && st.children(&t.id, "reversal") == t.amount;
        // Built as the wire answer and converted like the client's, so both read it alike.
        let dto = TransactionDetailsDto {
            id: Some(t.id.clone()),
            root_id: Some(root.id),
            status: Some(if fully_reversed {
                "REVERSED".to_owned()
            } else {
                t.status.clone()
            }),
            client_reference_information: Some(ClientReferenceInformation {
                code: t.reference.clone(),
                transaction_id: t.transaction_id.clone(),
                comments: None,
            }),
            order_information: Some(ResponseOrderInformation {
                amount_details: Some(ResponseAmountDetails {
                    total_amount: Some(t.amount.to_decimal_string()),
                    authorized_amount: None,
                    currency: Some(t.amount.currency().code().to_owned()),
                }),
            }),
            risk_information: t.risk_decision.clone().map(|d| RiskInformation {
                profile: Some(RiskProfile {
                    decision: Some(d),
                    ..RiskProfile::default()
                }),
                ..RiskInformation::default()
            }),
            ..TransactionDetailsDto::default()
        };
        Ok(TransactionDetails::from(&dto))
    }

    async fn search_by_reference(
        &self,
        reference: &str,
        _deadline: Deadline,
    ) -> Result<Vec<TransactionSummary>, CybersourceError> {
        const OP: &str = "search_by_reference";
        let mut st = self.lock();
        st.begin(OP)?;
        Ok(st
            .txns
            .iter()
            .rev()
            .filter(|t| t.reference.as_deref() == Some(reference))
            .map(|t| TransactionSummary {
                id: t.id.clone(),
                reference: t.reference.clone(),
                transaction_id: t.transaction_id.clone(),
                submit_time_utc: None,
                status: Some(t.status.clone()),
                applications: vec![match t.kind {
                    "authorization" => "ics_auth",
                    "sale" | "capture" => "ics_bill",
                    "refund" => "ics_credit",
                    "reversal" => "ics_auth_reversal",
                    _ => "ics_void",
                }
                .to_owned()],
                amount: Some(t.amount),
                risk_decision: t.risk_decision.clone(),
            })
            .collect())
    }

    async fn create_customer_from_token(
        &self,
        input: &TokenizeInput,
        _deadline: Deadline,
    ) -> Result<TmsTokens, CybersourceError> {
        let mut st = self.lock();
        let lose = st.begin("tokenize")?;
        let n = st.new_id();
        let tokens = TmsTokens {
            customer_id: format!("C{n}"),
            payment_instrument_id: format!("PI{n}"),
            instrument_identifier_id: Some(format!("II{n}")),
        };
        st.customers.insert(
            tokens.customer_id.clone(),
            TmsCustomer {
                id: tokens.customer_id.clone(),
                merchant_customer_id: Some(input.customer.merchant_customer_id.clone()),
                default_payment_instrument_id: Some(tokens.payment_instrument_id.clone()),
            },
        );
        st.instruments.insert(
            tokens.payment_instrument_id.clone(),
            (
                tokens.customer_id.clone(),
                TmsPaymentInstrument {
                    id: tokens.payment_instrument_id.clone(),
                    default: true,
                    state: Some("ACTIVE".to_owned()),
                    card_type: Some("001".to_owned()),
                    expiration_month: None,
                    expiration_year: None,
                    instrument_identifier_id: tokens.instrument_identifier_id.clone(),
                },
            ),
        );
        if lose {
            return Err(lost("tokenize"));
        }
        Ok(tokens)
    }

    async fn create_customer(
        &self,
        input: &CustomerInput,
        _deadline: Deadline,
    ) -> Result<TmsCustomer, CybersourceError> {
        const OP: &str = "create_customer";
        let mut st = self.lock();
        let lose = st.begin(OP)?;
        let c = TmsCustomer {
            id: format!("C{}", st.new_id()),
            merchant_customer_id: Some(input.merchant_customer_id.clone()),
            default_payment_instrument_id: None,
        };
        st.customers.insert(c.id.clone(), c.clone());
        if lose {
            return Err(lost(OP));
        }
        Ok(c)
    }

    async fn get_customer(
        &self,
        customer_id: &str,
        _deadline: Deadline,
    ) -> Result<TmsCustomer, CybersourceError> {
        const OP: &str = "get_customer";
        let mut st = self.lock();
        st.begin(OP)?;
        st.customers.get(customer_id).cloned().ok_or_else(|| {
            CybersourceError::terminal(
                OP,
                TerminalError::NotFound {
                    message: "fake: token not found".to_owned(),
                },
            )
        })
    }

    async fn get_payment_instrument(
        &self,
        customer_id: &str,
        payment_instrument_id: &str,
        _deadline: Deadline,
    ) -> Result<TmsPaymentInstrument, CybersourceError> {
        const OP: &str = "get_payment_instrument";
        let mut st = self.lock();
        st.begin(OP)?;
        st.instruments
            .get(payment_instrument_id)
            .filter(|(c, _)| c == customer_id)
            .map(|(_, pi)| pi.clone())
            .ok_or_else(|| {
                CybersourceError::terminal(
                    OP,
                    TerminalError::NotFound {
                        message: "fake: token not found".to_owned(),
                    },
                )
            })
    }

    async fn chargeback_details(
        &self,
        _start: OffsetDateTime,
        _end: OffsetDateTime,
        _deadline: Deadline,
    ) -> Result<Vec<ChargebackReportEntry>, CybersourceError> {
        let mut st = self.lock();
        st.begin("chargeback_details")?;
        Ok(st.chargebacks.clone())
    }
}

impl FakeGateway {
    async fn refund(
        &self,
        op: &'static str,
        id: &str,
        input: &RefundInput,
    ) -> Result<FollowOnResult, CybersourceError> {
        let mut st = self.lock();
        let lose = st.begin(op)?;
        let target = st
            .get(id)
            .cloned()
            .ok_or_else(|| invalid(op, "INVALID_PAYMENT_ID"))?;
        let payment = st
            .root_of(id)
            .ok_or_else(|| invalid(op, "INVALID_PAYMENT_ID"))?;
        let captured = st.captured(&payment);
        if captured.is_zero() {
            return Err(invalid(op, "INVALID_DATA"));
        }
        let mut remaining = captured
            .checked_sub(&st.refunded(&payment.id))
            .map_err(|_| invalid(op, "INVALID_DATA"))?;
        if target.kind == "capture" {
            let on_capture = target
                .amount
                .checked_sub(&st.children(&target.id, "refund"))
                .map_err(|_| invalid(op, "INVALID_DATA"))?;
            if on_capture.minor() < remaining.minor() {
                remaining = on_capture;
            }
        }
        if input
            .amount
            .checked_cmp(&remaining)
            .map_err(|_| invalid(op, "INVALID_DATA"))?
            == std::cmp::Ordering::Greater
        {
            return Err(invalid(op, "INVALID_AMOUNT"));
        }
        let parent = if target.kind == "capture" {
            target.id
        } else {
            payment.id
        };
        let t = st.record(
            "refund",
            Some(&parent),
            Some(&input.reference),
            None,
            input.amount,
            "PENDING",
            None,
        );
        if lose {
            return Err(lost(op));
        }
        Ok(follow_on(Operation::Refund, &t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cybersource::{PaymentOutcome, PaymentSource};
    use o2c_domain::Currency;

    fn usd(m: i64) -> Money {
        Money::from_minor(m, Currency::USD)
    }

    fn auth(reference: &str, amount: i64) -> AuthorizationInput {
        AuthorizationInput::new(
            reference,
            reference,
            usd(amount),
            PaymentSource::Tms {
                customer_id: "C".into(),
                payment_instrument_id: None,
            },
        )
    }

    #[tokio::test]
    async fn money_rules_and_scripted_failures() {
        let g = FakeGateway::new();
        let a = g
            .authorize(&auth("O-auth-1", 1_000), Deadline::NONE)
            .await
            .unwrap();
        assert_eq!(a.outcome, PaymentOutcome::Approved);
        let cap = |r: &str, m| CaptureInput {
            reference: r.into(),
            amount: usd(m),
        };
        let c1 = g
            .capture(&a.id, &cap("O-cap-1", 600), Deadline::NONE)
            .await
            .unwrap();
        let e = g
            .capture(&a.id, &cap("O-cap-2", 401), Deadline::NONE)
            .await
            .unwrap_err();
        assert_eq!(e.reason_code(), Some("EXCEEDS_AUTH_AMOUNT"));
        let refund = |m| RefundInput {
            reference: "O-ref-1".into(),
            amount: usd(m),
        };
        g.refund_capture(&c1.id, &refund(500), Deadline::NONE)
            .await
            .unwrap();
        let e = g
            .refund_payment(&a.id, &refund(101), Deadline::NONE)
            .await
            .unwrap_err();
        assert_eq!(e.reason_code(), Some("INVALID_AMOUNT"));
        let e = g
            .reverse_authorization(
                &a.id,
                &ReversalInput {
                    reference: "O-rev-1".into(),
                    amount: usd(400),
                    reason: None,
                },
                Deadline::NONE,
            )
            .await
            .unwrap_err();
        assert_eq!(
            e.reason_code(),
            Some("TRANSACTION_ALREADY_REVERSED_OR_SETTLED")
        );

        g.fail_next(
            "capture",
            CybersourceError::Retryable {
                operation: "capture",
                reason: "503".into(),
                http_status: Some(503),
                effect_may_have_happened: false,
            },
        );
        assert!(g
            .capture(&a.id, &cap("O-cap-2", 400), Deadline::NONE)
            .await
            .is_err());
        g.capture(&a.id, &cap("O-cap-2", 400), Deadline::NONE)
            .await
            .unwrap();

        g.next_authorization(
            "AUTHORIZED_RISK_DECLINED",
            Some("DECISION_PROFILE_REJECT"),
            Some("REJECT"),
        );
        let r = g
            .authorize(&auth("O2-auth-1", 10), Deadline::NONE)
            .await
            .unwrap();
        assert_eq!(r.outcome, PaymentOutcome::RejectedByFraud);
        assert!(g.calls().len() >= 8);
    }

    #[tokio::test]
    async fn lost_response_then_reconcile_and_timeout_reversal() {
        let g = FakeGateway::new();
        g.lose_next_response("authorize");
        let e = g
            .authorize(&auth("O-auth-1", 700), Deadline::NONE)
            .await
            .unwrap_err();
        assert!(e.is_outcome_unknown());
        let found = g
            .reconcile_by_reference("O-auth-1", Deadline::NONE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.amount, Some(usd(700)));
        assert_eq!(g.transactions().len(), 1);
        assert_eq!(
            g.reconcile_by_reference("nope", Deadline::NONE)
                .await
                .unwrap(),
            None
        );
        let rev = g
            .timeout_reversal(
                &TimeoutReversalInput {
                    transaction_id: "O-auth-1".into(),
                    reference: None,
                    amount: usd(700),
                    reason: "timeout".into(),
                },
                Deadline::NONE,
            )
            .await
            .unwrap();
        assert_eq!(rev.status, "REVERSED");
        let d = g
            .transaction_details(&found.id, Deadline::NONE)
            .await
            .unwrap();
        assert_eq!(d.status.as_deref(), Some("REVERSED"));
    }
}
