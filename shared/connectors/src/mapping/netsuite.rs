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
//! * Amounts are JSON numbers whose text is exactly the decimal amount (`107.99`, `1500`,
//!   `12.345`); one that cannot be carried exactly is a mapping error, never rounded.
//! * With [`MaskPolicy::Mask`] (a lower stage) names, emails, phones and address lines are
//!   masked before anything leaves.

use std::collections::BTreeMap;

use o2c_domain::model::{Address, Chargeback, ChargebackStatus, Order, Payment, Refund};
use o2c_domain::money::Money;
use o2c_domain::pii::{mask_json, MaskPolicy};
use serde_json::{json, Map, Value};

use super::error::MappingError;
use crate::clarity::dto::{
    InventoryLevelUpdate, Order as ClarityOrder, ShipmentCreate, ShipmentLine,
};
use crate::http::transport::decimal_json_number;
use crate::netsuite::{
    valid_external_id, ErpInventoryLevel, ErpRecord, ItemFulfillment, RecordType,
};

/// Account-specific settings (data, not code).
#[derive(Debug, Clone)]
pub struct ErpMapping {
    /// `subsidiary` of new customers (OneWorld accounts need one).
    pub subsidiary_id: Option<String>,
    /// Currency internal ids by ISO code; a currency not listed is left to the customer default.
    pub currency_ids: BTreeMap<String, String>,
    /// Deposit account (`account`) of customer deposits; `None` = undeposited funds.
    pub deposit_account_id: Option<String>,
    /// `paymentMethod` of customer deposits.
    pub payment_method_id: Option<String>,
    /// Mask PII when this stage is not production.
    pub mask: MaskPolicy,
}

