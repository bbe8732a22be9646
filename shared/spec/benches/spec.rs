//! The spec engine's costs, printed as JSON (scripts/bench-spec.sh puts them in BENCHMARKS.md
//! §7): compiling the bundled spec (what a function does at cold start), and evaluating one
//! order through every mapping and rule of it.
//!
//!     cargo bench -p o2c-spec --bench spec [-- ROUNDS]

use o2c_spec::catalog::{self, Form};
use std::hint::black_box;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(15);
    let files: Vec<(String, String)> = o2c_spec::BUNDLED_FILES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();

    // Cold start: parse the stored JSON document and compile it (validation is done at push).
    let (doc, _) = o2c_spec::document::parse_files(files.clone()).unwrap();
    let json = serde_json::to_string(&doc).unwrap();
    let mut compile = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let doc = o2c_spec::document::from_value(value, &Default::default()).unwrap();
        black_box(o2c_spec::Spec::compile(doc, "bench").unwrap());
        compile.push(t.elapsed().as_secs_f64() * 1e3);
    }
    // Full validation (what push and the CLI do).
    let mut validate = Vec::new();
    for _ in 0..rounds.min(7) {
        let t = Instant::now();
        let (doc, sources) = o2c_spec::document::parse_files(files.clone()).unwrap();
        assert!(o2c_spec::validate(&doc, &sources, &[]).is_empty());
        validate.push(t.elapsed().as_secs_f64() * 1e3);
    }

    // One order through every mapping and rule (contexts built once per order, as each
    // function builds its own).
    let spec = o2c_spec::bundled();
    let order_ctx = catalog::sample_order_context();
    let inputs: Vec<(&str, Form, serde_json::Value)> = catalog::MAPPINGS
        .iter()
        .map(|m| (m.name, m.form, (m.sample)()))
        .collect();
    let rules: Vec<(&str, serde_json::Value)> = catalog::RULES
        .iter()
        .map(|r| (r.name, (r.sample)()))
        .collect();
    let per_round = 2000;
    let mut eval = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..per_round {
            for (name, form, input) in &inputs {
                match form {
                    Form::Fields => {
                        black_box(spec.map_fields(name, input).unwrap());
                    }
                    Form::Document => {
                        black_box(spec.map_document(name, input).unwrap());
                    }
                }
            }
            for (name, input) in &rules {
                black_box(spec.decide(name, input).unwrap());
            }
        }
        eval.push(t.elapsed().as_secs_f64() * 1e6 / per_round as f64);
    }
    black_box(order_ctx);
    if std::env::var_os("SPEC_BENCH_EACH").is_some() {
        for (name, form, input) in &inputs {
            let t = Instant::now();
            for _ in 0..per_round {
                match form {
                    Form::Fields => drop(black_box(spec.map_fields(name, input).unwrap())),
                    Form::Document => drop(black_box(spec.map_document(name, input).unwrap())),
                }
            }
            eprintln!(
                "{name}: {:.1} us",
                t.elapsed().as_secs_f64() * 1e6 / per_round as f64
            );
        }
        let empty = serde_json::json!({"order": {}});
        let t = Instant::now();
        for _ in 0..per_round {
            black_box(spec.decide("capture", &empty).unwrap());
        }
        eprintln!(
            "rule capture on an empty order: {:.1} us",
            t.elapsed().as_secs_f64() * 1e6 / per_round as f64
        );
        for (name, input) in &rules {
            let t = Instant::now();
            for _ in 0..per_round {
                black_box(spec.decide(name, input).unwrap());
            }
            eprintln!(
                "rule {name}: {:.1} us",
                t.elapsed().as_secs_f64() * 1e6 / per_round as f64
            );
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "bench": "spec",
            "rounds": rounds,
            "compile_ms_median": median(compile.clone()),
            "compile_ms_min": compile.iter().cloned().fold(f64::MAX, f64::min),
            "validate_ms_median": median(validate),
            "order_all_mappings_us_median": median(eval.clone()),
            "order_all_mappings_us_min": eval.iter().cloned().fold(f64::MAX, f64::min),
            "mappings": inputs.len(),
            "rules": rules.len(),
            "lookups": spec.document.lookups.len(),
        })
    );
}
