//! Cybersource error taxonomy and its mapping to the domain's [`StepError`].
//!
//! | what happened | class |
//! |---|---|
//! | connection refused / DNS / connect timeout (request never sent) | `Retryable`, effect did not happen |
//! | 429, 503, 408 | `Retryable`, effect did not happen |
//! | 500 and other 5xx on an effectful call | `Retryable`, effect may have happened |
//! | timeout or broken connection after sending, 502, 504 on an effectful call | `OutcomeUnknown` (`docs/cybersource.md` §2.5/§2.6: check status, never resend blindly) |
//! | any of the above on a read (details, search, TMS read, reports) | `Retryable` |
//! | 400 `INVALID_REQUEST` + reason | `Terminal::InvalidRequest` |
//! | 401, 403 | `Terminal::Authentication` |
//! | 404 | `Terminal::NotFound` |
//! | other 4xx (409, 410, 424, ...) | `Terminal::Rejected` |
//! | a 201 follow-on whose status is a decline / invalid | `Terminal::Declined` |
//!
//! No variant carries secret material; messages come from Cybersource's error bodies or from
//! our own code.

use o2c_domain::recipe::{FailureClass, StepError};

use crate::http::retry::Retryable;

pub use super::dto::FieldDetail;

/// Errors from a Cybersource call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CybersourceError {
    /// Safe to send again as is. `effect_may_have_happened` is false only when the request
    /// provably did not take effect (never sent, 503/429).
    #[error("cybersource {operation}: retryable: {reason}")]
    Retryable {
        operation: &'static str,
        reason: String,
        http_status: Option<u16>,
        effect_may_have_happened: bool,
    },
    /// The request was sent and the answer was lost or inconclusive (timeout, 502, 504). Do not
    /// resend blindly: reconcile by reference (transaction search), then reverse/void by
    /// `transactionId` if needed (docs/cybersource.md, unknown outcomes).
    #[error("cybersource {operation}: outcome unknown: {reason}")]
    OutcomeUnknown {
        operation: &'static str,
        reason: String,
        http_status: Option<u16>,
    },
    /// Will not succeed if repeated.
    #[error("cybersource {operation}: {error}")]
    Terminal {
        operation: &'static str,
        error: TerminalError,
    },
}

/// Why a call failed for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerminalError {
    /// HTTP 400 `INVALID_REQUEST` (or another 4xx with an error body) with its reason
    /// (`MISSING_FIELD`, `INVALID_DATA`, `EXCEEDS_AUTH_AMOUNT`, ...).
    #[error("invalid request (HTTP {http_status}, {reason}): {message}")]
    InvalidRequest {
        http_status: u16,
        reason: String,
        message: String,
        details: Vec<FieldDetail>,
    },
    /// HTTP 401 (signature/credentials) or 403 (not permitted).
    #[error("authentication failed (HTTP {http_status}): {message}")]
    Authentication { http_status: u16, message: String },
    /// HTTP 404.
    #[error("not found: {message}")]
    NotFound { message: String },
    /// Another 4xx (TMS 409 linked token, 410 deleted, 424 profile, ...).
    #[error("rejected (HTTP {http_status}): {message}")]
    Rejected {
        http_status: u16,
        reason: Option<String>,
        message: String,
    },
    /// A follow-on (capture, refund, reversal, void) answered 201 with a status that is not a
    /// success for it (`DECLINED`, `INVALID_REQUEST`, `FAILED`, or a status we do not know).
    #[error("declined ({status}{}){}", reason.as_deref().map(|r| format!(", {r}")).unwrap_or_default(), transaction_id.as_deref().map(|t| format!(" transaction {t}")).unwrap_or_default())]
    Declined {
        status: String,
        reason: Option<String>,
        message: Option<String>,
        transaction_id: Option<String>,
    },
    /// The response could not be read (not JSON, missing id, bad amount).
    #[error("unexpected response (HTTP {http_status}): {message}")]
    UnexpectedResponse { http_status: u16, message: String },
    /// Our input was refused before sending (bad amount, bad reference).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Our configuration is broken (base URL, credentials, signing).
    #[error("configuration: {0}")]
    Configuration(String),
}

impl CybersourceError {
    pub fn terminal(operation: &'static str, error: TerminalError) -> Self {
        CybersourceError::Terminal { operation, error }
    }

