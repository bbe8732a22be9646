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
        let http = crate::http::transport::client_builder()
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
        // `docs/cybersource.md` §2.5/§2.6: a gateway error or timeout after sending may hide a
        // created transaction.
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

mod port;
#[cfg(test)]
mod tests;
