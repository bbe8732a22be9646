//! The scheduled pollers against the whole local stack (moto + the four simulators + every
//! queue consumer): chargebacks from the Cybersource report become one dispute each, however
//! often they are polled; NetSuite fulfilments and stock reach Clarity once.

mod common;

use common::{Options, Stack};
use o2c_domain::ports::OrderRecord;
use o2c_domain::{ChargebackStatus, OrderState, Timestamp};
use o2c_pipeline::pollers::chargeback::ChargebackSettings;
use o2c_pipeline::pollers::erp::ErpPollSettings;
use o2c_pipeline::pollers::minus;
use serde_json::{json, Value};
use std::time::Duration;

async fn stack() -> Stack {
    Stack::start(Options {
        retry_delay: Duration::from_secs(0),
        ..Options::default()
    })
    .await
}

/// What EventBridge sends on a schedule (the pollers read none of it).
fn schedule() -> Value {
    json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

fn ts(v: &Value) -> Timestamp {
    v.as_str()
        .and_then(Timestamp::parse_rfc3339)
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

fn entries(r: &OrderRecord, what: &str) -> usize {
    r.timeline.iter().filter(|e| e.what == what).count()
}

fn print_timeline(r: &OrderRecord) {
    for e in &r.timeline {
        println!(
            "  {} {:<20} {} [{}]",
            e.at,
            e.what,
            e.why,
            e.external_ref.as_deref().unwrap_or("")
        );
    }
}

/// Salesforce cases keyed by a chargeback id.
async fn cases(s: &Stack, key: &str) -> Vec<Value> {
    let v = s
        .admin_get("salesforce", &format!("cases?Fraud_Case_Key__c={key}"))
        .await;
    v["records"].as_array().cloned().unwrap_or_default()
}

async fn captured(s: &Stack, id: &str) -> OrderRecord {
    let r = s.record(id).await;
    assert_eq!(r.state, OrderState::Captured, "{id}");
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_chargeback_polled_twice_is_one_dispute_then_won_or_lost() {
    let s = stack().await;
    s.clarity_order("ORD-CB-WON", "buyer", "USD", json!({}))
        .await;
    s.clarity_order("ORD-CB-LOST", "buyer", "USD", json!({}))
        .await;
    s.drain().await;
    let won = captured(&s, "ORD-CB-WON").await;
    let lost = captured(&s, "ORD-CB-LOST").await;
    let capture_id = won
        .order
        .payment
        .as_ref()
        .unwrap()
        .capture_id
        .clone()
        .unwrap();
    let cb_id = format!("cb-{capture_id}");

    // A fraud chargeback on the capture appears in the report.
    s.admin(
        "cybersource",
        "chargebacks",
        json!({"transactionId": capture_id, "reasonCode": "10.4", "natureOfDispute": "Fraud"}),
    )
    .await;
    let poller = s.chargeback_poller().await;
    let first = poller.run(schedule()).await.unwrap();
    let second = poller.run(schedule()).await.unwrap();
    s.drain().await;
    println!("first poll: {first}\nsecond poll: {second}");
    assert_eq!(
        first["applied"],
        json!([{"chargeback": cb_id, "order": "ORD-CB-WON", "event": "opened"}])
    );
    assert_eq!(second["applied"], json!([]), "{second}");
    assert_eq!(second["alreadyDone"], 1, "{second}");
    // The cursor (DynamoDB): the second window starts one overlap before the first one's end.
    assert_eq!(
        ts(&second["window"]["start"]),
        minus(
            ts(&first["cursor"]),
            ChargebackSettings::default().lookback.overlap
        ),
        "overlapping windows from the stored cursor"
    );

    // Exactly one dispute: one transition, one chargeback, one timeline entry of each kind.
    let r = s.record("ORD-CB-WON").await;
    println!("ORD-CB-WON:");
    print_timeline(&r);
    assert_eq!(r.state, OrderState::Disputed);
    assert_eq!(entries(&r, "chargeback.opened"), 1);
    assert_eq!(entries(&r, "chargeback.synced"), 1);
    let opened = r
        .timeline
        .iter()
        .find(|e| e.what == "chargeback.opened")
        .unwrap();
    assert_eq!(opened.external_ref.as_deref(), Some(capture_id.as_str()));
    assert!(
        opened.why.contains("10.4") && opened.why.contains("Fraud"),
        "{}",
        opened.why
    );
    assert_eq!(
        (opened.from, opened.to),
        (Some(OrderState::Captured), Some(OrderState::Disputed))
    );
    assert_eq!(r.order.chargebacks.len(), 1);
    let cb = &r.order.chargebacks[0];
    assert_eq!(cb.id.as_str(), cb_id);
    assert_eq!(cb.status, ChargebackStatus::Open);
    assert_eq!(cb.reason_code, "10.4");
    assert_eq!(cb.amount, r.order.payment.as_ref().unwrap().captured);
    assert!(
        cb.external.erp.is_some() && cb.external.crm.is_some(),
        "{cb:?}"
    );

    // One CRM case, one ERP record, Clarity on hold with a reason.
    let c = cases(&s, &cb_id).await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["creates"], 1);
    assert_eq!(c[0]["record"]["Status"], "New");
    assert_eq!(c[0]["record"]["Type"], "Chargeback");
    assert_eq!(
        Some(c[0]["record"]["Id"].as_str().unwrap()),
        cb.external.crm.as_deref()
    );
    let erp = s
        .admin_get(
            "netsuite",
            &format!("records/customerRefund/eid:o2c-{cb_id}"),
        )
        .await;
    println!("netsuite: {erp}");
    assert_eq!(erp["creates"], 1, "{erp}");
    assert_eq!(erp["record"]["custbody_o2c_dispute_status"], "open");
    assert_eq!(erp["record"]["total"].to_string(), "27");
    let v = s.admin_get("clarity", "orders/ORD-CB-WON").await;
    assert_eq!(v["order"]["status"], "on_hold");
    let reason = v["order"]["statusReason"].as_str().unwrap_or_default();
    // The shopper-safe reason of the one table: no reason code, nature ("Fraud") or transaction.
    assert!(reason.starts_with("payment_disputed: "), "{reason}");
    assert!(
        !reason.contains("10.4") && !reason.contains(&capture_id),
        "{reason}"
    );
    assert_eq!(v["order"]["metadata"]["disputeId"], cb_id.as_str());
    assert_eq!(v["order"]["metadata"]["disputeStatus"], "open");
    let holds = v["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["to"] == "on_hold")
        .count();
    assert_eq!(holds, 1, "{}", v["statusHistory"]);

    // The issuer reverses the chargeback: the dispute is won.
    s.admin(
        "cybersource",
        "chargebacks",
        json!({"transactionId": capture_id, "action": "Chargeback Reversal", "sign": "+", "reasonCode": "10.4"}),
    )
    .await;
    let third = poller.run(schedule()).await.unwrap();
    let fourth = poller.run(schedule()).await.unwrap();
    s.drain().await;
    println!("third poll: {third}\nfourth poll: {fourth}");
    assert_eq!(
        third["applied"],
        json!([{"chargeback": cb_id, "order": "ORD-CB-WON", "event": "won"}])
    );
    assert_eq!(fourth["applied"], json!([]));
    let r = s.record("ORD-CB-WON").await;
    print_timeline(&r);
    assert_eq!(r.state, OrderState::DisputeWon);
    assert_eq!(entries(&r, "chargeback.opened"), 1);
    assert_eq!(entries(&r, "chargeback.won"), 1);
    assert_eq!(r.order.chargebacks.len(), 1);
    assert_eq!(r.order.chargebacks[0].status, ChargebackStatus::Won);
    assert_eq!(s.clarity_status("ORD-CB-WON").await, "payment_received");
    let c = cases(&s, &cb_id).await;
    assert_eq!(c.len(), 1, "still one case");
    assert_eq!(c[0]["record"]["Status"], "Closed");
    let erp = s
        .admin_get(
            "netsuite",
            &format!("records/customerRefund/eid:o2c-{cb_id}"),
        )
        .await;
    assert_eq!(
        (
            erp["creates"].clone(),
            erp["record"]["custbody_o2c_dispute_status"].clone()
        ),
        (json!(1), json!("won"))
    );

    // A chargeback and its final (second) chargeback, first seen in one poll: opened, then lost.
    let auth_id = lost
        .order
        .payment
        .as_ref()
        .unwrap()
        .external
        .cybersource
        .clone()
        .unwrap();
    s.admin(
        "cybersource",
        "chargebacks",
        json!({"transactionId": auth_id, "reasonCode": "13.1", "natureOfDispute": "Merchandise not received", "amount": "10.00"}),
    )
    .await;
    s.admin(
        "cybersource",
        "chargebacks",
        json!({"transactionId": auth_id, "reasonCode": "13.1", "action": "Second Chargeback", "amount": "10.00"}),
    )
    .await;
    let fifth = poller.run(schedule()).await.unwrap();
    let sixth = poller.run(schedule()).await.unwrap();
    println!("fifth poll: {fifth}\nsixth poll: {sixth}");
    assert_eq!(sixth["applied"], json!([]));
    let r = s.record("ORD-CB-LOST").await;
    println!("ORD-CB-LOST:");
    print_timeline(&r);
    assert_eq!(r.state, OrderState::DisputeLost);
    assert_eq!(entries(&r, "chargeback.opened"), 1);
    assert_eq!(entries(&r, "chargeback.lost"), 1);
    assert_eq!(r.order.chargebacks[0].amount.to_decimal_string(), "10.00");
    assert_eq!(s.clarity_status("ORD-CB-LOST").await, "payment_failed");
    assert_eq!(cases(&s, &format!("cb-{auth_id}")).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shipment_and_an_inventory_change_reach_clarity_once() {
    let s = stack().await;
    s.clarity_order("ORD-SHIP", "buyer", "USD", json!({})).await;
    s.drain().await;
    let r = captured(&s, "ORD-SHIP").await;
    let sku = r.order.lines[0].sku.clone();

    // NetSuite ships the sales order (tracking number) and holds stock of the SKU.
    let tracking = "1Z999AA10123456784";
    let f = s
        .admin(
            "netsuite",
            "fulfillments",
            json!({"salesOrder": "eid:clr-so-ORD-SHIP", "trackingNumber": tracking, "shipMethod": "UPS Ground"}),
        )
        .await;
    let fulfilment_id = f["itemFulfillment"]["id"].as_str().unwrap().to_string();
    s.admin(
        "netsuite",
        "inventory",
        json!({"sku": sku, "locationId": "1", "locationName": "Main", "quantityOnHand": 40, "quantityAvailable": 38}),
    )
    .await;

    let poller = s.erp_poller().await;
    let first = poller.run(schedule()).await.unwrap();
    let second = poller.run(schedule()).await.unwrap();
    println!("first poll: {first}\nsecond poll: {second}");
    assert_eq!(first["failed"], json!([]), "{first}");
    assert_eq!(first["shipments"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(second["shipments"], json!([]), "{second}");
    assert_eq!(second["alreadyShipped"], 1, "{second}");
    assert_eq!(
        ts(&second["window"]["start"]),
        minus(
            ts(&first["cursor"]),
            ErpPollSettings::default().lookback.overlap
        ),
        "the second window starts at the stored cursor minus the overlap"
    );

    // Exactly one shipment in Clarity, with the tracking number, on the order's line.
    let v = s.admin_get("clarity", "orders/ORD-SHIP").await;
    let shipments = v["shipments"].as_array().unwrap();
    println!("clarity shipments: {shipments:?}");
    assert_eq!(shipments.len(), 1);
    assert_eq!(shipments[0]["trackingNumber"], tracking);
    assert_eq!(shipments[0]["carrier"], "UPS Ground");
    assert_eq!(
        shipments[0]["lines"],
        json!([{"lineItemId": "ORD-SHIP-L1", "quantity": 2}])
    );
    let all = s.admin_get("clarity", "shipments").await;
    assert_eq!(all["shipments"].as_array().unwrap().len(), 1);
    let r = s.record("ORD-SHIP").await;
    print_timeline(&r);
    assert_eq!(entries(&r, "shipment.created"), 1);
    assert!(r
        .effects
        .contains_key(&format!("shipment:nsif-{fulfilment_id}")));

    // The stock level reached Clarity.
    let level = |inv: &Value| -> Option<(u64, u64)> {
        inv["inventory"].as_array()?.iter().find_map(|l| {
            (l["sku"] == sku.as_str() && l["locationId"] == "1").then(|| {
                (
                    l["quantityOnHand"].as_u64().unwrap(),
                    l["quantityAvailable"].as_u64().unwrap(),
                )
            })
        })
    };
    let inv = s.admin_get("clarity", "inventory").await;
    assert_eq!(level(&inv), Some((40, 38)), "{inv}");

    // A stock change in NetSuite reaches Clarity on the next poll; nothing ships again.
    s.admin(
        "netsuite",
        "inventory",
        json!({"sku": sku, "locationId": "1", "quantityOnHand": 35, "quantityAvailable": 30}),
    )
    .await;
    let third = poller.run(schedule()).await.unwrap();
    println!("third poll: {third}");
    assert_eq!(third["shipments"], json!([]));
    let inv = s.admin_get("clarity", "inventory").await;
    assert_eq!(level(&inv), Some((35, 30)), "{inv}");
    let v = s.admin_get("clarity", "orders/ORD-SHIP").await;
    assert_eq!(v["shipments"].as_array().unwrap().len(), 1);

    // An operator's targeted re-run of the order creates nothing new either.
    let targeted = poller.run(json!({"orderIds": ["ORD-SHIP"]})).await.unwrap();
    println!("targeted: {targeted}");
    assert_eq!(targeted["shipments"], json!([]));
    assert_eq!(targeted["alreadyShipped"], 1);
    assert_eq!(
        s.admin_get("clarity", "shipments").await["shipments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
