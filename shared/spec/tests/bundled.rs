//! The bundled spec (config/) is valid, and evaluates its samples.

use o2c_spec::{catalog, document, validate, BUNDLED_FILES};

fn files() -> Vec<(String, String)> {
    BUNDLED_FILES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

#[test]
fn the_bundled_spec_is_valid() {
    let (doc, sources) = document::parse_files(files()).unwrap();
    let problems = validate(&doc, &sources, &[]);
    assert!(problems.is_empty(), "{problems}");
}

#[test]
fn the_bundled_spec_maps_every_sample() {
    let spec = o2c_spec::bundled();
    let so = spec
        .map_fields("erp.sales_order", &catalog::sample_order_context())
        .unwrap();
    assert_eq!(so["memo"], "Clarity order ORD-9");
    assert_eq!(so["custbody_o2c_grand_total"].to_string(), "107.99");
    assert_eq!(so["item"]["items"][0]["amount"].to_string(), "100");
    let d = spec
        .decide("crm_case", &catalog::sample_outcome_context())
        .unwrap();
    assert_eq!(d.policy, "none");
}
