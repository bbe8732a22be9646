//! erp-poller: NetSuite item fulfilments and inventory levels → Clarity.
//!
//! **Which orders to look at.** Not a scan of the orders table (cost grows with every order
//! ever taken) and not an "open sales orders" index (a second write in erp-sync that can drift
//! from the truth). NetSuite itself knows what changed: every 15 minutes the poller asks for the
//! item fulfilments modified since its cursor (`lastModifiedDate ON_OR_AFTER`, one paged query;
//! [`ErpApi::fulfillments_modified_since`]), each with its sales order's external id
//! (`clr-so-<clarityOrderId>`) and our order id (`custbody_o2c_order_id`). The cost follows the
//! shipping activity, a fulfilment that is picked or packed today and shipped tomorrow shows up
//! again when it changes, and fulfilments of orders that did not come from us are passed over.
//! Inventory the same way: the items modified since the cursor
//! ([`ErpApi::inventory_modified_since`]), plus the current levels of every SKU of an order
//! that shipped in this run (a fulfilment moves stock without touching the item record).
//!
//! **Exactly once per fulfilment.** A shipped fulfilment (`shipStatus` C) with a tracking number
//! becomes one Clarity shipment (E5) with the deterministic `Idempotency-Key`
//! `ship:<clarityOrderId>:nsif-<fulfilment id>` ([`shipment_from_fulfillment`]); then the order
//! records the effect `shipment:nsif-<fulfilment id>` with a `shipment.created` timeline entry
//! (carrier, tracking number, NetSuite fulfilment). A fulfilment whose effect is recorded is
//! never sent again; a crash between the POST and the record is healed by Clarity's key replay
//! (kept 24 h, far longer than the 15-minute period). Inventory is an absolute PUT per
//! (SKU, NetSuite location id) (E6): repeating it changes nothing.
//!
//! A failure (Clarity or NetSuite unavailable, a fulfilment that does not fit the Clarity
//! order) is logged and leaves the cursor where it was, so the next run reads the same changes
//! again; the window never reaches back further than the maximum look-back.
//!
//! Event (all optional): `{"orderIds": ["ORD-1", ...]}` syncs those orders' fulfilments (read by
//! sales order) and SKUs now, leaving the cursor alone (back-fill, an operator's re-run);
//! `{"since": RFC 3339}` reads changes since then, also leaving the cursor alone.

use super::{event_time, offset_date_time, Lookback, PollCursor, Window};
use crate::messages::PaymentCommand;
use o2c_connectors::clarity::dto::Order as ClarityOrder;
use o2c_connectors::clarity::{ClarityApi, ShipmentCreated, Versioned};
use o2c_connectors::mapping::netsuite::{
    inventory_updates, sales_order_external_id, shipment_from_fulfillment,
};
use o2c_connectors::netsuite::{ErpApi, ErpInventoryLevel, FulfillmentUpdate, ItemFulfillment};
use o2c_domain::model::CapturePolicy;
use o2c_domain::ports::Publisher;
use o2c_domain::ports::{
    Change, ClaimChange, Clock, EffectRecord, Expect, OrderRecord, OrderStore, StoreError,
};
use o2c_domain::{OrderId, OrderState, TimelineEntry, Timestamp};
use o2c_runtime::lambda::Error;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The function's name (cursor key, logs, summary).
pub const POLLER: &str = "erp-poller";

/// The prefix of our sales orders' external ids (`mapping::netsuite::sales_order_external_id`).
const SALES_ORDER_PREFIX: &str = "clr-so-";

/// Tunables (defaults suit a 15-minute schedule).
#[derive(Clone, Copy, Debug)]
pub struct ErpPollSettings {
    pub lookback: Lookback,
}

impl Default for ErpPollSettings {
    fn default() -> Self {
        ErpPollSettings {
            lookback: Lookback {
                overlap: Duration::from_secs(10 * 60),
                first: Duration::from_secs(24 * 3600),
                max: Duration::from_secs(7 * 24 * 3600),
            },
        }
    }
}

