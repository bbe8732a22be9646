//! The DynamoDB order store: [`DynamoOrderStore`] implements [`OrderStore`] on one table.
//!
//! # Key schema (single table, keys `pk` / `sk`, both S)
//!
//! **Order item** — `pk = "ORDER#<order id>"`, `sk = "ORDER"`:
//!
//! | attribute           | type | content                                                      |
//! |---------------------|------|--------------------------------------------------------------|
//! | `state`             | S    | the [`OrderState`] name (`Received`, `Authorizing`, ...)      |
//! | `version`           | N    | optimistic-lock version, +1 on every write                    |
//! | `claim`             | S    | JSON of the [`Claim`] (only while claimed)                    |
//! | `claim_ref`         | S    | the claim's reference (only while claimed; used in conditions)|
//! | `claim_lease_until` | S    | the claim's lease, fixed-width RFC 3339 (`Timestamp`'s serde), so string order is time order (only while claimed) |
//! | `effects`           | M    | effect key → S JSON of [`EffectRecord`]; always present (created empty) so `SET effects.#ek` works |
//! | `order`             | S    | JSON of the [`Order`] document                                |
//! | `timeline`          | L    | S JSON of each [`TimelineEntry`], oldest first                |
//! | `cancel`            | S    | JSON of the [`CancelIntent`] once a cancellation is recorded; never removed |
//! | `email`             | S    | the customer's e-mail, lower case (index `by_email`)          |
//! | `created_at`        | S    | the order's creation time, RFC 3339 (range of `by_email`, `by_state`) |
//!
//! **Idempotency item** — `pk = "IDEM#<scope>#<key>"`, `sk = "IDEM"`: `scope` (S), `idem_key`
//! (S), `payload_hash` (S), `created_at` (S, RFC 3339), `expires_at` (N, epoch **seconds** — the
//! table's TTL attribute), `result` (S JSON, only when there is one).
//!
//! # Writes
//!
//! Every write is conditional. [`OrderStore::update`] is exactly one `UpdateItem` whose
//! `ConditionExpression` is built from [`Expect`] (plus `attribute_not_exists(effects.#ek)` when
//! an effect is recorded) and whose `UpdateExpression` sets the state, bumps the version, sets or
//! removes the claim attributes, records the effect, replaces the document and appends to the
//! timeline, returning `ALL_NEW`.
//!
//! DynamoDB deletes expired TTL items lazily (up to days late), so an idempotency record whose
//! `expires_at` has passed is treated as absent: the put-if-absent condition is
//! `attribute_not_exists(pk) OR expires_at < :now`, where `:now` is the new record's
//! `created_at` (the writer's clock).
//!
//! No attribute holds a 13–19 digit number (card-data scans): times are RFC 3339 strings, the
//! TTL is 10-digit epoch seconds.

use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use o2c_domain::ports::{
    CancelIntent, Change, Claim, ClaimChange, EffectRecord, Expect, IdempotencyRecord, OrderRecord,
    OrderStore, PutOutcome, StoreError,
};
use o2c_domain::{Order, OrderId, OrderState, TimelineEntry, Timestamp};
use std::collections::{BTreeMap, HashMap};

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// Sort key of an order item.
pub const ORDER_SK: &str = "ORDER";
/// Sort key of an idempotency item.
pub const IDEM_SK: &str = "IDEM";
/// The table's TTL attribute (N, epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

const STATE: &str = "state";
const VERSION: &str = "version";
const CLAIM: &str = "claim";
const CLAIM_REF: &str = "claim_ref";
const CLAIM_LEASE_UNTIL: &str = "claim_lease_until";
const EFFECTS: &str = "effects";
const ORDER: &str = "order";
const TIMELINE: &str = "timeline";
const CANCEL: &str = "cancel";
/// The customer's e-mail, lower case (hash key of the `by_email` index).
const EMAIL: &str = "email";

const SCOPE: &str = "scope";
const IDEM_KEY: &str = "idem_key";
const PAYLOAD_HASH: &str = "payload_hash";
const CREATED_AT: &str = "created_at";
const RESULT: &str = "result";

type Item = HashMap<String, AttributeValue>;

/// The order store on DynamoDB (see the module docs for the key schema).
#[derive(Clone, Debug)]
pub struct DynamoOrderStore {
    client: Client,
    table: String,
}

