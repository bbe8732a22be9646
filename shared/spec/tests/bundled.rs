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

#[test]
fn the_published_json_schema_is_the_generated_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/spec.schema.json");
    let generated = serde_json::to_string_pretty(&o2c_spec::schema::json_schema()).unwrap() + "\n";
    if std::env::var_os("O2C_SCHEMA_WRITE").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let published = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        published == generated,
        "config/spec.schema.json is stale: run `o2c spec schema > config/spec.schema.json` (or O2C_SCHEMA_WRITE=1 cargo test -p o2c-spec)"
    );
}

#[test]
fn the_functions_bundled_json_is_the_config_directory() {
    let (doc, _) = document::parse_files(files()).unwrap();
    let bundled = o2c_spec::bundled();
    assert_eq!(
        bundled.document, doc,
        "build.rs merges config/*.yaml as parse_files does"
    );
}
