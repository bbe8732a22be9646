//! Ports: the traits adapters implement (DynamoDB, SQS, Secrets Manager, the system clock)
//! and the in-memory fakes implement for tests.

use crate::ids::OrderId;
use crate::model::Order;
use crate::state::{OrderState, Transition};
use crate::time::Timestamp;
use crate::timeline::TimelineEntry;
use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

// ---------------------------------------------------------------------------------------------
// Order store
// ---------------------------------------------------------------------------------------------

/// A step's claim on an order: who is causing which effect under which reference, until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The step's name (`authorize`, `capture`, ...).
    pub step: String,
    /// The key the effect is recorded under (`capture`, `refund-2`, ...).
    pub effect_key: String,
    /// The deterministic reference sent to the external system.
    pub reference: String,
    /// The state the order was in before the claim; a release goes back to it.
    pub from: OrderState,
    /// The lease: after this instant another worker may take over (after reconciling).
    pub lease_until: Timestamp,
    /// 1 for the first claim, +1 for every takeover of an expired lease.
    pub attempt: u32,
}

/// A recorded external effect: the outcome a step got under a reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectRecord {
    pub reference: String,
    pub outcome: serde_json::Value,
    pub at: Timestamp,
}

/// A cancellation the merchant asked for (Clarity `order.cancelled`), recorded on the order in
/// whatever state it meets it and never removed. Every payment step honours it: authorize and
/// capture do not start once it is recorded, an authorization or capture that completes after
/// it queues the reversal or the full refund, and the void/refund consumer converges the order
/// to `Voided` or `Refunded`. Kept outside the order document, so a step that replaces the
/// document cannot drop it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelIntent {
    /// The Clarity event id of the cancellation.
    pub event_id: String,
    pub reason: String,
    pub at: Timestamp,
}

/// An order as stored: the document, its state, optimistic-lock version, claim, recorded
/// effects, timeline and the cancellation intent, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    pub order: Order,
    pub state: OrderState,
    pub version: u64,
    #[serde(default)]
    pub claim: Option<Claim>,
    #[serde(default)]
    pub effects: BTreeMap<String, EffectRecord>,
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<CancelIntent>,
}

impl OrderRecord {
    /// A new record in `Received`, version 1.
    pub fn received(order: Order, entry: TimelineEntry) -> Self {
        OrderRecord {
            order,
            state: OrderState::Received,
            version: 1,
            claim: None,
            effects: BTreeMap::new(),
            timeline: vec![entry],
            cancel: None,
        }
    }
}

/// The condition a conditional update requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The order is in `state` at `version` (optimistic lock).
    StateVersion { state: OrderState, version: u64 },
    /// The order is in the in-progress `state` under a claim with `reference`.
    Claimed {
        state: OrderState,
        reference: String,
    },
    /// As `Claimed`, and the claim's lease ended at or before `now` (takeover).
    LeaseExpired {
        state: OrderState,
        reference: String,
        now: Timestamp,
    },
    /// The order exists, in any state and version (a change that must land whatever a running
    /// step is doing: recording a cancellation intent). Never with a transition.
    Exists,
}

/// What to do with the claim in a conditional update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimChange {
    Keep,
    Set(Claim),
    Clear,
}

/// A conditional update. The version always increases by one; the timeline entry is appended
/// in the same write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// `None` leaves the state as it is (timeline notes, lease takeovers).
    pub transition: Option<Transition>,
    pub claim: ClaimChange,
    /// Record an effect under a key (refused if the key is already recorded).
    pub effect: Option<(String, EffectRecord)>,
    /// Replace the order document.
    pub order: Option<Order>,
    /// Record the cancellation intent (refused if one is already recorded: the first wins).
    pub cancel: Option<CancelIntent>,
    pub entry: TimelineEntry,
}

impl Expect {
    /// The state the condition requires (`None`: any state).
    pub fn state(&self) -> Option<OrderState> {
        match self {
            Expect::StateVersion { state, .. }
            | Expect::Claimed { state, .. }
            | Expect::LeaseExpired { state, .. } => Some(*state),
            Expect::Exists => None,
        }
    }