impl DynamoOrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoOrderStore {
            client,
            table: table.into(),
        }
    }

    /// A store with a client built from `config`.
    pub fn from_conf(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `ORDER#<id>`.
    pub fn order_pk(id: &str) -> String {
        format!("ORDER#{id}")
    }

    /// `IDEM#<scope>#<key>`.
    pub fn idempotency_pk(scope: &str, key: &str) -> String {
        format!("IDEM#{scope}#{key}")
    }

    /// The primary key of an order item.
    pub fn order_key(id: &str) -> Item {
        HashMap::from([
            (PK.to_string(), s(Self::order_pk(id))),
            (SK.to_string(), s(ORDER_SK)),
        ])
    }

    /// The primary key of an idempotency item.
    pub fn idempotency_key(scope: &str, key: &str) -> Item {
        HashMap::from([
            (PK.to_string(), s(Self::idempotency_pk(scope, key))),
            (SK.to_string(), s(IDEM_SK)),
        ])
    }

    async fn read_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(classify(&e).detail))?;
        Ok(out.item)
    }

    /// After a failed update condition: NotFound if the item is absent, else ConditionFailed
    /// with what is stored.
    async fn condition_failure(
        &self,
        id: &OrderId,
        expect: &Expect,
        effect_key: Option<&str>,
        old: Option<Item>,
    ) -> StoreError {
        let old = match old {
            Some(item) => Some(item),
            // The backend did not return the old item: read it to tell "absent" from "changed".
            None => match self.read_item(Self::order_key(id.as_str())).await {
                Ok(item) => item,
                Err(e) => return e,
            },
        };
        let Some(item) = old else {
            return StoreError::NotFound(id.to_string());
        };
        let state = item
            .get(STATE)
            .and_then(|v| v.as_s().ok())
            .map_or("?", String::as_str);
        let version = item
            .get(VERSION)
            .and_then(|v| v.as_n().ok())
            .map_or("?", String::as_str);
        let mut detail = format!("expected {expect:?}, found {state} v{version}");
        match item.get(CLAIM_REF).and_then(|v| v.as_s().ok()) {
            Some(r) => {
                let lease = item
                    .get(CLAIM_LEASE_UNTIL)
                    .and_then(|v| v.as_s().ok())
                    .map_or("?", String::as_str);
                detail.push_str(&format!(" claimed by {r} until {lease}"));
            }
            None => detail.push_str(" unclaimed"),
        }
        if item.contains_key(CANCEL) {
            detail.push_str("; a cancellation intent is recorded");
        }
        if let Some(k) = effect_key {
            let recorded = item
                .get(EFFECTS)
                .and_then(|v| v.as_m().ok())
                .is_some_and(|m| m.contains_key(k));
            if recorded {
                detail.push_str(&format!("; effect {k} already recorded"));
            }
        }
        StoreError::ConditionFailed {
            id: id.to_string(),
            detail,
        }
    }

    async fn try_put_idempotency(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<PutOutcome>, StoreError> {
        let item = idempotency_item(record)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp < :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(record.created_at.epoch_seconds()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(PutOutcome::Created)),
            Err(SdkError::ServiceError(se)) => {
                if let PutItemError::ConditionalCheckFailedException(ccf) = se.err() {
                    let existing = match ccf.item() {
                        Some(item) => Some(item.clone()),
                        None => {
                            self.read_item(Self::idempotency_key(&record.scope, &record.key))
                                .await?
                        }
                    };
                    match existing {
                        Some(item) => Ok(Some(PutOutcome::Exists(idempotency_from_item(
                            record, &item,
                        )?))),
                        // Deleted (TTL) between the put and the read: try again.
                        None => Ok(None),
                    }
                } else {
                    Err(unavailable(&SdkError::ServiceError(se)))
                }
            }
            Err(e) => Err(unavailable(&e)),
        }
    }
}

#[async_trait]
impl OrderStore for DynamoOrderStore {
    async fn get(&self, id: &OrderId) -> Result<Option<OrderRecord>, StoreError> {
        match self.read_item(Self::order_key(id.as_str())).await? {
            Some(item) => record_from_item(id.as_str(), &item).map(Some),
            None => Ok(None),
        }
    }

