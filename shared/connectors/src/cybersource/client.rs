//! HTTP plumbing for the Cybersource REST API: one request path for every operation.
//!
//! * The body is serialised ONCE to bytes; those exact bytes are digested, signed and sent
//!   (every retry re-signs the same bytes with a fresh `Date`).
//! * The base URL is configuration (`https://apitest.cybersource.com`, production, or a local
//!   simulator such as `http://127.0.0.1:4571`); the signed `Host` and `request-target` are
//!   derived from it and checked against the URL actually requested.
//! * Each attempt's timeout is the configured request timeout, cut to what is left before the
//!   call's [`Deadline`].
//! * Failures are classified once ([`CybersourceError`]), and the one retry policy
//!   ([`crate::http::retry`]) retries only the retryable ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, HOST};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use super::convert::InputError;
use super::credentials::CybersourceCredentials;
use super::dto::{
    CaptureRequest, ChargebackDetailsResponse, CustomerRequest, CustomerResponse, ErrorResponse,
    PaymentInstrumentDto, PaymentRequest, PaymentResponse, RefundRequest, ReversalRequest,
    SearchRequest, SearchResponse, TokenizeRequest, TokenizeResponse, TransactionDetailsDto,
    VoidRequest,
};
use super::error::{CybersourceError, TerminalError};
use super::gateway::{
    AuthorizationInput, AuthorizationResult, CaptureInput, ChargebackReportEntry, CustomerInput,
    Deadline, FollowOnResult, PaymentGateway, RefundInput, ReversalInput, TimeoutReversalInput,
    TimeoutVoidInput, TmsCustomer, TmsPaymentInstrument, TmsTokens, TokenizeInput,
    TransactionDetails, TransactionSummary, VoidInput, VoidTarget,
};
use super::outcome::{Operation, PaymentOutcome};
use super::signing::{http_date, request_target, HttpSignatureSigner, Method};
use crate::http::retry::{Attempt, Retrier, RetryPolicy};

/// `Content-Type` of request bodies (docs/cybersource.md, request signing).
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";
/// Response header Cybersource uses to correlate a request (logged).
pub const CORRELATION_HEADER: &str = "v-c-correlation-id";
/// No attempt is started with less time than this left before the deadline.
const MIN_SEND_TIME: Duration = Duration::from_millis(50);

/// Client settings other than credentials.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Upper bound of one attempt (connect + send + read).
    pub request_timeout: Duration,
    /// Upper bound of establishing a connection.
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// TMS configuration profile (`profile-id` header on TMS calls), if any.
    pub tms_profile_id: Option<String>,
    /// Page size of a transaction search.
    pub search_limit: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            tms_profile_id: None,
            search_limit: 50,
        }
    }
}

/// The Cybersource REST client. Cheap to clone.
#[derive(Clone)]
pub struct CybersourceClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// `scheme://host[:port]`.
    origin: String,
    /// The `Host` value: `host[:port]` (port only when not the scheme's default).
    host: String,
    /// Path of the base URL without a trailing `/` (usually empty).
    path_prefix: String,
    signer: HttpSignatureSigner,
    retrier: Retrier,
    config: ClientConfig,
}

impl std::fmt::Debug for CybersourceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CybersourceClient")
            .field("base_url", &self.base_url())
            .field("signer", &self.inner.signer)
            .field("config", &self.inner.config)
            .finish()
    }
}

/// One request, ready to send any number of times.
struct Prepared {
    operation: &'static str,
    method: Method,
    /// Path + query exactly as signed and sent (base path prefix included).
    target: String,
    url: Url,
    /// The exact bytes (None: no body).
    body: Option<Vec<u8>>,
    /// Whether sending it can change something at Cybersource (then a lost answer is an
    /// unknown outcome, not a retry).
    effectful: bool,
    tms: bool,
}

#[derive(Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
}

fn config_error(operation: &'static str, msg: impl Into<String>) -> CybersourceError {
    CybersourceError::terminal(operation, TerminalError::Configuration(msg.into()))
}

fn input_error(operation: &'static str, e: InputError) -> CybersourceError {
    CybersourceError::terminal(operation, TerminalError::InvalidInput(e.0))
}