/// The effect key of the Clarity shipment of one fulfilment.
pub fn shipment_marker(fulfillment: &ItemFulfillment) -> String {
    format!("shipment:nsif-{}", fulfillment.id)
}

/// Our order id of a fulfilment's sales order: `custbody_o2c_order_id`, else the external id
/// `clr-so-<id>` (our order id is the Clarity order id). `None`: not one of ours.
pub fn order_of(update: &FulfillmentUpdate) -> Option<OrderId> {
    update
        .order_id
        .as_deref()
        .and_then(|id| OrderId::new(id).ok())
        .or_else(|| {
            update
                .sales_order_external_id
                .as_deref()
                .and_then(|e| e.strip_prefix(SALES_ORDER_PREFIX))
                .and_then(|id| OrderId::new(id).ok())
        })
}

/// The ERP poller.
pub struct ErpPoller {
    pub store: Arc<dyn OrderStore>,
    /// The captures queue: orders whose capture policy is `on_shipment` are captured once
    /// their first fulfilment has shipped.
    pub publisher: Arc<dyn Publisher>,
    pub cursor: Arc<dyn PollCursor>,
    pub erp: Arc<dyn ErpApi>,
    pub clarity: Arc<dyn ClarityApi>,
    pub clock: Arc<dyn Clock>,
    pub settings: ErpPollSettings,
}

const WRITE_ATTEMPTS: usize = 4;

/// The field of an ERP fulfilment holding a card-number-like value (issue 12/5), if any:
/// every string the poller keeps of it.
fn card_field(u: &FulfillmentUpdate) -> Option<&'static str> {
    use o2c_domain::card::contains_card_number as card;
    let f = &u.fulfillment;
    let some = |v: &Option<String>| v.as_deref().is_some_and(card);
    [
        ("createdFrom.id", card(&u.sales_order_id)),
        ("createdFrom.externalId", some(&u.sales_order_external_id)),
        ("custbody_o2c_order_id", some(&u.order_id)),
        ("id", card(&f.id)),
        ("tranId", some(&f.tran_id)),
        ("tranDate", some(&f.tran_date)),
        ("shipStatus", some(&f.ship_status)),
        ("shipMethod", some(&f.ship_method)),
        (
            "trackingNumbers",
            f.tracking_numbers.iter().any(|t| card(t)),
        ),
        ("item.sku", f.lines.iter().any(|l| card(&l.sku))),
    ]
    .into_iter()
    .find_map(|(name, hit)| hit.then_some(name))
}

