//! [`OrderSearch`] on the orders table's two indexes (template.yaml): `by_email` (hash `email`,
//! range `created_at`) and `by_state` (hash `state`, range `created_at`), both projecting the
//! order document. Order items carry `email` and `created_at` from creation (see [`crate::store`]);
//! no other item has `email`, and only order items have `state`, so both indexes are sparse.

use crate::errors::store_unavailable as unavailable;
use crate::DynamoOrderStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use o2c_domain::ports::{OrderQuery, OrderSearch, OrderSummary, StoreError};
use o2c_domain::{Order, OrderState};
use std::collections::HashMap;

pub const BY_EMAIL: &str = "by_email";
pub const BY_STATE: &str = "by_state";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn summary(item: &HashMap<String, AttributeValue>) -> Result<OrderSummary, StoreError> {
    let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let corrupt = |detail: &str| StoreError::Corrupt {
        id: get("pk").unwrap_or_default(),
        detail: detail.to_string(),
    };
    let order: Order = serde_json::from_str(&get("order").ok_or_else(|| corrupt("no order"))?)
        .map_err(|e| corrupt(&e.to_string()))?;
    let state = get("state")
        .and_then(|s| OrderState::ALL.into_iter().find(|x| x.as_str() == s))
        .ok_or_else(|| corrupt("no state"))?;
    Ok(OrderSummary {
        state,
        email: get("email").unwrap_or_default(),
        total: order.total.to_string(),
        created_at: order.created_at,
        id: order.id,
    })
}

#[async_trait]
impl OrderSearch for DynamoOrderStore {
    async fn search(
        &self,
        query: &OrderQuery,
        limit: usize,
    ) -> Result<Vec<OrderSummary>, StoreError> {
        let q = self
            .client()
            .query()
            .table_name(self.table())
            .scan_index_forward(false)
            .limit(i32::try_from(limit.clamp(1, 500)).unwrap_or(500));
        let q = match query {
            OrderQuery::Email(email) => q
                .index_name(BY_EMAIL)
                .key_condition_expression("email = :e")
                .expression_attribute_values(":e", s(email.trim().to_lowercase())),
            OrderQuery::State { state, from, to } => q
                .index_name(BY_STATE)
                .key_condition_expression("#s = :s AND created_at BETWEEN :f AND :t")
                .expression_attribute_names("#s", "state")
                .expression_attribute_values(":s", s(state.as_str()))
                .expression_attribute_values(":f", s(from.to_rfc3339()))
                .expression_attribute_values(":t", s(to.to_rfc3339())),
        };
        let out = q.send().await.map_err(|e| unavailable(&e))?;
        out.items().iter().map(summary).collect()
    }
}
