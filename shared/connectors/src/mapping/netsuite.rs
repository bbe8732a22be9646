//! Canonical → NetSuite records (customer, sales order, customer deposit), and NetSuite →
//! Clarity (item fulfilment → shipment, inventory levels → E6 updates). Field choices and the
//! custom fields are listed in `shared/connectors/ERP_CRM_ASSUMED.md`.
//!
//! * External ids (ASSUMED, `ERP_CRM_ASSUMED.md`): customer `clr-cust-<clarityCustomerId>`, sales order
//!   `clr-so-<clarityOrderId>`, deposit `cybs-<cybersourceTransactionId>`; anything other than
//!   letters, digits, `_` and `-` is a mapping error (NetSuite cannot address it).
//! * References use external ids (`{"externalId": ...}`), so a sales order can be upserted
//!   without first reading the customer's internal id; items are referenced by SKU as their
//!   external id.
//! * The bodies are the integration spec's `erp.*` mappings (`config/mappings.yaml`); the
//!   external ids, the sublists an update replaces and the positive-amount checks are code.
//! * Amounts are JSON numbers whose text is exactly the decimal amount (`107.99`, `1500`,
//!   `12.345`, the spec's `num`); one that cannot be carried exactly is a mapping error.
//! * With [`MaskPolicy::Mask`] (a lower stage) names, emails, phones and address lines are
//!   masked before anything leaves.

use std::sync::Arc;

use o2c_domain::model::{Chargeback, ChargebackStatus, Order, Payment, Refund};
use o2c_domain::pii::{mask_json, MaskPolicy};
use o2c_spec::{context, Spec};
use serde_json::{json, Map, Value};

use super::error::MappingError;
use crate::clarity::dto::{
    InventoryLevelUpdate, Order as ClarityOrder, ShipmentCreate, ShipmentLine,
};
use crate::netsuite::{
    valid_external_id, ErpInventoryLevel, ErpRecord, ItemFulfillment, RecordType,
};

/// What the NetSuite records say: the spec's `erp.*` mappings (and its `netsuite` lookups for
/// subsidiary, deposit account, payment method and currency ids), PII masked below production.
#[derive(Debug, Clone)]
pub struct ErpMapping {
    pub spec: Arc<Spec>,
    /// Mask PII when this stage is not production.
    pub mask: MaskPolicy,
}

impl Default for ErpMapping {
    /// The bundled spec, PII kept.
    fn default() -> Self {
        Self {
            spec: o2c_spec::bundled(),
            mask: MaskPolicy::Keep,
        }
    }
}

fn external_id(path: &str, prefix: &str, id: &str) -> Result<String, MappingError> {
    let eid = format!("{prefix}{id}");
    if valid_external_id(&eid) {
        Ok(eid)
    } else {
        Err(MappingError::invalid(
            path,
            id,
            "cannot be a NetSuite external id (letters, digits, '_' and '-' only)",
        ))
    }
}

/// `clr-cust-<clarityCustomerId>`.
pub fn customer_external_id(order: &Order) -> Result<String, MappingError> {
    let c = &order.customer;
    let id = c
        .external
        .clarity
        .clone()
        .unwrap_or_else(|| c.id.to_string());
    external_id("order.customer.id", "clr-cust-", &id)
}

/// `clr-so-<clarityOrderId>`.
pub fn sales_order_external_id(order: &Order) -> Result<String, MappingError> {
    let id = order
        .external
        .clarity
        .clone()
        .unwrap_or_else(|| order.id.to_string());
    external_id("order.id", "clr-so-", &id)
}

/// `cybs-<cybersourceTransactionId>`.
pub fn deposit_external_id(payment: &Payment) -> Result<String, MappingError> {
    let txn = payment
        .external
        .cybersource
        .as_deref()
        .ok_or_else(|| MappingError::missing("order.payment.external.cybersource"))?;
    external_id("order.payment.external.cybersource", "cybs-", txn)
}

/// A spec evaluation failure as a mapping error naming the spec entry and field.
pub(crate) fn spec_error(e: o2c_spec::EvalError) -> MappingError {
    let path = match &e.field {
        Some(f) => format!("spec {} {}.{f}", e.version, e.entry),
        None => format!("spec {} {}", e.version, e.entry),
    };
    MappingError::invalid(path, "", e.message)
}

/// The context every `erp.*` mapping reads: `.order` and `.ids` (plus `extra`).
fn order_context(order: &Order, extra: &[(&str, Value)]) -> Result<Value, MappingError> {
    let mut ids = json!({
        "customer": customer_external_id(order)?,
        "sales_order": sales_order_external_id(order)?,
    });
    if let Some(p) = order
        .payment
        .as_ref()
        .filter(|p| p.external.cybersource.is_some())
    {
        ids["deposit"] = json!(deposit_external_id(p)?);
    }
    let mut ctx = json!({"order": context::order(order), "ids": ids});
    for (k, v) in extra {
        ctx[*k] = v.clone();
    }
    Ok(ctx)
}

