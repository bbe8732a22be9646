//! [`PaymentGateway`] over the plumbing of [`super`]: each operation builds its request DTO
//! ([`crate::cybersource::convert`]), sends it once through the one request path and reads the
//! answer into the gateway's result.

use super::*;

#[async_trait]
impl PaymentGateway for CybersourceClient {
    async fn authorize(
        &self,
        input: &AuthorizationInput,
        deadline: Deadline,
    ) -> Result<AuthorizationResult, CybersourceError> {
        const OP: &str = "authorize";
        let body = PaymentRequest::from_input(input).map_err(|e| input_error(OP, e))?;
        let (req, answer, dto) = self
            .post_payment(OP, "/pts/v2/payments", &body, deadline)
            .await?;
        AuthorizationResult::from_response(input.operation(), &dto)
            .map_err(|e| self.unreadable(&req, answer.status, e.0))
    }

    async fn capture(
        &self,
        payment_id: &str,
        input: &CaptureInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "capture";
        check_path_id(OP, "payment id", payment_id)?;
        let body = CaptureRequest::from_input(input).map_err(|e| input_error(OP, e))?;
        self.follow_on(
            Operation::Capture,
            OP,
            &format!("/pts/v2/payments/{payment_id}/captures"),
            &body,
            deadline,
        )
        .await
    }

    async fn refund_payment(
        &self,
        payment_id: &str,
        input: &RefundInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "refund_payment";
        check_path_id(OP, "payment id", payment_id)?;
        let body = RefundRequest::from_input(input).map_err(|e| input_error(OP, e))?;
        self.follow_on(
            Operation::Refund,
            OP,
            &format!("/pts/v2/payments/{payment_id}/refunds"),
            &body,
            deadline,
        )
        .await
    }

    async fn refund_capture(
        &self,
        capture_id: &str,
        input: &RefundInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "refund_capture";
        check_path_id(OP, "capture id", capture_id)?;
        let body = RefundRequest::from_input(input).map_err(|e| input_error(OP, e))?;
        self.follow_on(
            Operation::Refund,
            OP,
            &format!("/pts/v2/captures/{capture_id}/refunds"),
            &body,
            deadline,
        )
        .await
    }

    async fn reverse_authorization(
        &self,
        payment_id: &str,
        input: &ReversalInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "reverse_authorization";
        check_path_id(OP, "payment id", payment_id)?;
        let body = ReversalRequest::from_input(input).map_err(|e| input_error(OP, e))?;
        self.follow_on(
            Operation::Reversal,
            OP,
            &format!("/pts/v2/payments/{payment_id}/reversals"),
            &body,
            deadline,
        )
        .await
    }

    async fn void(
        &self,
        target: VoidTarget,
        id: &str,
        input: &VoidInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "void";
        check_path_id(OP, "transaction id", id)?;
        let body = VoidRequest::from_input(input).map_err(|e| input_error(OP, e))?;
        self.follow_on(
            Operation::Void,
            OP,
            &format!("/pts/v2/{}/{id}/voids", target.path_segment()),
            &body,
            deadline,
        )
        .await
    }

    async fn timeout_reversal(
        &self,
        input: &TimeoutReversalInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "timeout_reversal";
        let body = ReversalRequest::from_timeout_input(input).map_err(|e| input_error(OP, e))?;
        self.follow_on(
            Operation::Reversal,
            OP,
            "/pts/v2/reversals",
            &body,
            deadline,
        )
        .await
    }

    async fn timeout_void(
        &self,
        input: &TimeoutVoidInput,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        const OP: &str = "timeout_void";
        let body = VoidRequest::from_timeout_input(input).map_err(|e| input_error(OP, e))?;
        self.follow_on(Operation::Void, OP, "/pts/v2/voids", &body, deadline)
            .await
    }

    async fn transaction_details(
        &self,
        id: &str,
        deadline: Deadline,
    ) -> Result<TransactionDetails, CybersourceError> {
        const OP: &str = "transaction_details";
        check_path_id(OP, "transaction id", id)?;
        let dto: TransactionDetailsDto = self
            .get(OP, &format!("/tss/v2/transactions/{id}"), &[], deadline)
            .await?;
        Ok(TransactionDetails::from(&dto))
    }

