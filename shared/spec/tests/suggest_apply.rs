//! The assistant's proposal as a spec change: for a Clarity order whose fields the merchant's
//! instance names differently (and sends amounts as JSON numbers), the proposed `clarity.order`
//! maps it back to exactly the contract's order, and still reads a contract-shaped order
//! unchanged (one mapping for both while a merchant moves over).

use o2c_spec::catalog::sample_clarity_order;
use o2c_spec::suggest::{apply, suggest};
use o2c_spec::Spec;
use serde_json::{json, Value};

fn with_clarity_order(expr: &str) -> Spec {
    let mut doc = o2c_spec::bundled().document.clone();
    doc.mappings.get_mut("clarity.order").unwrap().expr = Some(expr.to_string());
    Spec::compile(doc, "proposed").unwrap()
}

#[test]
fn the_proposal_maps_a_renamed_order_back_to_the_contract() {
    let original = sample_clarity_order();
    let mut renamed = original.clone();
    let o = renamed.as_object_mut().unwrap();
    let mut billing = o.remove("billingAddress").unwrap();
    let b = billing.as_object_mut().unwrap();
    let zip = b.remove("postalCode").unwrap();
    b.insert("zip".into(), zip);
    o.insert("billing".into(), billing);
    let total = o["totals"]["grandTotal"]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap();
    o["totals"].as_object_mut().unwrap().remove("grandTotal");
    o.insert("orderTotal".into(), json!(total)); // a JSON number, e.g. 100.0
    for l in o["lineItems"].as_array_mut().unwrap() {
        let l = l.as_object_mut().unwrap();
        let sku = l.remove("sku").unwrap();
        l.insert("productCode".into(), sku);
    }

    let proposal = apply::clarity_order(
        &renamed,
        &suggest(&renamed),
        ".status |= lookup(\"clarity_status\"; .)",
    );
    for moved in [
        "bill_to.postal_code ← billing.zip",
        "bill_to.city ← billing.city",
        "total ← orderTotal",
        "lines[].sku ← lineItems[].productCode",
    ] {
        assert!(
            proposal.moved.iter().any(|m| m == moved),
            "{moved}: {:?}\n{}",
            proposal.moved,
            proposal.expr
        );
    }
    let spec = with_clarity_order(&proposal.expr);
    let mapped = spec.map_document("clarity.order", &renamed).unwrap();
    let pick = |v: &Value| {
        json!({"billing": v["billingAddress"], "total": v["totals"]["grandTotal"],
               "lines": v["lineItems"].as_array().unwrap().iter().map(|l| l["sku"].clone()).collect::<Vec<_>>(),
               "status": v["status"], "currency": v["currency"]})
    };
    assert_eq!(pick(&mapped), pick(&original), "{}", proposal.expr);
    // The contract's own shape still reads the same.
    let same = spec.map_document("clarity.order", &original).unwrap();
    assert_eq!(pick(&same), pick(&original));
}
