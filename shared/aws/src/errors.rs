//! Classifying AWS SDK errors without leaking payloads: only the error code, the service's
//! message and (for transport failures) the error chain go into a detail string.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::error::Error;

/// A classified SDK failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SdkFailure {
    /// Worth retrying later: throttling, 5xx, timeouts, network.
    pub retryable: bool,
    /// The service's error code, when the service answered.
    pub code: Option<String>,
    pub detail: String,
}

const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KmsThrottled",
    "KMS.ThrottlingException",
];

pub(crate) fn classify<E, R>(err: &SdkError<E, R>) -> SdkFailure
where
    E: ProvideErrorMetadata + Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().map(str::to_string);
            let message = e.message().unwrap_or("no message");
            let retryable = code
                .as_deref()
                .is_some_and(|c| RETRYABLE_CODES.contains(&c) || c.contains("Throttl"));
            SdkFailure {
                retryable,
                detail: format!("{}: {message}", code.as_deref().unwrap_or("ServiceError")),
                code,
            }
        }
        // Timeouts, dispatch (network) failures, unparseable responses: transient.
        other => SdkFailure {
            retryable: true,
            code: None,
            detail: DisplayErrorContext(other).to_string(),
        },
    }
}

/// An SDK failure as the domain's store error (the detail only: no payload).
pub(crate) fn store_unavailable<E, R>(e: &SdkError<E, R>) -> o2c_domain::ports::StoreError
where
    E: ProvideErrorMetadata + Error + 'static,
    R: std::fmt::Debug,
{
    o2c_domain::ports::StoreError::Unavailable(classify(e).detail)
}

/// Truncate to at most `max` bytes on a char boundary.
pub(crate) fn truncate_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate_bytes("abc", 10), "abc");
        assert_eq!(truncate_bytes("aé", 2), "a");
        assert_eq!(truncate_bytes("aé", 3), "aé");
    }
}