/// An id that goes into a path: Cybersource ids are digits or hex; be strict so nothing can
/// change the path.
fn check_path_id(operation: &'static str, what: &str, id: &str) -> Result<(), CybersourceError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && id != "."
        && id != "..";
    if ok {
        Ok(())
    } else {
        Err(input_error(
            operation,
            InputError(format!(
                "{what} must be 1-128 characters of A-Z a-z 0-9 - _ ."
            )),
        ))
    }
}

/// `e` and its sources, for diagnostics (no secrets are in transport errors).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl CybersourceClient {
    /// A client for `credentials.base_url`, signing with `credentials`.
    pub fn new(
        credentials: &CybersourceCredentials,
        config: ClientConfig,
    ) -> Result<Self, CybersourceError> {
        let signer = credentials
            .signer()
            .map_err(|e| config_error("configure", e.to_string()))?;
        let retrier = Retrier::new(config.retry);
        Self::with_parts(&credentials.base_url, signer, config, retrier)
    }

    /// Full control over the parts (tests inject a retrier with a virtual clock, or a signer
    /// with a wrong secret).
    pub fn with_parts(
        base_url: &str,
        signer: HttpSignatureSigner,
        config: ClientConfig,
        retrier: Retrier,
    ) -> Result<Self, CybersourceError> {
        let url = Url::parse(base_url.trim())
            .map_err(|e| config_error("configure", format!("base URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(config_error("configure", "base URL must be http or https"));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(config_error(
                "configure",
                "base URL must not carry a query, fragment or user info",
            ));
        }
        let host_name = url
            .host_str()
            .ok_or_else(|| config_error("configure", "base URL has no host"))?;
        let host = match url.port() {
            Some(p) => format!("{host_name}:{p}"),
            None => host_name.to_owned(),
        };
        let origin = format!("{}://{host}", url.scheme());
        let path_prefix = url.path().trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| config_error("configure", format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                origin,
                host,
                path_prefix,
                signer,
                retrier,
                config,
            }),
        })
    }

    /// `scheme://host[:port][/prefix]`.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.inner.origin, self.inner.path_prefix)
    }

    /// The signed `Host` value.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    fn prepare(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        effectful: bool,
    ) -> Result<Prepared, CybersourceError> {
        let target = request_target(&format!("{}{path}", self.inner.path_prefix), query);
        let url = Url::parse(&format!("{}{target}", self.inner.origin))
            .map_err(|e| config_error(operation, format!("URL: {e}")))?;
        // What goes on the wire must be exactly what is signed.
        let sent = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        if sent != target {
            return Err(config_error(
                operation,
                format!("request target {target:?} would be sent as {sent:?}"),
            ));
        }
        Ok(Prepared {
            operation,
            method,
            target,
            url,
            body,
            effectful,
            tms: path.starts_with("/tms/"),
        })
    }

    fn json_body<B: Serialize>(
        operation: &'static str,
        body: &B,
    ) -> Result<Vec<u8>, CybersourceError> {
        serde_json::to_vec(body).map_err(|e| config_error(operation, format!("serialise: {e}")))
    }

    /// Sends `req` under the retry policy; `Ok` only for a 2xx answer.
    async fn execute(
        &self,
        req: &Prepared,
        deadline: Deadline,
    ) -> Result<Answer, CybersourceError> {
        self.inner
            .retrier
            .run(deadline.instant(), |attempt| self.send_once(req, attempt))
            .await
    }

    async fn send_once(
        &self,
        req: &Prepared,
        attempt: Attempt,
    ) -> Result<Answer, CybersourceError> {
        let inner = &*self.inner;
        let mut timeout = inner.config.request_timeout;
        if let Some(deadline) = attempt.deadline {
            let left = deadline.saturating_duration_since(inner.retrier.now());
            if left < MIN_SEND_TIME {
                return Err(CybersourceError::Retryable {
                    operation: req.operation,
                    reason: "deadline reached before the request was sent".to_owned(),
                    http_status: None,
                    effect_may_have_happened: false,
                });
            }
            timeout = timeout.min(left);
        }
        let body: &[u8] = req.body.as_deref().unwrap_or_default();
        let date = http_date(OffsetDateTime::now_utc());
        let signed = inner
            .signer
            .sign(req.method, &inner.host, &req.target, body, &date)
            .map_err(|e| config_error(req.operation, format!("signing: {e}")))?;

        let method = reqwest::Method::from_bytes(req.method.as_str().as_bytes())
            .map_err(|e| config_error(req.operation, e.to_string()))?;
        let mut rb = inner
            .http
            .request(method, req.url.clone())
            .timeout(timeout)
            .header(ACCEPT, "application/hal+json;charset=utf-8");
        for (name, value) in &signed.headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| config_error(req.operation, format!("header {name}")))?;
            rb = if name.eq_ignore_ascii_case("host") {
                rb.header(HOST, value)
            } else {
                rb.header(*name, value)
            };
        }
        if req.tms {
            if let Some(profile) = &inner.config.tms_profile_id {
                rb = rb.header("profile-id", profile.as_str());
            }
        }
        if let Some(bytes) = &req.body {
            rb = rb
                .header(CONTENT_TYPE, JSON_CONTENT_TYPE)
                .body(bytes.clone());
        }

        let started = Instant::now();
        let response = match rb.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(req, &e, false)),
        };
        let status = response.status().as_u16();
        let correlation = response
            .headers()
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => return Err(self.transport_error(req, &e, true)),
        };
        tracing::info!(
            operation = req.operation,
            method = req.method.as_str(),
            path = req.url.path(),
            http_status = status,
            attempt = attempt.number,
            elapsed_ms = started.elapsed().as_millis() as u64,
            correlation_id = correlation.as_deref().unwrap_or(""),
            "cybersource call"
        );
        classify_status(req, status, bytes)
    }

    /// A failure without an HTTP status.
    fn transport_error(
        &self,
        req: &Prepared,
        e: &reqwest::Error,
        after_headers: bool,
    ) -> CybersourceError {
        let detail = error_chain(e);
        if e.is_builder() {
            return config_error(req.operation, detail);
        }
        if e.is_connect() && !after_headers {
            return CybersourceError::Retryable {
                operation: req.operation,
                reason: format!("connection failed before the request was sent: {detail}"),
                http_status: None,
                effect_may_have_happened: false,
            };
        }
        let what = if e.is_timeout() {
            "timed out after the request was sent"
        } else {
            "connection lost after the request was sent"
        };
        if req.effectful {
            CybersourceError::OutcomeUnknown {
                operation: req.operation,
                reason: format!("{what}: {detail}"),
                http_status: None,
            }
        } else {
            CybersourceError::Retryable {
                operation: req.operation,
                reason: format!("{what}: {detail}"),
                http_status: None,
                effect_may_have_happened: false,
            }
        }
    }

    fn decode<T: DeserializeOwned>(
        &self,
        req: &Prepared,
        answer: &Answer,
    ) -> Result<T, CybersourceError> {
        serde_json::from_slice(&answer.body).map_err(|e| {
            // serde messages can quote values: report where, not what.
            let msg = format!(
                "HTTP {} body is not the expected JSON (line {}, column {})",
                answer.status,
                e.line(),
                e.column()
            );
            self.unreadable(req, answer.status, msg)
        })
    }

    /// A 2xx answer we cannot use. After an effectful call the effect happened but we cannot
    /// tell what it was: reconcile by reference.
    fn unreadable(&self, req: &Prepared, status: u16, message: String) -> CybersourceError {
        if req.effectful {
            CybersourceError::OutcomeUnknown {
                operation: req.operation,
                reason: message,
                http_status: Some(status),
            }
        } else {
            CybersourceError::terminal(
                req.operation,
                TerminalError::UnexpectedResponse {
                    http_status: status,
                    message,
                },
            )
        }
    }

    async fn post_payment<B: Serialize>(
        &self,
        operation: &'static str,
        path: &str,
        body: &B,
        deadline: Deadline,
    ) -> Result<(Prepared, Answer, PaymentResponse), CybersourceError> {
        let bytes = Self::json_body(operation, body)?;
        let req = self.prepare(operation, Method::Post, path, &[], Some(bytes), true)?;
        let answer = self.execute(&req, deadline).await?;
        let dto: PaymentResponse = self.decode(&req, &answer)?;
        Ok((req, answer, dto))
    }

    async fn follow_on<B: Serialize>(
        &self,
        op: Operation,
        operation: &'static str,
        path: &str,
        body: &B,
        deadline: Deadline,
    ) -> Result<FollowOnResult, CybersourceError> {
        let (req, answer, dto) = self.post_payment(operation, path, body, deadline).await?;
        match FollowOnResult::from_response(op, &dto) {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(outcome)) => Err(CybersourceError::terminal(
                operation,
                match outcome {
                    PaymentOutcome::Unknown { raw } => TerminalError::UnexpectedResponse {
                        http_status: answer.status,
                        message: format!(
                            "unrecognised status {raw:?} for transaction {}",
                            dto.id.as_deref().unwrap_or("?")
                        ),
                    },
                    _ => TerminalError::Declined {
                        status: dto.status.clone().unwrap_or_default(),
                        reason: dto.error_reason().map(str::to_owned),
                        message: dto.error_message().map(str::to_owned),
                        transaction_id: dto.id.clone(),
                    },
                },
            )),
            Err(e) => Err(self.unreadable(&req, answer.status, e.0)),
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, String)],
        deadline: Deadline,
    ) -> Result<T, CybersourceError> {
        let req = self.prepare(operation, Method::Get, path, query, None, false)?;
        let answer = self.execute(&req, deadline).await?;
        self.decode(&req, &answer)
    }
}