fn record(
    cfg: &ErpMapping,
    mapping: &str,
    ctx: &Value,
    record_type: RecordType,
    external_id: String,
    replace: Vec<&'static str>,
) -> Result<ErpRecord, MappingError> {
    let fields: Map<String, Value> = cfg.spec.map_fields(mapping, ctx).map_err(spec_error)?;
    let mut body = Value::Object(fields);
    mask_json(&mut body, cfg.mask);
    Ok(ErpRecord {
        record_type,
        external_id,
        body,
        replace_sublists: replace,
    })
}

/// The order's customer as a NetSuite `customer` (spec mapping `erp.customer`; by default an
/// individual, the bill-to as default billing and the ship-to, or the bill-to, as default
/// shipping address).
pub fn customer_record(order: &Order, cfg: &ErpMapping) -> Result<ErpRecord, MappingError> {
    let eid = customer_external_id(order)?;
    let ctx = order_context(order, &[])?;
    record(
        cfg,
        "erp.customer",
        &ctx,
        RecordType::Customer,
        eid,
        vec!["addressBook"],
    )
}

/// The order as a NetSuite `salesOrder` (spec mapping `erp.sales_order`; by default `entity`
/// by the customer's external id, the `item` sublist by SKU, `shippingCost`, the Clarity ids
/// and our exact totals in custom body fields). The `item` sublist is replaced on update.
pub fn sales_order_record(order: &Order, cfg: &ErpMapping) -> Result<ErpRecord, MappingError> {
    let eid = sales_order_external_id(order)?;
    let ctx = order_context(order, &[])?;
    record(
        cfg,
        "erp.sales_order",
        &ctx,
        RecordType::SalesOrder,
        eid,
        vec!["item"],
    )
}

/// The captured payment as a NetSuite `customerDeposit` against the sales order (spec mapping
/// `erp.customer_deposit`; an advance payment, applied to the invoice later in NetSuite).
pub fn customer_deposit_record(order: &Order, cfg: &ErpMapping) -> Result<ErpRecord, MappingError> {
    let payment = order
        .payment
        .as_ref()
        .ok_or_else(|| MappingError::missing("order.payment"))?;
    let eid = deposit_external_id(payment)?;
    if payment.captured.minor() <= 0 {
        return Err(MappingError::inconsistent(
            "order.payment.captured",
            &payment.captured.to_decimal_string(),
            "must be positive for a customer deposit",
        ));
    }
    let ctx = order_context(order, &[])?;
    record(
        cfg,
        "erp.customer_deposit",
        &ctx,
        RecordType::CustomerDeposit,
        eid,
        vec![],
    )
}

/// External id of the ERP refund record of one refund: `o2c-rf-<refund id>`.
pub fn refund_external_id(refund: &Refund) -> Result<String, MappingError> {
    external_id("refund.id", "o2c-rf-", refund.id.as_str())
}

/// A refund as a NetSuite `customerRefund` (ASSUMED shape, ERP_CRM_ASSUMED.md; spec mapping
/// `erp.customer_refund`). One record per refund id, so a repeated sync is an update of the
/// same record.
pub fn customer_refund_record(
    order: &Order,
    refund: &Refund,
    cfg: &ErpMapping,
) -> Result<ErpRecord, MappingError> {
    let eid = refund_external_id(refund)?;
    if refund.amount.minor() <= 0 {
        return Err(MappingError::inconsistent(
            "refund.amount",
            &refund.amount.to_decimal_string(),
            "must be positive",
        ));
    }
    let ctx = order_context(order, &[("refund", context::refund(refund))])?;
    record(
        cfg,
        "erp.customer_refund",
        &ctx,
        RecordType::CustomerRefund,
        eid,
        vec![],
    )
}

/// External id of the ERP record of one chargeback: `o2c-<chargeback id>` (`o2c-cb-<txn>`).
pub fn chargeback_external_id(chargeback: &Chargeback) -> Result<String, MappingError> {
    external_id("chargeback.id", "o2c-", chargeback.id.as_str())
}

/// `open`, `won`, `lost`: the dispute status as the ERP and CRM records carry it.
pub fn dispute_status(status: ChargebackStatus) -> &'static str {
    context::dispute_status(status)
}

