use super::*;
use crate::mapping::clarity::{order_to_canonical, tests::clarity_order};
use crate::netsuite::FulfillmentLine;
use o2c_domain::ids::{ExternalIds, PaymentId};
use o2c_domain::money::Currency;

fn order(cur: &str) -> Order {
    let v = match cur {
        "JPY" => clarity_order(
            "JPY",
            "1500",
            "500",
            "400",
            "4400",
            "700",
            ["4500", "500", "", "400", "5100"],
        ),
        "KWD" => clarity_order(
            "KWD",
            "1.250",
            "0.075",
            "0.125",
            "3.800",
            "0.500",
            ["3.750", "0.075", "", "0.125", "4.300"],
        ),
        _ => clarity_order(
            "USD",
            "12.50",
            "2.50",
            "3.00",
            "38.00",
            "5.00",
            ["37.50", "2.50", "", "3.00", "43.00"],
        ),
    };
    order_to_canonical(&serde_json::from_value(v).unwrap()).unwrap()
}

/// The bundled spec with one row of its `netsuite` settings lookup set.
fn with_setting(key: &str, value: &str) -> ErpMapping {
    let mut doc = o2c_spec::bundled().document.clone();
    doc.lookups
        .get_mut("netsuite")
        .unwrap()
        .rows
        .insert(key.into(), json!(value));
    ErpMapping {
        spec: std::sync::Arc::new(o2c_spec::Spec::compile(doc, "test").unwrap()),
        ..Default::default()
    }
}

#[test]
fn customer_record_with_unicode_names_and_addresses() {
    let o = order("USD");
    let r = customer_record(&o, &with_setting("subsidiary_id", "1")).unwrap();
    assert_eq!(
        (r.record_type, r.external_id.as_str()),
        (RecordType::Customer, "clr-cust-CUST-7")
    );
    assert_eq!(r.body["firstName"], "Zoë");
    assert_eq!(r.body["lastName"], "Ñandú-Østergård");
    assert_eq!(r.body["subsidiary"], json!({"id": "1"}));
    let book = r.body["addressBook"]["items"].as_array().unwrap();
    assert_eq!(book.len(), 1, "ship-to equals bill-to: one address");
    assert_eq!(book[0]["defaultShipping"], true);
    assert_eq!(book[0]["addressBookAddress"]["addr1"], "Straße 1");
    assert_eq!(
        book[0]["addressBookAddress"]["country"],
        json!({"id": "CH"})
    );
    assert_eq!(r.replace_sublists, vec!["addressBook"]);
}

#[test]
fn sales_order_amounts_are_exact_numbers_in_jpy_kwd_and_usd() {
    for (cur, rate, amount, ship, grand) in [
        ("USD", "12.5", "35", "5", "43"),
        ("JPY", "1500", "4000", "700", "5100"),
        ("KWD", "1.25", "3.675", "0.5", "4.3"),
    ] {
        let o = order(cur);
        let r = sales_order_record(&o, &ErpMapping::default()).unwrap();
        assert_eq!(r.external_id, "clr-so-ORD-1001");
        assert_eq!(r.body["entity"], json!({"externalId": "clr-cust-CUST-7"}));
        let line = &r.body["item"]["items"][0];
        assert_eq!(line["item"], json!({"externalId": "SKU-TEA"}));
        assert_eq!(line["quantity"], 3);
        assert_eq!(line["rate"].to_string(), rate, "{cur}");
        assert_eq!(line["amount"].to_string(), amount, "{cur}");
        assert_eq!(r.body["shippingCost"].to_string(), ship, "{cur}");
        assert_eq!(
            r.body["custbody_o2c_grand_total"].to_string(),
            grand,
            "{cur}"
        );
        // Parsing the numbers back gives the same money exactly.
        let c: Currency = cur.parse().unwrap();
        let back = crate::cybersource::dto::parse_amount(
            &r.body["custbody_o2c_grand_total"].to_string(),
            cur,
        )
        .unwrap();
        assert_eq!(back, o.total);
        assert_eq!(back.currency(), c);
        assert_eq!(r.body["tranDate"], "2024-06-01");
        assert_eq!(r.replace_sublists, vec!["item"]);
    }
}

