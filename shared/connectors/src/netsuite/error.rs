//! NetSuite error taxonomy and its mapping to the domain's [`StepError`].
//!
//! NetSuite answers errors as `{type, title, status, "o:errorDetails": [{detail, "o:errorCode"}]}`
//! (`ERP_CRM_ASSUMED.md`).
//!
//! | what happened | variant | retried here | [`StepError`] |
//! |---|---|---|---|
//! | no connection / timeout | `Transport` | yes (upserts by external id and reads are retry-safe) | `Retryable` |
//! | 429, 503 (`CONCURRENCY_LIMIT_EXCEEDED`, maintenance) | `Throttled` | yes, honouring `Retry-After` | `Retryable`, effect did not happen |
//! | 400 `RCRD_HAS_BEEN_CHANGED` (concurrent edit) | `Api` | no | `Retryable`, effect did not happen |
//! | other 400 (`USER_ERROR`, `INVALID_ID`, ...) | `Api` | no | `Terminal(Validation)` |
//! | 401 (after the one token refresh), 403 | `Api` | no | `Terminal(TerminalApi)` |
//! | 404 `NONEXISTENT_ID` | `Api` | no | `Terminal(NotFound)` |
//! | other 5xx | `Api` | no | `Retryable`, effect may have happened |

use std::time::Duration;

use o2c_domain::pii::{mask_text, MaskPolicy};
use o2c_domain::recipe::{FailureClass, StepError};
use serde::Deserialize;

use crate::http::oauth::{OAuthError, TokenRejection};
use crate::http::rest::{ApiError, RetryAfterHint};
use crate::http::retry::Retryable;
use crate::http::transport::{parse_retry_after, Reply, TransportFailure};

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorDetail {
    detail: Option<String>,
    #[serde(rename = "o:errorCode")]
    error_code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorBody {
    title: Option<String>,
    #[serde(rename = "o:errorDetails")]
    details: Vec<ErrorDetail>,
}

/// Errors from a NetSuite call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErpError {
    #[error("netsuite {operation}: {failure}")]
    Transport {
        operation: &'static str,
        failure: TransportFailure,
    },
    #[error("netsuite {operation}: throttled (HTTP {status}) {code}: {detail}")]
    Throttled {
        operation: &'static str,
        status: u16,
        retry_after: Option<Duration>,
        code: String,
        detail: String,
    },
    #[error("netsuite {operation}: HTTP {status} {code}: {detail}")]
    Api {
        operation: &'static str,
        status: u16,
        /// `o:errorCode` of the first error detail (`USER_ERROR`, `NONEXISTENT_ID`, ...).
        code: String,
        detail: String,
    },
    #[error("netsuite {operation}: {error}")]
    Token {
        operation: &'static str,
        error: OAuthError,
    },
    #[error("netsuite {operation}: unexpected answer (HTTP {status}): {reason}")]
    Protocol {
        operation: &'static str,
        status: u16,
        reason: String,
    },
    #[error("netsuite {operation}: invalid request: {reason}")]
    InvalidRequest {
        operation: &'static str,
        reason: String,
    },
}

impl ErpError {
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ErpError::Throttled { status, .. }
            | ErpError::Api { status, .. }
            | ErpError::Protocol { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `o:errorCode`, when there was one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            ErpError::Throttled { code, .. } | ErpError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn failure_class(&self) -> Option<FailureClass> {
        match StepError::from(self.clone()) {
            StepError::Terminal { class, .. } => Some(class),
            _ => None,
        }
    }
}

impl ApiError for ErpError {
    fn transport(operation: &'static str, failure: TransportFailure) -> Self {
        ErpError::Transport { operation, failure }
    }

    fn invalid_request(operation: &'static str, reason: String) -> Self {
        ErpError::InvalidRequest { operation, reason }
    }

    fn token(operation: &'static str, error: OAuthError) -> Self {
        ErpError::Token { operation, error }
    }

    fn from_reply(operation: &'static str, reply: &Reply) -> Self {
        let body: ErrorBody = reply.json().unwrap_or_default();
        let first = body.details.into_iter().next().unwrap_or_default();
        let code = first.error_code.unwrap_or_else(|| "UNKNOWN".into());
        let detail = first
            .detail
            .or(body.title)
            .unwrap_or_else(|| reply.snippet(200));
        let detail = mask_text(&detail, MaskPolicy::LOGS).into_owned();
        let status = reply.status;
        if matches!(status, 429 | 503) {
            ErpError::Throttled {
                operation,
                status,
                retry_after: reply
                    .header("retry-after")
                    .and_then(|v| parse_retry_after(v, std::time::SystemTime::now())),
                code,
                detail,
            }
        } else {
            ErpError::Api {
                operation,
                status,
                code,
                detail,
            }
        }
    }
}

impl Retryable for ErpError {
    fn is_retryable(&self) -> bool {
        match self {
            ErpError::Transport { .. } | ErpError::Throttled { .. } => true,
            ErpError::Token { error, .. } => error.is_retryable(),
            _ => false,
        }
    }
}

impl RetryAfterHint for ErpError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ErpError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl TokenRejection for ErpError {
    fn is_token_rejected(&self) -> bool {
        matches!(self, ErpError::Api { status: 401, .. })
    }
}

impl From<ErpError> for StepError {
    fn from(e: ErpError) -> Self {
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
            ErpError::Transport { failure, .. } => retryable(failure.sent),
            ErpError::Throttled { .. } => retryable(false),
            ErpError::Token { error, .. } => {
                if error.is_retryable() {
                    retryable(false)
                } else {
                    terminal(FailureClass::TerminalApi)
                }
            }
            ErpError::Protocol { .. } => terminal(FailureClass::Internal),
            ErpError::InvalidRequest { .. } => terminal(FailureClass::Validation),
            ErpError::Api { status, code, .. } => match status {
                _ if code == "RCRD_HAS_BEEN_CHANGED" => retryable(false),
                404 => terminal(FailureClass::NotFound),
                400 | 422 => terminal(FailureClass::Validation),
                s if *s >= 500 => retryable(true),
                _ => terminal(FailureClass::TerminalApi),
            },
        }
    }
}
