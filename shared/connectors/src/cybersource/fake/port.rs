//! [`PaymentGateway`] for [`FakeGateway`]: every operation against the in-memory ledger, with
//! the same money rules and outcome classification as Cybersource.

use super::*;

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
