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

mod port;
#[cfg(test)]
mod tests;
