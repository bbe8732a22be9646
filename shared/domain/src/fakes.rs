//! In-memory fakes of every port, for unit tests (here and, with the `fakes` feature, in other
//! crates). They keep the same contracts as the real adapters: conditional writes, put-if-absent,
//! FIFO order of published messages.

use crate::ids::OrderId;
use crate::ports::*;
use crate::time::Timestamp;
use async_trait::async_trait;
use secrecy::SecretString;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// An order store in memory.
#[derive(Default, Clone)]
pub struct InMemoryStore {
    orders: Arc<Mutex<BTreeMap<String, OrderRecord>>>,
    idempotency: Arc<Mutex<BTreeMap<String, IdempotencyRecord>>>,
    /// When set, the next `update` fails with `Unavailable` (one-shot).
    fail_next_update: Arc<Mutex<Option<String>>>,
}

impl InMemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn snapshot(&self, id: &str) -> Option<OrderRecord> {
        self.orders.lock().unwrap().get(id).cloned()
    }

    /// Overwrite a record (test setup only, e.g. to age a lease).
    pub fn put_raw(&self, record: OrderRecord) {
        self.orders
            .lock()
            .unwrap()
            .insert(record.order.id.to_string(), record);
    }

    pub fn fail_next_update(&self, why: &str) {
        *self.fail_next_update.lock().unwrap() = Some(why.to_string());
    }

    pub fn idempotency_records(&self) -> Vec<IdempotencyRecord> {
        self.idempotency.lock().unwrap().values().cloned().collect()
    }
}

#[async_trait]
impl OrderStore for InMemoryStore {
    async fn get(&self, id: &OrderId) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self.orders.lock().unwrap().get(id.as_str()).cloned())
    }

    async fn create(&self, record: &OrderRecord) -> Result<(), StoreError> {
        let mut orders = self.orders.lock().unwrap();
        let key = record.order.id.to_string();
        if orders.contains_key(&key) {
            return Err(StoreError::AlreadyExists(key));
        }
        orders.insert(key, record.clone());
        Ok(())
    }

    async fn update(
        &self,
        id: &OrderId,
        expect: Expect,
        change: Change,
    ) -> Result<OrderRecord, StoreError> {
        change.validate(&expect)?;
        if let Some(why) = self.fail_next_update.lock().unwrap().take() {
            return Err(StoreError::Unavailable(why));
        }
        let mut orders = self.orders.lock().unwrap();
        let record = orders
            .get_mut(id.as_str())
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        if !expect.holds(record) {
            return Err(StoreError::ConditionFailed {
                id: id.to_string(),
                detail: format!(
                    "expected {expect:?}, found {} v{}",
                    record.state, record.version
                ),
            });
        }
        if let Some((key, _)) = &change.effect {
            if record.effects.contains_key(key) {
                return Err(StoreError::ConditionFailed {
                    id: id.to_string(),
                    detail: format!("effect {key} already recorded"),
                });
            }
        }
        if change.cancel.is_some() && record.cancel.is_some() {
            return Err(StoreError::ConditionFailed {
                id: id.to_string(),
                detail: "a cancellation intent is already recorded".into(),
            });
        }
        change.apply_to(record);
        Ok(record.clone())
    }

    async fn put_idempotency(&self, record: &IdempotencyRecord) -> Result<PutOutcome, StoreError> {
        let mut idem = self.idempotency.lock().unwrap();
        let key = format!("{}#{}", record.scope, record.key);
        match idem.get(&key) {
            Some(existing) => Ok(PutOutcome::Exists(existing.clone())),
            None => {
                idem.insert(key, record.clone());
                Ok(PutOutcome::Created)
            }
        }
    }
}

/// A publisher that keeps every message, in order, and can be told to fail.
#[derive(Default, Clone)]
pub struct InMemoryPublisher {
    sent: Arc<Mutex<Vec<OutboundMessage>>>,
    failing: Arc<Mutex<bool>>,
}

impl InMemoryPublisher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sent(&self) -> Vec<OutboundMessage> {
        self.sent.lock().unwrap().clone()
    }

    pub fn set_failing(&self, failing: bool) {
        *self.failing.lock().unwrap() = failing;
    }
}

#[async_trait]
impl Publisher for InMemoryPublisher {
    async fn publish(&self, message: &OutboundMessage) -> Result<(), PublishError> {
        if *self.failing.lock().unwrap() {
            return Err(PublishError {
                queue: message.queue,
                detail: "injected failure".into(),
            });
        }
        self.sent.lock().unwrap().push(message.clone());
        Ok(())
    }
}

/// Secrets from a map, counting reads.
#[derive(Default, Clone)]
pub struct StaticSecrets {
    values: Arc<HashMap<String, String>>,
    reads: Arc<AtomicUsize>,
}

