//! Cybersource identifiers on the orders table: [`ReferenceIndex`] and [`UnknownNotifications`]
//! for [`DynamoOrderStore`].
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | reference index entry | `CYBSREF#<value>` | `CYBSREF` | `order_id` (S), `kind` (S, [`CybsKey::kind`]), `created_at` (S, RFC 3339, of the last write) — no TTL: kept as long as the order |
//! | unknown notification | `UNKNOWN#cybs` | `<received at, RFC 3339 fixed width>#<notification id>` | `notification_id`, `event_type`, `reason`, `received_at` (S); `transaction_id`, `reference`, `organization_id` (S, when known); `expires_at` (N, TTL) |
//!
//! An index entry is written with `attribute_not_exists(pk) OR order_id = :order`: writing it
//! again is a no-op, and a value can never be moved to another order (that would be a hash
//! collision or a bug; it is refused as `ConditionFailed`). A lookup is one consistent
//! `GetItem`. Both need only `GetItem` / `PutItem`, which every function has on the table.
//!
//! Unknown notifications share one partition and sort by time, so the console and
//! reconciliation list them with one `Query` (`sk >= since`), no scan. They are rare (a healthy
//! integration has none), so one partition is no hot spot. The sort key starts with the *first*
//! time the notification was received: a redelivery overwrites its own entry.

use crate::store::{DynamoOrderStore, PK, SK, TTL_ATTRIBUTE};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use o2c_domain::ports::{
    Clock, CybsKey, ReferenceIndex, StoreError, SystemClock, UnknownNotification,
    UnknownNotifications,
};
use o2c_domain::{OrderId, Timestamp};
use std::collections::HashMap;

/// Sort key of a reference index entry.
pub const CYBSREF_SK: &str = "CYBSREF";
/// Partition key of the unknown Cybersource notifications.
pub const UNKNOWN_PK: &str = "UNKNOWN#cybs";

const ORDER_ID: &str = "order_id";
const KIND: &str = "kind";
const CREATED_AT: &str = "created_at";
const NOTIFICATION_ID: &str = "notification_id";
const EVENT_TYPE: &str = "event_type";
const TRANSACTION_ID: &str = "transaction_id";
const REFERENCE: &str = "reference";
const ORGANIZATION_ID: &str = "organization_id";
const REASON: &str = "reason";
const RECEIVED_AT: &str = "received_at";

type Item = HashMap<String, AttributeValue>;

/// `CYBSREF#<value>`.
pub fn cybsref_pk(value: &str) -> String {
    format!("CYBSREF#{value}")
}

