//! The built-in transformations on a spec a merchant writes: currency conversion from the
//! spec's rates table (exact, rounded half-even to the target currency's ISO 4217 digits).

use o2c_spec::catalog::sample_order_context;
use o2c_spec::document::parse_files;
use o2c_spec::{validate, Spec, BUNDLED_FILES};
use serde_json::{json, Value};

/// The bundled files plus `extra` appended to `spec.yaml` and `fields` added to
/// `erp.sales_order`.
fn spec_with(extra: &str, fields: &str) -> Result<Spec, String> {
    let files = BUNDLED_FILES
        .iter()
        .map(|(n, t)| {
            let mut t = t.to_string();
            if n.ends_with("spec.yaml") {
                t.push_str(extra);
            }
            if n.ends_with("mappings.yaml") {
                t = t.replacen(
                    "      custbody_o2c_order_id: .order.id\n",
                    &format!("      custbody_o2c_order_id: .order.id\n{fields}"),
                    1,
                );
            }
            (n.to_string(), t)
        })
        .collect();
    let (doc, sources) = parse_files(files).map_err(|p| p.to_string())?;
    let problems = validate(&doc, &sources, &[]);
    if !problems.is_empty() {
        return Err(problems.to_string());
    }
    Spec::compile(doc, "test")
}

fn sales_order(spec: &Spec, ctx: &Value) -> serde_json::Map<String, Value> {
    spec.map_fields("erp.sales_order", ctx).unwrap()
}

const RATES: &str = "\nrates:\n  as_of: \"2026-12-01\"\n  source: ECB reference rates\n  pairs:\n    USD/EUR: \"0.9231\"\n    USD/JPY: \"156.123\"\n    EUR/USD: \"1.0833\"\n    USD/GBP: \"0.5\"\n";

#[test]
fn money_fx_converts_with_the_spec_rates_rounding_half_even_to_the_target_digits() {
    let spec = spec_with(
        RATES,
        concat!(
            "      custbody_total_eur: '.order.currency as $c | .order.total | money_fx($c; \"EUR\")'\n",
            "      custbody_total_jpy: '.order.currency as $c | .order.total | money_fx($c; \"JPY\")'\n",
            "      custbody_half_even: '\"0.05\" | money_fx(\"USD\"; \"GBP\")'\n",
            "      custbody_same: '.order.currency as $c | .order.total | money_fx($c; $c)'\n",
            "      custbody_rate: 'fx_rate(\"USD\"; \"EUR\")'\n",
        ),
    )
    .unwrap();
    let so = sales_order(&spec, &sample_order_context());
    // 107.99 × 0.9231 = 99.685869 → 99.69; × 156.123 = 16859.722… → 16860 (JPY: 0 digits);
    // 0.05 × 0.5 = 0.025 → 0.02 (half-even); the same currency is the amount itself.
    assert_eq!(so["custbody_total_eur"], "99.69");
    assert_eq!(so["custbody_total_jpy"], "16860");
    assert_eq!(so["custbody_half_even"], "0.02");
    assert_eq!(so["custbody_same"], "107.99");
    assert_eq!(so["custbody_rate"], "0.9231");
    assert_eq!(
        spec.document.rates.as_ref().unwrap().describe_from("USD").unwrap(),
        "rates as of 2026-12-01 (ECB reference rates): USD/EUR 0.9231, USD/GBP 0.5, USD/JPY 156.123"
    );
}

#[test]
fn a_pair_the_table_lacks_is_refused_at_validate_or_fails_the_order_naming_the_pair() {
    // The built-in sample needs USD/CHF: refused before it can be pushed.
    let err = spec_with(
        RATES,
        "      custbody_total_chf: '.order.currency as $c | .order.total | money_fx($c; \"CHF\")'\n",
    )
    .unwrap_err();
    assert!(
        err.contains("custbody_total_chf: fails on the built-in sample: no rate USD/CHF"),
        "{err}"
    );
    // An order in a currency the table does not convert from: a mapping error with its field.
    let spec = spec_with(
        RATES,
        "      custbody_total_eur: '.order.currency as $c | .order.total | money_fx($c; \"EUR\")'\n",
    )
    .unwrap();
    let mut ctx = sample_order_context();
    ctx["order"]["currency"] = json!("CAD");
    let err = spec.map_fields("erp.sales_order", &ctx).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("custbody_total_eur"));
    assert!(err.message.contains("no rate CAD/EUR"), "{err}");
}

#[test]
fn a_bad_rates_table_is_refused_with_every_problem() {
    let bad = "\nrates:\n  as_of: \"2026-13-01\"\n  pairs:\n    USD/XXY: \"0.9\"\n    USD/USD: \"1\"\n    EUR/USD: \"-1.08\"\n    GBP/USD: \"1.2e3\"\n";
    let err = spec_with(bad, "").unwrap_err();
    for expect in [
        "rates.as_of: \"2026-13-01\": a date, YYYY-MM-DD",
        "rates.pairs.USD/XXY: \"XXY\" is not an ISO 4217 currency code",
        "rates.pairs.USD/USD: a pair is FROM/TO, two different currency codes",
        "rates.pairs.EUR/USD: \"-1.08\": a rate is a positive decimal string",
        "rates.pairs.GBP/USD: \"1.2e3\": a rate is a positive decimal string",
    ] {
        assert!(err.contains(expect), "no {expect:?} in\n{err}");
    }
    // Money through fx stays money: ordering on the result is refused like any amount.
    let err = spec_with(
        RATES,
        "      custbody_big: '.order.currency as $c | .order.total | money_fx($c; \"EUR\") > \"100\"'\n",
    )
    .unwrap_err();
    assert!(err.contains("custbody_big"), "{err}");
}

#[test]
fn countries_phones_and_addresses_in_mappings() {
    let spec = spec_with(
        "",
        concat!(
            "      custbody_country: .order.bill_to.country | country_name\n",
            "      custbody_country_code: '\"Deutschland\" | country_code'\n",
            "      custbody_phone: '.order.bill_to.country as $c | \"0900 123 456\" | phone_e164($c)'\n",
            "      custbody_label: '.order.bill_to | address_lines | join(\"\\n\")'\n",
        ),
    )
    .unwrap();
    let so = sales_order(&spec, &sample_order_context());
    assert_eq!(so["custbody_country"], "Slovakia");
    assert_eq!(so["custbody_country_code"], "DE");
    assert_eq!(so["custbody_phone"], "+421900123456");
    let label = so["custbody_label"].as_str().unwrap();
    assert!(
        label.starts_with("Ľubica Šťastná\nHlavná 1\nByt 4\n"),
        "{label}"
    );
    assert!(label.contains("04001 Košice"), "{label}");
    assert!(label.ends_with("Slovakia"), "{label}");

    // A number that is not valid for the country fails the field, naming it.
    let spec = spec_with(
        "",
        "      custbody_phone: '.order.attributes.gift_message as $m | if $m == \"x\" then \"555\" | phone_e164(\"US\") else empty end'\n",
    )
    .unwrap();
    let mut ctx = sample_order_context();
    ctx["order"]["attributes"]["gift_message"] = json!("x");
    let err = spec.map_fields("erp.sales_order", &ctx).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("custbody_phone"));
    assert!(
        err.message.contains("not a valid phone number for US"),
        "{err}"
    );
}