    async fn search_by_reference(
        &self,
        reference: &str,
        deadline: Deadline,
    ) -> Result<Vec<TransactionSummary>, CybersourceError> {
        const OP: &str = "search_by_reference";
        // The reference goes into a query expression: keep it to id characters.
        check_path_id(OP, "reference", reference)?;
        let body = SearchRequest::by_reference(reference, self.inner.config.search_limit);
        let bytes = Self::json_body(OP, &body)?;
        // A search creates nothing: safe to retry.
        let req = self.prepare(
            OP,
            Method::Post,
            "/tss/v2/searches",
            &[],
            Some(bytes),
            false,
        )?;
        let answer = self.execute(&req, deadline).await?;
        let dto: SearchResponse = self.decode(&req, &answer)?;
        let mut out = Vec::new();
        for s in dto.summaries() {
            let summary = TransactionSummary::try_from(s).map_err(|m| {
                CybersourceError::terminal(
                    OP,
                    TerminalError::UnexpectedResponse {
                        http_status: answer.status,
                        message: m,
                    },
                )
            })?;
            // The search language may match loosely; only the exact reference counts.
            if summary.reference.as_deref() == Some(reference) {
                out.push(summary);
            }
        }
        // Newest first, whatever order the server used (RFC 3339 UTC sorts as text).
        out.sort_by(|a, b| b.submit_time_utc.cmp(&a.submit_time_utc));
        Ok(out)
    }

    async fn create_customer_from_token(
        &self,
        input: &TokenizeInput,
        deadline: Deadline,
    ) -> Result<TmsTokens, CybersourceError> {
        const OP: &str = "tokenize";
        let body = TokenizeRequest::from_input(input).map_err(|e| input_error(OP, e))?;
        let bytes = Self::json_body(OP, &body)?;
        let req = self.prepare(OP, Method::Post, "/tms/v2/tokenize", &[], Some(bytes), true)?;
        let answer = self.execute(&req, deadline).await?;
        let dto: TokenizeResponse = self.decode(&req, &answer)?;
        TmsTokens::try_from(&dto).map_err(|e| {
            CybersourceError::terminal(
                OP,
                TerminalError::Rejected {
                    http_status: answer.status,
                    reason: None,
                    message: e.0,
                },
            )
        })
    }

    async fn create_customer(
        &self,
        input: &CustomerInput,
        deadline: Deadline,
    ) -> Result<TmsCustomer, CybersourceError> {
        const OP: &str = "create_customer";
        let body = CustomerRequest::from_input(input);
        let bytes = Self::json_body(OP, &body)?;
        let req = self.prepare(
            OP,
            Method::Post,
            "/tms/v2/customers",
            &[],
            Some(bytes),
            true,
        )?;
        let answer = self.execute(&req, deadline).await?;
        let dto: CustomerResponse = self.decode(&req, &answer)?;
        TmsCustomer::try_from(&dto).map_err(|e| self.unreadable(&req, answer.status, e.0))
    }

    async fn get_customer(
        &self,
        customer_id: &str,
        deadline: Deadline,
    ) -> Result<TmsCustomer, CybersourceError> {
        const OP: &str = "get_customer";
        check_path_id(OP, "customer id", customer_id)?;
        let dto: CustomerResponse = self
            .get(
                OP,
                &format!("/tms/v2/customers/{customer_id}"),
                &[],
                deadline,
            )
            .await?;
        TmsCustomer::try_from(&dto).map_err(|e| {
            CybersourceError::terminal(
                OP,
                TerminalError::UnexpectedResponse {
                    http_status: 200,
                    message: e.0,
                },
            )
        })
    }

    async fn get_payment_instrument(
        &self,
        customer_id: &str,
        payment_instrument_id: &str,
        deadline: Deadline,
    ) -> Result<TmsPaymentInstrument, CybersourceError> {
        const OP: &str = "get_payment_instrument";
        check_path_id(OP, "customer id", customer_id)?;
        check_path_id(OP, "payment instrument id", payment_instrument_id)?;
        let dto: PaymentInstrumentDto = self
            .get(
                OP,
                &format!(
                    "/tms/v2/customers/{customer_id}/payment-instruments/{payment_instrument_id}"
                ),
                &[],
                deadline,
            )
            .await?;
        TmsPaymentInstrument::try_from(&dto).map_err(|e| {
            CybersourceError::terminal(
                OP,
                TerminalError::UnexpectedResponse {
                    http_status: 200,
                    message: e.0,
                },
            )
        })
    }

    async fn chargeback_details(
        &self,
        start: OffsetDateTime,
        end: OffsetDateTime,
        deadline: Deadline,
    ) -> Result<Vec<ChargebackReportEntry>, CybersourceError> {
        const OP: &str = "chargeback_details";
        if end <= start {
            return Err(input_error(
                OP,
                InputError("end time must be after start time".to_owned()),
            ));
        }
        let query = [
            ("startTime", report_time(OP, start)?),
            ("endTime", report_time(OP, end)?),
        ];
        let dto: ChargebackDetailsResponse = self
            .get(OP, "/reporting/v3/chargeback-details", &query, deadline)
            .await?;
        dto.chargeback_details
            .iter()
            .map(|d| {
                ChargebackReportEntry::try_from(d).map_err(|e| {
                    CybersourceError::terminal(
                        OP,
                        TerminalError::UnexpectedResponse {
                            http_status: 200,
                            message: e.0,
                        },
                    )
                })
            })
            .collect()
    }
}
