//! Quarantine: a signed, card-free inbound event that fails mapping or validation is kept (not
//! answered 422 and lost) until the integration team fixes the spec or the event and replays it.
//!
//! The record ([`Quarantined`]) holds the raw body (the store encrypts it at rest with the
//! template's KMS key), a PII-masked view for listing, the failure (class, field path, masked
//! value, message) and the spec version it failed under. The port ([`QuarantineStore`]) is
//! implemented on DynamoDB by `o2c-aws`; the logic (what to keep, alerts, replay) is in
//! `o2c-pipeline::quarantine`.

use crate::ports::StoreError;
use crate::Timestamp;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Why an event was quarantined: one metric per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineClass {
    /// A required field is absent (often a field the sender renamed).
    MissingField,
    /// A field's value cannot be read (format, range, unknown code).
    InvalidValue,
    /// Fields that each read fine disagree (line totals, order total).
    Inconsistent,
    /// The event does not have the contract's shape (wrong types, unreadable payload).
    Unreadable,
}

impl QuarantineClass {
    pub const ALL: [QuarantineClass; 4] = [
        QuarantineClass::MissingField,
        QuarantineClass::InvalidValue,
        QuarantineClass::Inconsistent,
        QuarantineClass::Unreadable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QuarantineClass::MissingField => "missing_field",
            QuarantineClass::InvalidValue => "invalid_value",
            QuarantineClass::Inconsistent => "inconsistent",
            QuarantineClass::Unreadable => "unreadable",
        }
    }

    pub fn parse(s: &str) -> Option<QuarantineClass> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for QuarantineClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What failed, where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub class: QuarantineClass,
    /// The field path in the contract's order (`order.customer.email`).
    pub path: String,
    /// The offending value, PII-masked (never card data: such events are refused, not kept).
    pub value: Option<String>,
    pub message: String,
}

/// How a quarantined event was resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// `replayed` (the order was taken in) or `already_known` (it existed: a redelivery or a
    /// racing replay took it in first).
    pub outcome: String,
    pub order_id: Option<String>,
    /// Who replayed it, and when.
    pub by: String,
    pub at: Timestamp,
    /// The spec version it was replayed under.
    pub spec_version: String,
    /// Whether a JSON Patch was applied to the body first.
    pub patched: bool,
}

/// One quarantined event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The sender's event id (the key: a redelivery of the same event is the same record).
    pub event_id: String,
    pub event_type: String,
    /// The sender's order id, when the payload has one.
    pub order_id: Option<String>,
    pub failure: Failure,
    /// The spec version the event failed under.
    pub spec_version: String,
    pub received_at: Timestamp,
    /// The store forgets the record after this (TTL).
    pub expires_at: Timestamp,
    /// Size of the raw body in bytes.
    pub body_bytes: usize,
    /// Hex SHA-256 of the raw body as delivered.
    pub body_hash: String,
    /// The raw body (UTF-8 JSON), `None` when it was over the size cap (or in listings).
    pub body: Option<String>,
    /// The PII-masked view shown in listings (order id, amounts, masked customer).
    pub view: Value,
    /// Deliveries of this event seen while it was quarantined.
    pub deliveries: u32,
    /// `None` while open.
    pub resolution: Option<Resolution>,
}

impl Quarantined {
    pub fn is_open(&self) -> bool {
        self.resolution.is_none()
    }
}

/// What a put did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuarantinePut {
    /// A new record.
    Created,
    /// The event was quarantined before (a redelivery): its delivery count was bumped; here is
    /// the record as stored (without its body).
    Exists(Box<Quarantined>),
}

/// The quarantine store. Writes are conditional; listing goes through an index by day.
#[async_trait]
pub trait QuarantineStore: Send + Sync {
    /// Keep `q` unless its event id is kept already (then count the delivery).
    async fn put(&self, q: &Quarantined) -> Result<QuarantinePut, StoreError>;

    /// One record with its body.
    async fn get(&self, event_id: &str) -> Result<Option<Quarantined>, StoreError>;

    /// The records received on these days (`YYYY-MM-DD`, UTC), newest first, without bodies.
    async fn list(&self, days: &[String]) -> Result<Vec<Quarantined>, StoreError>;

    /// Mark an open record resolved; `false` when it was resolved already (a racing replay).
    async fn resolve(&self, event_id: &str, resolution: &Resolution) -> Result<bool, StoreError>;

    /// Add one to the counter of `window` (e.g. a minute, `2026-12-07T10:31`) and return the
    /// new count (atomic: concurrent writers each see a distinct count).
    async fn count(&self, window: &str, expires_at: Timestamp) -> Result<u64, StoreError>;
}

/// Alerts to the integration team (an SNS topic in AWS).
#[async_trait]
pub trait Alerts: Send + Sync {
    async fn alert(&self, subject: &str, message: &str) -> Result<(), String>;
}