    /// Does the stored record satisfy this condition? (The in-memory store's check; the
    /// DynamoDB adapter expresses the same condition as a ConditionExpression.)
    pub fn holds(&self, record: &OrderRecord) -> bool {
        match self {
            Expect::StateVersion { state, version } => {
                record.state == *state && record.version == *version
            }
            Expect::Claimed { state, reference } => {
                record.state == *state
                    && record
                        .claim
                        .as_ref()
                        .is_some_and(|c| &c.reference == reference)
            }
            Expect::LeaseExpired {
                state,
                reference,
                now,
            } => {
                record.state == *state
                    && record
                        .claim
                        .as_ref()
                        .is_some_and(|c| &c.reference == reference && c.lease_until <= *now)
            }
            Expect::Exists => true,
        }
    }
}

impl Change {
    /// A change must start from the state its condition expects. Every store calls this before
    /// writing.
    pub fn validate(&self, expect: &Expect) -> Result<(), StoreError> {
        if let Some(t) = &self.transition {
            match expect.state() {
                Some(s) if s == t.from() => {}
                Some(s) => {
                    return Err(StoreError::InvalidChange(format!(
                        "transition {} -> {} but the condition expects {s}",
                        t.from(),
                        t.to(),
                    )))
                }
                None => {
                    return Err(StoreError::InvalidChange(format!(
                        "transition {} -> {} needs a condition on the state",
                        t.from(),
                        t.to(),
                    )))
                }
            }
        }
        Ok(())
    }

    /// Apply to a record whose condition was checked (in-memory store; tests).
    pub fn apply_to(self, record: &mut OrderRecord) {
        if let Some(t) = self.transition {
            record.state = t.to();
        }
        match self.claim {
            ClaimChange::Keep => {}
            ClaimChange::Set(c) => record.claim = Some(c),
            ClaimChange::Clear => record.claim = None,
        }
        if let Some((k, e)) = self.effect {
            record.effects.insert(k, e);
        }
        if let Some(o) = self.order {
            record.order = o;
        }
        if let Some(c) = self.cancel {
            record.cancel = Some(c);
        }
        record.timeline.push(self.entry);
        record.version += 1;
    }

    pub fn note(entry: TimelineEntry) -> Self {
        Change {
            transition: None,
            claim: ClaimChange::Keep,
            effect: None,
            order: None,
            cancel: None,
            entry,
        }
    }
}

/// Store failures, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("order {0} not found")]
    NotFound(String),
    #[error("order {0} already exists")]
    AlreadyExists(String),
    /// The condition did not hold: someone else changed the order first.
    #[error("condition failed on order {id}: {detail}")]
    ConditionFailed { id: String, detail: String },
    /// A transition's `from` does not match the expected state.
    #[error("change does not start from the expected state: {0}")]
    InvalidChange(String),
    /// The backend failed (throttling, network); retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back.
    #[error("corrupt record for {id}: {detail}")]
    Corrupt { id: String, detail: String },
}

/// An idempotency record: a key seen once, with a hash of its payload, kept until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Scope of the key (`clarity-webhook`, `cybs-notification`, ...).
    pub scope: String,
    pub key: String,
    /// Hex SHA-256 (or similar) of the payload: a reused key with another payload is a conflict.
    pub payload_hash: String,
    pub created_at: Timestamp,
    /// The TTL: the store may forget the record after this.
    pub expires_at: Timestamp,
    /// What the first processing produced, for answering duplicates the same way.
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    /// The key was there already; here is what is stored.
    Exists(IdempotencyRecord),
}