/// Classifies an HTTP status (docs/cybersource.md, errors; see [`super::error`] for the table).
fn classify_status(req: &Prepared, status: u16, body: Vec<u8>) -> Result<Answer, CybersourceError> {
    if (200..300).contains(&status) {
        return Ok(Answer { status, body });
    }
    let err: ErrorResponse = serde_json::from_slice(&body).unwrap_or_default();
    let message = err
        .message_text()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP {status}"));
    let reason = err.reason_code().map(str::to_owned);
    let op = req.operation;
    let retryable = |effect_may_have_happened: bool| CybersourceError::Retryable {
        operation: op,
        reason: match &reason {
            Some(r) => format!("HTTP {status} {r}: {message}"),
            None => format!("HTTP {status}: {message}"),
        },
        http_status: Some(status),
        effect_may_have_happened,
    };
    let terminal = |e| CybersourceError::terminal(op, e);
    Err(match status {
        400 => terminal(TerminalError::InvalidRequest {
            http_status: status,
            reason: reason
                .clone()
                .unwrap_or_else(|| "INVALID_REQUEST".to_owned()),
            message,
            details: err.details,
        }),
        401 | 403 => terminal(TerminalError::Authentication {
            http_status: status,
            message,
        }),
        404 => terminal(TerminalError::NotFound { message }),
        // Refused before processing.
        408 | 429 => retryable(false),
        // §2.5/§2.6: a gateway error or timeout after sending may hide a created transaction.
        502 | 504 if req.effectful => CybersourceError::OutcomeUnknown {
            operation: op,
            reason: match &reason {
                Some(r) => format!("HTTP {status} {r}: {message}"),
                None => format!("HTTP {status}: {message}"),
            },
            http_status: Some(status),
        },
        503 => retryable(false),
        500..=599 => retryable(req.effectful),
        _ => terminal(TerminalError::Rejected {
            http_status: status,
            reason,
            message,
        }),
    })
}

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

