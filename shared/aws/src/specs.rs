//! The integration spec's versions on the orders table: [`SpecStore`] for [`DynamoOrderStore`].
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | version counter | `CONFIG#spec` | `COUNTER` | `n` (N) |
//! | one version | `CONFIG#spec` | `V#000007` | `id` (`v7`), `document` (S, JSON), `hash`, `label`, `created_at`, `created_by` |
//! | the active pointer | `CONFIG#spec` | `ACTIVE` | `version`, `activated_at`, `activated_by` |
//! | audit trail | `CONFIG#spec` | `AUDIT#<at>#<0 push, 1 other>#<version>#<action>` | `at`, `by`, `action`, `version`, `from`, `note` |
//!
//! A version is written once (`attribute_not_exists`); the pointer moves only if it still
//! points where the caller saw it, in one transaction with its audit line.

use crate::errors::classify;
use crate::store::{DynamoOrderStore, PK, SK};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use o2c_spec::store::{Active, AuditEntry, SpecStore, StoreError, StoredVersion};
use std::collections::HashMap;

pub const SPEC_PK: &str = "CONFIG#spec";
const ACTIVE_SK: &str = "ACTIVE";
const COUNTER_SK: &str = "COUNTER";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn get(item: &HashMap<String, AttributeValue>, k: &str) -> String {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn unavailable<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(classify(e).detail)
}

fn version_sk(n: u64) -> String {
    format!("V#{n:06}")
}

fn version_from(item: &HashMap<String, AttributeValue>) -> StoredVersion {
    StoredVersion {
        id: get(item, "id"),
        document: get(item, "document"),
        hash: get(item, "hash"),
        label: get(item, "label"),
        created_at: get(item, "created_at"),
        created_by: get(item, "created_by"),
    }
}

fn audit_put(table: &str, e: &AuditEntry) -> Put {
    let mut p = Put::builder()
        .table_name(table)
        .item(PK, s(SPEC_PK))
        // Within one millisecond a push comes before the activation it leads to.
        .item(
            SK,
            s(format!(
                "AUDIT#{}#{}#{}#{}",
                e.at,
                u8::from(e.action != "push"),
                e.version,
                e.action
            )),
        )
        .item("at", s(&e.at))
        .item("by", s(&e.by))
        .item("action", s(&e.action))
        .item("version", s(&e.version))
        .item("note", s(&e.note));
    if let Some(f) = &e.from {
        p = p.item("from", s(f));
    }
    p.build().expect("table, item set")
}

impl DynamoOrderStore {
    async fn query_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :p)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(SPEC_PK))
                .expression_attribute_values(":p", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable(&e))?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}

#[async_trait]
impl SpecStore for DynamoOrderStore {
    async fn active(&self) -> Result<Option<Active>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(SPEC_PK))
            .key(SK, s(ACTIVE_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(out.item.map(|i| Active {
            version: get(&i, "version"),
            activated_at: get(&i, "activated_at"),
            activated_by: get(&i, "activated_by"),
        }))
    }

    async fn version(&self, id: &str) -> Result<Option<StoredVersion>, StoreError> {
        let n = o2c_spec::store::version_number(id);
        if n == 0 {
            return Ok(None);
        }
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(SPEC_PK))
            .key(SK, s(version_sk(n)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(out.item.as_ref().map(version_from))
    }

    async fn versions(&self) -> Result<Vec<StoredVersion>, StoreError> {
        Ok(self
            .query_prefix("V#")
            .await?
            .iter()
            .map(version_from)
            .collect())
    }

    async fn put_version(
        &self,
        document: &str,
        hash: &str,
        label: &str,
        by: &str,
        at: &str,
    ) -> Result<StoredVersion, StoreError> {
        let counter = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(SPEC_PK))
            .key(SK, s(COUNTER_SK))
            .update_expression("ADD #n :one")
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let n: u64 = counter
            .attributes
            .and_then(|a| {
                a.get("n")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
            })
            .ok_or_else(|| StoreError::Unavailable("version counter gave no number".into()))?;
        let v = StoredVersion {
            id: format!("v{n}"),
            document: document.into(),
            hash: hash.into(),
            label: label.into(),
            created_at: at.into(),
            created_by: by.into(),
        };
        self.client()
            .put_item()
            .table_name(self.table())
            .item(PK, s(SPEC_PK))
            .item(SK, s(version_sk(n)))
            .item("id", s(&v.id))
            .item("document", s(&v.document))
            .item("hash", s(&v.hash))
            .item("label", s(&v.label))
            .item("created_at", s(&v.created_at))
            .item("created_by", s(&v.created_by))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(v)
    }

    async fn activate(
        &self,
        id: &str,
        expected: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        if self.version(id).await?.is_none() {
            return Err(StoreError::NotFound(id.into()));
        }
        let mut pointer = Put::builder()
            .table_name(self.table())
            .item(PK, s(SPEC_PK))
            .item(SK, s(ACTIVE_SK))
            .item("version", s(id))
            .item("activated_at", s(&audit.at))
            .item("activated_by", s(&audit.by));
        pointer = match expected {
            Some(v) => pointer
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":expected", s(v)),
            None => pointer
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
        };
        let result = self
            .client()
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(pointer.build().expect("table, item set"))
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(audit_put(self.table(), audit))
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_transaction_canceled_exception()) =>
            {
                Err(StoreError::Conflict {
                    expected: expected.map(str::to_owned),
                    actual: self.active().await?.map(|a| a.version),
                })
            }
            Err(e) => Err(unavailable(&e)),
        }
    }

    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let p = audit_put(self.table(), entry);
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(p.item))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    async fn history(&self) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .query_prefix("AUDIT#")
            .await?
            .iter()
            .map(|i| AuditEntry {
                at: get(i, "at"),
                by: get(i, "by"),
                action: get(i, "action"),
                version: get(i, "version"),
                from: i.get("from").and_then(|v| v.as_s().ok()).cloned(),
                note: get(i, "note"),
            })
            .collect())
    }
}
