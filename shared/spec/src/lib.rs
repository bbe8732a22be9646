//! The integration spec (docs/spec.md): every mapping, lookup table and business rule as one
//! versioned document a merchant changes without a build.
//!
//! | module | what |
//! |---|---|
//! | [`document`] | the document as written (YAML files in `config/`), merged, with line lookup |
//! | [`validate`](mod@validate) | every problem at once, each with file, line and path |
//! | [`lang`] | the expression language (jq, by jaq) and what it may not do |
//! | [`compiled`] | one compiled program per version; mappings, rules, lookups |
//! | [`catalog`] | what the code calls: mappings with their inputs and targets, rules with their policies |
//! | [`context`] | the expressions' input, built from the canonical order |
//! | [`natives`] | exact money functions |
//!
//! No AWS, no HTTP, no clock, no environment: a spec is a pure function of the order and the
//! event (docs/architecture.md §9).

pub mod catalog;
pub mod compiled;
pub mod context;
pub mod document;
pub mod lang;
pub mod natives;
pub mod ops;
mod problems;
pub mod schema;
pub mod shape;
pub mod store;
pub mod validate;

pub use compiled::{Decision, EvalError, Spec};
pub use document::SpecDocument;
pub use problems::{Problem, Problems};
pub use store::{LoadOutcome, SpecStore, Specs};
pub use validate::validate;

use std::sync::{Arc, OnceLock};

/// The version id of the spec built into the binaries (`config/` at build time).
pub const BUNDLED: &str = "bundled";

/// The bundled spec's files, as `o2c spec validate config/` reads them.
pub const BUNDLED_FILES: &[(&str, &str)] = &[
    (
        "config/lookups.yaml",
        include_str!("../../../config/lookups.yaml"),
    ),
    (
        "config/mappings.yaml",
        include_str!("../../../config/mappings.yaml"),
    ),
    (
        "config/spec.yaml",
        include_str!("../../../config/spec.yaml"),
    ),
];

/// Parse, validate and compile a set of files under the version id `version`.
pub fn from_files(files: Vec<(String, String)>, version: &str) -> Result<Spec, Problems> {
    let (doc, sources) = document::parse_files(files)?;
    let problems = validate(&doc, &sources, &[]);
    if !problems.is_empty() {
        return Err(problems);
    }
    Spec::compile(doc, version).map_err(|e| Problems::one(Problem::file("spec", e)))
}

/// Validate and compile a stored (JSON) document.
pub fn from_json(json: &str, version: &str) -> Result<Spec, Problems> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Problems::one(Problem::file("spec", format!("not JSON: {e}"))))?;
    let sources = document::Sources::default();
    let doc = document::from_value(value, &sources)?;
    let problems = validate(&doc, &sources, &[]);
    if !problems.is_empty() {
        return Err(problems);
    }
    Spec::compile(doc, version).map_err(|e| Problems::one(Problem::file("spec", e)))
}

/// The bundled spec, compiled once per process.
pub fn bundled() -> Arc<Spec> {
    static SPEC: OnceLock<Arc<Spec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let files = BUNDLED_FILES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        let (doc, _) = document::parse_files(files).expect("the bundled spec parses (tested)");
        Arc::new(Spec::compile(doc, BUNDLED).expect("the bundled spec compiles (tested)"))
    })
    .clone()
}
