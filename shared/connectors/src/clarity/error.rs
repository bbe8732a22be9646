//! Clarity error taxonomy (RFC 9457 problems; retries per `CLARITY_ASSUMED.md` §A6) and its mapping to the domain's [`StepError`].
//!
//! | what happened | variant | retried here (`CLARITY_ASSUMED.md` §4.8) | [`StepError`] |
//! |---|---|---|---|
//! | no connection | `Transport { sent: false }` | yes | `Retryable`, effect did not happen |
//! | timeout / broken answer | `Transport { sent: true }` | yes (every call is retry-safe) | `Retryable`, effect may have happened |
//! | 429 `rate_limited`, 503 `unavailable` (+ `Retry-After`) | `Throttled` | yes, honouring `Retry-After` | `Retryable`, effect did not happen |
//! | 412 `precondition_failed` | `VersionConflict` | no | `Retryable` (re-read, decide again) |
//! | 409 `invalid_status_transition` | `Api` | no | `Terminal(IllegalTransition)` |
//! | 409 `idempotency_in_progress` | `Api` | no | `Retryable`, effect may have happened |
//! | 400/422 `validation_failed`, 422 `idempotency_key_reuse` | `Api` | no | `Terminal(Validation)` |
//! | 401 (after the one token refresh), 403 `insufficient_scope` | `Api` | no | `Terminal(TerminalApi)` |
//! | 404 `not_found` | `Api` | no | `Terminal(NotFound)` |
//! | 500 `internal`, other 5xx | `Api` | no | `Retryable`, effect may have happened |
//! | token endpoint failed | `Token` | if the token endpoint's error is transient | `Retryable` or `Terminal(TerminalApi)` |
//! | a 2xx whose body is not the contract's | `Protocol` | no | `Terminal(Internal)` |
//! | our own request is unusable (empty patch, bad key) | `InvalidRequest` | no | `Terminal(Validation)` |
//!
//! Server texts (`detail`, field messages) are PII-masked before they are kept, since error
//! strings end up in logs and DLQ reasons.

use std::fmt;
use std::time::Duration;

use o2c_domain::pii::{mask_text, MaskPolicy};
use o2c_domain::recipe::{FailureClass, StepError};

use super::dto::Problem;
use crate::http::oauth::{OAuthError, TokenRejection};
use crate::http::rest::{ApiError, RetryAfterHint};
use crate::http::retry::Retryable;
use crate::http::transport::{parse_retry_after, Reply, TransportFailure};

/// The `code` of a problem body (`CLARITY_ASSUMED.md` §4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemCode {
    ValidationFailed,
    Unauthorized,
    InsufficientScope,
    NotFound,
    InvalidStatusTransition,
    IdempotencyInProgress,
    PreconditionFailed,
    IdempotencyKeyReuse,
    RateLimited,
    Internal,
    Unavailable,
    /// A code this version does not know (or none).
    Other(String),
}