impl ErpPoller {
    /// One scheduled (or operator) run; the answer summarises what reached Clarity.
    pub async fn run(&self, event: Value) -> Result<Value, Error> {
        let now = self.clock.now();
        let mut report = Report::default();
        if let Some(ids) = event.get("orderIds").and_then(Value::as_array) {
            let ids = ids
                .iter()
                .map(|v| {
                    v.as_str()
                        .and_then(|s| OrderId::new(s).ok())
                        .ok_or_else(|| format!("orderIds: {v} is not an order id"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.targeted(&ids, now, &mut report).await;
            return Ok(report.into_json(None, None));
        }
        let since = event_time(&event, "since")?;
        let (window, scheduled) = match since {
            Some(start) => (Window { start, end: now }, false),
            None => {
                let cursor = self.cursor.load(POLLER).await?;
                (Window::scheduled(cursor, now, self.settings.lookback), true)
            }
        };
        let updates = self
            .erp
            .fulfillments_modified_since(offset_date_time(window.start))
            .await?;
        report.fulfillments = updates.len();
        let mut by_order: BTreeMap<OrderId, Vec<ItemFulfillment>> = BTreeMap::new();
        for u in updates {
            if let Some(field) = card_field(&u) {
                // Card data never enters: the fulfilment is not stored nor sent on.
                o2c_runtime::metrics::count(POLLER, "CardDataRefused");
                tracing::error!(field, "ERP fulfilment refused: a card-number-like value");
                let id = if field == "id" {
                    ""
                } else {
                    u.fulfillment.id.as_str()
                };
                report.skip(json!({"fulfillment": id,
                                   "reason": format!("card data refused at {field}; skipped")}));
                continue;
            }
            match order_of(&u) {
                Some(id) => by_order.entry(id).or_default().push(u.fulfillment),
                None => {
                    tracing::debug!(sales_order = %u.sales_order_id, "fulfilment of a sales order that is not ours");
                    report.foreign += 1;
                }
            }
        }
        let mut skus = BTreeSet::new();
        for (id, fulfillments) in by_order {
            if let Some(order_skus) = self.ship_order(&id, fulfillments, now, &mut report).await {
                skus.extend(order_skus);
            }
        }
        let mut levels = match self
            .erp
            .inventory_modified_since(offset_date_time(window.start))
            .await
        {
            Ok(l) => l,
            Err(e) => {
                report.fail(json!({"inventory": "modified since", "reason": e.to_string()}));
                Vec::new()
            }
        };
        let have: BTreeSet<String> = levels.iter().map(|l| l.sku.clone()).collect();
        let missing: Vec<String> = skus.difference(&have).cloned().collect();
        self.read_levels(&missing, &mut levels, &mut report).await;
        self.push_inventory(&levels, &mut report).await;

        let advanced_to = if scheduled && report.failed.is_empty() {
            Some(self.cursor.advance(POLLER, window.end).await?)
        } else {
            None
        };
        if !report.failed.is_empty() {
            o2c_runtime::metrics::count(POLLER, "ErpPollFailures");
        }
        tracing::info!(
            window_start = %window.start, window_end = %window.end,
            fulfillments = report.fulfillments, shipments = report.shipments.len(),
            already_shipped = report.already_shipped, inventory = report.inventory.len(),
            failed = report.failed.len(), "erp poll finished"
        );
        Ok(report.into_json(Some(window), advanced_to))
    }

    /// The orders an operator named: their fulfilments by sales order, and their SKUs' stock.
    async fn targeted(&self, ids: &[OrderId], now: Timestamp, report: &mut Report) {
        let mut skus = BTreeSet::new();
        for id in ids {
            let record = match self.store.get(id).await {
                Ok(Some(r)) => r,
                Ok(None) => {
                    report.skip(json!({"order": id, "reason": "order not found"}));
                    continue;
                }
                Err(e) => {
                    report.fail(json!({"order": id, "reason": e.to_string()}));
                    continue;
                }
            };
            let fulfillments = match sales_order_external_id(&record.order) {
                Ok(eid) => self
                    .erp
                    .item_fulfillments(&eid)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match fulfillments {
                Ok(fs) => {
                    report.fulfillments += fs.len();
                    if let Some(s) = self.ship_order(id, fs, now, report).await {
                        skus.extend(s);
                    }
                }
                Err(e) => report.fail(json!({"order": id, "reason": e})),
            }
        }
        let mut levels = Vec::new();
        self.read_levels(&skus.into_iter().collect::<Vec<_>>(), &mut levels, report)
            .await;
        self.push_inventory(&levels, report).await;
    }

    /// Ship the order's new shipped fulfilments to Clarity; the order's SKUs (`None` when the
    /// order is not ours).
    async fn ship_order(
        &self,
        id: &OrderId,
        mut fulfillments: Vec<ItemFulfillment>,
        now: Timestamp,
        report: &mut Report,
    ) -> Option<Vec<String>> {
        let mut record = match self.store.get(id).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                tracing::warn!(order = %id, "fulfilment for an order we do not hold");
                report.skip(json!({"order": id, "reason": "order not found"}));
                return None;
            }
            Err(e) => {
                report.fail(json!({"order": id, "reason": e.to_string()}));
                return None;
            }
        };
        let skus = record.order.lines.iter().map(|l| l.sku.clone()).collect();
        let clarity_id = record
            .order
            .external
            .clarity
            .clone()
            .unwrap_or_else(|| id.to_string());
        let mut clarity_order: Option<Versioned<ClarityOrder>> = None;
        fulfillments.sort_by(|a, b| a.id.cmp(&b.id));
        for f in fulfillments {
            let marker = shipment_marker(&f);
            let item = |extra: Value| {
                let mut v = json!({"order": id, "fulfillment": f.id});
                if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                    o.extend(e.clone());
                }
                v
            };
            if record.effects.contains_key(&marker) {
                report.already_shipped += 1;
                continue;
            }
            if !f.is_shipped() {
                report.pending.push(item(json!({"reason": format!(
                    "not shipped yet (shipStatus {})", f.ship_status.as_deref().unwrap_or("?")
                )})));
                continue;
            }
            if f.tracking_numbers.is_empty() {
                report.pending.push(item(
                    json!({"reason": "shipped without a tracking number yet"}),
                ));
                continue;
            }
            if clarity_order.is_none() {
                match self.clarity.get_order(&clarity_id).await {
                    Ok(o) => clarity_order = Some(o),
                    Err(e) => {
                        report.fail(item(json!({"reason": e.to_string()})));
                        return Some(skus);
                    }
                }
            }
            let Some(co) = clarity_order.as_ref() else {
                continue;
            };
            let (shipment, key) = match shipment_from_fulfillment(&f, &co.value) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(order = %id, fulfillment = %f.id, error = %e, "fulfilment does not fit the Clarity order");
                    report.fail(item(json!({"reason": e.to_string()})));
                    continue;
                }
            };
            let created = match self
                .clarity
                .create_shipment(&clarity_id, &shipment, &key)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    report.fail(item(json!({"reason": e.to_string()})));
                    continue;
                }
            };
            match self
                .mark_shipped(record, &f, &marker, &key, &created, now)
                .await
            {
                Ok(r) => record = r,
                Err(e) => {
                    report.fail(item(
                        json!({"reason": format!("recording the shipment: {e}")}),
                    ));
                    return Some(skus);
                }
            }
            tracing::info!(order = %id, fulfillment = %f.id, shipment = %created.shipment.id, replayed = created.replayed, "shipment sent to Clarity");
            report.shipments.push(item(json!({
                "shipment": created.shipment.id,
                "trackingNumber": created.shipment.tracking_number,
                "carrier": created.shipment.carrier,
                "replayed": created.replayed,
            })));
        }
        self.capture_on_shipment(&record, report).await;
        Some(skus)
    }

    /// Queue the capture of an `on_shipment` order that is authorized and has shipped (a
    /// shipment effect recorded). Sent on every poll that sees the order until it is captured:
    /// the capture step is exactly-once, so a repeat is harmless and a lost send is made good.
    async fn capture_on_shipment(&self, record: &OrderRecord, report: &mut Report) {
        let shipped = record.effects.keys().any(|k| k.starts_with("shipment:"));
        if record.order.capture_policy() != CapturePolicy::OnShipment
            || record.state != OrderState::Authorized
            || !shipped
        {
            return;
        }
        let m = PaymentCommand::Capture {
            order_id: record.order.id.clone(),
        }
        .message("shipment");
        match self.publisher.publish(&m).await {
            Ok(()) => {
                tracing::info!(order = %record.order.id, "shipped: capture queued (capture policy on_shipment)");
                report.captures.push(json!({"order": record.order.id}));
            }
            Err(e) => report.fail(
                json!({"order": record.order.id, "reason": format!("queueing the capture: {e}")}),
            ),
        }
    }

    /// Record the shipment effect on the order (one conditional write with its timeline entry).
    async fn mark_shipped(
        &self,
        mut record: OrderRecord,
        f: &ItemFulfillment,
        marker: &str,
        key: &str,
        created: &ShipmentCreated,
        now: Timestamp,
    ) -> Result<OrderRecord, StoreError> {
        let s = &created.shipment;
        let units: u32 = s.lines.iter().map(|l| l.quantity).sum();
        for _ in 0..WRITE_ATTEMPTS {
            if record.effects.contains_key(marker) {
                return Ok(record);
            }
            let entry = TimelineEntry::new(
                now,
                "shipment.created",
                format!(
                    "Shipped {units} unit(s) via {}, tracking {} (NetSuite fulfilment {})",
                    s.carrier,
                    s.tracking_number,
                    f.tran_id.as_deref().unwrap_or(&f.id)
                ),
            )
            .with_ref(s.id.clone());
            let effect = EffectRecord {
                reference: key.to_string(),
                outcome: json!({
                    "shipment": s.id, "trackingNumber": s.tracking_number,
                    "carrier": s.carrier, "fulfillment": f.id,
                }),
                at: now,
            };
            match self
                .store
                .update(
                    &record.order.id,
                    Expect::StateVersion {
                        state: record.state,
                        version: record.version,
                    },
                    Change {
                        transition: None,
                        claim: ClaimChange::Keep,
                        effect: Some((marker.to_string(), effect)),
                        order: None,
                        cancel: None,
                        entry,
                    },
                )
                .await
            {
                Ok(r) => return Ok(r),
                Err(StoreError::ConditionFailed { .. }) => {
                    record = self
                        .store
                        .get(&record.order.id)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(record.order.id.to_string()))?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(format!(
            "order {} kept changing under {WRITE_ATTEMPTS} attempts",
            record.order.id
        )))
    }

    /// Current stock of `skus` (one read per SKU).
    async fn read_levels(
        &self,
        skus: &[String],
        levels: &mut Vec<ErpInventoryLevel>,
        report: &mut Report,
    ) {
        for sku in skus {
            match self.erp.inventory_levels(sku).await {
                Ok(l) => levels.extend(l),
                Err(e) => report.fail(json!({"sku": sku, "reason": e.to_string()})),
            }
        }
    }

    /// E6 absolute PUTs, one per (SKU, location).
    async fn push_inventory(&self, levels: &[ErpInventoryLevel], report: &mut Report) {
        let mut done = BTreeSet::new();
        for (sku, location, update) in inventory_updates(levels) {
            if !done.insert((sku.clone(), location.clone())) {
                continue;
            }
            match self.clarity.put_inventory(&sku, &location, &update).await {
                Ok(level) => report.inventory.push(json!({
                    "sku": sku, "location": location,
                    "quantityOnHand": level.quantity_on_hand,
                    "quantityAvailable": level.quantity_available,
                })),
                Err(e) => {
                    report.fail(json!({"sku": sku, "location": location, "reason": e.to_string()}))
                }
            }
        }
    }
}

/// The run's answer.
#[derive(Default)]
struct Report {
    fulfillments: usize,
    foreign: usize,
    shipments: Vec<Value>,
    already_shipped: usize,
    pending: Vec<Value>,
    skipped: Vec<Value>,
    inventory: Vec<Value>,
    /// Captures queued for `on_shipment` orders.
    captures: Vec<Value>,
    failed: Vec<Value>,
}

impl Report {
    fn fail(&mut self, v: Value) {
        tracing::error!(detail = %v, "erp poll item failed; the next run retries");
        self.failed.push(v);
    }

    fn skip(&mut self, v: Value) {
        self.skipped.push(v);
    }

    fn into_json(self, window: Option<Window>, cursor: Option<Timestamp>) -> Value {
        json!({
            "function": POLLER,
            "window": window.map(Window::to_json),
            "cursor": cursor,
            "fulfillments": self.fulfillments,
            "foreignFulfillments": self.foreign,
            "shipments": self.shipments,
            "alreadyShipped": self.already_shipped,
            "pending": self.pending,
            "skipped": self.skipped,
            "inventory": self.inventory,
            "capturesQueued": self.captures,
            "failed": self.failed,
        })
    }
}