    async fn create(&self, record: &OrderRecord) -> Result<(), StoreError> {
        let id = record.order.id.to_string();
        let item = order_item(record)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(PutItemError::is_conditional_check_failed_exception) =>
            {
                Err(StoreError::AlreadyExists(id))
            }
            Err(e) => Err(unavailable(&e)),
        }
    }

    async fn update(
        &self,
        id: &OrderId,
        expect: Expect,
        change: Change,
    ) -> Result<OrderRecord, StoreError> {
        change.validate(&expect)?;
        let corrupt = |detail: String| StoreError::Corrupt {
            id: id.to_string(),
            detail,
        };

        let mut names: HashMap<String, String> = HashMap::new();
        let mut values: Item = HashMap::new();
        let mut name = |placeholder: &str, attr: &str| {
            names.insert(placeholder.to_string(), attr.to_string());
        };

        // Condition.
        name("#pk", PK);
        if expect != Expect::Exists || change.transition.is_some() {
            // DynamoDB refuses expression attribute names an expression does not use.
            name("#state", STATE);
        }
        name("#version", VERSION);
        name("#timeline", TIMELINE);
        let mut condition = vec!["attribute_exists(#pk)".to_string()];
        match &expect {
            Expect::StateVersion { state, version } => {
                condition.push("#state = :expect_state AND #version = :expect_version".into());
                values.insert(":expect_state".into(), s(state.as_str()));
                values.insert(":expect_version".into(), n(*version));
            }
            Expect::Claimed { state, reference } => {
                name("#claim_ref", CLAIM_REF);
                condition.push("#state = :expect_state AND #claim_ref = :expect_ref".into());
                values.insert(":expect_state".into(), s(state.as_str()));
                values.insert(":expect_ref".into(), s(reference));
            }
            Expect::LeaseExpired {
                state,
                reference,
                now,
            } => {
                name("#claim_ref", CLAIM_REF);
                name("#claim_lease_until", CLAIM_LEASE_UNTIL);
                condition.push(
                    "#state = :expect_state AND #claim_ref = :expect_ref \
                     AND #claim_lease_until <= :now"
                        .into(),
                );
                values.insert(":expect_state".into(), s(state.as_str()));
                values.insert(":expect_ref".into(), s(reference));
                values.insert(":now".into(), s(now.to_rfc3339()));
            }
            Expect::Exists => {}
        }
        if change.cancel.is_some() {
            name("#cancel", CANCEL);
            condition.push("attribute_not_exists(#cancel)".into());
        }
        if let Some((key, _)) = &change.effect {
            name("#effects", EFFECTS);
            name("#ek", key);
            condition.push("attribute_not_exists(#effects.#ek)".into());
        }

        // Update.
        let mut set = vec![
            "#version = #version + :one".to_string(),
            "#timeline = list_append(#timeline, :entry)".to_string(),
        ];
        let mut remove: Vec<&str> = Vec::new();
        values.insert(":one".into(), n(1));
        values.insert(
            ":entry".into(),
            AttributeValue::L(vec![s(to_json(&change.entry).map_err(corrupt)?)]),
        );
        if let Some(t) = &change.transition {
            set.push("#state = :new_state".into());
            values.insert(":new_state".into(), s(t.to().as_str()));
        }
        match &change.claim {
            ClaimChange::Keep => {}
            ClaimChange::Set(claim) => {
                name("#claim", CLAIM);
                name("#claim_ref", CLAIM_REF);
                name("#claim_lease_until", CLAIM_LEASE_UNTIL);
                set.push("#claim = :claim".into());
                set.push("#claim_ref = :claim_ref".into());
                set.push("#claim_lease_until = :claim_lease_until".into());
                values.insert(":claim".into(), s(to_json(claim).map_err(corrupt)?));
                values.insert(":claim_ref".into(), s(&claim.reference));
                values.insert(
                    ":claim_lease_until".into(),
                    s(claim.lease_until.to_rfc3339()),
                );
            }
            ClaimChange::Clear => {
                name("#claim", CLAIM);
                name("#claim_ref", CLAIM_REF);
                name("#claim_lease_until", CLAIM_LEASE_UNTIL);
                remove.extend(["#claim", "#claim_ref", "#claim_lease_until"]);
            }
        }
        if let Some((_, effect)) = &change.effect {
            set.push("#effects.#ek = :effect".into());
            values.insert(":effect".into(), s(to_json(effect).map_err(corrupt)?));
        }
        if let Some(order) = &change.order {
            name("#order", ORDER);
            set.push("#order = :order".into());
            values.insert(":order".into(), s(to_json(order).map_err(corrupt)?));
        }
        if let Some(cancel) = &change.cancel {
            set.push("#cancel = :cancel".into());
            values.insert(":cancel".into(), s(to_json(cancel).map_err(corrupt)?));
        }
        let mut update_expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            update_expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }

        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::order_key(id.as_str())))
            .condition_expression(condition.join(" AND "))
            .update_expression(update_expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| corrupt("UpdateItem returned no attributes".into()))?;
                record_from_item(id.as_str(), &item)
            }
            Err(SdkError::ServiceError(se)) => {
                if let UpdateItemError::ConditionalCheckFailedException(ccf) = se.err() {
                    let effect_key = change.effect.as_ref().map(|(k, _)| k.as_str());
                    Err(self
                        .condition_failure(id, &expect, effect_key, ccf.item().cloned())
                        .await)
                } else {
                    Err(unavailable(&SdkError::ServiceError(se)))
                }
            }
            Err(e) => Err(unavailable(&e)),
        }
    }

    async fn put_idempotency(&self, record: &IdempotencyRecord) -> Result<PutOutcome, StoreError> {
        // A record can vanish (TTL) between the refused put and the read-back; retry then.
        for _ in 0..3 {
            if let Some(outcome) = self.try_put_idempotency(record).await? {
                return Ok(outcome);
            }
        }
        Err(StoreError::Unavailable(format!(
            "idempotency key {}#{} kept changing under a conditional put",
            record.scope, record.key
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Item <-> record
// ---------------------------------------------------------------------------------------------

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string(v).map_err(|e| format!("serialise: {e}"))
}

use crate::errors::store_unavailable as unavailable;

/// The full item for a new order record.
fn order_item(record: &OrderRecord) -> Result<Item, StoreError> {
    let id = record.order.id.as_str();
    let corrupt = |detail: String| StoreError::Corrupt {
        id: id.to_string(),
        detail,
    };
    let mut item = DynamoOrderStore::order_key(id);
    item.insert(STATE.into(), s(record.state.as_str()));
    item.insert(VERSION.into(), n(record.version));
    item.insert(ORDER.into(), s(to_json(&record.order).map_err(corrupt)?));
    // The console's indexes (by_email, by_state): set once, at creation.
    item.insert(
        EMAIL.into(),
        s(record.order.customer.email.as_str().trim().to_lowercase()),
    );
    item.insert(CREATED_AT.into(), s(record.order.created_at.to_rfc3339()));
    let mut effects = HashMap::new();
    for (k, e) in &record.effects {
        effects.insert(k.clone(), s(to_json(e).map_err(corrupt)?));
    }
    item.insert(EFFECTS.into(), AttributeValue::M(effects));
    let timeline = record
        .timeline
        .iter()
        .map(|e| to_json(e).map(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt)?;
    item.insert(TIMELINE.into(), AttributeValue::L(timeline));
    if let Some(claim) = &record.claim {
        item.insert(CLAIM.into(), s(to_json(claim).map_err(corrupt)?));
        item.insert(CLAIM_REF.into(), s(&claim.reference));
        item.insert(CLAIM_LEASE_UNTIL.into(), s(claim.lease_until.to_rfc3339()));
    }
    if let Some(cancel) = &record.cancel {
        item.insert(CANCEL.into(), s(to_json(cancel).map_err(corrupt)?));
    }
    Ok(item)
}

fn get_s<'a>(item: &'a Item, attr: &str) -> Result<Option<&'a String>, String> {
    match item.get(attr) {
        None => Ok(None),
        Some(v) => v
            .as_s()
            .map(Some)
            .map_err(|_| format!("attribute {attr} is not a string")),
    }
}

fn req_s<'a>(item: &'a Item, attr: &str) -> Result<&'a String, String> {
    get_s(item, attr)?.ok_or_else(|| format!("attribute {attr} is missing"))
}