impl Default for ErpMapping {
    fn default() -> Self {
        Self {
            subsidiary_id: None,
            currency_ids: BTreeMap::new(),
            deposit_account_id: None,
            payment_method_id: None,
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

fn number(path: &str, m: Money) -> Result<Value, MappingError> {
    let text = m.to_decimal_string();
    decimal_json_number(&text)
        .map(Value::Number)
        .ok_or_else(|| MappingError::invalid(path, &text, "cannot be sent as an exact JSON number"))
}

fn address_book_address(a: &Address) -> Value {
    let mut m = Map::new();
    m.insert(
        "addressee".into(),
        json!(format!(
            "{} {}",
            a.first_name.as_str(),
            a.last_name.as_str()
        )),
    );
    m.insert("addr1".into(), json!(a.line1));
    if let Some(l2) = &a.line2 {
        m.insert("addr2".into(), json!(l2));
    }
    m.insert("city".into(), json!(a.city));
    if let Some(r) = &a.region {
        m.insert("state".into(), json!(r));
    }
    if !a.postal_code.is_empty() {
        m.insert("zip".into(), json!(a.postal_code));
    }
    m.insert("country".into(), json!({"id": a.country}));
    if let Some(p) = &a.phone {
        m.insert("addrPhone".into(), json!(p));
    }
    Value::Object(m)
}

fn currency_ref(order: &Order, cfg: &ErpMapping) -> Option<Value> {
    cfg.currency_ids
        .get(order.currency().code())
        .map(|id| json!({"id": id}))
}

fn finish(
    record_type: RecordType,
    external_id: String,
    mut body: Value,
    replace: Vec<&'static str>,
    cfg: &ErpMapping,
) -> ErpRecord {
    mask_json(&mut body, cfg.mask);
    ErpRecord {
        record_type,
        external_id,
        body,
        replace_sublists: replace,
    }
}

/// The order's customer as a NetSuite `customer` (an individual), with the bill-to as default
/// billing address and the ship-to (or the bill-to) as default shipping address.
pub fn customer_record(order: &Order, cfg: &ErpMapping) -> Result<ErpRecord, MappingError> {
    let c = &order.customer;
    let eid = customer_external_id(order)?;
    let mut addresses = vec![json!({
        "defaultBilling": true,
        "defaultShipping": order.ship_to.is_none(),
        "addressBookAddress": address_book_address(&order.bill_to),
    })];
    if let Some(ship) = &order.ship_to {
        addresses.push(json!({
            "defaultBilling": false,
            "defaultShipping": true,
            "addressBookAddress": address_book_address(ship),
        }));
    }
    let mut body = json!({
        "isPerson": true,
        "firstName": c.first_name,
        "lastName": c.last_name,
        "email": c.email,
        "addressBook": {"items": addresses},
    });
    if let Some(p) = &c.phone {
        body["phone"] = json!(p);
    }
    if let Some(s) = &cfg.subsidiary_id {
        body["subsidiary"] = json!({"id": s});
    }
    if let Some(cur) = currency_ref(order, cfg) {
        body["currency"] = cur;
    }
    Ok(finish(
        RecordType::Customer,
        eid,
        body,
        vec!["addressBook"],
        cfg,
    ))
}

/// The order as a NetSuite `salesOrder`: `entity` by the customer's external id, the `item`
/// sublist (item by SKU external id, quantity, `rate` = unit price, `amount` = quantity × rate −
/// line discount), `shippingCost`, the Clarity ids, and our exact totals in custom body fields
/// (NetSuite computes its own tax).
pub fn sales_order_record(order: &Order, cfg: &ErpMapping) -> Result<ErpRecord, MappingError> {
    let eid = sales_order_external_id(order)?;
    let mut items = Vec::with_capacity(order.lines.len());
    let zero = Money::zero(order.currency());
    let mut tax_total = zero;
    for (i, l) in order.lines.iter().enumerate() {
        let path = |f: &str| format!("order.lines[{i}].{f}");
        let amount = l
            .unit_price
            .checked_mul(l.quantity)
            .and_then(|m| m.checked_sub(&l.discount.unwrap_or(zero)))
            .map_err(|e| {
                MappingError::invalid(
                    path("unit_price"),
                    &l.unit_price.to_decimal_string(),
                    e.to_string(),
                )
            })?;
        tax_total = tax_total
            .checked_add(&l.tax.unwrap_or(zero))
            .map_err(|e| MappingError::invalid(path("tax"), "", e.to_string()))?;
        let mut line = json!({
            "item": {"externalId": l.sku},
            "description": l.name,
            "quantity": l.quantity,
            "rate": number(&path("unit_price"), l.unit_price)?,
            "amount": number(&path("total"), amount)?,
        });
        if let Some(d) = l.discount {
            line["custcol_o2c_discount"] = number(&path("discount"), d)?;
        }
        if let Some(t) = l.tax {
            line["custcol_o2c_tax"] = number(&path("tax"), t)?;
        }
        items.push(line);
    }
    let clarity_id = order
        .external
        .clarity
        .clone()
        .unwrap_or_else(|| order.id.to_string());
    let mut body = json!({
        "entity": {"externalId": customer_external_id(order)?},
        "tranDate": &order.created_at.to_rfc3339()[..10],
        "otherRefNum": clarity_id,
        "memo": format!("Clarity order {clarity_id}"),
        "item": {"items": items},
        "custbody_o2c_order_id": order.id.as_str(),
        "custbody_o2c_currency": order.currency().code(),
        "custbody_o2c_tax_total": number("order.lines[].tax", tax_total)?,
        "custbody_o2c_grand_total": number("order.total", order.total)?,
    });
    if let Some(s) = order.shipping {
        body["shippingCost"] = number("order.shipping", s)?;
    }
    if let Some(ship) = &order.ship_to {
        body["shippingAddress"] = address_book_address(ship);
    }
    if let Some(cur) = currency_ref(order, cfg) {
        body["currency"] = cur;
    }
    Ok(finish(RecordType::SalesOrder, eid, body, vec!["item"], cfg))
}

/// The captured payment as a NetSuite `customerDeposit` against the sales order (an advance
/// payment; applied to the invoice later in NetSuite).
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
    let txn = payment.external.cybersource.clone().unwrap_or_default();
    let mut body = json!({
        "customer": {"externalId": customer_external_id(order)?},
        "salesOrder": {"externalId": sales_order_external_id(order)?},
        "payment": number("order.payment.captured", payment.captured)?,
        "tranDate": &order.created_at.to_rfc3339()[..10],
        "memo": format!("Cybersource {txn} ({})", payment.reference),
        "custbody_o2c_cybersource_txn": txn,
        "custbody_o2c_currency": order.currency().code(),
    });
    if let Some(a) = &cfg.deposit_account_id {
        body["account"] = json!({"id": a});
        body["undepFunds"] = json!(false);
    } else {
        body["undepFunds"] = json!(true);
    }
    if let Some(m) = &cfg.payment_method_id {
        body["paymentMethod"] = json!({"id": m});
    }
    if let Some(cur) = currency_ref(order, cfg) {
        body["currency"] = cur;
    }
    Ok(finish(RecordType::CustomerDeposit, eid, body, vec![], cfg))
}

/// External id of the ERP refund record of one refund: `o2c-rf-<refund id>`.
pub fn refund_external_id(refund: &Refund) -> Result<String, MappingError> {
    external_id("refund.id", "o2c-rf-", refund.id.as_str())
}

/// A refund as a NetSuite `customerRefund` (ASSUMED shape, ERP_CRM_ASSUMED.md): the customer by
/// external id, the refunded total, a memo with the Cybersource refund id. One record per
/// refund id, so a repeated sync is an update of the same record.
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
    let txn = refund.external.cybersource.clone().unwrap_or_default();
    let mut body = json!({
        "customer": {"externalId": customer_external_id(order)?},
        "total": number("refund.amount", refund.amount)?,
        "tranDate": &refund.requested_at.to_rfc3339()[..10],
        "memo": format!("Cybersource refund {txn} ({}): {}", refund.reference, refund.reason),
        "custbody_o2c_order_id": order.id.as_str(),
        "custbody_o2c_cybersource_txn": txn,
        "custbody_o2c_currency": order.currency().code(),
    });
    if let Some(m) = &cfg.payment_method_id {
        body["paymentMethod"] = json!({"id": m});
    }
    if let Some(cur) = currency_ref(order, cfg) {
        body["currency"] = cur;
    }
    Ok(finish(RecordType::CustomerRefund, eid, body, vec![], cfg))
}

/// External id of the ERP record of one chargeback: `o2c-<chargeback id>` (`o2c-cb-<txn>`).
pub fn chargeback_external_id(chargeback: &Chargeback) -> Result<String, MappingError> {
    external_id("chargeback.id", "o2c-", chargeback.id.as_str())
}

/// `open`, `won`, `lost`: the dispute status as the ERP and CRM records carry it.
pub fn dispute_status(status: ChargebackStatus) -> &'static str {
    match status {
        ChargebackStatus::Open => "open",
        ChargebackStatus::Won => "won",
        ChargebackStatus::Lost => "lost",
    }
}

