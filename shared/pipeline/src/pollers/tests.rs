//! Unit tests of the pollers: the in-memory store, the fake gateway and small fakes of Clarity,
//! NetSuite and Salesforce that count what they were asked to do.

use super::chargeback::{
    dispute_event, order_id_of_reference, ChargebackPoller, ChargebackSettings, DisputeEvent,
};
use super::erp::order_of;
use super::{minus, Lookback, MemoryCursor, PollCursor, Window};
use async_trait::async_trait;
use o2c_connectors::clarity::dto::{
    ClarityStatus, Customer as ClarityCustomer, InventoryLevel, InventoryLevelUpdate,
    Order as ClarityOrder, OrderPatch, ShipmentCreate,
};
use o2c_connectors::clarity::{
    ClarityApi, ClarityError, CustomerUpsert, ShipmentCreated, Versioned,
};
use o2c_connectors::cybersource::fake::FakeGateway;
use o2c_connectors::cybersource::ChargebackReportEntry;
use o2c_connectors::mapping::clarity::{
    clarity_status_for, clarity_transition_allowed, order_to_clarity,
};
use o2c_connectors::netsuite::{
    ErpApi, ErpError, ErpInventoryLevel, ErpRecord, ErpUpsert, FulfillmentUpdate, ItemFulfillment,
    RecordType,
};
use o2c_connectors::salesforce::{CaseRecord, CaseUpsert, CrmApi, CrmError};
use o2c_domain::fakes::{InMemoryStore, ManualClock};
use o2c_domain::model::sample;
use o2c_domain::ports::{Clock, OrderRecord, OrderStore};
use o2c_domain::{
    ChargebackStatus, ExternalIds, Money, OrderId, OrderState, Payment, PaymentId, TimelineEntry,
    Timestamp,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Fakes
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct FakeClarity {
    orders: Mutex<BTreeMap<String, ClarityOrder>>,
    patches: Mutex<Vec<OrderPatch>>,
}

impl FakeClarity {
    fn with(order: ClarityOrder) -> Self {
        let f = FakeClarity::default();
        f.orders.lock().unwrap().insert(order.id.clone(), order);
        f
    }

    fn order(&self, id: &str) -> ClarityOrder {
        self.orders.lock().unwrap()[id].clone()
    }

    fn patches(&self) -> usize {
        self.patches.lock().unwrap().len()
    }
}

#[async_trait]
impl ClarityApi for FakeClarity {
    async fn get_order(&self, order_id: &str) -> Result<Versioned<ClarityOrder>, ClarityError> {
        let o = self.order(order_id);
        Ok(Versioned {
            version: o.version,
            value: o,
        })
    }

    async fn patch_order(
        &self,
        order_id: &str,
        patch: &OrderPatch,
        if_match: Option<u64>,
        _idempotency_key: Option<&str>,
    ) -> Result<Versioned<ClarityOrder>, ClarityError> {
        self.patches.lock().unwrap().push(patch.clone());
        let mut orders = self.orders.lock().unwrap();
        let o = orders.get_mut(order_id).unwrap();
        assert_eq!(if_match, Some(o.version));
        if let Some(s) = patch.status {
            assert!(
                clarity_transition_allowed(o.status, s),
                "{:?} -> {s:?}",
                o.status
            );
            o.status = s;
            o.status_reason.clone_from(&patch.status_reason);
        }
        if let Some(m) = &patch.metadata {
            o.metadata
                .get_or_insert_with(BTreeMap::new)
                .extend(m.clone());
        }
        o.version += 1;
        Ok(Versioned {
            version: o.version,
            value: o.clone(),
        })
    }

    async fn put_customer(
        &self,
        _customer: &ClarityCustomer,
        _if_match: Option<u64>,
    ) -> Result<CustomerUpsert, ClarityError> {
        unimplemented!("not used by the pollers")
    }

    async fn create_shipment(
        &self,
        _order_id: &str,
        _shipment: &ShipmentCreate,
        _idempotency_key: &str,
    ) -> Result<ShipmentCreated, ClarityError> {
        unimplemented!("covered end to end")
    }

    async fn put_inventory(
        &self,
        _sku: &str,
        _location_id: &str,
        _level: &InventoryLevelUpdate,
    ) -> Result<InventoryLevel, ClarityError> {
        unimplemented!("covered end to end")
    }
}

/// NetSuite: upserts by external id (counted), optionally failing the next few.
#[derive(Default)]
struct FakeErp {
    records: Mutex<BTreeMap<String, (u32, Value)>>,
    fail: Mutex<u32>,
}

#[async_trait]
impl ErpApi for FakeErp {
    async fn upsert(&self, record: &ErpRecord) -> Result<ErpUpsert, ErpError> {
        {
            let mut fail = self.fail.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(ErpError::Api {
                    operation: "upsert",
                    status: 503,
                    code: "UNAVAILABLE".into(),
                    detail: "fake outage".into(),
                });
            }
        }
        let mut r = self.records.lock().unwrap();
        let n = r.len();
        let e = r
            .entry(record.external_id.clone())
            .or_insert((0, Value::Null));
        e.0 += 1;
        e.1 = record.body.clone();
        Ok(ErpUpsert {
            internal_id: Some(format!("{}", 8500 + n)),
            location: None,
        })
    }

    async fn get_by_external_id(
        &self,
        _record_type: RecordType,
        _external_id: &str,
    ) -> Result<Option<Value>, ErpError> {
        Ok(None)
    }

    async fn item_fulfillments(&self, _so: &str) -> Result<Vec<ItemFulfillment>, ErpError> {
        Ok(vec![])
    }

    async fn inventory_levels(&self, _sku: &str) -> Result<Vec<ErpInventoryLevel>, ErpError> {
        Ok(vec![])
    }
}