/// `<received at>#<notification id>`.
pub fn unknown_sk(received_at: Timestamp, notification_id: &str) -> String {
    format!("{}#{notification_id}", received_at.to_rfc3339())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

use crate::errors::store_unavailable as unavailable;

fn get_s(item: &Item, attr: &str) -> Option<String> {
    item.get(attr).and_then(|v| v.as_s().ok()).cloned()
}

impl DynamoOrderStore {
    async fn remember_one(&self, order: &OrderId, key: &CybsKey) -> Result<(), StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .item(PK, s(cybsref_pk(key.value())))
            .item(SK, s(CYBSREF_SK))
            .item(ORDER_ID, s(order.as_str()))
            .item(KIND, s(key.kind()))
            .item(CREATED_AT, s(SystemClock.now().to_rfc3339()))
            .condition_expression("attribute_not_exists(#pk) OR #order = :order")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#order", ORDER_ID)
            .expression_attribute_values(":order", s(order.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(PutItemError::is_conditional_check_failed_exception) =>
            {
                let other = self.order_of(key.value()).await?;
                Err(StoreError::ConditionFailed {
                    id: key.value().to_string(),
                    detail: format!(
                        "{key} already names order {}, not {order}",
                        other.map_or_else(|| "?".to_string(), |o| o.to_string())
                    ),
                })
            }
            Err(e) => Err(unavailable(&e)),
        }
    }
}

#[async_trait]
impl ReferenceIndex for DynamoOrderStore {
    async fn remember(&self, order: &OrderId, keys: &[CybsKey]) -> Result<(), StoreError> {
        // One conditional put per key (a batch write takes no condition); at most a few keys.
        for key in keys {
            self.remember_one(order, key).await?;
        }
        Ok(())
    }

    async fn order_of(&self, value: &str) -> Result<Option<OrderId>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(cybsref_pk(value)))
            .key(SK, s(CYBSREF_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let id = get_s(&item, ORDER_ID).ok_or_else(|| StoreError::Corrupt {
            id: cybsref_pk(value),
            detail: "attribute order_id is missing".into(),
        })?;
        OrderId::new(id).map(Some).map_err(|e| StoreError::Corrupt {
            id: cybsref_pk(value),
            detail: e.to_string(),
        })
    }
}

fn unknown_item(e: &UnknownNotification) -> Item {
    let mut item: Item = HashMap::from([
        (PK.to_string(), s(UNKNOWN_PK)),
        (
            SK.to_string(),
            s(unknown_sk(e.received_at, &e.notification_id)),
        ),
        (NOTIFICATION_ID.to_string(), s(&e.notification_id)),
        (EVENT_TYPE.to_string(), s(&e.event_type)),
        (REASON.to_string(), s(&e.reason)),
        (RECEIVED_AT.to_string(), s(e.received_at.to_rfc3339())),
        (
            TTL_ATTRIBUTE.to_string(),
            AttributeValue::N(e.expires_at.epoch_seconds().to_string()),
        ),
    ]);
    for (attr, v) in [
        (TRANSACTION_ID, &e.transaction_id),
        (REFERENCE, &e.reference),
        (ORGANIZATION_ID, &e.organization_id),
    ] {
        if let Some(v) = v {
            item.insert(attr.to_string(), s(v));
        }
    }
    item
}

fn unknown_from_item(item: &Item) -> Result<UnknownNotification, String> {
    let req = |attr: &str| get_s(item, attr).ok_or_else(|| format!("attribute {attr} is missing"));
    let received = req(RECEIVED_AT)?;
    let expires = item
        .get(TTL_ATTRIBUTE)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or("attribute expires_at is missing or not a number")?;
    Ok(UnknownNotification {
        notification_id: req(NOTIFICATION_ID)?,
        event_type: req(EVENT_TYPE)?,
        transaction_id: get_s(item, TRANSACTION_ID),
        reference: get_s(item, REFERENCE),
        organization_id: get_s(item, ORGANIZATION_ID),
        reason: req(REASON)?,
        received_at: Timestamp::parse_rfc3339(&received)
            .ok_or_else(|| format!("attribute received_at: invalid time {received:?}"))?,
        expires_at: Timestamp::from_millis(expires.saturating_mul(1000)),
    })
}

#[async_trait]
impl UnknownNotifications for DynamoOrderStore {
    async fn record_unknown(&self, entry: &UnknownNotification) -> Result<(), StoreError> {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(unknown_item(entry)))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    async fn unknown_since(
        &self,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<UnknownNotification>, StoreError> {
        let mut out = Vec::new();
        let mut start_key: Option<Item> = None;
        while out.len() < limit {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("#pk = :pk AND #sk >= :since")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(UNKNOWN_PK))
                .expression_attribute_values(":since", s(since.to_rfc3339()))
                .scan_index_forward(true)
                .limit(i32::try_from(limit - out.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key.take())
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| unavailable(&e))?;
            for item in page.items() {
                out.push(
                    unknown_from_item(item).map_err(|detail| StoreError::Corrupt {
                        id: format!("{UNKNOWN_PK} {}", get_s(item, SK).unwrap_or_default()),
                        detail,
                    })?,
                );
            }
            match page.last_evaluated_key {
                Some(k) => start_key = Some(k),
                None => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_items_round_trip() {
        let e = UnknownNotification {
            notification_id: "n-1".into(),
            event_type: "risk.casemanagement.decision.accept".into(),
            transaction_id: Some("7000000000000000888001".into()),
            reference: None,
            organization_id: Some("mid".into()),
            reason: "no order".into(),
            received_at: Timestamp::from_millis(1_790_000_000_000),
            expires_at: Timestamp::from_millis(1_797_776_000_000),
        };
        let item = unknown_item(&e);
        assert_eq!(item[PK].as_s().unwrap(), UNKNOWN_PK);
        assert!(item[SK].as_s().unwrap().ends_with("#n-1"));
        assert_eq!(unknown_from_item(&item).unwrap(), e);
    }
}