/// A chargeback as a NetSuite `customerRefund` (ASSUMED shape, ERP_CRM_ASSUMED.md): when a
/// chargeback is opened the disputed funds leave the merchant's account as if refunded, so the
/// record carries the disputed amount for the customer (by external id), dated the day the
/// chargeback was received. One record per chargeback id, whose dispute status
/// (`custbody_o2c_dispute_status`: `open`, `won`, `lost`) each later event updates: a repeated
/// poll is an update of the same record. Booking the funds of a won dispute back is an
/// accounting step inside NetSuite.
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
    let txn = chargeback.external.cybersource.clone().unwrap_or_default();
    let status = dispute_status(chargeback.status);
    let mut body = json!({
        "customer": {"externalId": customer_external_id(order)?},
        "total": number("chargeback.amount", chargeback.amount)?,
        "tranDate": &chargeback.received_at.to_rfc3339()[..10],
        "memo": format!(
            "Chargeback {} on Cybersource transaction {txn}: {status}",
            chargeback.reason_code
        ),
        "custbody_o2c_order_id": order.id.as_str(),
        "custbody_o2c_cybersource_txn": txn,
        "custbody_o2c_currency": order.currency().code(),
        "custbody_o2c_chargeback_id": chargeback.id.as_str(),
        "custbody_o2c_chargeback_reason": chargeback.reason_code,
        "custbody_o2c_dispute_status": status,
    });
    if let Some(m) = &cfg.payment_method_id {
        body["paymentMethod"] = json!({"id": m});
    }
    if let Some(cur) = currency_ref(order, cfg) {
        body["currency"] = cur;
    }
    Ok(finish(RecordType::CustomerRefund, eid, body, vec![], cfg))
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