impl ProblemCode {
    pub fn parse(code: &str) -> ProblemCode {
        match code {
            "validation_failed" => ProblemCode::ValidationFailed,
            "unauthorized" => ProblemCode::Unauthorized,
            "insufficient_scope" => ProblemCode::InsufficientScope,
            "not_found" => ProblemCode::NotFound,
            "invalid_status_transition" => ProblemCode::InvalidStatusTransition,
            "idempotency_in_progress" => ProblemCode::IdempotencyInProgress,
            "precondition_failed" => ProblemCode::PreconditionFailed,
            "idempotency_key_reuse" => ProblemCode::IdempotencyKeyReuse,
            "rate_limited" => ProblemCode::RateLimited,
            "internal" => ProblemCode::Internal,
            "unavailable" => ProblemCode::Unavailable,
            other => ProblemCode::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ProblemCode::ValidationFailed => "validation_failed",
            ProblemCode::Unauthorized => "unauthorized",
            ProblemCode::InsufficientScope => "insufficient_scope",
            ProblemCode::NotFound => "not_found",
            ProblemCode::InvalidStatusTransition => "invalid_status_transition",
            ProblemCode::IdempotencyInProgress => "idempotency_in_progress",
            ProblemCode::PreconditionFailed => "precondition_failed",
            ProblemCode::IdempotencyKeyReuse => "idempotency_key_reuse",
            ProblemCode::RateLimited => "rate_limited",
            ProblemCode::Internal => "internal",
            ProblemCode::Unavailable => "unavailable",
            ProblemCode::Other(s) => s,
        }
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn detail_suffix(p: &Problem) -> String {
    let mut s = String::new();
    if let Some(d) = p.detail.as_deref().or(p.title.as_deref()) {
        s.push_str(": ");
        s.push_str(d);
    }
    for e in &p.errors {
        s.push_str(&format!(" [{}: {}]", e.field, e.message));
    }
    if let Some(r) = &p.request_id {
        s.push_str(&format!(" (request {r})"));
    }
    s
}

/// Errors from a Clarity call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClarityError {
    /// No HTTP answer.
    #[error("clarity {operation}: {failure}")]
    Transport {
        operation: &'static str,
        failure: TransportFailure,
    },
    /// 412: `If-Match` named a version that is no longer current.
    #[error(
        "clarity {operation}: version conflict (HTTP 412 precondition_failed){}",
        detail_suffix(problem)
    )]
    VersionConflict {
        operation: &'static str,
        problem: Box<Problem>,
    },
    /// 429 or 503, possibly with `Retry-After`.
    #[error(
        "clarity {operation}: throttled (HTTP {status}){}",
        detail_suffix(problem)
    )]
    Throttled {
        operation: &'static str,
        status: u16,
        retry_after: Option<Duration>,
        problem: Box<Problem>,
    },
    /// Any other problem answer.
    #[error("clarity {operation}: HTTP {status} {code}{}", detail_suffix(problem))]
    Api {
        operation: &'static str,
        status: u16,
        code: ProblemCode,
        problem: Box<Problem>,
    },
    /// No token could be had.
    #[error("clarity {operation}: {error}")]
    Token {
        operation: &'static str,
        error: OAuthError,
    },
    /// A success status whose body is not what the contract says.
    #[error("clarity {operation}: unexpected answer (HTTP {status}): {reason}")]
    Protocol {
        operation: &'static str,
        status: u16,
        reason: String,
    },
    /// Our request was refused before sending.
    #[error("clarity {operation}: invalid request: {reason}")]
    InvalidRequest {
        operation: &'static str,
        reason: String,
    },
}

impl ApiError for ClarityError {
    fn transport(operation: &'static str, failure: TransportFailure) -> Self {
        ClarityError::Transport { operation, failure }
    }

    fn invalid_request(operation: &'static str, reason: String) -> Self {
        ClarityError::InvalidRequest { operation, reason }
    }

    fn token(operation: &'static str, error: OAuthError) -> Self {
        ClarityError::Token { operation, error }
    }

    fn from_reply(operation: &'static str, reply: &Reply) -> Self {
        ClarityError::from_problem_reply(operation, reply)
    }
}

impl ClarityError {
    /// Build the error for a non-2xx answer.
    pub fn from_problem_reply(operation: &'static str, reply: &Reply) -> ClarityError {
        let mut problem: Problem = reply.json().unwrap_or_else(|_| Problem {
            status: Some(reply.status),
            detail: Some(reply.snippet(200)).filter(|s| !s.is_empty()),
            ..Problem::default()
        });
        problem.detail = problem
            .detail
            .map(|d| mask_text(&d, MaskPolicy::LOGS).into_owned());
        for e in &mut problem.errors {
            e.message = mask_text(&e.message, MaskPolicy::LOGS).into_owned();
        }
        let problem = Box::new(problem);
        let status = reply.status;
        match status {
            412 => ClarityError::VersionConflict { operation, problem },
            429 | 503 => ClarityError::Throttled {
                operation,
                status,
                retry_after: reply
                    .header("retry-after")
                    .and_then(|v| parse_retry_after(v, std::time::SystemTime::now())),
                problem,
            },
            _ => ClarityError::Api {
                operation,
                status,
                code: problem
                    .code
                    .as_deref()
                    .map(ProblemCode::parse)
                    .unwrap_or_else(|| ProblemCode::Other(String::new())),
                problem,
            },
        }
    }

