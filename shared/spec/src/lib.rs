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
pub mod fast;
pub mod lang;
pub mod natives;
pub mod ops;
pub mod places;
mod problems;
pub mod schema;
pub mod shape;
pub mod store;
pub mod suggest;
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
#[cfg(feature = "files")]
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

/// The bundled spec as JSON (build.rs merges `config/*.yaml`).
pub const BUNDLED_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/bundled.json"));

/// Parse, validate and compile a set of files under the version id `version`.
#[cfg(feature = "files")]
pub fn from_files(files: Vec<(String, String)>, version: &str) -> Result<Spec, Problems> {
    let (doc, sources) = document::parse_files(files)?;
    let problems = validate(&doc, &sources, &[]);
    if !problems.is_empty() {
        return Err(problems);
    }
    Spec::compile(doc, version).map_err(|e| Problems::one(Problem::file("spec", e)))
}

fn parse_json(json: &str) -> Result<SpecDocument, Problems> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Problems::one(Problem::file("spec", format!("not JSON: {e}"))))?;
    document::from_value(value, &document::Sources::default())
}

/// Validate and compile a stored (JSON) document: what `push`, `rollback` and the tools do.
pub fn from_json(json: &str, version: &str) -> Result<Spec, Problems> {
    let doc = parse_json(json)?;
    let problems = validate(&doc, &document::Sources::default(), &[]);
    if !problems.is_empty() {
        return Err(problems);
    }
    Spec::compile(doc, version).map_err(|e| Problems::one(Problem::file("spec", e)))
}

/// Compile a stored version at a function's start: it was validated when pushed, so only what
/// can have changed since is checked — the document against the hash stored with it (a hand
/// edit of the table), and that this build still compiles it.
pub fn load_stored(json: &str, version: &str, hash: &str) -> Result<Spec, Problems> {
    let doc = parse_json(json)?;
    let problems = validate::structure(&doc);
    if !problems.is_empty() {
        return Err(problems);
    }
    let spec = Spec::compile(doc, version).map_err(|e| Problems::one(Problem::file("spec", e)))?;
    if spec.hash != hash {
        return Err(Problems::one(Problem::file(
            "spec",
            format!(
                "version {version} does not match its stored hash ({} ≠ {hash}): changed outside `o2c spec push`",
                spec.hash
            ),
        )));
    }
    Ok(spec)
}

/// The bundled spec, compiled once per process.
pub fn bundled() -> Arc<Spec> {
    static SPEC: OnceLock<Arc<Spec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let doc = parse_json(BUNDLED_JSON).expect("the bundled spec parses (tested)");
        Arc::new(Spec::compile(doc, BUNDLED).expect("the bundled spec compiles (tested)"))
    })
    .clone()
}
