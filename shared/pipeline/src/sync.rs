//! The sync consumers: converge Clarity and the ERP/CRM to the order as recorded.
//!
//! A nudge only says "order X changed". The consumer reads the order (consistent read) and
//! makes the external system match it with idempotent calls — Clarity's no-op status rule with
//! `If-Match`, NetSuite upserts by external id, a Salesforce Case upsert by external-id field —
//! so repeated, late or reordered nudges are harmless.

use crate::handler::parse;
use crate::messages::SyncNudge;
use crate::payment::authorize::{final_attempt, AuthorizeOutcome};
use crate::spec_runtime;
use async_trait::async_trait;
use o2c_connectors::clarity::ClarityApi;
use o2c_connectors::cybersource::PaymentOutcome;
use o2c_connectors::mapping::clarity::{
    clarity_status_for, clarity_transition_allowed, customer_status_reason, customer_to_clarity,
    payment_info, status_to_push,
};
use o2c_connectors::mapping::netsuite::{
    customer_deposit_record, customer_record, customer_refund_record, sales_order_record,
    ErpMapping,
};
use o2c_connectors::mapping::salesforce::{fraud_case, CrmMapping, FraudAssessment};
use o2c_connectors::netsuite::ErpApi;
use o2c_connectors::salesforce::CrmApi;
use o2c_domain::pii::MaskPolicy;
use o2c_domain::ports::{Change, Clock, Expect, OrderRecord, OrderStore, StoreError};
use o2c_domain::recipe::{FailureClass, StepError, StepFailure};
use o2c_domain::{OrderState, TimelineEntry};
use o2c_runtime::batch::{MessageHandler, QueueMessage};
use o2c_spec::Specs;
use std::sync::Arc;

/// A connector error as the batch runner sees it.
pub fn failure(e: impl Into<StepError>) -> StepFailure {
    match e.into() {
        StepError::Terminal { class, reason } => StepFailure::NonRetryable { class, reason },
        other => StepFailure::RetryLater(other.to_string()),
    }
}

async fn read(store: &dyn OrderStore, nudge: &SyncNudge) -> Result<OrderRecord, StepFailure> {
    store
        .get(&nudge.order_id)
        .await
        .map_err(|e| StepFailure::RetryLater(e.to_string()))?
        .ok_or_else(|| StepFailure::NonRetryable {
            class: FailureClass::NotFound,
            reason: format!("order {} not found", nudge.order_id),
        })
}

/// The recorded authorization (the last attempt, when routing cascaded), if any.
pub fn authorization(record: &OrderRecord) -> Option<AuthorizeOutcome> {
    final_attempt(record).map(|(_, outcome)| outcome)
}

// ---------------------------------------------------------------------------------------------
// Clarity
// ---------------------------------------------------------------------------------------------

/// clarity-sync: order status + payment info (and the customer profile once authorized).
pub struct ClaritySync {
    pub store: Arc<dyn OrderStore>,
    pub clarity: Arc<dyn ClarityApi>,
    /// The integration spec versions (the customer-facing reason texts).
    pub specs: Arc<Specs>,
}