fn from_json<T: serde::de::DeserializeOwned>(attr: &str, json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("attribute {attr}: {e}"))
}

/// Parse a stored order item.
fn record_from_item(id: &str, item: &Item) -> Result<OrderRecord, StoreError> {
    parse_record(item).map_err(|detail| StoreError::Corrupt {
        id: id.to_string(),
        detail,
    })
}

fn parse_record(item: &Item) -> Result<OrderRecord, String> {
    let state_name = req_s(item, STATE)?;
    let state =
        OrderState::parse(state_name).ok_or_else(|| format!("unknown state {state_name:?}"))?;
    let version = item
        .get(VERSION)
        .and_then(|v| v.as_n().ok())
        .ok_or("attribute version is missing or not a number")?
        .parse::<u64>()
        .map_err(|e| format!("attribute version: {e}"))?;
    let order: Order = from_json(ORDER, req_s(item, ORDER)?)?;
    let claim: Option<Claim> = get_s(item, CLAIM)?
        .map(|j| from_json(CLAIM, j))
        .transpose()?;
    let mut effects = BTreeMap::new();
    if let Some(v) = item.get(EFFECTS) {
        let map = v.as_m().map_err(|_| "attribute effects is not a map")?;
        for (k, e) in map {
            let json = e
                .as_s()
                .map_err(|_| format!("effect {k} is not a string"))?;
            effects.insert(k.clone(), from_json::<EffectRecord>(EFFECTS, json)?);
        }
    }
    let mut timeline = Vec::new();
    if let Some(v) = item.get(TIMELINE) {
        let list = v.as_l().map_err(|_| "attribute timeline is not a list")?;
        for e in list {
            let json = e.as_s().map_err(|_| "timeline entry is not a string")?;
            timeline.push(from_json::<TimelineEntry>(TIMELINE, json)?);
        }
    }
    let cancel: Option<CancelIntent> = get_s(item, CANCEL)?
        .map(|j| from_json(CANCEL, j))
        .transpose()?;
    Ok(OrderRecord {
        order,
        state,
        version,
        claim,
        effects,
        timeline,
        cancel,
    })
}