impl StaticSecrets {
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> Self {
        StaticSecrets {
            values: Arc::new(values.into_iter().collect()),
            reads: Arc::default(),
        }
    }

    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn secret(&self, id: &str) -> Result<SecretString, SecretError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.values
            .get(id)
            .map(|v| SecretString::from(v.clone()))
            .ok_or_else(|| SecretError::NotFound(id.to_string()))
    }
}

/// A clock the test moves by hand; clones share the time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(ms: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(ms)))
    }

    /// At `secs` whole seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self::at(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Moves the clock on by `by` (whole milliseconds).
    pub fn advance(&self, by: std::time::Duration) {
        self.advance_ms(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Routing state in memory (the same contract as the DynamoDB adapter: a document, counters
/// per route, segment, bucket and shard).
#[derive(Default, Clone)]
pub struct InMemoryRouting {
    pub document: Arc<Mutex<Option<String>>>,
    counters: Arc<Mutex<BTreeMap<StatsKey, crate::routing::Counts>>>,
}

/// (route, segment, bucket start, shard).
type StatsKey = (String, String, Timestamp, u8);

#[async_trait]
impl RoutingStore for InMemoryRouting {
    async fn routing_document(&self) -> Result<Option<String>, StoreError> {
        Ok(self.document.lock().unwrap().clone())
    }

    async fn record(
        &self,
        route: &str,
        segment: &str,
        bucket: Timestamp,
        shard: u8,
        observation: crate::routing::Observation,
        _expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.counters
            .lock()
            .unwrap()
            .entry((route.to_string(), segment.to_string(), bucket, shard))
            .or_default()
            .add(observation);
        Ok(())
    }

    async fn buckets(
        &self,
        route: &str,
        segment: &str,
        since: Timestamp,
        shards: u8,
    ) -> Result<Vec<crate::routing::Bucket>, StoreError> {
        let mut by_start: BTreeMap<Timestamp, crate::routing::Counts> = BTreeMap::new();
        for ((r, s, start, shard), c) in self.counters.lock().unwrap().iter() {
            if r == route && s == segment && *start >= since && *shard < shards {
                by_start.entry(*start).or_default().merge(c);
            }
        }
        Ok(by_start
            .into_iter()
            .map(|(start, counts)| crate::routing::Bucket { start, counts })
            .collect())
    }
}

/// The reference index and the unknown-notifications list in memory (the same contracts as the
/// DynamoDB adapter: a key never moves to another order; entries keyed by first-received time
/// and notification id). Can be told to fail, like a store that is down.
#[derive(Default, Clone)]
pub struct InMemoryReferences {
    keys: Arc<Mutex<BTreeMap<String, OrderId>>>,
    unknown: Arc<Mutex<BTreeMap<(Timestamp, String), UnknownNotification>>>,
    failing: Arc<Mutex<bool>>,
}

impl InMemoryReferences {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every remembered value and its order.
    pub fn entries(&self) -> BTreeMap<String, OrderId> {
        self.keys.lock().unwrap().clone()
    }

    pub fn set_failing(&self, failing: bool) {
        *self.failing.lock().unwrap() = failing;
    }

    fn check(&self) -> Result<(), StoreError> {
        if *self.failing.lock().unwrap() {
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl ReferenceIndex for InMemoryReferences {
    async fn remember(&self, order: &OrderId, keys: &[CybsKey]) -> Result<(), StoreError> {
        self.check()?;
        let mut map = self.keys.lock().unwrap();
        for key in keys {
            match map.get(key.value()) {
                Some(other) if other != order => {
                    return Err(StoreError::ConditionFailed {
                        id: key.value().to_string(),
                        detail: format!("{key} already names order {other}"),
                    })
                }
                Some(_) => {}
                None => {
                    map.insert(key.value().to_string(), order.clone());
                }
            }
        }
        Ok(())
    }

    async fn order_of(&self, value: &str) -> Result<Option<OrderId>, StoreError> {
        self.check()?;
        Ok(self.keys.lock().unwrap().get(value).cloned())
    }
}

#[async_trait]
impl UnknownNotifications for InMemoryReferences {
    async fn record_unknown(&self, entry: &UnknownNotification) -> Result<(), StoreError> {
        self.check()?;
        self.unknown.lock().unwrap().insert(
            (entry.received_at, entry.notification_id.clone()),
            entry.clone(),
        );
        Ok(())
    }

    async fn unknown_since(
        &self,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<UnknownNotification>, StoreError> {
        self.check()?;
        Ok(self
            .unknown
            .lock()
            .unwrap()
            .values()
            .filter(|e| e.received_at >= since)
            .take(limit)
            .cloned()
            .collect())
    }
}
