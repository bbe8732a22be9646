//! Dynamic routing's state on the orders table: [`RoutingStore`] for [`DynamoOrderStore`].
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | routing document | `CONFIG#routing` | `CONFIG` | `document` (S, the JSON text), `updated_at` (S) |
//! | statistics bucket | `RSTAT#<route>#<segment>#<shard>` | bucket start (S, RFC 3339, fixed width) | `attempts`, `approved`, `soft_declined`, `hard_declined`, `errors` (N), `expires_at` (N, TTL) |
//!
//! **No hot keys.** A write is one `UpdateItem` with `ADD` on counters — commutative, no
//! condition, no read — so concurrent writers never conflict. Each (route, segment) is spread
//! over `shards` partition keys (the writer picks one at random) and every bucket is a new item,
//! so one busy route's counters never concentrate on one item or partition. A reader queries each
//! shard for the buckets in its window (`sk >= since`) and sums them; the router caches that
//! for a few seconds per container, so reads stay far below one per authorization.

use crate::errors::classify;
use crate::store::{DynamoOrderStore, PK, SK, TTL_ATTRIBUTE};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use o2c_domain::ports::{RoutingStore, StoreError};
use o2c_domain::routing::{Bucket, Counts, Observation};
use o2c_domain::Timestamp;
use std::collections::{BTreeMap, HashMap};

/// Partition key of the routing document.
pub const CONFIG_PK: &str = "CONFIG#routing";
/// Sort key of the routing document.
pub const CONFIG_SK: &str = "CONFIG";
/// The routing document's attribute.
pub const DOCUMENT: &str = "document";

const FIELDS: [&str; 5] = [
    "attempts",
    "approved",
    "soft_declined",
    "hard_declined",
    "errors",
];

/// `RSTAT#<route>#<segment>#<shard>`.
pub fn stats_pk(route: &str, segment: &str, shard: u8) -> String {
    format!("RSTAT#{route}#{segment}#{shard}")
}

fn field(o: Observation) -> &'static str {
    match o {
        Observation::Approved => "approved",
        Observation::SoftDecline => "soft_declined",
        Observation::HardDecline => "hard_declined",
        Observation::Error => "errors",
    }
}

/// Store (replace) the routing document. Operators can do the same with
/// `aws dynamodb put-item` (README "Payment routing"); functions read it at cold start.
pub async fn put_routing_document(store: &DynamoOrderStore, text: &str) -> Result<(), StoreError> {
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item(PK, AttributeValue::S(CONFIG_PK.into()))
        .item(SK, AttributeValue::S(CONFIG_SK.into()))
        .item(DOCUMENT, AttributeValue::S(text.to_string()))
        .send()
        .await
        .map_err(|e| StoreError::Unavailable(classify(&e).detail))?;
    Ok(())
}

fn n(v: &AttributeValue) -> u64 {
    v.as_n().ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[async_trait]
impl RoutingStore for DynamoOrderStore {
    async fn routing_document(&self) -> Result<Option<String>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, AttributeValue::S(CONFIG_PK.into()))
            .key(SK, AttributeValue::S(CONFIG_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(classify(&e).detail))?;
        Ok(out
            .item
            .and_then(|i| i.get(DOCUMENT).and_then(|d| d.as_s().ok().cloned())))
    }

    async fn record(
        &self,
        route: &str,
        segment: &str,
        bucket: Timestamp,
        shard: u8,
        observation: Observation,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.client()
            .update_item()
            .table_name(self.table())
            .key(PK, AttributeValue::S(stats_pk(route, segment, shard)))
            .key(SK, AttributeValue::S(bucket.to_rfc3339()))
            .update_expression(
                "ADD attempts :one, #outcome :one SET #ttl = if_not_exists(#ttl, :ttl)",
            )
            .expression_attribute_names("#outcome", field(observation))
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(
                ":ttl",
                AttributeValue::N(expires_at.epoch_seconds().to_string()),
            )
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(classify(&e).detail))?;
        Ok(())
    }

    async fn buckets(
        &self,
        route: &str,
        segment: &str,
        since: Timestamp,
        shards: u8,
    ) -> Result<Vec<Bucket>, StoreError> {
        let mut by_start: BTreeMap<String, Counts> = BTreeMap::new();
        for shard in 0..shards {
            let mut start_key: Option<HashMap<String, AttributeValue>> = None;
            loop {
                let out = self
                    .client()
                    .query()
                    .table_name(self.table())
                    .key_condition_expression("#pk = :pk AND #sk >= :since")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(
                        ":pk",
                        AttributeValue::S(stats_pk(route, segment, shard)),
                    )
                    .expression_attribute_values(":since", AttributeValue::S(since.to_rfc3339()))
                    .set_exclusive_start_key(start_key.take())
                    .send()
                    .await
                    .map_err(|e| StoreError::Unavailable(classify(&e).detail))?;
                for item in out.items() {
                    let Some(start) = item.get(SK).and_then(|v| v.as_s().ok()) else {
                        continue;
                    };
                    let c = by_start.entry(start.clone()).or_default();
                    let get = |f: &str| item.get(f).map_or(0, n);
                    c.merge(&Counts {
                        attempts: get(FIELDS[0]),
                        approved: get(FIELDS[1]),
                        soft_declined: get(FIELDS[2]),
                        hard_declined: get(FIELDS[3]),
                        errors: get(FIELDS[4]),
                    });
                }
                match out.last_evaluated_key {
                    Some(k) => start_key = Some(k),
                    None => break,
                }
            }
        }
        Ok(by_start
            .into_iter()
            .filter_map(|(start, counts)| {
                Timestamp::parse_rfc3339(&start).map(|start| Bucket { start, counts })
            })
            .collect())
    }
}