/// Salesforce: case upserts by key (counted).
#[derive(Default)]
struct FakeCrm {
    cases: Mutex<BTreeMap<String, (u32, CaseRecord)>>,
}

#[async_trait]
impl CrmApi for FakeCrm {
    async fn upsert_case(&self, case: &CaseRecord) -> Result<CaseUpsert, CrmError> {
        let mut c = self.cases.lock().unwrap();
        let e = c
            .entry(case.external_id.clone())
            .or_insert((0, case.clone()));
        e.0 += 1;
        e.1 = case.clone();
        Ok(CaseUpsert {
            id: Some(format!("500SIM{}", case.external_id.len())),
            created: e.0 == 1,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const NOW: i64 = 1_790_000_000_000;

struct Rig {
    store: InMemoryStore,
    gateway: Arc<FakeGateway>,
    clarity: Arc<FakeClarity>,
    erp: Arc<FakeErp>,
    crm: Arc<FakeCrm>,
    cursor: Arc<MemoryCursor>,
    clock: ManualClock,
    poller: ChargebackPoller,
}

fn captured_record(id: &str, state: OrderState) -> OrderRecord {
    let mut order = sample::order(id);
    order.payment = Some(Payment {
        id: PaymentId::new(format!("{id}-pay")).unwrap(),
        external: ExternalIds {
            cybersource: Some(format!("{id}AUTH")),
            ..ExternalIds::default()
        },
        reference: format!("{id}-auth"),
        authorized: order.total,
        captured: order.total,
        capture_id: Some(format!("{id}CAP")),
        card_brand: None,
        card_last4: None,
    });
    let mut r = OrderRecord::received(order, TimelineEntry::new(Timestamp(0), "received", "test"));
    r.state = state;
    r.version = 7;
    r
}

fn rig(record: OrderRecord, clarity_status: ClarityStatus) -> Rig {
    let store = InMemoryStore::new();
    let clarity_id = record.order.external.clarity.clone().unwrap();
    let mut co = order_to_clarity(&record.order, clarity_status, 3).unwrap();
    co.id = clarity_id;
    store.put_raw(record);
    let gateway = Arc::new(FakeGateway::new());
    let clarity = Arc::new(FakeClarity::with(co));
    let erp = Arc::new(FakeErp::default());
    let crm = Arc::new(FakeCrm::default());
    let cursor = Arc::new(MemoryCursor::default());
    let clock = ManualClock::at(NOW);
    let poller = ChargebackPoller {
        store: Arc::new(store.clone()),
        references: Arc::new(o2c_domain::fakes::InMemoryReferences::new()),
        cursor: cursor.clone(),
        gateway: gateway.clone(),
        clarity: clarity.clone(),
        erp: erp.clone(),
        crm: crm.clone(),
        specs: Arc::new(o2c_spec::Specs::bundled()),
        mask: o2c_domain::pii::MaskPolicy::Keep,
        clock: Arc::new(clock.clone()),
        settings: ChargebackSettings::default(),
    };
    Rig {
        store,
        gateway,
        clarity,
        erp,
        crm,
        cursor,
        clock,
        poller,
    }
}

fn row(txn: &str, reference: &str, action: &str, minutes_ago: i64) -> ChargebackReportEntry {
    let mut e = ChargebackReportEntry {
        transaction_id: Some(txn.into()),
        reference: Some(reference.into()),
        amount: Some(Money::parse_with_code("107.99", "USD").unwrap()),
        reason_code: Some("10.4".into()),
        action: Some(action.into()),
        time: Some(Timestamp(NOW - minutes_ago * 60_000).to_rfc3339()),
        response_due_time: Some("2026-10-11T00:00:00Z".into()),
        raw: Default::default(),
    };
    e.raw.request_id = Some(txn.into());
    e.raw.action = Some(action.into());
    e.raw.time.clone_from(&e.time);
    e.raw.nature_of_dispute = Some("Fraud".into());
    e
}

fn count(r: &OrderRecord, what: &str) -> usize {
    r.timeline.iter().filter(|e| e.what == what).count()
}

// ---------------------------------------------------------------------------------------------
// Pure parts
// ---------------------------------------------------------------------------------------------

#[test]
fn report_actions_read_as_dispute_events() {
    for (action, event) in [
        (Some("Chargeback"), DisputeEvent::Opened),
        (None, DisputeEvent::Opened),
        (Some("First Chargeback"), DisputeEvent::Opened),
        (Some("Chargeback Reversal"), DisputeEvent::Won),
        (Some("Dispute Won"), DisputeEvent::Won),
        (Some("Second Chargeback"), DisputeEvent::Lost),
        (Some("Arbitration Chargeback"), DisputeEvent::Lost),
        (Some("DISPUTE LOST"), DisputeEvent::Lost),
        (Some("Pre-Arbitration"), DisputeEvent::Informational),
        (Some("Retrieval Request"), DisputeEvent::Informational),
        (Some("Representment"), DisputeEvent::Informational),
        (Some("Fee adjustment"), DisputeEvent::Informational),
    ] {
        assert_eq!(dispute_event(action), event, "{action:?}");
    }
}

#[test]
fn references_name_their_order() {
    assert_eq!(
        order_id_of_reference("ORD-1001-auth"),
        Some(OrderId::new("ORD-1001").unwrap())
    );
    assert_eq!(
        order_id_of_reference("o1-cap"),
        Some(OrderId::new("o1").unwrap())
    );
    assert_eq!(order_id_of_reference("nodash"), None);
    assert_eq!(order_id_of_reference("-auth"), None);
    assert_eq!(order_id_of_reference("has space-auth"), None);
}

#[test]
fn windows_overlap_the_cursor_and_stop_at_the_maximum_lookback() {
    let lb = Lookback {
        overlap: Duration::from_secs(600),
        first: Duration::from_secs(3600),
        max: Duration::from_secs(7200),
    };
    let now = Timestamp(NOW);
    let w = Window::scheduled(None, now, lb);
    assert_eq!((w.start, w.end), (minus(now, lb.first), now));
    let c = minus(now, Duration::from_secs(60));
    assert_eq!(
        Window::scheduled(Some(c), now, lb).start,
        minus(c, lb.overlap)
    );
    let old = minus(now, Duration::from_secs(86_400));
    assert_eq!(
        Window::scheduled(Some(old), now, lb).start,
        minus(now, lb.max)
    );
}

#[test]
fn disputes_are_in_the_one_status_table_and_respect_clarity_transitions() {
    use ClarityStatus as C;
    assert_eq!(
        clarity_status_for(&o2c_spec::bundled(), OrderState::Disputed).unwrap(),
        Some(C::OnHold)
    );
    assert_eq!(
        clarity_status_for(&o2c_spec::bundled(), OrderState::DisputeWon).unwrap(),
        Some(C::PaymentReceived)
    );
    assert_eq!(
        clarity_status_for(&o2c_spec::bundled(), OrderState::DisputeLost).unwrap(),
        Some(C::PaymentFailed)
    );
    assert!(clarity_transition_allowed(C::PaymentReceived, C::OnHold));
    assert!(clarity_transition_allowed(C::Processing, C::OnHold));
    assert!(clarity_transition_allowed(C::OnHold, C::PaymentReceived));
    assert!(clarity_transition_allowed(C::OnHold, C::PaymentFailed));
    assert!(!clarity_transition_allowed(C::Shipped, C::OnHold));
    assert!(!clarity_transition_allowed(C::Completed, C::OnHold));
    assert!(clarity_transition_allowed(C::Shipped, C::Shipped));
}

#[test]
fn fulfilments_map_to_our_orders_only() {
    let f = ItemFulfillment {
        id: "9001".into(),
        tran_id: None,
        tran_date: None,
        ship_status: Some("C".into()),
        ship_method: None,
        tracking_numbers: vec![],
        lines: vec![],
    };
    let u = |eid: Option<&str>, ours: Option<&str>| FulfillmentUpdate {
        sales_order_id: "5001".into(),
        sales_order_external_id: eid.map(Into::into),
        order_id: ours.map(Into::into),
        fulfillment: f.clone(),
    };
    let id = |s: &str| Some(OrderId::new(s).unwrap());
    assert_eq!(
        order_of(&u(Some("clr-so-ORD-1"), Some("ORD-1"))),
        id("ORD-1")
    );
    assert_eq!(order_of(&u(Some("clr-so-ORD-2"), None)), id("ORD-2"));
    assert_eq!(order_of(&u(None, Some("ORD-3"))), id("ORD-3"));
    assert_eq!(order_of(&u(Some("NS-ENTERED-7"), None)), None);
    assert_eq!(order_of(&u(None, None)), None);
}

#[tokio::test]
async fn memory_cursor_only_moves_forward() {
    let c = MemoryCursor::default();
    assert_eq!(c.load("p").await.unwrap(), None);
    c.advance("p", Timestamp(10)).await.unwrap();
    c.advance("p", Timestamp(5)).await.unwrap();
    assert_eq!(c.load("p").await.unwrap(), Some(Timestamp(10)));
}

// ---------------------------------------------------------------------------------------------
// The chargeback poller
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn one_chargeback_polled_twice_is_one_dispute_with_each_effect_once() {
    let r = rig(
        captured_record("o1", OrderState::Captured),
        ClarityStatus::PaymentReceived,
    );
    r.gateway
        .add_chargeback(row("o1CAP", "o1-cap", "Chargeback", 30));
    let first = r.poller.run(json!({})).await.unwrap();
    r.clock.advance_ms(3_600_000);
    let second = r.poller.run(json!({})).await.unwrap();
    assert_eq!(
        first["applied"],
        json!([{"chargeback": "cb-o1CAP", "order": "o1", "event": "opened"}])
    );
    assert_eq!(second["applied"], json!([]));
    assert_eq!(second["alreadyDone"], 1);

    let rec = r.store.snapshot("o1").unwrap();
    assert_eq!(rec.state, OrderState::Disputed);
    assert_eq!(count(&rec, "chargeback.opened"), 1);
    assert_eq!(count(&rec, "chargeback.synced"), 1);
    let opened = rec
        .timeline
        .iter()
        .find(|e| e.what == "chargeback.opened")
        .unwrap();
    assert!(opened.why.contains("10.4") && opened.why.contains("Fraud"));
    assert_eq!(opened.external_ref.as_deref(), Some("o1CAP"));
    assert_eq!(rec.order.chargebacks.len(), 1);
    let cb = &rec.order.chargebacks[0];
    assert_eq!(
        (cb.id.as_str(), cb.status),
        ("cb-o1CAP", ChargebackStatus::Open)
    );
    assert!(cb.external.erp.is_some() && cb.external.crm.is_some());
    assert!(rec.effects.contains_key("chargeback:cb-o1CAP:opened"));

    // Each effect once, keyed by the chargeback id.
    {
        let erp = r.erp.records.lock().unwrap();
        assert_eq!(erp.len(), 1);
        assert_eq!(erp["o2c-cb-o1CAP"].0, 1);
        assert_eq!(erp["o2c-cb-o1CAP"].1["custbody_o2c_dispute_status"], "open");
        assert_eq!(erp["o2c-cb-o1CAP"].1["total"].to_string(), "107.99");
        let crm = r.crm.cases.lock().unwrap();
        assert_eq!(crm["cb-o1CAP"].0, 1);
        assert_eq!(crm["cb-o1CAP"].1.fields["Status"], "New");
    }
    assert_eq!(r.clarity.patches(), 1);
    let co = r.clarity.order("CL-o1");
    assert_eq!(co.status, ClarityStatus::OnHold);
    // The shopper-safe reason only; the chargeback's detail stays on the timeline.
    assert_eq!(
        co.status_reason.as_deref(),
        Some(
            "payment_disputed: The payment is disputed with the card issuer. The order is on hold."
        )
    );
    assert_eq!(co.metadata.unwrap()["disputeStatus"], "open");

    // The row was recorded once; the cursor moved to each run's end.
    let rows: Vec<_> = r
        .store
        .idempotency_records()
        .into_iter()
        .filter(|i| i.scope == "chargeback")
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, "cb-o1CAP:opened");
    assert_eq!(
        r.cursor.load("chargeback-poller").await.unwrap(),
        Some(r.clock.now())
    );
}

#[tokio::test]
async fn an_outcome_first_seen_with_its_chargeback_opens_then_decides() {
    let r = rig(
        captured_record("o2", OrderState::PartiallyRefunded),
        ClarityStatus::Processing,
    );
    r.gateway
        .add_chargeback(row("o2AUTH", "o2-auth", "Second Chargeback", 10));
    r.poller.run(json!({})).await.unwrap();
    r.poller.run(json!({})).await.unwrap();
    let rec = r.store.snapshot("o2").unwrap();
    assert_eq!(rec.state, OrderState::DisputeLost);
    assert_eq!(count(&rec, "chargeback.opened"), 1);
    assert_eq!(count(&rec, "chargeback.lost"), 1);
    assert_eq!(rec.order.chargebacks[0].status, ChargebackStatus::Lost);
    let co = r.clarity.order("CL-o2");
    assert_eq!(co.status, ClarityStatus::PaymentFailed);
    assert_eq!(co.metadata.unwrap()["disputeStatus"], "lost");
    let crm = r.crm.cases.lock().unwrap();
    assert_eq!(crm.len(), 1);
    assert_eq!(crm["cb-o2AUTH"].1.fields["Status"], "Closed");
    assert_eq!(
        crm["cb-o2AUTH"].0, 2,
        "opened, then lost: one case, two upserts"
    );
}

#[tokio::test]
async fn a_shipped_order_keeps_its_status_and_gets_the_dispute_as_metadata() {
    let r = rig(
        captured_record("o3", OrderState::Captured),
        ClarityStatus::Shipped,
    );
    r.gateway
        .add_chargeback(row("o3CAP", "o3-cap", "Chargeback", 10));
    let out = r.poller.run(json!({})).await.unwrap();
    assert_eq!(out["failed"], json!([]), "{out}");
    assert_eq!(r.store.snapshot("o3").unwrap().state, OrderState::Disputed);
    let co = r.clarity.order("CL-o3");
    assert_eq!(co.status, ClarityStatus::Shipped);
    assert_eq!(co.metadata.unwrap()["disputeId"], "cb-o3CAP");
    let rec = r.store.snapshot("o3").unwrap();
    let synced = rec
        .timeline
        .iter()
        .find(|e| e.what == "chargeback.synced")
        .unwrap();
    assert!(synced.why.contains("metadata only"), "{}", synced.why);
}

#[tokio::test]
async fn a_failed_effect_holds_the_cursor_and_the_next_run_finishes_without_a_second_transition() {
    let r = rig(
        captured_record("o4", OrderState::Captured),
        ClarityStatus::PaymentReceived,
    );
    r.gateway
        .add_chargeback(row("o4CAP", "o4-cap", "Chargeback", 30));
    *r.erp.fail.lock().unwrap() = 1;
    let first = r.poller.run(json!({})).await.unwrap();
    assert_eq!(first["failed"].as_array().unwrap().len(), 1, "{first}");
    let rec = r.store.snapshot("o4").unwrap();
    assert_eq!(
        rec.state,
        OrderState::Disputed,
        "the fact is recorded first"
    );
    assert!(!rec.effects.contains_key("chargeback:cb-o4CAP:opened"));
    let row_time = Timestamp(NOW - 30 * 60_000);
    assert_eq!(
        r.cursor.load("chargeback-poller").await.unwrap(),
        Some(row_time),
        "held at the unfinished row"
    );

    r.clock.advance_ms(3_600_000);
    let second = r.poller.run(json!({})).await.unwrap();
    assert_eq!(
        second["applied"],
        json!([{"chargeback": "cb-o4CAP", "order": "o4", "event": "opened"}])
    );
    let rec = r.store.snapshot("o4").unwrap();
    assert_eq!(count(&rec, "chargeback.opened"), 1);
    assert_eq!(count(&rec, "chargeback.synced"), 1);
    assert_eq!(r.erp.records.lock().unwrap()["o2c-cb-o4CAP"].0, 1);
    assert_eq!(r.crm.cases.lock().unwrap()["cb-o4CAP"].0, 1);
    assert_eq!(r.clarity.order("CL-o4").status, ClarityStatus::OnHold);
    assert_eq!(
        r.clarity.patches(),
        1,
        "Clarity was already in step the second time"
    );
}

#[tokio::test]
async fn rows_that_cannot_apply_are_skipped_or_deferred_never_an_error() {
    let r = rig(
        captured_record("o5", OrderState::Refunded),
        ClarityStatus::PaymentReceived,
    );
    r.store
        .put_raw(captured_record("o6", OrderState::Refunding));
    r.store.put_raw(captured_record("o7", OrderState::Captured));
    r.gateway
        .add_chargeback(row("o5CAP", "o5-cap", "Chargeback", 50));
    r.gateway
        .add_chargeback(row("o6CAP", "o6-cap", "Chargeback", 40));
    r.gateway
        .add_chargeback(row("x9CAP", "x9-cap", "Chargeback", 30));
    r.gateway
        .add_chargeback(row("OTHERTXN", "o7-cap", "Chargeback", 20));
    r.gateway
        .add_chargeback(row("o7CAP", "o7-cap", "Retrieval Request", 10));
    r.gateway
        .add_chargeback(row("o7CAP", "not-ours", "Chargeback", 5));
    let out = r.poller.run(json!({})).await.unwrap();
    println!("{out}");
    let reasons: Vec<String> = out["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].contains("Refunded"), "{reasons:?}");
    assert!(reasons[1].contains("not found"), "{reasons:?}");
    assert!(
        reasons[2].contains("is not the authorization or capture"),
        "{reasons:?}"
    );
    assert_eq!(out["deferred"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["ignored"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["failed"], json!([]));
    assert_eq!(out["applied"], json!([]));
    // The refunding order's row holds the cursor.
    assert_eq!(
        r.cursor.load("chargeback-poller").await.unwrap(),
        Some(Timestamp(NOW - 40 * 60_000))
    );
    for id in ["o5", "o7"] {
        assert!(r.store.snapshot(id).unwrap().order.chargebacks.is_empty());
    }
    assert!(r.erp.records.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_explicit_window_leaves_the_cursor_alone() {
    let r = rig(
        captured_record("o8", OrderState::Captured),
        ClarityStatus::PaymentReceived,
    );
    let out = r
        .poller
        .run(json!({"start": "2026-09-01T00:00:00Z", "end": "2026-09-02T00:00:00Z"}))
        .await
        .unwrap();
    assert_eq!(out["cursor"], Value::Null);
    assert_eq!(r.cursor.load("chargeback-poller").await.unwrap(), None);
    assert!(r.poller.run(json!({"start": "yesterday"})).await.is_err());
}

#[tokio::test]
async fn store_cursor_reads_without_writing_a_cursor() {
    // The in-memory store does not model expiry, so only `load` is meaningful here: a load of
    // an absent cursor is `None` and leaves no cursor behind.
    let store = InMemoryStore::new();
    let c = super::StoreCursor {
        store: Arc::new(store.clone()) as Arc<dyn OrderStore>,
    };
    assert_eq!(c.load("p").await.unwrap(), None);
    assert_eq!(c.load("p").await.unwrap(), None);
}
