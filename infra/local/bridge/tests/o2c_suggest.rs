//! `o2c spec suggest --sample FILE --target order --format json` (issue 15's CLI contract):
//! a JSON array, one entry per canonical order field in the contract's order, each with its
//! candidates best first (`source`, `confidence` in [0, 1], `why`); a field the sample lacks
//! gets no candidate at 0.5 or above; card data is never proposed.

use serde_json::Value;
use std::process::Command;

const TARGETS: &[&str] = &[
    "id",
    "customer.id",
    "customer.email",
    "customer.first_name",
    "customer.last_name",
    "customer.phone",
    "bill_to.first_name",
    "bill_to.last_name",
    "bill_to.line1",
    "bill_to.line2",
    "bill_to.city",
    "bill_to.region",
    "bill_to.postal_code",
    "bill_to.country",
    "bill_to.phone",
    "ship_to.first_name",
    "ship_to.last_name",
    "ship_to.line1",
    "ship_to.line2",
    "ship_to.city",
    "ship_to.region",
    "ship_to.postal_code",
    "ship_to.country",
    "lines[].sku",
    "lines[].name",
    "lines[].quantity",
    "lines[].unit_price",
    "lines[].tax",
    "lines[].discount",
    "shipping",
    "total",
    "currency",
    "created_at",
];

#[test]
fn suggest_prints_the_contract_json() {
    let dir = std::env::temp_dir().join(format!("o2c-suggest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sample = dir.join("order.json");
    std::fs::write(
        &sample,
        r#"{"order_ref": "A-1", "billing": {"given_name": "Ann", "city": "Oslo", "zip": "0150",
            "country_code": "NO"}, "line_items": [{"sku": "S-1", "qty": 2, "price": "9.50"}],
            "grand_total": "19.00", "currency": "NOK", "card": {"number": "4111111111111111"}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_o2c"))
        .args(["spec", "suggest", "--sample"])
        .arg(&sample)
        .args(["--target", "order", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = v.as_array().unwrap();
    let targets: Vec<&str> = entries
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, TARGETS);
    let best = |t: &str| {
        entries.iter().find(|e| e["target"] == t).unwrap()["candidates"]
            .as_array()
            .unwrap()
            .clone()
    };
    for e in entries {
        let c = e["candidates"].as_array().unwrap();
        let conf: Vec<f64> = c
            .iter()
            .map(|x| x["confidence"].as_f64().unwrap())
            .collect();
        assert!(conf.windows(2).all(|w| w[0] >= w[1]), "{e}");
        assert!(conf.iter().all(|x| (0.0..=1.0).contains(x)), "{e}");
        assert!(
            c.iter()
                .all(|x| x["source"].is_string() && x["why"].is_string()),
            "{e}"
        );
        assert!(
            c.iter()
                .all(|x| !x["source"].as_str().unwrap().starts_with("card")),
            "{e}"
        );
    }
    for (t, s) in [
        ("bill_to.first_name", "billing.given_name"),
        ("bill_to.city", "billing.city"),
        ("bill_to.postal_code", "billing.zip"),
        ("bill_to.country", "billing.country_code"),
        ("lines[].quantity", "line_items[].qty"),
        ("lines[].unit_price", "line_items[].price"),
        ("total", "grand_total"),
        ("currency", "currency"),
    ] {
        assert_eq!(best(t)[0]["source"], s, "{t}");
        assert!(best(t)[0]["confidence"].as_f64().unwrap() >= 0.5, "{t}");
    }
    for absent in ["ship_to.city", "created_at", "customer.phone"] {
        assert!(
            best(absent)
                .iter()
                .all(|c| c["confidence"].as_f64().unwrap() < 0.5),
            "{absent}: {:?}",
            best(absent)
        );
    }
    // Text form: one line per field.
    let out = Command::new(env!("CARGO_BIN_EXE_o2c"))
        .args(["spec", "suggest", "--sample"])
        .arg(&sample)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), TARGETS.len(), "{text}");
    assert!(
        text.contains("bill_to.city") && text.contains("billing.city"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn suggest_apply_writes_a_reviewable_spec_that_validates_and_pushes_nothing() {
    let root = o2c_local_bridge_root();
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("events/apigw-clarity-order-webhook.json")).unwrap(),
    )
    .unwrap();
    let body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    let mut order = body["payload"]["order"].clone();
    // The merchant's Clarity calls the postal code `zip` and the grand total `orderTotal`.
    let zip = order["billingAddress"]
        .as_object_mut()
        .unwrap()
        .remove("postalCode")
        .unwrap();
    order["billingAddress"]["zip"] = zip;
    let total = order["totals"]
        .as_object_mut()
        .unwrap()
        .remove("grandTotal")
        .unwrap();
    order["orderTotal"] = total;
    let dir = std::env::temp_dir().join(format!("o2c-suggest-apply-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sample = dir.join("renamed.json");
    std::fs::write(&sample, order.to_string()).unwrap();
    let before = std::fs::read_to_string(root.join("config/mappings.yaml")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_o2c"))
        .current_dir(&root)
        .args(["spec", "suggest", "--sample"])
        .arg(&sample)
        .arg("--apply")
        .arg(dir.join("spec"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("nothing pushed or activated"), "{text}");
    assert!(
        text.contains("bill_to.postal_code ← billingAddress.zip"),
        "{text}"
    );
    assert!(text.contains("total ← orderTotal"), "{text}");
    assert!(text.contains("with the sample: valid"), "{text}");
    let written = std::fs::read_to_string(dir.join("spec/mappings.yaml")).unwrap();
    assert!(
        written.contains("Proposed by `o2c spec suggest --apply`"),
        "{written}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("config/mappings.yaml")).unwrap(),
        before,
        "the source spec is left alone"
    );
    // The written spec validates on its own with the sample, as the output says.
    let v = Command::new(env!("CARGO_BIN_EXE_o2c"))
        .args(["spec", "validate"])
        .arg(dir.join("spec"))
        .arg("--sample")
        .arg(&sample)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The repository root (the bridge crate is `infra/local/bridge`).
fn o2c_local_bridge_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}
