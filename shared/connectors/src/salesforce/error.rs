//! Salesforce error taxonomy and its mapping to the domain's [`StepError`].
//!
//! Salesforce answers errors as `[{"message", "errorCode", "fields"?}]` (`ERP_CRM_ASSUMED.md`).
//!
//! | what happened | variant | retried here | [`StepError`] |
//! |---|---|---|---|
//! | no connection / timeout | `Transport` | yes (the upsert by external id is retry-safe) | `Retryable` |
//! | 429, 503 | `Throttled` | yes, honouring `Retry-After` | `Retryable`, effect did not happen |
//! | 403 `REQUEST_LIMIT_EXCEEDED` (org API limit) | `Api` | no | `Retryable`, effect did not happen |
//! | 300 (external id matches several cases) | `Api` | no | `Terminal(TerminalApi)` |
//! | 400 (`INVALID_FIELD`, `STRING_TOO_LONG`, ...) | `Api` | no | `Terminal(Validation)` |
//! | 401 `INVALID_SESSION_ID` (after the one token refresh), other 403 | `Api` | no | `Terminal(TerminalApi)` |
//! | 404 | `Api` | no | `Terminal(NotFound)` |
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
#[serde(default, rename_all = "camelCase")]
struct SfError {
    message: Option<String>,
    error_code: Option<String>,
    fields: Vec<String>,
}

/// Errors from a Salesforce call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmError {
    #[error("salesforce {operation}: {failure}")]
    Transport {
        operation: &'static str,
        failure: TransportFailure,
    },
    #[error("salesforce {operation}: throttled (HTTP {status}) {code}: {message}")]
    Throttled {
        operation: &'static str,
        status: u16,
        retry_after: Option<Duration>,
        code: String,
        message: String,
    },
    #[error("salesforce {operation}: HTTP {status} {code}: {message}{}", if fields.is_empty() { String::new() } else { format!(" (fields {})", fields.join(", ")) })]
    Api {
        operation: &'static str,
        status: u16,
        /// `errorCode` of the first error (`INVALID_FIELD`, `INVALID_SESSION_ID`, ...).
        code: String,
        message: String,
        fields: Vec<String>,
    },
    #[error("salesforce {operation}: {error}")]
    Token {
        operation: &'static str,
        error: OAuthError,
    },
    #[error("salesforce {operation}: unexpected answer (HTTP {status}): {reason}")]
    Protocol {
        operation: &'static str,
        status: u16,
        reason: String,
    },
    #[error("salesforce {operation}: invalid request: {reason}")]
    InvalidRequest {
        operation: &'static str,
        reason: String,
    },
}

impl CrmError {
    pub fn http_status(&self) -> Option<u16> {
        match self {
            CrmError::Throttled { status, .. }
            | CrmError::Api { status, .. }
            | CrmError::Protocol { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn error_code(&self) -> Option<&str> {
        match self {
            CrmError::Throttled { code, .. } | CrmError::Api { code, .. } => Some(code),
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

impl ApiError for CrmError {
    fn transport(operation: &'static str, failure: TransportFailure) -> Self {
        CrmError::Transport { operation, failure }
    }

    fn invalid_request(operation: &'static str, reason: String) -> Self {
        CrmError::InvalidRequest { operation, reason }
    }

    fn token(operation: &'static str, error: OAuthError) -> Self {
        CrmError::Token { operation, error }
    }

    fn from_reply(operation: &'static str, reply: &Reply) -> Self {
        let first = reply
            .json::<Vec<SfError>>()
            .ok()
            .and_then(|v| v.into_iter().next())
            .unwrap_or_default();
        let code = first.error_code.unwrap_or_else(|| match reply.status {
            300 => "MULTIPLE_CHOICES".into(),
            _ => "UNKNOWN".into(),
        });
        let message = first.message.unwrap_or_else(|| reply.snippet(200));
        let message = mask_text(&message, MaskPolicy::LOGS).into_owned();
        let status = reply.status;
        if matches!(status, 429 | 503) {
            CrmError::Throttled {
                operation,
                status,
                retry_after: reply
                    .header("retry-after")
                    .and_then(|v| parse_retry_after(v, std::time::SystemTime::now())),
                code,
                message,
            }
        } else {
            CrmError::Api {
                operation,
                status,
                code,
                message,
                fields: first.fields,
            }
        }
    }
}

impl Retryable for CrmError {
    fn is_retryable(&self) -> bool {
        match self {
            CrmError::Transport { .. } | CrmError::Throttled { .. } => true,
            CrmError::Token { error, .. } => error.is_retryable(),
            _ => false,
        }
    }
}

impl RetryAfterHint for CrmError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            CrmError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl TokenRejection for CrmError {
    /// 401 `INVALID_SESSION_ID`: the session (token) expired or was revoked.
    fn is_token_rejected(&self) -> bool {
        matches!(self, CrmError::Api { status: 401, .. })
    }
}

impl From<CrmError> for StepError {
    fn from(e: CrmError) -> Self {
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
            CrmError::Transport { failure, .. } => retryable(failure.sent),
            CrmError::Throttled { .. } => retryable(false),
            CrmError::Token { error, .. } => {
                if error.is_retryable() {
                    retryable(false)
                } else {
                    terminal(FailureClass::TerminalApi)
                }
            }
            CrmError::Protocol { .. } => terminal(FailureClass::Internal),
            CrmError::InvalidRequest { .. } => terminal(FailureClass::Validation),
            CrmError::Api { status, code, .. } => match status {
                403 if code == "REQUEST_LIMIT_EXCEEDED" => retryable(false),
                404 => terminal(FailureClass::NotFound),
                400 => terminal(FailureClass::Validation),
                s if *s >= 500 => retryable(true),
                _ => terminal(FailureClass::TerminalApi),
            },
        }
    }
}
