//! Cybersource: the REST client behind the [`PaymentGateway`] port, wire DTOs, the one status →
//! outcome mapping, the error taxonomy, HTTP Signature request signing and `v-c-signature`
//! notification verification.
//!
//! | module | what |
//! |---|---|
//! | [`client`] | HTTP plumbing: sign the exact body bytes, send, classify, retry |
//! | [`dto`] | wire DTOs (docs/cybersource.md), one module per API (payments, search, TMS, reporting) |
//! | [`convert`] | gateway inputs → request DTOs, response DTOs → gateway results (exact money) |
//! | [`gateway`] | the [`PaymentGateway`] port and its inputs/results, in domain terms |
//! | [`outcome`] | status + risk decision + reason → [`PaymentOutcome`] (the one place) |
//! | [`error`] | [`CybersourceError`] and its mapping to the domain's `StepError` |
//! | [`credentials`] | the Secrets Manager JSON |
//! | [`signing`] / [`webhook`] / [`notification`] | request signing, notification signature, envelope |
//! | `fake` (feature `fakes`) | an in-memory `PaymentGateway` with the money rules, for pipeline unit tests |

pub mod card;
pub mod client;
pub mod convert;
pub mod credentials;
pub mod dto;
pub mod error;
#[cfg(any(test, feature = "fakes"))]
pub mod fake;
pub mod gateway;
mod js_json;
pub mod notification;
pub mod outcome;
pub mod signing;
pub mod webhook;

pub use client::{ClientConfig, CybersourceClient};
pub use credentials::{CredentialsError, CybersourceCredentials, WebhookKeyCredentials};
pub use error::{CybersourceError, FieldDetail, TerminalError};
pub use gateway::{
    AuthorizationInput, AuthorizationResult, CaptureInput, ChargebackReportEntry, CustomerInput,
    Deadline, FollowOnResult, IssuedTokens, PaymentGateway, PaymentSource, RefundInput,
    RequestExtras, ReversalInput, TimeoutReversalInput, TimeoutVoidInput, TmsCustomer,
    TmsPaymentInstrument, TmsTokens, TokenizeInput, TransactionDetails, TransactionSummary,
    VoidInput, VoidTarget, TIMEOUT_REVERSAL_WAIT,
};
pub use notification::{EventKind, Notification, NotificationError};
pub use outcome::{classify, is_soft_decline, Operation, PaymentOutcome, SOFT_DECLINE_REASONS};
pub use signing::{
    body_digest, decode_secret_key, http_date, request_target, HttpSignatureSigner, Method,
    SignedHeaders, SigningError,
};
pub use webhook::{
    payload_member_compact, signed_message, SignatureHeader, SignedContent, WebhookKey,
    WebhookSignatureError, WebhookVerifier, DEFAULT_MAX_BODY_BYTES, SIGNATURE_HEADER,
};
