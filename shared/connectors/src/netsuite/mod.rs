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
mod error;

use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

pub use client::{retry_policy, NetSuiteClient, NetSuiteConfig};
pub use error::ErpError;

use crate::http::oauth::{ClientAuth, JwtAssertion, OAuthError, TokenEndpoint};
use crate::http::transport::{parse_secret, SecretFormatError};

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

/// The `ErpSecret` JSON (infra/README.md): NetSuite M2M client credentials.
#[derive(Clone, Deserialize)]
pub struct ErpCredentials {
    pub account_id: String,
    /// `https://<account>.suitetalk.api.netsuite.com/services/rest`.
    pub base_url: String,
    /// `…/services/rest/auth/oauth2/v1/token`.
    pub token_url: String,
    pub client_id: String,
    /// The JWT `kid`.
    pub certificate_id: String,
    /// PEM of the private key whose certificate is mapped in NetSuite.
    pub private_key_pem: SecretString,
}

impl fmt::Debug for ErpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErpCredentials")
            .field("account_id", &self.account_id)
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("certificate_id", &self.certificate_id)
            .field("private_key_pem", &"[REDACTED]")
            .finish()
    }
}

impl ErpCredentials {
    pub fn from_json(json: &str) -> Result<Self, SecretFormatError> {
        parse_secret("erp", json)
    }

    /// Client credentials with a PS256 client assertion: `scope` `rest_webservices`, `aud` the
    /// token URL, 5-minute assertions.
    pub fn token_endpoint(&self) -> Result<TokenEndpoint, OAuthError> {
        let assertion = JwtAssertion::from_rsa_pem(
            self.client_id.clone(),
            self.certificate_id.clone(),
            self.token_url.clone(),
            "rest_webservices",
            &self.private_key_pem,
        )?;
        Ok(TokenEndpoint::new(
            self.token_url.clone(),
            ClientAuth::JwtAssertion(Box::new(assertion)),
        ))
    }
}

#[cfg(test)]
mod tests;
