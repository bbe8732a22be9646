//! API clients bounded by the invocation's deadline.
//!
//! The sync consumers reach Clarity, the ERP and the CRM through ports ([`ClarityApi`],
//! [`ErpApi`], [`CrmApi`]) and never see the Lambda context. [`Bounded`] wraps a client so that
//! every call made while a message is handled runs under that message's invocation deadline
//! ([`o2c_runtime::batch::current_deadline`]) less [`CALL_SAFETY_MARGIN`]: the clients' shared
//! retry policy then starts no retry (nor its sleep) that cannot finish before it, and an
//! attempt's timeout is cut to it. Without an invocation deadline (the local bridge, tests) the
//! client runs as configured.

use crate::payment::CALL_SAFETY_MARGIN;
use async_trait::async_trait;
use o2c_connectors::clarity::dto::{
    Customer, InventoryLevel, InventoryLevelUpdate, Order, OrderPatch, ShipmentCreate,
};
use o2c_connectors::clarity::{
    ClarityApi, ClarityClient, ClarityError, CustomerUpsert, ShipmentCreated, Versioned,
};
use o2c_connectors::netsuite::{
    ErpApi, ErpError, ErpInventoryLevel, ErpRecord, ErpUpsert, FulfillmentUpdate, ItemFulfillment,
    NetSuiteClient, RecordType,
};
use o2c_connectors::salesforce::{CaseRecord, CaseUpsert, CrmApi, CrmError, SalesforceClient};
use o2c_runtime::batch::current_deadline;
use serde_json::Value;
use std::time::Instant;
use time::OffsetDateTime;

/// When a call must be finished, given the invocation's deadline: that deadline less
/// [`CALL_SAFETY_MARGIN`], never before `now`.
pub fn call_deadline(invocation: Option<Instant>, now: Instant) -> Option<Instant> {
    invocation.map(|end| end.checked_sub(CALL_SAFETY_MARGIN).unwrap_or(now).max(now))
}

/// A client that can be bounded by a deadline.
pub trait WithDeadline: Sized {
    fn with_deadline(&self, deadline: Instant) -> Self;
}

impl WithDeadline for ClarityClient {
    fn with_deadline(&self, deadline: Instant) -> Self {
        ClarityClient::with_deadline(self, deadline)
    }
}

impl WithDeadline for NetSuiteClient {
    fn with_deadline(&self, deadline: Instant) -> Self {
        NetSuiteClient::with_deadline(self, deadline)
    }
}

impl WithDeadline for SalesforceClient {
    fn with_deadline(&self, deadline: Instant) -> Self {
        SalesforceClient::with_deadline(self, deadline)
    }
}

/// A client whose every call is bounded by the current message's invocation deadline.
#[derive(Clone, Debug)]
pub struct Bounded<C>(pub C);

impl<C: WithDeadline + Clone> Bounded<C> {
    /// The client for a call starting now.
    fn client(&self) -> C {
        match call_deadline(current_deadline(), Instant::now()) {
            Some(deadline) => self.0.with_deadline(deadline),
            None => self.0.clone(),
        }
    }
}

#[async_trait]
impl ClarityApi for Bounded<ClarityClient> {
    async fn get_order(&self, order_id: &str) -> Result<Versioned<Order>, ClarityError> {
        self.client().get_order(order_id).await
    }

    async fn patch_order(
        &self,
        order_id: &str,
        patch: &OrderPatch,
        if_match: Option<u64>,
        idempotency_key: Option<&str>,
    ) -> Result<Versioned<Order>, ClarityError> {
        self.client()
            .patch_order(order_id, patch, if_match, idempotency_key)
            .await
    }

    async fn put_customer(
        &self,
        customer: &Customer,
        if_match: Option<u64>,
    ) -> Result<CustomerUpsert, ClarityError> {
        self.client().put_customer(customer, if_match).await
    }

    async fn create_shipment(
        &self,
        order_id: &str,
        shipment: &ShipmentCreate,
        idempotency_key: &str,
    ) -> Result<ShipmentCreated, ClarityError> {
        self.client()
            .create_shipment(order_id, shipment, idempotency_key)
            .await
    }

    async fn put_inventory(
        &self,
        sku: &str,
        location_id: &str,
        level: &InventoryLevelUpdate,
    ) -> Result<InventoryLevel, ClarityError> {
        self.client().put_inventory(sku, location_id, level).await
    }
}

#[async_trait]
impl ErpApi for Bounded<NetSuiteClient> {
    async fn upsert(&self, record: &ErpRecord) -> Result<ErpUpsert, ErpError> {
        self.client().upsert(record).await
    }

    async fn get_by_external_id(
        &self,
        record_type: RecordType,
        external_id: &str,
    ) -> Result<Option<Value>, ErpError> {
        self.client()
            .get_by_external_id(record_type, external_id)
            .await
    }

    async fn item_fulfillments(
        &self,
        sales_order_external_id: &str,
    ) -> Result<Vec<ItemFulfillment>, ErpError> {
        self.client()
            .item_fulfillments(sales_order_external_id)
            .await
    }

    async fn inventory_levels(&self, sku: &str) -> Result<Vec<ErpInventoryLevel>, ErpError> {
        self.client().inventory_levels(sku).await
    }

    async fn fulfillments_modified_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<FulfillmentUpdate>, ErpError> {
        self.client().fulfillments_modified_since(since).await
    }

    async fn inventory_modified_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<ErpInventoryLevel>, ErpError> {
        self.client().inventory_modified_since(since).await
    }
}

#[async_trait]
impl CrmApi for Bounded<SalesforceClient> {
    async fn upsert_case(&self, case: &CaseRecord) -> Result<CaseUpsert, CrmError> {
        self.client().upsert_case(case).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_calls_deadline_is_the_invocations_less_the_margin_never_in_the_past() {
        let now = Instant::now();
        assert_eq!(call_deadline(None, now), None);
        let end = now + Duration::from_secs(10);
        assert_eq!(
            call_deadline(Some(end), now),
            Some(end - CALL_SAFETY_MARGIN)
        );
        assert_eq!(
            call_deadline(Some(now + Duration::from_millis(500)), now),
            Some(now)
        );
    }
}