/// `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC (the reporting API's documented example format).
fn report_time(operation: &'static str, t: OffsetDateTime) -> Result<String, CybersourceError> {
    let utc = t.to_offset(UtcOffset::UTC);
    let truncated = utc
        .replace_nanosecond(utc.millisecond() as u32 * 1_000_000)
        .map_err(|e| config_error(operation, e.to_string()))?;
    let s = truncated
        .format(&Rfc3339)
        .map_err(|e| config_error(operation, e.to_string()))?;
    // Rfc3339 drops a zero fraction; the documented format always has milliseconds.
    Ok(if s.contains('.') {
        s
    } else {
        s.replacen('Z', ".000Z", 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn client(base: &str) -> CybersourceClient {
        let signer = HttpSignatureSigner::new(
            "m1",
            "k1",
            &SecretString::from("YpnO3e2HtZRmB0EAYH5m+mGyIYpCZUBO9VYdiCkYewE="),
        )
        .unwrap();
        CybersourceClient::with_parts(
            base,
            signer,
            ClientConfig::default(),
            Retrier::new(RetryPolicy::none()),
        )
        .unwrap()
    }

    fn prepared(effectful: bool) -> Prepared {
        client("http://127.0.0.1:4571")
            .prepare("op", Method::Post, "/pts/v2/payments", &[], None, effectful)
            .unwrap()
    }

    #[test]
    fn base_url_host_and_prefix() {
        let c = client("http://127.0.0.1:4571");
        assert_eq!(c.host(), "127.0.0.1:4571");
        assert_eq!(c.base_url(), "http://127.0.0.1:4571");
        let c = client("https://apitest.cybersource.com/");
        assert_eq!(c.host(), "apitest.cybersource.com");
        let c = client("https://apitest.cybersource.com:443");
        assert_eq!(c.host(), "apitest.cybersource.com");
        let c = client("http://localhost:8080/cybs/");
        let p = c
            .prepare(
                "op",
                Method::Get,
                "/reporting/v3/chargeback-details",
                &[("startTime", "2026-01-01T00:00:00.000Z".into())],
                None,
                false,
            )
            .unwrap();
        assert_eq!(
            p.target,
            "/cybs/reporting/v3/chargeback-details?startTime=2026-01-01T00%3A00%3A00.000Z"
        );
        assert_eq!(
            p.url.as_str(),
            "http://localhost:8080/cybs/reporting/v3/chargeback-details?startTime=2026-01-01T00%3A00%3A00.000Z"
        );
        for bad in ["ftp://x", "not a url", "http://u:p@host", "http://h/?q=1"] {
            let signer = HttpSignatureSigner::new(
                "m1",
                "k1",
                &SecretString::from("YpnO3e2HtZRmB0EAYH5m+mGyIYpCZUBO9VYdiCkYewE="),
            )
            .unwrap();
            let e = CybersourceClient::with_parts(
                bad,
                signer,
                ClientConfig::default(),
                Retrier::new(RetryPolicy::none()),
            )
            .unwrap_err();
            assert_eq!(
                e.failure_class(),
                Some(o2c_domain::recipe::FailureClass::Internal),
                "{bad}"
            );
        }
    }

    #[test]
    fn path_ids_are_strict() {
        assert!(check_path_id("op", "id", "7000000000000000000001").is_ok());
        assert!(check_path_id("op", "id", "A1b2-C3_d.4").is_ok());
        for bad in ["", "..", "a/b", "a?b", "a b", "a%2Fb", &"x".repeat(129)] {
            assert!(check_path_id("op", "id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn status_classification() {
        let eff = prepared(true);
        let read = prepared(false);
        let body = |v: serde_json::Value| v.to_string().into_bytes();
        assert!(classify_status(&eff, 201, vec![]).is_ok());

        let e = classify_status(
            &eff,
            400,
            body(
                serde_json::json!({"status": "INVALID_REQUEST", "reason": "INVALID_DATA",
                "message": "bad", "details": [{"field": "x", "reason": "INVALID_DATA"}]}),
            ),
        )
        .unwrap_err();
        assert_eq!(e.reason_code(), Some("INVALID_DATA"));
        assert_eq!(
            e.failure_class(),
            Some(o2c_domain::recipe::FailureClass::Validation)
        );

        let e = classify_status(
            &eff,
            401,
            body(serde_json::json!({"response": {"rmsg": "Authentication Failed"}})),
        )
        .unwrap_err();
        assert!(matches!(
            e,
            CybersourceError::Terminal {
                error: TerminalError::Authentication { http_status: 401, ref message },
                ..
            } if message == "Authentication Failed"
        ));
        assert!(matches!(
            classify_status(&eff, 403, vec![]).unwrap_err(),
            CybersourceError::Terminal {
                error: TerminalError::Authentication { .. },
                ..
            }
        ));
        assert!(matches!(
            classify_status(&read, 404, vec![]).unwrap_err(),
            CybersourceError::Terminal {
                error: TerminalError::NotFound { .. },
                ..
            }
        ));
        for s in [409, 410, 424, 422, 302] {
            assert!(classify_status(&eff, s, vec![]).unwrap_err().is_terminal());
        }

        // 502/504 after an effectful call: unknown, never retried blindly.
        for s in [502, 504] {
            let e = classify_status(
                &eff,
                s,
                body(serde_json::json!({"status": "SERVER_ERROR", "reason": "SERVER_TIMEOUT"})),
            )
            .unwrap_err();
            assert!(e.is_outcome_unknown(), "{s}");
            assert!(!crate::http::retry::Retryable::is_retryable(&e));
            // On a read they are plain retryable.
            let e = classify_status(&read, s, vec![]).unwrap_err();
            assert!(matches!(
                e,
                CybersourceError::Retryable {
                    effect_may_have_happened: false,
                    ..
                }
            ));
        }
        // 503 / 429 / 408: refused before processing.
        for s in [503, 429, 408] {
            assert!(matches!(
                classify_status(&eff, s, vec![]).unwrap_err(),
                CybersourceError::Retryable {
                    effect_may_have_happened: false,
                    ..
                }
            ));
        }
        // 500: retryable, but the effect may have happened.
        assert!(matches!(
            classify_status(&eff, 500, vec![]).unwrap_err(),
            CybersourceError::Retryable {
                effect_may_have_happened: true,
                ..
            }
        ));
    }

    #[test]
    fn report_time_format() {
        let t = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        assert_eq!(report_time("op", t).unwrap(), "2026-01-01T00:00:00.000Z");
        let t = t + Duration::from_millis(1_234) + Duration::from_nanos(999);
        assert_eq!(report_time("op", t).unwrap(), "2026-01-01T00:00:01.234Z");
        let t = t.to_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(report_time("op", t).unwrap(), "2026-01-01T00:00:01.234Z");
    }

    #[tokio::test]
    async fn invalid_input_is_refused_before_sending() {
        // Port 9 (discard) is never contacted: the input check comes first.
        let c = client("http://127.0.0.1:9");
        let usd = |m| o2c_domain::Money::from_minor(m, o2c_domain::Currency::USD);
        let e = c
            .capture(
                "7001",
                &CaptureInput {
                    reference: "O-cap-1".into(),
                    amount: usd(0),
                },
                Deadline::NONE,
            )
            .await
            .unwrap_err();
        assert!(matches!(
            e,
            CybersourceError::Terminal {
                error: TerminalError::InvalidInput(_),
                ..
            }
        ));
        let e = c
            .capture(
                "../x",
                &CaptureInput {
                    reference: "O-cap-1".into(),
                    amount: usd(1),
                },
                Deadline::NONE,
            )
            .await
            .unwrap_err();
        assert!(e.is_terminal());
        let e = c
            .search_by_reference("a b", Deadline::NONE)
            .await
            .unwrap_err();
        assert!(e.is_terminal());
    }

    #[tokio::test]
    async fn connection_refused_is_retryable_and_not_sent() {
        // Bind then drop a listener to get a port nobody listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = client(&format!("http://127.0.0.1:{port}"));
        let e = c
            .transaction_details("7001", Deadline::NONE)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                CybersourceError::Retryable {
                    effect_may_have_happened: false,
                    http_status: None,
                    ..
                }
            ),
            "{e:?}"
        );
        let input = AuthorizationInput::new(
            "O-1-auth-1",
            "O-1-auth-1",
            o2c_domain::Money::from_minor(100, o2c_domain::Currency::USD),
            super::super::gateway::PaymentSource::Tms {
                customer_id: "C".into(),
                payment_instrument_id: Some("P".into()),
            },
        );
        let e = c.authorize(&input, Deadline::NONE).await.unwrap_err();
        assert!(
            matches!(
                e,
                CybersourceError::Retryable {
                    effect_may_have_happened: false,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn expired_deadline_sends_nothing() {
        let c = client("http://127.0.0.1:9");
        let e = c
            .transaction_details("7001", Deadline::at(Instant::now()))
            .await
            .unwrap_err();
        assert!(matches!(
            e,
            CybersourceError::Retryable {
                effect_may_have_happened: false,
                ..
            }
        ));
        assert!(e.to_string().contains("deadline"));
    }
}