/// The order store. Every write is conditional.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Consistent read of an order.
    async fn get(&self, id: &OrderId) -> Result<Option<OrderRecord>, StoreError>;

    /// Put a new record if no record with its id exists (`AlreadyExists` otherwise).
    async fn create(&self, record: &OrderRecord) -> Result<(), StoreError>;

    /// The one conditional write: if `expect` holds, apply `change` (state, claim, effect,
    /// document, timeline, version + 1) atomically and return the new record.
    async fn update(
        &self,
        id: &OrderId,
        expect: Expect,
        change: Change,
    ) -> Result<OrderRecord, StoreError>;

    /// Put an idempotency record unless its key exists.
    async fn put_idempotency(&self, record: &IdempotencyRecord) -> Result<PutOutcome, StoreError>;

    /// Conditional transition with expected state + version.
    async fn transition(
        &self,
        id: &OrderId,
        transition: Transition,
        expected_version: u64,
        order: Option<Order>,
        entry: TimelineEntry,
    ) -> Result<OrderRecord, StoreError> {
        let expect = Expect::StateVersion {
            state: transition.from(),
            version: expected_version,
        };
        let change = Change {
            transition: Some(transition),
            claim: ClaimChange::Keep,
            effect: None,
            order,
            cancel: None,
            entry: entry.with_states(transition.from(), transition.to()),
        };
        self.update(id, expect, change).await
    }

    /// Claim with lease: `from → in_progress` at `expected_version`, storing the claim.
    async fn claim(
        &self,
        id: &OrderId,
        transition: Transition,
        expected_version: u64,
        claim: Claim,
        entry: TimelineEntry,
    ) -> Result<OrderRecord, StoreError> {
        if !transition.to().is_in_progress() || claim.from != transition.from() {
            return Err(StoreError::InvalidChange(format!(
                "claim must move to an in-progress state from the claim's own state, got {} -> {}",
                transition.from(),
                transition.to()
            )));
        }
        let expect = Expect::StateVersion {
            state: transition.from(),
            version: expected_version,
        };
        let change = Change {
            transition: Some(transition),
            claim: ClaimChange::Set(claim),
            effect: None,
            order: None,
            cancel: None,
            entry: entry.with_states(transition.from(), transition.to()),
        };
        self.update(id, expect, change).await
    }

    /// Append `entry` unless the timeline `record` saw already holds its reference
    /// (`external_ref`): `Ok(false)` when it was there. A change since `record` is
    /// `ConditionFailed` (the caller reads again or asks the sender to retry).
    async fn note_once(
        &self,
        record: &OrderRecord,
        entry: TimelineEntry,
    ) -> Result<bool, StoreError> {
        let key = entry.external_ref.as_deref();
        if key.is_some()
            && record
                .timeline
                .iter()
                .any(|e| e.external_ref.as_deref() == key)
        {
            return Ok(false);
        }
        self.append_timeline(&record.order.id, record.state, record.version, entry)
            .await
            .map(|_| true)
    }

    /// Append a timeline entry without changing the state.
    async fn append_timeline(
        &self,
        id: &OrderId,
        state: OrderState,
        version: u64,
        entry: TimelineEntry,
    ) -> Result<OrderRecord, StoreError> {
        self.update(
            id,
            Expect::StateVersion { state, version },
            Change::note(entry),
        )
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// Publisher
// ---------------------------------------------------------------------------------------------

/// The queues of the pipeline (`docs/architecture.md` §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueName {
    Orders,
    Captures,
    Refunds,
    ClaritySync,
    ErpSync,
}

impl QueueName {
    pub const ALL: [QueueName; 5] = [
        QueueName::Orders,
        QueueName::Captures,
        QueueName::Refunds,
        QueueName::ClaritySync,
        QueueName::ErpSync,
    ];

    /// The environment variable that holds the queue's URL.
    pub const fn url_env(self) -> &'static str {
        match self {
            QueueName::Orders => "ORDERS_QUEUE_URL",
            QueueName::Captures => "CAPTURES_QUEUE_URL",
            QueueName::Refunds => "REFUNDS_QUEUE_URL",
            QueueName::ClaritySync => "CLARITY_SYNC_QUEUE_URL",
            QueueName::ErpSync => "ERP_SYNC_QUEUE_URL",
        }
    }

    /// The environment variable that holds the URL of the queue's dead-letter queue.
    pub const fn dlq_url_env(self) -> &'static str {
        match self {
            QueueName::Orders => "ORDERS_DLQ_URL",
            QueueName::Captures => "CAPTURES_DLQ_URL",
            QueueName::Refunds => "REFUNDS_DLQ_URL",
            QueueName::ClaritySync => "CLARITY_SYNC_DLQ_URL",
            QueueName::ErpSync => "ERP_SYNC_DLQ_URL",
        }
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            QueueName::Orders => "orders",
            QueueName::Captures => "captures",
            QueueName::Refunds => "refunds",
            QueueName::ClaritySync => "clarity-sync",
            QueueName::ErpSync => "erp-sync",
        };
        f.write_str(s)
    }
}