    /// 412: the version named in `If-Match` is stale.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClarityError::VersionConflict { .. })
    }

    /// The HTTP status, when there was an answer.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClarityError::VersionConflict { .. } => Some(412),
            ClarityError::Throttled { status, .. }
            | ClarityError::Api { status, .. }
            | ClarityError::Protocol { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem `code`, when there was one.
    pub fn problem_code(&self) -> Option<ProblemCode> {
        match self {
            ClarityError::VersionConflict { .. } => Some(ProblemCode::PreconditionFailed),
            ClarityError::Throttled { problem, .. } => {
                problem.code.as_deref().map(ProblemCode::parse)
            }
            ClarityError::Api { code, .. } => Some(code.clone()),
            _ => None,
        }
    }

    /// The problem body, when there was one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClarityError::VersionConflict { problem, .. }
            | ClarityError::Throttled { problem, .. }
            | ClarityError::Api { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The domain's failure class when the error is terminal.
    pub fn failure_class(&self) -> Option<FailureClass> {
        match StepError::from(self.clone()) {
            StepError::Terminal { class, .. } => Some(class),
            _ => None,
        }
    }
}

impl Retryable for ClarityError {
    /// `CLARITY_ASSUMED.md` §4.8: connection errors and timeouts, 429 and 503; never another 4xx.
    /// Every Clarity call this client makes is retry-safe (GET, PUT, PATCH under the no-op rule /
    /// `If-Match` / key, POST only with an `Idempotency-Key`).
    fn is_retryable(&self) -> bool {
        match self {
            ClarityError::Transport { .. } | ClarityError::Throttled { .. } => true,
            ClarityError::Token { error, .. } => error.is_retryable(),
            _ => false,
        }
    }
}

impl RetryAfterHint for ClarityError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ClarityError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl TokenRejection for ClarityError {
    /// 401 (`WWW-Authenticate: Bearer error="invalid_token"`, problem `unauthorized`).
    fn is_token_rejected(&self) -> bool {
        matches!(self, ClarityError::Api { status: 401, .. })
    }
}

impl From<ClarityError> for StepError {
    fn from(e: ClarityError) -> Self {
        let reason = e.to_string();
        let retryable = |effect_may_have_happened| StepError::Retryable {
            reason: reason.clone(),
            effect_may_have_happened,
        };
        let terminal = |class| StepError::Terminal {
            class,
            reason: reason.clone(),
        };
        match &e {
            ClarityError::Transport { failure, .. } => retryable(failure.sent),
            ClarityError::Throttled { .. } | ClarityError::VersionConflict { .. } => {
                retryable(false)
            }
            ClarityError::Token { error, .. } => {
                if error.is_retryable() {
                    retryable(false)
                } else {
                    terminal(FailureClass::TerminalApi)
                }
            }
            ClarityError::Protocol { .. } => terminal(FailureClass::Internal),
            ClarityError::InvalidRequest { .. } => terminal(FailureClass::Validation),
            ClarityError::Api { status, code, .. } => match (status, code) {
                (_, ProblemCode::IdempotencyInProgress) => retryable(true),
                (_, ProblemCode::InvalidStatusTransition) => {
                    terminal(FailureClass::IllegalTransition)
                }
                (404, _) => terminal(FailureClass::NotFound),
                (400 | 422, _) => terminal(FailureClass::Validation),
                (s, _) if *s >= 500 => retryable(true),
                _ => terminal(FailureClass::TerminalApi),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: serde_json::Value, headers: &[(&str, &str)]) -> Reply {
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Reply {
            status,
            headers: map,
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    fn problem(status: u16, code: &str) -> serde_json::Value {
        serde_json::json!({"type": format!("https://errors.clarity.example/{code}"), "title": "t",
                           "status": status, "detail": format!("{code} happened"), "code": code,
                           "requestId": "req-1"})
    }

    #[test]
    fn problem_answers_become_typed_errors_and_step_errors() {
        let cases: Vec<(u16, &str, StepError)> = vec![
            (
                400,
                "validation_failed",
                StepError::Terminal {
                    class: FailureClass::Validation,
                    reason: String::new(),
                },
            ),
            (
                401,
                "unauthorized",
                StepError::Terminal {
                    class: FailureClass::TerminalApi,
                    reason: String::new(),
                },
            ),
            (
                403,
                "insufficient_scope",
                StepError::Terminal {
                    class: FailureClass::TerminalApi,
                    reason: String::new(),
                },
            ),
            (
                404,
                "not_found",
                StepError::Terminal {
                    class: FailureClass::NotFound,
                    reason: String::new(),
                },
            ),
            (
                409,
                "invalid_status_transition",
                StepError::Terminal {
                    class: FailureClass::IllegalTransition,
                    reason: String::new(),
                },
            ),
            (
                409,
                "idempotency_in_progress",
                StepError::Retryable {
                    reason: String::new(),
                    effect_may_have_happened: true,
                },
            ),
            (
                412,
                "precondition_failed",
                StepError::Retryable {
                    reason: String::new(),
                    effect_may_have_happened: false,
                },
            ),
            (
                422,
                "idempotency_key_reuse",
                StepError::Terminal {
                    class: FailureClass::Validation,
                    reason: String::new(),
                },
            ),
            (
                429,
                "rate_limited",
                StepError::Retryable {
                    reason: String::new(),
                    effect_may_have_happened: false,
                },
            ),
            (
                500,
                "internal",
                StepError::Retryable {
                    reason: String::new(),
                    effect_may_have_happened: true,
                },
            ),
            (
                503,
                "unavailable",
                StepError::Retryable {
                    reason: String::new(),
                    effect_may_have_happened: false,
                },
            ),
        ];
        for (status, code, expected) in cases {
            let e =
                ClarityError::from_problem_reply("op", &reply(status, problem(status, code), &[]));
            assert_eq!(e.http_status(), Some(status));
            assert_eq!(e.problem_code(), Some(ProblemCode::parse(code)), "{code}");
            assert!(e.to_string().contains("req-1"), "{e}");
            let got = StepError::from(e.clone());
            match (&got, &expected) {
                (StepError::Terminal { class: a, .. }, StepError::Terminal { class: b, .. }) => {
                    assert_eq!(a, b, "{code}")
                }
                (
                    StepError::Retryable {
                        effect_may_have_happened: a,
                        ..
                    },
                    StepError::Retryable {
                        effect_may_have_happened: b,
                        ..
                    },
                ) => assert_eq!(a, b, "{code}"),
                _ => panic!("{code}: {got:?} vs {expected:?}"),
            }
            assert_eq!(e.is_retryable(), matches!(status, 429 | 503), "{code}");
            assert_eq!(e.is_conflict(), status == 412);
            assert_eq!(e.is_token_rejected(), status == 401);
        }
    }

    #[test]
    fn retry_after_is_read_and_detail_is_pii_masked() {
        let e = ClarityError::from_problem_reply(
            "get order",
            &reply(429, problem(429, "rate_limited"), &[("Retry-After", "7")]),
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        let mut body = problem(422, "validation_failed");
        body["detail"] = serde_json::json!("customer ada@example.com has phone +1 415 555 0100");
        body["errors"] =
            serde_json::json!([{"field": "email", "message": "ada@example.com is taken"}]);
        let e = ClarityError::from_problem_reply("put customer", &reply(422, body, &[]));
        let s = e.to_string();
        assert!(
            !s.contains("ada@example.com") && !s.contains("555 0100"),
            "{s}"
        );
        assert!(s.contains("a***@e***.com"), "{s}");
        // A non-JSON error body still gives a typed error.
        let r = Reply {
            status: 502,
            headers: reqwest::header::HeaderMap::new(),
            body: b"<html>bad gateway</html>".to_vec(),
        };
        let e = ClarityError::from_problem_reply("get order", &r);
        assert!(matches!(e, ClarityError::Api { status: 502, .. }));
        assert!(matches!(
            StepError::from(e),
            StepError::Retryable {
                effect_may_have_happened: true,
                ..
            }
        ));
    }

    #[test]
    fn transport_and_token_errors() {
        let not_sent = ClarityError::Transport {
            operation: "get order",
            failure: TransportFailure {
                reason: "connection failed".into(),
                sent: false,
            },
        };
        assert!(not_sent.is_retryable());
        assert!(matches!(
            StepError::from(not_sent),
            StepError::Retryable {
                effect_may_have_happened: false,
                ..
            }
        ));
        let timeout = ClarityError::Transport {
            operation: "create shipment",
            failure: TransportFailure {
                reason: "timed out".into(),
                sent: true,
            },
        };
        assert!(matches!(
            StepError::from(timeout),
            StepError::Retryable {
                effect_may_have_happened: true,
                ..
            }
        ));
        let bad_client = ClarityError::Token {
            operation: "get order",
            error: OAuthError::Rejected {
                status: 401,
                error: "invalid_client".into(),
                description: None,
            },
        };
        assert!(!bad_client.is_retryable());
        assert_eq!(bad_client.failure_class(), Some(FailureClass::TerminalApi));
    }
}