    pub fn operation(&self) -> &'static str {
        match self {
            CybersourceError::Retryable { operation, .. }
            | CybersourceError::OutcomeUnknown { operation, .. }
            | CybersourceError::Terminal { operation, .. } => operation,
        }
    }

    /// HTTP status of the response, if one was received.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            CybersourceError::Retryable { http_status, .. }
            | CybersourceError::OutcomeUnknown { http_status, .. } => *http_status,
            CybersourceError::Terminal { error, .. } => match error {
                TerminalError::InvalidRequest { http_status, .. }
                | TerminalError::Authentication { http_status, .. }
                | TerminalError::Rejected { http_status, .. }
                | TerminalError::UnexpectedResponse { http_status, .. } => Some(*http_status),
                TerminalError::NotFound { .. } => Some(404),
                TerminalError::Declined { .. } => Some(201),
                TerminalError::InvalidInput(_) | TerminalError::Configuration(_) => None,
            },
        }
    }

    /// The Cybersource `reason` (`INVALID_DATA`, `EXCEEDS_AUTH_AMOUNT`, ...), if any.
    pub fn reason_code(&self) -> Option<&str> {
        match self {
            CybersourceError::Terminal {
                error: TerminalError::InvalidRequest { reason, .. },
                ..
            } => Some(reason),
            CybersourceError::Terminal {
                error:
                    TerminalError::Rejected { reason, .. } | TerminalError::Declined { reason, .. },
                ..
            } => reason.as_deref(),
            _ => None,
        }
    }

    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, CybersourceError::OutcomeUnknown { .. })
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self, CybersourceError::Terminal { .. })
    }

    /// The domain failure class of a terminal error.
    pub fn failure_class(&self) -> Option<FailureClass> {
        let CybersourceError::Terminal { error, .. } = self else {
            return None;
        };
        Some(match error {
            TerminalError::InvalidRequest { reason, .. }
                if reason == "INVALID_DATA" || reason == "MISSING_FIELD" =>
            {
                FailureClass::Validation
            }
            TerminalError::InvalidInput(_) => FailureClass::Validation,
            TerminalError::Configuration(_) => FailureClass::Internal,
            _ => FailureClass::TerminalApi,
        })
    }
}

impl Retryable for CybersourceError {
    fn is_retryable(&self) -> bool {
        matches!(self, CybersourceError::Retryable { .. })
    }

    fn out_of_time(self, why: &str) -> Self {
        match self {
            CybersourceError::Retryable {
                operation,
                reason,
                http_status,
                effect_may_have_happened,
            } => CybersourceError::Retryable {
                operation,
                reason: format!("{reason}; {why}"),
                http_status,
                effect_may_have_happened,
            },
            other => other,
        }
    }
}

impl From<CybersourceError> for StepError {
    fn from(e: CybersourceError) -> Self {
        let reason = e.to_string();
        match e {
            CybersourceError::Retryable {
                effect_may_have_happened,
                ..
            } => StepError::Retryable {
                reason,
                effect_may_have_happened,
            },
            CybersourceError::OutcomeUnknown { .. } => StepError::OutcomeUnknown { reason },
            CybersourceError::Terminal { .. } => StepError::Terminal {
                class: e.failure_class().unwrap_or(FailureClass::TerminalApi),
                reason,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(reason: &str) -> CybersourceError {
        CybersourceError::terminal(
            "capture",
            TerminalError::InvalidRequest {
                http_status: 400,
                reason: reason.into(),
                message: "m".into(),
                details: vec![],
            },
        )
    }

    #[test]
    fn step_error_mapping() {
        let r = CybersourceError::Retryable {
            operation: "authorize",
            reason: "HTTP 503".into(),
            http_status: Some(503),
            effect_may_have_happened: false,
        };
        assert!(r.is_retryable());
        assert_eq!(
            StepError::from(r),
            StepError::Retryable {
                reason: "cybersource authorize: retryable: HTTP 503".into(),
                effect_may_have_happened: false
            }
        );
        let u = CybersourceError::OutcomeUnknown {
            operation: "authorize",
            reason: "timeout".into(),
            http_status: None,
        };
        assert!(!u.is_retryable());
        assert!(matches!(
            StepError::from(u),
            StepError::OutcomeUnknown { .. }
        ));

        for (reason, class) in [
            ("INVALID_DATA", FailureClass::Validation),
            ("MISSING_FIELD", FailureClass::Validation),
            ("EXCEEDS_AUTH_AMOUNT", FailureClass::TerminalApi),
            ("DUPLICATE_REQUEST", FailureClass::TerminalApi),
        ] {
            let e = invalid(reason);
            assert!(!e.is_retryable());
            assert_eq!(e.reason_code(), Some(reason));
            match StepError::from(e) {
                StepError::Terminal {
                    class: c,
                    reason: r,
                } => {
                    assert_eq!(c, class, "{reason}");
                    assert!(r.contains(reason));
                }
                other => panic!("{other:?}"),
            }
        }
        for (err, class) in [
            (
                TerminalError::Authentication {
                    http_status: 401,
                    message: "Authentication Failed".into(),
                },
                FailureClass::TerminalApi,
            ),
            (
                TerminalError::NotFound {
                    message: "x".into(),
                },
                FailureClass::TerminalApi,
            ),
            (
                TerminalError::Declined {
                    status: "DECLINED".into(),
                    reason: Some("INVALID_CARD".into()),
                    message: None,
                    transaction_id: Some("7".into()),
                },
                FailureClass::TerminalApi,
            ),
            (
                TerminalError::InvalidInput("amount".into()),
                FailureClass::Validation,
            ),
            (
                TerminalError::Configuration("base url".into()),
                FailureClass::Internal,
            ),
        ] {
            let e = CybersourceError::terminal("refund", err);
            assert_eq!(e.failure_class(), Some(class));
            assert!(
                matches!(StepError::from(e), StepError::Terminal { class: c, .. } if c == class)
            );
        }
    }

    #[test]
    fn display_is_informative() {
        let e = CybersourceError::terminal(
            "refund",
            TerminalError::Declined {
                status: "DECLINED".into(),
                reason: Some("INVALID_CARD".into()),
                message: None,
                transaction_id: Some("70001".into()),
            },
        );
        assert_eq!(
            e.to_string(),
            "cybersource refund: declined (DECLINED, INVALID_CARD) transaction 70001"
        );
        assert_eq!(e.http_status(), Some(201));
    }
}
