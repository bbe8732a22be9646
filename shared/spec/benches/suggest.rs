//! The mapping assistant against a labelled corpus, side by side with the plain
//! string-similarity baseline in the same run (issue 15's benchmark; BENCHMARKS.md §8):
//!
//!     cargo bench -p o2c-spec --bench suggest [-- CORPUS_DIR]
//!
//! CORPUS_DIR (default `infra/bench/assistant`) holds one directory per platform with
//! `sample.json` (an order in the platform's published structure) and `truth.json`
//! (`[{"target", "source"|null, "also"?: [equally valid sources]}]`). Per platform and overall: top-1 accuracy and top-3 recall
//! over the fields the sample has, and false suggestions (a candidate with confidence ≥ 0.5)
//! over the fields it does not have. Prints a Markdown table, then one JSON line.

use o2c_spec::suggest::{baseline, score, suggest, Score};
use serde_json::{json, Value};
use std::path::PathBuf;

/// One table row: the assistant (`a`) beside the baseline (`b`).
fn row(name: &str, a: &Score, b: &Score, bold: &str) -> String {
    format!(
        "| {bold}{name}{bold} | {} / {} | {bold}{}{bold} | {bold}{}{bold} | {bold}{}{bold} | {} | {} | {} |",
        a.present,
        a.absent,
        Score::pct(a.top1, a.present),
        Score::pct(a.top3, a.present),
        a.false_suggestions,
        Score::pct(b.top1, b.present),
        Score::pct(b.top3, b.present),
        b.false_suggestions
    )
}

fn main() {
    let dir: PathBuf = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/bench/assistant")
        });
    let verbose = std::env::var_os("SUGGEST_BENCH_MISSES").is_some();
    let mut platforms: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("sample.json").exists() && p.join("truth.json").exists())
        .collect();
    platforms.sort();
    let read = |p: PathBuf| -> Value {
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    println!("| platform | fields present / absent | assistant top-1 | assistant top-3 | assistant false suggestions | baseline top-1 | baseline top-3 | baseline false suggestions |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let (mut all_a, mut all_b) = (Score::default(), Score::default());
    let mut rows = Vec::new();
    for p in &platforms {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let sample = read(p.join("sample.json"));
        let truth = read(p.join("truth.json"));
        let truth = truth.as_array().expect("truth is an array");
        let (a, misses) = score(&suggest(&sample), truth);
        let (b, _) = score(&baseline(&sample), truth);
        if verbose {
            for m in &misses {
                eprintln!("{name}: {m}");
            }
        }
        println!("{}", row(&name, &a, &b, ""));
        rows.push(
            json!({"platform": name, "present": a.present, "absent": a.absent,
            "assistant": {"top1": a.top1, "top3": a.top3, "false": a.false_suggestions},
            "baseline": {"top1": b.top1, "top3": b.top3, "false": b.false_suggestions}}),
        );
        all_a.add(a);
        all_b.add(b);
    }
    let all = format!("all {}", platforms.len());
    println!("{}", row(&all, &all_a, &all_b, "**"));
    println!("{}", json!({"bench": "suggest", "platforms": rows}));
}