#[test]
fn deposit_needs_a_captured_payment_with_a_transaction_id() {
    let mut o = order("KWD");
    assert_eq!(
        customer_deposit_record(&o, &ErpMapping::default())
            .unwrap_err()
            .path,
        "order.payment"
    );
    o.payment = Some(Payment {
        id: PaymentId::new("p1").unwrap(),
        external: ExternalIds {
            cybersource: Some("7000000000000000001".into()),
            ..Default::default()
        },
        reference: "ORD-1001-authorize".into(),
        authorized: o.total,
        captured: o.total,
        capture_id: Some("7000000000000000002".into()),
        card_brand: None,
        card_last4: None,
    });
    let r = customer_deposit_record(&o, &with_setting("deposit_account_id", "120")).unwrap();
    assert_eq!(r.external_id, "cybs-7000000000000000001");
    assert_eq!(r.body["payment"].to_string(), "4.3");
    assert_eq!(
        r.body["salesOrder"],
        json!({"externalId": "clr-so-ORD-1001"})
    );
    assert_eq!(r.body["account"], json!({"id": "120"}));
    o.payment.as_mut().unwrap().external.cybersource = Some("txn|1".into());
    let e = customer_deposit_record(&o, &ErpMapping::default()).unwrap_err();
    assert_eq!(e.path, "order.payment.external.cybersource");
    assert_eq!(e.value.as_deref(), Some("txn|1"));
}

#[test]
fn lower_stages_get_masked_records() {
    let o = order("USD");
    let r = customer_record(
        &o,
        &ErpMapping {
            mask: MaskPolicy::for_stage("dev"),
            ..Default::default()
        },
    )
    .unwrap();
    let text = r.body.to_string();
    for pii in ["Zoë", "Østergård", "zoë@example.com", "Straße", "000 00 00"] {
        assert!(!text.contains(pii), "{pii} in {text}");
    }
    assert_eq!(r.body["firstName"], "Z***");
    assert_eq!(r.external_id, "clr-cust-CUST-7", "ids are not PII");
    let prod = customer_record(
        &o,
        &ErpMapping {
            mask: MaskPolicy::for_stage("prod"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(prod.body["firstName"], "Zoë");
}

#[test]
fn fulfilment_to_shipment_and_inventory() {
    let mut v = clarity_order(
        "USD",
        "12.50",
        "2.50",
        "3.00",
        "38.00",
        "5.00",
        ["37.50", "2.50", "", "3.00", "43.00"],
    );
    v["lineItems"].as_array_mut().unwrap().push(
        json!({"id": "L2", "sku": "SKU-TEA", "name": "Tea", "quantity": 1,
        "unitPrice": "0.00", "discountTotal": "0.00", "taxTotal": "0.00", "lineTotal": "0.00"}),
    );
    let co: ClarityOrder = serde_json::from_value(v).unwrap();
    let f = ItemFulfillment {
        id: "501".into(),
        tran_id: Some("IF501".into()),
        tran_date: Some("2024-06-03".into()),
        ship_status: Some("C".into()),
        ship_method: Some("UPS Ground".into()),
        tracking_numbers: vec!["1Z999".into()],
        lines: vec![FulfillmentLine {
            sku: "SKU-TEA".into(),
            quantity: 4,
        }],
    };
    let (s, key) = shipment_from_fulfillment(&f, &co).unwrap();
    assert_eq!(key, "ship:ORD-1001:nsif-501");
    assert_eq!(s.carrier, "UPS Ground");
    assert_eq!(s.shipped_at, "2024-06-03T00:00:00Z");
    assert_eq!(
        s.lines,
        vec![
            ShipmentLine {
                line_item_id: "L1".into(),
                quantity: 3
            },
            ShipmentLine {
                line_item_id: "L2".into(),
                quantity: 1
            }
        ]
    );
    let mut too_many = f.clone();
    too_many.lines[0].quantity = 5;
    assert_eq!(
        shipment_from_fulfillment(&too_many, &co).unwrap_err().path,
        "itemFulfillment[501].item.items[0]"
    );

    let ups = inventory_updates(&[ErpInventoryLevel {
        sku: "SKU-TEA".into(),
        location_id: "1".into(),
        location_name: None,
        quantity_on_hand: 5,
        quantity_available: -2,
    }]);
    assert_eq!(
        ups[0].2,
        InventoryLevelUpdate {
            quantity_on_hand: 5,
            quantity_available: Some(0)
        }
    );
}