/// A message for a FIFO queue. The dedup id is deterministic, so a re-send after a crash is
/// recognisable downstream (SQS dedup is a help, never relied on for correctness).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub queue: QueueName,
    pub group_id: String,
    pub dedup_id: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("publish to {queue} failed: {detail}")]
pub struct PublishError {
    pub queue: QueueName,
    pub detail: String,
}

#[async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, message: &OutboundMessage) -> Result<(), PublishError>;

    /// Publish in order; stops at the first failure.
    async fn publish_all(&self, messages: &[OutboundMessage]) -> Result<(), PublishError> {
        for m in messages {
            self.publish(m).await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets and clock
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret {0} not found")]
    NotFound(String),
    #[error("secret {id} unavailable: {detail}")]
    Unavailable { id: String, detail: String },
    #[error("secret {id} is malformed: {detail}")]
    Malformed { id: String, detail: String },
}

/// Where credentials come from (Secrets Manager in production). Values are `SecretString`, which
/// redacts itself in `Debug` and has no `Display`.
/// Dynamic routing's persistent state: the routing document and the approval statistics of
/// each route (see [`crate::routing::stats`]). A statistics write is a commutative counter
/// increment on one (route, segment, bucket, shard) item, so concurrent writers never conflict
/// and never read first; the shard spreads one busy route's writes over several partitions.
#[async_trait]
pub trait RoutingStore: Send + Sync {
    /// The routing document (JSON text), if one was put in the store.
    async fn routing_document(&self) -> Result<Option<String>, StoreError>;

    /// Count one observation in the bucket starting at `bucket`, on write shard `shard`; the
    /// store may forget the bucket after `expires_at`.
    async fn record(
        &self,
        route: &str,
        segment: &str,
        bucket: Timestamp,
        shard: u8,
        observation: crate::routing::Observation,
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Every bucket of (route, segment) starting at or after `since`, shards summed, oldest
    /// first.
    async fn buckets(
        &self,
        route: &str,
        segment: &str,
        since: Timestamp,
        shards: u8,
    ) -> Result<Vec<crate::routing::Bucket>, StoreError>;
}

#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret(&self, id: &str) -> Result<SecretString, SecretError>;
}

/// Wall-clock time, injectable: the one clock of the workspace (the connectors' OAuth token
/// cache reads it too; tests move [`crate::fakes::ManualClock`] by hand).
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(std::time::SystemTime::now())
    }
}

// ---------------------------------------------------------------------------------------------
// Cybersource identifiers: the reference index and unknown notifications
// ---------------------------------------------------------------------------------------------

/// An identifier we send to Cybersource or get back from it, which names one of our orders.
///
/// Every kind lives in one namespace (the value): our references and attempt ids always hold a
/// `-` (`<order or its hash>-<suffix>[-<attempt>]`) and suffixes are never all digits, while
/// Cybersource transaction ids are plain digits, so two kinds never share a value; a lookup by
/// value therefore serves a caller that does not know which kind it holds (a notification's
/// `id` / `transactionId`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum CybsKey {
    /// `clientReferenceInformation.code`: a step's deterministic reference, hashed for order
    /// ids over 45 characters.
    Reference(String),
    /// The order part of a hashed reference (`o2c<hash>` of `o2c<hash>-<suffix>`), shared by all
    /// of the order's references: a follow-on request finds its order from it.
    ReferenceStem(String),
    /// `clientReferenceInformation.transactionId`: one attempt under a reference.
    AttemptId(String),
    /// A Cybersource transaction id (authorization, capture, refund, reversal, void).
    Transaction(String),
}

impl CybsKey {
    pub fn value(&self) -> &str {
        match self {
            CybsKey::Reference(v)
            | CybsKey::ReferenceStem(v)
            | CybsKey::AttemptId(v)
            | CybsKey::Transaction(v) => v,
        }
    }