#[async_trait]
impl MessageHandler for ClaritySync {
    async fn handle(&self, message: &QueueMessage) -> Result<(), StepFailure> {
        let nudge: SyncNudge = parse(&message.body)?;
        let record = read(&*self.store, &nudge).await?;
        let order = &record.order;
        let clarity_id = order
            .external
            .clarity
            .clone()
            .unwrap_or_else(|| order.id.to_string());
        let spec = spec_runtime::for_order(&self.specs, order).await?;
        if nudge.cause == "authorize.recorded" {
            // The unified customer profile: Clarity learns the ERP/CRM ids we hold.
            let customer = customer_to_clarity(&spec, order).map_err(failure)?;
            self.clarity
                .put_customer(&customer, None)
                .await
                .map_err(failure)?;
        }
        if clarity_status_for(&spec, record.state)
            .map_err(failure)?
            .is_none()
        {
            return Ok(());
        }
        let current = self.clarity.get_order(&clarity_id).await.map_err(failure)?;
        let Some(status) =
            status_to_push(&spec, record.state, current.value.status).map_err(failure)?
        else {
            tracing::info!(state = %record.state, "Clarity already in step");
            return Ok(());
        };
        if !clarity_transition_allowed(current.value.status, status) {
            // E.g. a dispute on an order the merchant already shipped: Clarity's status belongs
            // to the merchant from there on (the chargeback poller records it as metadata).
            tracing::info!(state = %record.state, clarity_status = %current.value.status, wanted = %status,
                "Clarity does not allow this status change; left as is");
            return Ok(());
        }
        // What Clarity (and so the shopper) may read: a code and a neutral message from the
        // one table. The detail (route, reason codes, Decision Manager) stays on our timeline.
        let auth = authorization(&record);
        let reason = customer_status_reason(
            &spec,
            record.state,
            auth.as_ref().map(|a| &a.result.outcome),
        )
        .map_err(failure)?;
        let payment = payment_info(&spec, order, record.state).map_err(failure)?;
        let update = self
            .clarity
            .set_status(&clarity_id, status, reason.as_deref(), payment.as_ref())
            .await
            .map_err(failure)?;
        tracing::info!(state = %record.state, clarity_status = %status, update = ?std::mem::discriminant(&update), "Clarity status synced");
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// ERP + CRM
// ---------------------------------------------------------------------------------------------

/// erp-sync: NetSuite customer, sales order and customer deposit; Salesforce fraud case. Each
/// by external id; the internal ids are linked back onto the order (the unified customer
/// record: Clarity, Cybersource TMS, ERP and CRM ids side by side).
pub struct ErpSync {
    pub store: Arc<dyn OrderStore>,
    pub clock: Arc<dyn Clock>,
    pub erp: Arc<dyn ErpApi>,
    pub crm: Arc<dyn CrmApi>,
    /// The integration spec versions: each order is mapped under the one it pinned.
    pub specs: Arc<Specs>,
    /// Mask PII in what leaves for the ERP/CRM (stages below production).
    pub mask: MaskPolicy,
}

/// Timeline entry: the spec's `erp` rule kept this order out of the ERP.
pub const ERP_SKIPPED: &str = "erp-sync.skipped";

/// States in which the order is a sale the ERP should know (authorized or beyond).
const SALE_STATES: &[OrderState] = &[
    OrderState::Authorized,
    OrderState::Capturing,
    OrderState::Captured,
    OrderState::Refunding,
    OrderState::PartiallyRefunded,
    OrderState::Refunded,
    OrderState::Disputed,
    OrderState::DisputeWon,
    OrderState::DisputeLost,
];

#[async_trait]
impl MessageHandler for ErpSync {
    async fn handle(&self, message: &QueueMessage) -> Result<(), StepFailure> {
        let nudge: SyncNudge = parse(&message.body)?;
        let record = read(&*self.store, &nudge).await?;
        let mut order = record.order.clone();
        let map_err = |e: o2c_connectors::mapping::MappingError| failure(e);
        let spec = spec_runtime::for_order(&self.specs, &order).await?;
        let erp_mapping = ErpMapping {
            spec: spec.clone(),
            mask: self.mask,
        };
        let crm_mapping = CrmMapping {
            spec: spec.clone(),
            mask: self.mask,
        };
        if let Some(skip) = spec_runtime::erp_skip(&spec, &order).map_err(map_err)? {
            return self.note_skip(&record, &skip).await;
        }

        let customer = self
            .erp
            .upsert(&customer_record(&order, &erp_mapping).map_err(map_err)?)
            .await
            .map_err(failure)?;
        if let Some(id) = customer.internal_id {
            order.customer.external.erp = Some(id);
        }
        if SALE_STATES.contains(&record.state) {
            let so = self
                .erp
                .upsert(&sales_order_record(&order, &erp_mapping).map_err(map_err)?)
                .await
                .map_err(failure)?;
            if let Some(id) = so.internal_id {
                order.external.erp = Some(id);
            }
        }
        if order
            .payment
            .as_ref()
            .is_some_and(|p| !p.captured.is_zero())
        {
            self.erp
                .upsert(&customer_deposit_record(&order, &erp_mapping).map_err(map_err)?)
                .await
                .map_err(failure)?;
        }
        for refund in order
            .refunds
            .iter()
            .filter(|r| r.status == o2c_domain::RefundStatus::Succeeded)
        {
            let record = customer_refund_record(&order, refund, &erp_mapping).map_err(map_err)?;
            self.erp.upsert(&record).await.map_err(failure)?;
        }
        let reviewer_rejected = record.timeline.iter().any(|e| e.what == "review.rejected");
        // Only a rejected payment can open a case; whether it does is the spec's `crm_case`.
        let mut case = None;
        if let Some(a) = authorization(&record) {
            let fraud_rejected = a.result.outcome == PaymentOutcome::RejectedByFraud;
            if fraud_rejected || reviewer_rejected {
                let d = spec_runtime::crm_case(
                    &spec,
                    &record,
                    &a.result.status,
                    a.result.risk_decision.as_deref().unwrap_or(""),
                    fraud_rejected,
                    reviewer_rejected,
                )
                .map_err(map_err)?;
                if d.policy == "open" {
                    case = Some(a);
                }
            }
        }
        if let Some(auth) = case {
            let decision = if reviewer_rejected {
                "REJECT (case review)".to_string()
            } else {
                auth.result
                    .risk_decision
                    .clone()
                    .unwrap_or_else(|| "REJECT".into())
            };
            let fraud = FraudAssessment::from_risk(
                auth.result.id.clone(),
                decision,
                auth.result.error_reason.clone(),
                &auth.result.risk.clone().unwrap_or_default(),
            );
            let case = self
                .crm
                .upsert_case(&fraud_case(&order, &fraud, &crm_mapping).map_err(map_err)?)
                .await
                .map_err(failure)?;
            if let Some(id) = case.id {
                order.external.crm = Some(id);
            }
        }
        self.link(&record, order).await
    }
}

impl ErpSync {
    /// The spec's `erp` rule skips this order: say so on the timeline once, send nothing.
    async fn note_skip(
        &self,
        record: &OrderRecord,
        skip: &o2c_spec::Decision,
    ) -> Result<(), StepFailure> {
        if record.timeline.iter().any(|e| e.what == ERP_SKIPPED) {
            return Ok(());
        }
        if record.state.is_in_progress() {
            return Err(StepFailure::RetryLater(format!(
                "order {} is {}; noting the ERP skip after the step",
                record.order.id, record.state
            )));
        }
        let entry = TimelineEntry::new(
            self.clock.now(),
            ERP_SKIPPED,
            format!(
                "spec {}: {}",
                record
                    .order
                    .spec_version
                    .as_deref()
                    .unwrap_or(o2c_spec::BUNDLED),
                spec_runtime::describe(skip)
            ),
        );
        self.write(record, Change::note(entry), "noting the ERP skip")
            .await
    }

    /// Write the linked ids onto the order, if they changed. Not while a step holds the order
    /// (its recorded document would overwrite ours): retry later, the upserts are idempotent.
    async fn link(
        &self,
        record: &OrderRecord,
        order: o2c_domain::Order,
    ) -> Result<(), StepFailure> {
        if order == record.order {
            return Ok(());
        }
        if record.state.is_in_progress() {
            return Err(StepFailure::RetryLater(format!(
                "order {} is {}; linking ERP/CRM ids after the step",
                order.id, record.state
            )));
        }
        let entry = TimelineEntry::new(
            self.clock.now(),
            "erp-sync.linked",
            format!(
                "ERP customer {}, sales order {}, CRM case {}",
                order.customer.external.erp.as_deref().unwrap_or("-"),
                order.external.erp.as_deref().unwrap_or("-"),
                order.external.crm.as_deref().unwrap_or("-")
            ),
        );
        let change = Change {
            order: Some(order),
            ..Change::note(entry)
        };
        self.write(record, change, "linking").await
    }

    /// One write on the order as `record` saw it; a change meanwhile is retried later (the
    /// upserts before it are idempotent).
    async fn write(
        &self,
        record: &OrderRecord,
        change: Change,
        what: &str,
    ) -> Result<(), StepFailure> {
        match self
            .store
            .update(
                &record.order.id,
                Expect::StateVersion {
                    state: record.state,
                    version: record.version,
                },
                change,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => Err(StepFailure::RetryLater(format!(
                "order changed while {what}; will retry"
            ))),
            Err(e) => Err(StepFailure::RetryLater(e.to_string())),
        }
    }
}