fn idempotency_item(record: &IdempotencyRecord) -> Result<Item, StoreError> {
    let mut item = DynamoOrderStore::idempotency_key(&record.scope, &record.key);
    item.insert(SCOPE.into(), s(&record.scope));
    item.insert(IDEM_KEY.into(), s(&record.key));
    item.insert(PAYLOAD_HASH.into(), s(&record.payload_hash));
    item.insert(CREATED_AT.into(), s(record.created_at.to_rfc3339()));
    item.insert(TTL_ATTRIBUTE.into(), n(record.expires_at.epoch_seconds()));
    if let Some(result) = &record.result {
        let json = to_json(result).map_err(|detail| StoreError::Corrupt {
            id: DynamoOrderStore::idempotency_pk(&record.scope, &record.key),
            detail,
        })?;
        item.insert(RESULT.into(), s(json));
    }
    Ok(item)
}

/// Parse a stored idempotency item (`expires_at` comes back in whole seconds).
fn idempotency_from_item(
    wanted: &IdempotencyRecord,
    item: &Item,
) -> Result<IdempotencyRecord, StoreError> {
    let parse = || -> Result<IdempotencyRecord, String> {
        let created = req_s(item, CREATED_AT)?;
        let created_at = Timestamp::parse_rfc3339(created)
            .ok_or_else(|| format!("attribute created_at: invalid time {created:?}"))?;
        let expires_secs = item
            .get(TTL_ATTRIBUTE)
            .and_then(|v| v.as_n().ok())
            .ok_or("attribute expires_at is missing or not a number")?
            .parse::<i64>()
            .map_err(|e| format!("attribute expires_at: {e}"))?;
        Ok(IdempotencyRecord {
            scope: get_s(item, SCOPE)?.unwrap_or(&wanted.scope).clone(),
            key: get_s(item, IDEM_KEY)?.unwrap_or(&wanted.key).clone(),
            payload_hash: req_s(item, PAYLOAD_HASH)?.clone(),
            created_at,
            expires_at: Timestamp::from_millis(expires_secs.saturating_mul(1000)),
            result: get_s(item, RESULT)?
                .map(|j| from_json(RESULT, j))
                .transpose()?,
        })
    };
    parse().map_err(|detail| StoreError::Corrupt {
        id: DynamoOrderStore::idempotency_pk(&wanted.scope, &wanted.key),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use o2c_domain::model::sample;
    use o2c_domain::ports::EffectRecord;

    #[test]
    fn order_item_round_trips() {
        let at = Timestamp::from_millis(1_790_000_000_000);
        let mut record = OrderRecord::received(
            sample::order("o1"),
            TimelineEntry::new(at, "order.received", "webhook"),
        );
        record.claim = Some(Claim {
            step: "capture".into(),
            effect_key: "capture".into(),
            reference: "o1-cap-1".into(),
            from: OrderState::Authorized,
            lease_until: at,
            attempt: 1,
        });
        record.effects.insert(
            "authorize".into(),
            EffectRecord {
                reference: "o1-auth-1".into(),
                outcome: serde_json::json!({"status": "AUTHORIZED"}),
                at,
            },
        );
        let item = order_item(&record).unwrap();
        assert_eq!(item[PK].as_s().unwrap(), "ORDER#o1");
        assert_eq!(item[CLAIM_LEASE_UNTIL].as_s().unwrap(), &at.to_rfc3339());
        assert_eq!(record_from_item("o1", &item).unwrap(), record);
    }

    #[test]
    fn corrupt_items_are_reported() {
        let mut item = DynamoOrderStore::order_key("o1");
        item.insert(STATE.into(), s("Nowhere"));
        assert!(matches!(
            record_from_item("o1", &item),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