/// A chargeback as a NetSuite `customerRefund` (ASSUMED shape, ERP_CRM_ASSUMED.md; spec mapping
/// `erp.chargeback`): when a chargeback is opened the disputed funds leave the merchant's
/// account as if refunded, so the record carries the disputed amount for the customer, dated
/// the day the chargeback was received. One record per chargeback id, whose dispute status
/// (`open`, `won`, `lost`) each later event updates: a repeated poll is an update of the same
/// record. Booking the funds of a won dispute back is an accounting step inside NetSuite.
pub fn chargeback_record(
    order: &Order,
    chargeback: &Chargeback,
    cfg: &ErpMapping,
) -> Result<ErpRecord, MappingError> {
    let eid = chargeback_external_id(chargeback)?;
    if chargeback.amount.minor() <= 0 {
        return Err(MappingError::inconsistent(
            "chargeback.amount",
            &chargeback.amount.to_decimal_string(),
            "must be positive",
        ));
    }
    let ctx = order_context(
        order,
        &[("chargeback", context::chargeback(chargeback, None))],
    )?;
    record(
        cfg,
        "erp.chargeback",
        &ctx,
        RecordType::CustomerRefund,
        eid,
        vec![],
    )
}

/// The `Idempotency-Key` of the Clarity shipment for a fulfilment: one fulfilment, one shipment.
pub fn shipment_idempotency_key(clarity_order_id: &str, fulfillment: &ItemFulfillment) -> String {
    format!("ship:{clarity_order_id}:nsif-{}", fulfillment.id)
}

/// An item fulfilment → the Clarity shipment (E5) and its `Idempotency-Key`. Lines are matched
/// to the Clarity order's line items by SKU (the first line with that SKU that still has
/// unshipped quantity in this fulfilment); carrier = the ship method's name.
pub fn shipment_from_fulfillment(
    fulfillment: &ItemFulfillment,
    order: &ClarityOrder,
) -> Result<(ShipmentCreate, String), MappingError> {
    let tracking = fulfillment
        .tracking_numbers
        .first()
        .cloned()
        .ok_or_else(|| {
            MappingError::missing(format!(
                "itemFulfillment[{}].package.packageTrackingNumber",
                fulfillment.id
            ))
        })?;
    let mut left: Vec<(String, String, u32)> = order
        .line_items
        .iter()
        .map(|l| (l.id.clone(), l.sku.clone(), l.quantity))
        .collect();
    let mut lines: Vec<ShipmentLine> = Vec::new();
    for (i, fl) in fulfillment.lines.iter().enumerate() {
        let mut need = fl.quantity;
        for (id, _, qty) in left.iter_mut().filter(|(_, s, q)| *s == fl.sku && *q > 0) {
            let take = need.min(*qty);
            *qty -= take;
            need -= take;
            match lines.iter_mut().find(|l| l.line_item_id == *id) {
                Some(l) => l.quantity += take,
                None => lines.push(ShipmentLine {
                    line_item_id: id.clone(),
                    quantity: take,
                }),
            }
            if need == 0 {
                break;
            }
        }
        if need > 0 {
            return Err(MappingError::inconsistent(
                format!("itemFulfillment[{}].item.items[{i}]", fulfillment.id),
                &fl.sku,
                format!(
                    "ships {} more than Clarity order {} has of this SKU",
                    need, order.id
                ),
            ));
        }
    }
    if lines.is_empty() {
        return Err(MappingError::missing(format!(
            "itemFulfillment[{}].item.items",
            fulfillment.id
        )));
    }
    let shipped_at = fulfillment
        .tran_date
        .as_deref()
        .filter(|d| d.len() == 10)
        .map(|d| format!("{d}T00:00:00Z"))
        .ok_or_else(|| {
            MappingError::missing(format!("itemFulfillment[{}].tranDate", fulfillment.id))
        })?;
    let carrier = fulfillment
        .ship_method
        .clone()
        .unwrap_or_else(|| "unknown".into());
    Ok((
        ShipmentCreate {
            carrier,
            service: None,
            tracking_number: tracking,
            tracking_url: None,
            shipped_at,
            lines,
        },
        shipment_idempotency_key(&order.id, fulfillment),
    ))
}

/// ERP stock → Clarity E6 bodies (`(sku, locationId, update)`); negative quantities (back
/// orders) are sent as 0.
pub fn inventory_updates(
    levels: &[ErpInventoryLevel],
) -> Vec<(String, String, InventoryLevelUpdate)> {
    levels
        .iter()
        .map(|l| {
            (
                l.sku.clone(),
                l.location_id.clone(),
                InventoryLevelUpdate {
                    quantity_on_hand: u64::try_from(l.quantity_on_hand).unwrap_or(0),
                    quantity_available: Some(u64::try_from(l.quantity_available).unwrap_or(0)),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
