//! The scheduled pollers: what the external systems publish no webhook for.
//!
//! - [`chargeback`]: the Cybersource chargeback details report (no chargeback webhook exists,
//!   `docs/cybersource.md` §3.3) → disputes: `Captured | PartiallyRefunded → Disputed →
//!   DisputeWon | DisputeLost`, an ERP record, a CRM case and Clarity `on_hold`, once per
//!   chargeback.
//! - [`erp`]: NetSuite item fulfilments and inventory levels → Clarity shipments (with
//!   tracking) and stock, once per fulfilment.
//! - [`catchup`]: Clarity's recently updated orders → every payable order whose
//!   `order.created` webhook never reached us, through the webhook's own intake (alarmed).
//! - [`app`]: wiring for the Lambda binaries.
//!
//! All run on an EventBridge schedule (any JSON event; see each poller for the optional
//! fields an operator may send) and read a window `[cursor − overlap, now]`. The cursor is the
//! end of the last window that finished ([`PollCursor`]); overlapping windows are harmless
//! because every row is processed idempotently, so the overlap absorbs report latency and
//! clock skew. A row that could not be finished holds the cursor at its time, so the next run
//! sees it again; a window never reaches further back than the poller's maximum look-back.

pub mod app;
pub mod catchup;
pub mod chargeback;
pub mod erp;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use o2c_domain::ports::{IdempotencyRecord, OrderStore, PutOutcome, StoreError};
use o2c_domain::Timestamp;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where a scheduled poller resumes: the end of the last window it finished.
#[async_trait]
pub trait PollCursor: Send + Sync {
    /// The stored cursor of `poller`, if any.
    async fn load(&self, poller: &str) -> Result<Option<Timestamp>, StoreError>;
    /// Move the cursor of `poller` forward to `to`; an older `to` leaves it where it is.
    /// Answers the cursor as stored afterwards.
    async fn advance(&self, poller: &str, to: Timestamp) -> Result<Timestamp, StoreError>;
}

/// The idempotency scope of the cursor records.
pub const CURSOR_SCOPE: &str = "poll-cursor";

/// A cursor kept in the orders table as an idempotency record (`IDEM#poll-cursor#<poller>`),
/// written only through the store's one conditional put,
/// `attribute_not_exists(pk) OR expires_at < :created_at` (an expired record counts as absent):
///
/// - **advance(to)** puts a record with `created_at = expires_at = to + RETENTION`. The put
///   succeeds only when the stored cursor is older than `to`: a monotonic compare-and-set, so
///   two overlapping runs can never move the cursor back.
/// - **load** puts a record with `created_at = expires_at = 1970-01-01`, which can never replace
///   a live cursor: it fails and hands back the stored record (a read), or finds none and leaves
///   an already-expired placeholder that the first advance replaces.
///
/// The store compares `expires_at` in whole seconds, so the cursor is kept to the second
/// (rounded down; the overlap covers the rest). `RETENTION` (30 days) keeps the item away from
/// the table's TTL sweeper while the poller runs; a poller stopped for longer starts again from
/// its first look-back. No new item type, no new IAM action (`PutItem` on the table, which the
/// pollers have).
pub struct StoreCursor {
    pub store: Arc<dyn OrderStore>,
}

impl StoreCursor {
    pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

    fn record(poller: &str, at: Timestamp, cursor: Option<Timestamp>) -> IdempotencyRecord {
        IdempotencyRecord {
            scope: CURSOR_SCOPE.to_string(),
            key: poller.to_string(),
            payload_hash: "cursor".to_string(),
            created_at: at,
            expires_at: at,
            result: cursor.map(|c| json!({ "cursor": c })),
        }
    }

    fn cursor_of(r: &IdempotencyRecord) -> Option<Timestamp> {
        r.result
            .as_ref()
            .and_then(|v| v.get("cursor"))
            .and_then(|v| serde_json::from_value::<Timestamp>(v.clone()).ok())
    }
}

#[async_trait]
impl PollCursor for StoreCursor {
    async fn load(&self, poller: &str) -> Result<Option<Timestamp>, StoreError> {
        let probe = Self::record(poller, Timestamp::from_millis(0), None);
        match self.store.put_idempotency(&probe).await? {
            PutOutcome::Created => Ok(None),
            PutOutcome::Exists(r) => Ok(Self::cursor_of(&r)),
        }
    }

    async fn advance(&self, poller: &str, to: Timestamp) -> Result<Timestamp, StoreError> {
        let to = Timestamp::from_millis(to.millis() - to.millis().rem_euclid(1000));
        let record = Self::record(poller, to.plus(Self::RETENTION), Some(to));
        match self.store.put_idempotency(&record).await? {
            PutOutcome::Created => Ok(to),
            // The stored cursor is at or past `to` (this second, or another run got further).
            PutOutcome::Exists(r) => Ok(Self::cursor_of(&r).map_or(to, |c| c.max(to))),
        }
    }
}

/// A cursor in memory (unit tests; the in-memory store does not model record expiry).
#[derive(Default)]
pub struct MemoryCursor(Mutex<BTreeMap<String, Timestamp>>);

#[async_trait]
impl PollCursor for MemoryCursor {
    async fn load(&self, poller: &str) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.0.lock().expect("cursor lock").get(poller).copied())
    }

    async fn advance(&self, poller: &str, to: Timestamp) -> Result<Timestamp, StoreError> {
        let mut m = self.0.lock().expect("cursor lock");
        let e = m.entry(poller.to_string()).or_insert(to);
        if *e < to {
            *e = to;
        }
        Ok(*e)
    }
}

/// How far back a poller reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookback {
    /// Re-read this much before the cursor (report latency, clock skew).
    pub overlap: Duration,
    /// Without a cursor (first run, or after a long stop), start this far back.
    pub first: Duration,
    /// Never further back than this, whatever the cursor says.
    pub max: Duration,
}

/// A poll window `[start, end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// `t − d`.
pub fn minus(t: Timestamp, d: Duration) -> Timestamp {
    Timestamp::from_millis(
        t.millis()
            .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    )
}

impl Window {
    /// The window a scheduled run reads at `now`.
    pub fn scheduled(cursor: Option<Timestamp>, now: Timestamp, lookback: Lookback) -> Window {
        let start = cursor.map_or_else(
            || minus(now, lookback.first),
            |c| minus(c.min(now), lookback.overlap),
        );
        Window {
            start: start.max(minus(now, lookback.max)),
            end: now,
        }
    }

    pub fn to_json(self) -> Value {
        json!({ "start": self.start, "end": self.end })
    }
}

/// A time from an operator's event field (`"start"`, `"since"`, ...), RFC 3339.
pub fn event_time(event: &Value, field: &str) -> Result<Option<Timestamp>, String> {
    match event.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Timestamp::parse_rfc3339(s)
            .map(Some)
            .ok_or_else(|| format!("event field {field}: {s:?} is not an RFC 3339 time")),
        Some(other) => Err(format!(
            "event field {field}: expected an RFC 3339 string, got {other}"
        )),
    }
}

/// A domain timestamp as the `time` crate's (connector arguments).
pub fn offset_date_time(t: Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.millis()) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
