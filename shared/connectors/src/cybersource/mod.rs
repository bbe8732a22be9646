//! Cybersource: HTTP Signature request signing and `v-c-signature` notification verification.

mod js_json;
pub mod signing;
pub mod webhook;

pub use signing::{
    body_digest, decode_secret_key, http_date, request_target, HttpSignatureSigner, Method,
    SignedHeaders, SigningError,
};
pub use webhook::{
    payload_member_compact, signed_message, SignatureHeader, SignedContent, WebhookKey,
    WebhookSignatureError, WebhookVerifier, SIGNATURE_HEADER,
};