    pub const fn kind(&self) -> &'static str {
        match self {
            CybsKey::Reference(_) => "reference",
            CybsKey::ReferenceStem(_) => "reference_stem",
            CybsKey::AttemptId(_) => "attempt_id",
            CybsKey::Transaction(_) => "transaction",
        }
    }
}

impl fmt::Display for CybsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.value())
    }
}

/// The lookup from every reference and transaction id we send to (or get from) Cybersource back
/// to its order: references and attempt ids are remembered *before* the request goes out, the
/// ids Cybersource returns right after. Entries are kept as long as the order (no TTL).
#[async_trait]
pub trait ReferenceIndex: Send + Sync {
    /// Remember that each of `keys` names `order`. Idempotent. A key that already names
    /// *another* order is refused with `ConditionFailed` (and nothing is overwritten).
    async fn remember(&self, order: &OrderId, keys: &[CybsKey]) -> Result<(), StoreError>;

    /// The order a value (of any [`CybsKey`] kind) names, if it was remembered.
    async fn order_of(&self, value: &str) -> Result<Option<OrderId>, StoreError>;
}

/// An authentic Cybersource notification about something we do not know (no order for its
/// reference or transaction): acknowledged, counted, and kept for the console and
/// reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownNotification {
    /// The notification's id (or the dedup key the receiver used for it).
    pub notification_id: String,
    pub event_type: String,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Why no order was found, in an operator's words.
    pub reason: String,
    /// When the notification was first received (redeliveries keep the first time, so one
    /// notification is one entry).
    pub received_at: Timestamp,
    /// The store may forget the entry after this.
    pub expires_at: Timestamp,
}

/// The list of unknown notifications, in time order.
#[async_trait]
pub trait UnknownNotifications: Send + Sync {
    /// Add (or overwrite: same notification, same first-received time) one entry.
    async fn record_unknown(&self, entry: &UnknownNotification) -> Result<(), StoreError>;

    /// The entries received at or after `since`, oldest first, at most `limit`.
    async fn unknown_since(
        &self,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<UnknownNotification>, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Dead-letter queues (dlq-redrive)
// ---------------------------------------------------------------------------------------------

/// A message received from a DLQ.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DlqMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub group_id: Option<String>,
    pub receive_count: u32,
    pub sent_timestamp_ms: Option<u64>,
    /// String message attributes (`failure_class`, ...).
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// What dlq-redrive does to queues.
#[async_trait]
pub trait DeadLetterQueues: Send + Sync {
    /// Up to `max` (≤ 10) messages, hidden for `hide_secs`; `wait_secs` of long polling.
    async fn receive(
        &self,
        dlq_url: &str,
        max: usize,
        hide_secs: u32,
        wait_secs: u32,
    ) -> Result<Vec<DlqMessage>, String>;
    /// Send to a FIFO queue; the new message id.
    async fn send(
        &self,
        queue_url: &str,
        body: &str,
        group_id: &str,
        dedup_id: &str,
    ) -> Result<Option<String>, String>;
    async fn delete(&self, dlq_url: &str, receipt_handle: &str) -> Result<(), String>;
    /// Make a received message visible again now.
    async fn release(&self, dlq_url: &str, receipt_handle: &str) -> Result<(), String>;
}

/// How the console finds orders: through indexes, never a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderQuery {
    /// The customer's e-mail (any case), newest first.
    Email(String),
    /// Orders in a state, created within `[from, to]`, newest first.
    State {
        state: OrderState,
        from: Timestamp,
        to: Timestamp,
    },
}

/// One order as a search lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: OrderId,
    pub state: OrderState,
    pub email: String,
    pub total: String,
    pub created_at: Timestamp,
}

/// Order search (the console).
#[async_trait]
pub trait OrderSearch: Send + Sync {
    /// At most `limit` orders matching `query`, newest first.
    async fn search(
        &self,
        query: &OrderQuery,
        limit: usize,
    ) -> Result<Vec<OrderSummary>, StoreError>;
}

/// One audited operator action (the console): who did what to what, when, before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub who: String,
    pub role: String,
    /// `quarantine.replay`, `spec.push`, …
    pub action: String,
    /// What it acted on (an event id, a stage, …).
    pub target: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// The console's audit trail.
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// The newest `limit` entries, newest first.
    async fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
}
