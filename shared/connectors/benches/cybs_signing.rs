//! Criterion bench: Cybersource HTTP Signature signing (`HttpSignatureSigner::sign`) over the
//! golden vectors, read at bench time from `$CYBS_VECTORS_DIR` (default: the in-repo copies in
//! `shared/connectors/tests/vectors/`). Run by `scripts/bench.sh`, which times the official Python
//! SDK's signer on the same vectors and writes the ratio into `BENCHMARKS.md`.
//!
//! One timed operation = what a request costs us: build the request target from path + query
//! (`request_target`) and sign it (digest, signing string, HMAC-SHA256, headers). The signer is
//! built once per vector (as the client builds it once per cold start from the secret). Before
//! timing, every vector's signature is checked against the expected output, so a wrong signer
//! cannot be fast by accident.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use o2c_connectors::cybersource::{request_target, HttpSignatureSigner, Method};
use secrecy::SecretString;
use serde_json::Value;

struct Case {
    id: String,
    signer: HttpSignatureSigner,
    method: Method,
    host: String,
    path: String,
    query: Vec<(String, String)>,
    body: Vec<u8>,
    date: String,
}

fn vectors_dir() -> PathBuf {
    match std::env::var_os("CYBS_VECTORS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors"),
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("vector field {k:?} missing"))
}

fn load() -> Vec<Case> {
    let dir = vectors_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("vectors folder {} unreadable: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("read"))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if doc["kind"] != "cybersource-http-signature" {
            continue;
        }
        for v in doc["vectors"].as_array().expect("vectors array") {
            let input = &v["input"];
            let signer = HttpSignatureSigner::new(
                s(input, "merchant_id"),
                s(input, "key_id"),
                &SecretString::from(s(input, "shared_secret_b64")),
            )
            .expect("signer");
            let query = input["query_params"]
                .as_array()
                .map(|pairs| {
                    pairs
                        .iter()
                        .map(|p| {
                            (
                                p[0].as_str().unwrap_or_default().to_owned(),
                                p[1].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let case = Case {
                id: s(v, "id").to_owned(),
                signer,
                method: s(input, "method").parse().expect("method"),
                host: s(input, "host").to_owned(),
                path: s(input, "path").to_owned(),
                query,
                body: input["body"].as_str().unwrap_or("").as_bytes().to_vec(),
                date: s(input, "date").to_owned(),
            };
            // Correctness first: the signature must be the SDK's, byte for byte.
            let signed = sign(&case);
            assert_eq!(
                signed,
                s(&v["output"], "signature_b64"),
                "{}: signature differs from the vector",
                case.id
            );
            cases.push(case);
        }
    }
    assert!(
        !cases.is_empty(),
        "no cybersource-http-signature vectors in {}",
        dir.display()
    );
    cases
}

fn sign(c: &Case) -> String {
    let target = request_target(&c.path, &c.query);
    c.signer
        .sign(c.method, &c.host, &target, &c.body, &c.date)
        .expect("sign")
        .signature
}

fn bench(cr: &mut Criterion) {
    let cases = load();
    let mut g = cr.benchmark_group("cybs_http_signature");
    // Every vector once per iteration: mean ns/op = time / number of vectors.
    g.bench_function(format!("all_{}", cases.len()), |b| {
        b.iter(|| {
            for c in &cases {
                black_box(sign(black_box(c)));
            }
        })
    });
    for c in &cases {
        g.bench_function(&c.id, |b| b.iter(|| black_box(sign(black_box(c)))));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .without_plots();
    targets = bench
}
criterion_main!(benches);
