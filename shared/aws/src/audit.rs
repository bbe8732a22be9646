//! [`AuditLog`] on the orders table: `pk = AUDIT#console`, `sk = <at RFC 3339>#<random>`,
//! `entry` (S, JSON of the [`AuditEntry`]). Kept (no TTL): people act at human rates.

use crate::errors::store_unavailable as unavailable;
use crate::DynamoOrderStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use o2c_domain::ports::{AuditEntry, AuditLog, StoreError};

const PK: &str = "AUDIT#console";

#[async_trait]
impl AuditLog for DynamoOrderStore {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let json = serde_json::to_string(entry).map_err(|e| StoreError::Corrupt {
            id: PK.into(),
            detail: e.to_string(),
        })?;
        let n: u64 = rand_suffix();
        self.client()
            .put_item()
            .table_name(self.table())
            .item("pk", AttributeValue::S(PK.into()))
            .item(
                "sk",
                AttributeValue::S(format!("{}#{n:016x}", entry.at.to_rfc3339())),
            )
            .item("entry", AttributeValue::S(json))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    async fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", AttributeValue::S(PK.into()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit.clamp(1, 500)).unwrap_or(500))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        out.items()
            .iter()
            .filter_map(|i| i.get("entry").and_then(|v| v.as_s().ok()))
            .map(|s| {
                serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
                    id: PK.into(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }
}

/// Two entries in the same millisecond keep distinct keys.
fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
