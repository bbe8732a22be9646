//! The bundled spec (`config/*.yaml` of this build) as JSON in `OUT_DIR`, so the functions
//! read it without a YAML parser; problems in it fail the build's tests
//! (`tests/bundled.rs`), not here.

use std::path::PathBuf;

fn main() {
    let config = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../config");
    let mut merged = serde_json::Map::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&config)
        .expect("config/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    for p in names {
        println!("cargo:rerun-if-changed={}", p.display());
        let text = std::fs::read_to_string(&p).expect("readable");
        let value: serde_json::Value = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not valid YAML: {e}", p.display()));
        if let serde_json::Value::Object(m) = value {
            merged.extend(m);
        }
    }
    println!("cargo:rerun-if-changed={}", config.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("bundled.json");
    std::fs::write(out, serde_json::to_string(&merged).unwrap()).expect("OUT_DIR writable");
}
