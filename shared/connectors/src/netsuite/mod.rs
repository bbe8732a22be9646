//! NetSuite (the ERP) over SuiteTalk REST (the assumed contract:
//! `shared/connectors/ERP_CRM_ASSUMED.md`).
//!
//! * OAuth 2.0 client credentials with a PS256 JWT client assertion (the shared
//!   [`crate::http::oauth`] cache): `kid` = certificate id, `iss` = client id, `scope` =
//!   `rest_webservices`, `aud` = the token URL.
//! * Customers, sales orders and customer deposits are **upserted by external id**:
//!   `PUT /record/v1/<type>/eid:<externalId>` creates or updates, so a replay never duplicates.
//! * Item fulfilments and inventory levels are read for the ERP → Clarity direction.
//!
//! The records themselves are built by [`crate::mapping::netsuite`].

mod client;
mod credentials;
mod error;

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

pub use client::{retry_policy, NetSuiteClient, NetSuiteConfig};
pub use credentials::ErpCredentials;
pub use error::ErpError;

/// Record types this integration touches (NetSuite treats the names case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    Customer,
    SalesOrder,
    CustomerDeposit,
    /// Money returned to the customer (a refund of a captured payment).
    CustomerRefund,
    ItemFulfillment,
    InventoryItem,
}

impl RecordType {
    /// The path segment under `/record/v1/`.
    pub const fn path(self) -> &'static str {
        match self {
            RecordType::Customer => "customer",
            RecordType::SalesOrder => "salesOrder",
            RecordType::CustomerDeposit => "customerDeposit",
            RecordType::CustomerRefund => "customerRefund",
            RecordType::ItemFulfillment => "itemFulfillment",
            RecordType::InventoryItem => "inventoryItem",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// A record to upsert by external id.
#[derive(Debug, Clone, PartialEq)]
pub struct ErpRecord {
    pub record_type: RecordType,
    /// Letters, digits, `_` and `-` (a `|` breaks NetSuite's parsing).
    pub external_id: String,
    /// The record body (without `externalId`, which is in the path).
    pub body: Value,
    /// Sublists whose lines the upsert replaces (`?replace=item`) rather than merges.
    pub replace_sublists: Vec<&'static str>,
}

/// Is `id` a usable NetSuite external id?
pub fn valid_external_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What an upsert answered (204 + `Location`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErpUpsert {
    /// The record's internal id, from `Location`.
    pub internal_id: Option<String>,
    pub location: Option<String>,
}

/// One shipped line of an item fulfilment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentLine {
    /// The item's name/number (`item.refName`), which is the SKU (ERP_CRM_ASSUMED.md).
    pub sku: String,
    pub quantity: u32,
}

/// An item fulfilment (`itemFulfillment`) of a sales order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFulfillment {
    pub id: String,
    pub tran_id: Option<String>,
    /// `YYYY-MM-DD`.
    pub tran_date: Option<String>,
    /// `A` picked, `B` packed, `C` shipped.
    pub ship_status: Option<String>,
    /// `shipMethod.refName`.
    pub ship_method: Option<String>,
    pub tracking_numbers: Vec<String>,
    pub lines: Vec<FulfillmentLine>,
}

impl ItemFulfillment {
    pub fn is_shipped(&self) -> bool {
        self.ship_status.as_deref() == Some("C")
    }
}

/// Stock of one item at one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErpInventoryLevel {
    pub sku: String,
    pub location_id: String,
    pub location_name: Option<String>,
    pub quantity_on_hand: i64,
    pub quantity_available: i64,
}

/// An item fulfilment found by a modified-since query, with the sales order it was created from
/// (the incremental ERP → Clarity poll).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentUpdate {
    /// Internal id of the sales order (`createdFrom.id`).
    pub sales_order_id: String,
    /// The sales order's external id (`clr-so-<clarityOrderId>` for ours; `None` for orders
    /// entered in NetSuite, or when `createdFrom` is not a sales order).
    pub sales_order_external_id: Option<String>,
    /// `custbody_o2c_order_id` of the sales order: our order id, when we wrote it.
    pub order_id: Option<String>,
    pub fulfillment: ItemFulfillment,
}

/// The ERP port.
#[async_trait]
pub trait ErpApi: Send + Sync {
    /// `PUT /record/v1/<type>/eid:<externalId>`: create or update; the same external id twice
    /// is one record.
    async fn upsert(&self, record: &ErpRecord) -> Result<ErpUpsert, ErpError>;

    /// `GET /record/v1/<type>/eid:<externalId>`; `None` when absent (recovery: "did the effect
    /// happen?").
    async fn get_by_external_id(
        &self,
        record_type: RecordType,
        external_id: &str,
    ) -> Result<Option<Value>, ErpError>;

    /// The item fulfilments created from the sales order with this external id (none when the
    /// sales order does not exist).
    async fn item_fulfillments(
        &self,
        sales_order_external_id: &str,
    ) -> Result<Vec<ItemFulfillment>, ErpError>;

    /// Stock of one SKU per location.
    async fn inventory_levels(&self, sku: &str) -> Result<Vec<ErpInventoryLevel>, ErpError>;

    /// Item fulfilments modified at or after `since`, each with the ids of its sales order:
    /// the incremental ERP → Clarity poll (cost grows with the changes, not with the open
    /// orders). Provided as "unsupported" so other implementations need not offer it.
    async fn fulfillments_modified_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<FulfillmentUpdate>, ErpError> {
        let _ = since;
        Err(ErpError::InvalidRequest {
            operation: "fulfillments modified since",
            reason: "not supported by this ERP client".into(),
        })
    }

    /// Stock per location of every inventory item modified at or after `since`.
    async fn inventory_modified_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<ErpInventoryLevel>, ErpError> {
        let _ = since;
        Err(ErpError::InvalidRequest {
            operation: "inventory modified since",
            reason: "not supported by this ERP client".into(),
        })
    }
}

#[cfg(test)]
mod tests;
