//! Clarity eCommerce: the client for the ASSUMED "Clarity Integration API v1" (the
//! assumed contract and our additions: `shared/connectors/CLARITY_ASSUMED.md`), webhook verification
//! and the typed webhook events.
//!
//! | module | what |
//! |---|---|
//! | [`client`] | the [`ClarityApi`] and [`ClarityOrderList`] ports and their HTTP implementation (OAuth, `If-Match`, `Idempotency-Key`, `CLARITY_ASSUMED.md` §4.8 retries) |
//! | [`dto`] | wire DTOs (`CLARITY_ASSUMED.md` §4.4, E6) and RFC 9457 problems |
//! | [`error`] | [`ClarityError`] and its mapping to the domain's `StepError` |
//! | [`webhook`] | `X-Clarity-Signature` verification (`CLARITY_ASSUMED.md` §4.9) |
//! | [`events`] | the event envelope and typed payloads |
//! | [`credentials`] | the Secrets Manager JSON |
//!
//! Mapping Clarity orders to the canonical model lives in [`crate::mapping::clarity`].

pub mod client;
pub mod credentials;
pub mod dto;
pub mod error;
pub mod events;
#[cfg(any(test, feature = "fakes"))]
pub mod sample;
pub mod webhook;

pub use client::{
    retry_policy, status_already_set, status_idempotency_key, valid_idempotency_key, ClarityApi,
    ClarityClient, ClarityConfig, ClarityOrderList, CustomerUpsert, ListedOrder, OrderListQuery,
    OrderPage, ShipmentCreated, StatusUpdate, Versioned,
};
pub use credentials::ClarityCredentials;
pub use error::{ClarityError, ProblemCode};
pub use events::{ClarityEvent, EventEnvelope, EventError, ReturnRequest};
pub use webhook::{VerifiedEvent, WebhookError, WebhookHeaders, WebhookVerifier};

#[cfg(test)]
mod tests;
