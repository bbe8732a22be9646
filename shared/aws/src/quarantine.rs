//! The quarantine store on its own DynamoDB table ([`DynamoQuarantine`] implements
//! [`QuarantineStore`]); the table is encrypted with the template's KMS key (`QuarantineKey`)
//! and forgets records after their `expires_at` (TTL).
//!
//! # Key schema (key `pk`, S)
//!
//! **Event** — `pk = "EVENT#<event id>"`: `record` (S, JSON of the [`Quarantined`] without its
//! body, resolution and delivery count), `body` (S, the raw body; absent when over the cap),
//! `deliveries` (N), `resolution` (S JSON, once resolved), `day` (S, `YYYY-MM-DD` of
//! `received_at`) and `received_at` (S, RFC 3339) for the `by_day` index, `expires_at` (N, epoch
//! seconds, the TTL).
//!
//! **Rate counter** — `pk = "RATE#<window>"`: `n` (N), `expires_at` (N).
//!
//! The `by_day` index (hash `day`, range `received_at`) projects `record`, `deliveries` and
//! `resolution`: a listing never reads a body.

use crate::errors::store_unavailable as unavailable;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use o2c_domain::ports::StoreError;
use o2c_domain::quarantine::{QuarantinePut, QuarantineStore, Quarantined, Resolution};
use o2c_domain::Timestamp;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// The index listings query.
pub const BY_DAY: &str = "by_day";

pub struct DynamoQuarantine {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn event_key(event_id: &str) -> AttributeValue {
    s(format!("EVENT#{event_id}"))
}

fn corrupt(id: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        id: id.to_string(),
        detail: detail.to_string(),
    }
}

/// A record from an item (`body` only when the item has it).
fn record_of(item: &Item) -> Result<Quarantined, StoreError> {
    let pk = item.get("pk").and_then(|v| v.as_s().ok()).cloned();
    let id = pk.as_deref().unwrap_or("?");
    let text = item
        .get("record")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt(id, "no record attribute"))?;
    let mut q: Quarantined = serde_json::from_str(text).map_err(|e| corrupt(id, e))?;
    q.body = item.get("body").and_then(|v| v.as_s().ok()).cloned();
    q.deliveries = item
        .get("deliveries")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    q.resolution = match item.get("resolution").and_then(|v| v.as_s().ok()) {
        Some(r) => Some(serde_json::from_str(r).map_err(|e| corrupt(id, e))?),
        None => None,
    };
    Ok(q)
}

impl DynamoQuarantine {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoQuarantine {
            client,
            table: table.into(),
        }
    }

    pub fn from_conf(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    /// Count a redelivery of a kept event and return the record as stored (no body).
    async fn redelivered(&self, event_id: &str) -> Result<Quarantined, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", event_key(event_id))
            .update_expression("ADD deliveries :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let mut q = record_of(out.attributes().unwrap_or(&HashMap::new()))?;
        q.body = None;
        Ok(q)
    }
}

#[async_trait]
impl QuarantineStore for DynamoQuarantine {
    async fn put(&self, q: &Quarantined) -> Result<QuarantinePut, StoreError> {
        let mut stored = q.clone();
        let body = stored.body.take();
        stored.resolution = None;
        let record = serde_json::to_string(&stored).map_err(|e| corrupt(&q.event_id, e))?;
        let received = q.received_at.to_rfc3339();
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", event_key(&q.event_id))
            .item("record", s(record))
            .item("deliveries", AttributeValue::N("1".into()))
            .item("day", s(&received[..10]))
            .item("received_at", s(format!("{received}#{}", q.event_id)))
            .item(
                "expires_at",
                AttributeValue::N(q.expires_at.epoch_seconds().to_string()),
            )
            .condition_expression("attribute_not_exists(pk)");
        if let Some(body) = body {
            req = req.item("body", s(body));
        }
        match req.send().await {
            Ok(_) => Ok(QuarantinePut::Created),
            Err(e)
                if e.as_service_error()
                    .is_some_and(PutItemError::is_conditional_check_failed_exception) =>
            {
                Ok(QuarantinePut::Exists(Box::new(
                    self.redelivered(&q.event_id).await?,
                )))
            }
            Err(e) => Err(unavailable(&e)),
        }
    }

    async fn get(&self, event_id: &str) -> Result<Option<Quarantined>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", event_key(event_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        out.item().map(record_of).transpose()
    }

    async fn list(&self, days: &[String]) -> Result<Vec<Quarantined>, StoreError> {
        let mut all = Vec::new();
        for day in days {
            let mut start: Option<Item> = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(BY_DAY)
                    .key_condition_expression("#d = :d")
                    .expression_attribute_names("#d", "day")
                    .expression_attribute_values(":d", s(day))
                    .scan_index_forward(false)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| unavailable(&e))?;
                for item in out.items() {
                    all.push(record_of(item)?);
                }
                match out.last_evaluated_key() {
                    Some(k) if !k.is_empty() => start = Some(k.clone()),
                    _ => break,
                }
            }
        }
        all.sort_by_key(|q| std::cmp::Reverse(q.received_at));
        Ok(all)
    }

    async fn resolve(&self, event_id: &str, resolution: &Resolution) -> Result<bool, StoreError> {
        let r = serde_json::to_string(resolution).map_err(|e| corrupt(event_id, e))?;
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", event_key(event_id))
            .update_expression("SET resolution = :r")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(resolution)")
            .expression_attribute_values(":r", s(r))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(&e)),
        }
    }

    async fn count(&self, window: &str, expires_at: Timestamp) -> Result<u64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("RATE#{window}")))
            .update_expression("ADD n :one SET expires_at = :exp")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(
                ":exp",
                AttributeValue::N(expires_at.epoch_seconds().to_string()),
            )
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        out.attributes()
            .and_then(|a| a.get("n"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| corrupt(window, "rate counter without n"))
    }
}
